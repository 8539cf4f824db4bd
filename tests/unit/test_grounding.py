"""Grounding boxes on the right pixels of the original image, for both Qwen-VL coordinate systems."""

from __future__ import annotations

import pytest

from playground.tasks.grounding import Box, detect_prompt, read_boxes, space_of

ORIGINAL = (1000, 500)  # width, height of the image the user uploaded


def test_qwen3_vl_relative_coordinates_scale_by_size_over_1000() -> None:
    answer = '```json\n[{"bbox_2d": [100, 200, 500, 1000], "label": "cat"}]\n```'
    found = read_boxes(answer, "relative", ORIGINAL)
    assert found.boxes == [Box(100, 100, 500, 500, "cat")] and found.note == ""


def test_qwen2_5_vl_pixels_of_the_resized_input_scale_back_to_the_original() -> None:
    # The processor resized 1000x500 to 980x476 (multiples of 28): a box on the resized image's right half.
    answer = '[{"bbox_2d": [490, 0, 980, 476], "label": "dog"}]'
    found = read_boxes(answer, "resized", ORIGINAL, resized=(980, 476))
    assert found.boxes == [Box(500, 0, 1000, 500, "dog")]


def test_points_swapped_corners_and_boxes_past_the_edge() -> None:
    answer = ('[{"point_2d": [500, 500], "label": "cup"}, {"bbox_2d": [900, 800, 100, 200], "label": "swapped"},'
              ' {"bbox_2d": [-50, -10, 1200, 1100], "label": "too big"}]')
    cup, swapped, big = read_boxes(answer, "relative", ORIGINAL).boxes
    assert cup == Box(500, 250, 500, 250, "cup") and cup.is_point
    assert swapped == Box(100, 100, 900, 400, "swapped")
    assert big == Box(0, 0, 1000, 500, "too big")  # clamped to the image


@pytest.mark.parametrize("answer", ["I see a cat.", '```json\n[{"bbox_2d": [1, 2, \n```', "[1, 2"])
def test_malformed_json_gives_no_boxes_and_a_note_never_an_error(answer: str) -> None:
    found = read_boxes(answer, "relative", ORIGINAL)
    assert found.boxes == [] and "shown as written" in found.note


def test_items_without_coordinates_are_skipped_and_counted() -> None:
    answer = '[{"label": "no box"}, {"bbox_2d": [0, 0, 10], "label": "three numbers"}, {"bbox_2d": [0, 0, 10, 10]}]'
    found = read_boxes(answer, "relative", ORIGINAL)
    assert found.boxes == [Box(0, 0, 10, 5, "")] and found.note.startswith("2 items")


def test_the_family_picks_the_space() -> None:
    assert space_of("qwen3-vl") == "relative" and space_of("qwen2.5-vl") == "resized"


@pytest.mark.parametrize(("family", "wording"), [
    ("qwen3-vl", 'Locate every instance that belongs to the following categories: "red apple". Report bbox'),
    ("qwen2.5-vl", "Locate every red apple in the image, and output their bbox coordinates in JSON format"),
])
def test_detect_asks_in_each_familys_cookbook_wording(family: str, wording: str) -> None:
    assert detect_prompt(family, "  red\n apple ").startswith(wording)  # whitespace folded

"""Uploads are checked before a model sees them: each bad file gets a sentence saying what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from playground import media
from playground.media import ImageInfo, MediaError, VideoInfo, open_image, probe, read_video
from tests.media import animated_gif, png_header, truncated, write_image, write_video


def test_an_image_is_probed_from_its_header_and_opened_as_rgb(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    Image.new("RGBA", (300, 200), (255, 0, 0, 0)).save(path)  # fully transparent
    assert probe(path) == ImageInfo("photo.png", 300, 200)
    image = open_image(path)
    assert image.mode == "RGB" and image.size == (300, 200)
    assert image.getpixel((0, 0)) == (255, 255, 255)  # transparent pixels become white, as qwen-vl-utils does


def test_a_video_is_probed_from_its_container(tmp_path: Path) -> None:
    info = probe(write_video(tmp_path / "clip.mp4", seconds=3.0, fps=10, size=(160, 120)))
    assert isinstance(info, VideoInfo)
    assert (info.width, info.height, info.fps, info.frames) == (160, 120, 10.0, 30)
    assert info.seconds == pytest.approx(3.0, abs=0.15)


@pytest.mark.parametrize(("fps", "max_frames", "expected"), [(2.0, 64, 6), (4.0, 8, 8), (10.0, 64, 30)])
def test_read_video_gives_the_frames_the_model_sees(tmp_path: Path, fps: float, max_frames: int,
                                                    expected: int) -> None:
    path = write_video(tmp_path / "clip.mp4", seconds=3.0, fps=10, size=(160, 120))
    assert probe(path).sampled(fps, max_frames) == expected
    frames = read_video(path, fps, max_frames)
    assert len(frames.images) == expected and frames.images[0].size == (160, 120)
    assert frames.fps == pytest.approx(expected / 3.0)
    # Spread over the whole clip: the square moves left to right, so the first frame's is left of the last's.
    def square_x(image: Image.Image) -> int:
        row = [image.getpixel((x, 60)) for x in range(160)]
        return next(x for x, pixel in enumerate(row) if min(pixel) > 200)
    assert square_x(frames.images[0]) < 10 < 130 < square_x(frames.images[-1])


def test_an_unsupported_type_names_the_types_that_are(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_bytes(b"%PDF-1.4")
    with pytest.raises(MediaError, match=r"notes\.pdf: \.pdf is not supported here\. Upload an image \(PNG"):
        probe(path)


@pytest.mark.parametrize("damage", ["random bytes", "truncated"])
def test_a_damaged_image_says_it_may_be_damaged(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "broken.png"
    if damage == "random bytes":
        path.write_bytes(b"this is not a png at all" * 10)
        with pytest.raises(MediaError, match="could not be read as an image.*save it again as PNG or JPEG"):
            probe(path)
    else:  # the header is whole, the pixels are cut off: found when decoding
        source = tmp_path / "whole.png"
        Image.effect_noise((400, 300), 64).convert("RGB").save(source)
        truncated(source, path, keep=0.4)
        assert probe(path) == ImageInfo("broken.png", 400, 300)
        with pytest.raises(MediaError, match="could not be decoded.*save it again as PNG or JPEG"):
            open_image(path)


def test_a_20k_by_20k_image_is_refused_from_its_header(tmp_path: Path) -> None:
    path = png_header(tmp_path / "bomb.png", 20_000, 20_000)  # Pillow's own guard stops this one
    with pytest.raises(MediaError, match=r"bomb\.png is over 179 megapixels; images up to 64 megapixels are "
                                         r"accepted here\. Scale it down"):
        probe(path)
    with pytest.raises(MediaError, match="Scale it down"):
        open_image(path)


def test_an_image_past_our_pixel_limit_but_under_pillows_says_its_size(tmp_path: Path) -> None:
    path = png_header(tmp_path / "panorama.png", 12_000, 8_000)
    with pytest.raises(MediaError, match=r"12,000 x 8,000 pixels \(96 megapixels\); images up to 64 megapixels"):
        probe(path)


def test_an_animated_gif_is_its_first_frame_with_a_note(tmp_path: Path) -> None:
    path = animated_gif(tmp_path / "wave.gif")
    info = probe(path)
    assert "animated (3 frames): only its first frame is used" in info.note
    assert open_image(path).getpixel((0, 0)) == (255, 0, 0)


def test_files_past_the_size_limit_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_image(tmp_path / "big.png", (600, 400))
    monkeypatch.setattr(media, "MAX_IMAGE_BYTES", 1000)
    with pytest.raises(MediaError, match=r"big\.png is 0 MB; images up to 0 MB are accepted here"):
        probe(path)


@pytest.mark.parametrize("damage", ["random bytes", "truncated"])
def test_a_damaged_video_says_to_export_it_again(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "broken.mp4"
    if damage == "random bytes":
        path.write_bytes(bytes(range(256)) * 40)
    else:
        truncated(write_video(tmp_path / "whole.mp4", seconds=2.0), path, keep=0.5)
    with pytest.raises(MediaError, match="could not be read as a video.*export it again as MP4"):
        probe(path)


def test_an_hour_long_video_is_refused_with_its_length(tmp_path: Path) -> None:
    path = write_video(tmp_path / "lecture.mp4", seconds=3700, fps=1, size=(32, 32))
    with pytest.raises(MediaError, match=r"lecture\.mp4 is 1 h 1 min long; videos up to 10 min 0 s are accepted"):
        probe(path)

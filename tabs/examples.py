"""A tab's examples (`gr.Examples`) in the reader's language.

`gr.Examples` is built once, before anyone's language is known: its samples are made then, and
its table's column headers and choice names (a radio's "Detect") are the inputs' `gr.I18n` keys,
which the table shows as they are. `examples_in` is the update a `Page.load` gives the examples'
dataset instead: the samples made in the reader's language, the headers and choice names said in
it. Clicking an example then fills the inputs with the sample shown (Gradio keeps the updated
dataset per session). The tab makes the samples; this module only says the table's own words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gradio as gr

from tabs.i18n import text_of

SAID_PROPS = ("label", "info", "placeholder")


def examples_in(examples: gr.Examples, samples: Sequence[Sequence[Any]], language: str | None) -> gr.Dataset:
    """The update for `examples.dataset`: `samples` (one value per input, as `gr.Examples` takes them) under
    headers and choice names in `language`."""
    dataset = examples.dataset
    return gr.Dataset(samples=[list(sample) for sample in samples],
                      headers=[text_of(header, language) for header in dataset.headers],
                      component_props=[_said(props, language) for props in dataset.component_props])


def _said(props: dict[str, Any], language: str | None) -> dict[str, Any]:
    """An input's properties as the table shows them (its choices' names, its label) in `language`."""
    said = dict(props)
    for name in SAID_PROPS:
        if said.get(name) is not None:
            said[name] = text_of(said[name], language)
    if said.get("choices"):
        said["choices"] = [(text_of(shown, language), value) for shown, value in said["choices"]]
    return said

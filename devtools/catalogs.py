"""Catalogue files from plain dicts, for tests, benchmarks and demos (so nobody hand-writes TOML).

    write_catalog(path, {"tiny": {"source": folder, "tasks": ["chat"], "sampling": {"temperature": 0.6}}})

Nested dicts become tables (`[models."tiny".sampling]`); the result is read by
`playground.catalog.load_catalog` like any user's file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def _toml_table(name: str, table: Mapping[str, Any]) -> list[str]:
    lines = [f"[{name}]"]
    nested = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            nested.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for key, value in nested:
        lines += ["", *_toml_table(f"{name}.{key}", value)]
    return lines


def catalog_toml(entries: Mapping[str, Mapping[str, Any]]) -> str:
    """Catalogue TOML for {key: entry}; nested dicts (architecture, sampling, sampling.thinking) become tables."""
    blocks = ["\n".join(_toml_table(f'models."{key}"', entry)) for key, entry in entries.items()]
    return "\n\n".join(blocks) + "\n"


def write_catalog(path: Path, entries: Mapping[str, Mapping[str, Any]]) -> Path:
    path.write_text(catalog_toml(entries), encoding="utf-8")
    return path

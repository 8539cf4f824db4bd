"""Wires the catalogue, loader, registry and engine together: the services tabs are given.

`app.py` and each tab's stand-alone entry point call `create_services`, so there is one
place that decides how the pieces fit; nothing here is global state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from playground.catalog import Catalog, load_catalog
from playground.generation import Engine
from playground.loading import TransformersLoader
from playground.registry import DEFAULT_KEEP_ALIVE_S, Registry


@dataclass(frozen=True)
class Services:
    catalog: Catalog
    registry: Registry
    engine: Engine


def create_services(
    catalog_path: str | Path | None = None,
    *,
    device: str | None = None,
    keep_alive_s: float = DEFAULT_KEEP_ALIVE_S,
    context_limit: int | None = None,
    memory_limit: int | None = None,
) -> Services:
    catalog = load_catalog(catalog_path)
    registry = Registry(catalog, TransformersLoader(device, memory_limit), keep_alive_s=keep_alive_s)
    registry.start_reaper()
    return Services(catalog, registry, Engine(registry, context_limit=context_limit))

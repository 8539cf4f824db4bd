"""Wires the catalogue, loader, registry and engine together: the services tabs are given.

`app.py` and each tab's stand-alone entry point call `create_services` with the `Settings`, so
there is one place that decides how the pieces fit; nothing here is global state.
"""

from __future__ import annotations

from dataclasses import dataclass

from playground.backends import concurrent_requests
from playground.catalog import Catalog, load_catalog
from playground.engine import Engine
from playground.loading import TransformersLoader
from playground.registry import Registry
from playground.settings import Settings, Switch


@dataclass(frozen=True)
class Services:
    catalog: Catalog
    registry: Registry
    engine: Engine
    settings: Settings
    concurrency: int  # requests a generating event lets through at once; the queue holds the rest


def create_services(settings: Settings | None = None) -> Services:
    settings = settings or Settings()
    catalog = load_catalog(settings.catalog)
    loader = TransformersLoader(settings)
    registry = Registry(catalog, loader, keep_alive_s=settings.keep_alive, evict=settings.eviction is Switch.ON)
    registry.start_reaper()
    return Services(catalog, registry, Engine(registry), settings, concurrent_requests(settings, loader.device))

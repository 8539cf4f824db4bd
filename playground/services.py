"""Wires the catalogue, loader, registry and engine together: the services tabs are given.

`app.py` and each tab's stand-alone entry point call `create_services` with the `Settings`, so
there is one place that decides how the pieces fit; nothing here is global state.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from playground.access import Access
from playground.backends import concurrent_requests
from playground.backends.remote import RemoteModels
from playground.catalog import Catalog, load_catalog
from playground.engine import Engine
from playground.loading import TransformersLoader
from playground.memory import used
from playground.monitor import Monitor, RequestLog
from playground.registry import Registry
from playground.requests import InputLimits
from playground.settings import Settings, Switch


@dataclass(frozen=True)
class Services:
    catalog: Catalog
    registry: Registry
    engine: Engine
    settings: Settings
    concurrency: int  # requests a generating event lets through at once; the queue holds the rest
    access: Access  # who may load and unload models from the page


def create_services(settings: Settings | None = None) -> Services:
    settings = settings or Settings()
    catalog = load_catalog(settings.catalog)
    loader = TransformersLoader(settings)
    registry = Registry(catalog, loader, keep_alive_s=settings.keep_alive, evict=settings.eviction is Switch.ON,
                        remotes=RemoteModels(catalog))
    registry.start_reaper()
    engine = Engine(registry, input_limits(settings), started_monitor(settings, loader.device))
    remote = any(spec.remote is not None for spec in catalog)
    return Services(catalog, registry, engine, settings, concurrent_requests(settings, loader.device, remote),
                    Access(settings.admin_token, settings.local))


def input_limits(settings: Settings) -> InputLimits:
    return InputLimits(message_chars=settings.max_message_chars, system_chars=settings.max_system_chars,
                       files=settings.max_files)


def started_monitor(settings: Settings, device: str) -> Monitor:
    """A monitor sampling `device`'s memory, writing the request log if the settings name one."""
    log = RequestLog(settings.request_log, raw_prompts=settings.log_prompts) if settings.request_log else None
    monitor = Monitor(memory=functools.partial(used, device), log=log)
    monitor.start_sampler()
    return monitor

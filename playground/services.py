"""Wires the catalogue, loader, registry and engine together: the services tabs are given.

`app.py` and each tab's stand-alone entry point call `create_services` with the `Settings`, so
there is one place that decides how the pieces fit; nothing here is global state. Models loaded at
start stay: on ZeroGPU every model (before the app starts), in a workshop the lesson's models (in
the background, after checking their keys: `playground.workshop`).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace

from playground import zerogpu
from playground.access import Access
from playground.backends import concurrent_requests
from playground.catalog import Catalog, load_catalog
from playground.engine import Engine
from playground.errors import PlaygroundError
from playground.loading import TransformersLoader
from playground.memory import used
from playground.monitor import Monitor, RequestLog
from playground.registry import Registry
from playground.requests import InputLimits
from playground.settings import Settings, Switch
from playground.workshop import Workshop, new_token

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Services:
    catalog: Catalog
    registry: Registry
    engine: Engine
    settings: Settings
    concurrency: int  # requests a generating event lets through at once; the queue holds the rest
    access: Access  # who may load and unload models from the page
    workshop: Workshop | None = None  # set in a workshop (--workshop): its models and how learners join


def create_services(settings: Settings | None = None) -> Services:
    settings = settings or Settings()
    if zerogpu.ACTIVE:
        settings = zero_gpu_settings(settings)
    catalog = load_catalog(settings.catalog)
    workshop = None
    if settings.workshop_models:
        for key in settings.workshop_models:
            catalog.get(key)  # an unknown key stops start-up: UnknownModelError lists the valid ones
        made = not settings.admin_token
        if made:
            settings = replace(settings, admin_token=new_token())
        workshop = Workshop(settings.workshop_models, settings.host, settings.port, settings.join_url, made)
    loader = TransformersLoader(settings)
    remote = any(spec.remote is not None for spec in catalog)
    remotes = None
    if remote:  # the openai client (a third of a second to import) only where the catalogue has remote models
        from playground.backends.remote import RemoteModels

        remotes = RemoteModels(catalog)
    registry = Registry(catalog, loader, keep_alive_s=settings.keep_alive, evict=settings.eviction is Switch.ON,
                        remotes=remotes)
    registry.start_reaper()
    generate = None
    if zerogpu.ACTIVE:
        preload(registry)
        generate = zerogpu.serve(registry)
    elif workshop is not None:
        threading.Thread(target=preload, args=(registry, workshop.models), name="workshop-preload",
                         daemon=True).start()
    engine = Engine(registry, input_limits(settings), started_monitor(settings, loader.device), generate)
    return Services(catalog, registry, engine, settings, concurrent_requests(settings, loader.device, remote),
                    Access(settings.admin_token, settings.local, workshop=workshop is not None), workshop)


def zero_gpu_settings(settings: Settings) -> Settings:
    """ZeroGPU: on `cuda`, one request per GPU call, nothing unloaded, the slice as the memory budget."""
    return replace(settings, device="cuda", batching=Switch.OFF, eviction=Switch.OFF, keep_alive=0.0,
                   memory_limit=zerogpu.slice_bytes() / 2**30)


def preload(registry: Registry, keys: Iterable[str] | None = None) -> None:
    """Load these models (by default every one this machine runs), one after another, at start-up; they stay
    where nothing unloads on its own (ZeroGPU, a workshop). One that fails is logged and left."""
    for spec in registry.catalog if keys is None else [registry.catalog.get(key) for key in keys]:
        if spec.remote is None and not spec.unavailable:
            try:
                registry.load(spec.key)
            except PlaygroundError as exc:
                log.warning("could not preload %s: %s", spec.key, exc)
        elif spec.unavailable and keys is not None:  # named for it: say why not
            log.warning("could not preload %s: %s", spec.key, spec.unavailable)


def input_limits(settings: Settings) -> InputLimits:
    return InputLimits(message_chars=settings.max_message_chars, system_chars=settings.max_system_chars,
                       files=settings.max_files)


def started_monitor(settings: Settings, device: str) -> Monitor:
    """A monitor sampling `device`'s memory, writing the request log if the settings name one."""
    log = RequestLog(settings.request_log, raw_prompts=settings.log_prompts) if settings.request_log else None
    monitor = Monitor(memory=functools.partial(used, device), log=log)
    monitor.start_sampler()
    return monitor

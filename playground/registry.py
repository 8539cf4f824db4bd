"""The model registry: loads models lazily, shares them, and keeps them inside free memory.

A request asks for a model by catalogue key and gets a `Lease`; while any lease is held the
model is in use and is never evicted. The first request for a (model, precision) loads it;
requests that arrive meanwhile wait for that one load instead of starting their own.

Where a load does not fit, the registry evicts idle models least-recently-used first, then
steps down the precision ladder (bf16 -> int8 -> NF4), and if nothing fits refuses with a
message giving what is needed and what is free. Memory that a load in progress will take is
reserved from its estimate, so two loads never plan against the same free bytes. An
out-of-memory error while loading evicts every idle model and retries one step lower, once.
Idle models unload after a keep-alive. Its errors carry keys of `locales/en/load.toml`.

How weights are read is the `Loader`'s business (`playground.loading` for transformers,
fakes in tests); what to do with a loaded model is the engine's. A model another server runs
(`ModelSpec.remote`) is never loaded, planned for or evicted: its lease holds the backend
`remotes` makes for it, and its state is "remote".
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from playground.catalog import Catalog, ModelSpec
from playground.errors import DoesNotFitError, ModelLoadError, OutOfMemory, PlaygroundError
from playground.i18n import Said
from playground.memory import DeviceMemory, Estimate, Precision, estimate, format_bytes, kv_cache_bytes

log = logging.getLogger(__name__)

DEFAULT_KEEP_ALIVE_S = 15 * 60


@dataclass
class LoadedModel:
    """What a loader hands back: the model, its tokenizer or processor, its size, and what serves it."""

    model: Any
    processor: Any
    footprint: int  # bytes, measured after loading
    device: str = "cpu"
    backend: Any = None  # a `playground.backends.Backend`; None for loaders that only hold weights


@dataclass
class LoadProgress:
    """How far a load has come: the stage ("download", "weights", "warm-up") and its units done of total."""

    stage: str = "starting"
    done: int = 0
    total: int | None = None

    def report(self, stage: str, done: int, total: int | None) -> None:
        self.stage, self.done, self.total = stage, done, total

    @property
    def fraction(self) -> float | None:
        return min(self.done / self.total, 1.0) if self.total else None


class Remotes(Protocol):
    def backend(self, spec: ModelSpec) -> Any:
        """The backend that sends `spec`'s requests to its server."""
        ...

    def close(self) -> None: ...


class Loader(Protocol):
    device: str

    def kv_tokens(self, spec: ModelSpec) -> tuple[int, int]:
        """KV-cache tokens a loaded model needs at least (one request's window) and would like (a full batch)."""
        ...

    def load(self, spec: ModelSpec, precision: Precision, kv_tokens: int, progress: LoadProgress) -> LoadedModel:
        """Load weights and what serves them, with room for `kv_tokens` of KV cache, reporting to `progress`;
        raise `OutOfMemory` or `ModelLoadError` on failure."""
        ...

    def unload(self, loaded: LoadedModel) -> None:
        """Drop references and give the memory back to the device."""
        ...

    def memory(self) -> DeviceMemory: ...


@dataclass
class _Entry:
    spec: ModelSpec
    precision: Precision | None  # None: a remote model
    reserved: int  # estimated bytes, counted against free memory while loading
    kv_tokens: int  # KV cache granted to the model; its bytes stay reserved while it is loaded
    kv_bytes: int
    started: float
    loaded: LoadedModel | None = None
    refs: int = 0
    last_used: float = 0.0
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    progress: LoadProgress = field(default_factory=LoadProgress)

    @property
    def ready(self) -> bool:
        return self.loaded is not None


@dataclass(frozen=True)
class ModelState:
    """One loaded (or loading) model, as the UI shows it."""

    key: str
    precision: Precision | None  # None for a remote model
    status: str  # "loading", "ready", or "remote" (served by another server)
    footprint: int | None
    in_use: int
    idle_s: float | None
    loading_s: float | None
    kv_tokens: int
    backend: str | None  # "serial", "batched", ... once loaded
    estimate: int  # bytes the load was planned with
    stage: str | None = None  # while loading: "download", "weights", ...
    progress: float | None = None  # while loading: the fraction of that stage done, where known


class Lease:
    """A hold on a loaded model; release it (or use `with`) when the request ends."""

    def __init__(self, registry: Registry, entry: _Entry):
        self._registry = registry
        self._entry = entry
        self._released = False

    @property
    def spec(self) -> ModelSpec:
        return self._entry.spec

    @property
    def precision(self) -> Precision | None:
        return self._entry.precision

    @property
    def loaded(self) -> LoadedModel:
        assert self._entry.loaded is not None
        return self._entry.loaded

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._registry._release(self._entry)

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Registry:
    def __init__(
        self,
        catalog: Catalog,
        loader: Loader,
        *,
        keep_alive_s: float = DEFAULT_KEEP_ALIVE_S,
        evict: bool = True,
        clock: Callable[[], float] = time.monotonic,
        remotes: Remotes | None = None,
    ):
        self.catalog = catalog
        self.loader = loader
        self.remotes = remotes
        self.keep_alive_s = keep_alive_s
        self.evict = evict
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, Precision], _Entry] = {}
        self._remote: dict[str, _Entry] = {}  # remote models, once used: never planned, loaded or evicted
        self._reaper: threading.Thread | None = None
        self._closed = threading.Event()

    # --- leases -------------------------------------------------------------------------

    def acquire(self, key: str, precision: Precision | None = None) -> Lease:
        """Hold model `key`, loading it first if needed. `None` picks the best that fits."""
        spec = self.catalog.get(key)
        if spec.unavailable:
            raise ModelLoadError("load.unavailable", model=key, reason=spec.unavailable)
        if spec.remote is not None:
            return self._remote_lease(spec)
        with self._lock:
            entry = self._find(key, precision)
            owner = entry is None
            if owner:
                entry = self._plan(spec, precision)
            entry.refs += 1
        if owner:
            self._load(entry)
        else:
            entry.done.wait()
        if entry.error is not None:
            with self._lock:
                entry.refs -= 1
            raise entry.error
        return Lease(self, entry)

    def _remote_lease(self, spec: ModelSpec) -> Lease:
        if self.remotes is None:
            raise ModelLoadError("load.no_remotes", model=spec.key)
        with self._lock:
            entry = self._remote.get(spec.key)
            if entry is None:
                loaded = LoadedModel(model=None, processor=None, footprint=0, device="remote",
                                     backend=self.remotes.backend(spec))
                entry = self._remote[spec.key] = _Entry(spec, None, reserved=0, kv_tokens=0, kv_bytes=0,
                                                        started=self._clock(), loaded=loaded)
                entry.done.set()
            entry.refs += 1
        return Lease(self, entry)

    def step_down(self, lease: Lease) -> Lease:
        """After out-of-memory in use: release `lease`, unload it if idle, hold one step lower."""
        lower = lease.precision.lower() if lease.precision is not None else None
        key = lease.spec.key
        lease.release()
        if lower is None:
            raise OutOfMemory("load.oom_lowest", model=key, precision=str(lease.precision))
        with self._lock:
            self._evict_idle(lambda e: True)
        return self.acquire(key, lower)

    def _release(self, entry: _Entry) -> None:
        with self._lock:
            entry.refs -= 1
            entry.last_used = self._clock()

    # --- planning and loading -----------------------------------------------------------

    def _find(self, key: str, precision: Precision | None) -> _Entry | None:
        """An entry already loaded or loading that can serve the request (caller holds lock)."""
        if precision is not None:
            return self._entries.get((key, precision))
        for p in Precision:  # any resident precision serves an "auto" request, the highest first
            entry = self._entries.get((key, p))
            if entry is not None:
                return entry
        return None

    def _plan(self, spec: ModelSpec, requested: Precision | None) -> _Entry:
        """Choose a precision and evict what it takes; register the entry as loading.

        A precision fits if its weights and one request's KV cache do; the KV budget then grows
        towards what the loader would like (a full batch) as far as the remaining memory allows.
        """
        ladder = [requested] if requested is not None else list(spec.ladder)
        least, wanted = self.loader.kv_tokens(spec)
        memory = self.loader.memory()
        free = self._free(memory)
        idle = self._idle_entries()
        needs = []
        for precision in ladder:
            need = self._need(spec, precision, least)
            needs.append((precision, need))
            gained, victims = 0, []
            for victim in idle if self.evict else []:
                if need <= free + gained:
                    break
                victims.append(victim)
                gained += victim.loaded.footprint + victim.kv_bytes if victim.loaded else 0
            if need <= free + gained:
                self._evict_idle(victims.__contains__)
                per_token = self._kv_bytes(spec, precision, 1)
                extra = min(wanted - least, (free + gained - need) // per_token) if per_token else wanted - least
                tokens = least + max(extra, 0)
                entry = _Entry(spec, precision, reserved=need + (tokens - least) * per_token, kv_tokens=tokens,
                               kv_bytes=tokens * per_token, started=self._clock())
                self._entries[(spec.key, precision)] = entry
                return entry
        raise DoesNotFitError(self._refusal(spec, needs, memory, free, idle))

    def _free(self, memory: DeviceMemory) -> int:
        """Free bytes for a new load: loads in progress and loaded models' KV budgets are spoken for."""
        loading = sum(e.reserved for e in self._entries.values() if not e.ready)
        kv = sum(e.kv_bytes for e in self._entries.values() if e.ready)
        return memory.free - loading - kv

    def room(self) -> int:
        """Bytes a new load could have now: free memory plus what unloading idle models would give back."""
        with self._lock:
            free = self._free(self.loader.memory())
            idle = sum(e.loaded.footprint + e.kv_bytes for e in self._idle_entries() if e.loaded) if self.evict else 0
        return free + idle

    def fits(self, spec: ModelSpec, precision: Precision) -> bool:
        """Whether a load of `spec` at `precision` would go ahead now: the test `_plan` makes, its weights and one
        request's KV cache against free memory plus what unloading idle models would give back. (Which rungs of
        the ladder to ask about is the caller's; a model with unknown numbers is tried, as `_plan` tries it.)"""
        return self._need(spec, precision, self.loader.kv_tokens(spec)[0]) <= self.room()

    def estimate(self, spec: ModelSpec, precision: Precision) -> Estimate | None:
        """What loading `spec` at `precision` needs at least (None where the numbers are unknown, or remote)."""
        if spec.remote is not None:
            return None
        try:
            return estimate(spec, precision, tokens=self.loader.kv_tokens(spec)[0])
        except ValueError:
            return None

    def _need(self, spec: ModelSpec, precision: Precision, tokens: int) -> int:
        try:
            return estimate(spec, precision, tokens=tokens).total
        except ValueError:
            return 0  # a local folder without numbers: try, and let out-of-memory answer

    def _kv_bytes(self, spec: ModelSpec, precision: Precision, tokens: int) -> int:
        try:
            return kv_cache_bytes(spec, tokens, precision)
        except ValueError:
            return 0

    def _refusal(self, spec, needs, memory: DeviceMemory, free: int, idle: list[_Entry]) -> Said:
        precision, least = needs[-1]
        held = sum(e.loaded.footprint + e.kv_bytes for e in idle if e.loaded)
        busy = sorted({e.spec.key for e in self._entries.values() if e.refs})
        return Said("load.does_not_fit", {
            "model": spec.key, "need": format_bytes(least), "precision": str(precision),
            "free": format_bytes(max(free, 0)), "total": format_bytes(memory.total), "device": memory.words,
            "idle": Said("load.idle_would_free", {"size": format_bytes(held)}) if held and self.evict else "",
            "busy": Said("load.busy", {"models": ", ".join(busy)}) if busy else "",
        })

    def _load(self, entry: _Entry) -> None:
        """Load `entry` outside the lock; on out-of-memory evict and retry one step lower once."""
        try:
            try:
                loaded = self.loader.load(entry.spec, entry.precision, entry.kv_tokens, entry.progress)
            except OutOfMemory:
                lower = entry.precision.lower()
                if lower is None or not self.evict:
                    raise
                log.warning("%s: out of memory at %s; retrying at %s", entry.spec.key, entry.precision, lower)
                with self._lock:
                    self._evict_idle(lambda e: True)
                    del self._entries[(entry.spec.key, entry.precision)]
                    entry.precision = lower
                    entry.reserved = self._need(entry.spec, lower, entry.kv_tokens)
                    entry.kv_bytes = self._kv_bytes(entry.spec, lower, entry.kv_tokens)
                    self._entries[(entry.spec.key, lower)] = entry
                loaded = self.loader.load(entry.spec, lower, entry.kv_tokens, entry.progress)
        except BaseException as exc:  # every waiter must wake up, whatever went wrong
            with self._lock:
                self._entries.pop((entry.spec.key, entry.precision), None)
            entry.error = exc if isinstance(exc, PlaygroundError) else _wrap(entry.spec, exc)
            entry.done.set()
            return
        with self._lock:
            entry.loaded = loaded
            entry.last_used = self._clock()
        entry.done.set()

    def _idle_entries(self) -> list[_Entry]:
        """Loaded models no request holds, least recently used first (caller holds lock)."""
        idle = [e for e in self._entries.values() if e.ready and e.refs == 0]
        return sorted(idle, key=lambda e: e.last_used)

    def _evict_idle(self, which: Callable[[_Entry], bool]) -> list[str]:
        """Unload idle entries chosen by `which` (caller holds lock)."""
        evicted = []
        for entry in self._idle_entries():
            if which(entry):
                del self._entries[(entry.spec.key, entry.precision)]
                loaded, entry.loaded = entry.loaded, None
                self.loader.unload(loaded)
                evicted.append(entry.spec.key)
                log.info("unloaded %s (%s)", entry.spec.key, entry.precision)
        return evicted

    # --- explicit control (Models tab) and keep-alive -----------------------------------

    def load(self, key: str, precision: Precision | None = None) -> ModelState:
        """Load without holding: the model then idles until used or reaped. (A remote model: its state.)"""
        if self.catalog.get(key).remote is not None:
            state = self.state(key)
            assert state is not None
            return state
        with self.acquire(key, precision) as lease:
            entry = lease._entry
        return self._state(entry)

    def unload(self, key: str, precision: Precision | None = None) -> list[str]:
        """Unload `key` at `precision` (every precision if None); refuse while a request uses it."""
        if self.catalog.get(key).remote is not None:
            raise PlaygroundError("load.remote_unload", model=key)

        def mine(e: _Entry) -> bool:
            return e.spec.key == key and (precision is None or e.precision is precision)

        with self._lock:
            if any(e.refs for e in self._entries.values() if mine(e)):
                raise PlaygroundError("load.in_use", model=key)
            return self._evict_idle(mine)

    def reap_idle(self) -> list[str]:
        """Unload models idle for longer than the keep-alive (a keep-alive of 0: never)."""
        if self.keep_alive_s <= 0:
            return []
        now = self._clock()
        with self._lock:
            return self._evict_idle(lambda e: now - e.last_used > self.keep_alive_s)

    def start_reaper(self, interval_s: float = 30.0) -> None:
        def run() -> None:
            while not self._closed.wait(interval_s):
                self.reap_idle()

        if self._reaper is None and self.keep_alive_s > 0:
            self._reaper = threading.Thread(target=run, name="registry-reaper", daemon=True)
            self._reaper.start()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._evict_idle(lambda e: True)
        if self.remotes is not None:
            self.remotes.close()

    # --- reporting ----------------------------------------------------------------------

    def snapshot(self) -> list[ModelState]:
        """The models loaded or loading here (remote models are not)."""
        with self._lock:
            return [self._state(e) for e in self._entries.values()]

    def state(self, key: str, precision: Precision | None = None) -> ModelState | None:
        """The copy of `key` a request for `precision` would use (loaded or loading), or None: it would load.

        A remote model is always in state "remote": nothing to load."""
        spec = self.catalog.models.get(key)
        if spec is not None and spec.remote is not None:
            with self._lock:
                entry = self._remote.get(key)
                refs, used = (entry.refs, entry.last_used) if entry else (0, None)
            return ModelState(key=key, precision=None, status="remote", footprint=None, in_use=refs,
                              idle_s=None if used is None or refs else self._clock() - used, loading_s=None,
                              kv_tokens=0, backend="remote", estimate=0)
        with self._lock:
            entry = self._find(key, precision)
            return self._state(entry) if entry is not None else None

    def _state(self, entry: _Entry) -> ModelState:
        now = self._clock()
        ready = entry.ready
        return ModelState(
            key=entry.spec.key,
            precision=entry.precision,
            status="ready" if ready else "loading",
            footprint=entry.loaded.footprint if entry.loaded else None,
            in_use=entry.refs,
            idle_s=(now - entry.last_used) if ready and entry.refs == 0 else None,
            loading_s=None if ready else now - entry.started,
            kv_tokens=entry.kv_tokens,
            backend=entry.loaded.backend.name if entry.loaded and entry.loaded.backend is not None else None,
            estimate=entry.reserved,
            stage=None if ready else entry.progress.stage,
            progress=None if ready else entry.progress.fraction,
        )

    def memory(self) -> DeviceMemory:
        return self.loader.memory()


def _wrap(spec: ModelSpec, exc: BaseException) -> PlaygroundError:
    err = PlaygroundError("load.failed", model=spec.key, error=f"{type(exc).__name__}: {exc}")
    err.__cause__ = exc
    return err


T = TypeVar("T")


class Background(Generic[T]):
    """Runs `work` (a load, or an acquire that may load) in a worker thread and lets a stream watch it.

    `watch(interval)` yields the model's state at once and then every `interval` seconds until the
    work is done, and returns its result (or raises its error). A watcher that goes away, or stops
    early, calls `abandon()`: the work still finishes (a load is not torn down halfway) and its
    result goes to `dispose` (a lease is released) instead of to nobody.
    """

    def __init__(self, registry: Registry, key: str, precision: Precision | None, work: Callable[[], T],
                 dispose: Callable[[T], None] = lambda result: None):
        self.registry, self.key, self.precision = registry, key, precision
        self._dispose = dispose
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._result: T | None = None
        self._error: BaseException | None = None
        self._abandoned = False
        threading.Thread(target=self._run, args=(work,), name=f"load-{key}", daemon=True).start()

    def _run(self, work: Callable[[], T]) -> None:
        try:
            result = work()
        except BaseException as exc:  # re-raised to the watcher, if one is still there
            self._error = exc
        else:
            with self._lock:
                if self._abandoned:
                    self._dispose(result)
                else:
                    self._result = result
        finally:
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def watch(self, interval: float, stop: Callable[[], bool] = lambda: False
              ) -> Generator[ModelState | None, None, T | None]:
        """States while the work runs (None before the registry has planned it); then its result.

        Returns None, having abandoned the work, if `stop()` turns true first.
        """
        try:
            while True:
                yield self.registry.state(self.key, self.precision)
                if self._done.wait(interval):
                    break
                if stop():
                    self.abandon()
                    return None
        except GeneratorExit:
            self.abandon()
            raise
        if self._error is not None:
            raise self._error
        return self._result

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            result, self._result = self._result, None
        if result is not None:
            self._dispose(result)

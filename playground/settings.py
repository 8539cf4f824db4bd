"""Settings: one frozen dataclass, filled from command-line flags and `PLAYGROUND_*` variables.

Every setting is a field below with its flag, its variable (`PLAYGROUND_` + the field name in
capitals) and a help line; `Settings.from_sources(argv, environ)` reads them, a flag winning
over a variable and a variable over the default. Where Gradio has its own variable for a setting
(GRADIO_SERVER_NAME, GRADIO_SERVER_PORT, as Spaces and Docker set them), it is read after ours.
A bad value stops start-up with a message naming the flag or variable. This module decides nothing
about what the settings do.

Two modes fill in their own defaults for whatever was not set explicitly (a flag or variable given
always wins): a public demo (`--public`, or any Space: `PUBLIC_DEFAULTS`) and a workshop
(`--workshop KEYS`: `WORKSHOP_DEFAULTS`, which `playground.workshop` explains); where both apply,
the workshop's win.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import Enum, StrEnum
from typing import Any

from playground.admission import Rate

ENV_PREFIX = "PLAYGROUND_"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
NETWORK_RATE = Rate(100, "hour")  # the default per-address rate when others can reach the app
SPACE_VARIABLE = "SPACE_ID"  # set by Hugging Face Spaces in every Space
# A public demo (--public, or any Space): each visitor one reply at a time, a short queue, a rate limit.
PUBLIC_DEFAULTS = {"per_session": 1, "queue_size": 32, "rate_limit": "100/hour"}


class Switch(StrEnum):
    AUTO = "auto"
    ON = "on"
    OFF = "off"

    def resolve(self, auto: bool) -> bool:
        """True for on, False for off, and `auto` for auto."""
        return auto if self is Switch.AUTO else self is Switch.ON


# A workshop (--workshop KEYS): the room's devices can join (every address), the listed models stay loaded
# (nothing unloads on its own), and each learner has one reply at a time. Per address 2: a learner's two
# tabs, or two learners at one laptop. 20 a minute per address: above anyone's typing pace, below a script's
# loop. A queue of 100: in a room of up to 100 learners, each with one reply at a time, everyone gets a
# place in line rather than "busy".
WORKSHOP_DEFAULTS = {"host": "0.0.0.0", "keep_alive": 0.0, "eviction": Switch.OFF, "per_session": 1, "per_address": 2,
                     "rate_limit": "20/minute", "queue_size": 100}


def _setting(default: Any, flag: str, help: str, *, metavar: str | None = None, choices: Sequence[str] | None = None,
             gradio_env: str | None = None):
    """A setting; `gradio_env`: Gradio's own variable for it, read when neither the flag nor ours is given."""
    return field(default=default, metadata={"flag": flag, "help": help, "metavar": metavar, "choices": choices,
                                            "gradio_env": gradio_env})


SWITCH = [s.value for s in Switch]


@dataclass(frozen=True)
class Settings:
    catalog: str | None = _setting(None, "--catalog", "a catalogue TOML file that replaces the built-in one",
                                   metavar="PATH")
    host: str = _setting("127.0.0.1", "--host", "address to listen on (0.0.0.0 for a LAN; also GRADIO_SERVER_NAME)",
                         gradio_env="GRADIO_SERVER_NAME")
    port: int = _setting(7860, "--port", "port to listen on (also GRADIO_SERVER_PORT)", gradio_env="GRADIO_SERVER_PORT")
    share: bool = _setting(False, "--share", "also open a public gradio.live link")
    device: str = _setting("auto", "--device", "where models run (auto: cuda when available, else mps on a Mac, "
                           "else cpu)", choices=["auto", "cuda", "mps", "cpu"])
    keep_alive: float = _setting(15 * 60.0, "--keep-alive", "unload a model after it has been idle this long "
                                 "(0: never)", metavar="SECONDS")
    context_limit: int | None = _setting(None, "--context-limit", "cap prompt + reply tokens below each model's "
                                         "own window", metavar="TOKENS")
    memory_limit: float | None = _setting(None, "--memory-limit", "use at most this much of the device's memory "
                                          "(for a shared machine)", metavar="GIB")
    batching: Switch = _setting(Switch.AUTO, "--batching", "decode concurrent requests for one model together "
                                "(auto: on for CUDA, off for CPU)", choices=SWITCH)
    max_concurrent: int = _setting(16, "--max-concurrent", "requests served at once (per model: in one batch when "
                                   "batching, else in parallel on CUDA; the CPU without batching serves one at a "
                                   "time per model)", metavar="N")
    queue_size: int = _setting(64, "--queue-size", "requests that may wait for a free slot; more are refused "
                               "with a 'busy' message", metavar="N")
    eviction: Switch = _setting(Switch.ON, "--eviction", "unload idle models to make room for another "
                                "(off: keep every loaded model, e.g. on ZeroGPU)", choices=["on", "off"])
    max_body_mb: float = _setting(8.0, "--max-body-mb", "largest request body accepted, file uploads excepted "
                                  "(those have --max-file-mb)", metavar="MB")
    max_message_chars: int = _setting(100_000, "--max-message-chars", "longest message accepted, in characters",
                                      metavar="N")
    max_system_chars: int = _setting(20_000, "--max-system-chars", "longest system prompt accepted, in characters",
                                     metavar="N")
    max_files: int = _setting(10, "--max-files", "files one message may carry", metavar="N")
    max_file_mb: float = _setting(200.0, "--max-file-mb", "largest file upload accepted (when read, images are "
                                  "also held to 25 MB and 64 megapixels, videos to 200 MB and 10 minutes)",
                                  metavar="MB")
    per_session: int = _setting(4, "--per-session", "requests one browser session (or API client) may have running "
                                "or waiting at once", metavar="N")
    per_address: int = _setting(16, "--per-address", "requests one network address may have running or waiting "
                                "at once", metavar="N")
    rate_limit: str = _setting("auto", "--rate-limit", "requests one network address may send per second, "
                               "minute or hour, as N/minute; off: no limit; auto: 100/hour when listening on a "
                               "network, off on localhost", metavar="N/PERIOD")
    admin_token: str | None = _setting(None, "--admin-token", "a secret that unlocks loading and unloading models "
                                       "(unset: open on localhost, read-only when listening on a network)",
                                       metavar="TOKEN")
    api_key: str | None = _setting(None, "--api-key", "a bearer key clients of the OpenAI-compatible /v1 API must "
                                   "send (unset: no key)", metavar="KEY")
    request_log: str | None = _setting(None, "--request-log", "write one JSON line per request to this file "
                                       "(rotated at 10 MB); prompts only as salted hashes", metavar="PATH")
    log_prompts: bool = _setting(False, "--log-prompts", "also write the raw prompts to the request log")
    public: Switch = _setting(Switch.AUTO, "--public", "a public demo's defaults for what is not set otherwise: "
                              "one reply at a time per visitor (--per-session 1), --queue-size 32, --rate-limit "
                              "100/hour (auto: on for a Hugging Face Space)", choices=SWITCH)
    workshop: str | None = _setting(None, "--workshop", "teach a workshop: load these catalogue models at start "
                                    "and keep them (comma-separated keys), show the join address with a QR code "
                                    "on the page, keep model management for the admin token (one is made and "
                                    "printed if none is set); fills in --host 0.0.0.0, --keep-alive 0, "
                                    "--eviction off, --per-session 1, --per-address 2, --rate-limit 20/minute and "
                                    "--queue-size 100 where not set", metavar="KEYS")
    join_url: str | None = _setting(None, "--join-url", "in a workshop, the address learners open, shown with its "
                                    "QR code (default: this machine's network addresses at --port; set it behind "
                                    "Docker or a proxy, or to use a name)", metavar="URL")
    compile: Switch = _setting(Switch.OFF, "--compile", "CUDA without batching: static KV cache + torch.compile, "
                               "warmed up when the model loads (minutes), for the fastest single stream",
                               choices=["on", "off"])

    @property
    def memory_limit_bytes(self) -> int | None:
        return int(self.memory_limit * 1024**3) if self.memory_limit else None

    @property
    def local(self) -> bool:
        """Listening on this machine only (a laptop), not on a network."""
        return self.host in LOCAL_HOSTS and not self.share

    @property
    def workshop_models(self) -> tuple[str, ...]:
        """The catalogue keys `--workshop` lists, in order, each once (empty: not a workshop)."""
        return workshop_keys(self.workshop)

    @property
    def rate(self) -> Rate | None:
        if self.rate_limit.strip().lower() == "auto":
            return None if self.local else NETWORK_RATE
        return Rate.parse(self.rate_limit)

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 2**20)

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 2**20)

    @classmethod
    def parser(cls) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(
            description="Try the Qwen model family in the browser.",
            epilog=f"Every flag can also be set with an environment variable: {ENV_PREFIX}<NAME> "
            f"(e.g. {ENV_PREFIX}BATCHING=on, {ENV_PREFIX}MAX_CONCURRENT=32).",
        )
        for f in fields(cls):
            meta = f.metadata
            help_text = f"{meta['help']} (default: {_shown(f.default)}; env {env_name(f.name)})"
            if f.type == "bool":
                parser.add_argument(meta["flag"], dest=f.name, action="store_true", default=None, help=help_text)
            else:
                parser.add_argument(meta["flag"], dest=f.name, default=None, metavar=meta["metavar"],
                                    choices=meta["choices"], help=help_text)
        return parser

    @classmethod
    def from_sources(cls, argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Flags over `PLAYGROUND_*` variables over defaults. Exits with a message on a bad value."""
        parser = cls.parser()
        args = vars(parser.parse_args(argv))
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw, source = args.get(f.name), f.metadata["flag"]
            for variable in (env_name(f.name), f.metadata["gradio_env"]):
                if raw is None and variable and variable in environ:
                    raw, source = environ[variable], variable
            if raw is None:
                continue
            try:
                values[f.name] = _convert(f.type, raw, f.metadata["choices"])
            except ValueError as exc:
                parser.error(f"{source}: {exc}")
        given = dict(values)  # what was given explicitly stays
        if values.get("public", Switch.AUTO).resolve(auto=SPACE_VARIABLE in environ):
            values = {**values, **PUBLIC_DEFAULTS}
        if workshop_keys(values.get("workshop")):
            values = {**values, **WORKSHOP_DEFAULTS}
        values.update(given)
        settings = cls(**values)
        problem = settings.problem()
        if problem:
            parser.error(problem)
        return settings

    def problem(self) -> str | None:
        """What is wrong with these settings together, if anything."""
        if self.max_concurrent < 1:
            return "--max-concurrent must be at least 1."
        if self.queue_size < 1:
            return "--queue-size must be at least 1."
        if self.context_limit is not None and self.context_limit < 16:
            return "--context-limit must be at least 16 tokens."
        if self.memory_limit is not None and self.memory_limit <= 0:
            return "--memory-limit must be positive."
        if self.keep_alive < 0:
            return "--keep-alive must be 0 or more."
        for name in ("max_body_mb", "max_message_chars", "max_system_chars", "max_files", "max_file_mb",
                     "per_session", "per_address"):
            if getattr(self, name) <= 0:
                return f"{fields_by_name()[name].metadata['flag']} must be positive."
        try:
            _ = self.rate
        except ValueError as exc:
            return f"--rate-limit: {exc}"
        if self.workshop is not None and self.workshop.strip() and not self.workshop_models:
            return "--workshop: expected catalogue model keys separated by commas (e.g. qwen3-0.6b,qwen3-4b)."
        if self.join_url is not None and not self.join_url.lower().startswith(("http://", "https://")):
            return f"--join-url: expected an address that starts with http:// or https://, got {self.join_url!r}."
        return None


def workshop_keys(text: str | None) -> tuple[str, ...]:
    """`"a, b,,a"` -> `("a", "b")`: the keys of a comma-separated list, in order, each once."""
    return tuple(dict.fromkeys(key.strip() for key in (text or "").split(",") if key.strip()))


def fields_by_name() -> dict[str, Any]:
    return {f.name: f for f in fields(Settings)}


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _shown(value: Any) -> str:
    return value.value if isinstance(value, Enum) else str(value)


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def _convert(kind: Any, raw: Any, choices: Sequence[str] | None) -> Any:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip()
    kind = str(kind).split(" |")[0]  # "int | None" -> "int"
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if choices is not None and text.lower() not in choices:
        raise ValueError(f"expected one of {', '.join(choices)}, got {text!r}")
    if kind == "Switch":
        return Switch(text.lower())
    if kind == "str":
        return text.lower() if choices else text
    try:
        return int(text) if kind == "int" else float(text)
    except ValueError:
        raise ValueError(f"expected {'a whole' if kind == 'int' else 'a'} number, got {text!r}") from None

"""Settings from flags and PLAYGROUND_* variables: precedence, conversion, and clear refusals."""

from __future__ import annotations

from dataclasses import fields

import pytest

from playground.admission import Rate
from playground.backends import batching_wanted, concurrent_requests, kv_token_budget
from playground.catalog import parse_catalog
from playground.memory import context_tokens
from playground.settings import Settings, Switch, env_name


def test_defaults_need_nothing() -> None:
    assert Settings.from_sources([], {}) == Settings()


def test_a_flag_wins_over_a_variable_which_wins_over_the_default() -> None:
    environ = {"PLAYGROUND_BATCHING": "off", "PLAYGROUND_MAX_CONCURRENT": "8", "PLAYGROUND_SHARE": "yes"}
    settings = Settings.from_sources(["--batching", "on"], environ)
    assert settings.batching is Switch.ON and settings.max_concurrent == 8 and settings.share is True
    assert Settings.from_sources(["--context-limit", "2048", "--memory-limit", "1.5"], {}).memory_limit_bytes == \
        int(1.5 * 1024**3)


def test_host_and_port_follow_gradios_variables_unless_ours_say_otherwise() -> None:
    gradio = {"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7861"}
    settings = Settings.from_sources([], gradio)
    assert (settings.host, settings.port, settings.local) == ("0.0.0.0", 7861, False)
    ours = Settings.from_sources(["--port", "9000"], {**gradio, "PLAYGROUND_HOST": "127.0.0.1"})
    assert (ours.host, ours.port) == ("127.0.0.1", 9000)


def test_every_setting_has_a_flag_and_a_variable() -> None:
    help_text = Settings.parser().format_help()
    for f in fields(Settings):
        assert f.metadata["flag"] in help_text
        assert env_name(f.name) in help_text.replace("\n", " ").replace("  ", "")


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        pytest.param([], {"PLAYGROUND_BATCHING": "maybe"}, "PLAYGROUND_BATCHING: expected one of auto, on, off",
                     id="bad_choice"),
        pytest.param([], {"PLAYGROUND_PORT": "http"}, "PLAYGROUND_PORT: expected a whole number", id="bad_number"),
        pytest.param([], {"PLAYGROUND_SHARE": "perhaps"}, "expected true or false", id="bad_bool"),
        pytest.param(["--max-concurrent", "0"], {}, "--max-concurrent must be at least 1", id="zero_concurrency"),
        pytest.param(["--memory-limit", "-2"], {}, "--memory-limit must be positive", id="negative_memory"),
    ],
)
def test_bad_values_stop_start_up_naming_the_setting(capsys, argv, environ, message) -> None:
    with pytest.raises(SystemExit):
        Settings.from_sources(argv, environ)
    assert message in capsys.readouterr().err


def test_batching_auto_is_on_for_cuda_and_off_for_cpu() -> None:
    assert batching_wanted(Settings(), "cuda") and not batching_wanted(Settings(), "cpu")
    assert batching_wanted(Settings(batching=Switch.ON), "cpu")
    assert not batching_wanted(Settings(batching=Switch.OFF), "cuda")


def test_the_cpu_serial_decoder_lets_one_request_through_at_a_time() -> None:
    assert concurrent_requests(Settings(), "cpu") == 1
    assert concurrent_requests(Settings(max_concurrent=8), "cuda") == 8
    assert concurrent_requests(Settings(batching=Switch.ON, max_concurrent=4), "cpu") == 4


def test_kv_budget_is_one_window_for_the_cpu_serial_decoder_and_a_batch_otherwise() -> None:
    spec = parse_catalog({"models": {"m": {"source": "./m", "tasks": ["chat"], "context_length": 4096}}}).get("m")
    window = context_tokens(spec)
    assert kv_token_budget(spec, Settings(), "cpu") == (window, window)
    assert kv_token_budget(spec, Settings(max_concurrent=8), "cuda") == (window, 8 * window)
    assert kv_token_budget(spec, Settings(batching=Switch.ON, max_concurrent=4), "cpu") == (window, 4 * window)


def test_a_public_demo_gets_its_defaults_and_keeps_what_was_given() -> None:
    public = Settings.from_sources(["--public", "on"], {})
    assert (public.per_session, public.queue_size, public.rate) == (1, 32, Rate(100, "hour"))
    space = Settings.from_sources(["--queue-size", "8"], {"SPACE_ID": "someone/qwen-playground"})
    assert (space.per_session, space.queue_size) == (1, 8)  # a Space is public; the flag given wins
    assert Settings.from_sources([], {"SPACE_ID": "x/y", "PLAYGROUND_PUBLIC": "off"}).per_session == 4
    assert Settings.from_sources([], {}).per_session == 4  # a laptop


WORKSHOP = {"host": "0.0.0.0", "keep_alive": 0.0, "eviction": Switch.OFF, "per_session": 1, "per_address": 2,
            "rate": Rate(20, "minute"), "queue_size": 100}


def filled(settings: Settings) -> dict:
    return {name: getattr(settings, name) for name in WORKSHOP}


@pytest.mark.parametrize(
    ("argv", "environ"),
    [
        pytest.param(["--workshop", "qwen3-0.6b, qwen2.5-vl-3b,,qwen3-0.6b"], {}, id="flag"),
        pytest.param([], {"PLAYGROUND_WORKSHOP": "qwen3-0.6b,qwen2.5-vl-3b"}, id="variable"),
    ],
)
def test_a_workshop_lists_its_models_and_fills_in_its_defaults(argv, environ) -> None:
    settings = Settings.from_sources(argv, environ)
    assert settings.workshop_models == ("qwen3-0.6b", "qwen2.5-vl-3b")  # in order, each once
    assert filled(settings) == WORKSHOP and not settings.local
    assert settings.admin_token is None  # made at start by the services, which print it


def test_a_workshop_keeps_what_was_given_explicitly() -> None:
    given = Settings.from_sources(["--workshop", "m", "--per-session", "2", "--eviction", "on"],
                                  {"PLAYGROUND_KEEP_ALIVE": "600", "GRADIO_SERVER_NAME": "127.0.0.1",
                                   "PLAYGROUND_RATE_LIMIT": "off", "PLAYGROUND_ADMIN_TOKEN": "teacher"})
    assert filled(given) == {**WORKSHOP, "host": "127.0.0.1", "keep_alive": 600.0, "eviction": Switch.ON,
                             "per_session": 2, "rate": None}
    assert given.admin_token == "teacher"
    # In a Space a workshop is also public: where both fill a default, the workshop's wins; what is given, stays.
    space = Settings.from_sources(["--workshop", "m"], {"SPACE_ID": "teacher/workshop"})
    assert filled(space) == WORKSHOP
    assert Settings.from_sources(["--workshop", "m", "--queue-size", "8"], {"SPACE_ID": "x/y"}).queue_size == 8


def test_without_a_workshop_nothing_changes() -> None:
    assert Settings.from_sources([], {"PLAYGROUND_WORKSHOP": ""}) == Settings(workshop="")  # set empty: off
    assert Settings().workshop_models == () and Settings(workshop=" ").workshop_models == ()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--workshop", " , ,"], "--workshop: expected catalogue model keys separated by commas",
                     id="no_keys"),
        pytest.param(["--workshop", "m", "--join-url", "192.168.1.20:7860"],
                     "--join-url: expected an address that starts with http:// or https://", id="join_url_scheme"),
    ],
)
def test_bad_workshop_settings_stop_start_up(capsys, argv, message) -> None:
    with pytest.raises(SystemExit):
        Settings.from_sources(argv, {})
    assert message in capsys.readouterr().err

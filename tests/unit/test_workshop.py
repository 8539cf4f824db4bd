"""Workshop mode's pure parts: which addresses learners join at, the QR code of the first (read back with a real
decoder), the teacher's token and console lines, the banner's words, and who may manage models."""

from __future__ import annotations

import io
import re
import socket
from collections import namedtuple

import numpy as np
import pytest
import zxingcpp

from playground.access import Access
from playground.i18n import say
from playground.workshop import (
    TOKEN_ALPHABET,
    Workshop,
    announce,
    announcement,
    console_language,
    join_urls,
    lan_addresses,
    new_token,
    qr_svg,
)
from tabs.workshop import banner, show_banner

Address = namedtuple("Address", "family address netmask broadcast ptp")  # psutil's snicaddr shape


def v4(address: str) -> Address:
    return Address(socket.AF_INET, address, "255.255.255.0", None, None)


def v6(address: str) -> Address:
    return Address(socket.AF_INET6, address, "ffff:ffff:ffff:ffff::", None, None)


MAC = Address(socket.AF_PACKET, "02:fc:00:00:00:01", None, None, None)

# A teacher's laptop: loopback, Wi-Fi on the room's router, Docker's bridge, a VPN with a carrier-grade address,
# an Ethernet port with no network (a self-assigned address), and a down interface that still has its address.
LAPTOP = {
    "lo": [v4("127.0.0.1"), v6("::1")],
    "wlan0": [v4("192.168.1.20"), v6("fe80::1%wlan0"), v6("2001:db8::20"), MAC],
    "docker0": [v4("172.17.0.1")],
    "tun0": [v4("100.64.3.7")],
    "eth0": [v4("169.254.10.2")],
    "eth1": [v4("10.0.0.5")],
}
UP = {"lo": True, "wlan0": True, "docker0": True, "tun0": True, "eth0": True, "eth1": False}


@pytest.mark.parametrize(
    ("table", "up", "expected"),
    [
        pytest.param(LAPTOP, UP, ["192.168.1.20", "100.64.3.7"], id="laptop"),
        pytest.param(LAPTOP, None, ["10.0.0.5", "192.168.1.20", "100.64.3.7"], id="up_unknown_counts_as_up"),
        pytest.param({"lo": [v4("127.0.0.1")]}, None, [], id="loopback_only"),
        pytest.param({"eth0": [v4("169.254.1.1"), v6("fd00::2")]}, None, [], id="no_network_no_ipv4"),
        pytest.param({"enp3s0": [v4("10.1.2.3")], "wlp2s0": [v4("10.1.2.3")]}, None, ["10.1.2.3"],
                     id="same_address_twice_listed_once"),
        pytest.param({"br-1a2b": [v4("172.18.0.1")], "veth9": [v4("10.9.9.9")], "virbr0": [v4("192.168.122.1")]},
                     None, [], id="container_and_vm_bridges"),
        pytest.param({"eth0": [v4("81.2.69.160")], "wlan0": [v4("192.168.0.4")]}, None, ["192.168.0.4", "81.2.69.160"],
                     id="private_before_public"),
    ],
)
def test_lan_addresses_are_the_ones_the_room_can_reach(table, up, expected) -> None:
    assert lan_addresses(table, up) == expected


def test_join_urls_follow_what_the_server_listens_on() -> None:
    assert join_urls("0.0.0.0", 7860, LAPTOP, UP) == ["http://192.168.1.20:7860", "http://100.64.3.7:7860"]
    assert join_urls("::", 8000, {"wlan0": [v4("192.168.1.20")]}) == ["http://192.168.1.20:8000"]
    assert join_urls("192.168.1.20", 7860, LAPTOP, UP) == ["http://192.168.1.20:7860"]  # the one it listens on
    assert join_urls("fd00::2", 7860, {}) == ["http://[fd00::2]:7860"]
    assert join_urls("127.0.0.1", 7860, LAPTOP, UP) == []  # nobody else can reach it
    assert join_urls("0.0.0.0", 7860, {"lo": [v4("127.0.0.1")]}) == []  # no network
    # --join-url replaces the machine's own addresses (Docker, a proxy, a name); --share's link comes after.
    assert join_urls("0.0.0.0", 7860, LAPTOP, UP, given="http://playground.school.test/",
                     share="https://abc123.gradio.live") == ["http://playground.school.test",
                                                             "https://abc123.gradio.live"]
    assert join_urls("127.0.0.1", 7860, LAPTOP, share="https://abc123.gradio.live/") == ["https://abc123.gradio.live"]


# --- the QR code -----------------------------------------------------------------------------------------------


def svg_modules(svg: str) -> np.ndarray:
    """The dark modules an SVG from `qr_svg` draws: its dark path's runs (`M x y.5` / `m dx dy` moves, `h n`
    runs of n modules), on the grid of its viewBox; 1 = dark."""
    width, height = (int(n) for n in re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups())
    path = re.search(r'<path stroke="#000" d="([^"]+)"', svg).group(1)
    grid = np.zeros((height, width), dtype=np.uint8)
    x = y = 0.0
    for command, numbers in re.findall(r"([MmHh])([-\d. ]+)", path):
        values = [float(n) for n in numbers.split()]
        if command == "M":
            x, y = values
        elif command == "m":
            x, y = x + values[0], y + values[1]
        elif command == "h":
            grid[int(y), int(x):int(x + values[0])] = 1
            x += values[0]
    return grid


def decoded(modules: np.ndarray, scale: int = 6) -> list[str]:
    """What a QR reader makes of a grid of modules (dark = 1), drawn black on white at `scale` pixels each."""
    image = np.kron(np.where(modules == 1, 0, 255).astype(np.uint8), np.ones((scale, scale), dtype=np.uint8))
    return [result.text for result in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize("url", ["http://192.168.1.20:7860", "https://abc123.gradio.live",
                                 "http://[fd00::2]:7860", "http://playground.school.test/workshop?room=3"])
def test_the_qr_code_reads_back_as_the_join_address(url: str) -> None:
    svg = qr_svg(url, f"QR code for {url}")
    assert svg.startswith("<svg") and 'class="workshop-qr"' in svg and "<script" not in svg
    assert '<path fill="#fff" d="M0 0h' in svg  # a white ground under it, in a dark theme too
    modules = svg_modules(svg)
    assert not modules[:4].any() and not modules[-4:].any() and not modules[:, :4].any() \
        and not modules[:, -4:].any()  # the quiet zone a reader needs
    assert decoded(modules) == [url]


def test_the_qr_codes_title_is_escaped() -> None:
    assert "<title>QR code for &lt;b&gt;</title>" in qr_svg("http://a.test", "QR code for <b>")


# --- the teacher -----------------------------------------------------------------------------------------------


def test_a_made_token_can_be_typed_from_a_screen() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert re.fullmatch(rf"[{TOKEN_ALPHABET}]{{4}}-[{TOKEN_ALPHABET}]{{4}}-[{TOKEN_ALPHABET}]{{4}}", token)
        assert not set(token) & set("01ilo")


WORKSHOP = Workshop(("qwen3-0.6b", "qwen2.5-vl-3b"), "0.0.0.0", 7860, token_made=True)


def test_the_console_says_where_to_join_and_shows_only_a_token_it_made() -> None:
    lines = [str(line) for line in announcement(WORKSHOP, ["http://192.168.1.20:7860", "http://10.0.0.5:7860"],
                                                "abcd-efgh-jkmn")]
    assert lines == [
        "Workshop: loading qwen3-0.6b, qwen2.5-vl-3b in the background (the Models tab shows the progress); they "
        "stay loaded.",
        "Learners join at http://192.168.1.20:7860 (the page shows it with a QR code).",
        "  or at http://10.0.0.5:7860",
        "Teacher: to load and unload models, sign in on the Models tab with the admin token abcd-efgh-jkmn",
    ]
    chosen = Workshop(WORKSHOP.models, "127.0.0.1", 7860, token_made=False)  # the teacher's own token
    lines = [str(line) for line in announcement(chosen, [], "their-own-secret")]
    assert "their-own-secret" not in " ".join(lines)
    assert lines[1:] == ["Listening on 127.0.0.1 only: learners cannot join. Restart with --host 0.0.0.0.",
                         "Teacher: to load and unload models, sign in on the Models tab with your admin token."]
    assert str(announcement(WORKSHOP, [], "t")[1]).startswith("No network address found")


@pytest.mark.parametrize(
    ("environ", "language"),
    [
        pytest.param({"LANG": "sw_KE.UTF-8"}, "sw", id="swahili_locale"),
        pytest.param({"LANG": "zh_CN.UTF-8"}, "zh-CN", id="chinese_locale"),
        pytest.param({"LANG": "ur_PK.UTF-8", "LC_ALL": "mr_IN.UTF-8"}, "mr", id="lc_all_wins"),
        pytest.param({"LANG": "C.UTF-8"}, "en", id="c_locale"),
        pytest.param({"LANG": "de_DE.UTF-8"}, "en", id="a_language_we_lack"),
        pytest.param({}, "en", id="no_locale"),
    ],
)
def test_the_console_speaks_the_teachers_locale(environ, language) -> None:
    assert console_language(environ) == language


def test_announce_prints_the_lines(monkeypatch) -> None:
    import playground.workshop as workshop

    monkeypatch.setattr(workshop, "interfaces", lambda: ({"wlan0": [v4("192.168.1.20")]}, {"wlan0": True}))
    out = io.StringIO()
    announce(WORKSHOP, "abcd-efgh-jkmn", {"LANG": "en_GB.UTF-8"}, out)
    assert "Learners join at http://192.168.1.20:7860 " in out.getvalue()
    assert out.getvalue().rstrip().endswith("abcd-efgh-jkmn")


# --- the banner --------------------------------------------------------------------------------------------------


def test_the_banner_shows_the_first_address_with_its_code_and_the_others_as_text() -> None:
    text, svg = banner(WORKSHOP, LAPTOP, UP, "https://abc123.gradio.live", "en")
    assert text.split("\n\n") == [
        "Join this workshop at **[http://192.168.1.20:7860](http://192.168.1.20:7860)**",
        "Also at: http://100.64.3.7:7860, https://abc123.gradio.live",
        "Scan the QR code with a phone's camera, or type the address into a browser on the same network.",
    ]
    assert decoded(svg_modules(svg)) == ["http://192.168.1.20:7860"]
    assert "<title>QR code for http://192.168.1.20:7860</title>" in svg


def test_gradio_hands_the_banner_its_request(monkeypatch) -> None:
    """The page's language comes from the request: Gradio must see the handler's `gr.Request` parameter."""
    from gradio import helpers

    import tabs.workshop

    monkeypatch.setattr(tabs.workshop, "interfaces", lambda: ({"wlan0": [v4("192.168.1.20")]}, None))
    handler = show_banner(WORKSHOP, None)
    request = object()
    assert helpers.special_args(handler, [], request=request)[0] == [request]
    text, svg = handler(None)  # no request: English
    assert text.startswith("Join this workshop at **[http://192.168.1.20:7860]") and svg.startswith("<svg")


def test_the_banner_says_why_nobody_can_join() -> None:
    text, svg = banner(WORKSHOP, {"lo": [v4("127.0.0.1")]}, None, None, "en")
    assert svg == "" and text.startswith("This machine has no network address that learners can reach")
    local = Workshop(WORKSHOP.models, "127.0.0.1", 7860)
    text, svg = banner(local, LAPTOP, UP, None, "en")
    assert svg == "" and text == ("This app listens on this machine only (127.0.0.1): learners cannot join. "
                                  "Restart it with --host 0.0.0.0.")


# --- who manages models -------------------------------------------------------------------------------------------


def test_in_a_workshop_learners_are_told_the_teacher_manages_models() -> None:
    access = Access("abcd-efgh-jkmn", local=True, workshop=True)  # a token even on this machine: the teacher's
    assert not access.open and access.can_sign_in and not access.may_manage("learner")
    assert access.reason.key == "access.teacher_only"
    assert access.refusal() == ("In this workshop the teacher loads and unloads models: sign in with the admin "
                                "token to manage them.")
    assert access.sign_in("teacher", "abcd-efgh-jkmn") and access.may_manage("teacher")
    assert not access.may_manage("learner")


def test_the_refusal_is_a_key_said_in_the_readers_language() -> None:
    assert Access("t", local=False).reason.key == "access.sign_in_first"
    assert Access(None, local=False).reason.key == "access.no_token"
    for code in ("sw", "ur", "zh-CN"):
        for access in (Access(None, local=False), Access("t", local=False), Access("t", local=True, workshop=True)):
            assert access.refusal(code) == say(code, access.reason.key) != ""
    assert Access(None, local=False).refusal("sw") != Access(None, local=False).refusal()  # Swahili has them

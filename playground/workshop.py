"""Workshop mode: one machine, a room of learners who join it from their own devices.

`--workshop KEYS` (or `PLAYGROUND_WORKSHOP`) names the catalogue models of the lesson, comma-separated.
What the app then does, and where:

- *Settings* (`playground.settings.WORKSHOP_DEFAULTS`, only where not set explicitly): listen on every
  address (`--host 0.0.0.0`) so the room can join; nothing unloads on its own (`--keep-alive 0`,
  `--eviction off`), so the listed models stay once loaded; each learner one reply at a time
  (`--per-session 1`), two per device (`--per-address 2`), 20 a minute per device, a queue of 100.
  A `--keep-alive` or `--eviction on` given explicitly applies to the listed models too.
- *Models* (`playground.services`): an unknown key stops start-up (`UnknownModelError`, listing the
  valid keys). The listed models load at start in a background thread, one after another, with the
  same `preload` ZeroGPU uses, so the page is up at once and the Models tab shows the loading; a
  learner who asks meanwhile waits for that load rather than starting another. One that cannot load
  is logged and left (the lesson goes on with the others). Other catalogue models still load when a
  learner picks one, and stay too: the teacher unloads them on the Models tab.
- *Management* (`playground.access`): loading and unloading are the teacher's. Without `--admin-token`
  a token is made at start (`new_token`) and printed in the console, where the teacher signs in with
  it on the Models tab; learners see the models read-only, with no Load or Unload.
- *Joining* (here, and the banner in `tabs/workshop.py`): the page opens with the address to join
  and its QR code. The addresses are `--join-url` if given (behind Docker or a proxy, the machine's
  own addresses are not the room's), else this machine's network addresses (`lan_addresses`: IPv4,
  up, not loopback, link-local or a container or VM bridge) at `--port`, and the `--share` link
  when there is one.

Everything here is pure (interface table and numbers in; addresses, SVG markup and sentences out)
except `interfaces()`, which reads this machine's, and `announce()`, which prints the console lines.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import secrets
import socket
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import segno

from playground.i18n import Said, choose

ANY_HOSTS = frozenset({"0.0.0.0", "::", ""})  # listening on every address
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Interfaces that lead to containers or virtual machines on this computer, not to the room.
VIRTUAL_PREFIXES = ("docker", "br-", "veth", "virbr", "vboxnet", "vmnet", "cni", "flannel", "cali", "podman",
                    "lxc", "lxd")
TOKEN_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off a screen and typed by hand
TOKEN_GROUPS, TOKEN_GROUP = 3, 4  # 12 characters: about 59 bits


@dataclass(frozen=True)
class Workshop:
    """What the app needs to run a workshop: the lesson's models and how learners reach it."""

    models: tuple[str, ...]  # catalogue keys, loaded at start and kept
    host: str  # what the server listens on
    port: int
    join_url: str | None = None  # the address given with --join-url, if any
    token_made: bool = False  # the admin token was made at start (so the console shows it)

    def urls(self, interfaces: Mapping[str, Sequence[Any]], up: Mapping[str, bool] | None = None,
             share: str | None = None) -> list[str]:
        """The addresses to join at, the one to show first first (`join_urls`)."""
        return join_urls(self.host, self.port, interfaces, up, share=share, given=self.join_url)


def interfaces() -> tuple[Mapping[str, Sequence[Any]], Mapping[str, bool]]:
    """This machine's interface table (name -> addresses) and which interfaces are up (psutil)."""
    import psutil

    return psutil.net_if_addrs(), {name: stats.isup for name, stats in psutil.net_if_stats().items()}


def lan_addresses(table: Mapping[str, Sequence[Any]], up: Mapping[str, bool] | None = None) -> list[str]:
    """The IPv4 addresses others on the network can reach this machine at, the likeliest first.

    `table` is `psutil.net_if_addrs()`'s shape: interface name -> addresses, each with `family` and
    `address`. Left out: interfaces that are down (per `up`; unknown ones count as up), loopback
    (127.0.0.0/8) and link-local (169.254.0.0/16, what a machine gives itself with no network)
    addresses, and container or VM bridges (docker0, br-*, veth*, virbr*, ...). Private addresses
    (192.168/16, 10/8, 172.16/12: a room's router) come before others (a public or carrier-grade one),
    then by interface name; an address on two interfaces is listed once. IPv6 is left out: a room's
    network hands out IPv4, and a link-local IPv6 address needs its zone in the URL.
    """
    found: list[tuple[bool, str, str]] = []
    for name, addresses in table.items():
        if (up is not None and not up.get(name, True)) or name.lower().startswith(VIRTUAL_PREFIXES):
            continue
        for entry in addresses:
            if getattr(entry, "family", None) != socket.AF_INET:
                continue
            try:
                address = ipaddress.IPv4Address(str(entry.address).split("%")[0])
            except ValueError:
                continue
            if address.is_loopback or address.is_link_local or address.is_unspecified or address.is_multicast:
                continue
            found.append((not address.is_private, name, str(address)))
    return list(dict.fromkeys(address for _, _, address in sorted(found)))


def url_for(host: str, port: int) -> str:
    """`http://host:port`, with an IPv6 address in brackets."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def join_urls(host: str, port: int, table: Mapping[str, Sequence[Any]], up: Mapping[str, bool] | None = None, *,
              share: str | None = None, given: str | None = None) -> list[str]:
    """Where learners open the app: the address given (`--join-url`), else this machine's network addresses at
    `port` when it listens on every address, or the one it listens on; then the `--share` link.

    Empty when nobody else can reach it: listening on this machine only (127.0.0.1), or no network.
    """
    urls: list[str] = []
    if given:
        urls.append(given.rstrip("/"))
    elif host in ANY_HOSTS:
        urls.extend(url_for(address, port) for address in lan_addresses(table, up))
    elif host not in LOCAL_HOSTS:
        urls.append(url_for(host, port))
    if share:
        urls.append(share.rstrip("/"))
    return list(dict.fromkeys(urls))


@functools.lru_cache(maxsize=32)
def qr_svg(url: str, title: str = "") -> str:
    """An inline `<svg>` of the QR code for `url`: black modules on white with the standard quiet zone (4
    modules), sized by its `viewBox` so CSS gives it any size. Error correction M (15%), raised where the
    size allows: a code on a projector, photographed at an angle, reads better."""
    code = segno.make(url, error="m", micro=False, boost_error=True)
    return code.svg_inline(scale=1, border=4, omitsize=True, dark="#000", light="#fff", title=title or None,
                           svgclass="workshop-qr", lineclass=None)


def new_token() -> str:
    """An admin token for the teacher to type from the console: `abcd-efgh-jkmn` (no look-alike characters)."""
    return "-".join("".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_GROUP))
                    for _ in range(TOKEN_GROUPS))


def announcement(workshop: Workshop, urls: Iterable[str], token: str | None) -> list[Said]:
    """What the console says at start: the models being loaded, where to join, and how the teacher signs in
    (the token itself only when it was made here: one the teacher chose is theirs, and consoles get projected)."""
    urls = list(urls)
    lines = [Said("workshop.console_models", {"models": ", ".join(workshop.models)})]
    if urls:
        lines.append(Said("workshop.console_join", {"url": urls[0]}))
        lines.extend(Said("workshop.console_also", {"url": url}) for url in urls[1:])
    else:
        lines.append(Said("workshop.console_no_address" if workshop.host in ANY_HOSTS
                          else "workshop.console_local_only", {"host": workshop.host}))
    if workshop.token_made and token:
        lines.append(Said("workshop.console_token_made", {"token": token}))
    else:
        lines.append(Said("workshop.console_token_given"))
    return lines


def console_language(environ: Mapping[str, str]) -> str:
    """The language of the teacher's console: its locale (LC_ALL, LC_MESSAGES, LANG: `sw_KE.UTF-8` -> `sw`)
    where we have it, else English."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        if environ.get(name):
            return choose(environ[name].split(".")[0].split("@")[0])
    return choose(None)


def announce(workshop: Workshop, token: str | None, environ: Mapping[str, str] | None = None, out=None) -> None:
    """Print the `announcement` in the console's language (the teacher reads it where they started the app)."""
    language = console_language(os.environ if environ is None else environ)
    table, up = interfaces()
    out = out or sys.stderr
    for line in announcement(workshop, workshop.urls(table, up), token):
        print(line.text(language), file=out, flush=True)

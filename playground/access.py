"""Who may manage models (load, unload, pick a precision): the operator, not every visitor.

- On a laptop (listening on localhost) with no admin token, everyone may: it is one person's app.
- With an admin token set (`--admin-token`, `PLAYGROUND_ADMIN_TOKEN`), a browser session may once
  it has signed in with that token; other sessions see the models read-only.
- Listening on a network with no token, nobody may from the page: the operator restarts with a
  token to manage models there (visitors still load a model by chatting with it, as the catalogue
  allows).
- In a workshop (`playground.workshop`) there is always a token (one is made at start if none was
  given), even on localhost: the operator is the teacher, and the refusal says so.

The token is compared in constant time; signed-in sessions are kept in memory (a page reload is
a new session, so it signs in again). The refusal is a key of `locales/en/access.toml`
(`reason`), said in the reader's language by `refusal(language)`. Nothing here knows about Gradio.
"""

from __future__ import annotations

import hmac
import threading

from playground.i18n import Said

MAX_SESSIONS = 10_000  # signed-in sessions remembered; the oldest are forgotten past this


class Access:
    def __init__(self, token: str | None, local: bool, workshop: bool = False):
        self._token = token or None
        self._local = local
        self._workshop = workshop
        self._lock = threading.Lock()
        self._admins: dict[str, None] = {}  # insertion-ordered set

    @property
    def open(self) -> bool:
        """Everyone may manage models: no token, and only this machine can reach the app."""
        return self._token is None and self._local

    @property
    def can_sign_in(self) -> bool:
        return self._token is not None

    def sign_in(self, session: str, token: str) -> bool:
        """Whether `token` is the admin token; if so, `session` may manage models from now on."""
        if self._token is None or not token or not hmac.compare_digest(token.encode(), self._token.encode()):
            return False
        with self._lock:
            self._admins[session] = None
            while len(self._admins) > MAX_SESSIONS:
                del self._admins[next(iter(self._admins))]
        return True

    def may_manage(self, session: str) -> bool:
        if self.open:
            return True
        with self._lock:
            return session in self._admins

    @property
    def reason(self) -> Said:
        """Why a visitor may not manage models, and what to do: words yet to be said."""
        if self._token is None:
            return Said("access.no_token")
        return Said("access.teacher_only" if self._workshop else "access.sign_in_first")

    def refusal(self, language: str | None = None) -> str:
        """What a visitor who tries to manage models is told, in `language` (English when None)."""
        return self.reason.text(language)

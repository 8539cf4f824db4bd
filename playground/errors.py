"""Errors that carry a message meant for the person using the app.

Every error a user can cause or meet (an unknown model, a model that does not fit, a failed
download, a prompt that is too long) is a `PlaygroundError`. It carries a `Said`: a message key
and its parameters (`playground.i18n`), so the edge that shows it says it in the reader's
language (`error.text(language)`); `str()` is the English sentence (logs, the OpenAI API). The
sentence says what happened and what to do. Anything else that escapes is a bug and is reported
as one.

    raise InvalidRequestError("request.no_message")
    raise PromptTooLongError("prompt.too_long", tokens=5000, window=4096)

Numbers travel as numbers (the template formats them); a library's own words (an exception's
text, a server's error message) travel as a parameter, shown as they are. The English words are
in `locales/en/<namespace>.toml`; a test checks that every key raised here exists there with the
fields its call passes (`tests/unit/test_error_keys.py`). The one exception is `CatalogError`:
a malformed catalogue file is read by whoever starts the app, before any reader's language is
known, so its sentences stay English.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from playground.i18n import Said, messages

log = logging.getLogger(__name__)
_KEY = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")


class PlaygroundError(Exception):
    """An error whose message can be shown to the user: a message key and its parameters.

    A `Said` may be given instead of a key (words made elsewhere). Text that is not a key is kept as it is,
    untranslated: that is for words that come from outside (a library's own message).
    """

    def __init__(self, key: str | Said, /, **params: Any):
        if isinstance(key, Said):
            self.said = key
        elif key in messages("en"):
            self.said = Said(key, params)
        else:
            if _KEY.fullmatch(key):  # a key English lacks (a typo): a bug, though the error itself still shows
                log.error("no English words for the error key %r", key)
            self.said = Said("common.verbatim", {"text": key})
        super().__init__(str(self.said))

    def text(self, language: str | None = None) -> str:
        """The message in `language` (English when None)."""
        return self.said.text(language)


class CatalogError(PlaygroundError):
    """The model catalogue file is malformed (said in English: see above)."""


class UnknownModelError(PlaygroundError, KeyError):
    """A model key that the catalogue does not have."""

    def __init__(self, key: str, valid: Iterable[str]):
        self.key = key
        self.valid = sorted(valid)
        super().__init__("error.unknown_model", key=key, valid=", ".join(self.valid))

    def __str__(self) -> str:  # KeyError would quote the whole message otherwise
        return str(self.args[0])


class DoesNotFitError(PlaygroundError):
    """No precision of the model fits in the memory that is free, even after evicting."""


class ModelLoadError(PlaygroundError):
    """The weights could not be fetched or read."""


class PromptTooLongError(PlaygroundError):
    """The newest message alone does not fit in the model's context window."""


class InvalidRequestError(PlaygroundError):
    """A request that cannot be served as given: no message, a sampling number out of range."""


class OutOfMemory(PlaygroundError):
    """The device ran out of memory while loading or generating."""

"""Errors that carry a message meant for the person using the app.

Every error a user can cause or meet (an unknown model, a model that does not fit, a failed
download, a prompt that is too long) is a `PlaygroundError`; its `str()` is a complete
sentence saying what happened and what to do, so the UI can show it as it is. Anything
else that escapes is a bug and is reported as one.
"""

from __future__ import annotations

from collections.abc import Iterable


class PlaygroundError(Exception):
    """An error whose message can be shown to the user as it is."""


class CatalogError(PlaygroundError):
    """The model catalogue file is malformed."""


class UnknownModelError(PlaygroundError, KeyError):
    """A model key that the catalogue does not have."""

    def __init__(self, key: str, valid: Iterable[str]):
        self.key = key
        self.valid = sorted(valid)
        super().__init__(f"Unknown model {key!r}. Valid models: {', '.join(self.valid)}.")

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

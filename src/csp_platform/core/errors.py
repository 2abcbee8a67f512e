"""Domain errors: user-safe messages that services raise and interfaces show as they are."""

from __future__ import annotations


class DomainError(Exception):
    """An error whose message is safe and useful to show to the user."""


class ImportRejected(DomainError):
    """A file (or set of files) that cannot be imported; nothing was written."""


class NotPermitted(DomainError):
    """The user may not do this."""


class BadQuery(DomainError):
    """A request for figures that cannot be answered as asked (unknown area, bad period)."""

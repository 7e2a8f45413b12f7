"""Credentials of a source: from the database or the environment, never printed.

A value may be stored as `env:NAME`, so that a secret lives only in the worker's
environment and the database holds where to find it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from app.connectors.errors import NotConfigured

ENV_PREFIX = "env:"


class Credentials:
    """Named secrets; repr and str show the names only."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values = {k: str(v) for k, v in (values or {}).items() if v not in (None, "")}

    def get(self, name: str) -> str | None:
        value = self._values.get(name)
        if value is not None and value.startswith(ENV_PREFIX):
            return os.environ.get(value.removeprefix(ENV_PREFIX)) or None
        return value

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            stored = self._values.get(name, "")
            where = f"environment variable {stored[len(ENV_PREFIX) :]}" if stored else "source"
            raise NotConfigured(f"credential {name!r} is missing (set it on the {where})")
        return value

    def refresh_grant(self) -> dict[str, str] | None:
        """The form of an OAuth 2.0 refresh_token grant; None when a part of it is missing."""
        refresh_token = self.get("refresh_token")
        client_id = self.get("client_id")
        client_secret = self.get("client_secret")
        if not (refresh_token and client_id and client_secret):
            return None
        return {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client_id,
            "client_secret": client_secret,
        }

    def names(self) -> list[str]:
        return sorted(self._values)

    def secrets(self) -> list[str]:
        """Every resolved value, for scrubbing them out of error text."""
        return [v for v in (self.get(n) for n in self._values) if v]

    def scrub(self, text: str) -> str:
        for secret in self.secrets():
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def __repr__(self) -> str:
        return f"Credentials(names={self.names()})"

    __str__ = __repr__

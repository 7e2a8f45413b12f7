"""What can go wrong between a connector and its platform, each with its own remedy."""

from __future__ import annotations


class ConnectorError(Exception):
    """A platform link problem; the connector reconnects with backoff unless told otherwise."""


class ReconnectNow(ConnectorError):
    """The platform asked us to move (Twitch session_reconnect, IRC RECONNECT): no backoff."""

    def __init__(self, reason: str, url: str | None = None) -> None:
        super().__init__(reason)
        self.url = url


class AuthFailed(ConnectorError):
    """The platform refused the credentials: one refresh, then the source is FAILED."""


class RateLimited(ConnectorError):
    """Too many calls (429, quota): wait until the platform says, then go on."""

    def __init__(self, reason: str, retry_after_s: float) -> None:
        super().__init__(reason)
        self.retry_after_s = max(0.0, retry_after_s)


class PlatformError(ConnectorError):
    """The platform answered with an error of its own (status and its reason)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class NotConfigured(ConnectorError):
    """The source lacks a setting or credential it needs; names it, never its value."""


class Malformed(ValueError):
    """Input from a platform we cannot use (a frame, item or delivery): dead-lettered with
    this reason. A ValueError, not a ConnectorError: the link is fine, only this input is not."""

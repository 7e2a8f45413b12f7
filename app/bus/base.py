"""The bus interface: what connectors, the pipeline and the hub need from Redis."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class IngestEntry:
    event_id: str
    entry_id: str
    payload: bytes
    # True when this entry was handed out before (a crashed or slow worker's),
    # so the pipeline must re-publish deltas even for rows that already exist.
    redelivered: bool = False


@dataclass(frozen=True, slots=True)
class LiveBatch:
    """Deltas published together; each item is JSON that already carries its seq."""

    seq_from: int
    seq_to: int
    topics: tuple[str, ...]
    items: tuple[bytes, ...]
    # A person's action (a triage click, a hide): consoles get it without waiting
    # for the next batch interval. Bulk traffic (the audience's chat) is batched.
    urgent: bool = False

    def after(self, since: int) -> LiveBatch:
        """The part of this batch a console that has seen `since` still lacks."""
        if since < self.seq_from:
            return self
        skip = since - self.seq_from + 1
        return LiveBatch(since + 1, self.seq_to, self.topics[skip:], self.items[skip:], self.urgent)


@dataclass(frozen=True, slots=True)
class CommandEntry:
    entry_id: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Input set aside: why, the bytes as they came, which source sent them, when."""

    reason: str
    payload: bytes
    source_id: str
    at: datetime


def live_item(seq: int, item: bytes) -> bytes:
    """Splices the sequence number into an item serialised as a JSON object."""
    return b'{"seq":%d,' % seq + item[1:]


class Bus(ABC):
    """Durable streams per event (ingest, live deltas, commands) plus small shared state."""

    # -- ingest: connectors -> pipeline, at-least-once through a consumer group --
    @abstractmethod
    async def add_ingest(self, event_id: str, payloads: Sequence[bytes]) -> list[str]:
        """Appends envelopes; returns once the bus holds them (the connector may then ack)."""

    @abstractmethod
    async def read_ingest(
        self, consumer: str, event_ids: Sequence[str], count: int, block_ms: int
    ) -> list[IngestEntry]:
        """New entries for this consumer; they stay pending until acked."""

    @abstractmethod
    async def ack_ingest(self, event_id: str, entry_ids: Sequence[str]) -> None: ...

    @abstractmethod
    async def claim_stale_ingest(
        self, consumer: str, event_ids: Sequence[str], min_idle_ms: int, count: int
    ) -> list[IngestEntry]:
        """Takes over entries another consumer left pending for longer than min_idle_ms."""

    @abstractmethod
    async def ingest_backlog(self, event_id: str) -> int:
        """Entries not yet acknowledged (pending plus unread)."""

    @abstractmethod
    async def add_dead_letter(
        self, event_id: str, payload: bytes, reason: str, source_id: str = ""
    ) -> None:
        """Keeps input that could not be used, with the reason, for ops to inspect."""

    @abstractmethod
    async def dead_letters(self, event_id: str, count: int = 100) -> list[DeadLetter]:
        """The newest dead letters first."""

    @abstractmethod
    async def dead_letter_counts(self, event_id: str) -> dict[str, int]:
        """Dead letters set aside so far, by source id ("" for input of no known source)."""

    @abstractmethod
    async def publish_live(
        self, event_id: str, items: Sequence[tuple[str, bytes]], *, urgent: bool = False
    ) -> LiveBatch:
        """Assigns consecutive sequence numbers atomically and appends one batch.

        Each item is (topic, JSON object bytes without "seq"); the bus splices the seq in.
        `urgent` marks what a person just did (see LiveBatch.urgent).
        """

    @abstractmethod
    async def live_seq(self, event_id: str) -> int:
        """The last sequence number handed out for this event (0 when none)."""

    @abstractmethod
    async def read_live(
        self, event_id: str, after_seq: int, block_ms: int, count: int = 100
    ) -> list[LiveBatch]:
        """Batches whose seq_to is beyond after_seq, waiting up to block_ms for one."""

    @abstractmethod
    async def live_since(self, event_id: str, since: int) -> list[LiveBatch] | None:
        """Every delta after `since`, or None when some of them are past retention."""

    # -- commands: console actions -> the connector of one source --
    @abstractmethod
    async def add_command(self, event_id: str, source_id: str, payload: bytes) -> str: ...

    @abstractmethod
    async def read_commands(
        self, event_id: str, source_id: str, consumer: str, count: int, block_ms: int
    ) -> list[CommandEntry]: ...

    @abstractmethod
    async def ack_command(
        self, event_id: str, source_id: str, entry_ids: Sequence[str]
    ) -> None: ...

    # -- inbox: webhook deliveries -> the connector of one source (verified, raw) --
    @abstractmethod
    async def add_inbox(self, event_id: str, source_id: str, payload: bytes) -> str: ...

    @abstractmethod
    async def read_inbox(
        self, event_id: str, source_id: str, count: int, block_ms: int
    ) -> list[CommandEntry]:
        """Unacknowledged deliveries first (a crashed predecessor's), then new ones."""

    @abstractmethod
    async def ack_inbox(self, event_id: str, source_id: str, entry_ids: Sequence[str]) -> None: ...

    # -- connector state shared across workers --
    @abstractmethod
    async def first_sighting(self, name: str, ttl_s: int, holder: str | None = None) -> bool:
        """True the first time `name` is seen within ttl_s, or when `holder` marked it.

        The holder lets an input that was marked but not finished (its reader crashed)
        through again when it is redelivered, while a second copy of it stays out.
        """

    @abstractmethod
    async def save_cursor(self, name: str, value: str) -> None:
        """Where a polling connector got to, so whoever runs it next resumes there."""

    @abstractmethod
    async def load_cursor(self, name: str) -> str | None: ...

    @abstractmethod
    async def put_health(self, event_id: str, source_id: str, health: bytes) -> None: ...

    @abstractmethod
    async def read_health(self, event_id: str) -> dict[str, bytes]:
        """Each source's last reported health (JSON), by source id."""

    # -- events the pipeline should read --
    @abstractmethod
    async def mark_event_active(self, event_id: str) -> None: ...

    @abstractmethod
    async def active_events(self) -> list[str]: ...

    # -- gauges shared by every worker --
    @abstractmethod
    async def record_activity(
        self,
        event_id: str,
        minute: int,
        messages: int,
        author_ids: Iterable[str],
        texts: Iterable[str] = (),
        *,
        interactions: int = 0,
    ) -> None:
        """Adds to the per-minute message count, unique-chatter set and distinct-text set,
        and to the interaction count.

        `texts` are keys of the lines' normalised texts (equal for lines that read the
        same); the detectors derive the chat's duplicate ratio from them. `interactions`
        counts what the report counts as chat and questions (app/reports): lines not
        hidden, and questions once each, so the live engagement rate is the report's.
        """

    @abstractmethod
    async def read_activity(self, event_id: str, minute: int) -> tuple[int, int]:
        """(messages, unique chatters) in that minute."""

    @abstractmethod
    async def read_interactions(self, event_id: str, minute: int) -> int:
        """Chat and question interactions recorded in that minute."""

    @abstractmethod
    async def read_distinct_texts(self, event_id: str, minute: int) -> int:
        """Distinct text keys recorded in that minute."""

    @abstractmethod
    async def set_viewers(self, event_id: str, platform: str, count: int) -> None: ...

    @abstractmethod
    async def read_viewers(self, event_id: str) -> dict[str, int]: ...

    # -- work marked to redo, done by whichever worker holds its lease --
    @abstractmethod
    async def mark_dirty(self, name: str, member: str) -> None:
        """Marks `member` of the set `name` as changed (again)."""

    @abstractmethod
    async def dirty_marks(self, name: str) -> dict[str, int]:
        """Each marked member with its mark count, to pass back to clear_dirty."""

    @abstractmethod
    async def clear_dirty(self, name: str, marks: dict[str, int]) -> None:
        """Unmarks the members whose count is still the one read: a member marked again
        meanwhile stays marked, so the change after the read is not lost."""

    # -- leases: one runner per connector / per event ticker across all workers --
    @abstractmethod
    async def acquire_lease(self, name: str, owner: str, ttl_ms: int) -> bool:
        """Takes or renews the lease; False while another owner holds it."""

    @abstractmethod
    async def release_lease(self, name: str, owner: str) -> None: ...

    @abstractmethod
    async def ping(self) -> bool: ...

    @abstractmethod
    async def close(self) -> None: ...

"""Native platform polls: what a launch asks of a connector, and what it reports back.

Where a platform has polls of its own (Twitch, YouTube), a launch runs the poll there
and the platform counts its viewers' votes; elsewhere viewers vote in chat (`!vote 2`).
The contract between app/polls and a connector with Capability.native_polls:

- Action "poll_start", params: poll_id (ours), title, options (labels, in order),
  duration_s (int or None: open until closed), chat_text (the chat-voting
  instructions). When the platform refuses the poll (no such feature on the channel,
  missing scope, options it cannot take), the connector posts chat_text instead, if it
  can send messages, and reports done with the platform's reason: chat voting then
  counts that platform's votes.
- Action "poll_end", params: poll_id. Ends the platform's poll (done, and nothing to do
  when none was started for it).
- The platform's counts come back as Kind.poll_tally envelopes (tally_envelope): the
  counts per option in our order, cumulative, `final` once the platform closed it. The
  latest tally per poll and source is what the results show for that platform.

Which of our polls a platform poll is lives on the bus (save_cursor under
mapping_key), so a connector that takes over after a crash still maps the tallies.
"""

from __future__ import annotations

from datetime import datetime

from app.envelope import Envelope, Kind, make_envelope

POLL_START = "poll_start"
POLL_END = "poll_end"


def mapping_key(source_id: str) -> str:
    """The bus cursor holding this source's {platform poll id: our poll id} as JSON."""
    return f"native-polls:{source_id}"


def tally_envelope(
    *,
    event_id: str,
    source_id: str,
    platform: str,
    poll_id: str,
    platform_poll_id: str,
    counts: list[int],
    final: bool,
    at: datetime,
    seq: str,
) -> Envelope:
    """One report of a native poll's counts; `seq` makes each report its own message
    (a redelivered report is the same message and is dropped as a duplicate)."""
    return make_envelope(
        event_id=event_id,
        source_id=source_id,
        platform=platform,
        kind=Kind.poll_tally,
        platform_message_id=f"poll:{platform_poll_id}:{seq}"[:128],
        platform_at=at,
        data={
            "poll": poll_id,
            "platform_poll": platform_poll_id,
            "counts": [int(c) for c in counts],
            "final": final,
        },
    )

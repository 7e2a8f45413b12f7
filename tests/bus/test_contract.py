"""The bus contract: MemoryBus and RedisBus must behave the same."""

from __future__ import annotations

import asyncio

import orjson

from tests.conftest import Stack


def item(n: int, topic: str = "chat") -> tuple[str, bytes]:
    return topic, orjson.dumps({"topic": topic, "type": "t", "data": {"n": n}})


async def test_ingest_read_ack_and_backlog(stack: Stack) -> None:
    bus = stack.bus
    await bus.mark_event_active("e1")
    assert await bus.active_events() == ["e1"]
    ids = await bus.add_ingest("e1", [b"a", b"b", b"c"])
    assert len(ids) == 3
    got = await bus.read_ingest("w1", ["e1"], count=2, block_ms=100)
    assert [e.payload for e in got] == [b"a", b"b"]
    assert not any(e.redelivered for e in got)
    rest = await bus.read_ingest("w2", ["e1"], count=10, block_ms=100)
    assert [e.payload for e in rest] == [b"c"]
    assert await bus.ingest_backlog("e1") == 3
    await bus.ack_ingest("e1", [e.entry_id for e in got])
    assert await bus.ingest_backlog("e1") == 1
    assert await bus.read_ingest("w1", ["e1"], count=10, block_ms=50) == []


async def test_unacked_entries_are_reclaimed_by_another_consumer(stack: Stack) -> None:
    bus = stack.bus
    await bus.add_ingest("e1", [b"x", b"y"])
    taken = await bus.read_ingest("dead-worker", ["e1"], count=10, block_ms=100)
    assert len(taken) == 2
    assert await bus.claim_stale_ingest("w2", ["e1"], min_idle_ms=10_000, count=10) == []
    await asyncio.sleep(0.05)
    claimed = await bus.claim_stale_ingest("w2", ["e1"], min_idle_ms=20, count=10)
    assert [e.payload for e in claimed] == [b"x", b"y"]
    assert all(e.redelivered for e in claimed)
    await bus.ack_ingest("e1", [e.entry_id for e in claimed])
    assert await bus.ingest_backlog("e1") == 0


async def test_blocking_read_wakes_on_new_entry(stack: Stack) -> None:
    bus = stack.bus
    await bus.read_ingest("w", ["e1"], count=1, block_ms=10)  # creates the group

    async def later() -> None:
        await asyncio.sleep(0.05)
        await bus.add_ingest("e1", [b"late"])

    task = asyncio.create_task(later())
    got = await bus.read_ingest("w", ["e1"], count=1, block_ms=2000)
    await task
    assert [e.payload for e in got] == [b"late"]


async def test_publish_assigns_consecutive_seqs_and_splices_them(stack: Stack) -> None:
    bus = stack.bus
    first = await bus.publish_live("e1", [item(1), item(2, "gauges")])
    second = await bus.publish_live("e1", [item(3)])
    assert (first.seq_from, first.seq_to, second.seq_from, second.seq_to) == (1, 2, 3, 3)
    assert first.topics == ("chat", "gauges")
    assert orjson.loads(first.items[1]) == {
        "seq": 2,
        "topic": "gauges",
        "type": "t",
        "data": {"n": 2},
    }
    assert await bus.live_seq("e1") == 3
    read = await bus.read_live("e1", 0, block_ms=10)
    assert [(b.seq_from, b.seq_to) for b in read] == [(1, 2), (3, 3)]
    assert read[0].items == first.items
    assert await bus.read_live("e1", 3, block_ms=10) == []


async def test_a_persons_action_stays_marked_urgent_for_every_reader(stack: Stack) -> None:
    bus = stack.bus
    await bus.publish_live("e1", [item(1)])
    await bus.publish_live("e1", [item(2)], urgent=True)
    read = await bus.read_live("e1", 0, block_ms=10)
    assert [b.urgent for b in read] == [False, True]
    replay = await bus.live_since("e1", 0)
    assert replay is not None and [b.urgent for b in replay] == [False, True]


async def test_concurrent_publishers_never_share_or_skip_a_seq(stack: Stack) -> None:
    bus = stack.bus
    await asyncio.gather(*(bus.publish_live("e1", [item(i), item(i)]) for i in range(50)))
    batches = await bus.read_live("e1", 0, block_ms=10, count=1000)
    seqs = [orjson.loads(i)["seq"] for b in batches for i in b.items]
    assert seqs == list(range(1, 101))


async def test_live_since_returns_exactly_the_missed_deltas(stack: Stack) -> None:
    bus = stack.bus
    for i in range(10):
        await bus.publish_live("e1", [item(2 * i), item(2 * i + 1)])
    missed = await bus.live_since("e1", 5)
    assert missed is not None
    seqs = [orjson.loads(i)["seq"] for b in missed for i in b.items]
    assert seqs == list(range(6, 21))
    assert missed[0].seq_from == 6
    assert await bus.live_since("e1", 20) == []
    assert await bus.live_since("e1", 21) is None  # a future the bus never had


async def test_live_since_past_retention_is_none(stack: Stack) -> None:
    bus = stack.bus
    retention = stack.settings.live_retention
    chunk = [item(0)] * 500
    for _ in range(retention // 500 + 4):
        await bus.publish_live("e1", chunk)
    assert await bus.live_since("e1", 0) is None
    recent = await bus.live_since("e1", await bus.live_seq("e1") - 10)
    assert recent is not None
    assert sum(len(b.items) for b in recent) == 10


async def test_commands_are_redelivered_to_their_consumer_until_acked(stack: Stack) -> None:
    bus = stack.bus
    await bus.add_command("e1", "s1", b"delete 1")
    got = await bus.read_commands("e1", "s1", "s1", count=10, block_ms=100)
    assert [c.payload for c in got] == [b"delete 1"]
    again = await bus.read_commands("e1", "s1", "s1", count=10, block_ms=100)
    assert [c.payload for c in again] == [b"delete 1"]  # not acked: still ours
    await bus.ack_command("e1", "s1", [c.entry_id for c in again])
    assert await bus.read_commands("e1", "s1", "s1", count=10, block_ms=50) == []


async def test_activity_counts_and_unique_chatters(stack: Stack) -> None:
    bus = stack.bus
    await bus.record_activity("e1", 100, 3, ["a", "b", "a"], interactions=2)
    await bus.record_activity("e1", 100, 2, ["c", "b"], interactions=2)
    await bus.record_activity("e1", 100, 0, [], interactions=1)  # a question from Q&A
    assert await bus.read_activity("e1", 100) == (5, 3)
    assert await bus.read_activity("e1", 101) == (0, 0)
    assert await bus.read_interactions("e1", 100) == 5
    assert await bus.read_interactions("e1", 101) == 0
    assert await bus.read_interactions("e2", 100) == 0
    await bus.set_viewers("e1", "twitch", 10)
    await bus.set_viewers("e1", "twitch", 12)
    await bus.set_viewers("e1", "youtube", 5)
    assert await bus.read_viewers("e1") == {"twitch": 12, "youtube": 5}


async def test_distinct_texts_per_minute_beside_the_activity(stack: Stack) -> None:
    bus = stack.bus
    await bus.record_activity("e1", 100, 4, ["a", "b", "c", "d"], ["spam", "spam", "hi", "spam"])
    await bus.record_activity("e1", 100, 2, ["e", "f"], ["hi", "bye"])
    await bus.record_activity("e1", 100, 1, ["g"])  # a caller that passes no texts
    await bus.record_activity("e1", 101, 1, ["a"], ["spam"])
    assert await bus.read_distinct_texts("e1", 100) == 3
    assert await bus.read_distinct_texts("e1", 101) == 1
    assert await bus.read_distinct_texts("e1", 102) == 0
    assert await bus.read_distinct_texts("e2", 100) == 0
    # The activity keeps its meaning.
    assert await bus.read_activity("e1", 100) == (7, 7)


async def test_a_member_marked_again_after_the_read_stays_dirty(stack: Stack) -> None:
    bus = stack.bus
    assert await bus.dirty_marks("polls") == {}
    await bus.mark_dirty("polls", "e1|p1")
    await bus.mark_dirty("polls", "e1|p2")
    await bus.mark_dirty("polls", "e1|p1")
    read = await bus.dirty_marks("polls")
    assert read == {"e1|p1": 2, "e1|p2": 1}
    await bus.mark_dirty("polls", "e1|p2")  # a change after the read
    await bus.clear_dirty("polls", read)
    assert await bus.dirty_marks("polls") == {"e1|p2": 2}
    await bus.clear_dirty("polls", {})
    assert await bus.dirty_marks("other") == {}


async def test_lease_is_exclusive_until_released_or_expired(stack: Stack) -> None:
    bus = stack.bus
    assert await bus.acquire_lease("c1", "w1", 200)
    assert not await bus.acquire_lease("c1", "w2", 200)
    assert await bus.acquire_lease("c1", "w1", 200)  # renewal
    await bus.release_lease("c1", "w1")
    assert await bus.acquire_lease("c1", "w2", 60)
    await asyncio.sleep(0.12)
    assert await bus.acquire_lease("c1", "w1", 200)  # w2's lease expired


async def test_dead_letters_keep_reason_and_payload(stack: Stack) -> None:
    bus = stack.bus
    await bus.add_dead_letter("e1", b"{bad", "not JSON")
    await bus.add_dead_letter("e1", b"{}", "missing kind", source_id="s1")
    dead = await bus.dead_letters("e1")
    assert [(d.reason, d.payload, d.source_id) for d in dead] == [
        ("missing kind", b"{}", "s1"),
        ("not JSON", b"{bad", ""),
    ]
    assert all(d.at.tzinfo is not None for d in dead)
    await bus.add_dead_letter("e1", b"[]", "not an object", source_id="s1")
    assert await bus.dead_letter_counts("e1") == {"": 1, "s1": 2}
    assert await bus.dead_letter_counts("e2") == {}


async def test_inbox_hands_a_crashed_readers_entries_to_the_next(stack: Stack) -> None:
    bus = stack.bus
    first = await bus.add_inbox("e1", "s1", b"one")
    await bus.add_inbox("e1", "s1", b"two")
    await bus.add_inbox("e1", "s2", b"other source")
    taken = await bus.read_inbox("e1", "s1", count=10, block_ms=10)
    assert [e.payload for e in taken] == [b"one", b"two"]
    await bus.ack_inbox("e1", "s1", [first])
    # Whoever reads next (the lease's next holder) gets the unacknowledged one again.
    again = await bus.read_inbox("e1", "s1", count=10, block_ms=10)
    assert [e.payload for e in again] == [b"two"]
    await bus.ack_inbox("e1", "s1", [again[0].entry_id])
    assert await bus.read_inbox("e1", "s1", count=10, block_ms=10) == []
    assert [e.payload for e in await bus.read_inbox("e1", "s2", count=10, block_ms=10)] == [
        b"other source"
    ]


async def test_first_sighting_cursor_and_health(stack: Stack) -> None:
    bus = stack.bus
    assert await bus.first_sighting("zoom:s1:abc", ttl_s=60)
    assert not await bus.first_sighting("zoom:s1:abc", ttl_s=60)
    assert await bus.first_sighting("zoom:s1:abd", ttl_s=60)
    assert await bus.first_sighting("zoom:s1:x", ttl_s=60, holder="entry-1")
    assert await bus.first_sighting("zoom:s1:x", ttl_s=60, holder="entry-1")  # its redelivery
    assert not await bus.first_sighting("zoom:s1:x", ttl_s=60, holder="entry-2")  # a copy
    assert await bus.load_cursor("youtube:s1") is None
    await bus.save_cursor("youtube:s1", "GLXm1")
    await bus.save_cursor("youtube:s1", "GLXm2")
    assert await bus.load_cursor("youtube:s1") == "GLXm2"
    await bus.put_health("e1", "s1", b'{"state":"connected"}')
    await bus.put_health("e1", "s2", b'{"state":"failed"}')
    await bus.put_health("e1", "s1", b'{"state":"reconnecting"}')
    assert await bus.read_health("e1") == {
        "s1": b'{"state":"reconnecting"}',
        "s2": b'{"state":"failed"}',
    }
    assert await bus.read_health("e2") == {}

"""The naive peer: fan-out as most tutorials write it, for comparison.

A small FastAPI app: per event, one task reads the same Redis live stream the hub reads
(XREAD on cr:{event}:live, fields f,t,p,d with d the newline-joined item JSON), and for
every item sends one frame to every connected socket, awaiting each send in turn. No
batching, no per-console queue, no topic filter, no auth: only the fan-out under test.

Run: python -m uvicorn bench.naive_peer:app --port N (CONTROLROOM_REDIS_URL names Redis).
GET /stats tells how far each event's reader has got (for the lag in the report).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from app.bus.redis import key as redis_key
from app.config import Settings

REDIS_URL = os.environ.get("CONTROLROOM_REDIS_URL", "redis://127.0.0.1:6379/0")

sockets: dict[str, set[WebSocket]] = {}
readers: dict[str, asyncio.Task[None]] = {}
read_seq: dict[str, int] = {}
sent_frames: dict[str, int] = {}
redis: aioredis.Redis | None = None


async def reader(event_id: str) -> None:
    assert redis is not None
    key = redis_key(Settings().redis_namespace, event_id, "live")
    last_id = "$"
    while True:
        resp = await redis.xread({key: last_id}, count=100, block=5000)
        for _key, entries in resp or []:
            for entry_id, fields in entries:
                last_id = entry_id
                read_seq[event_id] = int(fields[b"t"])
                for item in fields[b"d"].decode().split("\n"):
                    for ws in list(sockets.get(event_id, ())):
                        try:
                            await ws.send_text(item)
                            sent_frames[event_id] = sent_frames.get(event_id, 0) + 1
                        except Exception:
                            sockets[event_id].discard(ws)


@contextlib.asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    global redis
    redis = aioredis.from_url(REDIS_URL, decode_responses=False)
    yield
    for task in readers.values():
        task.cancel()
    await asyncio.gather(*readers.values(), return_exceptions=True)
    await redis.aclose()


app = FastAPI(lifespan=lifespan)


@app.get("/stats")
async def stats() -> dict[str, Any]:
    return {
        "read_seq": read_seq,
        "sent_frames": sent_frames,
        "sockets": {e: len(s) for e, s in sockets.items()},
    }


@app.websocket("/ws/{event_id}")
async def console(ws: WebSocket, event_id: str) -> None:
    await ws.accept()
    sockets.setdefault(event_id, set()).add(ws)
    if event_id not in readers:
        readers[event_id] = asyncio.create_task(reader(event_id))
    try:
        while True:
            await ws.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        sockets[event_id].discard(ws)

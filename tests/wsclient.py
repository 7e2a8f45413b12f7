"""Test helpers: log in over HTTP, open console sockets, read frames."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from typing import Any

import httpx
import orjson
import websockets


async def login_cookie(base_url: str, username: str, password: str) -> str:
    async with httpx.AsyncClient(base_url=base_url) as client:
        resp = await client.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        resp.raise_for_status()
        return f"cr_session={resp.cookies['cr_session']}"


async def open_console(
    ws_url: str,
    event_id: str,
    cookie: str | None,
    *,
    topics: list[str] | None = None,
    since: int | None = None,
    origin: str | None = "same",
) -> Any:
    headers = {}
    if cookie:
        headers["Cookie"] = cookie
    if origin == "same":
        origin = ws_url.replace("ws://", "http://")
    ws = await websockets.connect(
        f"{ws_url}/ws/events/{event_id}",
        additional_headers=headers,
        origin=origin,  # type: ignore[arg-type]
        max_size=None,
        compression=None,
    )
    subscribe = {
        "type": "subscribe",
        "topics": topics or ["chat", "questions", "gauges"],
        "since": since,
    }
    await ws.send(orjson.dumps(subscribe).decode())
    return ws


async def recv_json(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    return orjson.loads(await asyncio.wait_for(ws.recv(), timeout))  # type: ignore[no-any-return]


async def recv_until(ws: Any, frame_type: str, timeout: float = 5.0) -> dict[str, Any]:
    while True:
        frame = await recv_json(ws, timeout)
        if frame["type"] == frame_type:
            return frame


class StalledConsole:
    """A console that completes the handshake, subscribes, and then never reads."""

    def __init__(self) -> None:
        self.writer: asyncio.StreamWriter | None = None

    async def open(self, ws_url: str, event_id: str, cookie: str) -> None:
        host, port = ws_url.removeprefix("ws://").split(":")
        # A small receive window, set before connecting so the handshake advertises it.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /ws/events/{event_id} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Origin: http://{host}:{port}\r\nCookie: {cookie}\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        assert b" 101 " in head.split(b"\r\n")[0], head
        writer.write(
            _masked_text(
                orjson.dumps({"type": "subscribe", "topics": ["chat", "gauges"], "since": None})
            )
        )
        await writer.drain()
        self.writer = writer  # and never read again

    def close(self) -> None:
        if self.writer:
            self.writer.transport.abort()


def _masked_text(payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    header = bytes([0x81]) + (
        bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n)
    )
    return header + mask + masked

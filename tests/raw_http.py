"""HTTP/1.1 requests written on a socket byte by byte: the bodies, framings and headers a client
library would not send, in as many writes as a test wants."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


def request_head(
    headers: Iterable[tuple[str, str]], *, method: str = "POST", path: str = "/dingtalk/callback"
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def chunked(body: bytes, size: int) -> bytes:
    """`body` in chunked transfer encoding, `size` bytes a chunk."""
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


async def settle() -> None:
    """Let a server on this same loop read what the socket holds before the next write."""
    for _ in range(20):
        await asyncio.sleep(0)


async def exchange(port: int, head: bytes, parts: list[bytes], *, complete: bool = True) -> int:
    """Write the head, then each part after the one before is read (by a server on this loop);
    the status of the answer, 0 when there is none (`complete` False: the client leaves first)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        for part in parts:
            await writer.drain()
            await settle()
            writer.write(part)
        await writer.drain()
        if not complete:
            return 0
        while True:
            status_line = await reader.readline()
            status = int(status_line.split()[1]) if status_line else 0
            if not 100 <= status < 200:  # an interim answer (100 Continue) comes first
                return status
            while (await reader.readline()).strip():  # its headers, up to the blank line
                pass
    finally:
        writer.close()

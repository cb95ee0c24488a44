"""Copy bytes both ways between two streams, counting them, until both ends close or the pair is idle."""

import asyncio
import contextlib
from dataclasses import dataclass

CHUNK_BYTES = 64 * 1024
AFTER_CLIENT_EOF_SECONDS = 1.0
"""Once the client has closed its side, how long the server may stay silent before the relay ends."""


@dataclass
class Counts:
    """Bytes sent to the server (`sent`) and received from it (`received`)."""

    sent: int = 0
    received: int = 0


Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def relay(client: Stream, server: Stream, counts: Counts, *, idle_seconds: float) -> None:
    """Copy client → server and server → client until both directions end, or nothing moved for `idle_seconds`."""
    loop = asyncio.get_running_loop()
    last = [loop.time()]
    client_done = asyncio.Event()

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, upward: bool) -> None:
        try:
            while data := await reader.read(CHUNK_BYTES):
                last[0] = loop.time()
                if upward:
                    counts.sent += len(data)
                else:
                    counts.received += len(data)
                writer.write(data)
                await writer.drain()
            with contextlib.suppress(OSError):
                if writer.can_write_eof():
                    writer.write_eof()
        except OSError:
            pass
        finally:
            if upward:
                client_done.set()

    tasks = {
        asyncio.ensure_future(pump(client[0], server[1], True)),
        asyncio.ensure_future(pump(server[0], client[1], False)),
    }
    try:
        pending = set(tasks)
        while pending:
            limit = AFTER_CLIENT_EOF_SECONDS if client_done.is_set() else idle_seconds
            _, pending = await asyncio.wait(pending, timeout=limit / 4)
            if pending and loop.time() - last[0] >= limit:
                return
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

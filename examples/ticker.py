"""A producer and a consumer in one nursery: ``python -m trioweb serve examples.ticker:app``.

A websocket to ``/ticks?every=0.5`` receives ``{"count": 1}``, ``{"count": 2}``
and so on, one every half second. One task produces the counts, another sends
them to the client, and a memory channel that holds one count connects them:
when the client reads slowly, the producer waits instead of piling up counts.

When the client leaves, trioweb cancels the view, and with it both tasks: the
nursery does not let either outlive the websocket.
"""

import trio

from trioweb import App, abort, websocket

app = App(__name__)

#: The slowest and the fastest interval a client may ask for, in seconds.
SLOWEST, FASTEST = 60.0, 0.01


async def produce(counts: trio.MemorySendChannel[int], every: float) -> None:
    async with counts:
        count = 0
        while True:
            await trio.sleep(every)
            count += 1
            await counts.send(count)  # waits while the consumer is behind


async def consume(counts: trio.MemoryReceiveChannel[int]) -> None:
    async with counts:
        async for count in counts:
            await websocket.send_json({"count": count})


@app.websocket("/ticks")
async def ticks() -> None:
    every = websocket.args.get("every", 1.0, type=float)
    if not FASTEST <= every <= SLOWEST:
        abort(400)  # not accepted yet: the handshake gets HTTP 400
    await websocket.accept()  # now, rather than at the first send, a tick later
    send_channel, receive_channel = trio.open_memory_channel[int](1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(produce, send_channel, every)
        nursery.start_soon(consume, receive_channel)

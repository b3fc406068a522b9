from examples.hello import app


async def test_hello_example() -> None:
    client = app.test_client()
    assert await (await client.get("/")).get_data(as_text=True) == "Hello from trioweb!\n"
    assert await (await client.get("/greet/ann")).get_json() == {"hello": "ann", "from": "127.0.0.1"}
    async with client.websocket("/ws") as ws:
        await ws.send("ping")
        assert await ws.receive(timeout=5) == "ping"


async def test_bench_app() -> None:
    from bench.app import app as bench_app

    client = bench_app.test_client()
    assert await (await client.get("/")).get_data() == b"hello"
    async with client.websocket("/ws") as ws:
        for message in (b"\x00" * 1024, "text"):
            await ws.send(message)
            assert await ws.receive(timeout=5) == message

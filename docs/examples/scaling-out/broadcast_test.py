from broadcast_chat import app


async def test_everyone_in_the_room_hears_a_message() -> None:
    async with app.test_app() as test_app:
        client = test_app.test_client()
        async with (
            client.websocket("/rooms/a") as alice,
            client.websocket("/rooms/a") as bob,
        ):
            await alice.send("hi")
            assert await bob.receive(timeout=5) == "hi"
            assert await alice.receive(timeout=5) == "hi"

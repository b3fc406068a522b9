import trio

from trioweb.broadcast import Broadcast, Message


async def main() -> None:
    async with (
        Broadcast("memory://") as broadcast,
        broadcast.subscribe("news") as subscriber,
    ):
        await broadcast.publish_json("news", {"title": "hello"})
        async for item in subscriber:
            if isinstance(item, Message):
                print(item.channel, item.json()["title"])
                break


if __name__ == "__main__":
    trio.run(main)

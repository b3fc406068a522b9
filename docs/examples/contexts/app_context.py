import trio

from trioweb import App, current_app, g

app = App(__name__)
app.config["GREETING"] = "hello"


async def greet(name: str) -> str:
    # Code shared by views and scripts reads current_app and g, whoever runs it.
    g.calls = g.get("calls", 0) + 1
    return f"{current_app.config['GREETING']}, {name} (call {g.calls})"


async def main() -> None:
    async with app.app_context():
        print(await greet("ann"))
        print(await greet("bob"))


if __name__ == "__main__":
    trio.run(main)

import os

from trioweb import App

app = App(__name__)
hits = 0  # one count per worker process: each has its own copy


@app.before_serving
async def start_worker() -> None:
    # Runs in every worker: open each worker's own pools and clients here.
    print(f"worker {os.getpid()} is starting", flush=True)


@app.get("/")
async def index() -> dict[str, int]:
    global hits
    hits += 1
    return {"worker": os.getpid(), "hits": hits}


if __name__ == "__main__":
    # The workers import this file again; the guard keeps them from running this.
    app.run(port=int(os.environ.get("PORT", "8000")), workers=2)

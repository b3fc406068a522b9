"""A websocket echo server: ``python -m trioweb serve examples.echo:app``.

Open http://127.0.0.1:8000/ to try it from a browser. Every message comes
back as it was sent: text as text, bytes as bytes.
"""

from trioweb import App, websocket

app = App(__name__)

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>echo</title>
<form id="form"><input id="text" autocomplete="off" autofocus> <button>Send</button></form>
<ul id="log"></ul>
<script>
  const socket = new WebSocket(new URL("/ws", location.href.replace(/^http/, "ws")));
  const log = (line) => {
    const item = document.createElement("li");
    item.textContent = line;
    document.getElementById("log").append(item);
  };
  socket.onmessage = (event) => log("echo: " + event.data);
  socket.onclose = (event) => log("closed with code " + event.code);
  document.getElementById("form").onsubmit = (event) => {
    event.preventDefault();
    socket.send(document.getElementById("text").value);
  };
</script>
"""


@app.route("/")
async def page() -> str:
    return PAGE


@app.websocket("/ws")
async def echo() -> None:
    while True:
        message = await websocket.receive()
        await websocket.send(message)

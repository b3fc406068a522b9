"use strict";
// The live part of the board: new posts arrive over the websocket, which knows
// who we are from the session cookie the browser sends with the handshake.
const $ = (id) => document.getElementById(id);
const url = new URL("/ws", location.href);
url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
url.searchParams.set("seen", $("posts").dataset.seen); // the posts made since the page was rendered come first
const socket = new WebSocket(url);

socket.onmessage = (message) => {
  const event = JSON.parse(message.data);
  if (event.type === "hello") {
    $("status").textContent = "Live as " + event.user + ".";
  } else if (event.type === "post") {
    const item = document.createElement("li");
    item.textContent = event.user + ": " + event.text; // never innerHTML: posts are untrusted
    $("posts").append(item);
  }
};
socket.onclose = (event) => {
  $("status").textContent = "Disconnected (" + event.code + (event.reason ? ": " + event.reason : "") + ").";
};
$("say").onsubmit = (event) => {
  event.preventDefault();
  socket.send($("text").value);
  $("text").value = "";
};

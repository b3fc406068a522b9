#!/usr/bin/env node
// Fan-out load client (Node + `ws`, one thread): S websocket subscribers, one HTTP publisher.
//
//   NODE_PATH=~/.cache/trioweb-bench/node/node_modules node client.js --port P --subs 1000 \
//       --phases rate:20:10,max:8:10 [--size 64] [--slow 1 --slow-factor 10]
//
// 1. Opens --subs websockets to ws://127.0.0.1:P/ws (plus --slow slow ones). The server's first
//    message on each is "hello <pid>": the subscription is in place, and <pid> says which worker
//    process holds it.  Prints "OPEN <json>" (per-pid counts), then waits for a line on stdin
//    (the driver reads the server's memory meanwhile).
// 2. Warm-up: POSTs "w" messages until every subscriber has received one ("READY <json>").
// 3. Each phase, for D seconds, POSTs to http://127.0.0.1:P/publish bodies "<phase>:<seq> <t_ms> <pad>"
//    (t_ms = send time, performance.now(): publisher and subscribers share this process's clock):
//      rate:R:D  R messages/s on a fixed schedule (latency at a sustainable rate);
//      max:W:D   closed loop, at most W messages in flight, a message being done when every
//                (normal) subscriber has it, or 2 s after it was sent (then counted lost).
//    Then waits for stragglers (until all arrived, or 3 s of nothing new).  Prints "#start <name>"
//    and "#end <name>" around the publishing window (the driver samples CPU in between) and
//    "PHASE <json>": delivered messages/s, latency p50/p99, loss per subscriber, client CPU %.
// The slow subscribers read one message every (slow-factor / R) seconds in rate phases (see slowTick); the server's "gap <lost> <reason>" notices are counted.  Last line: "DONE".
'use strict';
const WebSocket = require('ws');
const http = require('http');
const readline = require('readline');
const { performance } = require('perf_hooks');

const opt = {
  host: '127.0.0.1', port: 8000, subs: 1000, phases: 'rate:20:10,max:8:10', size: 64,
  slow: 0, slowFactor: 10, openConcurrency: 50, lossTimeout: 2, drain: 3,
};
for (let i = 2; i < process.argv.length; i++) {
  const m = process.argv[i].match(/^--([a-zA-Z-]+)(?:=(.*))?$/);
  if (!m) { console.error('bad arg ' + process.argv[i]); process.exit(2); }
  const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  if (!(key in opt)) { console.error('unknown option --' + m[1]); process.exit(2); }
  const val = m[2] !== undefined ? m[2] : process.argv[++i];
  opt[key] = typeof opt[key] === 'number' ? Number(val) : val;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (line) => process.stdout.write(line + '\n');
const WS_OPTS = { perMessageDeflate: false, handshakeTimeout: 20000, maxPayload: 64 * 1024 * 1024 };

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

// A growable Float64Array: a million latencies a phase without a million boxed numbers.
class Samples {
  constructor() { this.a = new Float64Array(1 << 16); this.n = 0; }
  push(v) {
    if (this.n === this.a.length) { const b = new Float64Array(this.a.length * 2); b.set(this.a); this.a = b; }
    this.a[this.n++] = v;
  }
  sorted() { return this.a.slice(0, this.n).sort(); }
}

// ---- subscribers
const subs = [];  // {ws, slow, pid, got (this phase), gaps, gapLost, warm}
let phase = null;  // {id, latency: Samples, count: Int32Array by seq, firstSend, lastRecv, ...}

function onMessage(sub, data) {
  const now = performance.now();
  if (sub.pid === null) {  // "hello <pid>"
    sub.pid = data.toString('latin1', 6);
    return;
  }
  if (data[0] === 0x77) { sub.warm = true; return; }  // "w": warm-up
  if (data[0] === 0x67 && data[1] === 0x61) {  // "gap <lost> <reason>"
    const parts = data.toString('utf8').split(' ');
    sub.gaps++;
    if (parts[1] !== '?') sub.gapLost += Number(parts[1]);
    if (phase) phase.gaps++;
    return;
  }
  const colon = data.indexOf(0x3a), space = data.indexOf(0x20, colon);
  const id = Number(data.toString('latin1', 0, colon));
  if (!phase || id !== phase.id) { if (phase) phase.stale++; return; }
  const seq = Number(data.toString('latin1', colon + 1, space));
  const end = data.indexOf(0x20, space + 1);
  const sent = Number(data.toString('latin1', space + 1, end < 0 ? data.length : end));
  if (sub.slow && phase.rate) {  // read later, one message per tick of its own timer (slowTick)
    sub.queue++;
    sub.ws.pause();
    return;
  }
  sub.got++;
  phase.lastRecv = now;
  phase.received++;
  if (sub.slow) { phase.slowReceived++; return; }
  phase.latency.push(now - sent);
  if (seq < phase.count.length && ++phase.count[seq] === phase.fast) phase.onComplete(seq);
}

// A slow subscriber: ws.pause() alone does not slow the reading (the socket's chunks already read
// are all delivered), so the messages go into a count and the socket reads on only once it is empty.
function slowTick(sub) {
  if (sub.queue > 0) { sub.queue--; sub.got++; phase.slowReceived++; }
  if (sub.queue === 0) sub.ws.resume();
}

function openOne(slow) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${opt.host}:${opt.port}/ws`, WS_OPTS);
    ws.binaryType = 'nodebuffer';
    const sub = { ws, slow, queue: 0, pid: null, got: 0, gaps: 0, gapLost: 0, warm: false, closed: false };
    ws.on('message', (data) => {
      const first = sub.pid === null;
      onMessage(sub, data);
      if (first) resolve(sub);
    });
    ws.once('error', reject);
    ws.on('close', () => { sub.closed = true; if (sub.pid === null) reject(new Error('closed before hello')); });
  });
}

async function openAll() {
  const wanted = [...Array(opt.subs).fill(false), ...Array(opt.slow).fill(true)];
  let next = 0, retries = 0;
  async function worker() {
    while (next < wanted.length) {
      const slow = wanted[next++];
      for (let attempt = 0; ; attempt++) {
        try { const sub = await openOne(slow); sub.ws.on('error', () => {}); subs.push(sub); break; } catch (e) {
          retries++;
          if (attempt >= 5) throw new Error('cannot open a subscriber: ' + e.message);
          await sleep(200);
        }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(opt.openConcurrency, wanted.length) }, worker));
  return retries;
}

// ---- publisher
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
let publishErrors = 0;
function publish(body) {
  return new Promise((resolve) => {
    const req = http.request({
      host: opt.host, port: opt.port, path: '/publish', method: 'POST', agent,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => { if (res.statusCode !== 200) publishErrors++; resolve(res.statusCode === 200); });
    });
    req.on('error', () => { publishErrors++; resolve(false); });
    req.end(body);
  });
}

const pad = (n) => (n > 0 ? ' ' + 'x'.repeat(n - 1) : '');
function body(id, seq) {
  const head = `${id}:${seq} ${performance.now().toFixed(3)}`;
  return head + pad(opt.size - head.length);
}

async function warmUp() {
  const t0 = performance.now();
  while (subs.some((s) => !s.warm)) {
    if (performance.now() - t0 > 30000) throw new Error(`${subs.filter((s) => !s.warm).length} subscribers got no warm-up message in 30 s`);
    await publish('w');
    await sleep(100);
  }
  return (performance.now() - t0) / 1000;
}

async function runPhase(id, spec) {
  const [kind, arg, dur] = spec.split(':');
  const duration = Number(dur), value = Number(arg);
  const fast = subs.filter((s) => !s.slow).length;
  for (const s of subs) { s.got = 0; s.gaps = 0; s.gapLost = 0; }
  const maxMessages = kind === 'rate' ? Math.ceil(value * duration) + 16 : 1000000;
  phase = {
    id, kind, rate: kind === 'rate' ? value : 0, fast, latency: new Samples(), count: new Int32Array(maxMessages),
    sentAt: new Float64Array(maxMessages), ok: new Uint8Array(maxMessages),
    firstSend: 0, lastRecv: 0, received: 0, slowReceived: 0, gaps: 0, stale: 0, complete: 0, timedOut: 0,
    onComplete: () => {},
  };
  const p = phase;
  let sent = 0, inflight = 0, wake = null, low = 0;
  const done = new Uint8Array(maxMessages);
  const finish = (seq, timedOut) => {
    if (done[seq]) return;
    done[seq] = 1; p.complete++; inflight--;
    if (timedOut) p.timedOut++;
    if (wake) { const w = wake; wake = null; w(); }
  };
  p.onComplete = (seq) => finish(seq, false);
  const slowTimers = p.rate ? subs.filter((s) => s.slow).map((s) => setInterval(() => slowTick(s), (1000 * opt.slowFactor) / p.rate)) : [];
  const sweeper = setInterval(() => {  // a message some subscriber never gets must not stall the loop
    const limit = performance.now() - opt.lossTimeout * 1000;
    while (low < sent && done[low]) low++;
    for (let seq = low; seq < sent && p.sentAt[seq] < limit; seq++) finish(seq, true);
  }, 100);
  const send = (seq) => {
    p.sentAt[seq] = performance.now();
    publish(body(id, seq)).then((ok) => { p.ok[seq] = ok ? 1 : 0; if (!ok) finish(seq, true); });
  };

  say('#start ' + spec);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  p.firstSend = t0;
  const deadline = t0 + duration * 1000;
  if (kind === 'rate') {
    while (sent < maxMessages) {
      const due = t0 + (sent * 1000) / value;
      if (due >= deadline) break;
      const now = performance.now();
      if (due > now) await sleep(due - now);
      inflight++; send(sent++);
    }
  } else {
    while (performance.now() < deadline && sent < maxMessages) {
      while (inflight < value && sent < maxMessages) { inflight++; send(sent++); }
      await new Promise((r) => { wake = r; setTimeout(r, 50); });
    }
  }
  const publishEnd = performance.now();
  const cpuPublish = process.cpuUsage(cpu0);
  say('#end ' + spec);
  // stragglers: until every message is done for every normal subscriber, or nothing new for opt.drain s
  let last = -1, quietSince = performance.now();
  while (p.complete < sent && performance.now() - quietSince < opt.drain * 1000) {
    await sleep(50);
    if (p.received !== last) { last = p.received; quietSince = performance.now(); }
  }
  clearInterval(sweeper);
  if (kind === 'rate') await sleep(200);  // the slow readers' last messages are not waited for
  const cpu = process.cpuUsage(cpu0);

  let published = 0;
  for (let seq = 0; seq < sent; seq++) published += p.ok[seq];
  const fastSubs = subs.filter((s) => !s.slow), slowSubs = subs.filter((s) => s.slow);
  const losses = fastSubs.map((s) => published - s.got);
  const lat = p.latency.sorted();
  const window = ((p.lastRecv || publishEnd) - t0) / 1000;
  const fastReceived = p.received - p.slowReceived;
  const result = {
    phase: spec, kind, value, duration_s: duration, subscribers: fast, slow_subscribers: slowSubs.length,
    published, publish_errors: sent - published, publish_rate: published / ((publishEnd - t0) / 1000),
    delivered: fastReceived, delivered_window_s: window, delivered_rate: fastReceived / window,
    expected: published * fast, lost: losses.reduce((a, b) => a + Math.max(0, b), 0),
    subs_with_loss: losses.filter((l) => l > 0).length, max_lost_per_sub: Math.max(0, ...losses),
    duplicates: losses.filter((l) => l < 0).length, timed_out: p.timedOut, stale: p.stale,
    gaps_fast: fastSubs.reduce((a, s) => a + s.gaps, 0),
    p50_ms: percentile(lat, 50), p90_ms: percentile(lat, 90), p99_ms: percentile(lat, 99),
    max_ms: lat.length ? lat[lat.length - 1] : null,
    client_cpu_pct: (100 * (cpuPublish.user + cpuPublish.system)) / 1e3 / (publishEnd - t0),
    client_cpu_pct_with_drain: (100 * (cpu.user + cpu.system)) / 1e3 / (performance.now() - t0),
    slow: slowSubs.map((s) => ({ received: s.got, gaps: s.gaps, gap_lost: s.gapLost, closed: s.closed,
      read_rate: s.got / ((publishEnd - t0) / 1000) })),
    closed_subscribers: fastSubs.filter((s) => s.closed).length,
  };
  phase = null;
  for (const t of slowTimers) clearInterval(t);
  for (const s of slowSubs) { s.queue = 0; s.ws.resume(); }
  say('PHASE ' + JSON.stringify(result));
}

async function main() {
  const t0 = performance.now();
  const retries = await openAll();
  const pids = {};
  for (const s of subs) pids[s.pid] = (pids[s.pid] || 0) + 1;
  say('OPEN ' + JSON.stringify({ subscribers: subs.length, open_s: (performance.now() - t0) / 1000, retries, pids }));
  const rl = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => { rl.once('line', resolve); rl.once('close', resolve); });
  say('READY ' + JSON.stringify({ warmup_s: await warmUp() }));
  const specs = opt.phases.split(',').filter(Boolean);
  for (let i = 0; i < specs.length; i++) await runPhase(i + 1, specs[i]);
  for (const s of subs) s.ws.terminate();
  rl.close();
  say('DONE');
}

main().then(() => process.exit(0), (e) => { console.error(e.stack || String(e)); process.exit(1); });

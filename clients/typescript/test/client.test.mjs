// The bundle as a game would load it (dist/aicore-client.js, built by `npm run build`), against a
// fake server on fake sockets: the codec both ways, and the client's streaming, errors, reconnect
// and resume. (tests/unit/test_typescript_client.py checks the codec against Python's aicore.wire.)
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  AicoreError,
  Client,
  ConnectionLost,
  JsonCodec,
  RateLimited,
  base64Decode,
  decodeClient,
  decodeServer,
  encodeClient,
  encodeServer,
} from "../dist/aicore-client.js";

const REPLY = {
  session_id: "ses_1", npc_id: "mira", text: "Snow on the pass.", seq: 2, tier: "gold", fallback: false,
  truncated: false, mode: "balanced",
  timings: { first_token_ms: 80.5, model_ms: 990, tokens: 4, tokens_per_s: 70.5 },
  emotion: { dominant: "joy", intensities: { joy: 0.5 } },
  relationship: { trust: 3, affinity: -2, label: "neutral" }, phrases: [],
};
const ENVELOPE = { ok: true, service: "aicore", correlation_id: "c-1", duration_ms: 1.5, error: null };
const FAST = { initialMs: 1, maxMs: 5, attempts: 50, jitter: 0 };

/** Waits for a condition on the event loop, with a deadline (no fixed sleeps). */
async function until(condition, what, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

test("client frames encode to ClientFrame bytes and read back the same", () => {
  const frames = [
    { action: "npc.say", request_id: "r-1", npc_id: "mira", text: "Any news?", session_id: "ses_1" },
    { action: "connection.resume", request_id: "z-1", resume_token: "tok", last_seq: { ses_1: 118, ses_2: 3 } },
    { action: "session.history", request_id: "h-1", session_id: "ses_1", before: 120, limit: 50 },
    { action: "world.subscribe", request_id: "w-1", regions: ["north-pass", "emberfall"] },
    { action: "npc.interrupt", request_id: "i-1", target_request_id: "r-1" },
    { action: "ping", request_id: "k-7" },
  ];
  for (const frame of frames) assert.deepEqual(decodeClient(encodeClient(frame)), frame);
});

test("a null field of a client frame is left out, as the server reads an absent one", () => {
  const frame = { action: "npc.say", request_id: "r-1", npc_id: "mira", text: "Hi", session_id: null };
  assert.deepEqual(decodeClient(encodeClient(frame)), { action: "npc.say", request_id: "r-1", npc_id: "mira", text: "Hi" });
});

test("server frames decode to their JSON shape: envelope inline, typed reply as data, int64 as numbers", () => {
  const reply = { type: "npc.reply", request_id: "r-1", ...ENVELOPE, operation: "npc.say", data: REPLY };
  const decoded = decodeServer(encodeServer(reply));
  assert.equal(decoded.data.seq, 2); // int64: a number, not the JSON mapping's string
  assert.equal(decoded.ok, true);
  assert.equal("error" in decoded, false); // unset: absent, not null
  assert.deepEqual(decoded.data.relationship, REPLY.relationship);

  const error = {
    type: "error", request_id: "r-2", ...ENVELOPE, ok: false, operation: "npc.say", data: null,
    error: { code: "not_found", message: "There is no NPC 'nobody'.", details: { npc_id: "nobody" } },
  };
  assert.deepEqual(decodeServer(encodeServer(error)).error, error.error);

  const token = { type: "npc.token", request_id: "r-1", data: { text: "Snow" } };
  assert.deepEqual(decodeServer(encodeServer(token)), token);

  const history = { type: "session.history", request_id: "h", ...ENVELOPE, operation: "session.history",
    data: { session_id: "ses_1", messages: [{ seq: 1, text: "hi", speaker: { id: "p", kind: "player" } }], next_before: null } };
  assert.deepEqual(decodeServer(encodeServer(history)).data, history.data); // data is a Value: plain JSON
});

test("the JSON codec sends JSON text frames and reads text or bytes, offering aicore.json.v1", () => {
  const codec = new JsonCodec();
  const frame = { action: "npc.say", request_id: "r-1", npc_id: "mira", text: "Hi ✓" };
  assert.equal(codec.subprotocol, "aicore.json.v1");
  assert.deepEqual(JSON.parse(codec.encode(frame)), frame);
  const token = { type: "npc.token", request_id: "r-1", data: { text: "Snow" } };
  assert.deepEqual(codec.decode(JSON.stringify(token)), token);
  assert.deepEqual(codec.decode(new TextEncoder().encode(JSON.stringify(token))), token);
  assert.throws(() => codec.decode("[1, 2]"), /a frame is a JSON object/);
});

/** A stand-in for aicore's WebSocket API: answers hello, resume, ping and npc.say (two tokens, then
 * the reply, idempotent per request_id), in protobuf. */
class FakeServer {
  constructor() {
    this.sockets = [];
    this.received = [];
    this.turns = new Map(); // request_id -> reply frame
    this.holdTurns = false; // true: npc.say streams its first token and waits
    this.refuse = false;
    this.missed = [];
  }

  factory() {
    return (url, protocols) => {
      const socket = new FakeSocket(this, url, protocols);
      this.sockets.push(socket);
      return socket;
    };
  }

  get current() {
    return this.sockets.at(-1);
  }

  receive(socket, text) {
    const wrapped = JSON.parse(text);
    const frame = decodeClient(base64Decode(wrapped.proto));
    assert.equal(wrapped.action, frame.action);
    this.received.push(frame);
    const answer = (type, data, extra = {}) =>
      socket.deliver({ type, request_id: frame.request_id, ...ENVELOPE, operation: frame.action, data, ...extra });
    switch (frame.action) {
      case "connection.hello":
        return answer("connection.welcome", { resume_token: "resume-1", protocol: socket.protocol, capabilities: {} });
      case "ping":
        return answer("pong", { server_time: "2026-12-01T00:00:00Z" });
      case "connection.resume":
        for (const line of this.missed) socket.deliver({ type: "session.message", request_id: frame.request_id, data: line });
        return answer("connection.resumed", { sessions: [{ session_id: "ses_1", sent: this.missed.length, last_seq: 4 }] });
      case "npc.say": {
        if (frame.npc_id === "nobody") {
          return answer("error", null, { ok: false, error: { code: "not_found", message: "No such NPC.", details: { npc_id: "nobody" } } });
        }
        if (frame.npc_id === "busy") {
          return answer("error", null, { ok: false, error: { code: "rate_limited", message: "Wait.", details: { retry_after_ms: 1200 } } });
        }
        const stored = this.turns.get(frame.request_id);
        if (stored) return socket.deliver(stored);
        const reply = { type: "npc.reply", request_id: frame.request_id, ...ENVELOPE, operation: "npc.say", data: REPLY };
        socket.deliver({ type: "npc.token", request_id: frame.request_id, data: { text: "Snow " } });
        this.turns.set(frame.request_id, reply);
        if (this.holdTurns) return undefined;
        socket.deliver({ type: "npc.token", request_id: frame.request_id, data: { text: "on the pass." } });
        return socket.deliver(reply);
      }
      case "npc.listen": {
        // ends at the final chunk, or at a silent one (empty audio) as the server's VAD would
        const ended = frame.final || (frame.audio ?? "").length === 0;
        if (!ended) return answer("npc.listening", { seq: frame.seq ?? 0, speech: true, ended: false });
        const chunks = this.received.filter((f) => f.action === "npc.listen" && f.request_id === frame.request_id);
        const transcript = { text: "any news from the pass", ended_by: frame.final ? "final" : "silence", audio_ms: 500 * chunks.length };
        socket.deliver({ type: "npc.transcript", request_id: frame.request_id, data: transcript });
        socket.deliver({ type: "npc.token", request_id: frame.request_id, data: { text: "Snow on the pass." } });
        return socket.deliver({ type: "npc.reply", request_id: frame.request_id, ...ENVELOPE, operation: "npc.listen", data: REPLY });
      }
      default:
        return answer("error", null, { ok: false, error: { code: "unknown_action", message: "?", details: {} } });
    }
  }
}

class FakeSocket {
  constructor(server, url, protocols) {
    this.server = server;
    this.url = url;
    this.protocol = "";
    this.readyState = 0;
    this.binaryType = "blob";
    this.onopen = this.onclose = this.onerror = this.onmessage = null;
    setTimeout(() => {
      if (server.refuse) return this.drop();
      this.protocol = protocols[0];
      this.readyState = 1;
      this.onopen?.({});
    }, 0);
  }

  send(text) {
    if (this.readyState !== 1) throw new Error("not open");
    setTimeout(() => this.readyState === 1 && this.server.receive(this, text), 0);
  }

  deliver(frame) {
    const bytes = encodeServer(frame);
    setTimeout(() => this.readyState === 1 && this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }), 0);
  }

  drop() {
    if (this.readyState === 3) return;
    this.readyState = 3;
    setTimeout(() => this.onclose?.({ code: 1006 }), 0);
  }

  close() {
    this.drop();
  }
}

async function connected(server, options = {}) {
  const client = new Client("ws://fake/ws", "a-token", { encoding: "protobuf", socket: server.factory(), backoff: FAST, ...options });
  await client.start();
  return client;
}

test("hello asks for the binary subprotocol with the token and client, and keeps the resume token", async () => {
  const server = new FakeServer();
  const client = await connected(server, { client: "console/0.1.0" });
  const url = new URL(server.current.url);
  assert.equal(url.searchParams.get("token"), "a-token");
  assert.equal(url.searchParams.get("client"), "console/0.1.0");
  assert.equal(client.protocol, "aicore.proto.v1");
  assert.equal(client.welcome.resume_token, "resume-1");
  assert.equal((await client.ping()).server_time, "2026-12-01T00:00:00Z");
  client.close();
});

test("a turn streams its tokens, then the reply; its seq is followed for resume", async () => {
  const server = new FakeServer();
  const client = await connected(server);
  const tokens = [];
  const reply = await client.say("mira", "Any news?").stream((token) => tokens.push(token));
  assert.deepEqual(tokens, ["Snow ", "on the pass."]);
  assert.equal(reply.text, "Snow on the pass.");
  assert.deepEqual(client.lastSeq, { ses_1: 2 });
  client.close();
});

test("listen sends its chunks in order, one request_id, the last final; then the transcript and the turn", async () => {
  const server = new FakeServer();
  const client = await connected(server);
  const chunks = [new Uint8Array([1, 0, 2, 0]), new Uint8Array([3, 0]), new Uint8Array([4, 0])];
  const { transcript, turn } = await client.listen("mira", chunks);
  assert.deepEqual(transcript, { text: "any news from the pass", ended_by: "final", audio_ms: 1500 });
  assert.equal((await turn.reply()).text, "Snow on the pass.");
  const sent = server.received.filter((f) => f.action === "npc.listen");
  assert.deepEqual(sent.map((f) => [f.request_id, f.seq ?? 0, f.final ?? false]), [
    [turn.requestId, 0, false], [turn.requestId, 1, false], [turn.requestId, 2, true],
  ]);
  assert.deepEqual([...base64Decode(sent[1].audio)], [3, 0]);
  client.close();
});

test("listen stops sending when the server hears the end of speech first", async () => {
  const server = new FakeServer();
  const client = await connected(server);
  const chunks = [new Uint8Array([1, 0]), new Uint8Array(0), new Uint8Array([5, 0])];
  const { transcript, turn } = await client.listen("mira", chunks);
  assert.equal(transcript.ended_by, "silence");
  assert.equal((await turn.reply()).npc_id, "mira");
  assert.equal(server.received.filter((f) => f.action === "npc.listen").length, 2);
  await assert.rejects(client.listen("mira", []), /at least one chunk/);
  client.close();
});

test("quest pushes are quest events, once each, while a turn still gets its own reply", async () => {
  const server = new FakeServer();
  const client = await connected(server);
  const quests = [];
  client.on("quest", (update) => quests.push(update));
  const offered = {
    kind: "offered", world_id: "demo", event_id: "ev-1", occurred_at: "2026-12-01T10:00:00Z",
    quest_id: "q-1", npc_id: "odo", template_id: "oil-for-the-lanterns", title: "Oil for the Lanterns",
  };
  for (const update of [offered, offered, { ...offered, kind: "accepted", event_id: "ev-2" }]) {
    server.current.deliver({ type: "quest.update", data: update });
  }
  const reply = await client.say("mira", "Any news?").reply();
  await until(() => quests.length === 2, "both quest events");
  assert.equal(reply.text, "Snow on the pass.");
  assert.deepEqual(quests.map((q) => [q.kind, q.quest_id, q.title]), [
    ["offered", "q-1", "Oil for the Lanterns"], ["accepted", "q-1", "Oil for the Lanterns"],
  ]);
  client.close();
});

test("an error frame is thrown typed, with code, message and details", async () => {
  const server = new FakeServer();
  const client = await connected(server);
  await assert.rejects(client.say("nobody", "Hi").reply(), (error) => {
    assert.ok(error instanceof AicoreError);
    assert.equal(error.code, "not_found");
    assert.equal(String(error), "[not_found] No such NPC.");
    assert.deepEqual(error.details, { npc_id: "nobody" });
    return true;
  });
  await assert.rejects(client.say("busy", "Hi").reply(), (error) => error instanceof RateLimited && error.retryAfterMs === 1200);
  client.close();
});

test("a drop mid-turn: reconnect, resume from the seqs it has, repeat the turn with its request_id", async () => {
  // Given a connection that follows ses_1 up to seq 2, and a turn that has streamed one token
  const server = new FakeServer();
  const client = await connected(server);
  await client.say("mira", "First").reply();
  const states = [];
  const missed = [];
  client.on("state", (change) => states.push(change.state));
  client.on("message", (message) => missed.push(message.text));
  server.missed = [
    { session_id: "ses_1", seq: 2, speaker: { id: "mira", kind: "npc" }, text: "already had", created_at: "t" },
    { session_id: "ses_1", seq: 3, speaker: { id: "player-2", kind: "player" }, text: "Hello all", created_at: "t" },
  ];
  server.holdTurns = true;
  const turn = client.say("mira", "Second");
  const tokens = [];
  const streaming = turn.stream((token) => tokens.push(token));
  await until(() => tokens.length === 1, "the first token");

  // When the connection drops
  server.holdTurns = false;
  server.current.drop();

  // Then the turn completes once, from the stored reply, and its tokens add up to the reply
  const reply = await streaming;
  assert.equal(tokens.join(""), reply.text);
  assert.ok(turn.resumed);
  const says = server.received.filter((f) => f.action === "npc.say" && f.request_id === turn.requestId);
  assert.equal(says.length, 2);
  // ... the resume named the seq the client had, and only the line it had not came through
  const resume = server.received.find((f) => f.action === "connection.resume");
  assert.deepEqual(resume, { action: "connection.resume", request_id: resume.request_id, resume_token: "resume-1", last_seq: { ses_1: 2 } });
  await until(() => states.includes("resumed"), "the resumed state");
  assert.deepEqual(missed, ["Hello all"]);
  assert.deepEqual(states.slice(0, 3), ["reconnecting", "connected", "resumed"]);
  assert.equal(client.reconnects, 1);
  client.close();
});

test("what is asked while disconnected is sent once the connection is back", async () => {
  const server = new FakeServer();
  const client = await connected(server);
  client.simulateDrop();
  assert.equal(client.connected, false);
  const reply = await client.say("mira", "Still there?").reply();
  assert.equal(reply.seq, 2);
  assert.equal(server.received.filter((f) => f.action === "npc.say").length, 1);
  client.close();
});

test("when the server cannot be reached again, waiting requests fail with ConnectionLost", async () => {
  const server = new FakeServer();
  const client = await connected(server, { backoff: { ...FAST, attempts: 3 } });
  const states = [];
  client.on("state", (change) => states.push(change.state));
  server.refuse = true;
  server.holdTurns = true;
  const turn = client.say("mira", "Hello?");
  await until(() => server.received.some((f) => f.action === "npc.say"), "the turn sent");
  server.current.drop();
  await assert.rejects(turn.reply(), ConnectionLost);
  assert.equal(states.at(-1), "lost");
  assert.equal(states.filter((s) => s === "reconnecting").length, 3);
});

/**
 * The client: one WebSocket connection to aicore, kept alive across drops (the TypeScript twin of
 * clients/python/aicore_client/client.py; same behaviour, same frames).
 *
 * Every request carries a generated `request_id` and waits for the frame that ends it (its reply
 * type, or `error`). When the connection drops, the client reconnects with backoff and, on the new
 * connection, sends `connection.resume` (the resume token of `connection.hello`, and the newest seq
 * it has of each session it follows): the missed lines come as `message` events. Then it sends every
 * request still waiting again, with the SAME `request_id`: the server answers a repeated `npc.say`
 * with its first result (same `seq`, no second model call), or with `request_in_progress` while the
 * first run still works, which the client repeats with backoff.
 *
 * Browsers do not show why a handshake was refused (401, 403, 426 look like any failed connection),
 * so unlike the Python client this one cannot stop early on a refused token: it tries `attempts`
 * times (asking `token()` afresh each time), then gives up with `ConnectionLost`.
 */
import { type Codec, type Frame, JsonCodec, ProtobufCodec, base64Encode } from "./codec.js";
import {
  AicoreError,
  ConnectionLost,
  type GatewayNotice,
  RequestTimeout,
  errorFromEnvelope,
  isObject,
} from "./errors.js";
import type {
  ConnectionWarning,
  HistoryPage,
  Listening,
  Message,
  NpcInterrupted,
  Pong,
  QuestUpdate,
  Reply,
  Resumed,
  SessionHead,
  Transcript,
  Welcome,
  WorldSubscribed,
  WorldUpdate,
} from "./models.js";

export const CLIENT_VERSION = "0.1.0";
export const DEFAULT_CLIENT = `typescript/${CLIENT_VERSION}`;
const MAX_RESUMED_SESSIONS = 20; // what one `connection.resume` may name (the server's limit)
const MAX_TRACKED_SESSIONS = 200;
const MAX_SEEN_UPDATES = 1000;
const REQUEST_TIMEOUT_MS = 30_000;
const TURN_TIMEOUT_MS = 300_000; // a whole NPC turn, tokens and reply, across reconnects
const OPEN = 1; // WebSocket.OPEN, without needing the global

/** The part of the WebSocket API the client uses: the browser's, Node 22's global, or a test's. */
export interface SocketLike {
  binaryType: string;
  readonly protocol: string;
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
}
export type SocketFactory = (url: string, protocols: string[]) => SocketLike;

/** Delays between reconnect attempts (and between repeats of a turn still in progress):
 * `initialMs`, times `factor` each attempt, at most `maxMs`, each shortened by up to `jitter` (so
 * clients dropped together do not come back together). After `attempts` failed reconnects the
 * client gives up: waiting requests fail with `ConnectionLost`. */
export interface Backoff {
  initialMs: number;
  factor: number;
  maxMs: number;
  attempts: number;
  jitter: number;
}
export const DEFAULT_BACKOFF: Backoff = { initialMs: 250, factor: 2, maxMs: 5000, attempts: 12, jitter: 0.2 };

function* delays(backoff: Backoff, random: () => number): Generator<number> {
  let delay = backoff.initialMs;
  for (let attempt = 0; attempt < backoff.attempts; attempt++) {
    yield delay * (1 - backoff.jitter * random());
    delay = Math.min(delay * backoff.factor, backoff.maxMs);
  }
}

function nth(backoff: Backoff, n: number): number {
  return Math.min(backoff.initialMs * backoff.factor ** n, backoff.maxMs);
}

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "resumed" | "lost" | "closed";

export interface StateChange {
  state: ConnectionState;
  /** `reconnecting`: the attempt about to be made (1, 2, ...). */
  attempt?: number;
  /** `resumed`: what the resume found. */
  resumed?: Resumed;
  /** `lost`: why the client gave up. */
  error?: Error;
}

export interface Events {
  state: StateChange;
  /** A line of a followed session delivered as `session.message` (what a resume found missed). */
  message: Message;
  /** A `world.update` push, each change once. */
  world: WorldUpdate;
  /** A `quest.update` push (one of the player's quests changed), each event once. */
  quest: QuestUpdate;
  warning: ConnectionWarning;
  gateway: GatewayNotice;
}

export interface ClientOptions {
  /** "protobuf" (subprotocol aicore.proto.v1: binary frames from the server) or "json" (the default). */
  encoding?: "protobuf" | "json";
  /** `<platform>/<version>`, sent as `?client=` and in the hello. */
  client?: string;
  backoff?: Partial<Backoff>;
  requestTimeoutMs?: number;
  turnTimeoutMs?: number;
  /** How to open a socket (tests; Node 20 without a global WebSocket). Default: `new WebSocket(...)`. */
  socket?: SocketFactory;
  random?: () => number;
}

/** A queue of the frames answering one request, awaited with a deadline. */
class Inbox {
  private readonly items: (Frame | Error)[] = [];
  private waiter: (() => void) | null = null;

  put(item: Frame | Error): void {
    this.items.push(item);
    this.waiter?.();
  }

  async take(deadline: number, what: string): Promise<Frame> {
    while (this.items.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new RequestTimeout(`${what}: no answer in time`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = null;
    }
    const item = this.items.shift() as Frame | Error;
    if (item instanceof Error) throw item;
    return item;
  }
}

/** A request sent and not yet answered: what it sent, and the frames that answer it. */
interface Pending {
  frame: Frame & { action: string; request_id: string };
  inbox: Inbox;
  sends: number;
  generation: number; // the connection it was last sent on
  inProgressRepeats: number;
}

export function newRequestId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return "ts-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The URL with these query parameters set (others kept). */
export function withQuery(url: string, parameters: Record<string, string>): string {
  const parsed = new URL(url);
  for (const [name, value] of Object.entries(parameters)) parsed.searchParams.set(name, value);
  return parsed.toString();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One player's connection. Make it with `connect(...)`; close it with `close()`. */
export class Client {
  readonly client: string;
  readonly codec: Codec;
  readonly requestTimeoutMs: number;
  readonly turnTimeoutMs: number;
  welcome: Welcome | null = null;
  readonly warnings: ConnectionWarning[] = [];
  drops = 0; // connections lost
  reconnects = 0; // connections brought back (each followed by a resume)
  lastResumed: Resumed | null = null;

  private readonly url: string;
  private readonly token: string | (() => string);
  private readonly backoff: Backoff;
  private readonly openSocket: SocketFactory;
  private readonly random: () => number;
  private ws: SocketLike | null = null;
  private isConnected = false;
  private closing = false;
  private generation = 0;
  private lost: Error | null = null;
  private readonly pending = new Map<string, Pending>();
  private readonly lastSeqs = new Map<string, number>(); // most recently used last
  private readonly worldSeen = new Set<string>();
  private readonly questsSeen = new Set<string>();
  private subscribedRegions: string[] | undefined;
  private subscribed = false;
  private readonly listeners: { [K in keyof Events]: Set<(event: Events[K]) => void> } = {
    state: new Set(),
    message: new Set(),
    world: new Set(),
    quest: new Set(),
    warning: new Set(),
    gateway: new Set(),
  };

  constructor(url: string, token: string | (() => string), options: ClientOptions = {}) {
    this.url = url;
    this.token = token;
    this.client = options.client ?? DEFAULT_CLIENT;
    this.codec = options.encoding === "protobuf" ? new ProtobufCodec() : new JsonCodec();
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.turnTimeoutMs = options.turnTimeoutMs ?? TURN_TIMEOUT_MS;
    this.openSocket = options.socket ?? defaultSocket;
    this.random = options.random ?? Math.random;
  }

  // --- events ----------------------------------------------------------------------------------

  /** Listen to `state`, `message`, `world`, `warning` or `gateway`; returns the way to stop. */
  on<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): () => void {
    const listeners = this.listeners[event] as Set<(value: Events[K]) => void>;
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  private emit<K extends keyof Events>(event: K, value: Events[K]): void {
    for (const listener of this.listeners[event] as Set<(value: Events[K]) => void>) {
      try {
        listener(value);
      } catch (failure) {
        console.error(`aicore client: a '${event}' listener failed`, failure);
      }
    }
  }

  // --- the connection --------------------------------------------------------------------------

  /** Open the connection (rejects with `ConnectionLost` if it cannot) and, with `hello`, say
   * `connection.hello` (the resume token is kept). */
  async start({ hello = true }: { hello?: boolean } = {}): Promise<void> {
    this.emit("state", { state: "connecting" });
    this.attach(await this.open());
    this.emit("state", { state: "connected" });
    for (const pending of [...this.pending.values()]) if (pending.sends === 0) this.send(pending); // asked before it opened
    if (hello) await this.hello();
  }

  /** Close the connection; requests still waiting fail with `ConnectionLost`. */
  close(): void {
    this.closing = true;
    this.isConnected = false;
    this.ws?.close(1000, "closed by the client");
    this.failAll(new ConnectionLost("the client was closed"));
    this.emit("state", { state: "closed" });
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /** The connection's subprotocol as the server agreed it ("" before the first connection). */
  get protocol(): string {
    return this.ws?.protocol ?? "";
  }

  /** Drop the connection as a lost network does: the client reconnects and resumes (tests, demos
   * of a game's reconnect handling). From now until it is back, requests wait to be sent. */
  simulateDrop(): void {
    if (this.ws === null) return;
    this.isConnected = false;
    this.ws.close(4000, "simulated drop");
  }

  /** The newest seq the client has of each session it follows (sent in `connection.resume`). */
  get lastSeq(): Record<string, number> {
    return Object.fromEntries(this.lastSeqs);
  }

  /** Follow a session from `lastSeq` (e.g. what a game saved): after a drop, the lines after it
   * are delivered as `message` events. Sessions the client talks in, reads or joins are followed
   * without asking. */
  follow(sessionId: string, lastSeq = 0): void {
    this.seen(sessionId, lastSeq);
  }

  private open(): Promise<SocketLike> {
    const token = typeof this.token === "function" ? this.token() : this.token;
    const url = withQuery(this.url, { token, client: this.client });
    const wanted = this.codec.subprotocol;
    return new Promise((resolve, reject) => {
      let ws: SocketLike;
      try {
        ws = this.openSocket(url, [wanted]);
      } catch (failure) {
        reject(new ConnectionLost(`could not open a WebSocket: ${String(failure)}`));
        return;
      }
      ws.binaryType = "arraybuffer";
      ws.onopen = () => {
        if (ws.protocol !== wanted) {
          ws.onclose = null;
          ws.close(1000, "subprotocol refused");
          reject(new ConnectionLost(`the server did not agree to the ${wanted} subprotocol`));
        } else {
          resolve(ws);
        }
      };
      ws.onclose = () =>
        reject(new ConnectionLost("the connection was refused or could not be made (a bad or expired token, a too old client, or no server)"));
      ws.onerror = () => undefined; // a close event always follows
    });
  }

  private attach(ws: SocketLike): void {
    this.ws = ws;
    this.isConnected = true;
    ws.onmessage = (event) => this.onMessage(event.data);
    ws.onclose = () => {
      if (ws === this.ws) void this.onDrop();
    };
  }

  private onMessage(data: unknown): void {
    let frame: Frame;
    try {
      frame = this.codec.decode(data as string | ArrayBuffer | Uint8Array);
    } catch (failure) {
      console.warn("aicore sent a frame this client cannot read; skipped", failure);
      return;
    }
    this.onFrame(frame);
  }

  /** The connection dropped: reconnect with backoff and recover, or give up. */
  private async onDrop(): Promise<void> {
    this.isConnected = false;
    if (this.closing) return;
    this.drops += 1;
    for (const pending of this.pending.values()) {
      if (pending.frame.action === "connection.resume") pending.inbox.put(new ConnectionLost("dropped while resuming"));
    }
    let attempt = 0;
    for (const delay of delays(this.backoff, this.random)) {
      attempt += 1;
      this.emit("state", { state: "reconnecting", attempt });
      await sleep(delay);
      if (this.closing) return;
      try {
        const ws = await this.open();
        this.generation += 1;
        this.reconnects += 1;
        this.attach(ws);
        this.emit("state", { state: "connected" });
        void this.recover();
        return;
      } catch (failure) {
        if (!(failure instanceof ConnectionLost)) throw failure;
      }
    }
    this.lost = new ConnectionLost(`could not reconnect in ${this.backoff.attempts} attempts`);
    this.failAll(this.lost);
    this.emit("state", { state: "lost", error: this.lost });
  }

  /** On a new connection: resume (missed lines), subscribe again, repeat what still waits. */
  private async recover(): Promise<void> {
    if (this.welcome !== null) {
      try {
        this.lastResumed = await this.resume(this.welcome.resume_token);
        this.emit("state", { state: "resumed", resumed: this.lastResumed });
      } catch (failure) {
        if (!(failure instanceof AicoreError)) return; // dropped again: the next reconnect recovers
        try {
          await this.hello(); // the token expired (a day): a new hello gives a new one
        } catch {
          /* the requests below still go out; the next drop tries again */
        }
      }
    }
    if (this.subscribed) {
      try {
        await this.request(subscribeFrame(this.subscribedRegions));
      } catch {
        /* pushes are best effort; a later reconnect subscribes again */
      }
    }
    for (const pending of [...this.pending.values()]) {
      const stale = pending.generation !== this.generation && this.pending.has(pending.frame.request_id);
      if (stale && pending.frame.action !== "connection.resume") this.send(pending);
    }
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) pending.inbox.put(error);
  }

  // --- frames in -------------------------------------------------------------------------------

  private onFrame(frame: Frame): void {
    const kind = frame.type;
    const data = frame.data;
    if (kind === undefined) {
      // API Gateway's own frame: {"message", "connectionId", "requestId"}
      const requestId = typeof frame.requestId === "string" ? frame.requestId : undefined;
      this.emit("gateway", { message: String(frame.message), gatewayRequestId: requestId });
      return;
    }
    if (kind === "world.update" && isObject(data)) return this.onWorldUpdate(data as WorldUpdate);
    if (kind === "quest.update" && isObject(data)) {
      const update = data as QuestUpdate;
      if (firstTime(this.questsSeen, update.event_id)) this.emit("quest", update);
      return;
    }
    if (kind === "connection.warning" && isObject(data)) {
      this.warnings.push(data as ConnectionWarning);
      return this.emit("warning", data as ConnectionWarning);
    }
    if (kind === "session.message" && isObject(data)) return this.onSessionMessage(data as Message);
    this.track(String(kind), frame);
    const pending = this.pending.get(String(frame.request_id));
    if (pending === undefined) return; // an answer to a request already answered (or never ours)
    if (kind === "error" && pending.sends > 1 && errorCode(frame) === "request_in_progress") {
      // the first run of a repeated request still works: ask again until it has the answer
      const delay = nth(this.backoff, pending.inProgressRepeats);
      pending.inProgressRepeats += 1;
      setTimeout(() => {
        if (this.pending.has(pending.frame.request_id)) this.send(pending);
      }, delay);
      return;
    }
    pending.inbox.put(frame);
  }

  /** Seqs the client now has, from the answers that carry them. */
  private track(kind: string, frame: Frame): void {
    const data = frame.data;
    if (!frame.ok || !isObject(data)) return;
    if (kind === "npc.reply") this.seen(String(data.session_id), Number(data.seq));
    else if (kind === "session.joined" && typeof data.message_count === "number") {
      this.seen(String(data.session_id), data.message_count);
    }
  }

  private seen(sessionId: string, seq: number): void {
    const newest = Math.max(seq, this.lastSeqs.get(sessionId) ?? 0);
    this.lastSeqs.delete(sessionId); // most recently used last
    this.lastSeqs.set(sessionId, newest);
    while (this.lastSeqs.size > MAX_TRACKED_SESSIONS) this.lastSeqs.delete(this.lastSeqs.keys().next().value as string);
  }

  /** A line the client missed, once: a line it already has (a resume repeated after a second
   * drop) is not delivered again. */
  private onSessionMessage(message: Message): void {
    const sessionId = message.session_id;
    if (sessionId !== undefined) {
      if (message.seq <= (this.lastSeqs.get(sessionId) ?? 0)) return;
      this.seen(sessionId, message.seq);
    }
    this.emit("message", message);
  }

  private onWorldUpdate(update: WorldUpdate): void {
    // pushed again (after a resubscribe): once is enough
    if (firstTime(this.worldSeen, update.event_id)) this.emit("world", update);
  }

  // --- frames out ------------------------------------------------------------------------------

  private register(frame: Frame & { action: string }): Pending {
    const requestId = typeof frame.request_id === "string" ? frame.request_id : newRequestId();
    const pending: Pending = {
      frame: { ...frame, request_id: requestId },
      inbox: new Inbox(),
      sends: 0,
      generation: -1,
      inProgressRepeats: 0,
    };
    this.pending.set(requestId, pending);
    if (this.lost !== null) pending.inbox.put(this.lost);
    return pending;
  }

  /** Send now if connected; else recovery sends it on the next connection. */
  private send(pending: Pending): void {
    if (!this.isConnected || this.ws === null || this.ws.readyState !== OPEN) return;
    pending.generation = this.generation;
    pending.sends += 1;
    this.ws.send(this.codec.encode(pending.frame));
  }

  /** Send a frame and return the frame that ends it (throwing the `error` frame's error). */
  private async request(frame: Frame & { action: string }, timeoutMs?: number): Promise<Frame> {
    const pending = this.register(frame);
    const deadline = Date.now() + (timeoutMs ?? this.requestTimeoutMs);
    try {
      this.send(pending);
      for (;;) {
        const answer = await pending.inbox.take(deadline, frame.action);
        if (answer.type === "error") throw errorFromEnvelope(answer);
        if (answer.type !== "npc.token") return answer;
      }
    } finally {
      this.pending.delete(pending.frame.request_id);
    }
  }

  /** @internal: a turn is over. */
  done(requestId: string): void {
    this.pending.delete(requestId);
  }

  // --- actions ---------------------------------------------------------------------------------

  /** `connection.hello`: the resume token (kept for reconnects), the protocol, the capabilities. */
  async hello(): Promise<Welcome> {
    const answer = await this.request({ action: "connection.hello", client: this.client });
    this.welcome = answer.data as Welcome;
    return this.welcome;
  }

  /** `ping` → `pong`: an application-level keep-alive (a round trip through the handlers). */
  async ping(): Promise<Pong> {
    return (await this.request({ action: "ping" })).data as Pong;
  }

  /** Say `text` to an NPC (in `sessionId`, or the player↔NPC session): a `Turn` to stream. */
  say(npcId: string, text: string, options: { sessionId?: string; debug?: boolean; requestId?: string } = {}): Turn {
    const frame: Frame & { action: string } = { action: "npc.say", npc_id: npcId, text };
    if (options.requestId !== undefined) frame.request_id = options.requestId;
    if (options.sessionId !== undefined) frame.session_id = options.sessionId;
    if (options.debug) frame.debug = true;
    const pending = this.register(frame);
    this.send(pending);
    return new Turn(this, pending, Date.now() + this.turnTimeoutMs);
  }

  /** Speak to an NPC: `chunks` of PCM (s16le, 16 kHz, mono, at most 0.5 s = 16,000 bytes each) sent
   * in order as `npc.listen` frames, the last with `final`, each once the previous one was taken.
   * The server may hear the end of speech first (the rest is then not sent). What it wrote down,
   * and the `Turn` of the reply to stream, as `say` gives it. */
  async listen(
    npcId: string | null,
    chunks: Uint8Array[],
    options: { sessionId?: string; requestId?: string } = {},
  ): Promise<{ transcript: Transcript; turn: Turn }> {
    if (chunks.length === 0) throw new Error("listen needs at least one chunk of audio");
    const frame: Frame & { action: string } = { action: "npc.listen" };
    if (npcId !== null) frame.npc_id = npcId;
    if (options.requestId !== undefined) frame.request_id = options.requestId;
    if (options.sessionId !== undefined) frame.session_id = options.sessionId;
    const pending = this.register(frame);
    const deadline = Date.now() + this.turnTimeoutMs;
    try {
      const transcript = await this.sendChunks(pending, chunks, deadline);
      return { transcript, turn: new Turn(this, pending, deadline) };
    } catch (failure) {
      this.done(pending.frame.request_id);
      throw failure;
    }
  }

  private async sendChunks(pending: Pending, chunks: Uint8Array[], deadline: number): Promise<Transcript> {
    for (const [seq, pcm] of chunks.entries()) {
      // the frame sent last is the one a reconnect repeats: the final chunk gets the first answer
      Object.assign(pending.frame, { seq, audio: base64Encode(pcm), final: seq === chunks.length - 1 });
      this.send(pending);
      for (;;) {
        const answer = await pending.inbox.take(deadline, "npc.listen");
        if (answer.type === "error") throw errorFromEnvelope(answer);
        if (answer.type === "npc.transcript") return answer.data as Transcript;
        if (answer.type === "npc.listening" && (answer.data as Listening).seq === seq) break;
      }
    }
    throw new AicoreError("invalid_request", "The server took every chunk and wrote nothing down.", {});
  }

  /** `npc.interrupt`: stop a reply of yours while it streams (its `npc.reply` still comes, cut). */
  async interrupt(targetRequestId: string): Promise<NpcInterrupted> {
    const answer = await this.request({ action: "npc.interrupt", target_request_id: targetRequestId });
    return answer.data as NpcInterrupted;
  }

  /** A page of a session's messages, oldest first (the newest page, or those before `before`). */
  async history(sessionId: string, options: { before?: number; limit?: number } = {}): Promise<HistoryPage> {
    const frame: Frame & { action: string } = {
      action: "session.history",
      session_id: sessionId,
      limit: options.limit ?? 50,
    };
    if (options.before !== undefined) frame.before = options.before;
    const page = (await this.request(frame)).data as HistoryPage;
    if (options.before === undefined) {
      // the newest page: the client now has the session up to its last line
      this.seen(page.session_id, Math.max(0, ...page.messages.map((m) => m.seq)));
    }
    return page;
  }

  async join(sessionId: string, options: { participantId?: string; kind?: "player" | "npc" } = {}): Promise<SessionHead> {
    const frame: Frame & { action: string } = { action: "session.join", session_id: sessionId, kind: options.kind ?? "player" };
    if (options.participantId !== undefined) frame.participant_id = options.participantId;
    return (await this.request(frame)).data as SessionHead;
  }

  async leave(sessionId: string, options: { participantId?: string } = {}): Promise<SessionHead> {
    const frame: Frame & { action: string } = { action: "session.leave", session_id: sessionId };
    if (options.participantId !== undefined) frame.participant_id = options.participantId;
    return (await this.request(frame)).data as SessionHead;
  }

  /** Pushes of the token's world (some regions, or all) as `world` events. Subscribing again
   * replaces the regions; after a reconnect the client subscribes again. */
  async subscribeWorld(regions?: string[]): Promise<WorldSubscribed> {
    const answer = await this.request(subscribeFrame(regions));
    this.subscribed = true;
    this.subscribedRegions = regions;
    return answer.data as WorldSubscribed;
  }

  async unsubscribeWorld(): Promise<void> {
    this.subscribed = false;
    await this.request({ action: "world.unsubscribe" });
  }

  private async resume(resumeToken: string): Promise<Resumed> {
    const newest = [...this.lastSeqs.entries()].slice(-MAX_RESUMED_SESSIONS);
    const frame = { action: "connection.resume", resume_token: resumeToken, last_seq: Object.fromEntries(newest) };
    return (await this.request(frame)).data as Resumed;
  }
}

/** One `npc.say`: `tokens()` streams the reply as it is spoken, `reply()` is the whole of it,
 * `stream(onToken)` both at once.
 *
 * After a reconnect the turn is asked again with its request id: the server answers with the
 * stored reply (no second turn), and `tokens()` then gives the part of it not streamed before the
 * drop, so the tokens always add up to `reply().text`. */
export class Turn {
  private readonly streamed: string[] = [];
  private finalReply: Reply | null = null;
  private failure: Error | null = null;

  constructor(
    private readonly client: Client,
    private readonly pending: Pending,
    private readonly deadline: number,
  ) {}

  get requestId(): string {
    return this.pending.frame.request_id;
  }

  /** The turn was asked again after a reconnect. */
  get resumed(): boolean {
    return this.pending.sends > 1;
  }

  /** The reply's text piece by piece; throws the turn's error (`AicoreError`, `ConnectionLost`,
   * `RequestTimeout`) if it fails. */
  async *tokens(): AsyncGenerator<string> {
    while (this.finalReply === null) {
      const token = await this.next();
      if (token !== null) yield token;
    }
    const said = this.streamed.join("");
    const text = this.finalReply.text;
    if (this.resumed && text.startsWith(said) && text.length > said.length) {
      const rest = text.slice(said.length);
      this.streamed.push(rest);
      yield rest;
    }
  }

  /** Every token to `onToken` as it comes, then the whole reply. */
  async stream(onToken: (text: string) => void): Promise<Reply> {
    for await (const token of this.tokens()) onToken(token);
    return this.reply();
  }

  /** The NPC's whole reply, once it is stored (waits for the turn to end). */
  async reply(): Promise<Reply> {
    while (this.finalReply === null) await this.next();
    return this.finalReply;
  }

  /** Stop this reply while it streams (see `Client.interrupt`). */
  interrupt(): Promise<NpcInterrupted> {
    return this.client.interrupt(this.requestId);
  }

  /** The next token, or null once the reply is in (throws what failed the turn). */
  private async next(): Promise<string | null> {
    if (this.failure !== null) throw this.failure;
    let frame: Frame;
    try {
      frame = await this.pending.inbox.take(this.deadline, "npc.say");
    } catch (failure) {
      this.failure = failure as Error;
      this.client.done(this.requestId);
      throw failure;
    }
    if (frame.type === "npc.token") {
      const text = String((frame.data as { text?: unknown } | undefined)?.text ?? "");
      this.streamed.push(text);
      return text;
    }
    this.client.done(this.requestId);
    if (frame.type === "error") {
      this.failure = errorFromEnvelope(frame);
      throw this.failure;
    }
    this.finalReply = frame.data as Reply;
    return null;
  }
}

/** Whether a push's event is new; the newest MAX_SEEN_UPDATES are remembered. */
function firstTime(seen: Set<string>, eventId: string): boolean {
  if (seen.has(eventId)) return false;
  seen.add(eventId);
  while (seen.size > MAX_SEEN_UPDATES) seen.delete(seen.values().next().value as string);
  return true;
}

function subscribeFrame(regions: string[] | undefined): Frame & { action: string } {
  return regions === undefined ? { action: "world.subscribe" } : { action: "world.subscribe", regions };
}

function errorCode(frame: Frame): string | undefined {
  return isObject(frame.error) && typeof frame.error.code === "string" ? frame.error.code : undefined;
}

function defaultSocket(url: string, protocols: string[]): SocketLike {
  const Native = (globalThis as { WebSocket?: new (url: string, protocols: string[]) => SocketLike }).WebSocket;
  if (Native === undefined) {
    throw new Error("no global WebSocket (Node 22+ and browsers have one): pass options.socket");
  }
  return new Native(url, protocols);
}

/** Open a connection to `url` (`ws://…/ws`, `wss://…`) as the token's player and say hello.
 *
 * `token`: a JWT, or a function giving a fresh one (called at every reconnect). */
export async function connect(url: string, token: string | (() => string), options: ClientOptions = {}): Promise<Client> {
  const client = new Client(url, token, options);
  await client.start();
  return client;
}

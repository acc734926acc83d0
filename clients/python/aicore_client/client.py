"""The client: one WebSocket connection to aicore, kept alive across drops.

Every request carries a generated `request_id` and waits for the frame that ends it (its reply
type, or `error`). When the connection drops, the client reconnects with backoff and, on the new
connection, sends `connection.resume` (the resume token of `connection.hello`, and the newest seq it
has of each session it follows): the missed lines come as `session.message` frames on
`messages()`. Then it sends every request still waiting again, with the SAME `request_id`: the server
answers a repeated `npc.say` with its first result (same `seq`, no second model call), or with
`request_in_progress` while the first run still works, which the client retries with backoff.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.typing import Subprotocol

from aicore_client.codec import Codec, Frame, JsonCodec
from aicore_client.errors import (
    AicoreError,
    ConnectionLost,
    GatewayError,
    HandshakeRefused,
    error_from_envelope,
)
from aicore_client.models import (
    ConnectionWarning,
    HistoryPage,
    Message,
    Pong,
    QuestUpdate,
    Reply,
    Resumed,
    SessionHead,
    Transcript,
    Welcome,
    WorldSubscribed,
    WorldUpdate,
)
from aicore_client.version import DEFAULT_CLIENT

log = logging.getLogger("aicore_client")

# (url, subprotocols) -> an open connection. The default dials TCP; tests may dial a Unix socket.
Opener = Callable[[str, Sequence[str] | None], Awaitable[ClientConnection]]
T = TypeVar("T")

MAX_RESUMED_SESSIONS = 20  # what one `connection.resume` may name (the server's limit)
MAX_TRACKED_SESSIONS = 200
MAX_QUEUED = 1000  # undelivered pushes kept per stream; the oldest go first
MAX_FRAME_BYTES = 1024 * 1024  # the server's frames are at most 128 KB
REQUEST_TIMEOUT_S = 30.0
TURN_TIMEOUT_S = 300.0  # a whole NPC turn, tokens and reply, across reconnects


@dataclass(frozen=True)
class Backoff:
    """Delays between reconnect attempts (and between repeats of a turn still in progress):
    `initial_s`, times `factor` each attempt, at most `max_s`, each shortened by up to `jitter` (so
    clients dropped together do not come back together). After `attempts` failed reconnects the
    client gives up: waiting requests fail with `ConnectionLost`."""

    initial_s: float = 0.25
    factor: float = 2.0
    max_s: float = 5.0
    attempts: int = 12
    jitter: float = 0.2

    def delays(self, rng: random.Random) -> Iterator[float]:
        delay = self.initial_s
        for _ in range(self.attempts):
            yield delay * (1 - self.jitter * rng.random())
            delay = min(delay * self.factor, self.max_s)

    def nth(self, n: int) -> float:
        return min(self.initial_s * self.factor**n, self.max_s)


@dataclass
class _Pending:
    """A request sent and not yet answered: what it sent, and the frames that answer it."""

    frame: Frame
    frames: asyncio.Queue[Frame | BaseException] = field(default_factory=asyncio.Queue)
    sends: int = 0
    generation: int = -1  # the connection it was last sent on
    in_progress_repeats: int = 0

    @property
    def request_id(self) -> str:
        return str(self.frame["request_id"])


def new_request_id() -> str:
    return f"py-{uuid.uuid4().hex}"


async def _dial(url: str, subprotocols: Sequence[str] | None) -> ClientConnection:
    offered = [Subprotocol(p) for p in subprotocols] if subprotocols else None
    return await websockets.connect(url, subprotocols=offered, max_size=MAX_FRAME_BYTES, open_timeout=15)


def with_query(url: str, **parameters: str) -> str:
    """The URL with these query parameters set (others kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in parameters]
    return urlunsplit(parts._replace(query=urlencode([*query, *parameters.items()])))


class Client:
    """One player's connection. Make it with `connect(...)`; close it with `close()` (or `async with`)."""

    def __init__(
        self,
        url: str,
        token: str | Callable[[], str],
        *,
        client: str = DEFAULT_CLIENT,
        codec: Codec | None = None,
        backoff: Backoff | None = None,
        opener: Opener | None = None,
        request_timeout_s: float = REQUEST_TIMEOUT_S,
        turn_timeout_s: float = TURN_TIMEOUT_S,
        rng: random.Random | None = None,
    ) -> None:
        self._url = url
        self._token = token
        self.client = client
        self._codec = codec or JsonCodec()
        self._backoff = backoff or Backoff()
        self._open_socket = opener or _dial
        self.request_timeout_s = request_timeout_s
        self.turn_timeout_s = turn_timeout_s
        self._rng = rng or random.Random()
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._generation = 0
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pending: dict[str, _Pending] = {}
        self._last_seq: OrderedDict[str, int] = OrderedDict()  # most recently used last
        self._messages: asyncio.Queue[Message] = asyncio.Queue(MAX_QUEUED)
        self._world: asyncio.Queue[WorldUpdate] = asyncio.Queue(MAX_QUEUED)
        self._world_seen: OrderedDict[str, None] = OrderedDict()
        self._quests: asyncio.Queue[QuestUpdate] = asyncio.Queue(MAX_QUEUED)
        self._quests_seen: OrderedDict[str, None] = OrderedDict()
        self._subscribed_regions: list[str] | None = None
        self._subscribed = False
        self._lost: BaseException | None = None
        self.welcome: Welcome | None = None
        self.warnings: list[ConnectionWarning] = []
        self.gateway_errors: deque[GatewayError] = deque(maxlen=100)
        self.drops = 0  # connections lost
        self.reconnects = 0  # connections brought back (each followed by a resume)
        self.last_resumed: Resumed | None = None

    # --- the connection ------------------------------------------------------------------------

    async def start(self, *, hello: bool = True) -> None:
        """Open the connection (a refused handshake raises `HandshakeRefused` at once, no retry)
        and, with `hello`, say `connection.hello` (the resume token is kept)."""
        self._ws = await self._open()
        self._connected.set()
        self._runner = asyncio.create_task(self._run())
        if hello:
            await self.hello()

    async def close(self) -> None:
        """Close the connection; requests still waiting fail with `ConnectionLost`."""
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        for task in list(self._tasks):
            task.cancel()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def socket(self) -> ClientConnection | None:
        """The current WebSocket connection (diagnostics); None between a drop and the reconnect."""
        return self._ws if self.connected else None

    def simulate_drop(self) -> None:
        """Cut the TCP connection without a close frame, as a lost network does: the client
        reconnects and resumes. For tests and demos of a game's reconnect handling."""
        if self._ws is not None:
            self._ws.transport.abort()

    @property
    def last_seq(self) -> Mapping[str, int]:
        """The newest seq the client has of each session it follows (sent in `connection.resume`)."""
        return dict(self._last_seq)

    def follow(self, session_id: str, last_seq: int = 0) -> None:
        """Follow a session from `last_seq` (e.g. what a game saved before a restart): after a drop,
        the lines after it are delivered on `messages()`. Sessions the client talks in, reads or
        joins are followed without asking."""
        self._seen(session_id, last_seq)

    async def _open(self) -> ClientConnection:
        token = self._token() if callable(self._token) else self._token
        url = with_query(self._url, token=token, client=self.client)
        wanted = self._codec.subprotocol
        try:
            ws = await self._open_socket(url, [wanted] if wanted else None)
        except InvalidStatus as refused:
            raise HandshakeRefused(refused.response.status_code) from None
        if wanted is not None and ws.subprotocol != wanted:
            await ws.close()
            raise ConnectionLost(f"the server did not agree to the {wanted} subprotocol")
        return ws

    async def _run(self) -> None:
        """Read frames; when the connection drops, reconnect and recover, until closed or given up."""
        try:
            while True:
                assert self._ws is not None
                await self._read(self._ws)
                self._connected.clear()
                if self._closing:
                    return
                self.drops += 1
                log.info("aicore connection dropped; reconnecting")
                for pending in list(self._pending.values()):
                    if pending.frame["action"] == "connection.resume":  # the next recovery resumes anew
                        pending.frames.put_nowait(ConnectionLost("dropped while resuming"))
                try:
                    self._ws = await self._reopen()
                except ConnectionLost as failure:
                    self._lost = failure
                    return
                except HandshakeRefused as refused:  # e.g. 401: the token expired meanwhile
                    self._lost = ConnectionLost(f"the server refused to reconnect (HTTP {refused.status})")
                    self._lost.__cause__ = refused
                    return
                self._generation += 1
                self.reconnects += 1
                self._connected.set()
                self._spawn(self._recover())
        finally:
            self._connected.clear()
            lost = self._lost or ConnectionLost("the client was closed")
            for pending in list(self._pending.values()):
                pending.frames.put_nowait(lost)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                try:
                    self._on_frame(self._codec.decode(message))
                except (ValueError, KeyError, TypeError):  # pydantic's ValidationError is a ValueError
                    log.warning("aicore sent a frame this client cannot read; skipped", exc_info=True)
        except ConnectionClosed:
            pass

    async def _reopen(self) -> ClientConnection:
        last: BaseException | None = None
        for delay in self._backoff.delays(self._rng):
            await asyncio.sleep(delay)
            if self._closing:
                raise ConnectionLost("the client was closed")
            try:
                return await self._open()
            except HandshakeRefused as refused:
                if refused.status < 500:  # a token expired, a client too old: trying again changes nothing
                    raise
                last = refused
            except (OSError, TimeoutError, WebSocketException) as failure:
                last = failure
        raise ConnectionLost(f"could not reconnect in {self._backoff.attempts} attempts: {last}")

    async def _recover(self) -> None:
        """On a new connection: resume (missed lines), subscribe again, repeat what still waits."""
        if self.welcome is not None:
            try:
                self.last_resumed = await self._resume(self.welcome.resume_token)
            except AicoreError as refused:  # the token expired (a day): a new hello gives a new one
                log.info("resume refused (%s); saying hello again", refused.code)
                with contextlib.suppress(AicoreError):
                    await self.hello()
            except (ConnectionLost, TimeoutError):
                return  # dropped again: the next reconnect recovers
        if self._subscribed:
            with contextlib.suppress(AicoreError, ConnectionLost, TimeoutError):
                await self._request(self._subscribe_frame(self._subscribed_regions))
        for pending in list(self._pending.values()):
            stale = pending.generation != self._generation and pending.request_id in self._pending
            if stale and pending.frame["action"] != "connection.resume":
                await self._send(pending)

    def _spawn(self, work: Awaitable[T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- frames in -----------------------------------------------------------------------------

    def _on_frame(self, frame: Frame) -> None:
        kind = frame.get("type")
        data = frame.get("data")
        if kind is None:  # API Gateway's own frame: {"message", "connectionId", "requestId"}
            self.gateway_errors.append(GatewayError(str(frame.get("message")), frame.get("requestId")))
            log.warning("aicore's gateway said: %s", frame.get("message"))
            return
        if kind == "world.update":
            self._on_world_update(WorldUpdate.model_validate(data))
            return
        if kind == "quest.update":
            self._on_quest_update(QuestUpdate.model_validate(data))
            return
        if kind == "connection.warning":
            self.warnings.append(ConnectionWarning.model_validate(data))
            return
        if kind == "session.message":
            self._on_session_message(Message.model_validate(data))
            return
        self._track(kind, frame)
        pending = self._pending.get(str(frame.get("request_id")))
        if pending is None:
            return  # an answer to a request already answered (or never ours)
        if kind == "error" and pending.sends > 1 and _code(frame) == "request_in_progress":
            # the first run of a repeated request still works: ask again until it has the answer
            self._spawn(self._send_later(pending, self._backoff.nth(pending.in_progress_repeats)))
            pending.in_progress_repeats += 1
            return
        pending.frames.put_nowait(frame)

    def _track(self, kind: str, frame: Frame) -> None:
        """Seqs the client now has, from the answers that carry them."""
        data = frame.get("data")
        if not frame.get("ok") or not isinstance(data, dict):
            return
        if kind == "npc.reply":
            self._seen(str(data["session_id"]), int(data["seq"]))
        elif kind == "session.joined" and isinstance(data.get("message_count"), int):
            self._seen(str(data["session_id"]), int(data["message_count"]))

    def _seen(self, session_id: str, seq: int) -> None:
        self._last_seq[session_id] = max(seq, self._last_seq.get(session_id, 0))
        self._last_seq.move_to_end(session_id)
        while len(self._last_seq) > MAX_TRACKED_SESSIONS:
            self._last_seq.popitem(last=False)

    def _on_session_message(self, message: Message) -> None:
        """A line the client missed, once: a line it already has (a resume repeated after a second
        drop) is not delivered again."""
        session_id = message.session_id
        if session_id is not None:
            if message.seq <= self._last_seq.get(session_id, 0):
                return
            self._seen(session_id, message.seq)
        _offer(self._messages, message)

    def _on_world_update(self, update: WorldUpdate) -> None:
        if _first_time(self._world_seen, update.event_id):  # pushed again (a resubscribe): once is enough
            _offer(self._world, update)

    def _on_quest_update(self, update: QuestUpdate) -> None:
        if _first_time(self._quests_seen, update.event_id):
            _offer(self._quests, update)

    # --- frames out ----------------------------------------------------------------------------

    def _register(self, frame: Frame) -> _Pending:
        pending = _Pending({**frame, "request_id": frame.get("request_id") or new_request_id()})
        self._pending[pending.request_id] = pending
        if self._lost is not None:
            pending.frames.put_nowait(self._lost)
        return pending

    async def _send(self, pending: _Pending) -> None:
        """Send now if connected; else (or if the send fails) recovery sends it on the next connection."""
        if not self._connected.is_set() or self._ws is None:
            return
        pending.generation = self._generation
        pending.sends += 1
        with contextlib.suppress(ConnectionClosed):
            await self._ws.send(self._codec.encode(pending.frame))

    async def _send_later(self, pending: _Pending, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        if pending.request_id in self._pending:
            await self._send(pending)

    async def _request(self, frame: Frame, timeout_s: float | None = None) -> Frame:
        """Send a frame and return the frame that ends it (raising the `error` frame's error)."""
        pending = self._register(frame)
        try:
            await self._send(pending)
            async with asyncio.timeout(timeout_s or self.request_timeout_s):
                while True:
                    answer = await _next_frame(pending)
                    if answer.get("type") == "error":
                        raise error_from_envelope(answer)
                    if answer.get("type") != "npc.token":
                        return answer
        finally:
            self._pending.pop(pending.request_id, None)

    # --- actions -------------------------------------------------------------------------------

    async def hello(self) -> Welcome:
        """`connection.hello`: the resume token (kept for reconnects), the protocol, the capabilities."""
        answer = await self._request({"action": "connection.hello", "client": self.client})
        self.welcome = Welcome.model_validate(answer["data"])
        return self.welcome

    async def ping(self) -> Pong:
        """`ping` → `pong`: an application-level keep-alive (a round trip through the handlers)."""
        return Pong.model_validate((await self._request({"action": "ping"}))["data"])

    async def say(
        self, npc_id: str | None, text: str, session_id: str | None = None, *, debug: bool = False
    ) -> Turn:
        """Say `text` to an NPC (in `session_id`, or the player↔NPC session): a `Turn` to stream.
        In a group session `npc_id` may be None: the session's director picks who answers. The
        other participants get the line and the reply as `session.message`s (`messages()`)."""
        frame: Frame = {"action": "npc.say", "text": text}
        if npc_id is not None:
            frame["npc_id"] = npc_id
        if session_id is not None:
            frame["session_id"] = session_id
        if debug:
            frame["debug"] = True
        pending = self._register(frame)
        await self._send(pending)
        return Turn(self, pending, self.turn_timeout_s)

    async def listen(
        self, npc_id: str | None, chunks: Sequence[bytes], session_id: str | None = None
    ) -> tuple[Transcript, Turn]:
        """Speak to an NPC: `chunks` of PCM (s16le, 16 kHz, mono, at most 0.5 s each) sent in order as
        `npc.listen` frames, the last with `final`, each after the previous one was taken. The server
        may hear the end of speech first (then the rest is not sent). What it heard, and the `Turn`
        of the reply to stream, as `say` gives it."""
        if not chunks:
            raise ValueError("listen needs at least one chunk of audio")
        frame: Frame = {"action": "npc.listen"}
        if npc_id is not None:
            frame["npc_id"] = npc_id
        if session_id is not None:
            frame["session_id"] = session_id
        pending = self._register(frame)
        try:
            async with asyncio.timeout(self.turn_timeout_s):
                transcript = await self._send_chunks(pending, chunks)
        except BaseException:
            self._done(pending)
            raise
        return transcript, Turn(self, pending, self.turn_timeout_s)

    async def _send_chunks(self, pending: _Pending, chunks: Sequence[bytes]) -> Transcript:
        for seq, pcm in enumerate(chunks):
            final = seq == len(chunks) - 1
            # the frame sent last is the one a reconnect repeats: the final chunk gets the first answer
            pending.frame.update(seq=seq, audio=base64.b64encode(pcm).decode("ascii"), final=final)
            await self._send(pending)
            while True:
                answer = await _next_frame(pending)
                kind = answer.get("type")
                if kind == "error":
                    raise error_from_envelope(answer)
                if kind == "npc.transcript":
                    return Transcript.model_validate(answer["data"])
                if kind == "npc.listening" and answer["data"].get("seq") == seq:
                    break
        raise AicoreError("invalid_request", "The server took every chunk and wrote nothing down.", {})

    async def history(self, session_id: str, *, before: int | None = None, limit: int = 50) -> HistoryPage:
        """A page of a session's messages, oldest first (the newest page, or those before `before`)."""
        frame: Frame = {"action": "session.history", "session_id": session_id, "limit": limit}
        if before is not None:
            frame["before"] = before
        answer = await self._request(frame)
        page = HistoryPage.model_validate(answer["data"])
        if before is None:  # the newest page: the client now has the session up to its last line
            self._seen(page.session_id, max((m.seq for m in page.messages), default=0))
        return page

    async def join(
        self, session_id: str, participant_id: str | None = None, kind: str = "player"
    ) -> SessionHead:
        frame: Frame = {"action": "session.join", "session_id": session_id, "kind": kind}
        if participant_id is not None:
            frame["participant_id"] = participant_id
        return SessionHead.model_validate((await self._request(frame))["data"])

    async def leave(self, session_id: str, participant_id: str | None = None) -> SessionHead:
        frame: Frame = {"action": "session.leave", "session_id": session_id}
        if participant_id is not None:
            frame["participant_id"] = participant_id
        return SessionHead.model_validate((await self._request(frame))["data"])

    async def subscribe_world(self, regions: Sequence[str] | None = None) -> WorldSubscription:
        """Pushes of the token's world (some regions, or all): iterate the subscription for them.
        Subscribing again replaces the regions; after a reconnect the client subscribes again."""
        regions_list = list(regions) if regions is not None else None
        answer = await self._request(self._subscribe_frame(regions_list))
        self._subscribed, self._subscribed_regions = True, regions_list
        return WorldSubscription(self, WorldSubscribed.model_validate(answer["data"]))

    async def unsubscribe_world(self) -> None:
        self._subscribed = False
        await self._request({"action": "world.unsubscribe"})

    async def messages(self) -> AsyncIterator[Message]:
        """Lines of followed sessions delivered as `session.message` frames (what a resume found
        missed), in order. One consumer."""
        while True:
            yield await self._messages.get()

    async def quest_updates(self) -> AsyncIterator[QuestUpdate]:
        """The player's `quest.update` pushes (a quest offered, accepted, progressed, completed), each
        event once, in the order they came. No subscription: they reach every connection of the
        player. One consumer."""
        while True:
            yield await self._quests.get()

    def pending_messages(self) -> list[Message]:
        """The `session.message`s delivered and not yet taken, taken now (without waiting)."""
        taken = []
        while not self._messages.empty():
            taken.append(self._messages.get_nowait())
        return taken

    async def _resume(self, resume_token: str) -> Resumed:
        newest = list(self._last_seq.items())[-MAX_RESUMED_SESSIONS:]
        frame: Frame = {"action": "connection.resume", "resume_token": resume_token, "last_seq": dict(newest)}
        return Resumed.model_validate((await self._request(frame))["data"])

    @staticmethod
    def _subscribe_frame(regions: list[str] | None) -> Frame:
        frame: Frame = {"action": "world.subscribe"}
        if regions is not None:
            frame["regions"] = regions
        return frame

    async def _world_update(self) -> WorldUpdate:
        return await self._world.get()

    def _done(self, pending: _Pending) -> None:
        self._pending.pop(pending.request_id, None)


class Turn:
    """One `npc.say`: `tokens()` streams the reply as it is spoken, `reply()` is the whole of it.

    After a reconnect the turn is asked again with its request id: the server answers with the
    stored reply (no second turn), and `tokens()` then gives the part of it not streamed before the
    drop, so the tokens always add up to `reply().text`."""

    def __init__(self, client: Client, pending: _Pending, timeout_s: float) -> None:
        self._client = client
        self._pending = pending
        self._deadline = asyncio.get_running_loop().time() + timeout_s
        self._streamed: list[str] = []
        self._reply: Reply | None = None
        self._error: BaseException | None = None

    @property
    def request_id(self) -> str:
        return self._pending.request_id

    @property
    def resumed(self) -> bool:
        """The turn was asked again after a reconnect."""
        return self._pending.sends > 1

    async def tokens(self) -> AsyncIterator[str]:
        """The reply's text piece by piece; raises the turn's error (`AicoreError`, `ConnectionLost`,
        `TimeoutError`) if it fails."""
        while self._reply is None:
            token = await self._next()
            if token is not None:
                yield token
        said = "".join(self._streamed)
        if self.resumed and self._reply.text.startswith(said) and len(self._reply.text) > len(said):
            rest = self._reply.text[len(said) :]
            self._streamed.append(rest)
            yield rest

    async def reply(self) -> Reply:
        """The NPC's whole reply, once it is stored (waits for the turn to end)."""
        while self._reply is None:
            await self._next()
        return self._reply

    async def _next(self) -> str | None:
        """The next token, or None once the reply is in (raises what failed the turn)."""
        if self._error is not None:
            raise self._error
        try:
            async with asyncio.timeout_at(self._deadline):
                frame = await _next_frame(self._pending)
        except BaseException as failure:
            self._error = failure
            self._client._done(self._pending)
            raise
        if frame.get("type") == "npc.token":
            text = str(frame["data"]["text"])
            self._streamed.append(text)
            return text
        self._client._done(self._pending)
        if frame.get("type") == "error":
            self._error = error_from_envelope(frame)
            raise self._error
        self._reply = Reply.model_validate(frame["data"])
        return None


class WorldSubscription:
    """`async for update in subscription`: `world.update` pushes, each change once."""

    def __init__(self, client: Client, subscribed: WorldSubscribed) -> None:
        self._client = client
        self.world_id = subscribed.world_id
        self.regions = subscribed.regions

    def __aiter__(self) -> WorldSubscription:
        return self

    async def __anext__(self) -> WorldUpdate:
        return await self._client._world_update()


async def _next_frame(pending: _Pending) -> Frame:
    item = await pending.frames.get()
    if isinstance(item, BaseException):
        raise item
    return item


def _code(frame: Frame) -> str | None:
    error = frame.get("error")
    return str(error.get("code")) if isinstance(error, dict) else None


def _first_time(seen: OrderedDict[str, None], event_id: str) -> bool:
    """Whether a push's event is new; the newest MAX_QUEUED are remembered."""
    if event_id in seen:
        return False
    seen[event_id] = None
    while len(seen) > MAX_QUEUED:
        seen.popitem(last=False)
    return True


def _offer(queue: asyncio.Queue[T], item: T) -> None:
    """Queue a push; when nobody has taken the last MAX_QUEUED, the oldest makes room."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)


async def connect(
    url: str,
    token: str | Callable[[], str],
    *,
    client: str = DEFAULT_CLIENT,
    codec: Codec | None = None,
    backoff: Backoff | None = None,
    opener: Opener | None = None,
    hello: bool = True,
    request_timeout_s: float = REQUEST_TIMEOUT_S,
    turn_timeout_s: float = TURN_TIMEOUT_S,
) -> Client:
    """Open a connection to `url` (`ws://…/ws`, `wss://…`) as the token's player and say hello.

    `token`: a JWT, or a function giving a fresh one (called at every reconnect). `client`:
    `<platform>/<version>` sent as `?client=` and in the hello (the server may warn or refuse an
    old one). Raises `HandshakeRefused` when the server turns the connection away."""
    opened = Client(
        url,
        token,
        client=client,
        codec=codec,
        backoff=backoff,
        opener=opener,
        request_timeout_s=request_timeout_s,
        turn_timeout_s=turn_timeout_s,
    )
    await opened.start(hello=hello)
    return opened

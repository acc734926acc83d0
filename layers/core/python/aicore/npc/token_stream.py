"""Streaming a reply's tokens to the player: frames paced by time, pushed off the model's path.

Every `npc.token` frame is a billed WebSocket message and a `PostToConnection` call, so tokens
are batched by time: the first token goes out at once (it is what the player waits for), then at
most one frame per interval (about 50 ms: faster than anyone reads) carries everything that
arrived since, and whatever is left goes out before the reply frame. A slow push never slows the
model: pushes run in their own thread. Once the client is gone nothing more is pushed, and
`client_gone` tells the turn to stop the model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from aicore.connections import ClientPusher
from aicore.frames import token_frame
from aicore.observability import logger

DEFAULT_INTERVAL_S = 0.05
Clock = Callable[[], float]


class FramePacer:
    """When the next frame may go, and what it carries: the first token at once, then at most one
    frame per `interval_s`. Pure bookkeeping over an injected clock (the thread is `TokenStream`)."""

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S, clock: Clock = time.monotonic) -> None:
        self._interval_s, self._clock = interval_s, clock
        self._pending: list[str] = []
        self._last_sent: float | None = None
        self.frames = 0

    def add(self, text: str) -> None:
        self._pending.append(text)

    def wait_s(self) -> float | None:
        """Seconds until a frame may go (0: now); None when there is nothing to send."""
        if not self._pending:
            return None
        if self._last_sent is None:
            return 0.0
        return max(0.0, self._last_sent + self._interval_s - self._clock())

    def take(self) -> str:
        """Everything pending, as one frame's text, sent now."""
        text = "".join(self._pending)
        self._pending.clear()
        self._last_sent = self._clock()
        self.frames += 1
        return text


class TokenStream:
    """Pushes a reply's tokens to one client from a background thread, paced by a `FramePacer`."""

    def __init__(
        self,
        pusher: ClientPusher,
        connection_id: str,
        request_id: str,
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self._pusher, self._connection_id, self._request_id = pusher, connection_id, request_id
        self._pacer = FramePacer(interval_s)
        self._finished = False
        self._changed = threading.Condition()
        self.client_gone = False
        self.first_frame_sent = threading.Event()  # what must reach the player before anything else
        self._sender = threading.Thread(target=self._send_until_finished, name="token-stream", daemon=True)
        self._sender.start()

    @property
    def frames(self) -> int:
        return self._pacer.frames

    def push(self, text: str) -> bool:
        """Queue a token; False once the client is gone (the caller should stop producing)."""
        with self._changed:
            if self.client_gone:
                return False
            self._pacer.add(text)
            self._changed.notify()
        return True

    def finish(self) -> None:
        """Send what is left and wait for it: the reply frame must come after every token."""
        with self._changed:
            self._finished = True
            self._changed.notify()
        self._sender.join()

    def _send_until_finished(self) -> None:
        try:
            while (text := self._next_frame()) is not None:
                self._send(text)
                self.first_frame_sent.set()
        finally:
            self.first_frame_sent.set()  # a reply without tokens holds nothing back

    def _next_frame(self) -> str | None:
        with self._changed:
            while True:
                wait_s = self._pacer.wait_s()
                if wait_s is None:
                    if self._finished:
                        return None
                    self._changed.wait()
                elif wait_s > 0 and not self._finished:
                    self._changed.wait(wait_s)
                else:
                    return self._pacer.take()

    def _send(self, text: str) -> None:
        if self.client_gone:
            return
        try:
            delivered = self._pusher.send(self._connection_id, token_frame(self._request_id, text))
        except Exception:
            logger.exception("Pushing tokens failed; the reply is still stored")
            delivered = False
        if not delivered:
            with self._changed:
                self.client_gone = True

"""aicore-client: an async, typed client of aicore's WebSocket protocol.

    async with await connect("ws://127.0.0.1:8000/ws", token) as client:
        turn = await client.say("mira", "Hello!")
        async for text in turn.tokens():
            print(text, end="", flush=True)
        reply = await turn.reply()

A dropped connection is reconnected with backoff and resumed (`connection.resume`): missed session
messages arrive on `client.messages()`, and a turn in flight is asked again with the same
`request_id`, so the server answers it once and never runs it twice.
"""

from aicore_client.client import Backoff, Client, Turn, WorldSubscription, connect
from aicore_client.codec import Codec, JsonCodec
from aicore_client.errors import (
    AicoreError,
    ConnectionLost,
    GatewayError,
    HandshakeRefused,
    RateLimited,
    RequestInProgress,
    UpgradeRequired,
)
from aicore_client.models import (
    ConnectionWarning,
    HistoryPage,
    Message,
    Participant,
    Pong,
    QuestUpdate,
    Reply,
    Resumed,
    ResumedSession,
    SessionHead,
    Transcript,
    Welcome,
    WorldSubscribed,
    WorldUpdate,
)
from aicore_client.version import CLIENT_PLATFORM, __version__

__all__ = [
    "CLIENT_PLATFORM",
    "AicoreError",
    "Backoff",
    "Client",
    "Codec",
    "ConnectionLost",
    "ConnectionWarning",
    "GatewayError",
    "HandshakeRefused",
    "HistoryPage",
    "JsonCodec",
    "Message",
    "Participant",
    "Pong",
    "QuestUpdate",
    "RateLimited",
    "Reply",
    "RequestInProgress",
    "Resumed",
    "ResumedSession",
    "SessionHead",
    "Transcript",
    "Turn",
    "UpgradeRequired",
    "Welcome",
    "WorldSubscribed",
    "WorldSubscription",
    "WorldUpdate",
    "__version__",
    "connect",
]

"""The TypeScript client's protobuf codec (clients/typescript, its built bundle) against Python's
aicore.wire: every server frame Python encodes reads the same in TypeScript, and every client frame
TypeScript encodes reads the same in Python. Runs the bundle in Node once for all frames.

The bundle is built by `make setup` (npm ci + npm run build in clients/typescript); without it, or
without node, these tests are skipped and say so.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from aicore.frames import KNOWN_ACTIONS, SERVER_FRAME_TYPES, parse_client_frame
from aicore.wire import decode_client, encode_server
from aicore_client.protobuf import decode_server
from tests.unit.test_wire import CLIENT_FRAMES, SERVER_FRAMES

CLIENT_DIR = Path(__file__).resolve().parents[2] / "clients" / "typescript"
BUNDLE = CLIENT_DIR / "dist" / "aicore-client.js"

# Reads {"server": {type: base64 ServerFrame}, "client": {action: frame}} on stdin; writes what the
# TypeScript codec made of them: decoded server frames, and each client frame as ClientFrame bytes
# and as the text frame the ProtobufCodec sends.
NODE_SCRIPT = """
const aicore = await import(process.argv[1]);
const { decodeServer, encodeClient, ProtobufCodec, base64Decode, base64Encode } = aicore;
let input = "";
for await (const chunk of process.stdin) input += chunk;
const { server, client } = JSON.parse(input);
const codec = new ProtobufCodec();
const out = { server: {}, client: {}, text: {} };
for (const [type, b64] of Object.entries(server)) out.server[type] = decodeServer(base64Decode(b64));
for (const [action, frame] of Object.entries(client)) {
  out.client[action] = base64Encode(encodeClient(frame));
  out.text[action] = codec.encode(frame);
}
process.stdout.write(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def through_typescript() -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the TypeScript client's codec tests need Node 20+")
    if not BUNDLE.exists():
        pytest.skip(f"the TypeScript client is not built ({BUNDLE} is missing): run make setup")
    frames = {
        "server": {
            kind: base64.b64encode(encode_server(frame)).decode() for kind, frame in SERVER_FRAMES.items()
        },
        "client": CLIENT_FRAMES,
    }
    done = subprocess.run(
        [node, "--input-type=module", "-e", NODE_SCRIPT, BUNDLE.as_uri()],
        input=json.dumps(frames),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("frame_type", SERVER_FRAME_TYPES)
def test_typescript_reads_every_server_frame_as_python_does(
    frame_type: str, through_typescript: dict[str, Any]
) -> None:
    python_reads = decode_server(encode_server(SERVER_FRAMES[frame_type]))
    assert through_typescript["server"][frame_type] == python_reads


@pytest.mark.parametrize("action", KNOWN_ACTIONS)
def test_the_server_reads_every_client_frame_typescript_sends(
    action: str, through_typescript: dict[str, Any]
) -> None:
    sent = CLIENT_FRAMES[action]

    assert decode_client(base64.b64decode(through_typescript["client"][action])) == sent
    # the text frame the client puts on the wire parses and validates as its JSON twin does
    text_frame = through_typescript["text"][action]
    assert parse_client_frame(text_frame) == parse_client_frame(json.dumps(sent))

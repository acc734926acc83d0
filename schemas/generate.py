"""Generates Python code from `schemas/*.proto` into the core layer, and the frames into the Python
client library (clients/python: it must not import aicore): `python schemas/generate.py`.

`make protos` runs it (every `make setup`, hence `make run` and `make test`); the tests run it too
when the generated code is missing or older than its `.proto`. Files whose output is up to date are
left alone. The output (`*_pb2.py` and its `.pyi`) is not committed (.gitignore).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parent
OUTPUT = SCHEMAS.parent / "layers" / "core" / "python" / "aicore" / "schemas"
CLIENT_OUTPUT = SCHEMAS.parent / "clients" / "python" / "aicore_client" / "schemas"
# Where each output folder's code comes from: the client needs the frames only.
SOURCES = {OUTPUT: "*.proto", CLIENT_OUTPUT: "frames.proto"}


def stale() -> list[tuple[Path, Path]]:
    """(proto, output folder) pairs whose generated module is missing or older than the .proto."""
    found = []
    for output, pattern in SOURCES.items():
        for proto in sorted(SCHEMAS.glob(pattern)):
            generated = output / f"{proto.stem}_pb2.py"
            if not generated.exists() or generated.stat().st_mtime < proto.stat().st_mtime:
                found.append((proto, output))
    return found


def generate(pairs: list[tuple[Path, Path]]) -> None:
    for output in sorted({output for _, output in pairs}):
        protos = [str(proto) for proto, into in pairs if into == output]
        # `python -m grpc_tools.protoc` adds the well-known types' folder (google/protobuf/*.proto).
        command = [sys.executable, "-m", "grpc_tools.protoc", f"-I{SCHEMAS}"]
        subprocess.run([*command, f"--python_out={output}", f"--pyi_out={output}", *protos], check=True)


if __name__ == "__main__":
    generate(stale())

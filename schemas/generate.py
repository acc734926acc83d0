"""Generates Python code from `schemas/*.proto` into the core layer: `python schemas/generate.py`.

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


def stale() -> list[Path]:
    """The .proto files whose generated module is missing or older than they are."""
    found = []
    for proto in sorted(SCHEMAS.glob("*.proto")):
        generated = OUTPUT / f"{proto.stem}_pb2.py"
        if not generated.exists() or generated.stat().st_mtime < proto.stat().st_mtime:
            found.append(proto)
    return found


def generate(protos: list[Path]) -> None:
    if not protos:
        return
    # `python -m grpc_tools.protoc` adds the well-known types' folder (google/protobuf/*.proto) itself.
    command = [sys.executable, "-m", "grpc_tools.protoc", f"-I{SCHEMAS}"]
    command += [f"--python_out={OUTPUT}", f"--pyi_out={OUTPUT}", *(str(p) for p in protos)]
    subprocess.run(command, check=True)


if __name__ == "__main__":
    generate(stale())

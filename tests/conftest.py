"""Before any test imports aicore: the code generated from schemas/*.proto exists and is current
(`make protos` makes it; this covers a bare `pytest` run from a fresh clone or a changed .proto)."""

import runpy
from pathlib import Path

_generator = runpy.run_path(str(Path(__file__).resolve().parents[1] / "schemas" / "generate.py"))
_generator["generate"](_generator["stale"]())

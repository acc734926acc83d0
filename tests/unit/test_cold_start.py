"""Cold starts stay cheap: what each handler imports is held to a budget (counted, not timed: a clock
on a busy machine proves nothing). bench/cold_start.py measures the milliseconds."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aicore.topology import TOPOLOGY, Function
from bench.cold_start import IMPORT_HANDLER, lambda_environment

# Measured with the fixes of issue 9 (Tracer patching botocore only, no pydantic-settings): 206-284
# modules beyond boto3; 335-391 before. Libraries (the standard library's and third parties') are
# what a cold start pays for; aicore's own modules are small and grow with the features a handler
# serves (the world, languages, settings: 11-77 of them), so they have a budget of their own.
# Each leaves a little room, not a slow creep.
LIBRARY_BUDGET = 270  # the HTTP APIs on the event handler: 262-265
OWN_BUDGET = 90  # npc-memory (memories, moods, languages, the world's state): 77
# Never at import: laptop-only code, libraries a Lambda does not need, what only some handlers use.
NEVER = {"pydantic_settings", "requests", "sqlite3", "aicore.local", "moto", "llama_cpp", "numpy"}
ONLY_THE_AUTHORIZER = {"jwt", "cryptography"}
# They sign or verify ES256 tokens: PyJWT with cryptography (~60 modules) is not counted against
# their budget (bench/cold_start.py measures what it costs).
HANDLE_TOKENS = {"authorizer", "identity-api", "identity-keys"}
TOKEN_LIBRARIES = {"jwt", "cryptography", "_cffi_backend", "_openssl"}
# Functions that score vectors need numpy (84 modules, ~60 ms): not counted against their budget.
SCORES_VECTORS = {
    "npc-say",  # ranks memories and lore in process
    "lore-api",
    "knowledge-steps",
    "npc-memory",
    "mind-api",
    "mind-reflection",
    "mind-reflection-steps",
}
IMPORTS = (
    "import json, sys; import boto3; before = set(sys.modules); " + IMPORT_HANDLER + "; "
    "print(json.dumps(sorted(set(sys.modules) - before)))"
)


@pytest.mark.parametrize("fn", TOPOLOGY.all_functions, ids=lambda fn: fn.name)
def test_a_handler_imports_little_beyond_boto3_and_nothing_it_does_not_need(fn: Function) -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS, fn.module_path],
        check=True,
        env=lambda_environment(fn),
        capture_output=True,
        text=True,
    )
    imported: list[str] = json.loads(done.stdout)
    allowed = ({"numpy"} if fn.name in SCORES_VECTORS else set()) | (
        TOKEN_LIBRARIES if fn.name in HANDLE_TOKENS else set()
    )
    counted = [name for name in imported if name.split(".")[0] not in allowed]
    own = [name for name in counted if name.split(".")[0] == "aicore"]
    assert len(counted) - len(own) <= LIBRARY_BUDGET
    assert len(own) <= OWN_BUDGET
    names = set(imported) | {name.split(".")[0] for name in imported}
    unwanted = (NEVER - allowed) | (set() if fn.name in HANDLE_TOKENS else ONLY_THE_AUTHORIZER)
    assert not names & unwanted

"""`.env.example` lists every knob: each setting a function reads, each key of an environment in
cdk.json, and the local runtime's variables."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aicore.local.budget import DEADLINE_SCALE_VARIABLE
from aicore.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / ".env.example").read_text(encoding="utf-8")


def _keys(entry: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for key, value in entry.items():
        if isinstance(value, dict) and key != "endpoints":
            keys |= _keys(value, f"{prefix}{key}.")
        else:
            keys.add(f"{prefix}{key}")
    return keys


def test_every_setting_a_function_reads_is_listed() -> None:
    listed = set(re.findall(r"\b[A-Z][A-Z0-9_]{2,}\b", EXAMPLE))
    assert {name.upper() for name in Settings.model_fields} - listed == set()


def test_every_key_of_an_environment_in_cdk_json_is_listed() -> None:
    environments = json.loads((ROOT / "cdk.json").read_text())["context"]["aicore:environments"]
    keys = set().union(*(_keys(entry) for entry in environments.values()))
    assert {k for k in keys if not re.search(rf"(?<![\w.]){re.escape(k)}\b", EXAMPLE)} == set()


def test_the_local_runtime_s_variables_are_listed() -> None:
    for name in (
        DEADLINE_SCALE_VARIABLE,
        "AICORE_LOCAL_JWT_SECRET",
        "AICORE_LOCAL_WEBHOOK_SECRET",
        "AICORE_ENV",
    ):
        assert f"# {name}=" in EXAMPLE

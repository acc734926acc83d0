"""DESIGN's import rules are checked by `lint-imports` (make lint); here, that its contracts name every
module of aicore, so a module added later cannot slip past them."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path
from typing import Any

import aicore

ROOT = Path(__file__).resolve().parents[2]
EVERY_MODULE = {f"aicore.{m.name}" for m in pkgutil.iter_modules(aicore.__path__)}


def _contract(contract_id: str) -> dict[str, Any]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c["id"] == contract_id)


def test_the_layer_contract_covers_every_module_but_the_local_runtime() -> None:
    assert set(_contract("layer-without-local")["source_modules"]) == EVERY_MODULE - {"aicore.local"}


def test_the_logic_contract_covers_every_module_but_adapters_wiring_and_local() -> None:
    adapters_and_wiring = {"aicore.aws", "aicore.wiring", "aicore.local"}
    assert set(_contract("logic-without-aws")["source_modules"]) == EVERY_MODULE - adapters_and_wiring


def test_aicore_as_a_whole_may_not_import_cdk() -> None:
    assert _contract("no-cdk")["source_modules"] == ["aicore"]

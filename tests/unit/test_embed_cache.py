"""The local embed tier's Hugging Face cache: links to the model package's files, whatever an
earlier install left there (the cache lives under /tmp and outlives virtual environments)."""

from __future__ import annotations

import os
from pathlib import Path

from aicore.local.embed_engine import MODEL_ID, SNAPSHOT, hub_cache


def _model(tmp_path: Path) -> Path:
    model = tmp_path / "package" / "model"
    (model / "1_Pooling").mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "1_Pooling" / "config.json").write_text("{}")
    return model


def _snapshot(root: Path) -> Path:
    return root / "hub" / f"models--{MODEL_ID.replace('/', '--')}" / "snapshots" / SNAPSHOT


def test_links_left_by_a_deleted_install_are_replaced(tmp_path: Path) -> None:
    # Given a cache whose links point into a virtual environment that no longer exists
    model, root = _model(tmp_path), tmp_path / "cache"
    stale = _snapshot(root) / "config.json"
    stale.parent.mkdir(parents=True)
    stale.symlink_to(tmp_path / "deleted-venv" / "config.json")
    # When the cache is laid out for this install
    hub_cache(model, root)
    # Then every link points at this install's files, nested ones too, and reads
    assert Path(os.readlink(stale)) == model / "config.json"
    assert (_snapshot(root) / "1_Pooling" / "config.json").read_text() == "{}"
    assert (root / "hub" / f"models--{MODEL_ID.replace('/', '--')}" / "refs" / "main").read_text() == SNAPSHOT


def test_laying_out_twice_changes_nothing_and_leaves_no_staged_links(tmp_path: Path) -> None:
    model, root = _model(tmp_path), tmp_path / "cache"
    hub_cache(model, root)
    hub_cache(model, root)
    names = sorted(p.name for p in _snapshot(root).rglob("*"))
    assert names == ["1_Pooling", "config.json", "config.json"]

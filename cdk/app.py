"""Builds the CDK app: one Stage per selected environment, cdk-nag on every synth."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aicore.llm.endpoints_config import load_endpoints
from aicore.topology import TOPOLOGY, Topology
from cdk.build_assets import check_builds
from cdk.config import load_environment, selected_environments
from cdk.images import SdkImageUris, image_requests
from cdk.sources import Sources

if TYPE_CHECKING:  # aws_cdk starts node when imported: build_app imports it as late as it can
    from aws_cdk import App

ENV_VARIABLE = "AICORE_ENV"  # for `python app.py`, which has no -c


def cdk_json_context(root: Path) -> dict[str, Any]:
    context = json.loads((root / "cdk.json").read_text(encoding="utf-8")).get("context", {})
    assert isinstance(context, dict)
    return context


def cli_context() -> dict[str, Any]:
    """What the CDK CLI passes (cdk.json context merged with -c), when it runs the app."""
    raw = os.environ.get("CDK_CONTEXT_JSON")
    return dict(json.loads(raw)) if raw else {}


def build_app(
    *,
    context: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    outdir: str | None = None,
    topology: Topology = TOPOLOGY,
    sources: Sources | None = None,
    extra_stages: Mapping[str, tuple[str, Topology]] | None = None,
    images: SdkImageUris | None = None,
) -> App:
    """The app, ready to synth.

    `context` defaults to cdk.json's context overlaid with the CLI's; `environ` to os.environ.
    `extra_stages` maps more stage names to (an environment whose config they take, a topology):
    tests use it.
    """
    sources = sources or Sources()
    environ = os.environ if environ is None else environ
    context = dict(context) if context is not None else {**cdk_json_context(sources.root), **cli_context()}
    names = selected_environments(context.get("env") or environ.get(ENV_VARIABLE), context)
    configs = [load_environment(name, context, environ) for name in names]
    check_builds(sources)
    endpoints = load_endpoints(sources.endpoints)
    images = images or SdkImageUris(sources.sagemaker_sdk)

    plans = [(config, topology) for config in configs]
    plans += [
        (load_environment(base, context, environ).model_copy(update={"name": name}), extra)
        for name, (base, extra) in (extra_stages or {}).items()
    ]
    requests = {(c.name, t): image_requests(c, t, endpoints) for c, t in plans}
    # The SDK's child interpreter runs while aws_cdk loads (which starts node): they overlap.
    with ThreadPoolExecutor(max_workers=1) as pool:
        resolving = pool.submit(
            images.resolve, [r for per_tier in requests.values() for r in per_tier.values()]
        )
        from aws_cdk import App

        from cdk.nag import check
        from cdk.stack import AicoreStage

        uris = resolving.result()

    app = App(outdir=outdir or environ.get("CDK_OUTDIR") or str(sources.root / "cdk.out"), context=context)
    for config, stage_topology in plans:
        per_tier = requests[(config.name, stage_topology)]
        AicoreStage(
            app,
            config=config,
            topology=stage_topology,
            sources=sources,
            endpoints=endpoints,
            image_uris={tier: uris[request] for tier, request in per_tier.items()},
        )
    check(app)
    return app

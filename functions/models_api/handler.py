"""HTTP API for admins: list, register, import, deploy and roll back model versions per tier."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.errors import NotFound
from aicore.flows import FlowStarter
from aicore.http import ClientPolicies, caller, envelope_route, json_body, path_id, resolver, serve
from aicore.llm.tiers import Tier
from aicore.modelops import service
from aicore.modelops.models import ModelVersion, VersionSpec
from aicore.modelops.registry import ModelRegistry
from aicore.observability import CORRELATION_ID_PATH, entrypoint

app = resolver()


def _registry() -> ModelRegistry:
    registry: ModelRegistry = app.context["registry"]
    return registry


def _flows() -> FlowStarter:
    flows: FlowStarter = app.context["flows"]
    return flows


def _tier(name: str) -> Tier:
    try:
        return Tier(name)
    except ValueError:
        raise NotFound(
            f"There is no such model tier: one of {', '.join(Tier)}.", {"tiers": list(Tier)}
        ) from None


@app.get("/models/<tier>")
@envelope_route(app, "models.tier")
def get_tier(tier: str) -> service.TierView:
    return service.tier_view(_registry(), _tier(tier), caller(app))


@app.post("/models/<tier>/versions")
@envelope_route(app, "models.versions.register", status=201)
def register_version(tier: str) -> ModelVersion:
    return service.register_version(_registry(), _tier(tier), json_body(app, VersionSpec), caller(app))


@app.get("/models/<tier>/versions/<version>")
@envelope_route(app, "models.versions.get")
def get_version(tier: str, version: str) -> ModelVersion:
    return service.get_version(_registry(), _tier(tier), path_id(version, "model version"), caller(app))


@app.post("/models/<tier>/versions/<version>/import")
@envelope_route(app, "models.versions.import", status=202)
def import_version(tier: str, version: str) -> service.ImportStarted:
    return service.import_weights(_registry(), _flows(), _tier(tier), version, caller(app))


@app.post("/models/<tier>/versions/<version>/deploy")
@envelope_route(app, "models.versions.deploy", status=202)
def deploy_version(tier: str, version: str) -> service.DeploymentStarted:
    return service.deploy(_registry(), _flows(), _tier(tier), path_id(version, "model version"), caller(app))


@app.post("/models/<tier>/rollback")
@envelope_route(app, "models.rollback", status=202)
def roll_back(tier: str) -> service.DeploymentStarted:
    return service.roll_back(_registry(), _flows(), _tier(tier), caller(app))


@entrypoint(correlation_id_path=CORRELATION_ID_PATH)
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    registry: ModelRegistry | None = None,
    flows: FlowStarter | None = None,
    clients: ClientPolicies | None = None,
) -> dict[str, Any]:
    app.append_context(  # type: ignore[no-untyped-call]
        registry=registry or wiring.model_registry(), flows=flows or wiring.model_flows()
    )
    return serve(app, event, context, clients=clients or wiring.client_policy)

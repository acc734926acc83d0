"""Model management over fakes: registering, starting deployments, and each step of the deployment flow.

The SageMaker side is the local control plane (`aicore.local.sagemaker_control`) behind the real
`SageMakerHosting` adapter, through an in-process client. The whole flow, through the real ASL,
the local model server and a real generation, is in tests/integration/test_model_deploy.py.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aicore.auth import Caller, Role
from aicore.aws.sagemaker_hosting import SageMakerHosting
from aicore.errors import Conflict, Forbidden, NotFound
from aicore.llm.endpoints_config import EngineSettings, ModelSource
from aicore.llm.router import TierTarget
from aicore.llm.tiers import Tier
from aicore.local.sagemaker_control import NAME, LocalHosting
from aicore.modelops import service
from aicore.modelops.deploy import DeployDeps, DeploymentError, run_step
from aicore.modelops.models import (
    Deployment,
    DeployState,
    VersionSpec,
    VersionStatus,
    WeightsStatus,
    sagemaker_model_name,
)
from aicore.modelops.staging import ImportDeps
from aicore.modelops.staging import run_step as import_step
from tests.fakes import ScriptedEndpoint
from tests.handlers import invoke
from tests.model_fakes import (
    FakeHub,
    FakeRegistry,
    FakeServingRecord,
    FakeStarter,
    FakeWeightsStore,
    LocalSageMakerClient,
)

ENDPOINTS = Path(__file__).resolve().parents[2] / "endpoints"
GOLD = "aicore-unit-gold"
ADMIN = Caller(subject="admin-1", world_id="demo", roles=(Role.ADMIN,))
STUDIO = Caller(subject="studio-1", world_id="demo", roles=(Role.STUDIO,))
PLAYER = Caller(subject="p1", world_id="demo")
ENGINE = EngineSettings(max_model_len=4096, max_batch_size=32, quantization="awq")
REVISION = "74d4bd2bd4bff9cafc9345221320bffb08b406a3"
WEIGHTS = {"config.json": b'{"model_type": "qwen3"}', "model.safetensors": b"\x00" * 4096}


def model(version: str) -> ModelSource:
    return ModelSource(hf_model_id=f"Qwen/Qwen3-4B-AWQ-{version}", revision=REVISION)


def spec(version: str, **engine: int) -> VersionSpec:
    return VersionSpec(version=version, model=model(version), engine=ENGINE.model_copy(update=engine))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class World:
    """A registry, the local control plane (updates take 5 s of a fake clock) and a scripted endpoint."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.hosting = LocalHosting.for_tiers("unit", ENDPOINTS, update_s=5, clock=self.clock)
        self.registry = FakeRegistry()
        self.starter = FakeStarter()
        self.endpoint = ScriptedEndpoint()
        self.serving = FakeServingRecord()
        self.hub = FakeHub()
        self.store = FakeWeightsStore()
        self.deps = DeployDeps(
            registry=self.registry,
            hosting=SageMakerHosting(LocalSageMakerClient(self.hosting)),
            serving=self.serving,
            endpoint=self.endpoint,
            targets={Tier.GOLD: TierTarget(GOLD, GOLD)},
            poll_seconds=5,
            max_polls=3,
        )

    def register(self, version: str, **engine: int) -> None:
        service.register_version(self.registry, Tier.GOLD, spec(version, **engine), ADMIN)

    def stage(self, version: str) -> None:
        """The import flow's path for `version`, step by step, as the ASL takes it."""
        self.hub.add(model(version), WEIGHTS)
        service.import_weights(self.registry, self.starter, Tier.GOLD, version, ADMIN)
        deps = ImportDeps(hub=self.hub, store=self.store, registry=self.registry)
        state = import_step("plan", self.starter.started[-1][2], deps)
        state["copied"] = [import_step("copy", item, deps) for item in state["items"]]
        import_step("finish", state, deps)

    def start(self, version: str, **engine: int) -> DeployState:
        self.register(version, **engine)
        self.stage(version)
        service.deploy(self.registry, self.starter, Tier.GOLD, version, ADMIN)
        return DeployState.model_validate(self.starter.started[-1][2])

    def wait(self, state: DeployState) -> DeployState:
        """The Wait/check loop of the state machine."""
        while True:
            self.clock.now += state.poll_seconds
            state = run_step("check", state, self.deps)
            if state.status != "in_progress":
                return state

    def flow(self, state: DeployState) -> DeployState:
        """The state machine's path, step by step, as the ASL takes it."""
        state = run_step("prepare", state, self.deps)
        state = self.wait(run_step("update", state, self.deps))
        if state.status == "in_service":
            state = run_step("smoke_test", state, self.deps)
            if state.smoke is not None and state.smoke.passed:
                return run_step("keep", state, self.deps)
        state = run_step("roll_back", state, self.deps)
        while state.status == "waiting":
            self.clock.now += state.poll_seconds
            state = run_step("roll_back", state, self.deps)
        if state.status == "in_progress":
            state = self.wait(state)
        return run_step("fail", state, self.deps)


@pytest.fixture
def world() -> World:
    return World()


def test_registering_is_idempotent_and_a_changed_spec_is_a_conflict(world: World) -> None:
    first = service.register_version(world.registry, Tier.GOLD, spec("v1"), ADMIN)
    again = service.register_version(world.registry, Tier.GOLD, spec("v1"), ADMIN)

    assert again == first
    assert first.status == VersionStatus.REGISTERED
    assert first.weights is None  # nothing staged until it is imported
    assert first.environment["OPTION_MAX_MODEL_LEN"] == "4096"
    assert first.environment["HF_MODEL_ID"] == "/opt/ml/model"
    # AWQ weights are pre-quantized: the container detects them (forcing it would be slower)
    assert "OPTION_QUANTIZE" not in first.environment
    with pytest.raises(Conflict, match="other settings"):
        service.register_version(world.registry, Tier.GOLD, spec("v1", max_model_len=2048), ADMIN)


ELSEWHERE = "other-world"
ROLES = {
    "player": Caller(subject="p1", world_id="demo"),
    "npc": Caller(subject="npc-1", world_id="demo", roles=(Role.NPC,)),
    "studio": STUDIO,
    "studio of another world": Caller(subject="s2", world_id=ELSEWHERE, roles=(Role.STUDIO,)),
    "studio and player": Caller(subject="s3", world_id="demo", roles=(Role.STUDIO, Role.PLAYER)),
}


@pytest.mark.parametrize("role", list(ROLES))
def test_only_admins_manage_the_shared_tiers(world: World, role: str) -> None:
    # Given a registered, staged version and a version that serves (so every operation could run)
    world.flow(world.start("v1"))
    world.register("v2")
    world.stage("v2")
    caller = ROLES[role]
    started = len(world.starter.started)

    # When anyone but an admin tries any model operation, Then it is refused, and nothing starts
    operations: dict[str, Callable[[], object]] = {
        "view": lambda: service.tier_view(world.registry, Tier.GOLD, caller),
        "get": lambda: service.get_version(world.registry, Tier.GOLD, "v1", caller),
        "register": lambda: service.register_version(world.registry, Tier.GOLD, spec("v3"), caller),
        "import": lambda: service.import_weights(world.registry, world.starter, Tier.GOLD, "v2", caller),
        "deploy": lambda: service.deploy(world.registry, world.starter, Tier.GOLD, "v2", caller),
        "rollback": lambda: service.roll_back(world.registry, world.starter, Tier.GOLD, caller),
    }
    for name, operation in operations.items():
        with pytest.raises(Forbidden, match="admin token"):
            operation()
        assert len(world.starter.started) == started, name
    assert world.registry.get_version(Tier.GOLD, "v3") is None


def test_an_admin_manages_every_tier_whatever_world_the_token_names(world: World) -> None:
    admin_elsewhere = Caller(subject="ops", world_id=ELSEWHERE, roles=(Role.ADMIN,))
    service.register_version(world.registry, Tier.GOLD, spec("v1"), admin_elsewhere)
    assert service.tier_view(world.registry, Tier.GOLD, admin_elsewhere).versions[0].version == "v1"


def test_a_version_deploys_only_once_its_weights_are_staged(world: World) -> None:
    world.register("v1")
    with pytest.raises(
        Conflict, match=r"no staged weights \(not imported\).*POST /models/gold/versions/v1/import"
    ):
        service.deploy(world.registry, world.starter, Tier.GOLD, "v1", ADMIN)
    imported = service.import_weights(world.registry, world.starter, Tier.GOLD, "v1", ADMIN)
    assert imported.execution_arn.endswith(world.starter.started[-1][1])
    with pytest.raises(Conflict, match=r"\(importing\)"):
        service.deploy(world.registry, world.starter, Tier.GOLD, "v1", ADMIN)
    with pytest.raises(Conflict, match="running already"):
        service.import_weights(world.registry, world.starter, Tier.GOLD, "v1", ADMIN)


def test_an_import_that_cannot_start_says_so_on_the_version(world: World) -> None:
    world.register("v1")
    world.starter.failing = True
    with pytest.raises(RuntimeError):
        service.import_weights(world.registry, world.starter, Tier.GOLD, "v1", ADMIN)
    version = world.registry.get_version(Tier.GOLD, "v1")
    assert version is not None
    assert version.weights is not None
    assert version.weights.status == WeightsStatus.FAILED


def test_a_good_version_goes_in_service(world: World) -> None:
    # Given a registered version, imported and deployed by an admin
    state = world.start("v1")
    assert world.registry.state(Tier.GOLD).deploying is not None

    # When the flow runs
    done = world.flow(state)

    # Then the new model serves the component, it passed a real call, and the registry says so
    assert done.status == "in_service"
    assert world.hosting.serving_model(GOLD) == done.model_name == sagemaker_model_name(GOLD, "v1")
    assert world.endpoint.components == [GOLD]  # the smoke test went to the tier's component
    version = world.registry.get_version(Tier.GOLD, "v1")
    assert version is not None
    assert version.status == VersionStatus.IN_SERVICE
    assert version.sagemaker_model == done.model_name
    assert version.smoke is not None
    assert version.smoke.passed
    state_after = world.registry.state(Tier.GOLD)
    assert (state_after.live_version, state_after.deploying) == ("v1", None)
    # and the record CloudFormation reads names it: a stack update keeps serving it
    assert world.serving.get("gold") == done.model_name


def test_the_new_model_reads_its_staged_weights_in_isolation_with_the_image_and_role_it_replaces(
    world: World,
) -> None:
    done = world.flow(world.start("v1"))
    described = world.hosting.handle("DescribeModel", {"ModelName": done.model_name})
    initial = world.hosting.handle("DescribeModel", {"ModelName": done.previous_model})

    assert described["PrimaryContainer"]["Image"] == initial["PrimaryContainer"]["Image"]
    assert described["ExecutionRoleArn"] == initial["ExecutionRoleArn"]
    container = described["PrimaryContainer"]
    assert container["Environment"]["HF_MODEL_ID"] == "/opt/ml/model"
    assert container["ModelDataSource"]["S3DataSource"] == {
        "S3Uri": f"s3://{world.store.bucket}/{model('v1').staged_prefix}",
        "S3DataType": "S3Prefix",
        "CompressionType": "None",
    }
    client = world.deps.hosting._client  # type: ignore[attr-defined]
    assert client.requests["CreateModel"][-1]["EnableNetworkIsolation"] is True


def test_a_version_whose_smoke_test_fails_is_rolled_back(world: World) -> None:
    # Given v1 serving, and v2 whose endpoint answers nothing
    world.flow(world.start("v1"))
    serving_v1 = world.hosting.serving_model(GOLD)
    state = world.start("v2")
    world.endpoint.failing.add(GOLD)

    # When the flow runs
    done = world.flow(state)

    # Then v1's model serves again (and stays recorded), v2 is failed with the reason, v1 is still live
    assert world.hosting.serving_model(GOLD) == serving_v1
    assert world.serving.get("gold") == serving_v1
    v2 = world.registry.get_version(Tier.GOLD, "v2")
    assert v2 is not None
    assert v2.status == VersionStatus.FAILED
    assert v2.failure == f"smoke test failed: {GOLD} is down" == done.failure
    assert world.registry.state(Tier.GOLD).live_version == "v1"
    assert world.registry.state(Tier.GOLD).deploying is None


def test_a_model_that_cannot_start_is_failed_without_a_second_update(world: World) -> None:
    # Given a version whose container cannot start: SageMaker keeps the old model serving itself
    state = world.start("v1")
    state = run_step("prepare", state, world.deps)
    world.hosting.handle("DeleteModel", {"ModelName": state.model_name})
    world.hosting.handle(
        "CreateModel",
        {"ModelName": state.model_name, "PrimaryContainer": {"Image": "img", "Environment": {}}},
    )

    # When the update is checked
    state = world.wait(run_step("update", state, world.deps))

    # Then it failed with SageMaker's reason, and rolling back needs no update
    assert state.status == "failed"
    assert "names no model" in (state.failure or "")
    client = world.deps.hosting._client  # type: ignore[attr-defined]
    updates = client.calls.count("UpdateInferenceComponent")
    state = run_step("roll_back", state, world.deps)
    assert state.status == "in_service"
    assert client.calls.count("UpdateInferenceComponent") == updates


def test_an_update_that_never_finishes_fails_after_the_last_poll(world: World) -> None:
    state = run_step("update", run_step("prepare", world.start("v1"), world.deps), world.deps)
    for _ in range(3):
        state = run_step("check", state, world.deps)  # the fake clock does not move: still Updating
    assert state.status == "failed"
    assert "still Updating after 3 checks" in (state.failure or "")


def test_abort_releases_the_tier_and_says_why(world: World) -> None:
    state = world.start("v1")
    done = run_step("abort", state, world.deps, {"Error": "NotFound", "Cause": "no such model"})

    assert done.failure == "NotFound: no such model"
    assert world.registry.state(Tier.GOLD).deploying is None
    version = world.registry.get_version(Tier.GOLD, "v1")
    assert version is not None
    assert version.status == VersionStatus.FAILED


def test_one_deployment_per_tier_at_a_time(world: World) -> None:
    world.start("v1")
    world.register("v2")
    world.stage("v2")
    with pytest.raises(Conflict, match="already running"):
        service.deploy(world.registry, world.starter, Tier.GOLD, "v2", ADMIN)


def test_a_deployment_that_cannot_start_gives_the_tier_back(world: World) -> None:
    world.register("v1")
    world.stage("v1")
    world.starter.failing = True
    with pytest.raises(RuntimeError):
        service.deploy(world.registry, world.starter, Tier.GOLD, "v1", ADMIN)
    assert world.registry.state(Tier.GOLD).deploying is None
    version = world.registry.get_version(Tier.GOLD, "v1")
    assert version is not None
    assert version.status == VersionStatus.REGISTERED


def test_rollback_redeploys_the_version_before_the_live_one(world: World) -> None:
    with pytest.raises(Conflict, match="no earlier version"):
        service.roll_back(world.registry, world.starter, Tier.GOLD, ADMIN)
    world.flow(world.start("v1"))
    world.flow(world.start("v2"))
    assert world.registry.state(Tier.GOLD).history == ["v1", "v2"]

    started = service.roll_back(world.registry, world.starter, Tier.GOLD, ADMIN)
    assert (started.deployment.kind, started.deployment.version) == ("rollback", "v1")
    world.flow(DeployState(deployment=started.deployment))

    assert world.registry.state(Tier.GOLD).history == ["v1"]
    assert world.hosting.serving_model(GOLD) == sagemaker_model_name(GOLD, "v1")
    assert world.serving.get("gold") == sagemaker_model_name(GOLD, "v1")
    statuses = {v.version: v.status for v in world.registry.tier(Tier.GOLD)[1]}
    assert statuses == {"v1": VersionStatus.IN_SERVICE, "v2": VersionStatus.ROLLED_BACK}


def test_unknown_versions_and_steps_are_clear_errors(world: World) -> None:
    with pytest.raises(NotFound, match="GET /models/gold"):
        service.deploy(world.registry, world.starter, Tier.GOLD, "v9", ADMIN)
    with pytest.raises(Exception, match="Unknown deployment step"):
        run_step("explode", DeployState.model_validate(world.start("v1").model_dump()), world.deps)


versions = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,30}[A-Za-z0-9])?", fullmatch=True)
components = st.text(alphabet=string.ascii_lowercase + "-", min_size=1, max_size=40).map(
    lambda s: f"a{s.strip('-')}z"
)


@given(components, versions)
def test_sagemaker_model_names_are_always_valid_and_distinct_per_version(
    component: str, version: str
) -> None:
    name = sagemaker_model_name(component, version)
    assert len(name) <= 63
    assert NAME.match(name), name
    assert name.startswith(f"{component}-")  # the prefix IAM grants
    assert name != sagemaker_model_name(component, version + "x")


# --- each step on its own, and run twice (a retried Lambda), through the flow's real handler -------


def _step(world: World, step: str, state: DeployState, caught: dict[str, str] | None = None) -> DeployState:
    """One task of the deployment state machine: `{"step", "state"}` into the model-deploy-steps handler."""
    payload = state.model_dump(mode="json") | ({"caught": caught} if caught else {})
    answer = invoke("model-deploy-steps", {"step": step, "state": payload}, deps=world.deps)
    return DeployState.model_validate(answer)


def test_the_handler_runs_the_flow_step_by_step_with_json_in_and_out(world: World) -> None:
    state = _step(world, "prepare", world.start("v1"))
    state = _step(world, "update", state)
    world.clock.now += 5
    state = _step(world, "check", state)
    state = _step(world, "smoke_test", state)
    state = _step(world, "keep", state)

    assert (state.status, state.smoke is not None and state.smoke.passed) == ("in_service", True)
    assert world.registry.state(Tier.GOLD).live_version == "v1"


def test_a_prepare_run_twice_creates_the_model_once(world: World) -> None:
    state = world.start("v1")
    first = _step(world, "prepare", state)
    second = _step(world, "prepare", state)

    assert first == second
    client = world.deps.hosting._client  # type: ignore[attr-defined]
    assert client.calls.count("CreateModel") == 1


def test_a_check_run_twice_says_the_same(world: World) -> None:
    # Given a deployment whose update has taken effect
    state = _step(world, "update", _step(world, "prepare", world.start("v1")))
    world.clock.now += 5

    # When a check runs twice (a retried Lambda), each says the same
    first, second = _step(world, "check", state), _step(world, "check", state)

    # Then the flow goes on to the smoke test either way
    assert (first.status, first.polls) == (second.status, second.polls) == ("in_service", 1)


def test_a_retried_keep_ends_the_deployment_as_deployed(world: World) -> None:
    # Given a version that passed its smoke test and was kept, but whose Lambda the flow retries
    state = _step(world, "update", _step(world, "prepare", world.start("v1")))
    world.clock.now += 5
    tested = _step(world, "smoke_test", _step(world, "check", state))
    _step(world, "keep", tested)

    # When the retry runs
    again = _step(world, "keep", tested)

    # Then it says the version serves, as the registry does
    assert again.status == "in_service"
    assert world.registry.state(Tier.GOLD).live_version == "v1"


def test_a_retried_update_does_not_abort_the_deployment(world: World) -> None:
    # Given an update that went through, but whose Lambda the flow retries
    state = _step(world, "prepare", world.start("v1"))
    updated = _step(world, "update", state)

    # When the retry runs
    again = _step(world, "update", state)

    # Then it says the same: the deployment goes on waiting for the component
    assert again.status == updated.status == "in_progress"
    # And it started no second update: the one under way ends serving the version
    client = world.deps.hosting._client  # type: ignore[attr-defined]
    assert client.calls.count("UpdateInferenceComponent") == 1
    assert world.wait(again).status == "in_service"
    # And once it serves, an update run yet again still starts none
    assert _step(world, "update", state).status == "in_progress"
    assert client.calls.count("UpdateInferenceComponent") == 1


def test_a_retried_rollback_waits_for_its_own_update_and_starts_no_other(world: World) -> None:
    # Given v1 serving, and v2 whose smoke test failed: the rollback started, but its Lambda is retried
    world.flow(world.start("v1"))
    serving_v1 = world.hosting.serving_model(GOLD)
    world.endpoint.failing.add(GOLD)
    tested = run_step(
        "smoke_test",
        world.wait(_step(world, "update", _step(world, "prepare", world.start("v2")))),
        world.deps,
    )
    rolling = _step(world, "roll_back", tested)
    client = world.deps.hosting._client  # type: ignore[attr-defined]
    updates = client.calls.count("UpdateInferenceComponent")

    # When the retry runs while the component is still updating
    again = _step(world, "roll_back", tested)

    # Then it waits for that update instead of failing on it, and runs again once it is over
    assert (rolling.status, again.status) == ("in_progress", "waiting")
    world.clock.now += again.poll_seconds
    after = _step(world, "roll_back", again)
    assert (after.status, after.expected_model) == ("in_service", serving_v1)
    assert client.calls.count("UpdateInferenceComponent") == updates
    # And the flow ends with v2 failed, v1 serving
    failed = _step(world, "fail", world.wait(after))
    assert failed.status == "failed"
    assert world.hosting.serving_model(GOLD) == serving_v1
    assert world.registry.state(Tier.GOLD).live_version == "v1"


def test_a_rollback_caught_during_the_forward_update_rolls_back_once_it_is_over(world: World) -> None:
    # Given v1 serving, and v2's update under way when a Catch sends the flow to roll back
    world.flow(world.start("v1"))
    serving_v1 = world.hosting.serving_model(GOLD)
    updating = _step(world, "update", _step(world, "prepare", world.start("v2")))

    # When the rollback runs, it waits for the update to finish (it cannot update an updating component)
    caught = {"Error": "States.Timeout", "Cause": "the check timed out"}
    waiting = _step(world, "roll_back", updating, caught)
    assert (waiting.status, waiting.polls) == ("waiting", 1)
    world.clock.now += waiting.poll_seconds
    rolling = _step(world, "roll_back", waiting)

    # Then, v2 serving by then, it puts v1's model back, and the flow ends with v1 serving
    assert (rolling.status, rolling.expected_model) == ("in_progress", serving_v1)
    assert world.wait(rolling).status == "in_service"
    assert world.hosting.serving_model(GOLD) == serving_v1
    assert rolling.failure == "States.Timeout: the check timed out"


def test_a_rollback_that_keeps_finding_the_component_busy_gives_up(world: World) -> None:
    # Given an update that never finishes (the fake clock does not move)
    state = _step(world, "update", _step(world, "prepare", world.start("v1")))

    # When the rollback has waited as many times as the flow polls
    for _ in range(world.deps.max_polls - 1):
        state = run_step("roll_back", state, world.deps)
        assert state.status == "waiting"

    # Then it fails the task: the flow's Catch aborts, asking for a look by hand
    with pytest.raises(DeploymentError, match="still Updating after 3 checks: it cannot be rolled back"):
        run_step("roll_back", state, world.deps)


@pytest.mark.parametrize("ending", ["fail", "abort"])
def test_a_retried_failure_ends_the_deployment_once(world: World, ending: str) -> None:
    # Given a deployment that ended failed, but whose last Lambda the flow retries
    state = world.start("v1").model_copy(update={"failure": "smoke test failed: no text"})
    caught = {"Error": "NotFound", "Cause": "no such model"} if ending == "abort" else None
    first = _step(world, ending, state, caught)

    # When the retry runs, it says the same, and the registry is as the first run left it
    again = _step(world, ending, state, caught)
    assert (again.status, again.failure) == (first.status, first.failure)
    version = world.registry.get_version(Tier.GOLD, "v1")
    assert version is not None
    assert (version.status, version.failure) == (VersionStatus.FAILED, first.failure)
    assert world.registry.state(Tier.GOLD).deploying is None

    # But a deployment that ended failed cannot be kept by a late step
    with pytest.raises(Conflict, match="does not hold the gold tier"):
        _step(world, "keep", state)


def test_a_keep_of_a_deployment_that_does_not_hold_the_tier_is_refused_and_records_nothing(
    world: World,
) -> None:
    # Given v1 serving, and a state of a v2 deployment whose execution never held the tier
    world.flow(world.start("v1"))
    recorded = world.serving.get("gold")
    world.register("v2")
    stray = Deployment(tier=Tier.GOLD, version="v2", started_by="admin-1", execution_name="stray")
    state = DeployState(deployment=stray, model_name=sagemaker_model_name(GOLD, "v2"))

    # When it is kept, Then the registry refuses it, and the record CloudFormation reads is untouched
    with pytest.raises(Conflict, match="does not hold the gold tier"):
        _step(world, "keep", state)
    assert world.serving.get("gold") == recorded
    assert world.registry.state(Tier.GOLD).live_version == "v1"


def test_prepare_refuses_what_cannot_be_deployed(world: World) -> None:
    state = world.start("v1")

    # A version the registry does not know
    missing = state.model_copy(update={"deployment": state.deployment.model_copy(update={"version": "v9"})})
    with pytest.raises(NotFound, match="no version 'v9'"):
        run_step("prepare", missing, world.deps)

    # A tier with no inference component configured
    no_component = replace(world.deps, targets={Tier.GOLD: TierTarget(GOLD)})
    with pytest.raises(DeploymentError, match="no inference component"):
        run_step("prepare", state, no_component)

    # A component busy with another update
    run_step("update", run_step("prepare", state, world.deps), world.deps)
    with pytest.raises(DeploymentError, match="is Updating: try again later"):
        run_step("prepare", state, world.deps)


def test_the_smoke_test_times_the_first_token_on_the_deps_clock(world: World) -> None:
    # Given a clock that reads 10.0 s when the test starts and 10.25 s at the first token
    readings = iter([10.0, 10.25])
    deps = replace(world.deps, clock=lambda: next(readings))
    state = run_step("update", run_step("prepare", world.start("v1"), deps), deps)

    smoke = run_step("smoke_test", state, deps).smoke

    assert smoke is not None
    assert (smoke.passed, smoke.first_token_ms, smoke.tokens, smoke.text) == (
        True,
        250.0,
        3,
        "Well met, traveller.",
    )


@pytest.mark.parametrize(
    ("endpoint", "error"),
    [
        (ScriptedEndpoint(cut_after=1), "stream cut"),
        (ScriptedEndpoint(tokens=(" ", "\n")), "the model answered with no text"),
    ],
)
def test_a_smoke_test_fails_on_a_broken_or_empty_answer(
    world: World, endpoint: ScriptedEndpoint, error: str
) -> None:
    deps = replace(world.deps, endpoint=endpoint)
    state = run_step("prepare", world.start("v1"), deps)

    tested = run_step("smoke_test", state, deps)

    assert tested.smoke is not None
    assert (tested.smoke.passed, tested.smoke.error) == (False, error)
    assert tested.failure == f"smoke test failed: {error}"


def test_the_handler_hands_the_caught_error_to_the_rollback(world: World) -> None:
    # Given an update the flow's Catch caught
    state = _step(world, "prepare", world.start("v1"))

    # When the rollback runs with it
    rolled = _step(
        world, "roll_back", state, {"Error": "States.Timeout", "Cause": "the update took too long"}
    )

    # Then the failure names it, and what served before still serves (no update needed)
    assert rolled.failure == "States.Timeout: the update took too long"
    assert rolled.status == "in_service"


def test_an_abort_after_a_failed_rollback_says_to_look_by_hand(world: World) -> None:
    state = _step(world, "update", _step(world, "prepare", world.start("v1")))
    rolling_back = state.model_copy(update={"expected_model": state.previous_model})

    aborted = _step(world, "abort", rolling_back, {"Error": "ValidationException", "Cause": "busy"})

    assert aborted.failure == f"rolling back failed, check {GOLD} by hand: ValidationException: busy"
    version = world.registry.get_version(Tier.GOLD, "v1")
    assert version is not None
    assert (version.status, version.failure) == (VersionStatus.FAILED, aborted.failure)

"""Every topology function is one Lambda, alike in shape, that may touch exactly what it declares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from aws_cdk.assertions import Match, Template

from aicore.llm.embedding import LOCATION_VARIABLE, STATIC_FILES, StaticEmbedder, wordllama_package_directory
from aicore.topology import Access, Function, StateMachine, Topology, physical_name, resource_environment
from cdk.build_assets import installed_versions
from cdk.functions import STATIC_EMBEDDINGS_PATH
from tests.infra.conftest import ENVIRONMENTS, FIXTURE, Synth
from tests.infra.policies import function_role, grants, state_machine_role

READ = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:ConditionCheckItem",
}
READ_STREAM = {"dynamodb:GetRecords", "dynamodb:GetShardIterator"}
WRITE = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}
XRAY = {("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")}
ALL_STAGES = (*ENVIRONMENTS, FIXTURE)
LAMBDA_UNZIPPED_MB = 250  # a function's code and all its layers, unzipped (Lambda's quota: 262,144,000 B)


def all_functions(topology: Topology) -> list[Function]:
    return [topology.authorizer, *topology.functions]


def expected_data(topology: Topology, declared: Function | StateMachine) -> set[tuple[str, str]]:
    """What a declaration allows on data, endpoints and events, written out independently of cdk/."""
    pairs: set[tuple[str, str]] = set()
    indexed = {t.name for t in topology.tables if t.indexes}
    for declared_table, access in declared.tables:
        table = declared_table.name
        actions = {"dynamodb:DescribeTable"}
        if access in (Access.READ, Access.READ_WRITE):
            actions |= READ | READ_STREAM
        if access in (Access.WRITE, Access.READ_WRITE):
            actions |= WRITE
        pairs |= {(a, f"table:{table}") for a in actions}
        if table in indexed:  # the table's own indexes, nothing more
            pairs |= {(a, f"table-index:{table}") for a in actions}
    for declared_bucket, access in declared.buckets:
        bucket = declared_bucket.name.replace("-", "")  # as its logical id spells it
        if declared_bucket.objects_prefix is not None:  # Get/Put under its prefix: no list, no delete
            objects = f"bucket-objects:{bucket}/{declared_bucket.objects_prefix}"
            pairs |= {("s3:GetObject", objects)} if access != Access.WRITE else set()
            pairs |= {("s3:PutObject", objects)} if access != Access.READ else set()
            continue
        if access in (Access.READ, Access.READ_WRITE):
            pairs |= {("s3:GetObject", f"bucket-objects:{bucket}"), ("s3:ListBucket", f"bucket:{bucket}")}
        if access in (Access.WRITE, Access.READ_WRITE):
            writes = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject")
            pairs |= {(a, f"bucket-objects:{bucket}") for a in writes}
    if declared.publishes_events:
        pairs.add(("events:PutEvents", "bus"))
    for tier in (t.name for t in declared.model_tiers):
        for action in ("sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"):
            pairs |= {(action, f"endpoint:{tier}"), (action, f"component:{tier}")}
    return pairs


def expected_function(env: str, topology: Topology, fn: Function) -> set[tuple[str, str]]:
    name = physical_name(env, fn.name)
    pairs = expected_data(topology, fn) | XRAY
    pairs |= {(a, f"logs:/aws/lambda/{name}") for a in ("logs:CreateLogStream", "logs:PutLogEvents")}
    if fn.pushes_to_clients:
        pairs.add(("execute-api:ManageConnections", "connections"))
    signing = topology.signing_keys
    if fn.signing_keys is not None:  # signers read the private keys; only the rotation writes them
        pairs |= {("secretsmanager:GetSecretValue", "secret"), ("secretsmanager:DescribeSecret", "secret")}
    if fn.signing_keys == Access.READ_WRITE and signing is not None:
        pairs |= {("secretsmanager:PutSecretValue", "secret")}
        pairs.add(("ssm:PutParameter", f"parameter:{signing.public_parameter(env)}"))
    for secret in fn.secrets:  # an operator's secret: read, never written
        pairs |= {
            (a, f"secret:{secret.name}")
            for a in ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")
        }
    if fn.reads_public_keys and signing is not None:  # verifiers: the public keys, nothing private
        pairs.add(("ssm:GetParameter", f"parameter:{signing.public_parameter(env)}"))
    if fn.observes_health:  # describe calls only, never a read of data
        pairs |= {("dynamodb:DescribeTable", f"table:{t.name}") for t in topology.tables}
        pairs.add(("events:DescribeEventBus", "bus"))
        pairs |= {
            ("sagemaker:DescribeInferenceComponent", f"component:{t.name}") for t in topology.model_tiers
        }
    pairs |= {("states:StartExecution", f"state-machine:{m.name}") for m in fn.starts_state_machines}
    pairs |= {
        ("states:DescribeExecution", f"executions:{physical_name(env, m.name)}")
        for m in fn.awaits_state_machines
    }
    if fn.synthesizes_speech:  # SynthesizeSpeech authorizes on lexicons only: this account's
        pairs.add(("polly:SynthesizeSpeech", "lexicons"))
    if fn.transcribes_speech:  # streaming transcription has no resource type in IAM: `*`, this one action
        pairs.add(("transcribe:StartStreamTranscriptionWebSocket", "*"))
    if fn.signals_state_machines:  # task tokens have no resource type in IAM: `*`, this one action
        pairs.add(("states:SendTaskSuccess", "*"))
    for recorded, access in fn.serving_records:  # the tier's serving-model parameter, nothing else
        actions = {"ssm:PutParameter", "ssm:DeleteParameter"} if access != Access.READ else set()
        if access != Access.WRITE:
            actions.add("ssm:GetParameter")
        pairs |= {(a, f"parameter:{recorded.serving_parameter(env)}") for a in actions}
    for tier in (
        t.name for t in fn.manages_model_tiers
    ):  # its models, its inference component, passing its model role
        pairs |= {("sagemaker:CreateModel", f"models:{tier}"), ("sagemaker:DescribeModel", f"models:{tier}")}
        pairs |= {
            (a, f"component:{tier}")
            for a in ("sagemaker:DescribeInferenceComponent", "sagemaker:UpdateInferenceComponent")
        }
        pairs.add(("iam:PassRole", f"model-role:{tier}"))
    if fn.events or fn.schedules:  # its own dead-letter queue, as the on-failure destination
        queue = f"queue:{physical_name(env, fn.name)}-dlq"
        pairs |= {(a, queue) for a in ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")}
    return pairs


@pytest.mark.parametrize("env", ALL_STAGES)
def test_each_function_may_touch_exactly_what_the_topology_declares(synth: Synth, env: str) -> None:
    template = synth.templates[env]
    for fn in all_functions(synth.topologies[env]):
        actual = grants(template, function_role(template, physical_name(env, fn.name)))
        assert actual == expected_function(env, synth.topologies[env], fn), fn.name


def test_every_declared_handler_and_definition_exists_in_the_repository(synth: Synth) -> None:
    # The other tests stand in for what is missing; `cdk synth` itself would stop here.
    assert synth.stand_ins == [], f"declared in the topology but missing: {synth.stand_ins}"


def test_each_state_machine_may_touch_exactly_what_it_declares(synth: Synth) -> None:
    template = synth.templates[FIXTURE]
    for machine in synth.topologies[FIXTURE].state_machines:
        actual = grants(template, state_machine_role(template, physical_name(FIXTURE, machine.name)))
        invoke = {("lambda:InvokeFunction", f"alias:{f}:live") for f in machine.invokes}  # live, only
        # Step Functions' log delivery and X-Ray take no resource-level permissions.
        service_wide = {(a, "*") for a, target in actual if target == "*"}
        assert {a for a, _ in service_wide} <= {
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
        }
        children = set()
        if machine.distributed_map:  # starts its own child executions, describes and stops them
            name = physical_name(FIXTURE, machine.name)
            children = {("states:StartExecution", f"state-machine-named:{name}")}
            children |= {
                (a, f"map-executions:{name}") for a in ("states:DescribeExecution", "states:StopExecution")
            }
        expected = expected_data(synth.topologies[FIXTURE], machine) | invoke | children
        assert actual - service_wide == expected


@pytest.mark.parametrize("env", ALL_STAGES)
def test_no_wildcard_actions_and_no_wildcard_resources_on_data(synth: Synth, env: str) -> None:
    for policy in synth.resources(env, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not [a for a in actions if "*" in a and not a.startswith("kms:GenerateDataKey")], actions
            if statement["Resource"] == "*":
                # streaming transcription has no resource type in IAM; it reads no stored data
                actions = [a for a in actions if a != "transcribe:StartStreamTranscriptionWebSocket"]
                services = {a.split(":")[0] for a in actions}
                if actions == ["states:SendTaskSuccess"]:  # task tokens have no resource type in IAM
                    continue
                assert services <= {"xray", "logs", "ecr"}, actions  # none of them a data store


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_functions_are_python_312_arm64_traced_on_their_layers(synth: Synth, env: str) -> None:
    template = Template.from_json(synth.templates[env])
    config = synth.configs[env]
    layers = {
        r["Properties"]["Description"].split(" ")[0]: k
        for k, r in synth.resources(env, "AWS::Lambda::LayerVersion").items()
    }
    # core, dependencies, static embeddings, the client SDK
    assert set(layers) == {"aicore", "Runtime", "Static", "Client"}
    for fn in all_functions(synth.topologies[env]):
        (function,) = [
            r
            for r in synth.functions(env).values()
            if r["Properties"]["FunctionName"] == physical_name(env, fn.name)
        ]
        expected = (
            {layers["aicore"], layers["Runtime"]}
            | ({layers["Static"]} if fn.static_embeddings else set())
            | ({layers["Client"]} if fn.client_sdk else set())
        )
        assert {ref["Ref"] for ref in function["Properties"]["Layers"]} == expected, fn.name
    for fn in all_functions(synth.topologies[env]):
        template.has_resource_properties(
            "AWS::Lambda::Function",
            {
                "FunctionName": physical_name(env, fn.name),
                "Runtime": "python3.12",
                "Architectures": ["arm64"],
                "Handler": fn.handler,
                "MemorySize": config.memory_mb(fn.memory_mb),
                "Timeout": fn.timeout_s,
                "TracingConfig": {"Mode": "Active"},
                "Environment": {
                    "Variables": Match.object_like(
                        {
                            "POWERTOOLS_SERVICE_NAME": "aicore",
                            "POWERTOOLS_METRICS_NAMESPACE": "aicore",
                            "POWERTOOLS_LOG_LEVEL": config.lambda_.log_level,
                            "ENVIRONMENT": env,
                        }
                    )
                },
            },
        )
        template.has_resource_properties(
            "AWS::Logs::LogGroup",
            {
                "LogGroupName": f"/aws/lambda/{physical_name(env, fn.name)}",
                "RetentionInDays": config.log_retention_days,
            },
        )


@pytest.mark.parametrize("env", ALL_STAGES)
def test_every_function_sees_every_resource_name_under_the_topology_names(synth: Synth, env: str) -> None:
    topology = synth.topologies[env]
    names = set(resource_environment(env, topology))
    tables = {t.env_var: physical_name(env, t.name) for t in topology.tables}
    for resource in synth.functions(env).values():
        variables = resource["Properties"]["Environment"]["Variables"]
        assert names <= set(variables)
        for variable, table in tables.items():  # the real table, by reference
            assert synth.resource(env, variables[variable]["Ref"])["Properties"]["TableName"] == table
        assert variables["GOLD_ENDPOINT"] == physical_name(env, "gold")
        assert variables["GOLD_INFERENCE_COMPONENT"] == physical_name(env, "gold")


def test_extra_variables_come_with_their_permission(synth: Synth) -> None:
    template = synth.templates[FIXTURE]
    for fn in all_functions(synth.topologies[FIXTURE]):
        (resource,) = [
            r
            for r in synth.functions(FIXTURE).values()
            if r["Properties"]["FunctionName"] == physical_name(FIXTURE, fn.name)
        ]
        variables = resource["Properties"]["Environment"]["Variables"]
        assert ("CONNECTIONS_URL" in variables) == fn.pushes_to_clients, fn.name
        machines = synth.topologies[FIXTURE].state_machines
        assert {m.env_var for m in machines if m.env_var in variables} == {
            machine.env_var for machine in fn.starts_state_machines
        }
        if fn.pushes_to_clients:
            url = str(variables["CONNECTIONS_URL"])
            assert "https://" in url
            assert f"/{FIXTURE}" in url
    assert template  # the fixture stage synthesized


def test_a_function_added_to_the_topology_is_deployed(synth: Synth) -> None:
    names = {r["Properties"]["FunctionName"] for r in synth.functions(FIXTURE).values()}
    assert physical_name(FIXTURE, "world-clock") in names
    dev = {r["Properties"]["FunctionName"] for r in synth.functions("dev").values()}
    assert physical_name("dev", "world-clock") not in dev


def _asset_dir(synth: Synth, env: str, description_prefix: str) -> Path:
    (layer,) = [
        r
        for r in synth.resources(env, "AWS::Lambda::LayerVersion").values()
        if r["Properties"]["Description"].startswith(description_prefix)
    ]
    key = layer["Properties"]["Content"]["S3Key"]
    return synth.outdir / f"asset.{key.removesuffix('.zip')}"


def test_core_layer_ships_aicore_without_the_local_runtime(synth: Synth) -> None:
    layer = _asset_dir(synth, "dev", "aicore domain library")
    assert (layer / "python" / "aicore" / "topology.py").is_file()
    assert not (layer / "python" / "aicore" / "local").exists()
    assert not list(layer.rglob("__pycache__"))
    assert not list(layer.rglob("*.egg-info"))


def test_dependencies_layer_is_built_for_arm64_with_the_sdk_the_tests_run(synth: Synth) -> None:
    layer = _asset_dir(synth, "dev", "Runtime dependencies")
    site = layer / "python"
    assert list(site.glob("pydantic_core/*cpython-312-aarch64-linux-gnu.so"))
    packages = ("pydantic", "aws_lambda_powertools", "jwt", "aws_xray_sdk", "numpy", "tokenizers", "boto3")
    for package in packages:
        assert (site / package).is_dir(), package
    # Every package in the layer is the version these tests ran with: boto3 and botocore too,
    # which shadow the Lambda runtime's own (whatever version it ships that week).
    shipped = {
        _distribution(p.name): p.name.removesuffix(".dist-info").rsplit("-", 1)[1]
        for p in site.glob("*.dist-info")
    }
    assert {"boto3", "botocore", "s3transfer"} <= set(shipped)
    tested = installed_versions()
    drift = {
        name: (version, tested.get(name)) for name, version in shipped.items() if tested.get(name) != version
    }
    assert drift == {}, f"the layer ships other versions than the tests ran: {drift}; rebuild it"
    assert not (site / "bin").exists()


@pytest.mark.parametrize("env", ALL_STAGES)
def test_functions_that_embed_in_process_know_where_the_weights_are(synth: Synth, env: str) -> None:
    embedding = {fn.name for fn in all_functions(synth.topologies[env]) if fn.static_embeddings}
    assert {"npc-say", "npc-memory", "mind-api", "mind-reflection-steps"} <= embedding
    for resource in synth.functions(env).values():
        name = resource["Properties"]["FunctionName"].removeprefix(f"aicore-{env}-")
        variables = resource["Properties"]["Environment"]["Variables"]
        assert variables.get(LOCATION_VARIABLE) == (STATIC_EMBEDDINGS_PATH if name in embedding else None), (
            name
        )


def test_the_embeddings_layer_ships_what_the_embedder_loads_and_nothing_more(synth: Synth) -> None:
    layer = _asset_dir(synth, "dev", "Static embeddings")
    folder = layer / STATIC_EMBEDDINGS_PATH.removeprefix("/opt/")
    shipped = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert shipped == sorted([*STATIC_FILES, "LICENSE"])
    assert "MIT" in (folder / "LICENSE").read_text(encoding="utf-8")
    # The embedder reads them as Lambda would (from the layer, no wordllama package), and embeds
    # as it does from the wheel the tests run with
    lines = ["Have you heard anything about my missing sister?", "The forge never cools."]
    from_layer = StaticEmbedder(folder).embed(lines)
    assert np.allclose(from_layer, StaticEmbedder(wordllama_package_directory()).embed(lines))


def _unzipped_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1_000_000


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_function_unzipped_stays_well_within_lambdas_250_mb(synth: Synth, env: str) -> None:
    layers = {
        k: _unzipped_mb(synth.outdir / f"asset.{r['Properties']['Content']['S3Key'].removesuffix('.zip')}")
        for k, r in synth.resources(env, "AWS::Lambda::LayerVersion").items()
    }
    embeddings = next(
        size
        for k, size in layers.items()
        if synth.resource(env, k)["Properties"]["Description"].startswith("Static embeddings")
    )
    assert 15 < embeddings < 25  # the weights (16.4 MB) and the tokenizer (1.8 MB), nothing else
    for resource in synth.functions(env).values():
        code = synth.outdir / f"asset.{resource['Properties']['Code']['S3Key'].removesuffix('.zip')}"
        total = _unzipped_mb(code) + sum(layers[ref["Ref"]] for ref in resource["Properties"]["Layers"])
        print(f"{resource['Properties']['FunctionName']}: {total:.1f} MB unzipped")
        assert total < LAMBDA_UNZIPPED_MB * 0.8, resource["Properties"]["FunctionName"]


def _distribution(dist_info: str) -> str:
    return dist_info.removesuffix(".dist-info").rsplit("-", 1)[0].lower().replace("_", "-")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_model_roles_can_only_be_passed_to_sagemaker(synth: Synth, env: str) -> None:
    passes = [
        statement
        for policy in synth.resources(env, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "iam:PassRole"
    ]
    assert passes == [] or all(
        s["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}} for s in passes
    )
    managers = [fn for fn in synth.topologies[env].functions if fn.manages_model_tiers]
    assert len(passes) == sum(len(fn.manages_model_tiers) for fn in managers)


def test_the_client_layer_ships_the_sdk_with_its_generated_code_and_websockets(synth: Synth) -> None:
    site = _asset_dir(synth, "dev", "Client SDK") / "python"
    assert (site / "aicore_client" / "client.py").is_file()
    assert (site / "aicore_client" / "schemas" / "frames_pb2.py").is_file()  # made by `make protos`
    assert (site / "websockets" / "__init__.py").is_file()
    assert not (site / "bin").exists()
    assert not list(site.rglob("__pycache__"))

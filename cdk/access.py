"""IAM from the topology: each function or state machine may touch exactly what it declares.

Tables use the table grants (explicit actions, no wildcards); the bucket gets explicit object
actions; events, endpoints, connections, the signing keys, health checks and state machines get
one statement each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Aws
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from constructs import IConstruct

from aicore.topology import Access, Function, StateMachine, Topology, physical_name
from cdk.model_tier import ModelTier
from cdk.nag import acknowledge, reference, region_and_account, wildcard_resource

BUCKET_ACTIONS: Mapping[Access, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # (object actions, bucket actions); a writer may abandon a multipart upload it started.
    Access.READ: (("s3:GetObject",), ("s3:ListBucket",)),
    Access.WRITE: (("s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"), ()),
    Access.READ_WRITE: (
        ("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"),
        ("s3:ListBucket",),
    ),
}
PREFIX_ACTIONS: Mapping[Access, tuple[str, ...]] = {
    Access.READ: ("s3:GetObject",),
    Access.WRITE: ("s3:PutObject",),
    Access.READ_WRITE: ("s3:GetObject", "s3:PutObject"),
}
SERVING_RECORD_ACTIONS: Mapping[Access, tuple[str, ...]] = {
    Access.READ: ("ssm:GetParameter",),
    Access.WRITE: ("ssm:PutParameter", "ssm:DeleteParameter"),
    Access.READ_WRITE: ("ssm:GetParameter", "ssm:PutParameter", "ssm:DeleteParameter"),
}
INVOKE_ENDPOINT = ("sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream")
MANAGE_MODELS = ("sagemaker:CreateModel", "sagemaker:DescribeModel")
MANAGE_COMPONENT = ("sagemaker:DescribeInferenceComponent", "sagemaker:UpdateInferenceComponent")
CONNECTIONS_URL = "CONNECTIONS_URL"


@dataclass(frozen=True)
class Resources:
    tables: Mapping[str, dynamodb.ITable]
    buckets: Mapping[str, s3.IBucket]
    bus: events.IEventBus
    tiers: Mapping[str, ModelTier]
    signing_secret: secretsmanager.ISecret | None
    secrets: Mapping[str, secretsmanager.ISecret]
    websocket_stage: apigw.WebSocketStage
    state_machines: Mapping[str, sfn.StateMachine]
    indexed_tables: Mapping[str, bool]
    env: str


def _grant_data(
    principal: iam.IGrantable, owner: IConstruct, declared: Function | StateMachine, resources: Resources
) -> None:
    """`owner` is the principal's role: where cdk-nag finds (and we acknowledge) its findings."""
    for declared_table, access in declared.tables:
        table_name = declared_table.name
        table = resources.tables[table_name]
        {
            Access.READ: table.grant_read_data,
            Access.WRITE: table.grant_write_data,
            Access.READ_WRITE: table.grant_read_write_data,
        }[access](principal)
        if resources.indexed_tables.get(table_name):
            acknowledge(
                owner,
                wildcard_resource(f"{reference(owner, table)}/index/*"),
                f"{declared.name} is declared {access.value} on the {table_name} table, "
                "which includes that table's own indexes.",
            )
    for declared_bucket, access in declared.buckets:
        bucket_name = declared_bucket.name
        bucket = resources.buckets[bucket_name]
        if declared_bucket.objects_prefix is not None:
            _grant_prefix(principal, owner, declared, declared_bucket.objects_prefix, bucket, access)
            continue
        object_actions, bucket_actions = BUCKET_ACTIONS[access]
        iam.Grant.add_to_principal(
            grantee=principal, actions=list(object_actions), resource_arns=[bucket.arn_for_objects("*")]
        )
        if bucket_actions:
            iam.Grant.add_to_principal(
                grantee=principal, actions=list(bucket_actions), resource_arns=[bucket.bucket_arn]
            )
        acknowledge(
            owner,
            wildcard_resource(f"{reference(owner, bucket)}/*"),
            f"{declared.name} is declared {access.value} on the {bucket_name} bucket: objects are keyed by "
            "ids made at run time (sessions, model revisions, worlds, documents).",
        )
    if declared.publishes_events:
        resources.bus.grant_put_events_to(principal)
    for declared_tier in declared.model_tiers:
        tier = resources.tiers[declared_tier.name]
        iam.Grant.add_to_principal(
            grantee=principal,
            actions=list(INVOKE_ENDPOINT),
            resource_arns=[tier.endpoint_arn, tier.component_arn],
        )


def _grant_prefix(
    principal: iam.IGrantable,
    owner: IConstruct,
    declared: Function | StateMachine,
    prefix: str,
    bucket: s3.IBucket,
    access: Access,
) -> None:
    """GetObject/PutObject on the keys under one prefix: no listing, no deleting (the bucket expires them)."""
    iam.Grant.add_to_principal(
        grantee=principal,
        actions=list(PREFIX_ACTIONS[access]),
        resource_arns=[bucket.arn_for_objects(f"{prefix}*")],
    )
    acknowledge(
        owner,
        wildcard_resource(f"{reference(owner, bucket)}/{prefix}*"),
        f"{declared.name} is declared {access.value} on {prefix} of this bucket: keys are made per run.",
    )


def grant_function(
    topology: Topology, fn: Function, function: lambda_.Function, resources: Resources
) -> None:
    """Permissions and the environment variables that come with them."""
    role = _role(function.role)
    _grant_data(function, role, fn, resources)
    if fn.pushes_to_clients:
        stage = resources.websocket_stage
        stage.grant_management_api_access(function)
        function.add_environment(CONNECTIONS_URL, stage.callback_url)
        region, account = region_and_account(stage)
        api = reference(role, stage.api, "Ref")
        acknowledge(
            role,
            wildcard_resource(
                f"arn:<AWS::Partition>:execute-api:{region}:{account}:{api}/{stage.stage_name}/*/@connections/*"
            ),
            f"{fn.name} pushes to clients: any connection id (unknown at deploy) of this one API stage.",
        )
    _grant_keys(topology, fn, function, resources)
    for declared_secret in fn.secrets:  # read only: the operator puts their values
        resources.secrets[declared_secret.name].grant_read(function)
    if fn.observes_health:
        _grant_health(topology, function, resources)
    if fn.synthesizes_speech:
        _grant_speech(function, role)
    if fn.transcribes_speech:
        _grant_transcription(function, role)
    for managed in fn.manages_model_tiers:
        _grant_model_management(function, role, managed.name, resources.tiers[managed.name])
    for started in fn.starts_state_machines:
        machine = resources.state_machines[started.name]
        machine.grant_start_execution(function)
        function.add_environment(started.env_var, machine.state_machine_arn)
    for awaited in fn.awaits_state_machines:
        _grant_describe_executions(function, role, physical_name(resources.env, awaited.name))
    if fn.signals_state_machines:
        _grant_task_signals(function, role, [m.name for m in fn.signals_state_machines])
    for tier, access in fn.serving_records:
        parameter = tier.serving_parameter(resources.env)
        iam.Grant.add_to_principal(
            grantee=function,
            actions=list(SERVING_RECORD_ACTIONS[access]),
            resource_arns=[f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter{parameter}"],
        )


def _grant_keys(topology: Topology, fn: Function, function: lambda_.Function, resources: Resources) -> None:
    """Signers read the private key set; the rotation also writes it and publishes the public keys;
    verifiers read only the published public keys."""
    signing = topology.signing_keys
    if signing is None or resources.signing_secret is None:
        return
    name = signing.public_parameter(resources.env)
    parameter = f"arn:{Aws.PARTITION}:ssm:{Aws.REGION}:{Aws.ACCOUNT_ID}:parameter{name}"
    if fn.signing_keys is not None:
        resources.signing_secret.grant_read(function)
    if fn.signing_keys == Access.READ_WRITE:
        iam.Grant.add_to_principal(
            grantee=function,
            actions=["secretsmanager:PutSecretValue"],
            resource_arns=[resources.signing_secret.secret_arn],
        )
        iam.Grant.add_to_principal(grantee=function, actions=["ssm:PutParameter"], resource_arns=[parameter])
    if fn.reads_public_keys:
        iam.Grant.add_to_principal(grantee=function, actions=["ssm:GetParameter"], resource_arns=[parameter])


def _grant_speech(function: lambda_.Function, role: iam.IRole) -> None:
    """polly:SynthesizeSpeech, whose only resource is the lexicons it may apply (we use none)."""
    iam.Grant.add_to_principal(
        grantee=function,
        actions=["polly:SynthesizeSpeech"],
        resource_arns=[f"arn:{Aws.PARTITION}:polly:{Aws.REGION}:{Aws.ACCOUNT_ID}:lexicon/*"],
    )
    acknowledge(
        role,
        wildcard_resource("arn:<AWS::Partition>:polly:<AWS::Region>:<AWS::AccountId>:lexicon/*"),
        "SynthesizeSpeech authorizes on lexicons only; this account's, none of which grants data access.",
    )


def _grant_transcription(function: lambda_.Function, role: iam.IRole) -> None:
    """transcribe:StartStreamTranscriptionWebSocket, which IAM scopes to no resource (`*` only)."""
    iam.Grant.add_to_principal(
        grantee=function, actions=["transcribe:StartStreamTranscriptionWebSocket"], resource_arns=["*"]
    )
    acknowledge(
        role,
        wildcard_resource("*"),
        "StartStreamTranscriptionWebSocket supports no resource-level scoping in IAM; it only turns "
        "audio the function sends into text and reads no stored data.",
    )


def _grant_health(topology: Topology, function: lambda_.Function, resources: Resources) -> None:
    """Describe calls only: never a read of data."""
    iam.Grant.add_to_principal(
        grantee=function,
        actions=["dynamodb:DescribeTable"],
        resource_arns=[resources.tables[t.name].table_arn for t in topology.tables],
    )
    iam.Grant.add_to_principal(
        grantee=function, actions=["events:DescribeEventBus"], resource_arns=[resources.bus.event_bus_arn]
    )
    if resources.tiers:
        iam.Grant.add_to_principal(
            grantee=function,
            actions=["sagemaker:DescribeInferenceComponent"],
            resource_arns=[tier.component_arn for tier in resources.tiers.values()],
        )


def _grant_describe_executions(function: lambda_.Function, role: iam.IRole, machine_name: str) -> None:
    """states:DescribeExecution on the executions of one state machine (names unknown at deploy)."""
    executions = f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:execution:{machine_name}:*"
    iam.Grant.add_to_principal(
        grantee=function, actions=["states:DescribeExecution"], resource_arns=[executions]
    )
    acknowledge(
        role,
        wildcard_resource(
            f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{machine_name}:*"
        ),
        f"Waits for the {machine_name} executions it starts; their names are made per request.",
    )


def _grant_task_signals(function: lambda_.Function, role: iam.IRole, machines: list[str]) -> None:
    """states:SendTaskSuccess wakes an execution waiting on a task token. IAM has no resource type for
    task tokens (the action takes `*` only): the token, which only that machine's waits hand out and
    the function reads from the quest it owns, is the capability. No SendTaskFailure, no heartbeat."""
    iam.Grant.add_to_principal(grantee=function, actions=["states:SendTaskSuccess"], resource_arns=["*"])
    acknowledge(
        role,
        wildcard_resource("*"),
        f"states:SendTaskSuccess supports no resource-level scoping in IAM; it only answers task "
        f"tokens of {', '.join(machines)} that this function stores and reads itself.",
    )


def _grant_model_management(function: lambda_.Function, role: iam.IRole, name: str, tier: ModelTier) -> None:
    """Deploy a model version on a tier: its models, its inference component, its execution role."""
    iam.Grant.add_to_principal(grantee=function, actions=list(MANAGE_MODELS), resource_arns=[tier.models_arn])
    iam.Grant.add_to_principal(
        grantee=function, actions=list(MANAGE_COMPONENT), resource_arns=[tier.component_arn]
    )
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[tier.role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )
    acknowledge(  # the tier's ARNs are built from the AWS::Region and AWS::AccountId pseudo parameters
        role,
        wildcard_resource(
            f"arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:model/{tier.component_name}-*"
        ),
        f"Deploying a model version on {name} creates models named after its inference component; "
        "versions are unknown at deploy time.",
    )


def grant_state_machine(
    machine: StateMachine,
    state_machine: sfn.StateMachine,
    aliases: Mapping[str, lambda_.IFunction],
    resources: Resources,
) -> None:
    """The machine invokes the `live` alias of each function it declares, and nothing else."""
    role = _role(state_machine.role)
    _grant_data(state_machine, role, machine, resources)
    for function_name in machine.invokes:
        aliases[function_name].grant_invoke(state_machine)
    if machine.distributed_map:
        _grant_child_executions(state_machine, role, physical_name(resources.env, machine.name))


def _grant_child_executions(state_machine: sfn.StateMachine, role: iam.IRole, machine_name: str) -> None:
    """A Distributed Map starts its items as child executions of its own machine, then describes and
    stops them: StartExecution on the machine itself, Describe/Stop on its map runs' executions. The
    ARNs are built from the name: the machine's own ARN would make its role depend on itself."""
    arn = f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}"
    iam.Grant.add_to_principal(
        grantee=state_machine,
        actions=["states:StartExecution"],
        resource_arns=[f"{arn}:stateMachine:{machine_name}"],
    )
    iam.Grant.add_to_principal(
        grantee=state_machine,
        actions=["states:DescribeExecution", "states:StopExecution"],
        resource_arns=[f"{arn}:execution:{machine_name}/*"],
    )
    acknowledge(
        role,
        wildcard_resource(
            f"arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{machine_name}/*"
        ),
        "The Distributed Map's child executions of this machine: their names are made per map run.",
    )


def _role(role: iam.IRole | None) -> iam.IRole:
    if role is None:
        raise ValueError("expected a principal with its own role")
    return role


def check_declarations(topology: Topology) -> None:
    """What the topology names exists, and no function both starts and is invoked by one machine."""
    topology.check()

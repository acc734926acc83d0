"""The function factory: one Lambda per topology function, all alike, on the two layers."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from aicore.topology import Function, Topology, physical_name
from cdk.config import EnvironmentConfig
from cdk.nag import acknowledge, wildcard_resource
from cdk.retention import retention
from cdk.sources import Sources

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
# Never shipped: laptop-only code, caches, packaging leftovers.
LAYER_EXCLUDES = ["python/aicore/local", "**/__pycache__", "**/*.pyc", "python/*.egg-info", "**/.mypy_cache"]
CODE_EXCLUDES = ["**/__pycache__", "**/*.pyc", "tests"]


class Functions(Construct):
    """`by_name[fn.name]` is the Lambda of each function in the topology, the authorizer included."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topology: Topology,
        config: EnvironmentConfig,
        sources: Sources,
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, id)
        self._config = config
        self._sources = sources
        self._environment = dict(environment)
        self.core_layer = lambda_.LayerVersion(
            self,
            "core-layer",
            layer_version_name=physical_name(config.name, "core"),
            description="aicore domain library (aicore.local excluded)",
            code=lambda_.Code.from_asset(str(sources.core_layer), exclude=LAYER_EXCLUDES),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )
        self.deps_layer = lambda_.LayerVersion(
            self,
            "deps-layer",
            layer_version_name=physical_name(config.name, "deps"),
            description=(
                "Runtime dependencies (pydantic, Powertools with tracer, PyJWT, numpy, tokenizers) "
                "for arm64 / Python 3.12"
            ),
            code=lambda_.Code.from_asset(str(sources.deps_layer)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )
        self.by_name: dict[str, lambda_.Function] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        for fn in (topology.authorizer, *topology.functions):
            self.by_name[fn.name] = self._function(fn)

        acknowledge(
            self,
            "AwsSolutions-L1",
            "Functions run Python 3.12 on purpose: the dependencies layer is built for cp312/arm64 wheels; "
            "moving runtime means rebuilding that layer, done as its own change.",
        )
        acknowledge(
            self,
            wildcard_resource("*"),
            "Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, "
            "which have no resource-level permissions in IAM.",
        )

    def _function(self, fn: Function) -> lambda_.Function:
        name = physical_name(self._config.name, fn.name)
        code = self._sources.path(fn.code)
        if not (code / fn.module_path.removeprefix(fn.code).lstrip("/")).is_file():
            raise FileNotFoundError(
                f"{fn.name}: no handler module {fn.module_path} (the topology's Function.code)"
            )
        log_group = logs.LogGroup(
            self,
            f"{fn.name}-logs",
            log_group_name=f"/aws/lambda/{name}",
            retention=retention(self._config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        # Our own role: only its log group (no AWSLambdaBasicExecutionRole, which reaches every log group).
        role = iam.Role(
            self,
            f"{fn.name}-role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{name}: only what the topology says {fn.name} touches",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            fn.name,
            function_name=name,
            description=fn.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            code=lambda_.Code.from_asset(str(code), exclude=CODE_EXCLUDES),
            handler=fn.handler,
            memory_size=self._config.memory_mb(fn.memory_mb),
            timeout=Duration.seconds(fn.timeout_s),
            layers=[self.core_layer, self.deps_layer],
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                **self._environment,
                "POWERTOOLS_LOG_LEVEL": self._config.lambda_.log_level,
                "POWERTOOLS_LOGGER_LOG_EVENT": "false",
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",  # replies carry players' words
                "POWERTOOLS_TRACER_CAPTURE_ERROR": "true",
            },
        )
        self.log_groups[fn.name] = log_group
        return function

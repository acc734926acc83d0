"""The function factory: one Lambda per topology function, all alike, on the two layers (and a
third, the static embedder's weights, for the functions the topology marks `static_embeddings`).

Each function publishes a version on every change and has an alias, `live`, which is what
everything invokes (API routes, the authorizers, rules, schedules, state machines, custom
resources). Functions the topology marks `gradual_deployment` move `live` through CodeDeploy
(canary or linear, per environment), rolled back automatically when the alias reports errors.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from aicore.llm.embedding import LOCATION_VARIABLE
from aicore.topology import Function, Topology, physical_name
from cdk.build_assets import EMBEDDINGS_FOLDER
from cdk.config import UNRESERVED_MINIMUM, Deployment, EnvironmentConfig
from cdk.nag import acknowledge, wildcard_resource
from cdk.retention import retention
from cdk.sources import Sources

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.ARM_64
# Never shipped: laptop-only code, caches, packaging leftovers.
LAYER_EXCLUDES = ["python/aicore/local", "**/__pycache__", "**/*.pyc", "python/*.egg-info", "**/.mypy_cache"]
CODE_EXCLUDES = ["**/__pycache__", "**/*.pyc", "tests"]
LIVE = "live"
LAYERS_MOUNT = "/opt"  # where Lambda unpacks a function's layers
STATIC_EMBEDDINGS_PATH = f"{LAYERS_MOUNT}/{EMBEDDINGS_FOLDER}"
DEPLOYMENTS: dict[Deployment, codedeploy.ILambdaDeploymentConfig] = {
    "all_at_once": codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE,
    "canary_10_percent_5_minutes": codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES,
    "canary_10_percent_10_minutes": codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_10_MINUTES,
    "canary_10_percent_15_minutes": codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_15_MINUTES,
    "linear_10_percent_every_1_minute": codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_1_MINUTE,
    "linear_10_percent_every_2_minutes": codedeploy.LambdaDeploymentConfig.LINEAR_10_PERCENT_EVERY_2_MINUTES,
}


class FunctionLogs(Construct):
    """Each function's log group, `/aws/lambda/<name>`, with the environment's retention.

    They live in the top-level template, apart from their functions: logs outlive a move of the
    function's resources between templates (a group of that name cannot be created twice).
    """

    def __init__(self, scope: Construct, id: str, *, topology: Topology, config: EnvironmentConfig) -> None:
        super().__init__(scope, id)
        self.by_name = {
            fn.name: logs.LogGroup(
                self,
                f"{fn.name}-logs",
                log_group_name=log_group_name(config.name, fn.name),
                retention=retention(config.log_retention_days),
                removal_policy=RemovalPolicy.DESTROY,
            )
            for fn in topology.all_functions
        }


class Functions(Construct):
    """`by_name[fn.name]` is the Lambda of each function in the topology, the authorizer included;
    `aliases[fn.name]` its `live` alias, which is what gets invoked. `log_groups` are theirs
    (`FunctionLogs`)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topology: Topology,
        config: EnvironmentConfig,
        sources: Sources,
        environment: Mapping[str, str],
        log_groups: Mapping[str, logs.ILogGroup],
    ) -> None:
        super().__init__(scope, id)
        self._config = config
        self.log_groups = dict(log_groups)
        self._sources = sources
        self._environment = dict(environment)
        self.core_layer = self._layer(
            "core",
            "aicore domain library (aicore.local excluded)",
            lambda_.Code.from_asset(str(sources.core_layer), exclude=LAYER_EXCLUDES),
        )
        self.deps_layer = self._layer(
            "deps",
            "Runtime dependencies (pydantic, Powertools with tracer, PyJWT, numpy, tokenizers) "
            "for arm64 / Python 3.12",
            lambda_.Code.from_asset(str(sources.deps_layer)),
        )
        self.embeddings_layer = self._layer(
            "embeddings",
            "Static embeddings (WordLlama l2_supercat 256-d weights and tokenizer, MIT licence)",
            lambda_.Code.from_asset(str(sources.embeddings_layer)),
        )
        self.client_layer = self._layer(
            "client",
            "Client SDK (aicore_client) and websockets, for functions that play as game clients",
            lambda_.Code.from_asset(str(sources.client_layer)),
        )
        self.by_name: dict[str, lambda_.Function] = {}
        self.aliases: dict[str, lambda_.Alias] = {}
        self.deployment_groups: dict[str, codedeploy.LambdaDeploymentGroup] = {}
        for fn in (topology.authorizer, *topology.functions):
            self.by_name[fn.name] = self._function(fn)
            self.aliases[fn.name] = lambda_.Alias(
                self,
                f"{fn.name}-live",
                alias_name=LIVE,
                version=self.by_name[fn.name].current_version,
                description=f"What invokes {fn.name}: moved by deployments, back on rollback",
            )
        self.reserved = {
            fn.name: reserved
            for fn in (topology.authorizer, *topology.functions)
            if (reserved := config.reserved_concurrency(fn.reserved_concurrency)) is not None
        }
        if config.lambda_.deployment != "all_at_once":
            self._gradual_deployments(topology)

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

    def _layer(self, name: str, description: str, code: lambda_.Code) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            f"{name}-layer",
            layer_version_name=physical_name(self._config.name, name),
            description=description,
            code=code,
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )

    def _function(self, fn: Function) -> lambda_.Function:
        name = physical_name(self._config.name, fn.name)
        code = self._sources.path(fn.code)
        if not (code / fn.module_path.removeprefix(fn.code).lstrip("/")).is_file():
            raise FileNotFoundError(
                f"{fn.name}: no handler module {fn.module_path} (the topology's Function.code)"
            )
        # Our own role: only its log group (no AWSLambdaBasicExecutionRole, which reaches every log group).
        role = iam.Role(
            self,
            f"{fn.name}-role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{name}: only what the topology says {fn.name} touches",
        )
        self.log_groups[fn.name].grant_write(role)  # by reference: the log group exists first
        # The function names its group by its known name: one cross-template parameter less per function.
        log_group = logs.LogGroup.from_log_group_name(
            self, f"{fn.name}-log-group", log_group_name(self._config.name, fn.name)
        )
        return lambda_.Function(
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
            layers=self.layers_of(fn),
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=self._config.reserved_concurrency(fn.reserved_concurrency),
            environment={
                **self._environment,
                "POWERTOOLS_LOG_LEVEL": self._config.lambda_.log_level,
                "POWERTOOLS_LOGGER_LOG_EVENT": "false",
                "POWERTOOLS_TRACER_CAPTURE_RESPONSE": "false",  # replies carry players' words
                "POWERTOOLS_TRACER_CAPTURE_ERROR": "true",
                **({LOCATION_VARIABLE: STATIC_EMBEDDINGS_PATH} if fn.static_embeddings else {}),
            },
        )

    def layers_of(self, fn: Function) -> list[lambda_.ILayerVersion]:
        layers: list[lambda_.ILayerVersion] = [self.core_layer, self.deps_layer]
        layers += [self.embeddings_layer] if fn.static_embeddings else []
        return [*layers, self.client_layer] if fn.client_sdk else layers

    def _gradual_deployments(self, topology: Topology) -> None:
        """A CodeDeploy deployment group per `gradual_deployment` function, on its `live` alias."""
        gradual = [fn for fn in (topology.authorizer, *topology.functions) if fn.gradual_deployment]
        if not gradual:
            return
        application = codedeploy.LambdaApplication(
            self, "deployments", application_name=physical_name(self._config.name, "functions")
        )
        for fn in gradual:
            alias = self.aliases[fn.name]
            # The canary's own alarm: any error of the alias (old or new version) while traffic shifts.
            errors = cloudwatch.Alarm(
                self,
                f"{fn.name}-deployment-errors",
                alarm_description=f"{fn.name}: errors on the {LIVE} alias roll a deployment back",
                metric=alias.metric_errors(period=Duration.minutes(1), statistic="Sum"),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            self.deployment_groups[fn.name] = codedeploy.LambdaDeploymentGroup(
                self,
                f"{fn.name}-deployment",
                application=application,
                alias=alias,
                deployment_config=DEPLOYMENTS[self._config.lambda_.deployment],
                alarms=[errors],
                auto_rollback=codedeploy.AutoRollbackConfig(
                    failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
                ),
            )
            acknowledge(
                self.deployment_groups[fn.name],
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSCodeDeployRoleForLambdaLimited]",
                "CodeDeploy's own service policy for shifting Lambda alias traffic; AWS maintains it "
                "for exactly this role and scopes it to aliases and their alarms.",
            )


def log_group_name(env: str, function: str) -> str:
    return f"/aws/lambda/{physical_name(env, function)}"


def reserved_total(reserved: Mapping[str, int]) -> int:
    """The account concurrency an environment needs: its reservations plus Lambda's unreserved minimum."""
    return sum(reserved.values()) + UNRESERVED_MINIMUM

"""A model tier: a SageMaker real-time endpoint serving one LLM through an inference component.

The endpoint uses managed instance scaling and the model runs as an inference component, the
SageMaker setup that can scale to zero: Application Auto Scaling tracks invocations and
concurrent requests per copy (one copy per GPU instance, so per instance), instances follow the
copies, and where the minimum is zero a step policy on `NoCapacityInvocationFailures` brings the
first copy back when a request arrives.
"""

from __future__ import annotations

import hashlib
import json

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from aicore.llm.endpoints_config import EndpointConfig
from aicore.topology import physical_name
from cdk.config import EndpointScaling, EnvironmentConfig
from cdk.images import repository_arn
from cdk.nag import acknowledge, wildcard_resource
from cdk.retention import retention

VARIANT = "AllTraffic"
COPY_COUNT = "sagemaker:inference-component:DesiredCopyCount"


class ModelTier(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        tier: str,
        endpoint: EndpointConfig,
        scaling: EndpointScaling,
        image_uri: str,
        config: EnvironmentConfig,
    ) -> None:
        super().__init__(scope, id)
        self.tier = tier
        self.endpoint_config = endpoint
        self.endpoint_name = physical_name(config.name, tier)
        self.component_name = physical_name(config.name, tier)
        self.scaling = scaling

        self.log_group = logs.LogGroup(
            self,
            "logs",
            log_group_name=f"/aws/sagemaker/Endpoints/{self.endpoint_name}",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"{self.endpoint_name}: pull its serving image, write its logs",
        )
        policy = iam.Policy(
            self,
            "policy",
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "ecr:BatchCheckLayerAvailability",
                        "ecr:BatchGetImage",
                        "ecr:GetDownloadUrlForLayer",
                    ],
                    resources=[repository_arn(image_uri, Aws.PARTITION)],
                ),
                iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    resources=[self.log_group.log_group_arn],
                ),
            ],
        )
        if endpoint.model.s3_uri:
            bucket, _, key = endpoint.model.s3_uri.removeprefix("s3://").partition("/")
            policy.add_statements(
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}/{key.rstrip('/')}/*"],
                ),
                iam.PolicyStatement(
                    actions=["s3:ListBucket"], resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}"]
                ),
            )
        policy.attach_to_role(self.role)
        acknowledge(
            policy,
            wildcard_resource("*"),
            "ecr:GetAuthorizationToken has no resource-level permissions; "
            "image pulls are limited to one repository.",
        )
        if endpoint.model.s3_uri:
            acknowledge(
                policy,
                wildcard_resource(f"arn:<AWS::Partition>:s3:::{bucket}/{key.rstrip('/')}/*"),
                "The model's weights are every object under its own S3 prefix, read only.",
            )

        # Named under the tier's prefix (what model deployment may create), changing with the container.
        container = {"image": image_uri, "environment": endpoint.container_environment()}
        digest = hashlib.sha256(json.dumps(container, sort_keys=True).encode()).hexdigest()[:8]
        self.model_name = f"{self.component_name}-{digest}"
        self.model = sagemaker.CfnModel(
            self,
            "model",
            model_name=self.model_name,
            execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri, environment=endpoint.container_environment(), mode="SingleModel"
            ),
        )
        self.model.node.add_dependency(policy)
        self.endpoint_configuration = sagemaker.CfnEndpointConfig(
            self,
            "endpoint-config",
            execution_role_arn=self.role.role_arn,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT,
                    instance_type=endpoint.instance_type,
                    initial_instance_count=scaling.initial_instances,
                    managed_instance_scaling=sagemaker.CfnEndpointConfig.ManagedInstanceScalingProperty(
                        status="ENABLED",
                        min_instance_count=scaling.min_instances,
                        max_instance_count=scaling.max_instances,
                    ),
                    routing_config=sagemaker.CfnEndpointConfig.RoutingConfigProperty(
                        routing_strategy="LEAST_OUTSTANDING_REQUESTS"
                    ),
                )
            ],
        )
        self.endpoint_configuration.node.add_dependency(policy)
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "endpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.endpoint_configuration.attr_endpoint_config_name,
        )
        resources = endpoint.resources
        self.component = sagemaker.CfnInferenceComponent(
            self,
            "component",
            inference_component_name=self.component_name,
            endpoint_name=self.endpoint.attr_endpoint_name,
            variant_name=VARIANT,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=self.model.attr_model_name,
                compute_resource_requirements=sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                    number_of_accelerator_devices_required=resources.accelerators or None,  # 0: CPU
                    min_memory_required_in_mb=resources.min_memory_mb,
                    number_of_cpu_cores_required=resources.cpu_cores,
                ),
                startup_parameters=sagemaker.CfnInferenceComponent.InferenceComponentStartupParametersProperty(
                    container_startup_health_check_timeout_in_seconds=endpoint.startup_timeout_s,
                    model_data_download_timeout_in_seconds=endpoint.download_timeout_s,
                ),
            ),
            runtime_config=sagemaker.CfnInferenceComponent.InferenceComponentRuntimeConfigProperty(
                copy_count=scaling.initial_instances
            ),
        )
        # ARNs from names, not attributes: functions that invoke the tier need not wait for it.
        arn = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        self.endpoint_arn = f"{arn}:endpoint/{self.endpoint_name}"
        self.component_arn = f"{arn}:inference-component/{self.component_name}"
        # Every model of this tier: the stack's own and those model deployment creates.
        self.models_arn = f"{arn}:model/{self.component_name}-*"
        self._autoscaling(endpoint, scaling)

    def _autoscaling(self, endpoint: EndpointConfig, scaling: EndpointScaling) -> None:
        target = appscaling.ScalableTarget(
            self,
            "copies",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"inference-component/{self.component_name}",
            scalable_dimension=COPY_COUNT,
            min_capacity=scaling.min_instances,
            max_capacity=scaling.max_instances,
        )
        target.node.add_dependency(self.component)
        targets = endpoint.scaling
        scale_in = Duration.seconds(targets.scale_in_cooldown_s)
        scale_out = Duration.seconds(targets.scale_out_cooldown_s)
        metrics = appscaling.PredefinedMetric
        target.scale_to_track_metric(
            "invocations-per-copy",
            target_value=targets.invocations_per_copy_per_minute,
            predefined_metric=metrics.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY,
            scale_in_cooldown=scale_in,
            scale_out_cooldown=scale_out,
        )
        target.scale_to_track_metric(
            "concurrent-requests-per-copy",
            target_value=targets.concurrent_requests_per_copy,
            predefined_metric=metrics.SAGEMAKER_INFERENCE_COMPONENT_CONCURRENT_REQUESTS_PER_COPY_HIGH_RESOLUTION,
            scale_in_cooldown=scale_in,
            scale_out_cooldown=scale_out,
        )
        if scaling.min_instances == 0:
            # At zero copies no per-copy metric exists; a rejected request is the signal to start one.
            from_zero = appscaling.StepScalingAction(
                self,
                "scale-from-zero",
                scaling_target=target,
                adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
                cooldown=Duration.seconds(targets.scale_out_cooldown_s),
            )
            from_zero.add_adjustment(adjustment=1, lower_bound=0)
            alarm = cloudwatch.Alarm(
                self,
                "no-capacity",
                alarm_description=f"{self.component_name} has no copy: start one",
                metric=self.metric(
                    "NoCapacityInvocationFailures",
                    statistic="Maximum",
                    period=Duration.minutes(1),
                    labelled=False,
                ),
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cloudwatch_actions.ApplicationScalingAction(from_zero))

    def metric(
        self, name: str, *, statistic: str = "Sum", period: Duration | None = None, labelled: bool = True
    ) -> cloudwatch.Metric:
        """A SageMaker metric of this tier's inference component (AWS/SageMaker); labelled for graphs."""
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=name,
            dimensions_map={"InferenceComponentName": self.component_name},
            statistic=statistic,
            period=period or Duration.minutes(5),
            label=f"{self.tier} {name}" if labelled else None,
        )

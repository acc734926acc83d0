"""A model tier: a SageMaker real-time endpoint serving one LLM through an inference component.

The endpoint uses managed instance scaling and the model runs as an inference component, the
SageMaker setup that can scale to zero: Application Auto Scaling tracks invocations and
concurrent requests per copy (one copy per GPU instance, so per instance), instances follow the
copies, and where the minimum is zero a step policy on `NoCapacityInvocationFailures` brings the
first copy back when a request arrives.

Weights: the model reads its pinned revision from the models bucket (ModelDataSource, S3 prefix,
uncompressed, copied to /opt/ml/model) and runs with network isolation. The tier's custom resource
(`aicore.modelops.tier_setup`) runs the import flow for that revision before the model exists.

Who decides which model serves: CloudFormation creates the endpoint and the component; the model
registry decides the model. The component's ModelName is the custom resource's answer: the model
the registry recorded as serving (an SSM parameter its deployment flow writes), or, at the first
deploy, this stack's initial model. The custom resource is asked again whenever the component
would change, so a stack update never puts back a model the registry replaced.
"""

from __future__ import annotations

import hashlib
import json

from aws_cdk import Aws, CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from aicore.llm.endpoints_config import GPU_AMI_CUDA, EndpointConfig
from aicore.topology import SERVING_MODEL_ATTRIBUTE, physical_name
from aicore.topology import ModelTier as TopologyTier
from cdk.config import EndpointScaling, EnvironmentConfig
from cdk.images import cuda_version, repository_arn
from cdk.nag import acknowledge, reference, wildcard_resource
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
        models_bucket: s3.IBucket,
        setup_service_token: str,
    ) -> None:
        super().__init__(scope, id)
        self.tier = tier
        self.endpoint_config = endpoint
        self.endpoint_name = physical_name(config.name, tier)
        self.component_name = physical_name(config.name, tier)
        self.serving_parameter = TopologyTier(tier).serving_parameter(config.name)
        self.scaling = scaling
        check_ami(tier, endpoint, image_uri)

        # SageMaker writes the endpoint's logs here, and each inference component's container logs
        # to /aws/sagemaker/InferenceComponents/<component>: both exist first, with retention.
        self.log_group = logs.LogGroup(
            self,
            "logs",
            log_group_name=f"/aws/sagemaker/Endpoints/{self.endpoint_name}",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.component_log_group = logs.LogGroup(
            self,
            "component-logs",
            log_group_name=f"/aws/sagemaker/InferenceComponents/{self.component_name}",
            retention=retention(config.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"{self.endpoint_name}: pull its serving image, read staged weights, write its logs",
        )
        weights = f"{models_bucket.bucket_arn}/hf/*"
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
                    resources=[self.log_group.log_group_arn, self.component_log_group.log_group_arn],
                ),
                # Staged weights, read only: this tier's initial model and the versions deployed later.
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[weights]),
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[models_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": ["hf/*"]}},
                ),
            ],
        )
        policy.attach_to_role(self.role)
        acknowledge(
            policy,
            wildcard_resource("*"),
            "ecr:GetAuthorizationToken has no resource-level permissions; "
            "image pulls are limited to one repository.",
        )
        acknowledge(
            policy,
            wildcard_resource(f"{reference(policy, models_bucket)}/hf/*"),
            "Model weights are staged under hf/<model>/<revision>/; versions registered after the "
            "deploy are unknown now. Read only, and nothing else in that bucket.",
        )

        # Named under the tier's prefix (what model deployment may create), changing with the container
        # and the weights. Retained: the component may still serve it after a later stack changes it.
        self.weights_uri = f"s3://{models_bucket.bucket_name}/{endpoint.model.staged_prefix}"
        container = {
            "image": image_uri,
            "environment": endpoint.container_environment(),
            "weights": endpoint.model.staged_prefix,
        }
        digest = hashlib.sha256(json.dumps(container, sort_keys=True).encode()).hexdigest()[:8]
        self.model_name = f"{self.component_name}-{digest}"
        self.model = sagemaker.CfnModel(
            self,
            "model",
            model_name=self.model_name,
            execution_role_arn=self.role.role_arn,
            enable_network_isolation=True,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=image_uri,
                environment=endpoint.container_environment(),
                mode="SingleModel",
                model_data_source=sagemaker.CfnModel.ModelDataSourceProperty(
                    s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                        s3_uri=self.weights_uri, s3_data_type="S3Prefix", compression_type="None"
                    )
                ),
            ),
        )
        self.model.apply_removal_policy(RemovalPolicy.RETAIN)
        self.model.node.add_dependency(policy)
        self.endpoint_configuration = sagemaker.CfnEndpointConfig(
            self,
            "endpoint-config",
            execution_role_arn=self.role.role_arn,
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT,
                    instance_type=endpoint.instance_type,
                    inference_ami_version=endpoint.inference_ami_version,
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
        requirements = {
            "NumberOfAcceleratorDevicesRequired": resources.accelerators or None,  # 0: CPU
            "MinMemoryRequiredInMb": resources.min_memory_mb,
            "NumberOfCpuCoresRequired": resources.cpu_cores,
        }
        startup = {
            "ContainerStartupHealthCheckTimeoutInSeconds": endpoint.startup_timeout_s,
            "ModelDataDownloadTimeoutInSeconds": endpoint.download_timeout_s,
        }
        self.setup = CustomResource(
            self,
            "setup",
            service_token=setup_service_token,
            resource_type="Custom::ModelTier",
            properties={
                "Tier": tier,
                "ParameterName": self.serving_parameter,
                "HfModelId": endpoint.model.hf_model_id,
                "Revision": endpoint.model.revision,
                "InitialModel": self.model_name,
                # Everything else the component is made of: when any of it changes, CloudFormation
                # asks again which model serves before it updates the component.
                "Component": {
                    "Endpoint": self.endpoint_name,
                    "Requirements": {k: v for k, v in requirements.items() if v is not None},
                    "Startup": startup,
                    "CopyCount": scaling.initial_instances,
                },
            },
        )
        self.model.node.add_dependency(self.setup)  # weights staged before any model reads them
        self.component = sagemaker.CfnInferenceComponent(
            self,
            "component",
            inference_component_name=self.component_name,
            endpoint_name=self.endpoint.attr_endpoint_name,
            variant_name=VARIANT,
            specification=sagemaker.CfnInferenceComponent.InferenceComponentSpecificationProperty(
                model_name=self.setup.get_att_string(SERVING_MODEL_ATTRIBUTE),
                compute_resource_requirements=sagemaker.CfnInferenceComponent.InferenceComponentComputeResourceRequirementsProperty(
                    number_of_accelerator_devices_required=requirements["NumberOfAcceleratorDevicesRequired"],
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
        self.component.node.add_dependency(self.model)
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


def check_ami(tier: str, endpoint: EndpointConfig, image_uri: str) -> None:
    """A GPU tier's host AMI must run its container's CUDA (a newer driver runs older CUDA)."""
    if endpoint.inference_ami_version is None:
        return
    needed = cuda_version(image_uri)
    if needed is None:
        raise ValueError(f"{tier}: cannot tell the CUDA version of {image_uri} (no -cuXYZ in its tag)")
    available = GPU_AMI_CUDA[endpoint.inference_ami_version]
    if needed > available:
        raise ValueError(
            f"{tier}: {image_uri} is built for CUDA {needed[0]}.{needed[1]}, but "
            f"{endpoint.inference_ami_version} runs CUDA {available[0]}.{available[1]}: pick an AMI "
            f"whose CUDA is at least {needed[0]}.{needed[1]} ({', '.join(GPU_AMI_CUDA)})"
        )

"""The signing keys: set up at deploy (a CloudFormation custom resource that invokes this function
directly) and rotated on a schedule."""

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.aws.custom_resource import answer
from aicore.identity.keyring import KeyDirectory, KeyVault, rotate_keys, set_up_keys
from aicore.identity.keys import RotationPolicy
from aicore.observability import entrypoint, logger

PHYSICAL_ID = "signing-keys"
Answer = Callable[..., dict[str, Any]]


@entrypoint(correlation_id_path="RequestId")
def handler(
    event: dict[str, Any],
    context: LambdaContext,
    vault: KeyVault | None = None,
    directory: KeyDirectory | None = None,
    policy: RotationPolicy | None = None,
    respond: Answer = answer,
) -> dict[str, Any]:
    vault, directory = vault or wiring.key_vault(), directory or wiring.key_directory()
    if "RequestType" in event:
        return _custom_resource(event, context, vault, directory, respond)
    keys = rotate_keys(vault, directory, policy or wiring.rotation_policy())
    current = keys.current
    return {"current_kid": current.kid if current else None, "keys": len(keys.keys)}


def _custom_resource(
    event: dict[str, Any], context: LambdaContext, vault: KeyVault, directory: KeyDirectory, respond: Answer
) -> dict[str, Any]:
    """Create and Update: a key set that can sign, published (idempotent). Delete: nothing (the
    secret goes with the stack). CloudFormation always gets an answer, or it waits an hour."""
    try:
        data: dict[str, str] = {}
        if event["RequestType"] != "Delete":
            current = set_up_keys(vault, directory).current
            data["CurrentKid"] = current.kid if current else ""
    except Exception as exc:
        logger.exception("Signing key set-up failed")
        return respond(event, PHYSICAL_ID, failure=f"The signing key set-up failed ({type(exc).__name__}).")
    return respond(event, PHYSICAL_ID, data=data, log_stream=context.log_stream_name)

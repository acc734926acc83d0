"""The model import flow's steps (plan, copy one file, finish, fail)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.modelops.staging import ImportDeps, run_step
from aicore.observability import entrypoint


@entrypoint(correlation_id_path="state.request.execution_name")
def handler(event: dict[str, Any], context: LambdaContext, deps: ImportDeps | None = None) -> dict[str, Any]:
    """`{"step": ..., "state": ImportState}` in (`copy`: one `CopyItem`), the step's result out.

    A Catch puts the error it caught under `caught` in the state: the `fail` step reads it there.
    """
    state = dict(event["state"])
    caught = state.pop("caught", None)
    return run_step(event["step"], state, deps or wiring.import_deps(), caught)

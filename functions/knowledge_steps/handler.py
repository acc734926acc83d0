"""The lore ingestion flow's steps (chunk, embed, index, publish, fail): one Step Functions task each."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from aicore import wiring
from aicore.knowledge.ingest import IngestDeps, ingest_step, run_ingest_step
from aicore.observability import entrypoint


@entrypoint(correlation_id_path="document_id")
def handler(event: dict[str, Any], context: LambdaContext, deps: IngestDeps | None = None) -> dict[str, Any]:
    step = ingest_step.validate_python(event)
    return run_ingest_step(deps or wiring.ingest_deps(), step).model_dump(mode="json")

"""The real local model, cut at its token limit: the stream says `length`, the router says truncated."""

from __future__ import annotations

import pytest

from aicore.aws.sagemaker_runtime import SageMakerEndpoint
from aicore.llm.endpoint import ChatCall, TierTarget
from aicore.llm.router import ModelRequest, Router, RouterPolicy, Tier
from aicore.llm.wire import ChatMessage
from aicore.local.budget import MAX_DEADLINE_SCALE

pytestmark = pytest.mark.model
MESSAGES = [ChatMessage(role="user", content="Tell me a long story about a dragon and a blacksmith.")]


def test_the_local_model_stream_reports_the_token_limit(
    model_endpoint: SageMakerEndpoint, model_endpoint_names: list[str]
) -> None:
    stream = model_endpoint.stream_chat(ChatCall(TierTarget(model_endpoint_names[0]), MESSAGES, max_tokens=3))
    text = "".join(stream)

    assert text
    assert stream.finish_reason == "length"
    assert stream.usage is not None
    assert stream.usage.completion_tokens == 3


def test_a_reply_cut_by_the_local_model_is_reported_truncated(
    model_endpoint: SageMakerEndpoint, model_endpoint_names: list[str]
) -> None:
    # The longest deadlines: on a busy machine the CPU model may take longer than the unscaled 10 s
    # to start (the full run got the scripted line instead)
    policy = RouterPolicy(deadline_scale=MAX_DEADLINE_SCALE)
    router = Router(model_endpoint, {Tier.SILVER: model_endpoint_names[1]}, policy)

    completion = router.stream(
        ModelRequest(MESSAGES, first_token_budget_ms=None, max_tokens=3), lambda _: None, lambda: "scripted"
    )

    assert completion.tier == "silver"
    assert (completion.truncated, completion.truncated_reason) == (True, "length")

"""Hosted language models: the `ModelEndpoint` interface, its SageMaker adapter, the chat wire contract."""

from aicore.models.endpoint import ChatResult, ModelEndpoint, SageMakerEndpoint
from aicore.models.wire import ChatMessage

__all__ = ["ChatMessage", "ChatResult", "ModelEndpoint", "SageMakerEndpoint"]

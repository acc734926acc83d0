"""What the benchmarks share: streamed-reply samples, AWS call counting, writing results."""

from __future__ import annotations

import collections
import json
import os
import platform
import statistics
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class StreamSample:
    """One streamed reply: when its first token came, when it ended, how many tokens."""

    first_token_ms: float
    total_ms: float
    tokens: int

    @property
    def tokens_per_s(self) -> float:
        """Generation speed after the first token."""
        generating_s = (self.total_ms - self.first_token_ms) / 1000
        return (self.tokens - 1) / generating_s if self.tokens > 1 and generating_s > 0 else 0.0


def stream_summary(samples: Iterable[StreamSample]) -> dict[str, float]:
    listed = list(samples)
    return {
        "first_token_ms_median": statistics.median(s.first_token_ms for s in listed),
        "first_token_ms_p90": statistics.quantiles([s.first_token_ms for s in listed], n=10)[-1],
        "tokens_per_s_median": statistics.median(s.tokens_per_s for s in listed),
        "total_ms_median": statistics.median(s.total_ms for s in listed),
        "tokens_median": statistics.median(s.tokens for s in listed),
    }


class CallCounter:
    """Counts every AWS call this process makes (`service:Operation`), whichever client makes it;
    with `counts`, only the calls for which it says True (e.g. those of some threads)."""

    def __init__(self, counts: Callable[[], bool] = lambda: True) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        original = BaseClient._make_api_call

        def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            if counts():
                self.calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
            return original(client, operation, params)

        BaseClient._make_api_call = counted

    def take(self) -> collections.Counter[str]:
        """The calls since the last take."""
        taken, self.calls = self.calls, collections.Counter()
        return taken

    @contextmanager
    def counting(self) -> Iterator[collections.Counter[str]]:
        """The calls made inside the block (filled in when it ends)."""
        self.take()
        counted: collections.Counter[str] = collections.Counter()
        try:
            yield counted
        finally:
            counted.update(self.take())


def machine() -> dict[str, object]:
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}


def write_report(name: str, report: dict[str, Any]) -> Path:
    path = RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")
    return path


@contextmanager
def measured_runtime() -> Iterator[Callable[[str], str]]:
    """`aicore local` in process, set up for timing model turns; yields the WebSocket URL of a player.

    The longest model deadlines (a busy CPU must not turn replies into scripted lines, which have no
    tokens to time), and lore indexed by the static embedder (the embed tier's CPU model would
    compete with the turns being measured)."""
    from aicore.local.budget import MAX_DEADLINE_SCALE
    from aicore.local.embedded_aws import free_port
    from aicore.local.runtime import LocalRuntime, RuntimeOptions, local_token

    options = RuntimeOptions(port=free_port(), deadline_scale=MAX_DEADLINE_SCALE, knowledge_embedder="static")
    runtime = LocalRuntime(options)
    runtime.start()
    try:
        yield lambda player: f"ws://127.0.0.1:{options.port}/ws?token={local_token(player, 'demo')}"
    finally:
        runtime.stop()


@contextmanager
def embedded_aws(env: str) -> Iterator[str]:
    """Embedded AWS (moto server) with `env`'s resources, this process's AWS variables pointed at it;
    its URL. Stopped on leaving."""
    from aicore.local.embedded_aws import REGION, EmbeddedAws, create_resources
    from aicore.topology import resource_environment

    embedded = EmbeddedAws()
    url = embedded.start()
    os.environ.update(resource_environment(env))
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    try:
        create_resources(url, env)
        yield url
    finally:
        embedded.stop()

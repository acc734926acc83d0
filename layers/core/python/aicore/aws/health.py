"""`Health` over AWS: DescribeTable, DescribeEventBus, DescribeInferenceComponent (a tier serves
through its inference component). A dependency that cannot be asked is reported, not raised."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import BotoCoreError, ClientError

from aicore import aws
from aicore.status import DependencyHealth


class AwsHealth:
    def __init__(self, *, tables: Mapping[str, str], bus: str, components: Mapping[str, str | None]) -> None:
        self._tables, self._bus, self._components = dict(tables), bus, dict(components)

    def tables(self) -> list[DependencyHealth]:
        client = aws.dynamodb_client()

        def table(name: str) -> Callable[[], str]:
            return lambda: str(client.describe_table(TableName=self._tables[name])["Table"]["TableStatus"])

        return _in_parallel({name: table(name) for name in self._tables}, healthy={"ACTIVE", "UPDATING"})

    def bus(self) -> DependencyHealth:
        def describe() -> str:
            aws.events_client().describe_event_bus(Name=self._bus)
            return "ACTIVE"

        return _ask("bus", describe, healthy={"ACTIVE"})

    def model_tiers(self) -> list[DependencyHealth]:
        client = aws.sagemaker_client()

        def tier(component: str) -> Callable[[], str]:
            return lambda: str(
                client.describe_inference_component(InferenceComponentName=component)[
                    "InferenceComponentStatus"
                ]
            )

        asked = {name: tier(c) for name, c in self._components.items() if c}
        found = _in_parallel(asked, healthy={"InService"})
        unset = [
            DependencyHealth(name=name, ok=False, status="not configured")
            for name, c in self._components.items()
            if not c
        ]
        return sorted(found + unset, key=lambda d: d.name)


def _ask(name: str, describe: Callable[[], str], healthy: set[str]) -> DependencyHealth:
    try:
        status = describe()
    except ClientError as exc:
        return DependencyHealth(name=name, ok=False, status=exc.response["Error"]["Code"])
    except BotoCoreError as exc:
        return DependencyHealth(name=name, ok=False, status=type(exc).__name__)
    return DependencyHealth(name=name, ok=status in healthy, status=status)


def _in_parallel(describes: Mapping[str, Callable[[], str]], healthy: set[str]) -> list[DependencyHealth]:
    if not describes:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(describes))) as pool:
        answers = pool.map(lambda item: _ask(item[0], item[1], healthy), describes.items())
        return sorted(answers, key=lambda d: d.name)

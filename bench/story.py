"""What the storyteller (and the world-narrator) cost per event, on moto server: AWS calls by kind,
milliseconds (median), model calls. The model is an instant scripted one: what is measured is our
code and its AWS round trips (~6 ms each on moto here), not a tier's latency.

Cases, each in a fresh world of the demo's content (its two arcs):
- `no_beat_due`: a World Fact Changed that no beat waits for;
- `redelivered`: the same event again (a beat's trigger, delivered twice);
- `beat_due`: the toll raised on the north pass: the `toll-raised` beat, narrated, with its one
  fact change (through the facts' path);
- `schedule_visit`: the `story-time` schedule's visit of a world with nothing due;
- `narrator_new` / `narrator_cached`: the world-narrator after a fact of a region changed, then after
  a change that leaves what the narration describes as it was.

    python -m bench.story [--samples 15]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from aicore.auth import Caller, Role
from aicore.events import EventDetail, EventPublisher
from aicore.world.definition import WorldDefinition
from aicore.world.events import WorldFactChanged
from aicore.world.facts import FactChange, FactDeps, change_fact
from aicore.world.narration import NarrationDeps
from aicore.world.narrator import NarratorDeps, narrate_change
from aicore.world.story import StoryDeps, direct_all, direct_event
from bench.common import CallCounter, embedded_aws, machine, write_report
from tests.quest_fakes import ScriptedRouter
from tests.world_fakes import demo_content

LINE = "Vex's men nail a new board to the watchtower; the drivers turn back down the road."


class Recorded:
    """The bus (moto's: nothing consumes it here), and what was put on it."""

    def __init__(self, bus: EventPublisher) -> None:
        self.bus = bus
        self.published: list[tuple[str, EventDetail]] = []

    def publish(self, source: str, detail_type: str, detail: EventDetail) -> None:
        self.bus.publish(source, detail_type, detail)
        self.published.append((detail_type, detail))


class Sample:
    def __init__(self) -> None:
        self.ms: list[float] = []
        self.calls: list[collections.Counter[str]] = []
        self.model_calls: list[int] = []

    def measure(
        self, counter: CallCounter, router: ScriptedRouter, work: Callable[..., Any], *args: Any
    ) -> Any:
        asked = len(router.requests)
        with counter.counting() as calls:
            started = time.perf_counter()
            result = work(*args)
            self.ms.append((time.perf_counter() - started) * 1000)
        self.calls.append(calls)
        self.model_calls.append(len(router.requests) - asked)
        return result

    def summary(self) -> dict[str, Any]:
        totals = [sum(c.values()) for c in self.calls]
        return {
            "aws_calls": dict(sorted(self.calls[-1].items())),
            "aws_calls_total": {"median": statistics.median(totals), "max": max(totals)},
            "model_calls": {"median": statistics.median(self.model_calls), "max": max(self.model_calls)},
            "ms_median_on_moto": round(statistics.median(self.ms), 1),
            "samples": len(self.ms),
        }


def _world(store: Any) -> str:
    demo = demo_content()
    world = f"story-{uuid.uuid4().hex[:8]}"
    content = demo.model_copy(update={"world": demo.world.model_copy(update={"world_id": world})})
    store.put_definition(WorldDefinition.of(content, 1))
    return world


def _fact(
    facts: FactDeps, events: Recorded, world: str, key: str, value: Any, region: str
) -> WorldFactChanged:
    """A game server creates a fact of a region (the facts' path): its World Fact Changed."""
    game_server = Caller(subject="gs-bench", world_id=world, roles=(Role.GAME_SERVER,))
    change_fact(facts, game_server, world, key, FactChange(value=value, region=region), 0, "c-bench")
    changed = [e for _, e in events.published if isinstance(e, WorldFactChanged) and e.key == key]
    return changed[-1]


def run(samples: int) -> dict[str, Any]:
    from aicore import wiring

    store = wiring.world_state()
    events = Recorded(wiring.events())
    router = ScriptedRouter([LINE] * (samples * 8))
    story = StoryDeps(store=store, events=events, router=router)
    narrator = NarratorDeps(NarrationDeps(store=store, router=router), events)
    facts = FactDeps(store=store, events=events)
    counter = CallCounter()
    names = ("no_beat_due", "beat_due", "redelivered", "schedule_visit", "narrator_new", "narrator_cached")
    cases = {name: Sample() for name in names}
    for _ in range(samples):
        world = _world(store)
        quiet = _fact(facts, events, world, "market_day", True, "emberfall")
        cases["no_beat_due"].measure(counter, router, direct_event, story, quiet)
        toll = _fact(facts, events, world, "pass_toll", 3, "north-pass")
        told = cases["beat_due"].measure(counter, router, direct_event, story, toll)
        assert told.beats, told
        again = cases["redelivered"].measure(counter, router, direct_event, story, toll)
        assert not again.beats, again
        cases["schedule_visit"].measure(counter, router, direct_all, story, [world], "bench")
        cases["narrator_new"].measure(counter, router, narrate_change, narrator, quiet)
        repeated = quiet.model_copy(update={"event_id": "again"})
        cached = cases["narrator_cached"].measure(counter, router, narrate_change, narrator, repeated)
        assert cached.cached, cached
    return {name: sample.summary() for name, sample in cases.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()

    with embedded_aws("local"):
        per_event = run(args.samples)
        # the milliseconds are moto's and this machine's: its load says how busy it was
        load = round(os.getloadavg()[0], 1)
        report = {"machine": machine(), "load_average_1m": load, "per_event": per_event}
    print(json.dumps(report, indent=2))
    write_report("story", report)


if __name__ == "__main__":
    main()

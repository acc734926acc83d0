"""Group sessions, measured: the fan-out of one line to a 10-participant session (8 players, each on
one connection, and 2 NPCs) on embedded AWS: finding the players' connections (one Query each of the
`player-connections` index, side by side) and pushing the line through `@connections` (moto's, which
accepts every post: one HTTP call per connection, as in the cloud). Medians over samples.

    python -m bench.group [--samples 30] [--players 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from aicore.auth import Caller
from aicore.aws.connections import ApiGatewayPusher, DynamoConnectionStore
from aicore.connections import new_connection
from aicore.sessions.group import GroupFanOut
from aicore.sessions.models import Message, Participant, ParticipantKind, SessionHead
from aicore.topology import physical_name
from bench.common import CallCounter, embedded_aws, machine, write_report

ENV = "local"
NPCS = 2
TOKEN_EXPIRES_AT = 4_102_444_800  # 2100: the bench's tokens never expire


def _timed(call: Callable[[], Any], samples: int) -> tuple[float, Any]:
    """Median milliseconds of `samples` calls (after one warm-up), and the last result."""
    result = call()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 2), result


def run(samples: int, players: int) -> dict[str, Any]:
    with embedded_aws(ENV) as url:
        store = DynamoConnectionStore(physical_name(ENV, "connections"))
        ids = [f"bench-{n}" for n in range(players)]
        for player in ids:
            caller = Caller(subject=player, world_id="demo")
            store.put(new_connection(f"conn-{player}", caller, TOKEN_EXPIRES_AT))
        head = SessionHead(
            world_id="demo",
            participants=[Participant(id=p, kind=ParticipantKind.PLAYER) for p in ids]
            + [Participant(id=f"npc-{n}", kind=ParticipantKind.NPC) for n in range(NPCS)],
        )
        fan_out = GroupFanOut(store, ApiGatewayPusher(url))
        line = [Message(seq=1, speaker=head.participants[0], text="Who goes there?")]
        names = {p.id: p.id for p in head.participants}
        counter = CallCounter()

        audience_ms, audience = _timed(lambda: fan_out.audience(head, "demo", "conn-bench-0"), samples)
        push_ms, sent = _timed(lambda: fan_out.push(audience, line, names), samples)

        def whole() -> int:
            return fan_out.push(fan_out.audience(head, "demo", "conn-bench-0"), line, names)

        whole_ms, delivered = _timed(whole, samples)
        with counter.counting() as calls:
            whole()
    return {
        "participants": players + NPCS,
        "players": players,
        "connections_reached": len(audience.connections),
        "frames_sent_per_line": sent,
        "samples": samples,
        "find connections ms (median)": audience_ms,
        "push ms (median)": push_ms,
        "fan-out of one line ms (median)": whole_ms,
        "delivered per line": delivered,
        "aws calls per line": dict(calls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--players", type=int, default=8)
    args = parser.parse_args()
    result = run(args.samples, args.players)
    print(f"{'measure':<36} value")
    for key, value in result.items():
        print(f"{key:<36} {value}")
    load = [round(x, 1) for x in os.getloadavg()]
    print(f"{'load average (1, 5, 15 min)':<36} {load}")
    write_report("group", {"machine": machine(), "load_average": load, "fan_out": result})


if __name__ == "__main__":
    main()

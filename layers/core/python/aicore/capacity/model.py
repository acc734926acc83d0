"""What N concurrent players (CCU) need and cost a month, from the tier configs (`endpoints/*.json`),
the figures per turn in `assumptions.json` (each says whether it was measured, configured, estimated
or assumed) and AWS prices in `prices.json`. Pure arithmetic: every line item names the figures it
depends on, so a changed measurement shows where it moves the bill.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from aicore.llm.endpoints_config import EndpointConfig

HERE = Path(__file__).parent
SEED_DOLLARS_PER_CCU_MONTH = 8.0  # seed 001's target
SEED_CCU_PER_TWO_GPUS = (100, 200)  # seed 001's capacity estimate


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Figure(_Strict):
    value: float = Field(ge=0)
    source: Literal["measured", "config", "estimated", "assumed"]
    note: str


class Assumptions(_Strict):
    turns_per_player_minute: Figure
    gold_share: Figure
    gold_tokens_per_turn: Figure
    silver_tokens_per_turn: Figure
    gold_tokens_per_s: Figure
    silver_tokens_per_s: Figure
    gold_first_token_s: Figure
    silver_first_token_s: Figure
    frames_per_turn: Figure
    read_units_per_turn: Figure
    write_units_per_turn: Figure
    events_per_turn: Figure
    event_kb: Figure
    npc_say_overhead_s: Figure
    npc_say_memory_gb: Figure
    consumer_s_per_turn: Figure
    consumer_memory_gb: Figure
    log_kb_per_turn: Figure
    xray_sample_rate: Figure
    traces_per_turn: Figure
    voiced_turn_share: Figure
    spoken_turn_share: Figure
    reply_chars_per_turn: Figure
    utterance_s: Figure
    audio_frames_per_voiced_turn: Figure
    listen_chunk_s: Figure
    listen_chunk_invocation_s: Figure
    write_units_per_chunk: Figure

    def v(self, name: str) -> float:
        figure: Figure = getattr(self, name)
        return figure.value

    def with_values(self, values: Mapping[str, float]) -> Assumptions:
        """The same assumptions with some values replaced (a what-if)."""
        unknown = sorted(set(values) - set(type(self).model_fields))
        if unknown:
            raise ValueError(
                f"no figure named {', '.join(unknown)}: see {', '.join(type(self).model_fields)}"
            )
        for name, value in values.items():
            _check_what_if(name, value)
        changed = {
            name: getattr(self, name).model_copy(update={"value": value}) for name, value in values.items()
        }
        return self.model_copy(update=changed)


DIVISORS = ("gold_tokens_per_s", "silver_tokens_per_s", "listen_chunk_s")  # the model divides by these


def _check_what_if(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number of 0 or more")
    if name.endswith("_share") and value > 1:
        raise ValueError(f"{name} is a share of turns: between 0 and 1")
    if name in DIVISORS and value == 0:
        raise ValueError(f"{name} must be more than 0 (the model divides by it)")


class Prices(_Strict):
    region: str
    checked: str
    hours_per_month: float
    seconds_per_month: float
    instance_hour: dict[str, float]
    lambda_gb_second: float
    lambda_requests_per_million: float
    websocket_messages_per_million: float
    websocket_messages_per_million_after_first_billion: float
    websocket_connection_minutes_per_million: float
    dynamodb_read_units_per_million: float
    dynamodb_write_units_per_million: float
    eventbridge_events_per_million: float
    event_archive_per_gb: float
    logs_ingested_per_gb: float
    xray_traces_per_million: float
    xray_free_traces_per_month: float
    fixed_per_month: float
    polly_neural_chars_per_million: float
    transcribe_streaming_per_second: float
    transcribe_min_seconds_per_request: float  # AWS bills each stream at least this long


def load_assumptions(path: Path = HERE / "assumptions.json") -> Assumptions:
    return Assumptions.model_validate(json.loads(path.read_text()))


def load_prices(path: Path = HERE / "prices.json") -> Prices:
    return Prices.model_validate(json.loads(path.read_text()))


class LineItem(_Strict):
    item: str
    dollars: float
    arithmetic: str
    depends_on: tuple[str, ...]  # figures of assumptions.json, tier configs, prices


class TierLoad(_Strict):
    tier: str
    instance_type: str
    turns_per_minute: float
    seconds_per_turn: float
    concurrent_streams: float
    copies: int  # model copies (one per instance): the larger of the two scaling targets' needs


class CostReport(_Strict):
    ccu: int
    turns_per_month: float
    tiers: tuple[TierLoad, ...]
    items: tuple[LineItem, ...]
    total: float
    per_ccu_month: float
    per_turn: float
    gpus: int
    ccu_per_two_gpus: float


@dataclass(frozen=True)
class CostModel:
    assumptions: Assumptions
    prices: Prices
    tiers: Mapping[str, EndpointConfig]  # gold and silver

    def report(self, ccu: int) -> CostReport:
        a, p = self.assumptions, self.prices
        turns_per_s = ccu * a.v("turns_per_player_minute") / 60
        turns = turns_per_s * p.seconds_per_month
        loads = tuple(self._tier_load(tier, turns_per_s) for tier in ("gold", "silver"))
        items = (
            *(self._gpu_item(load) for load in loads),
            *self._per_turn_items(ccu, turns, loads),
            *self._voice_items(turns),
            LineItem(
                item="fixed (keys, alarms, dashboard, staged weights)",
                dollars=p.fixed_per_month,
                arithmetic="as at idle",
                depends_on=("prices.fixed_per_month",),
            ),
        )
        total = sum(item.dollars for item in items)
        gpus = sum(load.copies for load in loads)
        return CostReport(
            ccu=ccu,
            turns_per_month=turns,
            tiers=loads,
            items=items,
            total=total,
            per_ccu_month=total / ccu,
            per_turn=total / turns,
            gpus=gpus,
            ccu_per_two_gpus=2 * ccu / gpus,
        )

    def _tier_load(self, tier: str, turns_per_s: float) -> TierLoad:
        a, config = self.assumptions, self.tiers[tier]
        share = a.v("gold_share") if tier == "gold" else 1 - a.v("gold_share")
        seconds = a.v(f"{tier}_first_token_s") + a.v(f"{tier}_tokens_per_turn") / a.v(f"{tier}_tokens_per_s")
        per_s = turns_per_s * share
        concurrent = per_s * seconds
        copies = max(
            1,
            _whole(per_s * 60 / config.scaling.invocations_per_copy_per_minute),
            _whole(concurrent / config.scaling.concurrent_requests_per_copy),
        )
        return TierLoad(
            tier=tier,
            instance_type=config.instance_type,
            turns_per_minute=per_s * 60,
            seconds_per_turn=seconds,
            concurrent_streams=concurrent,
            copies=copies,
        )

    def _gpu_item(self, load: TierLoad) -> LineItem:
        p = self.prices
        hourly = p.instance_hour[load.instance_type]
        return LineItem(
            item=f"{load.tier} instances ({load.instance_type})",
            dollars=load.copies * hourly * p.hours_per_month,
            arithmetic=(
                f"max({load.turns_per_minute:,.0f} turns/min ÷ invocations per copy, "
                f"{load.concurrent_streams:,.1f} streams ÷ concurrent per copy) = {load.copies} "
                f"x ${hourly}/h x {p.hours_per_month:g} h"
            ),
            depends_on=(
                "turns_per_player_minute",
                "gold_share",
                f"{load.tier}_tokens_per_turn",
                f"{load.tier}_tokens_per_s",
                f"endpoints/{load.tier}.json scaling",
                f"prices.instance_hour[{load.instance_type}]",
            ),
        )

    def _per_turn_items(self, ccu: int, turns: float, loads: Iterable[TierLoad]) -> tuple[LineItem, ...]:
        a, p = self.assumptions, self.prices
        mix = {load.tier: load for load in loads}
        share = a.v("gold_share")
        stream_s = share * mix["gold"].seconds_per_turn + (1 - share) * mix["silver"].seconds_per_turn
        say_s = a.v("npc_say_overhead_s") + stream_s
        million = turns / 1e6
        messages = turns * a.v("frames_per_turn") / 1e6
        archive_gb = turns * a.v("events_per_turn") * a.v("event_kb") / 1e6
        traces = max(
            0.0, turns * a.v("traces_per_turn") * a.v("xray_sample_rate") - p.xray_free_traces_per_month
        )
        return (
            LineItem(
                item="npc-say (waits on the stream)",
                dollars=turns * say_s * a.v("npc_say_memory_gb") * p.lambda_gb_second
                + million * p.lambda_requests_per_million,
                arithmetic=f"{million:,.1f} M turns x {say_s:.2f} s x {a.v('npc_say_memory_gb'):g} GB",
                depends_on=("npc_say_overhead_s", "npc_say_memory_gb", "gold_tokens_per_s", "gold_share"),
            ),
            LineItem(
                item="event consumers (npc-memory, …)",
                dollars=turns * a.v("consumer_s_per_turn") * a.v("consumer_memory_gb") * p.lambda_gb_second
                + million * p.lambda_requests_per_million,
                arithmetic=(
                    f"{million:,.1f} M x {a.v('consumer_s_per_turn'):g} s x {a.v('consumer_memory_gb'):g} GB"
                ),
                depends_on=("consumer_s_per_turn", "consumer_memory_gb"),
            ),
            LineItem(
                item="WebSocket messages",
                dollars=self._websocket_dollars(messages),
                arithmetic=f"{million:,.1f} M turns x {a.v('frames_per_turn'):g} frames = {messages:,.1f} M",
                depends_on=("frames_per_turn",),
            ),
            LineItem(
                item="WebSocket connection minutes",
                dollars=ccu * p.seconds_per_month / 60 / 1e6 * p.websocket_connection_minutes_per_million,
                arithmetic=f"{ccu:,} x {p.seconds_per_month / 60:,.0f} min",
                depends_on=("ccu",),
            ),
            LineItem(
                item="DynamoDB (on demand)",
                dollars=million * a.v("read_units_per_turn") * p.dynamodb_read_units_per_million
                + million * a.v("write_units_per_turn") * p.dynamodb_write_units_per_million,
                arithmetic=(
                    f"{million:,.1f} M x ({a.v('read_units_per_turn'):g} read + "
                    f"{a.v('write_units_per_turn'):g} write units)"
                ),
                depends_on=("read_units_per_turn", "write_units_per_turn"),
            ),
            LineItem(
                item="EventBridge (and its archive)",
                dollars=million * a.v("events_per_turn") * p.eventbridge_events_per_million
                + archive_gb * p.event_archive_per_gb,
                arithmetic=f"{million * a.v('events_per_turn'):,.1f} M events, {archive_gb:,.0f} GB archived",
                depends_on=("events_per_turn", "event_kb"),
            ),
            LineItem(
                item="CloudWatch Logs",
                dollars=turns * a.v("log_kb_per_turn") / 1e6 * p.logs_ingested_per_gb,
                arithmetic=f"{million:,.1f} M x {a.v('log_kb_per_turn'):g} KB",
                depends_on=("log_kb_per_turn",),
            ),
            LineItem(
                item="X-Ray",
                dollars=traces / 1e6 * p.xray_traces_per_million,
                arithmetic=(
                    f"{a.v('traces_per_turn'):g} x {a.v('xray_sample_rate'):.0%} of {million:,.1f} M, "
                    "less the free"
                ),
                depends_on=("traces_per_turn", "xray_sample_rate"),
            ),
        )

    def _voice_items(self, turns: float) -> tuple[LineItem, ...]:
        """Voice out (Polly speaks a voiced reply as `npc.audio` frames) and voice in (a spoken line
        arrives as `npc.listen` chunks, each acknowledged and stored, then Transcribe writes it down).
        The turn a spoken line becomes is already one of the turns above."""
        a, p = self.assumptions, self.prices
        voiced = turns * a.v("voiced_turn_share")
        spoken = turns * a.v("spoken_turn_share")
        chunks_per_line = _whole(a.v("utterance_s") / a.v("listen_chunk_s"))
        chunks = spoken * chunks_per_line
        billed_s = max(p.transcribe_min_seconds_per_request, a.v("utterance_s"))
        text_messages = turns * a.v("frames_per_turn") / 1e6
        voice_messages = (voiced * a.v("audio_frames_per_voiced_turn") + chunks * 2) / 1e6
        chunk_gb_s = chunks * a.v("listen_chunk_invocation_s") * a.v("npc_say_memory_gb")
        return (
            LineItem(
                item="Polly (voiced replies)",
                dollars=voiced * a.v("reply_chars_per_turn") / 1e6 * p.polly_neural_chars_per_million,
                arithmetic=f"{voiced / 1e6:,.1f} M voiced x {a.v('reply_chars_per_turn'):g} characters",
                depends_on=(
                    "turns_per_player_minute",
                    "voiced_turn_share",
                    "reply_chars_per_turn",
                    "prices.polly_neural_chars_per_million",
                ),
            ),
            LineItem(
                item=f"Transcribe (spoken lines, {p.transcribe_min_seconds_per_request:g} s minimum each)",
                dollars=spoken * billed_s * p.transcribe_streaming_per_second,
                arithmetic=(
                    f"{spoken / 1e6:,.1f} M spoken x max({p.transcribe_min_seconds_per_request:g}, "
                    f"{a.v('utterance_s'):g}) s"
                ),
                depends_on=(
                    "turns_per_player_minute",
                    "spoken_turn_share",
                    "utterance_s",
                    "prices.transcribe_streaming_per_second",
                    "prices.transcribe_min_seconds_per_request",
                ),
            ),
            LineItem(
                item="voice frames (npc.audio; npc.listen chunks and npc.listening)",
                dollars=self._websocket_dollars(text_messages + voice_messages)
                - self._websocket_dollars(text_messages),
                arithmetic=(
                    f"{voiced / 1e6:,.1f} M voiced x {a.v('audio_frames_per_voiced_turn'):g} + "
                    f"{spoken / 1e6:,.1f} M spoken x {chunks_per_line} chunks x 2 = {voice_messages:,.1f} M"
                ),
                depends_on=(
                    "voiced_turn_share",
                    "audio_frames_per_voiced_turn",
                    "spoken_turn_share",
                    "utterance_s",
                    "listen_chunk_s",
                    "frames_per_turn",
                ),
            ),
            LineItem(
                item="npc-say per voice chunk",
                dollars=chunk_gb_s * p.lambda_gb_second + chunks / 1e6 * p.lambda_requests_per_million,
                arithmetic=(
                    f"{chunks / 1e6:,.1f} M chunks x {a.v('listen_chunk_invocation_s'):g} s x "
                    f"{a.v('npc_say_memory_gb'):g} GB"
                ),
                depends_on=(
                    "spoken_turn_share",
                    "utterance_s",
                    "listen_chunk_s",
                    "listen_chunk_invocation_s",
                    "npc_say_memory_gb",
                ),
            ),
            LineItem(
                item="DynamoDB (voice chunks)",
                dollars=chunks / 1e6 * a.v("write_units_per_chunk") * p.dynamodb_write_units_per_million,
                arithmetic=f"{chunks / 1e6:,.1f} M chunks x {a.v('write_units_per_chunk'):g} write units",
                depends_on=("spoken_turn_share", "utterance_s", "listen_chunk_s", "write_units_per_chunk"),
            ),
        )

    def _websocket_dollars(self, million_messages: float) -> float:
        """API Gateway's price falls after the first billion messages a month."""
        p = self.prices
        first_billion = min(million_messages, 1000.0)
        return (
            first_billion * p.websocket_messages_per_million
            + (million_messages - first_billion) * p.websocket_messages_per_million_after_first_billion
        )


def _whole(needed: float) -> int:
    """Copies for a need: rounded up, after the float noise of 1,800 / 600 = 3.0000000000000004."""
    return math.ceil(round(needed, 9))


SENSITIVE = (
    "turns_per_player_minute",
    "gold_share",
    "gold_tokens_per_turn",
    "gold_tokens_per_s",
    "silver_tokens_per_turn",
    "frames_per_turn",
    "voiced_turn_share",
    "spoken_turn_share",
)


class Sensitivity(_Strict):
    figure: str
    source: str
    base: float
    halved: float  # per CCU-month with the figure at half (a share: toward 0)
    doubled: float  # with the figure doubled (a share: capped at 1)


def sensitivity(model: CostModel, ccu: int, figures: Iterable[str] = SENSITIVE) -> tuple[Sensitivity, ...]:
    base = model.report(ccu).per_ccu_month

    def at(name: str, factor: float) -> float:
        value = model.assumptions.v(name) * factor
        if name.endswith("_share"):
            value = min(value, 1.0)
        changed = CostModel(model.assumptions.with_values({name: value}), model.prices, model.tiers)
        return changed.report(ccu).per_ccu_month

    return tuple(
        Sensitivity(
            figure=name,
            source=getattr(model.assumptions, name).source,
            base=base,
            halved=at(name, 0.5),
            doubled=at(name, 2.0),
        )
        for name in figures
    )

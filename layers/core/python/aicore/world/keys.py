"""Where a world lives in the world table (`pk = WORLD#<world>`) beside its NPCs and lore.

| sk | what |
| --- | --- |
| `CONTENT` | the manifest of the last push: content version, a digest per item |
| `STATE#DEF` | the world's definition: calendar, clock, climates, regions, factions |
| `STATE#CLOCK` | the clock as the studio last set it (absent: as the definition starts it) |
| `STATE#VERSION` | the world's state version: +1 at every fact, weather and clock change |
| `STATE#FACT#<key>` | a fact: its JSON value, version, region |
| `STATE#WEATHER#<region>` | the weather last announced for a region (the schedule compares with it) |
| `STATE#ARC#<arc>` | a story arc's progress: beats reached (narration, game time), fact changes pending |
| `FACTLOG#<key>#<version>` | every version of a fact (readable at a version) |
| `OUTBOX#<event id>` | an event written with its change, deleted once it is on the bus |
| `FACTREQ#<request id>` | a game server's fact change request already applied (expires) |
| `NARRATION#<region>` | the last narration of a region, with the digest of what it describes |
| `QUESTTPL#<template>` | a quest template as pushed (`aicore.quests` offers quests from it) |

Every world is also listed under `pk = WORLDS`, `sk = WORLD#<world>` (the weather schedule's round).
The `STATE#` prefix is one Query: a world's whole state in one round trip.
"""

from __future__ import annotations

WORLDS_PK = "WORLDS"
CONTENT_SK = "CONTENT"
STATE_PREFIX = "STATE#"
DEFINITION_SK = "STATE#DEF"
CLOCK_SK = "STATE#CLOCK"
VERSION_SK = "STATE#VERSION"
FACT_PREFIX = "STATE#FACT#"
WEATHER_PREFIX = "STATE#WEATHER#"
ARC_PREFIX = "STATE#ARC#"
OUTBOX_PREFIX = "OUTBOX#"


def registry_sk(world_id: str) -> str:
    return f"WORLD#{world_id}"


def npc_sk(npc_id: str) -> str:
    return f"NPC#{npc_id}"


def lore_sk(fact_id: str) -> str:
    return f"LORE#{fact_id}"


def fact_sk(key: str) -> str:
    return f"{FACT_PREFIX}{key}"


def fact_log_sk(key: str, version: int) -> str:
    return f"FACTLOG#{key}#{version:012d}"


def weather_sk(region_id: str) -> str:
    return f"{WEATHER_PREFIX}{region_id}"


def outbox_sk(event_id: str) -> str:
    return f"{OUTBOX_PREFIX}{event_id}"


def fact_request_sk(request_id: str) -> str:
    return f"FACTREQ#{request_id}"


def narration_sk(region_id: str) -> str:
    return f"NARRATION#{region_id}"


def arc_sk(arc_id: str) -> str:
    return f"{ARC_PREFIX}{arc_id}"


QUEST_TEMPLATE_PREFIX = "QUESTTPL#"


def quest_template_sk(template_id: str) -> str:
    return f"{QUEST_TEMPLATE_PREFIX}{template_id}"

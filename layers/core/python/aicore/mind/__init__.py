"""The NPC mind: a memory stream per NPC, retrieval for each turn, forgetting within bounds,
reflection, relationships and emotion, and gossip between NPCs (see docs/mind.md)."""

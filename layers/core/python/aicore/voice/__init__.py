"""Voice: NPC replies spoken sentence by sentence (`npc.audio`), players heard (`npc.listen`)."""

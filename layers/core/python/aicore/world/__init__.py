"""World content: NPC personas, lore, and what NPCs remember of players."""

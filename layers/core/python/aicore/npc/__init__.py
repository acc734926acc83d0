"""NPC behaviour and dialogue: prompt assembly and the streamed turn."""

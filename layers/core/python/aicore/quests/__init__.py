"""Quests: offered by NPCs from templates or generated, accepted, progressed, completed or abandoned."""

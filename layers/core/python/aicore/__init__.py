"""aicore: the domain library of the game's AI backend (shipped as a Lambda layer)."""

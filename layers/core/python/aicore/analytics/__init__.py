"""The analytics stream: the bus's turn, session tier, quest and purchase events as daily records."""

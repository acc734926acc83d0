"""The language system: each faction may speak a constructed language (`lexicon`), its NPCs sprinkle
it into their replies and players learn it by hearing (`speech`)."""

"""The knowledge base: lore documents per world (and a global corpus every world shares), chunked,
embedded and indexed by a Step Functions flow, searched by hybrid keyword + vector retrieval
within each NPC's knowledge filters. See docs/knowledge.md."""

"""Forever conversations: versioned sessions that players and NPCs join and leave."""

-- Active players per day per world: players who took a turn, or whose quest or purchase moved.
SELECT
  dt AS day,
  detail.world_id AS world_id,
  count(DISTINCT detail.player_id) AS active_players,
  count(DISTINCT CASE WHEN detail_type = 'NPC Turn Completed' THEN detail.player_id END) AS talking_players
FROM events
WHERE detail.player_id IS NOT NULL
GROUP BY dt, detail.world_id
ORDER BY day, world_id

-- Turns per NPC per day: each turn counted once, however often it was delivered.
SELECT
  dt AS day,
  detail.world_id AS world_id,
  detail.npc_id AS npc_id,
  count(DISTINCT id) AS turns
FROM events
WHERE detail_type = 'NPC Turn Completed'
GROUP BY dt, detail.world_id, detail.npc_id
ORDER BY day, world_id, npc_id

-- Fallback rate per tier per day: of the turns a tier answered, how many it answered because the
-- tiers before it did not (gold -> silver -> scripted; the scripted line is always a fallback).
SELECT
  dt AS day,
  detail.tier AS tier,
  count(DISTINCT id) AS turns,
  count(DISTINCT CASE WHEN detail.fallback THEN id END) AS fallbacks,
  round(CAST(count(DISTINCT CASE WHEN detail.fallback THEN id END) AS DOUBLE) / count(DISTINCT id), 3)
    AS fallback_rate
FROM events
WHERE detail_type = 'NPC Turn Completed'
GROUP BY dt, detail.tier
ORDER BY day, tier

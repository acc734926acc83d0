-- p95 time to first token (ms) per tier per day, with the median and the number of turns.
WITH turns AS (
  SELECT id, min(dt) AS dt, min(detail.tier) AS tier, min(detail.first_token_ms) AS first_token_ms
  FROM events
  WHERE detail_type = 'NPC Turn Completed' AND detail.first_token_ms IS NOT NULL
  GROUP BY id
)
SELECT
  dt AS day,
  tier,
  count(*) AS turns,
  round(approx_percentile(first_token_ms, 0.5), 1) AS p50_ms,
  round(approx_percentile(first_token_ms, 0.95), 1) AS p95_ms
FROM turns
GROUP BY dt, tier
ORDER BY day, tier

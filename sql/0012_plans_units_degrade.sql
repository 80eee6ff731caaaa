-- Quota units weighted_tokens and usd, and degrade-before-the-wall in the
-- ledger (issue 5).
--
-- 1. quota_limits.unit also accepts weighted_tokens (tokens x per-type
--    weight x per-model multiplier, from the gateway's quotas.weights and
--    quotas.model_multipliers) and usd (micro-USD at model_prices, the
--    ledger's cost rules). The gateway computes the amounts
--    (fcgi/quota_units.c).
-- 2. usage_events.degraded: how and why a request was degraded instead of
--    refused (a cheaper model, a max_tokens cap), NULL when it was not;
--    aigw_ingest_usage_json() fills it from the event's "degraded".
-- Forward-only: never edit after merge.

ALTER TABLE quota_limits DROP CONSTRAINT IF EXISTS quota_limits_unit_check;
ALTER TABLE quota_limits ADD CONSTRAINT quota_limits_unit_check
    CHECK (unit IN ('requests', 'input_tokens', 'output_tokens',
                    'total_tokens', 'weighted_tokens', 'usd'));

ALTER TABLE usage_events ADD COLUMN IF NOT EXISTS degraded text;

CREATE OR REPLACE FUNCTION aigw_ingest_usage_json(events json)
RETURNS integer LANGUAGE sql AS $$
    WITH ins AS (
        INSERT INTO usage_events AS u (
            request_id, ts, api_key_id, user_id, group_id, route, provider,
            backend, requested_model, served_model, http_status,
            prompt_tokens, completion_tokens, total_tokens, cached_tokens,
            usage_source, input_per_mtok, output_per_mtok,
            cached_input_per_mtok, cost_pusd, latency_ms, ttft_ms, stream,
            partial, error_type, guardrail, attempts, degraded)
        SELECT e.request_id, e.ts, e.api_key_id, e.user_id, e.group_id,
               e.route, e.provider, e.backend, e.requested_model,
               e.served_model, e.http_status,
               coalesce(e.prompt_tokens, 0), coalesce(e.completion_tokens, 0),
               coalesce(e.total_tokens, 0), coalesce(e.cached_tokens, 0),
               coalesce(e.usage_source, 'none'),
               p.input_per_mtok, p.output_per_mtok, p.cached_input_per_mtok,
               CASE WHEN p.model IS NOT NULL THEN
                   (coalesce(e.prompt_tokens, 0) - coalesce(e.cached_tokens, 0))
                       * p.input_per_mtok
                   + coalesce(e.cached_tokens, 0)
                       * coalesce(p.cached_input_per_mtok, p.input_per_mtok)
                   + coalesce(e.completion_tokens, 0) * p.output_per_mtok
               END,
               e.latency_ms, e.ttft_ms, coalesce(e.stream, false),
               coalesce(e.partial, false), e.error_type, e.guardrail,
               coalesce(e.attempts, 1), e.degraded
        FROM json_to_recordset(events) AS e(
                 request_id uuid, ts timestamptz, api_key_id uuid,
                 user_id text, group_id text, route text, provider text,
                 backend text, requested_model text, served_model text,
                 http_status integer, prompt_tokens bigint,
                 completion_tokens bigint, total_tokens bigint,
                 cached_tokens bigint, usage_source text, latency_ms integer,
                 ttft_ms integer, stream boolean, partial boolean,
                 error_type text, guardrail text, attempts smallint,
                 degraded text)
        LEFT JOIN LATERAL (
            SELECT mp.* FROM model_prices mp
            WHERE mp.model = e.served_model AND mp.effective_from <= e.ts
            ORDER BY mp.effective_from DESC LIMIT 1) p1 ON true
        LEFT JOIN LATERAL (
            SELECT mp.* FROM model_prices mp
            WHERE p1.model IS NULL
              AND mp.model IN (regexp_replace(e.served_model,
                                              '-[0-9]{4}-?[0-9]{2}-?[0-9]{2}$',
                                              ''), e.requested_model)
              AND mp.effective_from <= e.ts
            ORDER BY mp.model = e.requested_model, mp.effective_from DESC
            LIMIT 1) p2 ON true
        CROSS JOIN LATERAL (
            SELECT coalesce(p1.model, p2.model) AS model,
                   coalesce(p1.input_per_mtok, p2.input_per_mtok)
                       AS input_per_mtok,
                   coalesce(p1.output_per_mtok, p2.output_per_mtok)
                       AS output_per_mtok,
                   -- p2 is looked up only when p1 found nothing
                   coalesce(p1.cached_input_per_mtok, p2.cached_input_per_mtok)
                       AS cached_input_per_mtok) p
        ON CONFLICT (request_id, ts) DO NOTHING
        RETURNING 1)
    SELECT count(*)::integer FROM ins;
$$;

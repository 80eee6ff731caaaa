-- Routing and failover: how many upstream calls a request took (1 without
-- failover; each failover adds one). One row per client request still.
ALTER TABLE usage_events ADD COLUMN attempts smallint NOT NULL DEFAULT 1;

CREATE OR REPLACE FUNCTION aigw_ingest_usage(events jsonb)
RETURNS integer LANGUAGE sql AS $$
    WITH ins AS (
        INSERT INTO usage_events AS u (
            request_id, ts, api_key_id, user_id, group_id, route, provider,
            backend, requested_model, served_model, http_status,
            prompt_tokens, completion_tokens, total_tokens, cached_tokens,
            usage_source, input_per_mtok, output_per_mtok,
            cached_input_per_mtok, cost_pusd, latency_ms, ttft_ms, stream,
            partial, error_type, guardrail, attempts)
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
               coalesce(e.attempts, 1)
        FROM jsonb_to_recordset(events) AS e(
                 request_id uuid, ts timestamptz, api_key_id uuid,
                 user_id text, group_id text, route text, provider text,
                 backend text, requested_model text, served_model text,
                 http_status integer, prompt_tokens bigint,
                 completion_tokens bigint, total_tokens bigint,
                 cached_tokens bigint, usage_source text, latency_ms integer,
                 ttft_ms integer, stream boolean, partial boolean,
                 error_type text, guardrail text, attempts smallint)
        LEFT JOIN LATERAL (
            SELECT mp.* FROM model_prices mp
            JOIN (VALUES (1, e.served_model),
                         (2, regexp_replace(e.served_model,
                                            '-[0-9]{4}-?[0-9]{2}-?[0-9]{2}$',
                                            '')),
                         (3, e.requested_model)) AS c(pref, name)
              ON mp.model = c.name
            WHERE mp.effective_from <= e.ts
            ORDER BY c.pref, mp.effective_from DESC LIMIT 1) p ON true
        ON CONFLICT (request_id, ts) DO NOTHING
        RETURNING 1)
    SELECT count(*)::integer FROM ins;
$$;

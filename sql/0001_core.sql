-- aigw core schema: API keys, model prices, and the usage ledger.
-- Forward-only: never edit after merge; add a new NNNN_*.sql instead.

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key_hash    bytea NOT NULL UNIQUE,          -- SHA-256 of the secret
    key_hint    text NOT NULL,                  -- masked form: sk-aigw-...abcd
    name        text,
    user_id     text NOT NULL,
    group_id    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CHECK (octet_length(key_hash) = 32)
);

-- Prices in micro-USD per 1M tokens ($2.50 / 1M tokens = 2500000).
-- A row takes effect at effective_from; history is never rewritten.
CREATE TABLE model_prices (
    model                   text NOT NULL,
    effective_from          timestamptz NOT NULL DEFAULT '-infinity',
    input_per_mtok          bigint NOT NULL CHECK (input_per_mtok >= 0),
    output_per_mtok         bigint NOT NULL CHECK (output_per_mtok >= 0),
    cached_input_per_mtok   bigint CHECK (cached_input_per_mtok >= 0),
    PRIMARY KEY (model, effective_from)
);

INSERT INTO model_prices (model, input_per_mtok, output_per_mtok,
                          cached_input_per_mtok) VALUES
    ('gpt-4o',                 2500000, 10000000, 1250000),
    ('gpt-4o-mini',             150000,   600000,   75000),
    ('gpt-4.1',                2000000,  8000000,  500000),
    ('gpt-4.1-mini',            400000,  1600000,  100000),
    ('gpt-4.1-nano',            100000,   400000,   25000),
    ('o3',                     2000000,  8000000,  500000),
    ('o4-mini',                1100000,  4400000,  275000),
    ('gpt-3.5-turbo',           500000,  1500000,    NULL),
    ('text-embedding-3-small',   20000,        0,    NULL),
    ('text-embedding-3-large',  130000,        0,    NULL),
    ('claude-sonnet-4-5',      3000000, 15000000,  300000),
    ('claude-haiku-4-5',       1000000,  5000000,  100000),
    ('claude-opus-4-1',       15000000, 75000000, 1500000),
    ('gemini-2.5-pro',         1250000, 10000000,  310000),
    ('gemini-2.5-flash',        300000,  2500000,   75000),
    ('mock-gpt',               1000000,  2000000,  500000);

-- The ledger: one row per request, partitioned by month.
-- request_id is a UUIDv7 whose timestamp is ts, so (request_id, ts) is as
-- unique as request_id alone and replays are idempotent.
-- cost_pusd is exact: tokens x micro-USD-per-1M = pico-USD (1e-12 USD).
-- It is NULL when the model had no price (unpriced, not free).
CREATE TABLE usage_events (
    request_id          uuid NOT NULL,
    ts                  timestamptz NOT NULL,
    api_key_id          uuid,
    user_id             text,
    group_id            text,
    route               text,
    provider            text,
    backend             text,
    requested_model     text,
    served_model        text,
    http_status         integer NOT NULL,
    prompt_tokens       bigint NOT NULL DEFAULT 0,
    completion_tokens   bigint NOT NULL DEFAULT 0,
    total_tokens        bigint NOT NULL DEFAULT 0,
    cached_tokens       bigint NOT NULL DEFAULT 0,
    usage_source        text NOT NULL DEFAULT 'none', -- provider|none
    input_per_mtok          bigint,
    output_per_mtok         bigint,
    cached_input_per_mtok   bigint,
    cost_pusd           bigint,
    latency_ms          integer,
    ttft_ms             integer,
    stream              boolean NOT NULL DEFAULT false,
    partial             boolean NOT NULL DEFAULT false,
    error_type          text,
    PRIMARY KEY (request_id, ts)
) PARTITION BY RANGE (ts);

CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT;

CREATE INDEX ON usage_events (ts);
CREATE INDEX ON usage_events (api_key_id, ts);
CREATE INDEX ON usage_events (group_id, ts);
CREATE INDEX ON usage_events (user_id, ts);

-- Creates monthly partitions from the month of `start` for `months` months.
-- Idempotent; called by migrations and by the gateway's ledger writer.
CREATE FUNCTION aigw_ensure_usage_partitions(start date, months int)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', start)::date;
    name text;
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        name := format('usage_events_%s', to_char(m, 'YYYYMM'));
        IF to_regclass(name) IS NULL THEN
            BEGIN
                EXECUTE format('CREATE TABLE %I PARTITION OF usage_events '
                               'FOR VALUES FROM (%L) TO (%L)',
                               name, m, (m + interval '1 month')::date);
            EXCEPTION WHEN others THEN
                -- rows for this month already sit in the default partition
                RAISE WARNING 'aigw: partition % not created: %', name, SQLERRM;
            END;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
END $$;

SELECT aigw_ensure_usage_partitions((now() - interval '1 month')::date, 4);

-- Ingests a JSON array of usage events (the spool's line format), pricing
-- each at the price in effect at its own timestamp. Replays are no-ops.
CREATE FUNCTION aigw_ingest_usage(events jsonb)
RETURNS integer LANGUAGE sql AS $$
    WITH ins AS (
        INSERT INTO usage_events AS u (
            request_id, ts, api_key_id, user_id, group_id, route, provider,
            backend, requested_model, served_model, http_status,
            prompt_tokens, completion_tokens, total_tokens, cached_tokens,
            usage_source, input_per_mtok, output_per_mtok,
            cached_input_per_mtok, cost_pusd, latency_ms, ttft_ms, stream,
            partial, error_type)
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
               coalesce(e.partial, false), e.error_type
        FROM jsonb_to_recordset(events) AS e(
                 request_id uuid, ts timestamptz, api_key_id uuid,
                 user_id text, group_id text, route text, provider text,
                 backend text, requested_model text, served_model text,
                 http_status integer, prompt_tokens bigint,
                 completion_tokens bigint, total_tokens bigint,
                 cached_tokens bigint, usage_source text, latency_ms integer,
                 ttft_ms integer, stream boolean, partial boolean,
                 error_type text)
        LEFT JOIN LATERAL (
            SELECT * FROM model_prices mp
            WHERE mp.model = coalesce(e.served_model, e.requested_model)
              AND mp.effective_from <= e.ts
            ORDER BY mp.effective_from DESC LIMIT 1) p ON true
        ON CONFLICT (request_id, ts) DO NOTHING
        RETURNING 1)
    SELECT count(*)::integer FROM ins;
$$;

-- Chargeback-friendly view: cost in USD.
CREATE VIEW usage_events_usd AS
SELECT u.*, u.cost_pusd / 1e12 AS cost_usd FROM usage_events u;

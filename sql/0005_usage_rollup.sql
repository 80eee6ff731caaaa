-- Chargeback at scale: a daily rollup of the ledger, maintained
-- incrementally by `aigw-report rollup` (cron, every few minutes), and
-- reports that read the rollup plus the not-yet-rolled tail, so totals stay
-- exact to the token and to the pico-USD.
--
-- Which rows are rolled up is decided by the inserting transaction's id,
-- not by ts: rows arrive late (ledger batches, spool replays hours later),
-- and transactions commit out of order. Every row records its transaction
-- (ins_xid). A rollup run takes the xmin of its snapshot as the new
-- watermark: every transaction below it has ended, so no row with
-- ins_xid < watermark can still appear. Rows below the watermark are in the
-- rollup; rows at or above it are the tail, found through an index.

ALTER TABLE usage_events
    ADD COLUMN ins_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX ON usage_events (ins_xid);

CREATE TABLE usage_rollup_daily (
    day                 date NOT NULL,          -- UTC day of ts
    group_id            text,
    user_id             text,
    api_key_id          uuid,
    model               text,                   -- served, else requested
    provider            text,
    route               text,
    requests            bigint NOT NULL,
    prompt_tokens       numeric NOT NULL,
    completion_tokens   numeric NOT NULL,
    total_tokens        numeric NOT NULL,
    cached_tokens       numeric NOT NULL,
    cost_pusd           numeric NOT NULL,       -- priced rows only
    unpriced_requests   bigint NOT NULL,
    UNIQUE NULLS NOT DISTINCT (day, group_id, user_id, api_key_id, model,
                               provider, route)
);
CREATE INDEX ON usage_rollup_daily (day, group_id);

-- One row: rows with ins_xid < rolled_xid are in usage_rollup_daily.
CREATE TABLE usage_rollup_state (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    rolled_xid  xid8 NOT NULL DEFAULT '0',
    rolled_at   timestamptz
);
INSERT INTO usage_rollup_state DEFAULT VALUES;

-- Rolls up every row committed since the last run. Idempotent and safe to
-- run concurrently (runs serialize on the state row). Returns the number of
-- ledger rows added to the rollup.
CREATE FUNCTION aigw_rollup_usage()
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    lo xid8;
    hi xid8 := pg_snapshot_xmin(pg_current_snapshot());
    n bigint;
BEGIN
    SELECT rolled_xid INTO lo FROM usage_rollup_state FOR UPDATE;
    IF hi <= lo THEN
        RETURN 0;
    END IF;
    WITH agg AS (
        SELECT (u.ts AT TIME ZONE 'UTC')::date AS day, u.group_id, u.user_id,
               u.api_key_id,
               coalesce(u.served_model, u.requested_model) AS model,
               u.provider, u.route, count(*) AS requests,
               sum(u.prompt_tokens) AS prompt_tokens,
               sum(u.completion_tokens) AS completion_tokens,
               sum(u.total_tokens) AS total_tokens,
               sum(u.cached_tokens) AS cached_tokens,
               coalesce(sum(u.cost_pusd), 0) AS cost_pusd,
               count(*) FILTER (WHERE u.cost_pusd IS NULL) AS unpriced
        FROM usage_events u
        WHERE u.ins_xid >= lo AND u.ins_xid < hi
        GROUP BY 1, 2, 3, 4, 5, 6, 7),
    ins AS (
        INSERT INTO usage_rollup_daily AS r
        SELECT day, group_id, user_id, api_key_id, model, provider, route,
               requests, prompt_tokens, completion_tokens, total_tokens,
               cached_tokens, cost_pusd, unpriced FROM agg
        ON CONFLICT (day, group_id, user_id, api_key_id, model, provider,
                     route) DO UPDATE SET
            requests = r.requests + excluded.requests,
            prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
            completion_tokens = r.completion_tokens
                                + excluded.completion_tokens,
            total_tokens = r.total_tokens + excluded.total_tokens,
            cached_tokens = r.cached_tokens + excluded.cached_tokens,
            cost_pusd = r.cost_pusd + excluded.cost_pusd,
            unpriced_requests = r.unpriced_requests
                                + excluded.unpriced_requests
        RETURNING 1)     -- runs whether or not it is read
    SELECT coalesce(sum(requests), 0) INTO n FROM agg;
    UPDATE usage_rollup_state SET rolled_xid = hi, rolled_at = now();
    RETURN n;
END $$;

-- Exact daily usage: the rollup plus the tail aggregated on the fly.
-- Chargeback queries read this (or the views below) instead of the ledger.
CREATE VIEW usage_daily AS
SELECT day, group_id, user_id, api_key_id, model, provider, route, requests,
       prompt_tokens, completion_tokens, total_tokens, cached_tokens,
       cost_pusd, unpriced_requests
FROM usage_rollup_daily
UNION ALL
SELECT (u.ts AT TIME ZONE 'UTC')::date, u.group_id, u.user_id, u.api_key_id,
       coalesce(u.served_model, u.requested_model), u.provider, u.route,
       count(*), sum(u.prompt_tokens), sum(u.completion_tokens),
       sum(u.total_tokens), sum(u.cached_tokens),
       coalesce(sum(u.cost_pusd), 0),
       count(*) FILTER (WHERE u.cost_pusd IS NULL)
FROM usage_events u
WHERE u.ins_xid >= (SELECT rolled_xid FROM usage_rollup_state)
GROUP BY 1, 2, 3, 4, 5, 6, 7;

CREATE FUNCTION aigw_day_lo(p_from timestamptz)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_from = date_trunc('day', p_from, 'UTC') THEN p_from
                ELSE date_trunc('day', p_from, 'UTC') + interval '1 day' END
$$;

CREATE FUNCTION aigw_day_hi(p_from timestamptz, p_to timestamptz)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT greatest(aigw_day_lo(p_from), date_trunc('day', p_to, 'UTC'))
$$;

-- The usage of [p_from, p_to) at day granularity, exact: whole UTC days
-- inside the period come from the rollup plus the tail (rows at or above
-- the watermark, found through the ins_xid index); the partial days at
-- either end come from the ledger rows themselves. PL/pgSQL so that the
-- watermark and the bounds are known values when the scans are planned
-- (partition pruning, index choice); a STABLE function runs on the
-- caller's snapshot, so rollup state, rollup and tail are one consistent
-- view even while a rollup commits.
--   lo: the first midnight at or after p_from
--   hi: the last midnight at or before p_to, never before lo
CREATE FUNCTION aigw_usage_between(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (day date, group_id text, user_id text, api_key_id uuid,
               model text, provider text, route text, requests bigint,
               prompt_tokens numeric, completion_tokens numeric,
               total_tokens numeric, cached_tokens numeric,
               cost_pusd numeric, unpriced_requests bigint)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    w xid8;
    lo timestamptz := aigw_day_lo(p_from);
    hi timestamptz := aigw_day_hi(p_from, p_to);
BEGIN
    SELECT s.rolled_xid INTO w FROM usage_rollup_state s;
    RETURN QUERY
    SELECT r.day, r.group_id, r.user_id, r.api_key_id, r.model, r.provider,
           r.route, r.requests, r.prompt_tokens, r.completion_tokens,
           r.total_tokens, r.cached_tokens, r.cost_pusd, r.unpriced_requests
    FROM usage_rollup_daily r
    WHERE r.day >= (lo AT TIME ZONE 'UTC')::date
      AND r.day < (hi AT TIME ZONE 'UTC')::date
    UNION ALL
    SELECT (u.ts AT TIME ZONE 'UTC')::date, u.group_id, u.user_id,
           u.api_key_id, coalesce(u.served_model, u.requested_model),
           u.provider, u.route, 1::bigint, u.prompt_tokens::numeric,
           u.completion_tokens::numeric, u.total_tokens::numeric,
           u.cached_tokens::numeric, coalesce(u.cost_pusd, 0)::numeric,
           (u.cost_pusd IS NULL)::int::bigint
    FROM usage_events u
    WHERE (u.ins_xid >= w AND u.ts >= lo AND u.ts < hi)
       OR (u.ts >= p_from AND u.ts < least(p_to, lo))
       OR (u.ts >= greatest(p_from, hi) AND u.ts < p_to);
END $$;

-- Chargeback views (exact; cost in USD with 6 decimals).
CREATE VIEW chargeback_group_month AS
SELECT date_trunc('month', day)::date AS month, group_id,
       sum(requests) AS requests, sum(prompt_tokens) AS prompt_tokens,
       sum(completion_tokens) AS completion_tokens,
       sum(total_tokens) AS total_tokens,
       round(sum(cost_pusd) / 1e12, 6) AS cost_usd,
       sum(unpriced_requests) AS unpriced_requests
FROM usage_daily GROUP BY 1, 2;

CREATE VIEW chargeback_user_model_month AS
SELECT date_trunc('month', day)::date AS month, user_id, model,
       sum(requests) AS requests, sum(prompt_tokens) AS prompt_tokens,
       sum(completion_tokens) AS completion_tokens,
       sum(total_tokens) AS total_tokens,
       round(sum(cost_pusd) / 1e12, 6) AS cost_usd,
       sum(unpriced_requests) AS unpriced_requests
FROM usage_daily GROUP BY 1, 2, 3;

CREATE VIEW chargeback_api_key_day AS
SELECT day, api_key_id, user_id, group_id,
       sum(requests) AS requests, sum(total_tokens) AS total_tokens,
       round(sum(cost_pusd) / 1e12, 6) AS cost_usd
FROM usage_daily GROUP BY 1, 2, 3, 4;

-- Chargeback at scale, second step (issue 6): an hourly rollup over every
-- report dimension, daily and monthly rollups by group and model for the
-- month reports finance asks for, and one function that reads rollups plus the live tail
-- in a single query. Supersedes 0005's daily rollup (left in place, no
-- longer maintained: aigw_rollup_usage() now runs the new rollup, and
-- 0005's views and aigw_usage_between() now read the new tables).
--
-- As in 0005, rows are rolled by their inserting transaction (ins_xid), not
-- by ts: a rollup run takes the xmin of its snapshot as the new watermark;
-- every row with ins_xid below it is in the rollups, every row at or above
-- it is the tail. Late rows (spool replays with old timestamps) land in the
-- tail, then in their old hour at the next run, so reports stay exact.
-- Forward-only: never edit after merge.

-- Every dimension, one row per UTC hour. Serves reports by api_key or
-- user, and the partial days at the ends of a period.
CREATE TABLE usage_rollup_hourly (
    hour                timestamptz NOT NULL,   -- UTC hour of ts
    api_key_id          uuid,
    user_id             text,
    group_id            text,
    model               text,                   -- served, else requested
    provider            text,
    route               text,
    requests            bigint NOT NULL,
    prompt_tokens       bigint NOT NULL,
    completion_tokens   bigint NOT NULL,
    total_tokens        bigint NOT NULL,
    cached_tokens       bigint NOT NULL,
    cost_pusd           numeric NOT NULL,       -- priced rows only
    unpriced_requests   bigint NOT NULL,
    UNIQUE NULLS NOT DISTINCT (hour, api_key_id, user_id, group_id, model,
                               provider, route)
);

-- The same events without api_key and user, one row per UTC day: small
-- (groups x models x providers x routes per day) whatever the traffic.
-- Serves reports by day, and the partial months of a period.
CREATE TABLE usage_rollup_daily_group (
    day                 date NOT NULL,          -- UTC day of ts
    group_id            text,
    model               text,
    provider            text,
    route               text,
    requests            bigint NOT NULL,
    prompt_tokens       bigint NOT NULL,
    completion_tokens   bigint NOT NULL,
    total_tokens        bigint NOT NULL,
    cached_tokens       bigint NOT NULL,
    cost_pusd           numeric NOT NULL,
    unpriced_requests   bigint NOT NULL,
    UNIQUE NULLS NOT DISTINCT (day, group_id, model, provider, route)
);

-- The same by UTC month: a month report by group (and model, provider,
-- route) reads a few thousand rows, however many events the month holds.
CREATE TABLE usage_rollup_monthly_group (
    month               date NOT NULL,          -- first day, UTC
    group_id            text,
    model               text,
    provider            text,
    route               text,
    requests            bigint NOT NULL,
    prompt_tokens       bigint NOT NULL,
    completion_tokens   bigint NOT NULL,
    total_tokens        bigint NOT NULL,
    cached_tokens       bigint NOT NULL,
    cost_pusd           numeric NOT NULL,
    unpriced_requests   bigint NOT NULL,
    UNIQUE NULLS NOT DISTINCT (month, group_id, model, provider, route)
);

-- One row: ledger rows with ins_xid < rolled_xid are in all three rollups.
CREATE TABLE usage_rollup_watermark (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    rolled_xid  xid8 NOT NULL DEFAULT '0',
    rolled_at   timestamptz,
    rolled_rows bigint NOT NULL DEFAULT 0   -- ledger rows folded, all runs
);
INSERT INTO usage_rollup_watermark DEFAULT VALUES;

-- Folds the rows committed since the last run into the rollups, in one
-- scan of the new rows (through the ins_xid index). Idempotent; concurrent
-- runs serialize on the watermark row, and the later one folds only what
-- the earlier left. Returns the number of ledger rows folded.
-- work_mem: a first run over a large ledger aggregates millions of rows.
CREATE FUNCTION aigw_rollup_hourly()
RETURNS bigint LANGUAGE plpgsql SET work_mem = '64MB' AS $$
DECLARE
    lo xid8;
    hi xid8;
    n bigint;
BEGIN
    SELECT rolled_xid INTO lo FROM usage_rollup_watermark FOR UPDATE;
    -- taken after the lock: a run that waited sees its predecessor's work
    hi := pg_snapshot_xmin(pg_current_snapshot());
    IF hi <= lo THEN
        RETURN 0;
    END IF;
    WITH agg AS (
        SELECT date_trunc('hour', u.ts, 'UTC') AS hour, u.api_key_id,
               u.user_id, u.group_id,
               coalesce(u.served_model, u.requested_model) AS model,
               u.provider, u.route, count(*) AS requests,
               sum(u.prompt_tokens)::bigint AS prompt_tokens,
               sum(u.completion_tokens)::bigint AS completion_tokens,
               sum(u.total_tokens)::bigint AS total_tokens,
               sum(u.cached_tokens)::bigint AS cached_tokens,
               coalesce(sum(u.cost_pusd), 0)::numeric AS cost_pusd,
               count(*) FILTER (WHERE u.cost_pusd IS NULL) AS unpriced
        FROM usage_events u
        WHERE u.ins_xid >= lo AND u.ins_xid < hi
        GROUP BY 1, 2, 3, 4, 5, 6, 7),
    hourly AS (
        INSERT INTO usage_rollup_hourly AS r
        SELECT * FROM agg
        ON CONFLICT (hour, api_key_id, user_id, group_id, model, provider,
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
        RETURNING 1),       -- runs whether or not it is read
    daily AS (
        INSERT INTO usage_rollup_daily_group AS r
        SELECT (hour AT TIME ZONE 'UTC')::date, group_id, model, provider,
               route, sum(requests)::bigint, sum(prompt_tokens)::bigint,
               sum(completion_tokens)::bigint, sum(total_tokens)::bigint,
               sum(cached_tokens)::bigint, sum(cost_pusd),
               sum(unpriced)::bigint
        FROM agg GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (day, group_id, model, provider, route) DO UPDATE SET
            requests = r.requests + excluded.requests,
            prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
            completion_tokens = r.completion_tokens
                                + excluded.completion_tokens,
            total_tokens = r.total_tokens + excluded.total_tokens,
            cached_tokens = r.cached_tokens + excluded.cached_tokens,
            cost_pusd = r.cost_pusd + excluded.cost_pusd,
            unpriced_requests = r.unpriced_requests
                                + excluded.unpriced_requests
        RETURNING 1),
    monthly AS (
        INSERT INTO usage_rollup_monthly_group AS r
        SELECT date_trunc('month', hour AT TIME ZONE 'UTC')::date, group_id,
               model, provider, route, sum(requests)::bigint,
               sum(prompt_tokens)::bigint, sum(completion_tokens)::bigint,
               sum(total_tokens)::bigint, sum(cached_tokens)::bigint,
               sum(cost_pusd), sum(unpriced)::bigint
        FROM agg GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (month, group_id, model, provider, route) DO UPDATE SET
            requests = r.requests + excluded.requests,
            prompt_tokens = r.prompt_tokens + excluded.prompt_tokens,
            completion_tokens = r.completion_tokens
                                + excluded.completion_tokens,
            total_tokens = r.total_tokens + excluded.total_tokens,
            cached_tokens = r.cached_tokens + excluded.cached_tokens,
            cost_pusd = r.cost_pusd + excluded.cost_pusd,
            unpriced_requests = r.unpriced_requests
                                + excluded.unpriced_requests
        RETURNING 1)
    SELECT coalesce(sum(requests), 0) INTO n FROM agg;
    UPDATE usage_rollup_watermark
       SET rolled_xid = hi, rolled_at = now(), rolled_rows = rolled_rows + n;
    RETURN n;
END $$;

-- 0005's entry point (cron jobs may call it) now maintains the new rollups.
CREATE OR REPLACE FUNCTION aigw_rollup_usage()
RETURNS bigint LANGUAGE sql AS $$
    SELECT aigw_rollup_hourly();
$$;

-- The usage of [p_from, p_to), exact, from the cheapest source for each
-- part of the period, aggregated inside the function (one row per bucket
-- and dimension values, never one per event):
--   whole UTC months  usage_rollup_monthly_group    (p_grain 'month')
--   whole UTC days    usage_rollup_daily_group      (p_grain 'day', 'month')
--   whole UTC hours   usage_rollup_hourly           (any p_grain)
--   the tail          ledger rows at or above the watermark in those hours
--   partial hours     ledger rows at either end of the period
-- The group rollups have no api_key_id or user_id (NULL): callers that
-- group by api_key or user pass p_grain 'hour', callers that group by day
-- pass 'day'. bucket is an instant in the row's UTC p_grain period (the
-- start of its month, day or hour); api_key_id and user_id are NULL
-- unless p_grain is 'hour'.
-- PL/pgSQL, so that the bounds and watermark are known values when the
-- scans are planned (partition pruning, index choice); STABLE, so the
-- watermark, rollups and tail are read in one snapshot, consistent even
-- while a rollup commits.
CREATE FUNCTION aigw_usage_rollup_between(p_from timestamptz,
                                          p_to timestamptz, p_grain text)
RETURNS TABLE (bucket timestamptz, api_key_id uuid, user_id text,
               group_id text, model text, provider text, route text,
               requests bigint, prompt_tokens bigint,
               completion_tokens bigint, total_tokens bigint,
               cached_tokens bigint, cost_pusd numeric,
               unpriced_requests bigint)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    w xid8;
    -- [hlo, hhi): the whole hours inside the period
    hlo timestamptz := CASE WHEN p_from = date_trunc('hour', p_from, 'UTC')
                            THEN p_from
                            ELSE date_trunc('hour', p_from, 'UTC')
                                 + interval '1 hour' END;
    hhi timestamptz := greatest(hlo, date_trunc('hour', p_to, 'UTC'));
    dlo timestamptz := hhi;     -- [dlo, dhi): whole days inside [hlo, hhi)
    dhi timestamptz := hhi;
    mlo timestamptz;            -- [mlo, mhi): whole months inside those
    mhi timestamptz;
BEGIN
    IF p_grain NOT IN ('hour', 'day', 'month') THEN
        RAISE EXCEPTION 'aigw_usage_rollup_between: p_grain must be hour, '
                        'day or month, not %', p_grain;
    END IF;
    IF p_grain <> 'hour' THEN
        dlo := least(hhi, CASE WHEN hlo = date_trunc('day', hlo, 'UTC')
                               THEN hlo
                               ELSE date_trunc('day', hlo, 'UTC')
                                    + interval '1 day' END);
        dhi := greatest(dlo, date_trunc('day', hhi, 'UTC'));
    END IF;
    mlo := dhi;
    mhi := dhi;
    IF p_grain = 'month' THEN
        mlo := least(dhi, CASE WHEN dlo = date_trunc('month', dlo, 'UTC')
                               THEN dlo
                               ELSE date_trunc('month', dlo, 'UTC')
                                    + interval '1 month' END);
        mhi := greatest(mlo, date_trunc('month', dhi, 'UTC'));
    END IF;
    SELECT s.rolled_xid INTO w FROM usage_rollup_watermark s;
    RETURN QUERY
    SELECT (m.month::timestamp AT TIME ZONE 'UTC'), NULL::uuid, NULL::text,
           m.group_id, m.model, m.provider, m.route, m.requests,
           m.prompt_tokens, m.completion_tokens, m.total_tokens,
           m.cached_tokens, m.cost_pusd, m.unpriced_requests
    FROM usage_rollup_monthly_group m
    WHERE m.month >= (mlo AT TIME ZONE 'UTC')::date
      AND m.month < (mhi AT TIME ZONE 'UTC')::date
    UNION ALL
    SELECT (d.day::timestamp AT TIME ZONE 'UTC'), NULL::uuid, NULL::text,
           d.group_id, d.model, d.provider, d.route, d.requests,
           d.prompt_tokens, d.completion_tokens, d.total_tokens,
           d.cached_tokens, d.cost_pusd, d.unpriced_requests
    FROM usage_rollup_daily_group d
    WHERE (d.day >= (dlo AT TIME ZONE 'UTC')::date
           AND d.day < (mlo AT TIME ZONE 'UTC')::date)
       OR (d.day >= (mhi AT TIME ZONE 'UTC')::date
           AND d.day < (dhi AT TIME ZONE 'UTC')::date)
    UNION ALL
    SELECT h.hour, h.api_key_id, h.user_id, h.group_id, h.model, h.provider,
           h.route, h.requests, h.prompt_tokens, h.completion_tokens,
           h.total_tokens, h.cached_tokens, h.cost_pusd, h.unpriced_requests
    FROM usage_rollup_hourly h
    WHERE (h.hour >= hlo AND h.hour < dlo) OR (h.hour >= dhi AND h.hour < hhi)
    UNION ALL
    -- the tail and the edges, aggregated at p_grain with only the columns
    -- that grain reports (api_key_id and user_id for 'hour' alone): a
    -- tail of many events folds to a few rows here
    SELECT date_trunc(p_grain, u.ts, 'UTC'),
           CASE WHEN p_grain = 'hour' THEN u.api_key_id END,
           CASE WHEN p_grain = 'hour' THEN u.user_id END,
           u.group_id, coalesce(u.served_model, u.requested_model),
           u.provider, u.route, count(*), sum(u.prompt_tokens)::bigint,
           sum(u.completion_tokens)::bigint, sum(u.total_tokens)::bigint,
           sum(u.cached_tokens)::bigint,
           coalesce(sum(u.cost_pusd), 0)::numeric,
           count(*) FILTER (WHERE u.cost_pusd IS NULL)
    FROM (SELECT t.ts, t.api_key_id, t.user_id, t.group_id, t.served_model,
                 t.requested_model, t.provider, t.route, t.prompt_tokens,
                 t.completion_tokens, t.total_tokens, t.cached_tokens,
                 t.cost_pusd
          FROM usage_events t
          WHERE t.ins_xid >= w AND t.ts >= hlo AND t.ts < hhi
          UNION ALL
          SELECT e.ts, e.api_key_id, e.user_id, e.group_id, e.served_model,
                 e.requested_model, e.provider, e.route, e.prompt_tokens,
                 e.completion_tokens, e.total_tokens, e.cached_tokens,
                 e.cost_pusd
          FROM usage_events e
          WHERE (e.ts >= p_from AND e.ts < least(p_to, hlo))
             OR (e.ts >= greatest(p_from, hhi) AND e.ts < p_to)) u
    GROUP BY 1, 2, 3, 4, 5, 6, 7;
END $$;

-- 0005's function, same signature and meaning, now over the new rollups.
CREATE OR REPLACE FUNCTION aigw_usage_between(p_from timestamptz,
                                              p_to timestamptz)
RETURNS TABLE (day date, group_id text, user_id text, api_key_id uuid,
               model text, provider text, route text, requests bigint,
               prompt_tokens numeric, completion_tokens numeric,
               total_tokens numeric, cached_tokens numeric,
               cost_pusd numeric, unpriced_requests bigint)
LANGUAGE sql STABLE AS $$
    SELECT (u.bucket AT TIME ZONE 'UTC')::date, u.group_id, u.user_id,
           u.api_key_id, u.model, u.provider, u.route, sum(u.requests)::bigint,
           sum(u.prompt_tokens), sum(u.completion_tokens),
           sum(u.total_tokens), sum(u.cached_tokens), sum(u.cost_pusd),
           sum(u.unpriced_requests)::bigint
    FROM aigw_usage_rollup_between(p_from, p_to, 'hour') u
    GROUP BY 1, 2, 3, 4, 5, 6, 7;
$$;

-- Documented views for chargeback. All are exact (rollup plus the tail in
-- one snapshot); cost_usd is the pico-USD sum rounded to 6 decimals,
-- cost_pusd the exact sum; unpriced_requests had no price for their model.
-- Filter them by their month/day column: it is what the rollups are keyed
-- by. For a period that does not start and end on whole days, or for any
-- combination of dimensions, use aigw_usage_rollup_between() (or
-- `aigw-report spend`).

-- The ledger rows not rolled up yet, by hour and every dimension.
CREATE VIEW usage_tail_hourly AS
SELECT date_trunc('hour', u.ts, 'UTC') AS hour, u.api_key_id, u.user_id,
       u.group_id, coalesce(u.served_model, u.requested_model) AS model,
       u.provider, u.route, count(*) AS requests,
       sum(u.prompt_tokens)::bigint AS prompt_tokens,
       sum(u.completion_tokens)::bigint AS completion_tokens,
       sum(u.total_tokens)::bigint AS total_tokens,
       sum(u.cached_tokens)::bigint AS cached_tokens,
       coalesce(sum(u.cost_pusd), 0)::numeric AS cost_pusd,
       count(*) FILTER (WHERE u.cost_pusd IS NULL) AS unpriced_requests
FROM usage_events u
WHERE u.ins_xid >= (SELECT rolled_xid FROM usage_rollup_watermark)
GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- Exact hourly usage by every dimension: the hourly rollup plus the tail.
CREATE VIEW usage_hourly AS
SELECT * FROM usage_rollup_hourly
UNION ALL
SELECT * FROM usage_tail_hourly;

-- 0005's daily view, same columns, now from the hourly rollup and tail.
CREATE OR REPLACE VIEW usage_daily AS
SELECT (hour AT TIME ZONE 'UTC')::date AS day, group_id, user_id,
       api_key_id, model, provider, route, sum(requests)::bigint AS requests,
       sum(prompt_tokens) AS prompt_tokens,
       sum(completion_tokens) AS completion_tokens,
       sum(total_tokens) AS total_tokens, sum(cached_tokens) AS cached_tokens,
       sum(cost_pusd) AS cost_pusd,
       sum(unpriced_requests)::bigint AS unpriced_requests
FROM usage_hourly GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- Exact daily usage by group, model, provider and route: the small daily
-- rollup plus the tail. The month-by-group views read this one.
CREATE VIEW usage_daily_group AS
SELECT day, group_id, model, provider, route, requests, prompt_tokens,
       completion_tokens, total_tokens, cached_tokens, cost_pusd,
       unpriced_requests
FROM usage_rollup_daily_group
UNION ALL
SELECT (hour AT TIME ZONE 'UTC')::date, group_id, model, provider, route,
       requests, prompt_tokens, completion_tokens, total_tokens,
       cached_tokens, cost_pusd, unpriced_requests
FROM usage_tail_hourly;

-- Exact monthly usage by group, model, provider and route: the monthly
-- rollup plus the tail.
CREATE VIEW usage_monthly_group AS
SELECT month, group_id, model, provider, route, requests, prompt_tokens,
       completion_tokens, total_tokens, cached_tokens, cost_pusd,
       unpriced_requests
FROM usage_rollup_monthly_group
UNION ALL
SELECT date_trunc('month', hour AT TIME ZONE 'UTC')::date, group_id, model,
       provider, route, requests, prompt_tokens, completion_tokens,
       total_tokens, cached_tokens, cost_pusd, unpriced_requests
FROM usage_tail_hourly;

-- Spend by group and month (0005's view, same columns, now from the
-- monthly rollup).
CREATE OR REPLACE VIEW chargeback_group_month AS
SELECT month, group_id,
       sum(requests) AS requests, sum(prompt_tokens) AS prompt_tokens,
       sum(completion_tokens) AS completion_tokens,
       sum(total_tokens) AS total_tokens,
       round(sum(cost_pusd) / 1e12, 6) AS cost_usd,
       sum(unpriced_requests) AS unpriced_requests
FROM usage_monthly_group GROUP BY 1, 2;

-- Spend by group, model and month.
CREATE VIEW chargeback_group_model_month AS
SELECT month, group_id, model,
       sum(requests)::bigint AS requests,
       sum(prompt_tokens)::bigint AS prompt_tokens,
       sum(completion_tokens)::bigint AS completion_tokens,
       sum(total_tokens)::bigint AS total_tokens,
       round(sum(cost_pusd) / 1e12, 6) AS cost_usd,
       sum(cost_pusd) AS cost_pusd,
       sum(unpriced_requests)::bigint AS unpriced_requests
FROM usage_monthly_group GROUP BY 1, 2, 3;

-- Spend by group and day.
CREATE VIEW chargeback_group_day AS
SELECT day, group_id, sum(requests)::bigint AS requests,
       sum(total_tokens)::bigint AS total_tokens,
       round(sum(cost_pusd) / 1e12, 6) AS cost_usd,
       sum(cost_pusd) AS cost_pusd,
       sum(unpriced_requests)::bigint AS unpriced_requests
FROM usage_daily_group GROUP BY 1, 2;

-- Spend by API key and month, with the key's owner from api_keys.
CREATE VIEW chargeback_api_key_month AS
SELECT date_trunc('month', u.hour AT TIME ZONE 'UTC')::date AS month,
       u.api_key_id, k.user_id, k.group_id,
       sum(u.requests)::bigint AS requests,
       sum(u.total_tokens)::bigint AS total_tokens,
       round(sum(u.cost_pusd) / 1e12, 6) AS cost_usd,
       sum(u.cost_pusd) AS cost_pusd,
       sum(u.unpriced_requests)::bigint AS unpriced_requests
FROM usage_hourly u LEFT JOIN api_keys k ON k.id = u.api_key_id
GROUP BY 1, 2, 3, 4;

-- Spend by user, model and month (0005's chargeback_user_model_month has
-- the same rows without cost_pusd; it reads usage_daily, also exact).
CREATE VIEW chargeback_user_model_month_exact AS
SELECT date_trunc('month', hour AT TIME ZONE 'UTC')::date AS month, user_id,
       model, sum(requests)::bigint AS requests,
       sum(prompt_tokens)::bigint AS prompt_tokens,
       sum(completion_tokens)::bigint AS completion_tokens,
       sum(total_tokens)::bigint AS total_tokens,
       round(sum(cost_pusd) / 1e12, 6) AS cost_usd,
       sum(cost_pusd) AS cost_pusd,
       sum(unpriced_requests)::bigint AS unpriced_requests
FROM usage_hourly GROUP BY 1, 2, 3;

-- Global quotas as host leases (issue 5, DESIGN: "take global quotas from
-- PostgreSQL as leases held in host shared memory, not one hot-row UPDATE
-- per request").
--
-- A host takes a chunk of one balance (limit, subject, period) into its
-- shared memory (fcgi/quota_lease.c) and admits requests against it
-- locally. The chunk is counted in quota_periods.reserved while the host
-- holds it (quota_host_leases), so every host together can never hold more
-- than the free balance. The host pushes what was really consumed into
-- quota_periods.used in batches, and gives back what it did not use (idle,
-- period end, shutdown, operator change). A crashed host's lease expires
-- after its ttl and is reclaimed by the next sync on the same balance.
--
-- quota_state.gen counts operator changes (every quota_audit row, every
-- change to quota_limits): bumped by triggers that also NOTIFY
-- aigw_quota, so hosts drop their cached limits and leases before the next
-- request. Every lease sync returns it too (a missed notification).
--
-- Units: amounts are computed by the gateway (quota_units); the database
-- only sees chunks, so the unit CHECK now allows weighted_tokens and usd.
-- Config-defined global limits live here too, marked source 'config:NAME'.
-- Forward-only: never edit after merge.

ALTER TABLE quota_limits DROP CONSTRAINT quota_limits_unit_check;
ALTER TABLE quota_limits ADD CONSTRAINT quota_limits_unit_check CHECK
    (unit IN ('requests', 'input_tokens', 'output_tokens', 'total_tokens',
              'weighted_tokens', 'usd'));
ALTER TABLE quota_limits ADD COLUMN source text NOT NULL DEFAULT 'admin';

CREATE TABLE quota_state (
    one  boolean PRIMARY KEY DEFAULT true CHECK (one),
    gen  bigint NOT NULL DEFAULT 1
);
INSERT INTO quota_state VALUES (true, 1);

CREATE TABLE quota_host_leases (
    limit_id      bigint NOT NULL,
    subject       text NOT NULL,
    period_start  timestamptz NOT NULL,
    host          text NOT NULL,        -- the host's lease table id
    amount        bigint NOT NULL CHECK (amount >= 0),
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (limit_id, subject, period_start, host),
    FOREIGN KEY (limit_id, subject, period_start)
        REFERENCES quota_periods ON DELETE CASCADE
);

CREATE FUNCTION aigw_quota_bump() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE g bigint;
BEGIN
    UPDATE quota_state SET gen = gen + 1 RETURNING gen INTO g;
    PERFORM pg_notify('aigw_quota', g::text);
    RETURN NULL;
END $$;
CREATE TRIGGER quota_audit_bump AFTER INSERT ON quota_audit
    FOR EACH STATEMENT EXECUTE FUNCTION aigw_quota_bump();
CREATE TRIGGER quota_limits_bump AFTER INSERT OR UPDATE OR DELETE
    ON quota_limits FOR EACH ROW EXECUTE FUNCTION aigw_quota_bump();

-- The limits that apply to a caller now, with this period's bounds (the
-- gateway caches them per caller until the period ends or gen changes).
CREATE FUNCTION aigw_quota_limits_for(p_key text, p_user text,
        p_group text, p_route text, p_model text, p_now timestamptz)
RETURNS TABLE (limit_id bigint, subject_kind text, subject text, unit text,
               period text, threshold_pct int, period_start double precision,
               period_end double precision)
LANGUAGE sql STABLE AS $$
    SELECT l.id, l.subject_kind,
           aigw_quota_subject(l.subject_kind, p_key, p_user, p_group, p_route),
           l.unit, l.period, l.threshold_pct,
           extract(epoch FROM b.ps), extract(epoch FROM b.pe)
      FROM aigw_quota_applicable(p_key, p_user, p_group, p_route, p_model) l
     CROSS JOIN LATERAL aigw_period_bounds(l.period, p_now, l.time_zone) b
     ORDER BY l.id
$$;

-- One lease sync of host p_host on one balance, atomic on its row:
--   push    consumed usage moved from the host's lease into used
--   release unused lease given back
--   want    more wanted; granted up to free / p_div (the adaptive chunk:
--           it shrinks as the balance nears its limit, so hosts cannot
--           strand quota), but at least p_need when that much is free,
--           else nothing
-- Expired leases of other hosts (and expired per-request reservations)
-- are reclaimed first. Returns the host's lease after the sync and the
-- balance (for headers, refusals and threshold events).
CREATE FUNCTION aigw_quota_lease(p_host text, p_limit bigint,
        p_subject text, p_ps timestamptz, p_pe timestamptz, p_push bigint,
        p_release bigint, p_want bigint, p_need bigint, p_div int,
        p_ttl_s int)
RETURNS TABLE (lease bigint, granted bigint, limit_value bigint,
               used bigint, reserved bigint, used_before bigint,
               threshold_pct int, gen bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE l quota_limits; q quota_periods; cur bigint; rec bigint;
        held bigint; free bigint; g bigint := 0; ub bigint;
BEGIN
    SELECT * INTO l FROM quota_limits WHERE id = p_limit;
    SELECT s.gen INTO g FROM quota_state s;
    IF NOT FOUND OR l.id IS NULL THEN   -- the limit was deleted
        RETURN QUERY SELECT 0::bigint, 0::bigint, -1::bigint, 0::bigint,
                            0::bigint, 0::bigint, 100, g;
        RETURN;
    END IF;
    INSERT INTO quota_periods (limit_id, subject, period_start, period_end)
         VALUES (p_limit, p_subject, p_ps, p_pe) ON CONFLICT DO NOTHING;
    SELECT * INTO q FROM quota_periods p WHERE p.limit_id = p_limit
       AND p.subject = p_subject AND p.period_start = p_ps FOR UPDATE;
    WITH d AS (DELETE FROM quota_host_leases h
                WHERE h.limit_id = p_limit AND h.subject = p_subject
                  AND h.period_start = p_ps AND h.expires_at < now()
                  AND h.host <> p_host RETURNING h.amount)
    SELECT coalesce(sum(d.amount), 0) INTO rec FROM d;
    WITH d AS (DELETE FROM quota_leases x
                WHERE x.limit_id = p_limit AND x.subject = p_subject
                  AND x.period_start = p_ps AND x.expires_at < now()
            RETURNING x.amount)
    SELECT rec + coalesce(sum(d.amount), 0) INTO rec FROM d;
    SELECT h.amount INTO cur FROM quota_host_leases h
     WHERE h.limit_id = p_limit AND h.subject = p_subject
       AND h.period_start = p_ps AND h.host = p_host;
    cur := coalesce(cur, 0);
    held := cur;
    ub := q.used;
    -- usage comes out of the lease (a last request may overrun it)
    cur := greatest(cur - p_push, 0);
    cur := greatest(cur - p_release, 0);
    free := l.limit_value + q.adjust - q.used - p_push
            - (q.reserved - rec - held + cur);
    granted := 0;
    IF p_want > 0 AND free >= p_need AND free > 0 THEN
        granted := least(p_want, greatest(p_need, free / greatest(p_div, 1)));
    END IF;
    cur := cur + granted;
    UPDATE quota_periods p SET used = p.used + p_push,
           reserved = greatest(p.reserved - rec - held + cur, 0)
     WHERE p.limit_id = p_limit AND p.subject = p_subject
       AND p.period_start = p_ps RETURNING p.* INTO q;
    IF cur > 0 THEN
        INSERT INTO quota_host_leases AS h VALUES (p_limit, p_subject, p_ps,
               p_host, cur, now() + make_interval(secs => p_ttl_s))
        ON CONFLICT (limit_id, subject, period_start, host) DO UPDATE
           SET amount = EXCLUDED.amount, expires_at = EXCLUDED.expires_at;
    ELSE
        DELETE FROM quota_host_leases h WHERE h.limit_id = p_limit
           AND h.subject = p_subject AND h.period_start = p_ps
           AND h.host = p_host;
    END IF;
    RETURN QUERY SELECT cur, granted, l.limit_value + q.adjust, q.used,
                        q.reserved, ub, l.threshold_pct, g;
END $$;

-- Usage counted while the database was down, charged when it is back
-- (fail-open): amount is already in the limit's unit, p_at the time the
-- request was served (so it lands in that period).
CREATE FUNCTION aigw_quota_charge(p_limit bigint, p_subject text,
                                  p_at timestamptz, p_amount bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE l quota_limits; b record;
BEGIN
    SELECT * INTO l FROM quota_limits WHERE id = p_limit;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO b FROM aigw_period_bounds(l.period, p_at, l.time_zone);
    INSERT INTO quota_periods AS q (limit_id, subject, period_start,
                                    period_end, used)
         VALUES (p_limit, p_subject, b.ps, b.pe, p_amount)
    ON CONFLICT (limit_id, subject, period_start)
    DO UPDATE SET used = q.used + EXCLUDED.used;
END $$;

-- GET /v1/usage: host leases are not spent, so "reserved" shows only the
-- per-request reservations (the unspent rest of a lease is remaining).
CREATE OR REPLACE FUNCTION aigw_quota_status(p_key text, p_user text,
        p_group text, p_now timestamptz)
RETURNS TABLE (subject_kind text, subject text, model text, unit text,
               period text, limit_value bigint, used bigint,
               reserved bigint, reset_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT l.subject_kind, s.sv, l.model, l.unit, l.period,
           l.limit_value + coalesce(q.adjust, 0), coalesce(q.used, 0),
           greatest(coalesce(q.reserved, 0) - coalesce((SELECT sum(h.amount)
               FROM quota_host_leases h WHERE h.limit_id = l.id
                AND h.subject = s.sv AND h.period_start = b.ps), 0), 0)::bigint,
           b.pe
      FROM aigw_quota_applicable(p_key, p_user, p_group, '', NULL) l
     CROSS JOIN LATERAL (SELECT aigw_quota_subject(l.subject_kind, p_key,
                             p_user, p_group, '') AS sv) s
     CROSS JOIN LATERAL aigw_period_bounds(l.period, p_now, l.time_zone) b
      LEFT JOIN quota_periods q ON q.limit_id = l.id AND q.subject = s.sv
                               AND q.period_start = b.ps
     WHERE l.subject_kind <> 'route'
$$;

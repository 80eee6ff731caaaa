-- Token quotas and rate limits managed by operators (issue 5).
--
-- quota_limits: one row per limit. subject_kind names who is limited
-- (api_key, user, group, route, or all); subject is that key/user/group/
-- route, or '*' for "each one separately". model narrows the limit to one
-- model ('*': all models pooled), so group+model combinations are a group
-- row with a model. unit is what is counted, period the window: minute and
-- hour act as rate limits, day/week/month as quotas, all aligned to the
-- calendar in time_zone.
-- quota_periods: the balance of one subject in one period, keyed by the
-- period's start, so a new period starts by itself at the boundary (no
-- cron). adjust raises (or lowers) this period's allowance only.
-- quota_leases: in-flight reservations (estimate taken before the provider
-- call, settled to the real usage after). Reservations of a crashed worker
-- expire and are reclaimed by the next reservation on the same balance.
-- quota_audit: every operator change (who, when, old, new).
-- Forward-only: never edit after merge.

CREATE TABLE quota_limits (
    id            bigserial PRIMARY KEY,
    subject_kind  text NOT NULL CHECK (subject_kind IN
                      ('api_key', 'user', 'group', 'route', 'all')),
    subject       text NOT NULL DEFAULT '*',
    model         text NOT NULL DEFAULT '*',
    unit          text NOT NULL CHECK (unit IN ('requests', 'input_tokens',
                      'output_tokens', 'total_tokens')),
    period        text NOT NULL CHECK (period IN
                      ('minute', 'hour', 'day', 'week', 'month')),
    limit_value   bigint NOT NULL CHECK (limit_value >= 0),
    time_zone     text NOT NULL DEFAULT 'UTC',
    threshold_pct int NOT NULL DEFAULT 80 CHECK (threshold_pct BETWEEN 1 AND 100),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subject_kind, subject, model, unit, period)
);

CREATE TABLE quota_periods (
    limit_id      bigint NOT NULL REFERENCES quota_limits ON DELETE CASCADE,
    subject       text NOT NULL,        -- the concrete key/user/group/route
    period_start  timestamptz NOT NULL,
    period_end    timestamptz NOT NULL,
    used          bigint NOT NULL DEFAULT 0,
    reserved      bigint NOT NULL DEFAULT 0,
    adjust        bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (limit_id, subject, period_start)
);

CREATE TABLE quota_leases (
    request_id    uuid NOT NULL,
    limit_id      bigint NOT NULL,
    subject       text NOT NULL,
    period_start  timestamptz NOT NULL,
    amount        bigint NOT NULL,
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (request_id, limit_id),
    FOREIGN KEY (limit_id, subject, period_start)
        REFERENCES quota_periods ON DELETE CASCADE
);
CREATE INDEX quota_leases_expiry ON quota_leases
    (limit_id, subject, period_start, expires_at);

CREATE TABLE quota_audit (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    actor         text NOT NULL,
    action        text NOT NULL,        -- set, add, reset, delete
    limit_id      bigint,
    subject_kind  text NOT NULL,
    subject       text NOT NULL,
    model         text NOT NULL,
    unit          text NOT NULL,
    period        text NOT NULL,
    old_value     jsonb,
    new_value     jsonb
);

-- The calendar period holding t, in time zone tz.
CREATE FUNCTION aigw_period_bounds(p text, t timestamptz, tz text,
                                   OUT ps timestamptz, OUT pe timestamptz)
LANGUAGE sql IMMUTABLE AS $$
    SELECT date_trunc(p, t AT TIME ZONE tz) AT TIME ZONE tz,
           (date_trunc(p, t AT TIME ZONE tz) + ('1 ' || p)::interval)
               AT TIME ZONE tz
$$;

-- The limits that apply to a caller (model NULL: any model).
CREATE FUNCTION aigw_quota_applicable(p_key text, p_user text, p_group text,
                                      p_route text, p_model text)
RETURNS SETOF quota_limits LANGUAGE sql STABLE AS $$
    SELECT * FROM quota_limits l
     WHERE (p_model IS NULL OR l.model IN ('*', p_model))
       AND CASE l.subject_kind
           WHEN 'api_key' THEN p_key <> '' AND l.subject IN ('*', p_key)
           WHEN 'user' THEN p_user <> '' AND l.subject IN ('*', p_user)
           WHEN 'group' THEN p_group <> '' AND l.subject IN ('*', p_group)
           WHEN 'route' THEN p_route <> '' AND l.subject IN ('*', p_route)
           ELSE true END
     ORDER BY l.id
$$;

CREATE FUNCTION aigw_quota_subject(kind text, p_key text, p_user text,
                                   p_group text, p_route text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE kind WHEN 'api_key' THEN p_key WHEN 'user' THEN p_user
                     WHEN 'group' THEN p_group WHEN 'route' THEN p_route
                     ELSE '' END
$$;

CREATE FUNCTION aigw_quota_amount(unit text, p_in bigint, p_out bigint,
                                  p_req bigint)
RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE unit WHEN 'requests' THEN p_req
                     WHEN 'input_tokens' THEN p_in
                     WHEN 'output_tokens' THEN p_out
                     ELSE p_in + p_out END
$$;

-- Reserves the estimate against every applicable limit, all or nothing.
-- Returns one row per limit (the state after the reservation); when one
-- cannot fit, nothing is reserved and the rows end with that limit, ok =
-- false. One round trip, atomic per balance row.
CREATE FUNCTION aigw_quota_reserve(p_req uuid, p_key text, p_user text,
        p_group text, p_route text, p_model text, p_now timestamptz,
        p_in bigint, p_out bigint, p_ttl_s int)
RETURNS TABLE (limit_id bigint, subject_kind text, subject text,
               unit text, period text, limit_value bigint, used bigint,
               reset_at timestamptz, ok boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    l quota_limits;
    sv text; b record; amt bigint; rec bigint; cur quota_periods;
    f_id bigint; f_kind text; f_sv text; f_unit text; f_period text;
    f_limit bigint; f_used bigint; f_reset timestamptz;
    ids bigint[] := '{}'; kinds text[] := '{}'; svs text[] := '{}';
    units text[] := '{}'; periods text[] := '{}'; lims bigint[] := '{}';
    useds bigint[] := '{}'; resets timestamptz[] := '{}';
BEGIN
    BEGIN
        FOR l IN SELECT * FROM aigw_quota_applicable(p_key, p_user, p_group,
                                                     p_route, p_model) LOOP
            sv := aigw_quota_subject(l.subject_kind, p_key, p_user, p_group,
                                     p_route);
            SELECT * INTO b FROM aigw_period_bounds(l.period, p_now,
                                                    l.time_zone);
            amt := aigw_quota_amount(l.unit, p_in, p_out, 1);
            INSERT INTO quota_periods AS q (limit_id, subject, period_start,
                                            period_end)
                 VALUES (l.id, sv, b.ps, b.pe) ON CONFLICT DO NOTHING;
            WITH d AS (DELETE FROM quota_leases x
                        WHERE x.limit_id = l.id AND x.subject = sv
                          AND x.period_start = b.ps AND x.expires_at < now()
                    RETURNING x.amount)
            SELECT coalesce(sum(d.amount), 0) INTO rec FROM d;
            UPDATE quota_periods q SET reserved = q.reserved - rec + amt
             WHERE q.limit_id = l.id AND q.subject = sv
               AND q.period_start = b.ps
               AND q.used + q.reserved - rec + amt <= l.limit_value + q.adjust
            RETURNING q.* INTO cur;
            IF NOT FOUND THEN
                SELECT * INTO cur FROM quota_periods q
                 WHERE q.limit_id = l.id AND q.subject = sv
                   AND q.period_start = b.ps;
                f_id := l.id; f_kind := l.subject_kind; f_sv := sv;
                f_unit := l.unit; f_period := l.period;
                f_limit := l.limit_value + cur.adjust;
                f_used := cur.used + cur.reserved - rec; f_reset := b.pe;
                RAISE EXCEPTION USING ERRCODE = 'P0429';
            END IF;
            INSERT INTO quota_leases VALUES (p_req, l.id, sv, b.ps, amt,
                now() + make_interval(secs => p_ttl_s));
            ids := ids || l.id; kinds := kinds || l.subject_kind;
            svs := svs || sv; units := units || l.unit;
            periods := periods || l.period;
            lims := lims || (l.limit_value + cur.adjust);
            useds := useds || (cur.used + cur.reserved); resets := resets || b.pe;
        END LOOP;
    EXCEPTION WHEN SQLSTATE 'P0429' THEN
        RETURN QUERY SELECT f_id, f_kind, f_sv, f_unit, f_period, f_limit,
                            f_used, f_reset, false;
        RETURN;
    END;
    RETURN QUERY SELECT u.*, true FROM unnest(ids, kinds, svs, units,
        periods, lims, useds, resets) AS u;
END $$;

-- Settles a reservation to the real usage (0 tokens and 0 requests
-- release it). Returns one row per limit with the usage before and after,
-- for threshold events.
CREATE FUNCTION aigw_quota_settle(p_req uuid, p_in bigint, p_out bigint,
                                  p_requests bigint)
RETURNS TABLE (limit_id bigint, subject_kind text, subject text,
               unit text, period text, limit_value bigint,
               used_before bigint, used_after bigint, threshold_pct int)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE x record; amt bigint; q quota_periods; l quota_limits;
BEGIN
    FOR x IN DELETE FROM quota_leases WHERE request_id = p_req
             RETURNING * LOOP
        SELECT * INTO l FROM quota_limits WHERE id = x.limit_id;
        amt := aigw_quota_amount(l.unit, p_in, p_out, p_requests);
        UPDATE quota_periods p SET reserved = p.reserved - x.amount,
                                   used = p.used + amt
         WHERE p.limit_id = x.limit_id AND p.subject = x.subject
           AND p.period_start = x.period_start
        RETURNING p.* INTO q;
        IF FOUND THEN
            limit_id := l.id; subject_kind := l.subject_kind;
            subject := x.subject; unit := l.unit; period := l.period;
            limit_value := l.limit_value + q.adjust;
            used_before := q.used - amt; used_after := q.used;
            threshold_pct := l.threshold_pct;
            RETURN NEXT;
        END IF;
    END LOOP;
END $$;

-- The caller's limits and balances now (GET /v1/usage).
CREATE FUNCTION aigw_quota_status(p_key text, p_user text, p_group text,
                                  p_now timestamptz)
RETURNS TABLE (subject_kind text, subject text, model text, unit text,
               period text, limit_value bigint, used bigint,
               reserved bigint, reset_at timestamptz)
LANGUAGE sql STABLE AS $$
    SELECT l.subject_kind, s.sv, l.model, l.unit, l.period,
           l.limit_value + coalesce(q.adjust, 0), coalesce(q.used, 0),
           coalesce(q.reserved, 0), b.pe
      FROM aigw_quota_applicable(p_key, p_user, p_group, '', NULL) l
     CROSS JOIN LATERAL (SELECT aigw_quota_subject(l.subject_kind, p_key,
                             p_user, p_group, '') AS sv) s
     CROSS JOIN LATERAL aigw_period_bounds(l.period, p_now, l.time_zone) b
      LEFT JOIN quota_periods q ON q.limit_id = l.id AND q.subject = s.sv
                               AND q.period_start = b.ps
     WHERE l.subject_kind <> 'route'
$$;

-- Operator changes, each audited in the same transaction.
--   set:    create or change a limit (p_value: the new limit)
--   add:    raise (or with a negative p_value lower) the current period's
--           allowance of one concrete subject
--   reset:  zero the current period's usage of one concrete subject
--   delete: remove the limit
-- Returns the limit's id, or raises when it does not exist.
CREATE FUNCTION aigw_quota_admin(p_actor text, p_action text, p_kind text,
        p_subject text, p_model text, p_unit text, p_period text,
        p_value bigint, p_tz text, p_now timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE l quota_limits; b record; q quota_periods; old jsonb; new jsonb;
BEGIN
    SELECT * INTO l FROM quota_limits
     WHERE subject_kind = p_kind AND subject = p_subject AND model = p_model
       AND unit = p_unit AND period = p_period FOR UPDATE;
    IF p_action = 'set' THEN
        IF FOUND THEN
            old := jsonb_build_object('limit', l.limit_value,
                                      'time_zone', l.time_zone);
            UPDATE quota_limits SET limit_value = p_value,
                   time_zone = coalesce(p_tz, time_zone), updated_at = now()
             WHERE id = l.id RETURNING * INTO l;
        ELSE
            INSERT INTO quota_limits (subject_kind, subject, model, unit,
                                      period, limit_value, time_zone)
            VALUES (p_kind, p_subject, p_model, p_unit, p_period, p_value,
                    coalesce(p_tz, 'UTC')) RETURNING * INTO l;
        END IF;
        new := jsonb_build_object('limit', l.limit_value,
                                  'time_zone', l.time_zone);
    ELSIF NOT FOUND THEN
        RAISE EXCEPTION 'no such quota limit' USING ERRCODE = 'P0002';
    ELSIF p_action = 'delete' THEN
        old := jsonb_build_object('limit', l.limit_value);
        DELETE FROM quota_limits WHERE id = l.id;
    ELSE
        IF p_subject = '*' THEN
            RAISE EXCEPTION 'add and reset need a concrete subject'
                USING ERRCODE = '22023';
        END IF;
        SELECT * INTO b FROM aigw_period_bounds(l.period, p_now, l.time_zone);
        INSERT INTO quota_periods (limit_id, subject, period_start, period_end)
             VALUES (l.id, p_subject, b.ps, b.pe) ON CONFLICT DO NOTHING;
        SELECT * INTO q FROM quota_periods p WHERE p.limit_id = l.id
           AND p.subject = p_subject AND p.period_start = b.ps FOR UPDATE;
        old := jsonb_build_object('used', q.used, 'adjust', q.adjust,
                                  'period_start', q.period_start);
        IF p_action = 'add' THEN
            UPDATE quota_periods p SET adjust = p.adjust + p_value
             WHERE p.limit_id = l.id AND p.subject = p_subject
               AND p.period_start = b.ps RETURNING * INTO q;
        ELSIF p_action = 'reset' THEN
            UPDATE quota_periods p SET used = 0, adjust = 0
             WHERE p.limit_id = l.id AND p.subject = p_subject
               AND p.period_start = b.ps RETURNING * INTO q;
        ELSE
            RAISE EXCEPTION 'unknown action %', p_action
                USING ERRCODE = '22023';
        END IF;
        new := jsonb_build_object('used', q.used, 'adjust', q.adjust,
                                  'period_start', q.period_start);
    END IF;
    INSERT INTO quota_audit (actor, action, limit_id, subject_kind, subject,
                             model, unit, period, old_value, new_value)
    VALUES (p_actor, p_action, l.id, p_kind, p_subject, p_model, p_unit,
            p_period, old, new);
    RETURN l.id;
END $$;

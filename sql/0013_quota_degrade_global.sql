-- Degrade before the wall on global quotas (issue 5).
--
-- A quota_limits row can say what to do past a share of its balance
-- instead of refusing later: route the request to a cheaper model and/or
-- cap its max_tokens. The gateway reads these with the caller's limits
-- (cached with them, so the decision takes no extra round trip) and judges
-- the share from the host's lease view of the balance (fcgi/quota_global.c).
-- 100% still refuses.
--
--   degrade_pct         the share (1-100) from which requests degrade;
--                       NULL: off (then the other two are NULL as well)
--   degrade_model       the model to serve instead; NULL: keep the model
--   degrade_max_tokens  the cap on the completion; NULL: no cap
--
-- Set by aigw-admin quota set --degrade-at (and cleared by --no-degrade),
-- the admin API's "degrade", and config global limits' "degrade" object.
-- Operator changes go through aigw_quota_degrade(), audited in quota_audit
-- (action 'degrade'); the quota_limits trigger bumps quota_state.gen and
-- notifies the hosts, so cached limits are re-read at once.
-- Forward-only: never edit after merge.

ALTER TABLE quota_limits
    ADD COLUMN degrade_pct int CHECK (degrade_pct BETWEEN 1 AND 100),
    ADD COLUMN degrade_model text
        CHECK (degrade_model <> '' AND length(degrade_model) <= 128),
    ADD COLUMN degrade_max_tokens bigint
        CHECK (degrade_max_tokens BETWEEN 1 AND 10000000),
    ADD CONSTRAINT quota_limits_degrade_check CHECK
        ((degrade_pct IS NULL) =
         (degrade_model IS NULL AND degrade_max_tokens IS NULL));

-- Sets (p_pct not NULL: with a model and/or a cap) or clears (p_pct NULL)
-- the degrade settings of an existing limit, audited. Returns its id.
CREATE FUNCTION aigw_quota_degrade(p_actor text, p_kind text,
        p_subject text, p_model text, p_unit text, p_period text,
        p_pct int, p_dmodel text, p_dmax bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE l quota_limits; old jsonb; new jsonb;
BEGIN
    SELECT * INTO l FROM quota_limits
     WHERE subject_kind = p_kind AND subject = p_subject AND model = p_model
       AND unit = p_unit AND period = p_period FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such quota limit' USING ERRCODE = 'P0002';
    END IF;
    IF p_pct IS NOT NULL AND p_dmodel IS NULL AND p_dmax IS NULL THEN
        RAISE EXCEPTION 'degrade needs a model and/or max_tokens'
            USING ERRCODE = '22023';
    END IF;
    old := jsonb_build_object('degrade_pct', l.degrade_pct,
                              'degrade_model', l.degrade_model,
                              'degrade_max_tokens', l.degrade_max_tokens);
    UPDATE quota_limits SET degrade_pct = p_pct,
           degrade_model = CASE WHEN p_pct IS NULL THEN NULL ELSE p_dmodel END,
           degrade_max_tokens = CASE WHEN p_pct IS NULL THEN NULL
                                     ELSE p_dmax END,
           updated_at = now()
     WHERE id = l.id RETURNING * INTO l;
    new := jsonb_build_object('degrade_pct', l.degrade_pct,
                              'degrade_model', l.degrade_model,
                              'degrade_max_tokens', l.degrade_max_tokens);
    INSERT INTO quota_audit (actor, action, limit_id, subject_kind, subject,
                             model, unit, period, old_value, new_value)
    VALUES (p_actor, 'degrade', l.id, p_kind, p_subject, p_model, p_unit,
            p_period, old, new);
    RETURN l.id;
END $$;

-- Rollups after a restore or a move to another cluster.
--
-- The rollup watermark (usage_rollup_watermark.rolled_xid) and each ledger
-- row's ins_xid are transaction ids, stored as data. Restored into another
-- cluster (pg_dump/pg_restore, logical replication), the watermark can lie
-- beyond the new cluster's transaction ids: every new row would then sit
-- below it, never rolled up and never in the tail, and reports would
-- silently leave out all new usage. So the rollup and the report function
-- now refuse to run with a watermark from the future, and
-- aigw_rollup_reset() rebuilds the rollups from the ledger (run it once
-- after such a restore: SELECT aigw_rollup_reset(); then aigw-report rollup).
-- pg_upgrade keeps transaction ids (and their epoch): nothing to do there.
-- Forward-only: never edit after merge.

-- Raises when the watermark lies beyond this cluster's transaction ids.
CREATE FUNCTION aigw_rollup_check()
RETURNS void LANGUAGE plpgsql STABLE AS $$
DECLARE
    w xid8;
    nxt xid8 := pg_snapshot_xmax(pg_current_snapshot());
BEGIN
    SELECT rolled_xid INTO w FROM usage_rollup_watermark;
    IF w > nxt THEN
        RAISE EXCEPTION 'usage rollups were made on another cluster '
            '(watermark % beyond this cluster''s next transaction id %): '
            'the database was restored or moved', w, nxt
            USING HINT = 'run SELECT aigw_rollup_reset(); then aigw-report '
                         'rollup (rebuilds the rollups from the ledger)',
                  ERRCODE = 'data_exception';
    END IF;
END $$;

ALTER FUNCTION aigw_rollup_hourly() RENAME TO aigw_rollup_hourly_unchecked;
CREATE FUNCTION aigw_rollup_hourly()
RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    PERFORM aigw_rollup_check();
    RETURN aigw_rollup_hourly_unchecked();
END $$;

ALTER FUNCTION aigw_usage_rollup_between(timestamptz, timestamptz, text)
    RENAME TO aigw_usage_rollup_between_unchecked;
CREATE FUNCTION aigw_usage_rollup_between(p_from timestamptz,
                                          p_to timestamptz, p_grain text)
RETURNS TABLE (bucket timestamptz, api_key_id uuid, user_id text,
               group_id text, model text, provider text, route text,
               requests bigint, prompt_tokens bigint,
               completion_tokens bigint, total_tokens bigint,
               cached_tokens bigint, cost_pusd numeric,
               unpriced_requests bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    PERFORM aigw_rollup_check();
    RETURN QUERY SELECT * FROM aigw_usage_rollup_between_unchecked(
        p_from, p_to, p_grain);
END $$;

-- Empties the rollups and rewinds the watermark, so that the next
-- aigw_rollup_hourly() folds the whole ledger again; rows stamped with
-- transaction ids this cluster has not reached yet are restamped with
-- the current one. Returns the number of rows restamped.
CREATE FUNCTION aigw_rollup_reset()
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM 1 FROM usage_rollup_watermark FOR UPDATE;
    TRUNCATE usage_rollup_hourly, usage_rollup_daily_group,
             usage_rollup_monthly_group;
    UPDATE usage_events SET ins_xid = pg_current_xact_id()
     WHERE ins_xid >= pg_current_xact_id();
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE usage_rollup_watermark
       SET rolled_xid = '0', rolled_at = now(), rolled_rows = 0;
    RETURN n;
END $$;

-- Interval statistics of DESIGN §5 in one DuckDB script: the baseline bench/stats.sh compares
-- wfm-stats with. bench/stats_duckdb.py loads the canonical CSV files into the tables
-- tenants, queues, agents, interactions and states first (not timed), substitutes the
-- {placeholders} below, runs this script (timed) and leaves three ';'-separated result files
-- whose rows have the columns of the Teleopti files (without their type line and blank line).
--
-- Parameters: {tenant} {tz} {minutes} {from} {to} {out}.
--
-- What SQL cannot express exactly, and how this script approximates it:
--   * The UTC pieces of a local day are computed as UTC buckets of L minutes. That is exact when
--     every UTC offset of the zone is a multiple of L (Europe/Stockholm: +01:00/+02:00 with 15, 30
--     or 60 minutes). Zones with half-hour offsets or changes (Asia/Kolkata with L = 60,
--     Australia/Lord_Howe) would need wfm_model's piece grid; the Rust engine handles them.
--   * Local midnight of `from` and of the day after `to` is taken with timezone(); a midnight in
--     a DST gap (America/Santiago) is not handled.

-- The window as UTC instants and epoch milliseconds.
CREATE OR REPLACE TEMP TABLE w AS
SELECT timezone('{tz}', DATE '{from}'::TIMESTAMP) AS ws,
       timezone('{tz}', (DATE '{to}' + 1)::TIMESTAMP) AS we,
       epoch_ms(timezone('{tz}', DATE '{from}'::TIMESTAMP)) AS ws_ms,
       epoch_ms(timezone('{tz}', (DATE '{to}' + 1)::TIMESTAMP)) AS we_ms,
       {minutes} * 60000 AS l_ms;

-- The interval grid: every UTC piece of the window with its local label.
CREATE OR REPLACE TEMP TABLE grid AS
SELECT p AS piece_ms,
       time_bucket(INTERVAL {minutes} MINUTE, timezone('{tz}', to_timestamp(p // 1000))) AS lbl
FROM w, range(w.ws_ms, w.we_ms, w.l_ms) AS r(p);

-- Names and thresholds; a queue or agent without a record is named by its id (defaults 20 s / 5 s).
CREATE OR REPLACE TEMP TABLE queue_info AS
SELECT queue, name AS queue_name, sl_seconds, short_abandon_seconds FROM queues WHERE tenant = '{tenant}';
CREATE OR REPLACE TEMP TABLE agent_info AS
SELECT agent, trim(trim(first_name) || ' ' || trim(last_name)) AS agent_name FROM agents WHERE tenant = '{tenant}';
CREATE OR REPLACE TEMP TABLE skills AS
SELECT DISTINCT agent, unnest(string_split(skills, ';')) AS queue
FROM agents WHERE tenant = '{tenant}' AND skills IS NOT NULL AND skills <> '';
CREATE OR REPLACE TEMP TABLE admin AS
SELECT unnest(string_split(admin_reasons, ';')) AS reason FROM tenants WHERE tenant = '{tenant}';

-- Finished segments offered in the window, with their label and their wait rounded half-up.
CREATE OR REPLACE TEMP TABLE seg AS
SELECT s.queue, s.agent, s.seq, s.direction, s.transferred,
       s.talk_s + s.hold_s AS talk, s.acw_s,
       CASE WHEN s.answered_at IS NOT NULL THEN 'answered'
            WHEN s.abandoned_at IS NOT NULL THEN 'abandoned'
            ELSE 'overflowed' END AS outcome,
       (epoch_ms(coalesce(s.answered_at, s.abandoned_at)) - epoch_ms(s.offered_at) + 500) // 1000 AS wait,
       time_bucket(INTERVAL {minutes} MINUTE, timezone('{tz}', s.offered_at)) AS lbl
FROM interactions s, w
WHERE s.tenant = '{tenant}' AND s.offered_at >= w.ws AND s.offered_at < w.we
  AND (s.answered_at IS NOT NULL OR s.abandoned_at IS NOT NULL OR s.overflowed);

-- State spans: each event holds until the agent's next one (lead), clipped to the window; the
-- last event before the window gives the state at its start. Spans are sliced at interval
-- bounds: most lie within one piece and need no slicing, only those that cross a bound are
-- unnested over the pieces they cover. Milliseconds are summed by integer piece first, then by
-- label (the two pieces of a fall-back label merge there), and rounded half-up once at output.
CREATE OR REPLACE TEMP TABLE agent_ms AS
WITH ev AS (
    SELECT agent, state, reason, epoch_ms("at") AS s_ms,
           epoch_ms(lead("at") OVER (PARTITION BY agent ORDER BY "at")) AS next_ms
    FROM states WHERE tenant = '{tenant}'
), spans AS MATERIALIZED (
    SELECT agent, state,
           state = 'not_ready' AND reason IN (SELECT reason FROM admin) AS is_admin,
           greatest(s_ms, w.ws_ms) AS s_ms,
           least(coalesce(next_ms, w.we_ms), w.we_ms) AS e_ms,
           greatest(s_ms, w.ws_ms) - (greatest(s_ms, w.ws_ms) - w.ws_ms) % w.l_ms AS p,
           w.l_ms
    FROM ev, w
    WHERE state <> 'logged_out' AND s_ms < w.we_ms AND coalesce(next_ms, w.we_ms) > w.ws_ms
), sliced AS (
    SELECT agent, state, is_admin, p AS piece_ms, e_ms - s_ms AS ms
    FROM spans WHERE e_ms <= p + l_ms
    UNION ALL
    SELECT agent, state, is_admin, q AS piece_ms, least(e_ms, q + l_ms) - greatest(s_ms, q) AS ms
    FROM spans, unnest(range(p, e_ms, l_ms)) AS r(q)
    WHERE e_ms > p + l_ms
), by_piece AS (
    SELECT piece_ms, agent,
           sum(ms) FILTER (WHERE state = 'ready') AS ready_ms,
           sum(ms) FILTER (WHERE state IN ('ready', 'busy', 'acw')) AS avail_ms,
           sum(ms) AS work_ms,
           sum(ms) FILTER (WHERE state = 'not_ready') AS pause_ms,
           sum(ms) FILTER (WHERE is_admin) AS admin_ms
    FROM sliced
    GROUP BY ALL
)
SELECT g.lbl, agent,
       sum(ready_ms) AS ready_ms, sum(avail_ms) AS avail_ms, sum(work_ms) AS work_ms,
       sum(pause_ms) AS pause_ms, sum(admin_ms) AS admin_ms
FROM by_piece JOIN grid g USING (piece_ms)
GROUP BY ALL;

-- Queue rows.
CREATE OR REPLACE TEMP TABLE queue_contacts AS
SELECT s.lbl, s.queue,
       count(*) FILTER (WHERE seq = 1) AS offd_direct_call_cnt,
       count(*) FILTER (WHERE seq > 1) AS overflow_in_call_cnt,
       count(*) FILTER (WHERE outcome = 'abandoned') AS aband_call_cnt,
       count(*) FILTER (WHERE outcome = 'overflowed') AS overflow_out_call_cnt,
       count(*) FILTER (WHERE outcome = 'answered') AS answ_call_cnt,
       coalesce(sum(wait) FILTER (WHERE outcome = 'answered'), 0) AS queued_and_answ_call_dur,
       coalesce(sum(wait) FILTER (WHERE outcome = 'abandoned'), 0) AS queued_and_aband_call_dur,
       coalesce(sum(talk) FILTER (WHERE outcome = 'answered'), 0) AS talking_call_dur,
       coalesce(sum(acw_s) FILTER (WHERE outcome = 'answered'), 0) AS wrap_up_dur,
       coalesce(max(wait) FILTER (WHERE outcome = 'answered'), 0) AS queued_answ_longest_que_dur,
       coalesce(max(wait) FILTER (WHERE outcome = 'abandoned'), 0) AS queued_aband_longest_que_dur,
       count(*) FILTER (WHERE outcome = 'answered' AND wait <= coalesce(q.sl_seconds, 20)) AS ans_servicelevel_cnt,
       count(*) FILTER (WHERE outcome = 'abandoned' AND wait < coalesce(q.short_abandon_seconds, 5)) AS aband_short_call_cnt,
       count(*) FILTER (WHERE outcome = 'abandoned' AND wait >= coalesce(q.short_abandon_seconds, 5)
                        AND wait <= coalesce(q.sl_seconds, 20)) AS aband_within_sl_cnt
FROM seg s LEFT JOIN queue_info q USING (queue)
WHERE s.queue IS NOT NULL
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE queue_ready AS
SELECT a.lbl, k.queue, (sum(a.ready_ms) + 500) // 1000 AS wait_dur
FROM agent_ms a JOIN skills k USING (agent)
WHERE a.ready_ms > 0
GROUP BY ALL;

COPY (
    SELECT {minutes} AS "interval", strftime(lbl, '%Y-%m-%d') AS date, strftime(lbl, '%H:%M') AS time, queue, coalesce(qi.queue_name, queue) AS queue_name,
           coalesce(offd_direct_call_cnt, 0) AS offd_direct_call_cnt,
           coalesce(overflow_in_call_cnt, 0) AS overflow_in_call_cnt,
           coalesce(aband_call_cnt, 0) AS aband_call_cnt,
           coalesce(overflow_out_call_cnt, 0) AS overflow_out_call_cnt,
           coalesce(answ_call_cnt, 0) AS answ_call_cnt,
           coalesce(queued_and_answ_call_dur, 0) AS queued_and_answ_call_dur,
           coalesce(queued_and_aband_call_dur, 0) AS queued_and_aband_call_dur,
           coalesce(talking_call_dur, 0) AS talking_call_dur,
           coalesce(wrap_up_dur, 0) AS wrap_up_dur,
           coalesce(queued_answ_longest_que_dur, 0) AS queued_answ_longest_que_dur,
           coalesce(queued_aband_longest_que_dur, 0) AS queued_aband_longest_que_dur,
           (2 * coalesce(wait_dur, 0) + {minutes} * 60) // ({minutes} * 120) AS avg_avail_member_cnt,
           coalesce(ans_servicelevel_cnt, 0) AS ans_servicelevel_cnt,
           coalesce(wait_dur, 0) AS wait_dur,
           coalesce(aband_short_call_cnt, 0) AS aband_short_call_cnt,
           coalesce(aband_within_sl_cnt, 0) AS aband_within_sl_cnt
    FROM queue_contacts FULL OUTER JOIN queue_ready USING (lbl, queue)
         LEFT JOIN queue_info qi USING (queue)
    WHERE coalesce(answ_call_cnt, 0) + coalesce(aband_call_cnt, 0) + coalesce(overflow_out_call_cnt, 0)
          + coalesce(wait_dur, 0) > 0
    ORDER BY lbl, queue
) TO '{out}/queue.csv' (HEADER, DELIMITER ';');

-- Agent rows: time from the timelines, direct contacts from the segments without a queue.
COPY (
    WITH direct AS (
        SELECT lbl, agent,
               count(*) FILTER (WHERE direction = 'outbound') AS direct_out_call_cnt,
               coalesce(sum(talk) FILTER (WHERE direction = 'outbound'), 0) AS direct_out_call_dur,
               count(*) FILTER (WHERE direction = 'inbound') AS direct_in_call_cnt,
               coalesce(sum(talk) FILTER (WHERE direction = 'inbound'), 0) AS direct_in_call_dur
        FROM seg WHERE queue IS NULL
        GROUP BY ALL
    ), joined AS (
        SELECT lbl, agent,
               (coalesce(avail_ms, 0) + 500) // 1000 AS avail_dur,
               (coalesce(work_ms, 0) + 500) // 1000 AS tot_work_dur,
               (coalesce(pause_ms, 0) + 500) // 1000 AS pause_dur,
               (coalesce(ready_ms, 0) + 500) // 1000 AS wait_dur,
               (coalesce(admin_ms, 0) + 500) // 1000 AS admin_dur,
               coalesce(direct_out_call_cnt, 0) AS direct_out_call_cnt,
               coalesce(direct_out_call_dur, 0) AS direct_out_call_dur,
               coalesce(direct_in_call_cnt, 0) AS direct_in_call_cnt,
               coalesce(direct_in_call_dur, 0) AS direct_in_call_dur
        FROM agent_ms FULL OUTER JOIN direct USING (lbl, agent)
    )
    SELECT {minutes} AS "interval", strftime(lbl, '%Y-%m-%d') AS date, strftime(lbl, '%H:%M') AS time, agent AS agent_id, coalesce(ai.agent_name, agent) AS agent_name,
           avail_dur, tot_work_dur, pause_dur, wait_dur, admin_dur,
           direct_out_call_cnt, direct_out_call_dur, direct_in_call_cnt, direct_in_call_dur
    FROM joined LEFT JOIN agent_info ai USING (agent)
    WHERE tot_work_dur + direct_out_call_cnt + direct_in_call_cnt > 0
    ORDER BY lbl, agent
) TO '{out}/agent.csv' (HEADER, DELIMITER ';');

-- Agent-queue rows.
COPY (
    WITH pairs AS (
        SELECT lbl, agent, queue,
               sum(talk) AS talking_call_dur, sum(acw_s) AS wrap_up_dur, count(*) AS answ_call_cnt,
               count(*) FILTER (WHERE transferred) AS transfer_out_call_cnt
        FROM seg
        WHERE queue IS NOT NULL AND outcome = 'answered' AND agent IS NOT NULL
        GROUP BY ALL
    )
    SELECT {minutes} AS "interval", strftime(lbl, '%Y-%m-%d') AS date, strftime(lbl, '%H:%M') AS time,
           agent AS agent_id, coalesce(ai.agent_name, agent) AS agent_name,
           queue, coalesce(qi.queue_name, queue) AS queue_name,
           talking_call_dur, wrap_up_dur, answ_call_cnt, transfer_out_call_cnt
    FROM pairs LEFT JOIN agent_info ai USING (agent) LEFT JOIN queue_info qi USING (queue)
    ORDER BY lbl, agent, queue
) TO '{out}/agent_queue.csv' (HEADER, DELIMITER ';');

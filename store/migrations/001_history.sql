-- QuantFlow history (qf-store). Every time-series table is range-partitioned by day on `ts`
-- (native partitioning); qf-store creates each day's partition before it writes rows of that day,
-- and `partitions_ahead_days` ahead of today, and drops partitions past `retention_days`.
-- Rows are keyed by the engine run (`engine_start`: the segment's start time, unique per engine
-- start) and a sequence or event time, so a re-sent row (a store restarted after SIGKILL) is a
-- conflict that INSERT ... ON CONFLICT DO NOTHING ignores. Unique keys include `ts` because a
-- partitioned table's keys must contain the partition column.

CREATE TABLE engines (
  engine_start bigint PRIMARY KEY,     -- Unix ns of the engine's start (segment header)
  generation bigint NOT NULL,
  instance text NOT NULL,
  mode text NOT NULL,
  pid integer NOT NULL,
  first_seen timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE bars (
  engine_start bigint NOT NULL,
  venue text NOT NULL,
  symbol text NOT NULL,
  interval_s integer NOT NULL,         -- 1 or 60
  ts timestamptz NOT NULL,             -- bar start, event time
  open double precision NOT NULL,
  high double precision NOT NULL,
  low double precision NOT NULL,
  close double precision NOT NULL,
  volume double precision NOT NULL,
  trades integer NOT NULL,
  rsi double precision,                -- 1 s bars: the indicators on close; NULL until ready
  bollinger_z double precision,
  atr double precision,
  PRIMARY KEY (venue, symbol, interval_s, ts, engine_start)
) PARTITION BY RANGE (ts);

CREATE TABLE signals (
  engine_start bigint NOT NULL,
  venue text NOT NULL,
  symbol text NOT NULL,
  ts timestamptz NOT NULL,             -- the record's update time
  signal double precision NOT NULL,
  confidence double precision NOT NULL,
  regime double precision[] NOT NULL,  -- posterior, one entry per regime
  dominant integer NOT NULL,
  PRIMARY KEY (venue, symbol, ts, engine_start)
) PARTITION BY RANGE (ts);

CREATE TABLE fills (
  engine_start bigint NOT NULL,
  seq bigint NOT NULL,                 -- position in the engine's fill log (0, 1, ...)
  ts timestamptz NOT NULL,
  order_id bigint NOT NULL,
  venue text NOT NULL,
  symbol text NOT NULL,
  side text NOT NULL,                  -- buy | sell
  qty double precision NOT NULL,
  price double precision NOT NULL,
  fee double precision NOT NULL,
  realized double precision NOT NULL,
  PRIMARY KEY (engine_start, seq, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX fills_ts ON fills (ts);

CREATE TABLE equity (
  engine_start bigint NOT NULL,
  ts timestamptz NOT NULL,             -- the portfolio record's update time
  equity double precision NOT NULL,
  cash double precision NOT NULL,
  peak_equity double precision NOT NULL,
  drawdown double precision NOT NULL,
  daily_pnl double precision NOT NULL,
  realized double precision NOT NULL,
  unrealized double precision NOT NULL,
  fees double precision NOT NULL,
  gross_exposure double precision NOT NULL,
  fills bigint NOT NULL,
  orders bigint NOT NULL,
  PRIMARY KEY (engine_start, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX equity_ts ON equity (ts);

-- A row when the kill switch or a refusal count changed (sampled at sample_ms).
CREATE TABLE risk (
  engine_start bigint NOT NULL,
  ts timestamptz NOT NULL,
  kill_mode text NOT NULL,
  kill_cause text NOT NULL,
  kill_trips bigint NOT NULL,
  refusals jsonb NOT NULL,             -- {"reason": count, ...}, totals since the engine started
  PRIMARY KEY (engine_start, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX risk_ts ON risk (ts);

-- The engine's notable event log: gaps, resyncs, reconnects, kill-switch trips and resets, ...
CREATE TABLE events (
  engine_start bigint NOT NULL,
  seq bigint NOT NULL,                 -- position in the engine's event log
  ts timestamptz NOT NULL,
  kind text NOT NULL,
  venue text,                          -- NULL: not about one instrument
  symbol text,
  text text NOT NULL,
  PRIMARY KEY (engine_start, seq, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX events_ts ON events (ts);

-- The partition of `parent` holding the UTC day `day` (parent_YYYYMMDD), created when missing.
CREATE FUNCTION qf_ensure_partition(parent text, day date) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                 parent || '_' || to_char(day, 'YYYYMMDD'), parent,
                 day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC');
END $$;

-- Drops the daily partitions of `parent` whose day is older than `keep_days` before today (UTC);
-- returns how many it dropped.
CREATE FUNCTION qf_drop_partitions(parent text, keep_days integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  child text;
  dropped integer := 0;
BEGIN
  FOR child IN
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
    WHERE p.relname = parent AND c.relname ~ ('^' || parent || '_[0-9]{8}$')
  LOOP
    IF to_date(right(child, 8), 'YYYYMMDD') < (now() AT TIME ZONE 'UTC')::date - keep_days THEN
      EXECUTE format('DROP TABLE %I', child);
      dropped := dropped + 1;
    END IF;
  END LOOP;
  RETURN dropped;
END $$;

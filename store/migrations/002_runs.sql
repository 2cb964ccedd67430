-- Backtest runs (`qf-engine replay --store URL`): one row per run, its fills and its equity
-- series, written in one transaction when the replay ends. Not partitioned: a run is read whole
-- (GET /api/history/runs/{id}) and its rows carry capture time, often years old.

CREATE TABLE runs (
  run_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  started_at timestamptz NOT NULL,     -- wall clock of the replay
  ended_at timestamptz NOT NULL,
  captures text[] NOT NULL,            -- the capture files, in replay order
  venue text NOT NULL,
  config jsonb,                        -- the --config file as JSON (secrets redacted); NULL: inferred
  metrics jsonb NOT NULL               -- the replay's JSON summary
);
CREATE INDEX runs_started ON runs (started_at);

CREATE TABLE run_fills (
  run_id uuid NOT NULL REFERENCES runs ON DELETE CASCADE,
  seq integer NOT NULL,                -- 0, 1, ... in fill order
  unix_ns bigint NOT NULL,             -- capture time
  order_id bigint NOT NULL,
  venue text NOT NULL,
  symbol text NOT NULL,
  side text NOT NULL,                  -- buy | sell
  qty double precision NOT NULL,
  price double precision NOT NULL,
  fee double precision NOT NULL,
  realized double precision NOT NULL,
  PRIMARY KEY (run_id, seq)
);

-- One row per backtest interval, the rows of --equity-csv.
CREATE TABLE run_equity (
  run_id uuid NOT NULL REFERENCES runs ON DELETE CASCADE,
  unix_ns bigint NOT NULL,             -- capture time
  equity double precision NOT NULL,
  drawdown double precision NOT NULL,
  realized double precision NOT NULL,
  unrealized double precision NOT NULL,
  fees double precision NOT NULL,
  PRIMARY KEY (run_id, unix_ns)
);

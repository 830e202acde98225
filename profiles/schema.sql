-- profiles/schema.sql: the tetri profile database, schema version 2 (DESIGN section 3).
-- One database may hold several hardware setups; a run loads the rows of one.
-- Times are integer nanoseconds, as everywhere in tetri.

CREATE TABLE IF NOT EXISTS meta (
  key   TEXT PRIMARY KEY,            -- 'kind' = 'tetri-profile', 'schema_version' = '1', ...
  value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS hardware (
  name             TEXT PRIMARY KEY, -- 'h100x8', 'a40x4', ...
  gpu              TEXT NOT NULL,    -- 'NVIDIA H100 80GB HBM3'
  n_gpus           INTEGER NOT NULL CHECK (n_gpus BETWEEN 1 AND 64),
  fast_domain_size INTEGER NOT NULL CHECK (fast_domain_size >= 1), -- GPUs per NVLink domain
  fast_link        TEXT NOT NULL DEFAULT 'nvlink',
  fast_link_gbps   REAL,             -- per-direction bandwidth used by the analytic model
  slow_link        TEXT NOT NULL DEFAULT 'pcie',
  slow_link_gbps   REAL,
  -- (schema 2) the link model of rows whose all-to-alls are modelled (source
  -- 'measured-compute+modelled-comm'): each all-to-all costs a2a_latency_us + bytes / link_gbps
  a2a_latency_us   REAL,
  link_source      TEXT              -- where the link figures come from (a measurement, a datasheet)
);

-- Per-step latency of one denoising step (the whole transformer forward) of a batch of identical
-- requests at one sequence-parallel degree (degree = ulysses x ring) over one link class.
CREATE TABLE IF NOT EXISTS step_latency (
  hardware  TEXT NOT NULL REFERENCES hardware(name),
  model     TEXT NOT NULL,           -- 'flux-dev' | 'sd3-medium'
  width     INTEGER NOT NULL,
  height    INTEGER NOT NULL,
  degree    INTEGER NOT NULL CHECK (degree >= 1),
  ulysses   INTEGER NOT NULL,
  ring      INTEGER NOT NULL DEFAULT 1,
  batch     INTEGER NOT NULL DEFAULT 1 CHECK (batch >= 1),
  link      TEXT NOT NULL,           -- 'nvlink' | 'pcie'
  median_ns INTEGER NOT NULL CHECK (median_ns > 0),
  p10_ns    INTEGER,
  p90_ns    INTEGER,
  cv        REAL NOT NULL DEFAULT 0, -- coefficient of variation of one step's time
  samples   INTEGER NOT NULL DEFAULT 0,
  -- 'measured-compute+modelled-comm' (schema 2): one rank's compute measured, its all-to-alls from
  -- the hardware's link model
  source    TEXT NOT NULL CHECK (source IN ('measured', 'analytic', 'measured-compute+modelled-comm')),
  measured_at TEXT,                  -- ISO date
  method    TEXT,                    -- how: command, tool version, or the analytic model's inputs
  PRIMARY KEY (hardware, model, width, height, degree, ulysses, ring, batch, link)
);

-- Cost of moving one request's state (latent, text embeddings, pooled vector) between GPU sets.
CREATE TABLE IF NOT EXISTS migration (
  hardware  TEXT NOT NULL REFERENCES hardware(name),
  model     TEXT NOT NULL,
  width     INTEGER NOT NULL,
  height    INTEGER NOT NULL,
  link      TEXT NOT NULL,
  median_ns INTEGER NOT NULL CHECK (median_ns >= 0),
  source    TEXT NOT NULL CHECK (source IN ('measured', 'analytic', 'measured-compute+modelled-comm')),
  PRIMARY KEY (hardware, model, width, height, link)
);

-- Optional stages outside the denoising loop. 'prepare': a request's state made on the executor before its
-- first step (seeded inputs, the conditioning of its schedule); the block cost adds it to first blocks.
CREATE TABLE IF NOT EXISTS stage_latency (
  hardware  TEXT NOT NULL REFERENCES hardware(name),
  model     TEXT NOT NULL,
  width     INTEGER NOT NULL,
  height    INTEGER NOT NULL,
  stage     TEXT NOT NULL CHECK (stage IN ('text_encode', 'vae_decode', 'prepare')),
  median_ns INTEGER NOT NULL CHECK (median_ns >= 0),
  source    TEXT NOT NULL CHECK (source IN ('measured', 'analytic')),
  PRIMARY KEY (hardware, model, width, height, stage)
);

-- Optional: how a GPU that idled runs its next block. A power-bound GPU runs below its top clock
-- under sustained load and its clock rises while it idles; step_latency is measured back to back.
-- A block whose GPUs each idled min_idle_ns or more (or ran nothing before) runs its first
-- boost_ns of compute at factor x the step rows' time (tetri_idle_speedup_rule_ns). The simulator
-- and the emulated backend apply it to a block's actual time, never to the prediction policies see.
CREATE TABLE IF NOT EXISTS idle_speedup (
  hardware    TEXT PRIMARY KEY REFERENCES hardware(name),
  min_idle_ns INTEGER NOT NULL CHECK (min_idle_ns >= 0),
  boost_ns    INTEGER NOT NULL CHECK (boost_ns >= 0),
  factor      REAL NOT NULL CHECK (factor > 0 AND factor <= 1),
  source      TEXT NOT NULL CHECK (source IN ('measured', 'fitted')),
  method      TEXT             -- how: the measurement, or the runs it was fitted to
);

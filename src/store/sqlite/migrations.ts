/**
 * Versioned schema migrations, applied in order; `PRAGMA user_version` records how many have run.
 * Never edit a released migration: append a new one.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE tools (
    name TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    description TEXT NOT NULL,
    runtime TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'disabled', 'revoked')),
    tags TEXT NOT NULL DEFAULT '[]',
    action_count INTEGER NOT NULL,
    secrets TEXT NOT NULL DEFAULT '[]',
    source_path TEXT,
    digest TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );

  CREATE TABLE validators (
    digest TEXT PRIMARY KEY,
    code TEXT NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE actions (
    tool TEXT NOT NULL REFERENCES tools(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    definition TEXT NOT NULL,
    input_validator TEXT REFERENCES validators(digest),
    output_validator TEXT REFERENCES validators(digest),
    PRIMARY KEY (tool, name)
  ) WITHOUT ROWID;

  CREATE TABLE executions (
    id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    status TEXT NOT NULL,
    input TEXT,
    output TEXT,
    plan TEXT,
    error TEXT,
    error_category TEXT,
    cost_usd REAL,
    risk TEXT,
    tool_digest TEXT,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    duration_ms INTEGER
  );
  CREATE INDEX executions_by_time ON executions (created_at);
  CREATE INDEX executions_by_tool ON executions (tool, action, created_at);
  CREATE INDEX executions_by_status ON executions (status, created_at);

  CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    type TEXT NOT NULL,
    actor TEXT NOT NULL,
    tool TEXT,
    action TEXT,
    execution_id TEXT,
    status TEXT,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX audit_by_time ON audit_events (ts);
  CREATE INDEX audit_by_tool ON audit_events (tool, action);
  CREATE INDEX audit_by_execution ON audit_events (execution_id);

  -- Append-only is enforced by the database itself, not by convention.
  CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
  CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
  `,
  `
  -- Spend ledger: money reserved before an action runs, then committed or released. The daily limit is
  -- checked and the reservation inserted in one BEGIN IMMEDIATE transaction, with the audit intent.
  CREATE TABLE ledger (
    execution_id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    action TEXT NOT NULL,
    amount_usd REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'committed', 'released')),
    day TEXT NOT NULL,
    pid INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX ledger_by_day ON ledger (day, state);

  -- Approval requests: bound to a digest of tool, action, input and cost; used once; they expire.
  CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    action TEXT NOT NULL,
    digest TEXT NOT NULL,
    input TEXT NOT NULL,
    cost_usd REAL NOT NULL,
    risk TEXT NOT NULL,
    needs_otp INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'used')),
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    decided_by TEXT,
    decided_via TEXT,
    decided_at TEXT,
    execution_id TEXT
  ) WITHOUT ROWID;
  CREATE INDEX approvals_by_status ON approvals (status, requested_at);

  -- Encrypted secrets (AES-256-GCM; the key lives outside this database).
  CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    sealed TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) WITHOUT ROWID;

  -- TOTP: one enrolment. last_step is the highest time step ever accepted, so no code is accepted twice;
  -- failures are kept here, not in memory, so throttling holds across processes.
  CREATE TABLE totp (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    sealed_secret TEXT NOT NULL,
    confirmed INTEGER NOT NULL DEFAULT 0,
    last_step INTEGER NOT NULL DEFAULT -1,
    created_at TEXT NOT NULL
  );
  CREATE TABLE totp_failures (at_ms INTEGER NOT NULL);
  `,
  `
  -- Permissions the user granted a tool (\`toolctl tool approve\`), checked before every execution; and whether the
  -- tool needs a grant even within the defaults (an imported OpenAPI spec).
  ALTER TABLE tools ADD COLUMN grants TEXT;
  ALTER TABLE tools ADD COLUMN requires_approval INTEGER NOT NULL DEFAULT 0;
  -- Resource use of a sandboxed run (peak memory, CPU time), when it was measured.
  ALTER TABLE executions ADD COLUMN resources TEXT;
  -- Shared JSON Schemas of a tool (an OpenAPI spec's components), loaded only to compile or show a schema.
  CREATE TABLE definitions (
    tool TEXT NOT NULL REFERENCES tools(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    schema TEXT NOT NULL,
    PRIMARY KEY (tool, name)
  ) WITHOUT ROWID;
  `,
  `
  -- A compensation (toolctl rollback, or an automatic one) points at the execution it undoes.
  ALTER TABLE executions ADD COLUMN rollback_of TEXT;
  CREATE INDEX executions_by_rollback ON executions (rollback_of) WHERE rollback_of IS NOT NULL;
  -- Per-tool circuit breakers (cockatiel's serialised state) and request-rate slots, shared by every process.
  CREATE TABLE breakers (
    tool TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE TABLE rate_slots (
    tool TEXT NOT NULL,
    at_ms INTEGER NOT NULL
  );
  CREATE INDEX rate_slots_by_tool ON rate_slots (tool, at_ms);
  `,
  `
  -- Plan runs (toolctl apply): the saved plan applied, and one row per step with its execution and fate.
  CREATE TABLE plan_runs (
    id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'rolled_back', 'interrupted')),
    plan TEXT NOT NULL,
    actor TEXT NOT NULL,
    pid INTEGER,
    error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) WITHOUT ROWID;
  -- A saved plan is applied once (Terraform's hashicorp/terraform#24078: a plan that could be applied again and again).
  CREATE UNIQUE INDEX plan_runs_by_plan ON plan_runs (plan_id);
  CREATE TABLE plan_steps (
    run_id TEXT NOT NULL REFERENCES plan_runs(id) ON DELETE CASCADE,
    step TEXT NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'unknown', 'skipped', 'not_started', 'rolled_back', 'rollback_failed', 'left_in_place')),
    execution_id TEXT,
    rollback_execution_id TEXT,
    note TEXT,
    finished_at TEXT,
    PRIMARY KEY (run_id, step)
  ) WITHOUT ROWID;
  ALTER TABLE executions ADD COLUMN plan_run_id TEXT;
  CREATE INDEX executions_by_plan_run ON executions (plan_run_id) WHERE plan_run_id IS NOT NULL;
  `,
  `
  -- The error category for failures that fit no other is 'other': 'unknown' read like the outcome status.
  UPDATE executions SET error_category = 'other' WHERE error_category = 'unknown';
  -- A run that needed a human nobody could ask was left 'requested', as if still waiting: it ended, declined.
  UPDATE executions SET status = 'declined' WHERE status = 'requested' AND finished_at IS NOT NULL;
  `,
  `
  -- The whole approval request as its approver is shown it (ApprovalRequest as JSON: input, where it goes, cost,
  -- risk, undo), hashed into digest. Requests filed before this have none and cannot be approved.
  ALTER TABLE approvals ADD COLUMN request TEXT;
  `,
  `
  -- The audit chain is signed with the audit key (HMAC-SHA-256); events written before keep their plain SHA-256
  -- chain (key_id NULL), pinned by the first signed event. The signed checkpoint moves with every append, in the
  -- same transaction, and every execution row carries a signature over all its columns.
  ALTER TABLE audit_events ADD COLUMN key_id TEXT;
  CREATE TABLE audit_checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    key_id TEXT NOT NULL,
    mac TEXT NOT NULL
  );
  ALTER TABLE executions ADD COLUMN mac TEXT;
  -- Filters that walk an index in seq order (an implicit rowid suffix), so a query for the newest N never sorts.
  CREATE INDEX audit_by_tool_only ON audit_events (tool);
  CREATE INDEX audit_by_type ON audit_events (type);
  CREATE INDEX audit_by_actor ON audit_events (actor);
  -- The newest runs of one tool, or of one actor, without sorting all of them.
  CREATE INDEX executions_by_tool_time ON executions (tool, created_at);
  CREATE INDEX executions_by_actor_time ON executions (actor, created_at);

  -- Running counts of executions per day, tool, action, status and actor, kept by triggers so they can never
  -- drift from the rows: stats and the executions total read these instead of counting every execution.
  -- Cost in micro-dollars, as an integer, so that adding and taking away never drifts either.
  CREATE TABLE execution_counts (
    day TEXT NOT NULL,
    tool TEXT NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    actor TEXT NOT NULL,
    count INTEGER NOT NULL,
    cost_micro_usd INTEGER NOT NULL,
    PRIMARY KEY (day, tool, action, status, actor)
  ) WITHOUT ROWID;
  INSERT INTO execution_counts
    SELECT substr(created_at, 1, 10), tool, action, status, actor, count(*), coalesce(sum(CAST(round(coalesce(cost_usd, 0) * 1000000) AS INTEGER)), 0)
    FROM executions GROUP BY 1, 2, 3, 4, 5;
  CREATE TRIGGER execution_counts_insert AFTER INSERT ON executions BEGIN
    INSERT INTO execution_counts VALUES (substr(NEW.created_at, 1, 10), NEW.tool, NEW.action, NEW.status, NEW.actor, 1, CAST(round(coalesce(NEW.cost_usd, 0) * 1000000) AS INTEGER))
    ON CONFLICT DO UPDATE SET count = count + 1, cost_micro_usd = cost_micro_usd + excluded.cost_micro_usd;
  END;
  CREATE TRIGGER execution_counts_update AFTER UPDATE OF status, cost_usd, tool, action, actor, created_at ON executions BEGIN
    UPDATE execution_counts SET count = count - 1, cost_micro_usd = cost_micro_usd - CAST(round(coalesce(OLD.cost_usd, 0) * 1000000) AS INTEGER)
    WHERE day = substr(OLD.created_at, 1, 10) AND tool = OLD.tool AND action = OLD.action AND status = OLD.status AND actor = OLD.actor;
    INSERT INTO execution_counts VALUES (substr(NEW.created_at, 1, 10), NEW.tool, NEW.action, NEW.status, NEW.actor, 1, CAST(round(coalesce(NEW.cost_usd, 0) * 1000000) AS INTEGER))
    ON CONFLICT DO UPDATE SET count = count + 1, cost_micro_usd = cost_micro_usd + excluded.cost_micro_usd;
  END;
  CREATE TRIGGER execution_counts_delete AFTER DELETE ON executions BEGIN
    UPDATE execution_counts SET count = count - 1, cost_micro_usd = cost_micro_usd - CAST(round(coalesce(OLD.cost_usd, 0) * 1000000) AS INTEGER)
    WHERE day = substr(OLD.created_at, 1, 10) AND tool = OLD.tool AND action = OLD.action AND status = OLD.status AND actor = OLD.actor;
  END;
  `,
  `
  -- Running totals of the spend ledger per day, kept by triggers in the same transaction as every change to a
  -- ledger row: a reservation reads one row instead of summing the whole day, so it costs the same at the
  -- 100,000th run of a day as at the first. Totals are whole micro-dollars, so the integer sums are exact and can
  -- never drift from the rows, whichever code path (or hand-written SQL) changes them.
  CREATE TABLE ledger_days (
    day TEXT PRIMARY KEY,
    committed_micros INTEGER NOT NULL DEFAULT 0,
    reserved_micros INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  INSERT INTO ledger_days (day, committed_micros, reserved_micros)
    SELECT day,
      coalesce(sum(CASE WHEN state = 'committed' THEN CAST(round(amount_usd * 1000000) AS INTEGER) END), 0),
      coalesce(sum(CASE WHEN state = 'reserved' THEN CAST(round(amount_usd * 1000000) AS INTEGER) END), 0)
    FROM ledger GROUP BY day;
  CREATE TRIGGER ledger_days_insert AFTER INSERT ON ledger
  BEGIN
    INSERT OR IGNORE INTO ledger_days (day) VALUES (NEW.day);
    UPDATE ledger_days SET
      committed_micros = committed_micros + CASE WHEN NEW.state = 'committed' THEN CAST(round(NEW.amount_usd * 1000000) AS INTEGER) ELSE 0 END,
      reserved_micros = reserved_micros + CASE WHEN NEW.state = 'reserved' THEN CAST(round(NEW.amount_usd * 1000000) AS INTEGER) ELSE 0 END
    WHERE day = NEW.day;
  END;
  CREATE TRIGGER ledger_days_update AFTER UPDATE OF state, amount_usd, day ON ledger
  BEGIN
    UPDATE ledger_days SET
      committed_micros = committed_micros - CASE WHEN OLD.state = 'committed' THEN CAST(round(OLD.amount_usd * 1000000) AS INTEGER) ELSE 0 END,
      reserved_micros = reserved_micros - CASE WHEN OLD.state = 'reserved' THEN CAST(round(OLD.amount_usd * 1000000) AS INTEGER) ELSE 0 END
    WHERE day = OLD.day;
    INSERT OR IGNORE INTO ledger_days (day) VALUES (NEW.day);
    UPDATE ledger_days SET
      committed_micros = committed_micros + CASE WHEN NEW.state = 'committed' THEN CAST(round(NEW.amount_usd * 1000000) AS INTEGER) ELSE 0 END,
      reserved_micros = reserved_micros + CASE WHEN NEW.state = 'reserved' THEN CAST(round(NEW.amount_usd * 1000000) AS INTEGER) ELSE 0 END
    WHERE day = NEW.day;
  END;
  CREATE TRIGGER ledger_days_delete AFTER DELETE ON ledger
  BEGIN
    UPDATE ledger_days SET
      committed_micros = committed_micros - CASE WHEN OLD.state = 'committed' THEN CAST(round(OLD.amount_usd * 1000000) AS INTEGER) ELSE 0 END,
      reserved_micros = reserved_micros - CASE WHEN OLD.state = 'reserved' THEN CAST(round(OLD.amount_usd * 1000000) AS INTEGER) ELSE 0 END
    WHERE day = OLD.day;
  END;
  `,
  `
  -- The toolctl process that wrote a run's intent, by pid and start time (Linux; NULL elsewhere), so that a
  -- reader can tell a run still in progress from one whose process was killed, even after its pid is reused.
  ALTER TABLE executions ADD COLUMN pid INTEGER;
  ALTER TABLE executions ADD COLUMN pid_start TEXT;
  ALTER TABLE plan_runs ADD COLUMN pid_start TEXT;
  -- Runs recorded before this migration: the reserving process is the best record of who ran them.
  UPDATE executions SET pid = (SELECT pid FROM ledger WHERE ledger.execution_id = executions.id) WHERE status = 'running';
  `,
  `
  -- Circuit breakers counted in the database, one write per outcome, instead of cockatiel's serialised state
  -- loaded at the start of a call and saved at its end (which lost counts between concurrent processes). The
  -- half-open trial call is a lease: its holder (pid, start time) and when it expires.
  CREATE TABLE circuits (
    tool TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    opened_at INTEGER,
    trial_token TEXT,
    trial_pid INTEGER,
    trial_pid_start TEXT,
    trial_expires_at INTEGER,
    updated_at TEXT NOT NULL
  ) WITHOUT ROWID;
  -- Circuits open at the upgrade stay open (cockatiel's CircuitState.Open is 1); closed ones start from zero.
  INSERT INTO circuits (tool, failures, opened_at, updated_at)
    SELECT tool, 0, json_extract(state, '$.ownState.openedAt'), updated_at FROM breakers
    WHERE json_valid(state) AND json_extract(state, '$.ownState.value') = 1 AND json_extract(state, '$.ownState.openedAt') IS NOT NULL;
  DROP TABLE breakers;
  `,
  `
  -- Where each tool can reach (hosts, private networks, programs, variables, paths), and what of it the user
  -- accepted: a re-import that reaches further goes back to pending. NULL for tools saved before this.
  ALTER TABLE tools ADD COLUMN reach TEXT;
  ALTER TABLE tools ADD COLUMN accepted_reach TEXT;
  `,
  `
  -- The front door a run came through (an MCP client's name and version, its session), as JSON; NULL for the
  -- CLI and programs. Signed with the row when set.
  ALTER TABLE executions ADD COLUMN origin TEXT;
  `,
  `
  -- Passkeys (WebAuthn credentials) for the approval page: the credential id and COSE public key (both public,
  -- base64url), the signature counter last seen, the transports (JSON array) and the user's name for it.
  CREATE TABLE passkeys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    public_key TEXT NOT NULL,
    counter INTEGER NOT NULL DEFAULT 0,
    transports TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    last_used_at TEXT
  ) WITHOUT ROWID;
  `,
  `
  -- The machine that wrote a run's intent, a plan run, or a circuit's trial lease. Always NULL in a SQLite home (one
  -- machine); set in a team's PostgreSQL database, and kept when one is exported back to SQLite (toolctl db export),
  -- so that both backends have the same columns and an execution signed on either verifies on the other.
  ALTER TABLE executions ADD COLUMN host TEXT;
  ALTER TABLE plan_runs ADD COLUMN host TEXT;
  ALTER TABLE circuits ADD COLUMN trial_host TEXT;
  `,
  `
  -- An execution's error in full: its code (input_invalid, policy_refused...), the exit code the run ended with,
  -- and its problems (a JSON array). NULL on rows written before this (their code is derived from the status) and
  -- on runs that did not fail. Signed with the row when set.
  ALTER TABLE executions ADD COLUMN error_code TEXT;
  ALTER TABLE executions ADD COLUMN error_exit_code INTEGER;
  ALTER TABLE executions ADD COLUMN error_problems TEXT;
  `,
  `
  -- A plan run's error in full, as an execution's: beside the message (error), its code, the exit code the run
  -- ended with, its category and its problems (a JSON array). NULL on runs that did not fail and on rows written
  -- before this (their code is derived from the status).
  ALTER TABLE plan_runs ADD COLUMN error_code TEXT;
  ALTER TABLE plan_runs ADD COLUMN error_exit_code INTEGER;
  ALTER TABLE plan_runs ADD COLUMN error_category TEXT;
  ALTER TABLE plan_runs ADD COLUMN error_problems TEXT;
  `,
];

/**
 * The PostgreSQL schema, as versioned migrations applied in order (`toolctl_schema.version` records how many
 * have run). The first is the SQLite registry's schema as it stands, column for column and with the same types as
 * far as values go (text timestamps, double-precision money, integers), so that a row reads back identical on
 * either backend: an execution signed in SQLite still verifies after `toolctl db migrate-to`.
 * Never edit a released migration: append a new one.
 */
export const PG_MIGRATIONS: readonly string[] = [
  `
  -- Team-wide settings: which audit key signs this database (see db.ts auditKey).
  CREATE TABLE settings (
    key text PRIMARY KEY,
    value text NOT NULL
  );

  CREATE TABLE tools (
    name text PRIMARY KEY,
    version text NOT NULL,
    description text NOT NULL,
    runtime text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'active', 'disabled', 'revoked')),
    tags text NOT NULL DEFAULT '[]',
    action_count integer NOT NULL,
    secrets text NOT NULL DEFAULT '[]',
    source_path text,
    digest text NOT NULL,
    definition text NOT NULL,
    created_at text NOT NULL,
    updated_at text NOT NULL,
    grants text,
    requires_approval integer NOT NULL DEFAULT 0,
    reach text,
    accepted_reach text
  );

  CREATE TABLE validators (
    digest text PRIMARY KEY,
    code text NOT NULL
  );

  CREATE TABLE actions (
    tool text NOT NULL REFERENCES tools(name) ON DELETE CASCADE,
    name text NOT NULL,
    kind text NOT NULL,
    description text NOT NULL,
    definition text NOT NULL,
    input_validator text REFERENCES validators(digest),
    output_validator text REFERENCES validators(digest),
    PRIMARY KEY (tool, name)
  );

  CREATE TABLE definitions (
    tool text NOT NULL REFERENCES tools(name) ON DELETE CASCADE,
    name text NOT NULL,
    schema text NOT NULL,
    PRIMARY KEY (tool, name)
  );

  CREATE TABLE executions (
    id text PRIMARY KEY,
    tool text NOT NULL,
    action text NOT NULL,
    actor text NOT NULL,
    status text NOT NULL,
    input text,
    output text,
    plan text,
    error text,
    error_category text,
    cost_usd double precision,
    risk text,
    tool_digest text,
    created_at text NOT NULL,
    started_at text,
    finished_at text,
    duration_ms bigint,
    resources text,
    rollback_of text,
    plan_run_id text,
    mac text,
    pid integer,
    pid_start text,
    origin text,
    -- The machine whose process wrote the intent: only that machine can tell whether the process is still alive.
    -- Signed with the row when set, like origin.
    host text,
    -- An execution's error in full (code, exit code, problems as a JSON array); NULL when it did not fail.
    -- Signed with the row when set.
    error_code text,
    error_exit_code integer,
    error_problems text
  );
  CREATE INDEX executions_by_time ON executions (created_at);
  CREATE INDEX executions_by_tool ON executions (tool, action, created_at);
  CREATE INDEX executions_by_status ON executions (status, created_at);
  CREATE INDEX executions_by_rollback ON executions (rollback_of) WHERE rollback_of IS NOT NULL;
  CREATE INDEX executions_by_plan_run ON executions (plan_run_id) WHERE plan_run_id IS NOT NULL;
  CREATE INDEX executions_by_tool_time ON executions (tool, created_at);
  CREATE INDEX executions_by_actor_time ON executions (actor, created_at);
  CREATE INDEX executions_by_id_prefix ON executions (id text_pattern_ops);

  CREATE TABLE audit_events (
    seq bigint PRIMARY KEY,
    ts text NOT NULL,
    type text NOT NULL,
    actor text NOT NULL,
    tool text,
    action text,
    execution_id text,
    status text,
    data text NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    key_id text
  );
  CREATE INDEX audit_by_time ON audit_events (ts);
  CREATE INDEX audit_by_tool ON audit_events (tool, action, seq);
  CREATE INDEX audit_by_execution ON audit_events (execution_id);
  CREATE INDEX audit_by_type ON audit_events (type, seq);
  CREATE INDEX audit_by_actor ON audit_events (actor, seq);

  -- Append-only is enforced by the database itself, not by convention (a role without UPDATE and DELETE on the
  -- table is stronger still: see docs/team.md).
  CREATE FUNCTION toolctl_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION 'audit log is append-only';
  END $$;
  CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION toolctl_audit_append_only();
  CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION toolctl_audit_append_only();

  CREATE TABLE audit_checkpoint (
    id integer PRIMARY KEY CHECK (id = 1),
    seq bigint NOT NULL,
    hash text NOT NULL,
    key_id text NOT NULL,
    mac text NOT NULL
  );

  CREATE TABLE ledger (
    execution_id text PRIMARY KEY,
    tool text NOT NULL,
    action text NOT NULL,
    amount_usd double precision NOT NULL,
    state text NOT NULL CHECK (state IN ('reserved', 'committed', 'released')),
    day text NOT NULL,
    pid integer,
    created_at text NOT NULL,
    updated_at text NOT NULL
  );
  CREATE INDEX ledger_by_day ON ledger (day, state);

  -- Running totals per day in whole micro-dollars, kept by triggers in the same transaction as every ledger change.
  CREATE TABLE ledger_days (
    day text PRIMARY KEY,
    committed_micros bigint NOT NULL DEFAULT 0,
    reserved_micros bigint NOT NULL DEFAULT 0
  );
  CREATE FUNCTION toolctl_micros(amount double precision) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
    SELECT CAST(round(CAST(coalesce(amount, 0) * 1000000 AS numeric)) AS bigint)
  $$;
  CREATE FUNCTION toolctl_ledger_days() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
      UPDATE ledger_days SET
        committed_micros = committed_micros - CASE WHEN OLD.state = 'committed' THEN toolctl_micros(OLD.amount_usd) ELSE 0 END,
        reserved_micros = reserved_micros - CASE WHEN OLD.state = 'reserved' THEN toolctl_micros(OLD.amount_usd) ELSE 0 END
      WHERE day = OLD.day;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
      INSERT INTO ledger_days (day) VALUES (NEW.day) ON CONFLICT (day) DO NOTHING;
      UPDATE ledger_days SET
        committed_micros = committed_micros + CASE WHEN NEW.state = 'committed' THEN toolctl_micros(NEW.amount_usd) ELSE 0 END,
        reserved_micros = reserved_micros + CASE WHEN NEW.state = 'reserved' THEN toolctl_micros(NEW.amount_usd) ELSE 0 END
      WHERE day = NEW.day;
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER ledger_days_insert AFTER INSERT ON ledger FOR EACH ROW EXECUTE FUNCTION toolctl_ledger_days();
  CREATE TRIGGER ledger_days_update AFTER UPDATE OF state, amount_usd, day ON ledger FOR EACH ROW EXECUTE FUNCTION toolctl_ledger_days();
  CREATE TRIGGER ledger_days_delete AFTER DELETE ON ledger FOR EACH ROW EXECUTE FUNCTION toolctl_ledger_days();

  -- Running counts of executions per day, tool, action, status and actor, kept by triggers.
  CREATE TABLE execution_counts (
    day text NOT NULL,
    tool text NOT NULL,
    action text NOT NULL,
    status text NOT NULL,
    actor text NOT NULL,
    count bigint NOT NULL,
    cost_micro_usd bigint NOT NULL,
    PRIMARY KEY (day, tool, action, status, actor)
  );
  CREATE FUNCTION toolctl_execution_counts() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
      UPDATE execution_counts SET count = count - 1, cost_micro_usd = cost_micro_usd - toolctl_micros(OLD.cost_usd)
      WHERE day = substr(OLD.created_at, 1, 10) AND tool = OLD.tool AND action = OLD.action AND status = OLD.status AND actor = OLD.actor;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
      INSERT INTO execution_counts AS c VALUES (substr(NEW.created_at, 1, 10), NEW.tool, NEW.action, NEW.status, NEW.actor, 1, toolctl_micros(NEW.cost_usd))
      ON CONFLICT (day, tool, action, status, actor) DO UPDATE SET count = c.count + 1, cost_micro_usd = c.cost_micro_usd + excluded.cost_micro_usd;
    END IF;
    RETURN NULL;
  END $$;
  CREATE TRIGGER execution_counts_insert AFTER INSERT ON executions FOR EACH ROW EXECUTE FUNCTION toolctl_execution_counts();
  CREATE TRIGGER execution_counts_update AFTER UPDATE OF status, cost_usd, tool, action, actor, created_at ON executions
    FOR EACH ROW EXECUTE FUNCTION toolctl_execution_counts();
  CREATE TRIGGER execution_counts_delete AFTER DELETE ON executions FOR EACH ROW EXECUTE FUNCTION toolctl_execution_counts();

  CREATE TABLE approvals (
    id text PRIMARY KEY,
    tool text NOT NULL,
    action text NOT NULL,
    digest text NOT NULL,
    input text NOT NULL,
    cost_usd double precision NOT NULL,
    risk text NOT NULL,
    needs_otp integer NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'used')),
    requested_by text NOT NULL,
    requested_at text NOT NULL,
    expires_at text NOT NULL,
    decided_by text,
    decided_via text,
    decided_at text,
    execution_id text,
    request text
  );
  CREATE INDEX approvals_by_status ON approvals (status, requested_at);

  -- TOTP: one enrolment for the team, sealed with the master key of the machine that enrolled (machines that check
  -- codes share it: TOOLCTL_MASTER_KEY). last_step and the failures are here, so replay and throttling hold across
  -- machines.
  CREATE TABLE totp (
    id integer PRIMARY KEY CHECK (id = 1),
    sealed_secret text NOT NULL,
    confirmed integer NOT NULL DEFAULT 0,
    last_step bigint NOT NULL DEFAULT -1,
    created_at text NOT NULL
  );
  CREATE TABLE totp_failures (at_ms bigint NOT NULL);
  CREATE INDEX totp_failures_by_time ON totp_failures (at_ms);

  CREATE TABLE passkeys (
    id text PRIMARY KEY,
    name text NOT NULL UNIQUE,
    public_key text NOT NULL,
    counter bigint NOT NULL DEFAULT 0,
    transports text NOT NULL DEFAULT '[]',
    created_at text NOT NULL,
    last_used_at text
  );

  CREATE TABLE circuits (
    tool text PRIMARY KEY,
    failures integer NOT NULL DEFAULT 0,
    opened_at bigint,
    trial_token text,
    trial_pid integer,
    trial_pid_start text,
    trial_expires_at bigint,
    updated_at text NOT NULL,
    trial_host text
  );
  CREATE TABLE rate_slots (
    tool text NOT NULL,
    at_ms bigint NOT NULL
  );
  CREATE INDEX rate_slots_by_tool ON rate_slots (tool, at_ms);

  CREATE TABLE plan_runs (
    id text PRIMARY KEY,
    plan_id text NOT NULL,
    name text NOT NULL,
    status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'rolled_back', 'interrupted')),
    plan text NOT NULL,
    actor text NOT NULL,
    pid integer,
    error text,
    created_at text NOT NULL,
    updated_at text NOT NULL,
    pid_start text,
    host text
  );
  CREATE UNIQUE INDEX plan_runs_by_plan ON plan_runs (plan_id);
  CREATE TABLE plan_steps (
    run_id text NOT NULL REFERENCES plan_runs(id) ON DELETE CASCADE,
    step text NOT NULL,
    position integer NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'unknown', 'skipped', 'not_started', 'rolled_back', 'rollback_failed', 'left_in_place')),
    execution_id text,
    rollback_execution_id text,
    note text,
    finished_at text,
    PRIMARY KEY (run_id, step)
  );

  -- This database's identity (names the head file each machine exports, see head.ts) and a counter of changes to
  -- the runnable tools, moved by the trigger below in the same transaction as the change: what tools.fingerprint()
  -- polls, from any machine, in one indexed read.
  INSERT INTO settings (key, value) VALUES ('database_id', gen_random_uuid()::text), ('tools_version', '0');
  CREATE FUNCTION toolctl_tools_version() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    UPDATE settings SET value = (value::bigint + 1)::text WHERE key = 'tools_version';
    RETURN NULL;
  END $$;
  CREATE TRIGGER tools_version_insert_delete AFTER INSERT OR DELETE ON tools FOR EACH STATEMENT EXECUTE FUNCTION toolctl_tools_version();
  CREATE TRIGGER tools_version_update AFTER UPDATE OF name, status, digest, grants ON tools FOR EACH STATEMENT EXECUTE FUNCTION toolctl_tools_version();
  `,
  `
  -- A plan run's error in full, as an execution's (SQLite migration 17): its code, exit code, category and
  -- problems (a JSON array) beside the message. NULL on runs that did not fail and on rows written before this.
  ALTER TABLE plan_runs ADD COLUMN error_code text;
  ALTER TABLE plan_runs ADD COLUMN error_exit_code integer;
  ALTER TABLE plan_runs ADD COLUMN error_category text;
  ALTER TABLE plan_runs ADD COLUMN error_problems text;
  `,
];

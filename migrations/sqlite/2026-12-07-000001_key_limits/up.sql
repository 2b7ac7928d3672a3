-- What a key may spend, how fast and for how long (issue 16). The users columns hold the values
-- that apply, whether the user set them or inherits them from its organization: lists sort and
-- filter on them directly. `limits_own` names the fields the user set itself (comma-separated
-- `LimitField` names); every other field follows the organization's default.
ALTER TABLE users ADD COLUMN max_budget REAL;
ALTER TABLE users ADD COLUMN budget_period TEXT;
ALTER TABLE users ADD COLUMN tpm_limit BIGINT;
ALTER TABLE users ADD COLUMN rpm_limit BIGINT;
ALTER TABLE users ADD COLUMN expires_at TIMESTAMP;
ALTER TABLE users ADD COLUMN rotation_days BIGINT;
ALTER TABLE users ADD COLUMN limits_own TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN suspended_at TIMESTAMP;
ALTER TABLE users ADD COLUMN suspended_by TEXT;
ALTER TABLE users ADD COLUMN suspended_reason TEXT;
ALTER TABLE users ADD COLUMN rotated_at TIMESTAMP;
-- A rotated key keeps working for a grace period once its replacement is live: its hash and
-- the end of its grace (its deletion is queued for then), and the grace the rotation asked for.
ALTER TABLE users ADD COLUMN retiring_key_hash TEXT;
ALTER TABLE users ADD COLUMN retiring_until TIMESTAMP;
ALTER TABLE users ADD COLUMN rotation_grace_secs BIGINT;
-- The limits and block LiteLLM last confirmed for the current key (JSON), so a limits change of a
-- confirmed key goes out in one `/key/update`, like a models change.
ALTER TABLE users ADD COLUMN synced_limits TEXT;
-- Spend in the current budget period, as last read from LiteLLM, and when.
ALTER TABLE users ADD COLUMN spend REAL;
ALTER TABLE users ADD COLUMN spend_read_at TIMESTAMP;

-- Lists sort by limits with "none" after every value (never-read spend first): the same
-- expressions as the queries (mama-core/src/db/users/paging.rs, `sort_key`), so a page reads
-- its rows in order from the index.
CREATE INDEX users_max_budget_sort ON users (COALESCE(max_budget, 1e300), id);
CREATE INDEX users_spend_sort ON users (COALESCE(spend, -1), id);
CREATE INDEX users_tpm_limit_sort ON users (COALESCE(tpm_limit, 9223372036854775807), id);
CREATE INDEX users_rpm_limit_sort ON users (COALESCE(rpm_limit, 9223372036854775807), id);
CREATE INDEX users_expires_at_sort ON users (COALESCE(expires_at, '9999-12-31 23:59:59'), id);

-- Default limits of an organization, inherited by its users' fields they did not set.
CREATE TABLE organizations (
    name TEXT PRIMARY KEY NOT NULL,
    max_budget REAL,
    budget_period TEXT,
    tpm_limit BIGINT,
    rpm_limit BIGINT,
    expires_at TIMESTAMP,
    rotation_days BIGINT,
    updated_at TIMESTAMP NOT NULL
);

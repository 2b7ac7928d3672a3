-- Usage and spend collected from LiteLLM's /user/daily/activity (issue 17).

-- Every key mama minted, by its SHA-256 hash, with its user and when it was in use: usage of a
-- key rotated or deleted since still counts for its user. Rows outlive the user (history).
CREATE TABLE key_hashes (
    key_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    minted_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP
);
CREATE INDEX key_hashes_user ON key_hashes (user_id);

-- Keys mama holds today; the hashes of older ones are lost.
INSERT INTO key_hashes (key_hash, user_id, minted_at)
    SELECT key_hash, id, COALESCE(rotated_at, created_at) FROM users WHERE key_hash IS NOT NULL;
INSERT INTO key_hashes (key_hash, user_id, minted_at)
    SELECT prev_key_hash, id, created_at FROM users
    WHERE prev_key_hash IS NOT NULL AND prev_key_hash NOT IN (SELECT key_hash FROM key_hashes);
INSERT INTO key_hashes (key_hash, user_id, minted_at)
    SELECT retiring_key_hash, id, created_at FROM users
    WHERE retiring_key_hash IS NOT NULL AND retiring_key_hash NOT IN (SELECT key_hash FROM key_hashes);

-- Usage per UTC day × user × model (LiteLLM's model group, as the key asked for it), summed over
-- the user's keys. `organization` is the user's organization when the day was collected.
-- Re-reading a day replaces its rows in one transaction.
-- Text columns are COLLATE "C" like `users.id`: a join or correlated subquery on
-- `users.id = user_id` can use the indexes only when both sides share a collation, and ids sort
-- bytewise as on SQLite.
CREATE TABLE usage_daily (
    day DATE NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    model TEXT COLLATE "C" NOT NULL,
    organization TEXT COLLATE "C" NOT NULL,
    spend DOUBLE PRECISION NOT NULL,
    successful_requests BIGINT NOT NULL,
    failed_requests BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    PRIMARY KEY (day, user_id, model)
);
CREATE INDEX usage_daily_user ON usage_daily (user_id, day);
CREATE INDEX usage_daily_organization ON usage_daily (organization, day);
CREATE INDEX usage_daily_model ON usage_daily (model, day);

-- usage_daily summed over users, per day × organization × model: what usage.query reads when
-- no grouping or filter names a user (the chart of everything, rankings of organizations and
-- models), a few thousand rows for 90 days instead of millions. Rewritten with the days it
-- sums, in the same transaction.
CREATE TABLE usage_daily_org (
    day DATE NOT NULL,
    organization TEXT COLLATE "C" NOT NULL,
    model TEXT COLLATE "C" NOT NULL,
    spend DOUBLE PRECISION NOT NULL,
    successful_requests BIGINT NOT NULL,
    failed_requests BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    PRIMARY KEY (day, organization, model)
);

-- Usage per day × model by keys in LiteLLM that mama never minted: counted apart, never
-- attributed to a user.
CREATE TABLE usage_other (
    day DATE NOT NULL,
    model TEXT COLLATE "C" NOT NULL,
    spend DOUBLE PRECISION NOT NULL,
    successful_requests BIGINT NOT NULL,
    failed_requests BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    PRIMARY KEY (day, model)
);

-- The collector's progress (one row): days up to `final_through` are complete and never read
-- again; the backfill's progress while it runs; the last failure, cleared by a success.
CREATE TABLE usage_collector (
    id INTEGER PRIMARY KEY NOT NULL,
    as_of TIMESTAMP,
    final_through DATE,
    backfill_days_done INTEGER NOT NULL DEFAULT 0,
    backfill_days INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
INSERT INTO usage_collector (id) VALUES (1);

-- Each user's usage of the last 30 days (today included) and the start of the last day it made
-- a request, rewritten by every collection, so the users list sorts by them from an index.
ALTER TABLE users ADD COLUMN usage_spend_30d DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN usage_requests_30d BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN last_used TIMESTAMP;
CREATE INDEX users_spend_30d_sort ON users (usage_spend_30d, id);
CREATE INDEX users_requests_30d_sort ON users (usage_requests_30d, id);
CREATE INDEX users_last_used_sort ON users (COALESCE(last_used, '0001-01-01 00:00:00'), id);

-- Users ranked over each preset range of usage.query (today, 7d, 30d, 90d, this_month,
-- last_month), recomputed after every collection: the TUI's first screen (top users of the
-- last 30 days) reads the first rows of an index instead of summing millions of rows. A
-- recomputation writes a new generation, then `usage_collector.ranked_generation` switches to
-- it and the old one is deleted, so a reader sees one complete ranking; `ranked_for` is the
-- UTC day the ranges were computed for (on another day they are not used).
CREATE TABLE usage_ranked (
    generation BIGINT NOT NULL,
    span TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    organization TEXT COLLATE "C" NOT NULL,
    spend DOUBLE PRECISION NOT NULL,
    successful_requests BIGINT NOT NULL,
    failed_requests BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (generation, span, user_id)
);
CREATE INDEX usage_ranked_spend ON usage_ranked (generation, span, spend, user_id);
CREATE INDEX usage_ranked_requests ON usage_ranked (generation, span, requests, user_id);
CREATE INDEX usage_ranked_tokens ON usage_ranked (generation, span, total_tokens, user_id);
-- The top users of some organizations: the matching organizations' rows, from this index.
CREATE INDEX usage_ranked_organization ON usage_ranked (generation, span, organization, spend);
-- Each ranking summed per organization (users counted, usage summed), from the same
-- generation: the count and the totals of the top-users screen come from a few hundred rows
-- instead of one per user.
CREATE TABLE usage_ranked_orgs (
    generation BIGINT NOT NULL,
    span TEXT COLLATE "C" NOT NULL,
    organization TEXT COLLATE "C" NOT NULL,
    users BIGINT NOT NULL,
    spend DOUBLE PRECISION NOT NULL,
    successful_requests BIGINT NOT NULL,
    failed_requests BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    PRIMARY KEY (generation, span, organization)
);
ALTER TABLE usage_collector ADD COLUMN ranked_generation BIGINT;
ALTER TABLE usage_collector ADD COLUMN ranked_for DATE;

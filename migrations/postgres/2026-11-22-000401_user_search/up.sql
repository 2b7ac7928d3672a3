-- A trigram index for the users table's substring filters (text and org: terms), so a filter
-- keystroke reads the matching users instead of scanning every row (issue 4's 50 ms goal).
-- The SQLite tree has a migration of the same name (FTS5).
--
-- The query stays `search_id LIKE '%term%'`: with pg_trgm's GIN indexes the planner answers it
-- from the index, without them it scans, with the same results either way. pg_trgm ships with
-- PostgreSQL (contrib) and is a trusted extension since PostgreSQL 13, so a database owner
-- without superuser may create it. Where it is missing or not allowed the migration still
-- succeeds, without the indexes (a notice says so); to add them later, run
-- `CREATE EXTENSION pg_trgm` and the two CREATE INDEX statements below by hand.

DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm is unavailable (%); substring filters will scan users', SQLERRM;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX users_search_id_trgm ON users USING gin (search_id gin_trgm_ops)';
        EXECUTE 'CREATE INDEX users_search_org_trgm ON users USING gin (search_org gin_trgm_ops)';
    END IF;
END
$$;

-- Terms too short for trigrams (one or two characters) scan: this narrow index holds just the
-- two searched columns, so an index-only scan reads a sixth of what a scan of users does.
CREATE INDEX users_search_scan ON users (search_id, search_org);

-- The set tables' user_id had the database's default collation while users.id is "C": a join
-- between them could not use the set tables' primary keys (each "does user X hold model Y" became
-- a hash join over every holder: 235 ms for `model:llama3` sorted by organization, 2 ms after).
ALTER TABLE user_models ALTER COLUMN user_id TYPE TEXT COLLATE "C";
ALTER TABLE user_services ALTER COLUMN user_id TYPE TEXT COLLATE "C";
ALTER TABLE user_info ALTER COLUMN user_id TYPE TEXT COLLATE "C";

-- Every users.list shows the total, and COUNT(*) reads all 100,000 index entries on PostgreSQL
-- (20 to 40 ms). The count is kept in one row instead, changed once per statement (transition
-- tables), so a bulk insert of thousands of users updates it once. Writers to users are already
-- serialized (advisory lock), so the row adds no contention.
CREATE TABLE user_count (
    id  INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    n   BIGINT NOT NULL
);
INSERT INTO user_count (id, n) SELECT 1, count(*) FROM users;

CREATE FUNCTION user_count_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_count SET n = n + (SELECT count(*) FROM added) WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE FUNCTION user_count_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_count SET n = n - (SELECT count(*) FROM removed) WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE FUNCTION user_count_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE user_count SET n = 0 WHERE id = 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_count_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION user_count_added();
CREATE TRIGGER users_count_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION user_count_removed();
CREATE TRIGGER users_count_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION user_count_truncated();

DROP TRIGGER IF EXISTS users_count_truncate ON users;
DROP TRIGGER IF EXISTS users_count_delete ON users;
DROP TRIGGER IF EXISTS users_count_insert ON users;
DROP FUNCTION IF EXISTS user_count_truncated();
DROP FUNCTION IF EXISTS user_count_removed();
DROP FUNCTION IF EXISTS user_count_added();
DROP TABLE IF EXISTS user_count;

ALTER TABLE user_info ALTER COLUMN user_id TYPE TEXT COLLATE "default";
ALTER TABLE user_services ALTER COLUMN user_id TYPE TEXT COLLATE "default";
ALTER TABLE user_models ALTER COLUMN user_id TYPE TEXT COLLATE "default";

DROP INDEX IF EXISTS users_search_scan;

-- The extension stays: other objects of the database may use it.
DROP INDEX IF EXISTS users_search_org_trgm;
DROP INDEX IF EXISTS users_search_id_trgm;

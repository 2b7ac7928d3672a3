DROP TRIGGER IF EXISTS user_search_fts_delete;
DROP TRIGGER IF EXISTS user_search_fts_update;
DROP TRIGGER IF EXISTS user_search_fts_insert;
DROP TRIGGER IF EXISTS users_search_delete;
DROP TRIGGER IF EXISTS users_search_update;
DROP TRIGGER IF EXISTS users_search_insert;
DROP TABLE IF EXISTS user_search_fts;
DROP TABLE IF EXISTS user_search;

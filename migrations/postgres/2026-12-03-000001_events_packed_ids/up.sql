-- Kept NULL on PostgreSQL: it compresses long values itself (lz4, see 2026-11-22-000601), and
-- `events.list` filters the JSON in `user_ids` by user with LIKE. The column exists so both
-- databases have one schema (SQLite stores long id lists compressed here).
ALTER TABLE events ADD COLUMN user_ids_packed BYTEA;

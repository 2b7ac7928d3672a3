-- Issue 18: deleted users wait in the trash (default 7 days, `--trash-days`) before they and
-- their LiteLLM keys are deleted for good; meanwhile their keys are blocked in LiteLLM and
-- `users.restore` brings them back with the same key. A trashed user's row moves here whole
-- (every column of `users`, copied by `db::trash`), so nothing that reads `users` sees it.
-- A migration adding a column to `users` adds it here too (and to `db::trash::COLUMNS`).
CREATE TABLE users_trash (LIKE users INCLUDING DEFAULTS);
ALTER TABLE users_trash ADD PRIMARY KEY (id);
ALTER TABLE users_trash ADD COLUMN deleted_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
ALTER TABLE users_trash ADD COLUMN deleted_by TEXT NOT NULL DEFAULT '';
ALTER TABLE users_trash ADD COLUMN purge_after TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
CREATE INDEX users_trash_purge_after ON users_trash (purge_after);
CREATE INDEX users_trash_organization ON users_trash (organization, id);

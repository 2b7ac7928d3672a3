ALTER TABLE events DROP COLUMN user_ids_packed;

DROP INDEX users_status_sort;
ALTER TABLE users DROP COLUMN expiry_seen;

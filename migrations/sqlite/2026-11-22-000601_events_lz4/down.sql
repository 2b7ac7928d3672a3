-- PostgreSQL only (lz4 compression of event ids); SQLite does not compress rows. Kept so both
-- databases list the same migrations.
SELECT 1;

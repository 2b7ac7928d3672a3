-- Lists sort by status (issue 16): suspended, expired, over budget, failed, pending, active, no
-- key; the first that applies, as `UserStatus` orders them. Expiry depends on the clock, which an
-- index cannot read, so `expiry_seen` holds the `expires_at` the daemon last saw pass (a task
-- marks passed expiries every minute); a changed `expires_at` no longer equals it and the user
-- is no longer expired. The same expression is the sort key (mama-core/src/db/users/paging.rs,
-- `sort_key::STATUS`), so a page reads its rows in order from the index.
ALTER TABLE users ADD COLUMN expiry_seen TIMESTAMP;
UPDATE users SET expiry_seen = expires_at WHERE expires_at <= CURRENT_TIMESTAMP;
CREATE INDEX users_status_sort ON users ((CASE WHEN suspended_at IS NOT NULL THEN 0 WHEN expires_at = expiry_seen THEN 1 WHEN spend >= max_budget THEN 2 WHEN key_status = 'failed' THEN 3 WHEN key_status = 'pending' THEN 4 WHEN key_status = 'active' THEN 5 ELSE 6 END), id);

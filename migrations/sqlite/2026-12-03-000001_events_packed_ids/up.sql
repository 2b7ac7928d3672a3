-- An event naming many users (a REST lookup of 100 ids is about 2 KB of JSON) keeps that list
-- lz4-compressed here instead of in `user_ids` (left empty): a lookup's event shrinks from about
-- 2.2 KB to under 1 KB, which is most of what the event log writes and stores. Lists of a few
-- ids stay in `user_ids` as JSON. `events.list` filters by user through the SQL function
-- `mama_packed_ids_contain`, which the daemon registers on every connection.
ALTER TABLE events ADD COLUMN user_ids_packed BLOB;

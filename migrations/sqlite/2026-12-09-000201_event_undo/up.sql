-- Issue 18: what reverses a change event — for each affected user its values before (and its
-- version right after), the users it created or moved to the trash, an organization's defaults
-- before — as lz4-packed JSON, written in the change's transaction. Deleted with its event.
CREATE TABLE event_undo (
    event_id TEXT PRIMARY KEY NOT NULL,
    packed BLOB NOT NULL
);

-- Which encryption key the virtual keys in `users` are encrypted with, as a fingerprint (a MAC
-- of a constant keyed with the key: it names the key without revealing it). A daemon given
-- another key, or none, refuses to start instead of serving unreadable keys and encrypting new
-- ones under a second key. While `mama-daemon rotate-encryption-key` runs, `rotating_to` names
-- the new key: rows are then under one key or the other until it finishes.
CREATE TABLE key_check (
    id                   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    fingerprint          TEXT NOT NULL,
    recorded_at          TIMESTAMP NOT NULL,
    rotating_to          TEXT,
    rotation_started_at  TIMESTAMP
);

-- One row counting committed write transactions (event appends excepted). Every daemon sharing
-- the database bumps it in the same transaction as its change, so a cache of rows read at
-- version N is current for exactly as long as the version is still N.
CREATE TABLE data_version (
    id       INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    version  BIGINT NOT NULL
);
INSERT INTO data_version (id, version) VALUES (1, 0);

-- mama's initial schema (PostgreSQL). The SQLite tree has a migration of the same name.
-- Sets are stored twice on purpose: as canonical JSON on the user row (display, sort, one read
-- per page) and as one row per member (indexed "which users have model X" queries).

CREATE TABLE users (
    id              TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    organization    TEXT COLLATE "C" NOT NULL DEFAULT '',
    models          TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    services        TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    info            TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    search_id       TEXT NOT NULL DEFAULT '',
    search_org      TEXT NOT NULL DEFAULT '',
    version         BIGINT NOT NULL DEFAULT 1,
    key_ciphertext  BYTEA,
    key_hash        TEXT,
    key_hint        TEXT,
    key_status      TEXT NOT NULL DEFAULT 'none',
    key_error       TEXT,
    synced_models   TEXT,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX users_organization ON users (organization, id);
CREATE INDEX users_key_status ON users (key_status, id);
CREATE INDEX users_updated_at ON users (updated_at, id);
CREATE INDEX users_models_sort ON users (models, id);
CREATE INDEX users_services_sort ON users (services, id);

CREATE TABLE user_models (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    model   TEXT NOT NULL,
    PRIMARY KEY (user_id, model)
);
CREATE INDEX user_models_by_model ON user_models (model, user_id);

CREATE TABLE user_services (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    PRIMARY KEY (user_id, service)
);
CREATE INDEX user_services_by_service ON user_services (service, user_id);

CREATE TABLE user_info (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);
CREATE INDEX user_info_by_key ON user_info (key, user_id);

CREATE TABLE admins (
    username              TEXT PRIMARY KEY NOT NULL,
    role                  TEXT NOT NULL,
    password_hash         TEXT NOT NULL,
    must_change_password  BOOLEAN NOT NULL,
    security_stamp        TEXT NOT NULL,
    created_at            TIMESTAMP NOT NULL,
    password_changed_at   TIMESTAMP NOT NULL
);

CREATE TABLE revoked_sessions (
    jti         TEXT PRIMARY KEY NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);

CREATE TABLE login_failures (
    id        BIGSERIAL PRIMARY KEY,
    username  TEXT NOT NULL,
    client    TEXT NOT NULL,
    at        TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_username ON login_failures (username, at);
CREATE INDEX login_failures_client ON login_failures (client, at);

CREATE TABLE services (
    name        TEXT PRIMARY KEY NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE service_tokens (
    id            TEXT PRIMARY KEY NOT NULL,
    service       TEXT NOT NULL REFERENCES services (name) ON DELETE CASCADE,
    token_hash    TEXT NOT NULL UNIQUE,
    hint          TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    revoked_at    TIMESTAMP
);
CREATE INDEX service_tokens_service ON service_tokens (service);

-- Append-only audit log. Ids are time-ordered UUIDs made by the daemon, so batches of events
-- need no RETURNING and sort by time.
CREATE TABLE events (
    id             TEXT PRIMARY KEY NOT NULL,
    at             TIMESTAMP NOT NULL,
    actor_kind     TEXT NOT NULL,
    actor          TEXT NOT NULL,
    channel        TEXT NOT NULL,
    action         TEXT NOT NULL,
    user_ids       TEXT NOT NULL DEFAULT '[]',
    target_count   BIGINT NOT NULL,
    target_filter  TEXT,
    result         TEXT NOT NULL,
    error_code     TEXT,
    error_message  TEXT,
    client         TEXT,
    request_id     TEXT,
    duration_ms    BIGINT,
    detail         TEXT
);
CREATE INDEX events_at ON events (at);
CREATE INDEX events_actor ON events (actor, at);
CREATE INDEX events_action ON events (action, at);

CREATE TABLE event_users (
    event_id  TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
CREATE INDEX event_users_by_user ON event_users (user_id, event_id);

-- LiteLLM operations implied by committed changes; applied by the sync worker.
CREATE TABLE outbox (
    id             BIGSERIAL PRIMARY KEY,
    user_id        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    key_hash       TEXT,
    created_at     TIMESTAMP NOT NULL,
    available_at   TIMESTAMP NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    claimed_by     TEXT,
    claimed_until  TIMESTAMP,
    last_error     TEXT
);
CREATE INDEX outbox_available ON outbox (available_at, id);
CREATE INDEX outbox_user ON outbox (user_id);

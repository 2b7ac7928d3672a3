-- A trigram index for the users table's substring filters (text and org: terms), so a filter
-- keystroke reads the matching users instead of scanning every row (issue 4's 50 ms goal).
-- The PostgreSQL tree has a migration of the same name (pg_trgm).
--
-- FTS5 needs an integer rowid that never changes, and `users` has a TEXT primary key whose
-- implicit rowid VACUUM (and VACUUM INTO, our backup) may renumber. So `user_search` maps a
-- stable INTEGER PRIMARY KEY to each user and holds the lowercased search columns; the FTS5
-- table indexes it as external content. Triggers keep both in step with `users`, whatever code
-- path writes it. `user_search` is also narrow, so terms too short for trigrams (1 or 2
-- characters) scan it instead of the wide `users` rows.

CREATE TABLE user_search (
    rid         INTEGER PRIMARY KEY,
    user_id     TEXT NOT NULL UNIQUE,
    search_id   TEXT NOT NULL,
    search_org  TEXT NOT NULL
);

-- The search columns are already lowercased by the daemon, so the index is case-sensitive on
-- them and the daemon lowercases terms the same way.
CREATE VIRTUAL TABLE user_search_fts USING fts5(
    search_id,
    search_org,
    content = 'user_search',
    content_rowid = 'rid',
    tokenize = 'trigram case_sensitive 1'
);

INSERT INTO user_search (user_id, search_id, search_org)
    SELECT id, search_id, search_org FROM users ORDER BY id;
INSERT INTO user_search_fts (user_search_fts) VALUES ('rebuild');

CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO user_search (user_id, search_id, search_org)
        VALUES (new.id, new.search_id, new.search_org);
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF id, search_id, search_org ON users BEGIN
    UPDATE user_search
        SET user_id = new.id, search_id = new.search_id, search_org = new.search_org
        WHERE user_id = old.id;
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    DELETE FROM user_search WHERE user_id = old.id;
END;

CREATE TRIGGER user_search_fts_insert AFTER INSERT ON user_search BEGIN
    INSERT INTO user_search_fts (rowid, search_id, search_org)
        VALUES (new.rid, new.search_id, new.search_org);
END;
CREATE TRIGGER user_search_fts_update AFTER UPDATE ON user_search BEGIN
    INSERT INTO user_search_fts (user_search_fts, rowid, search_id, search_org)
        VALUES ('delete', old.rid, old.search_id, old.search_org);
    INSERT INTO user_search_fts (rowid, search_id, search_org)
        VALUES (new.rid, new.search_id, new.search_org);
END;
CREATE TRIGGER user_search_fts_delete AFTER DELETE ON user_search BEGIN
    INSERT INTO user_search_fts (user_search_fts, rowid, search_id, search_org)
        VALUES ('delete', old.rid, old.search_id, old.search_org);
END;

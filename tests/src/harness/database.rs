//! One database per test: a SQLite file in a temp dir, or a new PostgreSQL database that is
//! dropped afterwards. `MAMA_TEST_DATABASE=postgres` selects PostgreSQL, `MAMA_TEST_PG` its
//! server (default `postgres://postgres@127.0.0.1:5432`).

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

pub fn kind() -> Kind {
    match std::env::var("MAMA_TEST_DATABASE").as_deref() {
        Ok("postgres") | Ok("postgresql") | Ok("pg") => Kind::Postgres,
        _ => Kind::Sqlite,
    }
}

fn pg_server() -> String {
    std::env::var("MAMA_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database that exists for the life of this value.
pub struct TestDatabase {
    pub kind: Kind,
    /// What to pass as `--database-url`.
    pub url: String,
    pg_name: Option<String>,
}

impl TestDatabase {
    /// A new empty database. For SQLite the file lives in `dir`.
    pub fn create(dir: &Path) -> TestDatabase {
        match kind() {
            Kind::Sqlite => TestDatabase {
                kind: Kind::Sqlite,
                url: dir.join("mama.db").to_string_lossy().into_owned(),
                pg_name: None,
            },
            Kind::Postgres => {
                let name = format!("mama_test_{}", uuid::Uuid::new_v4().simple());
                let status = Command::new("createdb")
                    .args(["--maintenance-db", &pg_server(), &name])
                    .status()
                    .expect("createdb runs");
                assert!(
                    status.success(),
                    "createdb {name} failed: is PostgreSQL up at {}?",
                    pg_server()
                );
                TestDatabase {
                    kind: Kind::Postgres,
                    url: format!("{}/{name}", pg_server()),
                    pg_name: Some(name),
                }
            }
        }
    }

    /// Runs SQL directly against the database (to break it on purpose in a test).
    pub fn execute(&self, sql: &str) {
        let output = match self.kind {
            Kind::Sqlite => Command::new("python3")
                .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()", &self.url, sql])
                .output(),
            Kind::Postgres => Command::new("psql").args([&self.url, "-v", "ON_ERROR_STOP=1", "-qc", sql]).output(),
        }
        .expect("database shell runs");
        assert!(
            output.status.success(),
            "SQL failed: {sql}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Makes every event insert fail at the database (a trigger), as a full or broken event log
    /// would; [`TestDatabase::allow_events`] undoes it.
    pub fn refuse_events(&self) {
        match self.kind {
            Kind::Sqlite => self.execute(
                "CREATE TRIGGER refuse_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'events refused by test'); END;",
            ),
            Kind::Postgres => self.execute(
                "CREATE FUNCTION refuse_events() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'events refused by test'; END $$ LANGUAGE plpgsql;
                 CREATE TRIGGER refuse_events BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_events();",
            ),
        }
    }

    /// Lets events be stored again after [`TestDatabase::refuse_events`].
    pub fn allow_events(&self) {
        match self.kind {
            Kind::Sqlite => self.execute("DROP TRIGGER refuse_events;"),
            Kind::Postgres => {
                self.execute("DROP TRIGGER refuse_events ON events; DROP FUNCTION refuse_events();")
            }
        }
    }

    /// Runs a query and returns its first column as text, one row per line.
    pub fn query(&self, sql: &str) -> String {
        let output = match self.kind {
            Kind::Sqlite => Command::new("python3")
                .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print('\\n'.join(str(r[0]) for r in c.execute(sys.argv[2])))", &self.url, sql])
                .output(),
            Kind::Postgres => Command::new("psql").args([&self.url, "-qAtc", sql]).output(),
        }
        .expect("database shell runs");
        assert!(
            output.status.success(),
            "SQL failed: {sql}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// An empty value that owns nothing (used when a database is handed on).
    pub fn placeholder() -> TestDatabase {
        TestDatabase {
            kind: kind(),
            url: String::new(),
            pg_name: None,
        }
    }

    /// The same database for a second daemon: this copy does not drop it.
    pub fn shared(&self) -> TestDatabase {
        TestDatabase {
            kind: self.kind,
            url: self.url.clone(),
            pg_name: None,
        }
    }

    /// The SQLite file, if this is SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        (self.kind == Kind::Sqlite).then(|| PathBuf::from(&self.url))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            let _ = Command::new("dropdb")
                .args(["--maintenance-db", &pg_server(), "--force", name])
                .status();
        }
    }
}

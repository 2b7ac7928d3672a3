//! What each binary is allowed to compile, checked on the resolved dependency graph (`cargo tree`),
//! so "the TUI never touches the database" holds by the compiler, not by discipline.

use std::process::Command;

/// The crates of a database, its drivers, password hashing and an HTTP client library.
const SERVER_ONLY: &[&str] = &[
    "diesel",
    "diesel_migrations",
    "libsqlite3-sys",
    "pq-sys",
    "pq-src",
    "openssl-sys",
    "argon2",
    "reqwest",
    "mama-core",
];

/// The crate names in the normal and build dependency tree of `package` (dev-dependencies are
/// not part of what ships).
fn dependencies_of(package: &str) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--locked",
            "--offline",
            "-p",
            package,
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn the_tui_compiles_no_database_driver_nor_http_client_library() {
    let deps = dependencies_of("mama-tui");
    assert!(deps.iter().any(|d| d == "mama-api"), "{deps:?}");
    let found: Vec<&String> = deps
        .iter()
        .filter(|d| SERVER_ONLY.contains(&d.as_str()))
        .collect();
    assert!(
        found.is_empty(),
        "mama-tui must depend on mama-api only, but its tree holds {found:?}"
    );
}

#[test]
fn the_contract_crate_is_plain_data() {
    let deps = dependencies_of("mama-api");
    for forbidden in SERVER_ONLY.iter().chain(&["tokio", "hyper", "axum"]) {
        assert!(
            !deps.iter().any(|d| d == forbidden),
            "mama-api must do no I/O, but depends on {forbidden}: {deps:?}"
        );
    }
}

#[test]
fn the_daemon_links_no_system_libpq() {
    // pq-sys is built with its `bundled` feature: libpq (and OpenSSL) from source, linked
    // statically, so a machine without PostgreSQL's client library builds mama.
    let deps = dependencies_of("mama-daemon");
    for needed in ["pq-src", "openssl-src"] {
        assert!(
            deps.iter().any(|d| d == needed),
            "mama-daemon should build {needed} from source: {deps:?}"
        );
    }
}

//! The command line as an operator first meets it: `--help` explains every option with its
//! `MAMA_*` variable, and a mistyped flag is refused with a pointer to `--help`.
//!
//! Being an integration test of this package, it also makes `cargo test --workspace` build the
//! `mama-daemon` binary, which the end-to-end tests in `tests/` start.

use std::process::Command;

fn daemon(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mama-daemon"))
        .args(args)
        .env_remove("MAMA_CONFIG")
        .output()
        .expect("mama-daemon runs")
}

#[test]
fn help_explains_every_option_with_its_environment_variable() {
    let out = daemon(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for (flag, env) in [
        ("--config", "MAMA_CONFIG"),
        ("--data-dir", "MAMA_DATA_DIR"),
        ("--database-url", "MAMA_DATABASE_URL"),
        ("--listen", "MAMA_LISTEN"),
        ("--admin-socket", "MAMA_ADMIN_SOCKET"),
        ("--admin-listen", "MAMA_ADMIN_LISTEN"),
        ("--litellm-url", "MAMA_LITELLM_URL"),
        ("--litellm-master-key-file", "MAMA_LITELLM_MASTER_KEY_FILE"),
        ("--encryption-key-file", "MAMA_ENCRYPTION_KEY_FILE"),
        ("--jwt-key-file", "MAMA_JWT_KEY_FILE"),
        ("--log", "MAMA_LOG"),
        ("--log-format", "MAMA_LOG_FORMAT"),
        ("--session-minutes", "MAMA_SESSION_MINUTES"),
    ] {
        assert!(help.contains(flag), "{flag} missing from --help");
        assert!(help.contains(env), "{env} missing from --help");
    }
    for command in [
        "serve",
        "migrate",
        "check-config",
        "backup",
        "rotate-encryption-key",
    ] {
        assert!(help.contains(command), "{command} missing from --help");
    }
}

#[test]
fn rotate_encryption_key_help_names_its_options_and_the_runbook() {
    let out = daemon(&["rotate-encryption-key", "--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--new-key-file",
        "--batch-size",
        "--encryption-key-file",
        "Stop every daemon",
        "Rotating the encryption key",
    ] {
        assert!(help.contains(needle), "{needle} missing from --help");
    }
    // The new key file is required; a batch size of 0 is refused.
    let missing = daemon(&["rotate-encryption-key"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--new-key-file"));
    let zero = daemon(&[
        "rotate-encryption-key",
        "--new-key-file",
        "/nonexistent",
        "--batch-size",
        "0",
    ]);
    assert_eq!(zero.status.code(), Some(2));
}

#[test]
fn a_mistyped_flag_is_refused_with_a_pointer_to_help() {
    let out = daemon(&["--listn", "127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--listn"), "{err}");
    assert!(err.contains("--help"), "{err}");
}

#[test]
fn a_log_format_or_session_length_out_of_range_is_refused() {
    let format = daemon(&["check-config", "--log-format", "xml"]);
    assert_eq!(format.status.code(), Some(2));
    let err = String::from_utf8_lossy(&format.stderr);
    assert!(err.contains("text") && err.contains("json"), "{err}");
    for minutes in ["0", "1441"] {
        let out = daemon(&["check-config", "--session-minutes", minutes]);
        assert_eq!(out.status.code(), Some(1), "{minutes}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--session-minutes must be from 1 to 1440"),
            "{err}"
        );
    }
}

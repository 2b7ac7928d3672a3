//! Property-based fuzzing of the config file: whatever TOML (or garbage) an operator writes,
//! resolving the settings never panics; it either refuses with a message, or gives settings
//! within their documented bounds.

use std::path::PathBuf;

use mama_daemon::config::Opts;
use proptest::prelude::*;

/// Every key the file may hold, plus near misses.
const KEYS: &[&str] = &[
    "data_dir",
    "database_url",
    "listen",
    "admin_socket",
    "admin_listen",
    "litellm_url",
    "litellm_master_key_file",
    "encryption_key_file",
    "jwt_key_file",
    "log",
    "litellm_timeout_secs",
    "sync_concurrency",
    "sync_max_backoff_secs",
    "alias_prefix",
    "litellm_team",
    "litellm_team_models",
    "reconcile_interval_secs",
    "orphan_min_age_secs",
    "events_retention_days",
    "Listen",
    "events-retention-days",
    "bootstrap_password",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>().prop_map(|s| format!("{s:?}")),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u32>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        // Magnitudes across the whole range, written as TOML floats: huge, tiny, negative.
        (-320i32..320, any::<bool>())
            .prop_map(|(e, neg)| format!("{}1.5e{e}", if neg { "-" } else { "" })),
        Just("nan".to_string()),
        Just("-inf".to_string()),
        Just("1e309".to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        prop::collection::vec("[a-z0-9-]{0,12}", 0..4).prop_map(|v| format!("{v:?}")),
        Just("[\"mama-no-models\"]".to_string()),
        Just("[\"all-team-models\"]".to_string()),
        Just("{ a = 1 }".to_string()),
        Just("\"127.0.0.1:99999\"".to_string()),
        Just("\"[::1]:0\"".to_string()),
        "[ -~]{0,20}",
    ]
}

fn config_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec((prop::sample::select(KEYS), value()), 0..8).prop_map(|lines| {
            lines
                .into_iter()
                .map(|(k, v)| format!("{k} = {v}\n"))
                .collect::<String>()
        }),
        1 => any::<String>(),
    ]
}

fn resolve(text: &str, dir: &std::path::Path) -> Result<mama_daemon::config::Settings, String> {
    let path: PathBuf = dir.join("mama.toml");
    std::fs::write(&path, text).expect("write the config");
    let opts = Opts {
        config: Some(path),
        data_dir: Some(dir.join("data")),
        ..Default::default()
    };
    opts.resolve().map_err(|e| format!("{e:#}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn any_config_file_is_refused_with_a_reason_or_resolved_within_bounds(text in config_text()) {
        let dir = tempfile::tempdir().expect("temp dir");
        let outcome = std::panic::catch_unwind(|| resolve(&text, dir.path()));
        let Ok(outcome) = outcome else {
            panic!("resolving panicked on:\n{text}");
        };
        match outcome {
            Err(message) => prop_assert!(!message.trim().is_empty()),
            Ok(settings) => {
                let sync = &settings.sync;
                prop_assert!((1..=256).contains(&sync.concurrency));
                prop_assert!(sync.timeout >= std::time::Duration::from_millis(100));
                prop_assert!(sync.reconcile_every >= std::time::Duration::from_secs(1));
                prop_assert!(sync.max_backoff <= std::time::Duration::from_secs(1_000_000_000));
                prop_assert!(!sync.team_models.iter().any(|m| m == "mama-no-models" || m == "all-team-models"));
                prop_assert!(sync.team.is_none() || !sync.team_models.is_empty());
                if let Some(days) = settings.events_retention {
                    prop_assert!(days.num_days() >= 1 && days.num_days() <= 36_500);
                }
            }
        }
    }
}

//! The usage screen of the real `mama-tui` binary, driven in tmux against a real `mama-daemon`
//! synced to the real LiteLLM proxy: a user (Hangul id) makes chat calls with the key mama
//! minted (and one call to a model it may not use), the daemon collects the usage
//! (`usage.refresh`), and `u` on the user's row in the users table opens that user's usage: the
//! screen names the user and shows the same totals `usage.query` answers.
//!
//! Needs the daemon's usage collector and `usage.query`/`usage.refresh`; skipped with a note when
//! tmux or the real proxy (`LITELLM_BASE_URL`, `LITELLM_MASTER_KEY`) is missing. Binaries come
//! from `MAMA_BIN_DIR`, else `<workspace>/target/debug`: run `cargo build --workspace` first.

use std::time::{Duration, Instant};

use mama_tests::harness::daemon::ADMIN_PASSWORD;
use mama_tests::harness::sync::*;
use mama_tests::harness::tmux::{tui_command, Tmux};
use serde_json::{json, Value};

/// LiteLLM writes spend in batches (`PROXY_BATCH_WRITE_AT`, 10–15 s by default).
const USAGE_WAIT: Duration = Duration::from_secs(90);
const USER: &str = "김사용";

/// `1234567` as the TUI writes it: `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// USD as the TUI writes it.
fn usd(value: f64) -> String {
    if value > 0.0 && value < 0.005 {
        "<$0.01".into()
    } else {
        format!("${value:.2}")
    }
}

/// Collects until the user's successful calls are all counted; returns the report's total.
async fn collected_total(rpc: &mut mama_tests::harness::RpcClient, calls: u64) -> Value {
    let started = Instant::now();
    loop {
        let refreshed = rpc.call("usage.refresh", json!({})).await;
        // The daemon's own collection (at start) may still run: a conflict, asked again later.
        assert!(
            refreshed.body.get("error").is_none() || refreshed.code() == "conflict",
            "usage.refresh: {}",
            refreshed.body
        );
        let report = rpc
            .call(
                "usage.query",
                json!({"range": "today", "group": ["model"], "filter": {"user_ids": [USER]}}),
            )
            .await;
        let total = report.ok()["total"].clone();
        if total["successful_requests"].as_u64().unwrap_or(0) >= calls {
            return total;
        }
        assert!(
            started.elapsed() < USAGE_WAIT,
            "the calls were not collected: {}",
            report.body
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[tokio::test]
async fn real_proxy_a_users_usage_opens_from_the_users_table() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping the TUI usage end-to-end test");
        return;
    }
    let Some((url, master)) = real_proxy() else {
        return;
    };
    let key = key_file(&master);
    let prefix = unique_prefix();
    let d = start(&url, &key, &prefix);
    let mut rpc = d.admin().await;
    let ids = vec![USER.to_string()];
    create(&mut rpc, &ids, &["mock-gpt"]).await;
    wait_active(&mut rpc, &ids).await;
    let token = rpc.service_token(SERVICE).await;
    let served = lookup(&d, &token, &ids).await;
    let user_key = served[USER]["key"]
        .as_str()
        .expect("the user's key is served")
        .to_string();

    // Three calls it may make, and one to a model it may not use (failed requests count too).
    for _ in 0..3 {
        assert_eq!(chat_status(&url, &user_key, "mock-gpt").await, 200);
    }
    assert_ne!(
        chat_status(&url, &user_key, "not-a-model-of-hers").await,
        200
    );
    let total = collected_total(&mut rpc, 3).await;
    let requests = total["successful_requests"].as_u64().unwrap_or(0)
        + total["failed_requests"].as_u64().unwrap_or(0);
    let spend = total["spend"].as_f64().unwrap_or(0.0);

    // The TUI: log in (the password was already changed), select the user, press u.
    let tmux = Tmux::start("usage", &tui_command(&d));
    tmux.wait_for("mama · log in").await;
    tmux.text(ADMIN_PASSWORD);
    tmux.keys(&["Enter"]);
    tmux.wait_for(USER).await;
    tmux.keys(&["u"]);
    let screen = tmux.wait_for(&format!("user {USER}")).await;
    assert!(screen.contains("mama ▸ Usage"), "{screen}");
    // The range is the last 30 days: today's calls are all of them.
    let totals = format!("total {} · {} requests", usd(spend), thousands(requests));
    let screen = tmux.wait_for(&totals).await;
    assert!(
        screen.contains("mock-gpt"),
        "the user's model is ranked:\n{screen}"
    );
    assert!(
        screen.contains("/user:김사용"),
        "the filter says whose:\n{screen}"
    );
    assert!(
        screen.contains("as of") || screen.contains("collecting…"),
        "how fresh the numbers are:\n{screen}"
    );
}

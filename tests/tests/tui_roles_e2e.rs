//! A viewer in the real `mama-tui`, driven in tmux against a real `mama-daemon` (issue 18,
//! roles): the super admin creates a viewer limited to two organizations and two users through
//! the RPC; the viewer logs in to the TUI, changes the first password, and then sees its role
//! and scope in the status line, no change offered in the hint bar, a refusal with the daemon's
//! reason (and nothing created) when it presses `c` anyway, and a user's details with the key
//! masked and said to be hidden.
//!
//! No LiteLLM: the daemon runs without it, as in `tui_e2e` (keys are minted and wait to be
//! synced; the viewer sees their masked hints). Binaries come from
//! `MAMA_BIN_DIR`, else `<workspace>/target/debug`: run `cargo build --workspace` first. Skipped,
//! with a note, when `tmux` is not installed.

use mama_tests::harness::tmux::{tui_command, Tmux};
use mama_tests::harness::{Daemon, RpcClient};
use serde_json::{json, Value};

const FIRST_PASSWORD: &str = "first password for ana 1";
const NEW_PASSWORD: &str = "ana's own password 2026";

async fn total_users(rpc: &mut RpcClient) -> u64 {
    let reply = rpc.call("users.count", json!({"filter": {}})).await;
    reply.ok()["total"].as_u64().expect("a total")
}

/// The bottom line of the screen: the hint bar.
fn hint_bar(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

#[tokio::test]
async fn a_viewer_reads_in_the_tui_and_is_refused_changes() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping the TUI end-to-end test");
        return;
    }
    let daemon = Daemon::start();
    let mut root = daemon.admin().await;
    root.call(
        "users.create",
        json!({"users": [
            {"id": "kim01", "organization": "sales"},
            {"id": "park", "organization": "영업부"},
            {"id": "lee", "organization": "ops"},
        ]}),
    )
    .await
    .ok();
    root.call(
        "admins.create",
        json!({"username": "ana", "password": FIRST_PASSWORD, "role": "viewer",
               "organizations": ["sales", "영업부"]}),
    )
    .await
    .ok();
    assert_eq!(total_users(&mut root).await, 3);

    // Log in as the viewer: the username field is prefilled with "admin", focus on the
    // password; tab goes back to the username.
    let tmux = Tmux::start("roles", &tui_command(&daemon));
    tmux.wait_for("mama · log in").await;
    tmux.keys(&["Tab", "C-u"]);
    tmux.text("ana");
    tmux.keys(&["Tab"]);
    tmux.text(FIRST_PASSWORD);
    tmux.keys(&["Enter"]);

    // The first password must be changed before anything else.
    tmux.wait_for("choose a new password").await;
    tmux.text(FIRST_PASSWORD);
    tmux.keys(&["Tab"]);
    tmux.text(NEW_PASSWORD);
    tmux.keys(&["Tab"]);
    tmux.text(NEW_PASSWORD);
    tmux.keys(&["Enter"]);

    // Only the users of its two organizations, and its role and scope in the status line.
    // The totals can arrive before the rows: wait for both.
    let screen = tmux
        .wait_until("the scoped users listed", |screen| {
            screen.contains("total 2 · matching 2")
                && screen.contains("kim01")
                && !screen.contains("  loading…")
        })
        .await;
    assert!(
        screen.contains("ana (viewer · sales, 영업부)"),
        "role and scope are shown:\n{screen}"
    );
    assert!(
        screen.contains("kim01") && screen.contains("park") && !screen.contains(" lee "),
        "{screen}"
    );
    let hints = hint_bar(&screen);
    assert!(hints.contains("? help"), "{hints}");
    for word in ["create", "bulk", "delete"] {
        assert!(
            !hints.contains(word),
            "{word:?} is offered to a viewer: {hints}"
        );
    }

    // `c` anyway: the daemon's reason, no dialog, no user created.
    tmux.keys(&["c"]);
    let screen = tmux
        .wait_for("a viewer may read but not change anything")
        .await;
    assert!(
        !screen.contains("create users"),
        "no dialog opens:\n{screen}"
    );
    assert_eq!(
        total_users(&mut root).await,
        3,
        "pressing c created nothing"
    );

    // A user's details: read only, the key masked (its hint) and said to be hidden, its value
    // on no screen and in no answer the viewer gets.
    let as_root = root.call("users.get", json!({"ids": ["kim01"]})).await;
    let kim = as_root.ok()["users"][0].clone();
    let hint = kim["key_hint"].as_str().expect("a key hint").to_string();
    let key = kim["key"]
        .as_str()
        .expect("the super admin gets the key")
        .to_string();
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("key hidden (viewer)").await;
    assert!(screen.contains("read only"), "{screen}");
    let key_line = screen
        .lines()
        .find(|l| l.contains("key hidden (viewer)"))
        .unwrap_or_default();
    assert!(key_line.contains(&hint), "the masked key: {key_line}");
    assert!(!screen.contains(&key), "the key is on screen:\n{screen}");
    let mut viewer = daemon.rpc();
    viewer.login("ana", NEW_PASSWORD).await;
    let found = viewer.call("users.get", json!({"ids": ["kim01"]})).await;
    let user: &Value = &found.ok()["users"][0];
    assert_eq!(user["key_hint"], json!(hint));
    assert!(
        user["key"].is_null(),
        "users.get never answers a viewer a key: {user}"
    );

    // Saving from the details is refused too, and changes nothing.
    tmux.text("x");
    tmux.keys(&["C-s"]);
    tmux.wait_until("the reason in the dialog", |s| {
        s.lines()
            .filter(|l| l.contains("a viewer may read but not change anything"))
            .count()
            >= 2
    })
    .await;
    let after = root.call("users.get", json!({"ids": ["kim01"]})).await;
    assert_eq!(after.ok()["users"][0]["version"], user["version"]);

    tmux.keys(&["Escape", "q"]);
}

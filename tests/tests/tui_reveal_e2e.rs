//! Revealing and copying one user's key in the real `mama-tui`, driven in tmux against a real
//! `mama-daemon` (issue 19): `y` on a row asks the daemon for the key (`users.reveal_key`, its
//! own event), the popup shows it with a word that a pending key does not work yet, and `y`
//! again sends it as an OSC 52 clipboard sequence — which tmux, with `set-clipboard on`, keeps
//! as its paste buffer, so the test reads back exactly what the operator's terminal would get.
//! The edit dialog reads the user without the key. Viewers are refused the reveal by the
//! daemon (roles_e2e's matrix).
//!
//! No LiteLLM: the key waits as pending, which the popup says. Binaries come from
//! `MAMA_BIN_DIR`, else `<workspace>/target/debug`: run `cargo build --workspace` first.
//! Skipped, with a note, when `tmux` is not installed.

use mama_tests::harness::daemon::ADMIN_PASSWORD;
use mama_tests::harness::tmux::{tui_command, Tmux};
use mama_tests::harness::{Daemon, RpcClient};
use serde_json::{json, Value};

/// The events of `action`, newest first.
async fn events_of(rpc: &mut RpcClient, action: &str) -> Vec<Value> {
    let reply = rpc
        .call(
            "events.list",
            json!({"filter": {"action": action}, "page": {"offset": 0, "limit": 100}}),
        )
        .await;
    reply.ok()["events"].as_array().expect("events").clone()
}

#[tokio::test]
async fn reveal_a_key_and_copy_it_with_osc52_in_tmux() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping the TUI end-to-end test");
        return;
    }
    let daemon = Daemon::start();
    let mut root = daemon.admin().await;
    root.call(
        "users.create",
        json!({"users": [{"id": "kim01", "organization": "lab", "models": ["m1"]}]}),
    )
    .await
    .ok();
    let got = root.call("users.get", json!({"ids": ["kim01"]})).await;
    let key = got.ok()["users"][0]["key"]
        .as_str()
        .expect("an admin's users.get has the key")
        .to_string();
    let hidden = root
        .call("users.get", json!({"ids": ["kim01"], "without_keys": true}))
        .await;
    assert!(
        hidden.ok()["users"][0].get("key").is_none(),
        "without_keys leaves the key out: {:?}",
        hidden.ok()
    );

    let tmux = Tmux::start("reveal", &tui_command(&daemon));
    // tmux takes an application's OSC 52 into its paste buffer.
    tmux.run(&[
        "set-option".into(),
        "-g".into(),
        "set-clipboard".into(),
        "on".into(),
    ]);
    tmux.wait_for("mama · log in").await;
    tmux.text(ADMIN_PASSWORD);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for_rows("total 1 · matching 1").await;
    assert!(
        !screen.contains(&key),
        "the list shows only the hint:\n{screen}"
    );

    // The edit dialog does not hold the key either.
    tmux.keys(&["Enter"]);
    let dialog = tmux.wait_for("edit kim01").await;
    assert!(!dialog.contains(&key), "{dialog}");
    tmux.keys(&["Escape"]);
    // Wait for it to close: an escape followed at once by `y` reads as alt-y.
    tmux.wait_until("the dialog closed", |s| !s.contains("edit kim01"))
        .await;

    // y: the key, said to be not working yet (no LiteLLM), and the reveal is an event.
    tmux.keys(&["y"]);
    let popup = tmux.wait_for("This reveal is recorded").await;
    assert!(popup.contains("kim01's key"), "{popup}");
    assert!(popup.contains(&key), "the full key is shown:\n{popup}");
    assert!(popup.contains("Not working yet"), "{popup}");
    let reveals = events_of(&mut root, "users.reveal_key").await;
    assert_eq!(reveals.len(), 1, "one event per reveal: {reveals:?}");
    assert_eq!(reveals[0]["detail"], json!("key revealed"), "{reveals:?}");
    assert!(
        !reveals[0].to_string().contains(&key),
        "the event does not hold the key: {reveals:?}"
    );

    // y again: copied through OSC 52; the popup closes and the key leaves the screen.
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("Copied kim01's key").await;
    assert!(!screen.contains(&key), "{screen}");
    let buffer = tmux.run(&["show-buffer".into()]);
    assert_eq!(buffer.trim_end(), key, "the clipboard holds the key");

    // Every read of the dialog asked for no key; only the reveal was one.
    let gets = events_of(&mut root, "users.get").await;
    assert!(
        gets.iter()
            .any(|e| e["detail"] == json!("keys not asked for")),
        "{gets:?}"
    );
    tmux.keys(&["q"]);
}

//! Undo in the real `mama-tui`, driven in tmux against a real `mama-daemon` (issue 18): a bulk
//! change made through the RPC (a model added to three users) is found on the events screen,
//! `u` previews its undo (each user, what it holds now and will hold), Enter alone undoes
//! nothing, `y` does: the users hold their models from before, and the undo is recorded as an
//! `events.undo` event naming the users, whose id the status line ends with. Each step is
//! checked on the screen (polled with a bounded wait, never a timing assertion) and through the
//! admin RPC.
//!
//! No LiteLLM: changes wait to be synced, which is all an undo needs. Binaries come from
//! `MAMA_BIN_DIR`, else `<workspace>/target/debug`: run `cargo build --workspace` first.
//! Skipped, with a note, when `tmux` is not installed.

use mama_tests::harness::daemon::ADMIN_PASSWORD;
use mama_tests::harness::tmux::{tui_command, Tmux};
use mama_tests::harness::{Daemon, RpcClient};
use serde_json::{json, Value};

const USERS: [&str; 3] = ["kim01", "lee", "김철수"];

/// Each user's models, in [`USERS`] order.
async fn models(rpc: &mut RpcClient) -> Vec<Value> {
    let reply = rpc.call("users.get", json!({"ids": USERS})).await;
    let users = reply.ok()["users"].as_array().expect("users").clone();
    assert_eq!(users.len(), 3, "{users:?}");
    users.iter().map(|u| u["models"].clone()).collect()
}

/// The applied (`ok`) events of `action`, newest first.
async fn events_of(rpc: &mut RpcClient, action: &str) -> Vec<Value> {
    let reply = rpc
        .call(
            "events.list",
            json!({"filter": {"action": action, "result": "ok"},
                   "page": {"offset": 0, "limit": 100}}),
        )
        .await;
    reply.ok()["events"].as_array().expect("events").clone()
}

#[tokio::test]
async fn undo_a_bulk_change_from_the_events_screen_in_tmux() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping the TUI end-to-end test");
        return;
    }
    let daemon = Daemon::start();
    let mut root = daemon.admin().await;
    let users: Vec<Value> = USERS
        .iter()
        .map(|id| json!({"id": id, "organization": "lab", "models": ["m1"]}))
        .collect();
    root.call("users.create", json!({"users": users}))
        .await
        .ok();
    let before = models(&mut root).await;
    assert!(before.iter().all(|m| *m == json!(["m1"])), "{before:?}");

    // The change to undo: a model added to all three in one call.
    let changed = root
        .call(
            "users.bulk_update",
            json!({"ids": USERS, "models": {"op": "add", "values": ["m2"]}}),
        )
        .await;
    assert_eq!(changed.ok()["changed"], json!(3));
    let after = models(&mut root).await;
    assert!(after.iter().all(|m| *m == json!(["m1", "m2"])), "{after:?}");

    // Log in as the admin (the username is prefilled, focus is on the password).
    let tmux = Tmux::start("undo", &tui_command(&daemon));
    tmux.wait_for("mama · log in").await;
    tmux.text(ADMIN_PASSWORD);
    tmux.keys(&["Enter"]);
    tmux.wait_for_rows("total 3 · matching 3").await;

    // The events screen, narrowed to the bulk change: it is the selected (first) row.
    tmux.keys(&["5"]);
    tmux.wait_for("mama ▸ Events").await;
    tmux.keys(&["/"]);
    tmux.text("action:users.bulk_update");
    tmux.keys(&["Enter"]);
    tmux.wait_until("only the bulk change listed", |s| {
        s.contains("users.bulk_update") && !s.contains("users.create")
    })
    .await;

    // `u` previews: the three users, each with what it holds now and will hold.
    tmux.keys(&["u"]);
    let preview = tmux.wait_for("3 users will be set back").await;
    assert!(preview.contains("Undo users.bulk_update of"), "{preview}");
    assert!(preview.contains("No conflicts"), "{preview}");
    for id in USERS {
        assert!(
            preview.contains(&format!("{id}: models: m1, m2 → models: m1")),
            "{id}:\n{preview}"
        );
    }
    assert_eq!(models(&mut root).await, after, "a preview changes nothing");

    // Enter, pressed out of habit, undoes nothing; the popup stays until `y`.
    tmux.keys(&["Enter"]);
    tmux.keys(&["j"]);
    let screen = tmux.wait_for("3 users will be set back").await;
    assert!(!screen.contains("Undone"), "{screen}");
    assert_eq!(models(&mut root).await, after, "Enter undid the change");

    tmux.keys(&["y"]);
    let screen = tmux.wait_for("undo that event to redo").await;
    assert!(
        screen.contains("Undone: 3 users set back (event …"),
        "{screen}"
    );
    assert_eq!(models(&mut root).await, before, "the models from before");

    // The undo is an event of its own, naming the users; the status line names it.
    let undos: Vec<Value> = events_of(&mut root, "events.undo")
        .await
        .into_iter()
        .filter(|e| e["user_ids"].as_array().is_some_and(|ids| ids.len() == 3))
        .collect();
    assert_eq!(undos.len(), 1, "one applied undo: {undos:?}");
    let id = undos[0]["id"].as_str().expect("an id");
    let tail = &id[id.len() - 8..];
    assert!(
        screen.contains(&format!("(event …{tail})")),
        "{tail}:\n{screen}"
    );

    tmux.keys(&["q"]);
}

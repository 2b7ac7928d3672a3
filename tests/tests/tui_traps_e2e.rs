//! Two traps, against the real `mama-tui` and `mama-daemon` binaries (no LiteLLM): marks a
//! filter hides are named wherever they act, the bulk preview names every user it changes,
//! and in the models picker type, space, Enter keeps what space checked — the daemon then
//! shows the model added to all three marked users.
//!
//! Binaries come from `MAMA_BIN_DIR`, else `<workspace>/target/debug`: run
//! `cargo build --workspace` first. Skipped, with a note, when `tmux` is not installed.

use mama_tests::harness::daemon::ADMIN_PASSWORD;
use mama_tests::harness::tmux::{tui_command, Tmux};
use mama_tests::harness::Daemon;
use serde_json::{json, Value};

fn has_model(users: &[Value], id: &str, model: &str) -> bool {
    users
        .iter()
        .find(|u| u["id"] == id)
        .and_then(|u| u["models"].as_array())
        .is_some_and(|m| m.iter().any(|x| x == model))
}

#[tokio::test]
async fn hidden_marks_are_named_and_the_picker_keeps_its_check() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping the TUI end-to-end test");
        return;
    }
    let daemon = Daemon::start();
    let mut rpc = daemon.admin().await;
    // `zed` holds `claude-x`, so the catalog (the models users hold, without LiteLLM) lists it.
    let created = rpc
        .call(
            "users.create",
            json!({"users": [
                {"id": "ann", "organization": "north", "models": ["gpt-4o"]},
                {"id": "bob", "organization": "south", "models": ["gpt-4o"]},
                {"id": "cat", "organization": "south", "models": ["gpt-4o"]},
                {"id": "zed", "organization": "west", "models": ["claude-x"]},
            ]}),
        )
        .await;
    assert_eq!(created.ok()["created"], 4);

    let tmux = Tmux::start("traps", &tui_command(&daemon));
    tmux.wait_for("mama · log in").await;
    tmux.text(ADMIN_PASSWORD);
    tmux.keys(&["Enter"]);
    tmux.wait_for_rows("total 4 · matching 4").await;

    // Sorted by id: ann, bob, cat, zed. Mark the first three, then filter down to ann.
    tmux.keys(&["Space", "Space", "Space"]);
    tmux.wait_for("marked 3").await;
    tmux.keys(&["/"]);
    tmux.text("org:north");
    tmux.keys(&["Enter"]);
    tmux.wait_for_rows("marked 3 (2 not in view)").await;

    tmux.keys(&["b"]);
    let dialog = tmux.wait_for("bulk edit 3 marked (2 not in view)").await;
    assert!(dialog.contains("2 of them not in view"), "{dialog}");

    // Type, space, Enter: claude-x stays checked.
    tmux.keys(&["Tab", "Enter"]);
    tmux.wait_for("pick models").await;
    tmux.text("claude");
    tmux.wait_for("[ ] claude-x").await;
    tmux.keys(&["Space"]);
    tmux.wait_for("[x] claude-x").await;
    tmux.keys(&["Enter"]);
    tmux.wait_for("claude-x  [enter: pick]").await;

    // The preview names all three, the two filtered out of view included.
    tmux.keys(&["C-s"]);
    let preview = tmux.wait_for("Users that change").await;
    assert!(
        preview.contains("3 users selected, 3 will change."),
        "{preview}"
    );
    assert!(preview.contains("3 marked (2 not in view)"), "{preview}");
    for id in ["ann", "bob", "cat"] {
        assert!(
            preview.contains(&format!("  {id}")),
            "{id} is listed:\n{preview}"
        );
    }
    assert!(preview.contains("gpt-4o → claude-x,gpt-4o"), "{preview}");

    tmux.keys(&["y"]);
    tmux.wait_for("Bulk change applied").await;
    let users = rpc
        .call("users.list", json!({"page": {"limit": 100}}))
        .await;
    let users = users.ok()["users"].as_array().cloned().unwrap_or_default();
    for id in ["ann", "bob", "cat"] {
        assert!(has_model(&users, id, "claude-x"), "{id}: {users:?}");
    }
    assert!(
        !has_model(&users, "zed", "gpt-4o"),
        "the unmarked user is untouched"
    );
}

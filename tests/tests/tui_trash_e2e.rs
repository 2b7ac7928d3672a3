//! The trash in the real `mama-tui`, driven in tmux against a real `mama-daemon` that keeps
//! deleted users for 7 days (issue 18): two users marked and deleted (Enter alone deletes
//! nothing, `y` does) leave the users screen and wait on the trash screen; `r` + `y` brings one
//! back with the same key, ctrl-d + `y` purges the other for good. Then 103 users created in
//! one call and deleted all at once: above the TUI's threshold (100) neither `y` nor a wrong
//! number deletes them, only their count typed out. Each step is checked on the screen (polled
//! with a bounded wait, never a timing assertion) and through the admin RPC.
//!
//! No LiteLLM: keys are minted and wait to be synced, which is all a trash needs. Binaries come
//! from `MAMA_BIN_DIR`, else `<workspace>/target/debug`: run `cargo build --workspace` first.
//! Skipped, with a note, when `tmux` is not installed.

use mama_tests::harness::daemon::ADMIN_PASSWORD;
use mama_tests::harness::tmux::{tui_command, Tmux};
use mama_tests::harness::{Daemon, RpcClient};
use serde_json::{json, Value};

async fn total_users(rpc: &mut RpcClient) -> u64 {
    let reply = rpc.call("users.count", json!({"filter": {}})).await;
    reply.ok()["total"].as_u64().expect("a total")
}

/// The ids in the trash, and how many there are.
async fn trash(rpc: &mut RpcClient) -> (Vec<String>, u64) {
    let reply = rpc
        .call("users.trash", json!({"page": {"offset": 0, "limit": 1000}}))
        .await;
    let list = reply.ok();
    let ids = list["users"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["id"].as_str().map(String::from))
        .collect();
    (ids, list["matching"].as_u64().expect("matching"))
}

/// The user `id` as `users.get` answers it, if it is a user.
async fn get(rpc: &mut RpcClient, id: &str) -> Option<Value> {
    let reply = rpc.call("users.get", json!({"ids": [id]})).await;
    reply.ok()["users"]
        .as_array()
        .and_then(|u| u.first())
        .cloned()
}

/// The table's rows: the screen without the title, the header and the three bottom lines.
fn table(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let end = lines.len().saturating_sub(3);
    lines.get(2..end).unwrap_or_default().join("\n")
}

#[tokio::test]
async fn delete_to_the_trash_restore_and_purge_in_tmux() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping the TUI end-to-end test");
        return;
    }
    let daemon = Daemon::start_with(&["--trash-days", "7"], &[]);
    let mut root = daemon.admin().await;
    root.call(
        "users.create",
        json!({"users": [
            {"id": "kim01", "organization": "sales"},
            {"id": "김철수", "organization": "연구소"},
            {"id": "lee", "organization": "ops"},
        ]}),
    )
    .await
    .ok();
    let kim_hint = get(&mut root, "kim01").await.expect("kim01")["key_hint"].clone();
    assert!(kim_hint.is_string(), "a masked key: {kim_hint}");

    // Log in as the admin (the username is prefilled, focus is on the password).
    let tmux = Tmux::start("trash", &tui_command(&daemon));
    tmux.wait_for("mama · log in").await;
    tmux.text(ADMIN_PASSWORD);
    tmux.keys(&["Enter"]);
    tmux.wait_for_rows("total 3 · matching 3").await;

    // Sorted by id: kim01, lee, 김철수. Mark the first and the last.
    tmux.keys(&["Space"]);
    tmux.wait_for("marked 1").await;
    tmux.keys(&["j", "Space"]);
    tmux.wait_for("marked 2").await;

    // The confirm names the count and where they go; Enter alone deletes nothing.
    tmux.keys(&["C-d"]);
    let confirm = tmux.wait_for("Delete 2 users?").await;
    assert!(
        confirm.contains("kim01") && confirm.contains("김철수"),
        "{confirm}"
    );
    assert!(
        confirm.contains("moved to the trash (if the daemon keeps one)"),
        "before any answer it cannot know: {confirm}"
    );
    tmux.keys(&["Enter", "Enter"]);
    // Keys are handled in order: once esc has closed the confirm, the Enters were handled.
    tmux.keys(&["Escape"]);
    let screen = tmux
        .wait_until("the confirm closed", |s| !s.contains("Delete 2 users?"))
        .await;
    assert!(
        !screen.contains("Deleting") && !screen.contains("Moved"),
        "Enter started a delete:\n{screen}"
    );
    assert_eq!(total_users(&mut root).await, 3, "Enter deleted users");
    assert_eq!(trash(&mut root).await.1, 0);

    // `y` does: they move to the trash, and the status line says until when and how back.
    tmux.keys(&["C-d"]);
    tmux.wait_for("Delete 2 users?").await;
    tmux.keys(&["y"]);
    let screen = tmux.wait_for("restore with 8").await;
    assert!(
        screen.contains("Moved 2 users to the trash until"),
        "{screen}"
    );
    let screen = tmux.wait_for_rows("total 1 · matching 1").await;
    let rows = table(&screen);
    assert!(
        rows.contains("lee") && !rows.contains("kim01") && !rows.contains("김철수"),
        "gone from the users screen:\n{screen}"
    );
    assert_eq!(total_users(&mut root).await, 1);
    let (mut ids, _) = trash(&mut root).await;
    ids.sort();
    assert_eq!(ids, vec!["kim01", "김철수"]);

    // The trash screen lists them, with their masked keys.
    tmux.keys(&["8"]);
    let screen = tmux.wait_for("2 deleted").await;
    assert!(screen.contains("mama ▸ Trash"), "{screen}");
    let rows = table(&screen);
    assert!(
        rows.contains("kim01") && rows.contains("김철수") && rows.contains("연구소"),
        "{screen}"
    );
    assert!(
        rows.contains(kim_hint.as_str().unwrap_or_default()),
        "{screen}"
    );

    // Sorted by id, kim01 is the first row: `r` + `y` restores it.
    tmux.keys(&["I"]);
    // The header turns at once; the rows follow from the daemon: wait for both.
    tmux.wait_until("the trash sorted by id", |s| {
        let rows = table(s);
        s.contains("id ▲")
            && matches!(
                (rows.find("kim01"), rows.find("김철수")),
                (Some(kim), Some(other)) if kim < other
            )
    })
    .await;
    tmux.keys(&["r"]);
    let confirm = tmux.wait_for("Restore 1 user?").await;
    assert!(
        confirm.contains("kim01") && confirm.contains("same keys"),
        "{confirm}"
    );
    tmux.keys(&["y"]);
    tmux.wait_for("Restored 1 user (same keys, unblocked in LiteLLM).")
        .await;
    let kim = get(&mut root, "kim01").await.expect("kim01 is back");
    assert_eq!(kim["key_hint"], kim_hint, "the same key");
    assert_eq!(kim["organization"], json!("sales"));

    // ctrl-d + `y` purges the other for good.
    tmux.keys(&["C-d"]);
    let confirm = tmux.wait_for("Purge 1 user for good?").await;
    assert!(
        confirm.contains("김철수") && confirm.contains("keys are deleted in LiteLLM"),
        "{confirm}"
    );
    tmux.keys(&["y"]);
    tmux.wait_for("Purged 1 user for good.").await;
    let screen = tmux.wait_for("The trash is empty.").await;
    assert!(!table(&screen).contains("김철수"), "{screen}");
    assert_eq!(trash(&mut root).await, (Vec::new(), 0));
    assert!(get(&mut root, "김철수").await.is_none(), "purged");
    assert_eq!(total_users(&mut root).await, 2);

    // 103 users in one call, then all of them deleted at once.
    let many: Vec<Value> = (0..103)
        .map(|i| json!({"id": format!("bulk{i:03}"), "organization": "bulk"}))
        .collect();
    root.call("users.create", json!({"users": many})).await.ok();
    assert_eq!(total_users(&mut root).await, 105);
    tmux.keys(&["1"]);
    tmux.keys(&["r"]);
    tmux.wait_for_rows("total 105").await;
    tmux.keys(&["/"]);
    tmux.text("bulk");
    tmux.keys(&["Enter"]);
    tmux.wait_for_rows("matching 103").await;
    tmux.keys(&["a"]);
    tmux.wait_for("marked 103").await;
    tmux.keys(&["C-d"]);
    let confirm = tmux.wait_for("Delete 103 users?").await;
    assert!(
        confirm.contains("type 103 and press enter"),
        "above 100 the count is typed:\n{confirm}"
    );
    // The first delete answered: the confirm now knows the trash.
    assert!(
        confirm.contains("moved to the trash for 7 days, keys blocked"),
        "{confirm}"
    );

    // `y` alone is not enough …
    tmux.keys(&["y"]);
    tmux.wait_for("y is not enough: type 103, then enter").await;
    // … nor a wrong number …
    tmux.text("100");
    tmux.keys(&["Enter"]);
    tmux.wait_for("100 is not the number of users: type 103 to confirm")
        .await;
    assert_eq!(total_users(&mut root).await, 105, "nothing was deleted");
    // … the count typed out is.
    tmux.keys(&["C-u"]);
    tmux.text("103");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Moved 103 users to the trash until").await;
    assert_eq!(total_users(&mut root).await, 2);
    assert_eq!(trash(&mut root).await.1, 103);

    tmux.keys(&["q"]);
}

//! Users CSV in the real `mama-tui`, driven in tmux against a real `mama-daemon`: rows pasted
//! with CR line ends (tmux's `paste-buffer`, as many terminals paste) are three users; `:export`
//! writes them, a second export asks before overwriting; the users deleted, the exported file
//! imported in the create-users dialog brings the same users back; three rows with a bad one are
//! refused as a whole by ctrl-s, while ctrl-v creates the two good ones and writes the bad one,
//! with its reason, next to the imported file. Checked on the screen (bounded polling, never a
//! timing assertion) and through the admin RPC.
//!
//! No LiteLLM: keys are minted and wait to be synced. Binaries come from `MAMA_BIN_DIR`, else
//! `<workspace>/target/debug`: run `cargo build --workspace` first. Skipped, with a note, when
//! `tmux` is not installed.

use mama_tests::harness::daemon::ADMIN_PASSWORD;
use mama_tests::harness::tmux::{tui_command, Tmux};
use mama_tests::harness::{Daemon, RpcClient};
use serde_json::{json, Value};

/// Every user, sorted by id, as what an import must bring back: no key, no times, no version.
async fn users(rpc: &mut RpcClient) -> Vec<Value> {
    let reply = rpc
        .call("users.list", json!({"page": {"limit": 1000}}))
        .await;
    let mut list: Vec<Value> = reply.ok()["users"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|u| {
            json!({
                "id": u["id"], "organization": u["organization"], "models": u["models"],
                "services": u["services"], "info": u["info"], "limits": u["limits"],
                "inherited": u["inherited"],
            })
        })
        .collect();
    list.sort_by_key(|u| u["id"].as_str().unwrap_or_default().to_string());
    list
}

fn ids(list: &[Value]) -> Vec<&str> {
    list.iter().filter_map(|u| u["id"].as_str()).collect()
}

/// Types `:COMMAND` and runs it.
fn palette(tmux: &Tmux, command: &str) {
    tmux.keys(&[":"]);
    tmux.text(command);
    tmux.keys(&["Enter"]);
}

/// Opens the create-users dialog and loads `path` into it.
async fn load_csv(tmux: &Tmux, path: &std::path::Path, first_id: &str) {
    tmux.keys(&["c"]);
    tmux.wait_for("create users").await;
    tmux.keys(&["Tab"]);
    tmux.text(&path.display().to_string());
    tmux.keys(&["Enter"]);
    tmux.wait_for(first_id).await;
}

#[tokio::test]
async fn paste_export_import_and_partial_create_in_tmux() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping the TUI end-to-end test");
        return;
    }
    let daemon = Daemon::start();
    let mut root = daemon.admin().await;
    let dir = tempfile::tempdir().expect("temp dir");

    let tmux = Tmux::start("csv", &tui_command(&daemon));
    tmux.wait_for("mama · log in").await;
    tmux.text(ADMIN_PASSWORD);
    tmux.keys(&["Enter"]);
    tmux.wait_for("No users yet").await;

    // Three rows pasted as the terminal pastes them: bracketed, each line ended by a CR.
    tmux.keys(&["c"]);
    tmux.wait_for("create users").await;
    let rows = "kim01,Ops,gpt-4o,,team=검색,10,30d\r\
                김철수,\"연구소, 본사\",gpt-4o;claude,,,,,,none\r\
                lee,Sales,,,,,,,,,90d\r";
    tmux.run(&["set-buffer".into(), "-b".into(), "rows".into(), rows.into()]);
    tmux.run(&[
        "paste-buffer".into(),
        "-p".into(),
        "-r".into(),
        "-b".into(),
        "rows".into(),
        "-t".into(),
        "tui".into(),
    ]);
    tmux.wait_for("lee,Sales").await;
    tmux.keys(&["C-s"]);
    tmux.wait_for("Created 3 users.").await;
    let created = users(&mut root).await;
    assert_eq!(ids(&created), ["kim01", "lee", "김철수"]);
    assert_eq!(created[2]["organization"], "연구소, 본사");
    assert_eq!(created[0]["limits"]["max_budget"], 10.0);

    // Export; a second export asks first, and `y` writes over the file.
    let export = dir.path().join("users.csv");
    palette(&tmux, &format!("export {}", export.display()));
    tmux.wait_for("Exported 3 users").await;
    std::fs::write(&export, "stale").expect("write");
    palette(&tmux, &format!("export {}", export.display()));
    tmux.wait_for("Overwrite the file?").await;
    assert_eq!(
        std::fs::read_to_string(&export).unwrap_or_default(),
        "stale"
    );
    tmux.keys(&["y"]);
    tmux.wait_for("Exported 3 users").await;
    let text = std::fs::read_to_string(&export).expect("the export");
    assert!(
        text.starts_with(
            "id,organization,models,services,info,budget,period,tpm,rpm,expires,rotate,"
        ),
        "{text}"
    );
    assert_eq!(text.lines().count(), 4, "{text}");

    // Delete them all; importing the export brings the same users back.
    root.call("users.delete", json!({"ids": ["kim01", "lee", "김철수"]}))
        .await
        .ok();
    assert!(users(&mut root).await.is_empty());
    load_csv(&tmux, &export, "kim01,Ops").await;
    tmux.keys(&["C-s"]);
    tmux.wait_for("Created 3 users.").await;
    assert_eq!(users(&mut root).await, created);

    // Three rows, one the daemon refuses: ctrl-s creates none of them.
    let partial = dir.path().join("partial.csv");
    std::fs::write(&partial, "id,organization\nok1,Ops\nbad id!,Ops\nok2,Ops\n").expect("write");
    load_csv(&tmux, &partial, "ok1,Ops").await;
    tmux.keys(&["C-s"]);
    tmux.wait_for("1 row refused, nothing created").await;
    assert_eq!(users(&mut root).await.len(), 3);

    // ctrl-v creates the two good ones and writes the bad one, with its reason, next to it.
    tmux.keys(&["C-v"]);
    tmux.wait_for("Created 2 users; 1 row not").await;
    let now = users(&mut root).await;
    assert_eq!(ids(&now), ["kim01", "lee", "ok1", "ok2", "김철수"]);
    let rejected: Vec<_> = std::fs::read_dir(dir.path())
        .expect("the dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("partial-rejected-"))
        })
        .collect();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    let text = std::fs::read_to_string(&rejected[0]).expect("the rejected rows");
    assert!(
        text.starts_with("id,organization,reason\nbad id!,Ops,\"id: "),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "{text}");

    tmux.keys(&["q"]);
}

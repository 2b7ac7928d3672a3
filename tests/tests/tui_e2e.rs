//! The real `mama-tui` binary, driven in tmux against a real `mama-daemon`: log in as
//! admin/admin, change the password, create users (Hangul included), filter, sort, mark, bulk add
//! a model, delete; then a bulk change of organization and info, the events screen filtered
//! by a time range, and an organization's default budget reaching its users. Each step is checked on the screen (polled with a bounded wait, never a
//! timing assertion) and through the admin RPC.
//!
//! Binaries come from `MAMA_BIN_DIR`, else `<workspace>/target/debug` (see
//! `mama_tests::harness::daemon::bin_dir`): run `cargo build --workspace` first. Skipped, with a
//! note, when `tmux` is not installed.

use mama_tests::harness::daemon::ADMIN_PASSWORD;
use mama_tests::harness::tmux::{tui_command, Tmux};
use mama_tests::harness::{Daemon, RpcClient};
use serde_json::{json, Value};

const NEW_PASSWORD: &str = "tui-e2e-password-42";

async fn users(rpc: &mut RpcClient) -> Vec<Value> {
    let reply = rpc
        .call("users.list", json!({"page": {"limit": 1000}}))
        .await;
    reply.ok()["users"].as_array().cloned().unwrap_or_default()
}

fn user<'a>(list: &'a [Value], id: &str) -> Option<&'a Value> {
    list.iter().find(|u| u["id"] == id)
}

fn has_model(u: Option<&Value>, model: &str) -> bool {
    u.and_then(|u| u["models"].as_array())
        .is_some_and(|m| m.iter().any(|x| x == model))
}

/// Row number (0-based) of the first screen line containing `text`.
fn row_of(screen: &str, text: &str) -> Option<usize> {
    screen.lines().position(|l| l.contains(text))
}

#[tokio::test]
async fn operator_flow_in_tmux() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping the TUI end-to-end test");
        return;
    }
    let daemon = Daemon::start();
    let tmux = Tmux::start("flow", &tui_command(&daemon));

    // Log in as the bootstrap admin: the username is prefilled, focus is on the password.
    tmux.wait_for("mama · log in").await;
    tmux.text("admin");
    tmux.keys(&["Enter"]);

    // Forced password change.
    tmux.wait_for("choose a new password").await;
    tmux.text("admin");
    tmux.keys(&["Tab"]);
    tmux.text(NEW_PASSWORD);
    tmux.keys(&["Tab"]);
    tmux.text(NEW_PASSWORD);
    tmux.keys(&["Enter"]);
    tmux.wait_for("No users yet").await;
    let mut rpc = daemon.rpc();
    rpc.login("admin", NEW_PASSWORD).await;
    let old = daemon
        .rpc()
        .call(
            "auth.login",
            json!({"username": "admin", "password": "admin"}),
        )
        .await;
    assert_eq!(
        old.code(),
        "login_failed",
        "the bootstrap password no longer works"
    );

    // Create three users, one with a Hangul id and organization (the services they are granted
    // must exist first).
    for service in ["chat", "billing"] {
        rpc.ensure_service(service).await;
    }
    tmux.keys(&["c"]);
    tmux.wait_for("create users").await;
    tmux.text("kim01,연구소,gpt-4o,chat");
    tmux.keys(&["Enter"]);
    tmux.text("김철수,연구소,gpt-4o;claude,chat");
    tmux.keys(&["Enter"]);
    tmux.text("lee,Sales,,billing");
    tmux.keys(&["C-s"]);
    tmux.wait_for("Created 3 users.").await;
    let screen = tmux.wait_for_rows("total 3 · matching 3").await;
    assert!(
        screen.contains("김철수") && screen.contains("lee"),
        "{screen}"
    );
    let list = users(&mut rpc).await;
    assert_eq!(list.len(), 3);
    assert_eq!(
        user(&list, "김철수").map(|u| u["organization"].clone()),
        Some(json!("연구소"))
    );

    // Filter by organization.
    tmux.keys(&["/"]);
    tmux.text("org:연구소");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for_rows("matching 2").await;
    assert!(
        !screen.lines().skip(2).any(|l| l.contains(" lee ")),
        "lee is filtered out:\n{screen}"
    );

    // Sort by id reversed: the Hangul id sorts after the ASCII one, so it comes first.
    // The table starts sorted by id ascending, so one press reverses it.
    tmux.keys(&["I"]);
    tmux.wait_for("id ▼").await;
    let screen = tmux
        .wait_until(
            "김철수 above kim01",
            |s| matches!((row_of(s, "김철수"), row_of(s, "kim01")), (Some(a), Some(b)) if a < b),
        )
        .await;
    assert!(screen.contains("id ▼"));

    // Mark every user matching the filter.
    tmux.keys(&["a"]);
    tmux.wait_for("marked 2").await;

    // Bulk add a model: pick it by typing its name, preview, confirm.
    tmux.keys(&["b"]);
    tmux.wait_for("bulk edit 2 marked").await;
    tmux.keys(&["Tab", "Enter"]);
    tmux.wait_for("pick models").await;
    tmux.text("gpt-5");
    // Enter on a typed name, nothing toggled: checks it and closes the picker.
    tmux.keys(&["Enter"]);
    tmux.wait_for("gpt-5  [enter: pick]").await;
    tmux.keys(&["C-s"]);
    let preview = tmux.wait_for("Preview of the bulk change").await;
    assert!(
        preview.contains("2 will change") && preview.contains("models added: gpt-5"),
        "{preview}"
    );
    let before = users(&mut rpc).await;
    assert!(
        !has_model(user(&before, "kim01"), "gpt-5"),
        "the preview changed nothing"
    );
    tmux.keys(&["y"]);
    tmux.wait_for("Bulk change applied").await;
    tmux.keys(&["Enter"]);
    let after = users(&mut rpc).await;
    assert!(has_model(user(&after, "kim01"), "gpt-5"));
    assert!(has_model(user(&after, "김철수"), "gpt-5"));
    assert!(
        !has_model(user(&after, "lee"), "gpt-5"),
        "unmarked users are untouched"
    );
    tmux.wait_for("gpt-5").await;

    // Export the filtered view to CSV through the command palette.
    let export_dir = tempfile::tempdir().expect("temp dir");
    let csv_path = export_dir.path().join("users.csv");
    tmux.keys(&[":"]);
    tmux.text(&format!("export {}", csv_path.display()));
    tmux.keys(&["Enter"]);
    tmux.wait_for("Exported 2 users").await;
    let csv = std::fs::read_to_string(&csv_path).expect("the export was written");
    assert_eq!(
        csv.lines().count(),
        3,
        "header and the two filtered users:\n{csv}"
    );
    assert!(
        csv.contains("김철수,연구소,") && csv.contains("gpt-5") && !csv.contains("lee"),
        "{csv}"
    );

    // Delete the marked users through the confirm popup.
    tmux.keys(&["C-d"]);
    let confirm = tmux.wait_for("Delete 2 users?").await;
    assert!(
        confirm.contains("kim01") && confirm.contains("김철수"),
        "{confirm}"
    );
    tmux.keys(&["y"]);
    tmux.wait_for("Deleted 2 users.").await;
    let left = users(&mut rpc).await;
    assert_eq!(
        left.iter().map(|u| u["id"].clone()).collect::<Vec<_>>(),
        vec![json!("lee")]
    );

    // Clear the filter: only lee is left, and nothing is marked.
    tmux.keys(&["Escape"]);
    tmux.wait_for_rows("total 1 · matching 1 · marked 0").await;

    tmux.keys(&["q"]);
}

/// Actions of the events `filter` matches, through the RPC (newest first) and their count.
async fn event_actions(rpc: &mut RpcClient, filter: Value) -> (Vec<String>, u64) {
    let reply = rpc.call("events.list", json!({ "filter": filter })).await;
    let list = reply.ok();
    let actions = list["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| e["action"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    (actions, list["matching"].as_u64().unwrap_or(0))
}

/// Types a filter into the events screen's bar (replacing the one there) and applies it.
fn events_filter(tmux: &Tmux, filter: &str) {
    tmux.keys(&["/", "C-u"]);
    tmux.text(filter);
    tmux.keys(&["Enter"]);
}

/// The body rows of the events table (below the header, above the filter bar).
fn event_rows(screen: &str) -> Vec<&str> {
    let lines: Vec<&str> = screen.lines().collect();
    lines
        .iter()
        .skip(2)
        .take(lines.len().saturating_sub(5))
        .copied()
        .filter(|l| !l.trim().is_empty())
        .collect()
}

#[tokio::test]
async fn bulk_organization_and_info_then_events_by_time_range_in_tmux() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping the TUI end-to-end test");
        return;
    }
    let daemon = Daemon::start();
    let mut rpc = daemon.admin().await;
    rpc.call(
        "users.create",
        json!({"users": [
            {"id": "kim01", "organization": "연구소", "info": {"seat": "12", "team": "old"}},
            {"id": "김철수", "organization": "연구소", "info": {"seat": "7"}},
            {"id": "lee", "organization": "Sales", "info": {"seat": "3"}},
        ]}),
    )
    .await
    .ok();
    let tmux = Tmux::start("bulk", &tui_command(&daemon));
    tmux.wait_for("mama · log in").await;
    tmux.text(ADMIN_PASSWORD);
    tmux.keys(&["Enter"]);
    tmux.wait_for_rows("total 3 · matching 3").await;

    // Mark the two users of 연구소.
    tmux.keys(&["/"]);
    tmux.text("org:연구소");
    tmux.keys(&["Enter"]);
    tmux.wait_for_rows("matching 2").await;
    tmux.keys(&["a"]);
    tmux.wait_for("marked 2").await;

    // Bulk edit: models unchanged (add → remove → unchanged), a new organization, one info key
    // set and one removed.
    tmux.keys(&["b"]);
    tmux.wait_for("bulk edit 2 marked").await;
    tmux.keys(&["Right", "Right"]);
    tmux.wait_for("models       ◂ unchanged ▸").await;
    tmux.keys(&["Tab", "Tab", "Tab", "Tab", "Tab"]);
    tmux.text("연구소 2팀");
    tmux.wait_for("organization ◂ set to ▸").await;
    tmux.keys(&["Tab"]);
    tmux.text("team=검색");
    tmux.keys(&["Tab"]);
    tmux.text("seat");
    tmux.keys(&["C-s"]);
    let preview = tmux.wait_for("Preview of the bulk change").await;
    for line in [
        "2 users selected, 2 will change.",
        "organization set to: 연구소 2팀",
        "info set: team=검색",
        "info removed: seat",
    ] {
        assert!(preview.contains(line), "{line:?} in\n{preview}");
    }
    let before = users(&mut rpc).await;
    assert_eq!(
        user(&before, "kim01").map(|u| u["organization"].clone()),
        Some(json!("연구소")),
        "the preview changed nothing"
    );
    tmux.keys(&["y"]);
    let summary = tmux.wait_for("Bulk change applied").await;
    assert!(
        summary.contains("Changed 2 of 2 selected users.")
            && summary.contains("organization set to: 연구소 2팀"),
        "{summary}"
    );
    tmux.keys(&["Enter"]);
    let after = users(&mut rpc).await;
    for id in ["kim01", "김철수"] {
        let u = user(&after, id).expect("the user is still there");
        assert_eq!(u["organization"], json!("연구소 2팀"), "{id}");
        assert_eq!(
            u["info"],
            json!({"team": "검색"}),
            "{id}: seat removed, team set"
        );
    }
    let lee = user(&after, "lee").expect("lee is there");
    assert_eq!(
        lee["organization"],
        json!("Sales"),
        "unmarked users are untouched"
    );
    assert_eq!(lee["info"], json!({"seat": "3"}));
    tmux.wait_until("the table shows the new organization and info", |s| {
        s.contains("연구소 2팀") && s.contains("team=검색")
    })
    .await;

    // The events screen, filtered by a time range around the applied change: the moment of
    // its event splits kim01's history into the creation before it and the change from it on.
    let reply = rpc
        .call(
            "events.list",
            json!({"filter": {"action": "users.bulk_update", "user_id": "kim01"}}),
        )
        .await;
    let at = reply.ok()["events"][0]["at"]
        .as_str()
        .expect("the applied change is an event of kim01")
        .to_string();
    tmux.keys(&["5"]);
    tmux.wait_for("mama ▸ Events").await;

    events_filter(&tmux, &format!("user:kim01 since:{at}"));
    let screen = tmux
        .wait_until("only the bulk change since its time", |s| {
            s.contains("UTC · 1 events") && s.contains("users.bulk_update")
        })
        .await;
    assert!(
        !event_rows(&screen)
            .iter()
            .any(|l| l.contains("users.create")),
        "the creation is before the range:\n{screen}"
    );
    let (actions, matching) =
        event_actions(&mut rpc, json!({"user_id": "kim01", "since": at})).await;
    assert_eq!(
        (actions, matching),
        (vec!["users.bulk_update".to_string()], 1)
    );

    events_filter(&tmux, &format!("user:kim01 until:{at}"));
    let screen = tmux
        .wait_until("only the creation before the change", |s| {
            s.contains("before ") && s.contains("UTC · 1 events") && s.contains("users.create")
        })
        .await;
    assert!(
        !event_rows(&screen)
            .iter()
            .any(|l| l.contains("users.bulk_update")),
        "the change is not before its own time:\n{screen}"
    );
    let (actions, matching) =
        event_actions(&mut rpc, json!({"user_id": "kim01", "until": at})).await;
    assert_eq!((actions, matching), (vec!["users.create".to_string()], 1));

    // An age: the last hour holds both.
    events_filter(&tmux, "user:kim01 since:1h");
    let screen = tmux
        .wait_until("both events of the last hour", |s| {
            s.contains("UTC · 2 events")
                && s.contains("users.create")
                && s.contains("users.bulk_update")
        })
        .await;
    assert!(screen.contains("/user:kim01 since:1h"), "{screen}");

    // A value that is not a time is refused with the accepted forms, and nothing is asked.
    events_filter(&tmux, "user:kim01 since:yesterday");
    let screen = tmux.wait_for("since:yesterday: not a time").await;
    assert!(screen.contains("15m, 1h or 2d"), "{screen}");
    assert!(
        screen.contains("users.create"),
        "the last good result stays:\n{screen}"
    );
    tmux.keys(&["Escape"]);
    tmux.wait_for("/ to filter").await;
    tmux.keys(&["q"]);
}

/// 1,234 users, sorted by organization (ties broken by id): `G` shows the last rows (the
/// reversed sort's first page, turned around) with their position, PgUp/PgDn page by cursor
/// next to them, and `g` is back at the first row; every row shown is the one the offset
/// listing has at that position.
#[tokio::test]
async fn paging_a_long_list_by_cursor_in_tmux() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping the TUI end-to-end test");
        return;
    }
    const N: usize = 1234;
    let daemon = Daemon::start();
    let mut rpc = daemon.admin().await;
    let users: Vec<Value> = (0..N)
        .map(|i| json!({"id": format!("p{i:04}"), "organization": format!("org-{}", i % 7)}))
        .collect();
    rpc.call("users.create", json!({"users": users})).await.ok();
    let listing = rpc
        .call(
            "users.list",
            json!({"sort": {"column": "organization"}, "page": {"limit": 1000}}),
        )
        .await;
    let mut ids: Vec<String> = listing.ok()["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["id"].as_str().expect("id").to_string())
        .collect();
    let rest = rpc
        .call(
            "users.list",
            json!({"sort": {"column": "organization"}, "page": {"offset": 1000, "limit": 1000}}),
        )
        .await;
    ids.extend(
        rest.ok()["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| u["id"].as_str().expect("id").to_string()),
    );
    assert_eq!(ids.len(), N);

    let tmux = Tmux::start("paging", &tui_command(&daemon));
    tmux.wait_for("mama · log in").await;
    tmux.text(ADMIN_PASSWORD);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&format!("total {N} · matching {N}")).await;
    tmux.keys(&["O"]);
    tmux.wait_for("organization ▲").await;
    // The screen shows rows a–b of the list, each the row the offset listing has there.
    let position = |screen: &str| -> Option<(usize, usize)> {
        let rows = screen.split(" · rows ").nth(1)?.split_whitespace().next()?;
        let (first, last) = rows.split_once('–')?;
        let (first, last): (usize, usize) = (first.parse().ok()?, last.parse().ok()?);
        let shown: Vec<&str> = screen
            .lines()
            .skip_while(|l| !l.contains("organization ▲"))
            .skip(1)
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with('p')))
            .take(last + 1 - first)
            .collect();
        (first >= 1 && last <= N && shown == ids[first - 1..last]).then_some((first, last))
    };
    // Waits until the screen shows the right rows at a position `ok` accepts.
    let wait = |what: &'static str, ok: Box<dyn Fn(usize, usize) -> bool>| {
        let tmux = &tmux;
        async move {
            let screen = tmux
                .wait_until(what, |s| position(s).is_some_and(|(a, b)| ok(a, b)))
                .await;
            position(&screen).expect("checked")
        }
    };

    let rows = wait("the first rows", Box::new(|first, _| first == 1)).await;
    tmux.keys(&["G"]);
    wait("the last rows", Box::new(|_, last| last == N)).await;
    let page = rows.1 - rows.0 + 1;
    for _ in 0..12 {
        tmux.keys(&["PageUp"]);
    }
    // PgUp moves the selection a screen up and the view keeps it on its first line.
    let want = N - 12 * page;
    let (up, _) = wait("12 pages up", Box::new(move |a, _| a == want)).await;
    for _ in 0..5 {
        tmux.keys(&["PageDown"]);
    }
    // PgDn moves it a screen down and the view keeps it on its last line.
    let want = up + 5 * page;
    wait("5 pages down", Box::new(move |_, b| b == want)).await;
    tmux.keys(&["g"]);
    wait("the first rows again", Box::new(|first, _| first == 1)).await;
}

/// Two marked users get a budget of 0 in the bulk dialog: the preview names the change and the
/// users it samples, nothing changes before `y`, and after it both rows show the new budget
/// (the third, unmarked, keeps none).
#[tokio::test]
async fn bulk_budget_of_zero_for_two_marked_users_in_tmux() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping the TUI end-to-end test");
        return;
    }
    let daemon = Daemon::start();
    let mut rpc = daemon.admin().await;
    rpc.call(
        "users.create",
        json!({"users": [
            {"id": "budget-a", "organization": "연구소"},
            {"id": "budget-b", "organization": "연구소"},
            {"id": "budget-c", "organization": "Sales"},
        ]}),
    )
    .await
    .ok();
    let tmux = Tmux::start("limits", &tui_command(&daemon));
    tmux.wait_for("mama · log in").await;
    tmux.text(ADMIN_PASSWORD);
    tmux.keys(&["Enter"]);
    tmux.wait_for_rows("total 3 · matching 3").await;

    // Space marks the row and moves down: the first two users (sorted by id).
    tmux.keys(&["Space"]);
    tmux.wait_for("marked 1").await;
    tmux.keys(&["Space"]);
    tmux.wait_for("marked 2").await;

    // Bulk edit: past models, services, organization and info to the budget.
    tmux.keys(&["b"]);
    tmux.wait_for("bulk edit 2 marked").await;
    for _ in 0..8 {
        tmux.keys(&["Tab"]);
    }
    tmux.text("0");
    tmux.keys(&["C-s"]);
    let preview = tmux.wait_for("Preview of the bulk change").await;
    for line in [
        "2 users selected, 2 will change.",
        "limits: max_budget → $0.00",
        // A sample line of the daemon's before → after.
        "max_budget: ",
    ] {
        assert!(preview.contains(line), "{line:?} in\n{preview}");
    }
    let before = users(&mut rpc).await;
    assert_eq!(
        user(&before, "budget-a").map(|u| u["limits"]["max_budget"].clone()),
        Some(Value::Null),
        "the preview changed nothing"
    );
    tmux.keys(&["y"]);
    tmux.wait_for("Bulk change applied").await;
    tmux.keys(&["Enter"]);
    let row = |screen: &str, id: &str| {
        screen
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_default()
            .to_string()
    };
    let screen = tmux
        .wait_until("both marked rows show a budget of $0.00", |s| {
            row(s, "budget-a").contains("$0.00") && row(s, "budget-b").contains("$0.00")
        })
        .await;
    assert!(
        !row(&screen, "budget-c").contains("$0.00"),
        "the unmarked user keeps no budget:\n{screen}"
    );
    let after = users(&mut rpc).await;
    for id in ["budget-a", "budget-b"] {
        assert_eq!(
            user(&after, id).map(|u| u["limits"]["max_budget"].clone()),
            Some(json!(0.0)),
            "{id}"
        );
    }
    assert_eq!(
        user(&after, "budget-c").map(|u| u["limits"]["max_budget"].clone()),
        Some(Value::Null)
    );

    // `p` suspends the row under the cursor (the third, after two marks moved it down) with a
    // reason; its status turns into the unmistakable `✗ suspended`, colour or not.
    tmux.keys(&["p"]);
    tmux.wait_for("reason").await;
    tmux.text("laptop stolen");
    tmux.keys(&["Enter"]);
    let screen = tmux
        .wait_until("the third row shows it is suspended", |s| {
            row(s, "budget-c").contains("✗ suspended")
        })
        .await;
    assert!(
        !row(&screen, "budget-a").contains("suspended"),
        "only that user:\n{screen}"
    );
    let after = users(&mut rpc).await;
    let suspended = user(&after, "budget-c").expect("budget-c");
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(suspended["suspended"]["reason"], "laptop stolen");
    tmux.keys(&["q"]);
}

/// The organizations screen sets a default budget for 연구소: the preview counts the users that
/// inherit it and the one with its own budget, nothing changes before `y`, and afterwards the
/// users screen shows the inherited budget on that organization's rows only.
#[tokio::test]
async fn organization_default_budget_reaches_its_users_in_tmux() {
    if !Tmux::available() {
        eprintln!("tmux is not installed: skipping the TUI end-to-end test");
        return;
    }
    let daemon = Daemon::start();
    let mut rpc = daemon.admin().await;
    rpc.call(
        "users.create",
        json!({"users": [
            {"id": "org-a1", "organization": "연구소"},
            {"id": "org-a2", "organization": "연구소"},
            {"id": "org-own", "organization": "연구소", "limits": {"max_budget": 3.0}},
            {"id": "org-b1", "organization": "Sales"},
        ]}),
    )
    .await
    .ok();
    let tmux = Tmux::start("orgs", &tui_command(&daemon));
    tmux.wait_for("mama · log in").await;
    tmux.text(ADMIN_PASSWORD);
    tmux.keys(&["Enter"]);
    tmux.wait_for_rows("total 4 · matching 4").await;

    // The organizations screen, in the daemon's order: down to 연구소.
    tmux.keys(&["6"]);
    // The header comes first, the rows with the daemon's answer: wait for both.
    tmux.wait_until("the organizations listed", |s| {
        s.contains("mama ▸ Organizations") && s.contains("Sales") && s.contains("연구소")
    })
    .await;
    let listed = rpc.call("organizations.list", json!({})).await;
    let position = listed.ok()["organizations"]
        .as_array()
        .and_then(|orgs| orgs.iter().position(|o| o["name"] == "연구소"))
        .expect("연구소 is listed");
    for _ in 0..position {
        tmux.keys(&["j"]);
    }
    tmux.keys(&["Enter"]);
    tmux.wait_for("defaults of 연구소").await;
    tmux.text("25");
    tmux.keys(&["C-s"]);
    let preview = tmux.wait_for("y: apply").await;
    for line in [
        "budget (USD)  — → 25.00",
        "2 users will change, 1 keeps its own values.",
    ] {
        assert!(preview.contains(line), "{line:?} in\n{preview}");
    }
    let before = rpc.call("organizations.list", json!({})).await;
    let defaults = |reply: &Value| {
        reply["organizations"]
            .as_array()
            .and_then(|orgs| orgs.iter().find(|o| o["name"] == "연구소"))
            .map(|o| o["defaults"]["max_budget"].clone())
    };
    assert_eq!(
        defaults(before.ok()),
        Some(Value::Null),
        "the preview changed nothing"
    );

    tmux.keys(&["y"]);
    tmux.wait_for("Defaults of 연구소 set: 2 users changed")
        .await;
    let after = rpc.call("organizations.list", json!({})).await;
    assert_eq!(defaults(after.ok()), Some(json!(25.0)));

    // The users screen: the two that inherit show the budget, the others keep theirs.
    tmux.keys(&["1"]);
    let row = |screen: &str, id: &str| {
        screen
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_default()
            .to_string()
    };
    let screen = tmux
        .wait_until("the inheriting rows show a budget of $25.00", |s| {
            row(s, "org-a1").contains("$25.00") && row(s, "org-a2").contains("$25.00")
        })
        .await;
    assert!(row(&screen, "org-own").contains("$3.00"), "{screen}");
    assert!(!row(&screen, "org-b1").contains("$25.00"), "{screen}");
    let list = users(&mut rpc).await;
    assert_eq!(
        user(&list, "org-a1").map(|u| u["limits"]["max_budget"].clone()),
        Some(json!(25.0))
    );
    tmux.keys(&["q"]);
}

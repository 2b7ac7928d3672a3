//! The event log's disk is bounded: events older than `--events-retention-days` are deleted
//! (their user links too), the newer ones stay, and the deletion is itself an event. Through the
//! real daemon, on the database `MAMA_TEST_DATABASE` selects.

use mama_tests::harness::daemon::ADMIN_PASSWORD;
use mama_tests::harness::database::Kind;
use mama_tests::harness::Daemon;
use serde_json::json;

/// An event recorded `days` ago, as an older daemon would have written it.
fn old_event_sql(kind: Kind, id: &str, days: u32) -> String {
    let at = match kind {
        Kind::Sqlite => format!("strftime('%Y-%m-%d %H:%M:%f', 'now', '-{days} days')"),
        Kind::Postgres => format!("(now() at time zone 'utc') - interval '{days} days'"),
    };
    format!(
        "INSERT INTO events (id, at, actor_kind, actor, channel, action, user_ids, target_count, result) \
         VALUES ('{id}', {at}, 'admin', 'admin', 'rpc', 'users.update', '[\"old-user\"]', 1, 'ok'); \
         INSERT INTO event_users (event_id, user_id) VALUES ('{id}', 'old-user');"
    )
}

#[tokio::test]
async fn events_past_the_retention_period_are_deleted_and_the_deletion_recorded() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    rpc.call(
        "users.create",
        json!({"users": [{"id": "recent", "organization": "ops", "models": ["gpt-4o"]}]}),
    )
    .await
    .ok();
    for (i, days) in [500, 45, 31].iter().enumerate() {
        d.db.execute(&old_event_sql(d.db.kind, &format!("old-{i}"), *days));
    }
    d.db.execute(&old_event_sql(d.db.kind, "young", 10));
    let count = |d: &Daemon, sql: &str| -> i64 { d.db.query(sql).trim().parse().unwrap() };
    assert_eq!(count(&d, "SELECT count(*) FROM event_users"), 4);

    // A restart with a 30-day retention deletes at start.
    let (dir, db) = d.kill();
    let d = Daemon::start_on(dir, db, &["--events-retention-days", "30"], &[]);
    let mut rpc = d.rpc();
    rpc.login("admin", ADMIN_PASSWORD).await;
    let mut pruned = None;
    for _ in 0..100 {
        let reply = rpc
            .call(
                "events.list",
                json!({"filter": {"action": "events.pruned"}}),
            )
            .await;
        if let Some(event) = reply.ok()["events"].as_array().and_then(|e| e.first()) {
            pruned = Some(event.clone());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let pruned = pruned.expect("an events.pruned event");
    assert_eq!(pruned["target_count"], 3, "{pruned}");
    assert_eq!(pruned["actor_kind"], "system");
    let detail = pruned["detail"].as_str().expect("detail");
    assert!(
        detail.starts_with("deleted 3 events") && detail.contains("kept 30 days"),
        "{detail}"
    );
    assert_eq!(
        count(&d, "SELECT count(*) FROM events WHERE id LIKE 'old-%'"),
        0,
        "every event past 30 days is gone"
    );
    assert_eq!(
        count(
            &d,
            "SELECT count(*) FROM event_users WHERE event_id LIKE 'old-%'"
        ),
        0,
        "and its user links"
    );
    assert_eq!(
        count(&d, "SELECT count(*) FROM events WHERE id = 'young'"),
        1
    );
    let created = rpc
        .call("events.list", json!({"filter": {"action": "users.create"}}))
        .await;
    assert_eq!(created.ok()["matching"], 1, "recent events stay");

    // A retention the daemon cannot honour is refused at start, with the limit named.
    let out = d.command(&["check-config", "--events-retention-days", "40000"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("events-retention-days"), "{text}");
}

//! A bulk change of many hand-marked users is one call, so one transaction and one event: a
//! signed-in admin may send a body far over the 1 MiB anyone else may, and the daemon applies
//! every named user or none. Through the real daemon, on the database `MAMA_TEST_DATABASE`
//! selects.

use mama_tests::harness::{Daemon, RpcClient};
use serde_json::{json, Value};

/// Ids of 60 characters: 20,000 of them make a body of about 1.3 MB.
fn long_id(i: usize) -> String {
    format!("user-{i:06}-{}", "x".repeat(48))
}

async fn create(rpc: &mut RpcClient, ids: &[String]) {
    for chunk in ids.chunks(10_000) {
        let users: Vec<Value> = chunk
            .iter()
            .map(|id| json!({"id": id, "organization": "ops", "models": ["gpt-4o"], "info": {}}))
            .collect();
        let reply = rpc.call("users.create", json!({ "users": users })).await;
        assert_eq!(
            reply.ok()["created"].as_u64(),
            Some(chunk.len() as u64),
            "{}",
            reply.body
        );
    }
}

fn bulk_body(ids: &[String]) -> Vec<u8> {
    json!({
        "jsonrpc": "2.0", "id": 7, "method": "users.bulk_update",
        "params": {"ids": ids, "models": {"op": "add", "values": ["mock-gpt"]}},
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn twenty_thousand_marked_users_change_in_one_call_one_event() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    let ids: Vec<String> = (0..20_000).map(long_id).collect();
    create(&mut rpc, &ids).await;
    let body = bulk_body(&ids);
    assert!(body.len() > 1024 * 1024, "the body is over 1 MiB");

    // Without a session, or with a forged one, the body is refused before it is read whole.
    let stranger = d.rpc();
    let refused = stranger.post_raw(body.clone()).await;
    assert_eq!(refused.status, 413, "{}", refused.body);
    assert_eq!(refused.code(), "payload_too_large");
    let mut forged = d.rpc();
    forged.token = Some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl".into());
    let refused = forged.post_raw(body.clone()).await;
    assert_eq!(refused.status, 413, "{}", refused.body);

    // Signed in: one call, every user changed.
    let applied = rpc.post_raw(body).await;
    let result = applied.ok();
    assert_eq!(result["matched"], 20_000, "{}", applied.body);
    assert_eq!(result["changed"], 20_000);

    let events = rpc
        .call(
            "events.list",
            json!({"filter": {"action": "users.bulk_update"}}),
        )
        .await;
    let events = events.ok()["events"].as_array().expect("events").clone();
    assert_eq!(
        events.len(),
        1,
        "one event for the whole change: {events:?}"
    );
    assert_eq!(events[0]["target_count"], 20_000);
    assert_eq!(events[0]["result"], "ok");

    // Spot checks at both ends and the middle: the change reached every user.
    let found = rpc
        .call(
            "users.get",
            json!({"ids": [long_id(0), long_id(10_000), long_id(19_999)]}),
        )
        .await;
    for user in found.ok()["users"].as_array().expect("users") {
        assert_eq!(user["models"], json!(["gpt-4o", "mock-gpt"]), "{user}");
    }
    let counted = rpc
        .call("users.count", json!({"filter": {"model": "mock-gpt"}}))
        .await;
    assert_eq!(counted.ok()["matching"], 20_000, "{}", counted.body);
}

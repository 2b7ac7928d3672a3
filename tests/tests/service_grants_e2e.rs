//! A grant belongs to a service, not to a reusable name: granting needs an existing service,
//! deleting a service takes it from its users and ends its tokens, and a service created later
//! under the same name starts with nobody. Through the real daemon, on the database
//! `MAMA_TEST_DATABASE` selects.

use mama_tests::harness::{Daemon, RpcClient, RpcReply};
use serde_json::{json, Value};

fn user(id: &str, services: &[&str]) -> Value {
    json!({"id": id, "organization": "ops", "models": ["gpt-4o"], "services": services, "info": {}})
}

async fn get_users(rpc: &mut RpcClient, ids: &[&str]) -> Vec<Value> {
    let reply = rpc.call("users.get", json!({ "ids": ids })).await;
    reply.ok()["users"].as_array().expect("users").clone()
}

/// The one field problem of an `invalid_params` refusal.
fn only_field(reply: &RpcReply) -> &Value {
    assert_eq!(reply.code(), "invalid_params", "{}", reply.body);
    let fields = reply.error()["fields"].as_array().expect("fields");
    assert_eq!(fields.len(), 1, "{}", reply.body);
    &fields[0]
}

fn says_unknown_service(field: &Value, name: &str) {
    let message = field["message"].as_str().expect("message");
    assert!(
        message.contains(&format!("service {name} does not exist"))
            && message.contains("services.create"),
        "{field}"
    );
}

async fn events(rpc: &mut RpcClient, action: &str) -> Vec<Value> {
    let reply = rpc
        .call("events.list", json!({"filter": {"action": action}}))
        .await;
    reply.ok()["events"].as_array().expect("events").clone()
}

#[tokio::test]
async fn granting_a_service_that_does_not_exist_is_refused_naming_the_entry() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    rpc.call("services.create", json!({"name": "chat"}))
        .await
        .ok();

    // users.create (and CSV import, which goes through it): all or nothing.
    let refused = rpc
        .call(
            "users.create",
            json!({"users": [user("alice", &["chat"]), user("bob", &[]), user("carol", &["chat", "ghost"])]}),
        )
        .await;
    let field = only_field(&refused);
    assert_eq!(field["field"], "users[2].services[1]");
    assert_eq!(field["row"], 2);
    says_unknown_service(field, "ghost");
    let found = rpc
        .call("users.get", json!({"ids": ["alice", "bob", "carol"]}))
        .await;
    assert_eq!(found.ok()["users"], json!([]), "nothing was created");

    rpc.call(
        "users.create",
        json!({"users": [user("alice", &["chat"]), user("bob", &[])]}),
    )
    .await
    .ok();

    // users.update: the entry is named by its place in the list given.
    let refused = rpc
        .call(
            "users.update",
            json!({"id": "bob", "version": 1, "services": ["chat", "ghost"], "organization": "x"}),
        )
        .await;
    let field = only_field(&refused);
    assert_eq!(field["field"], "services[1]");
    says_unknown_service(field, "ghost");

    // users.bulk_update: replace and add grant, and so does their preview.
    for op in ["add", "replace"] {
        for dry_run in [false, true] {
            let refused = rpc
                .call(
                    "users.bulk_update",
                    json!({"ids": ["bob"], "services": {"op": op, "values": ["ghost", "chat"]}, "dry_run": dry_run}),
                )
                .await;
            let field = only_field(&refused);
            assert_eq!(field["field"], "services.values[0]", "{op} {dry_run}");
            says_unknown_service(field, "ghost");
        }
    }
    let refused = rpc
        .call(
            "users.bulk_update",
            json!({"filter": {"organization": "ops"}, "services": {"op": "add", "values": ["ghost"]}}),
        )
        .await;
    assert_eq!(only_field(&refused)["field"], "services.values[0]");

    let bob = &get_users(&mut rpc, &["bob"]).await[0];
    assert_eq!(
        (&bob["services"], &bob["organization"], &bob["version"]),
        (&json!([]), &json!("ops"), &json!(1)),
        "no refused change was applied"
    );
    let failed = events(&mut rpc, "users.update").await;
    assert_eq!(failed[0]["result"], "error");
    assert_eq!(failed[0]["error_code"], "invalid_params");

    // Removing a name that is no service is allowed: it cleans up.
    let removed = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["alice"], "services": {"op": "remove", "values": ["ghost"]}}),
        )
        .await;
    assert_eq!(removed.ok()["matched"], 1);
    // Granting an existing service works as before.
    let granted = rpc
        .call(
            "users.update",
            json!({"id": "bob", "version": 1, "services": ["chat"]}),
        )
        .await;
    assert_eq!(granted.ok()["services"], json!(["chat"]));
}

#[tokio::test]
async fn deleting_a_service_takes_it_from_its_users_and_a_new_one_of_that_name_gets_nothing() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    let old_token = rpc.service_token("chat").await;
    rpc.call("services.create", json!({"name": "billing"}))
        .await
        .ok();
    rpc.call(
        "users.create",
        json!({"users": [
            user("김철수", &["chat", "billing"]),
            user("bob", &["chat"]),
            user("carol", &["billing"]),
        ]}),
    )
    .await
    .ok();
    let (status, before) = d.lookup(&old_token, &["김철수", "bob"]).await;
    assert_eq!(status, 200);
    assert!(
        before["users"][0]["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("sk-")),
        "{before}"
    );

    let listed = rpc.call("services.list", json!({})).await;
    let chat = &listed.ok()["services"][1];
    assert_eq!((&chat["name"], &chat["users"]), (&json!("chat"), &json!(2)));

    let deleted = rpc.call("services.delete", json!({"name": "chat"})).await;
    assert_eq!(deleted.ok(), &json!({"grants_removed": 2}));

    // The old token is refused at once, by both REST routes.
    let (status, body) = d.lookup(&old_token, &["김철수"]).await;
    assert_eq!(status, 401, "{body}");
    let one = reqwest::Client::new()
        .get(d.rest_url("/api/v1/users/bob"))
        .bearer_auth(&old_token)
        .send()
        .await
        .expect("REST answers");
    assert_eq!(one.status().as_u16(), 401);

    // The grants are gone, and each changed user's version moved on.
    let after = get_users(&mut rpc, &["김철수", "bob", "carol"]).await;
    let summary: Vec<(&Value, &Value)> = after
        .iter()
        .map(|u| (&u["services"], &u["version"]))
        .collect();
    assert_eq!(
        summary,
        vec![
            (&json!(["billing"]), &json!(2)),
            (&json!([]), &json!(2)),
            (&json!(["billing"]), &json!(1)),
        ]
    );
    let holders = rpc
        .call("users.count", json!({"filter": {"service": "chat"}}))
        .await;
    assert_eq!(holders.ok()["matching"], 0);
    // An edit based on the version from before the delete is a conflict, not a silent undo.
    let stale = rpc
        .call(
            "users.update",
            json!({"id": "bob", "version": 1, "organization": "x"}),
        )
        .await;
    assert_eq!(stale.code(), "conflict");

    // One event names the users and how many lost the grant.
    let recorded = events(&mut rpc, "services.delete").await;
    assert_eq!(recorded.len(), 1);
    let event = &recorded[0];
    assert_eq!(event["result"], "ok");
    assert_eq!(event["target_count"], 2);
    assert_eq!(event["user_ids"], json!(["bob", "김철수"]));
    assert_eq!(event["detail"], "service=chat, removed from 2 users");
    let by_user = rpc
        .call(
            "events.list",
            json!({"filter": {"user_id": "bob", "action": "services.delete"}}),
        )
        .await;
    assert_eq!(by_user.ok()["matching"], 1);

    // Deleting it again: there is nothing to delete.
    let again = rpc.call("services.delete", json!({"name": "chat"})).await;
    assert_eq!(again.code(), "not_found");

    // A service created under the same name starts with no users and reads no key.
    let new_token = rpc.service_token("chat").await;
    let listed = rpc.call("services.list", json!({})).await;
    assert_eq!(listed.ok()["services"][1]["users"], 0);
    let (status, body) = d.lookup(&new_token, &["김철수", "bob", "carol"]).await;
    assert_eq!(status, 200);
    for entry in body["users"].as_array().expect("users") {
        assert_eq!(entry["key"], Value::Null, "{entry}");
        assert_eq!(entry["key_withheld"], "service_not_allowed", "{entry}");
    }
    // The old token stays refused after the name is taken again.
    assert_eq!(d.lookup(&old_token, &["bob"]).await.0, 401);

    // Deleting a service nobody allows removes nothing.
    rpc.call("services.create", json!({"name": "unused"}))
        .await
        .ok();
    let deleted = rpc.call("services.delete", json!({"name": "unused"})).await;
    assert_eq!(deleted.ok()["grants_removed"], 0);
    assert_eq!(
        events(&mut rpc, "services.delete").await[0]["detail"],
        "service=unused, removed from 0 users"
    );
}

#[tokio::test]
async fn a_name_held_from_before_the_rule_opens_nothing_and_is_dropped_when_the_service_is_created()
{
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    rpc.call(
        "users.create",
        json!({"users": [user("legacy", &[]), user("other", &[])]}),
    )
    .await
    .ok();
    // As an older mama let it be: a grant of a service that does not exist.
    d.db.execute(
        "UPDATE users SET services = '[\"ghost\"]' WHERE id = 'legacy';
         INSERT INTO user_services (user_id, service) VALUES ('legacy', 'ghost');",
    );
    let legacy = &get_users(&mut rpc, &["legacy"]).await[0];
    assert_eq!(legacy["services"], json!(["ghost"]));

    // The user can still be edited with the name kept (only new grants are checked).
    let edited = rpc
        .call(
            "users.update",
            json!({"id": "legacy", "version": 1, "services": ["ghost"], "organization": "lab"}),
        )
        .await;
    assert_eq!(edited.ok()["version"], 2);

    // Creating the service drops the leftover: the new service is granted to nobody.
    let token = rpc.service_token("ghost").await;
    let listed = rpc.call("services.list", json!({})).await;
    assert_eq!(listed.ok()["services"][0]["users"], 0);
    let legacy = &get_users(&mut rpc, &["legacy"]).await[0];
    assert_eq!(
        (&legacy["services"], &legacy["version"]),
        (&json!([]), &json!(3))
    );
    let (status, body) = d.lookup(&token, &["legacy"]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["users"][0]["key_withheld"], "service_not_allowed",
        "{body}"
    );
    let created = events(&mut rpc, "services.create").await;
    assert_eq!(created[0]["user_ids"], json!(["legacy"]));
    assert_eq!(
        created[0]["detail"],
        "service=ghost, stale grant removed from 1 user"
    );

    // From now on the grant is the service's own.
    rpc.call(
        "users.bulk_update",
        json!({"ids": ["legacy"], "services": {"op": "add", "values": ["ghost"]}}),
    )
    .await
    .ok();
    let (_, body) = d.lookup(&token, &["legacy"]).await;
    assert!(body["users"][0]["key"].is_string(), "{body}");
}

#[tokio::test]
async fn a_grant_racing_the_delete_of_its_service_never_outlives_it() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    rpc.call("services.create", json!({"name": "chat"}))
        .await
        .ok();
    let ids: Vec<String> = (0..20).map(|i| format!("u{i:02}")).collect();
    let users: Vec<Value> = ids.iter().map(|id| user(id, &[])).collect();
    rpc.call("users.create", json!({ "users": users }))
        .await
        .ok();

    // Grants of chat, one user each, while chat is deleted: each grant either lands before the
    // delete (which then takes it away) or is refused after it.
    let mut grants = Vec::new();
    for id in ids.clone() {
        let mut rpc = rpc.clone();
        grants.push(tokio::spawn(async move {
            rpc.call(
                "users.bulk_update",
                json!({"ids": [id], "services": {"op": "add", "values": ["chat"]}}),
            )
            .await
        }));
    }
    let deleted = rpc.call("services.delete", json!({"name": "chat"})).await;
    let removed = deleted.ok()["grants_removed"].as_u64().expect("a count");
    let mut refused = 0;
    for grant in grants {
        let reply = grant.await.expect("task");
        if reply.body.get("error").is_some() {
            assert_eq!(reply.code(), "invalid_params", "{}", reply.body);
            refused += 1;
        }
    }
    assert_eq!(
        removed + refused,
        ids.len() as u64,
        "every grant was either removed or refused"
    );
    let holders = rpc
        .call("users.count", json!({"filter": {"service": "chat"}}))
        .await;
    assert_eq!(holders.ok()["matching"], 0);
    let all: Vec<&str> = ids.iter().map(String::as_str).collect();
    for u in get_users(&mut rpc, &all).await {
        assert_eq!(u["services"], json!([]), "{u}");
    }
}

/// With two daemons on one PostgreSQL, a service deleted through one is gone for the other at
/// once: its token is refused and its grants no longer open a key, whatever the other cached.
#[tokio::test]
async fn a_service_deleted_through_one_daemon_is_gone_for_the_other_at_once() {
    let a = Daemon::start();
    if a.db.kind != mama_tests::harness::database::Kind::Postgres {
        eprintln!("one daemon owns a SQLite file: this test needs MAMA_TEST_DATABASE=postgres");
        return;
    }
    let mut rpc_a = a.admin().await;
    let old_token = rpc_a.service_token("chat").await;
    rpc_a
        .call("users.create", json!({"users": [user("bob", &["chat"])]}))
        .await
        .ok();
    let data = a.dir.path().join("data");
    let key_files = [
        "--encryption-key-file".to_string(),
        data.join("encryption.key").to_string_lossy().into_owned(),
        "--jwt-key-file".to_string(),
        data.join("jwt.key").to_string_lossy().into_owned(),
    ];
    let args: Vec<&str> = key_files.iter().map(String::as_str).collect();
    let b = Daemon::start_on(tempfile::tempdir().unwrap(), a.db.shared(), &args, &[]);
    // Twice, so B surely holds bob's answer in its cache.
    for _ in 0..2 {
        let (status, body) = b.lookup(&old_token, &["bob"]).await;
        assert_eq!(status, 200);
        assert!(body["users"][0]["key"].is_string(), "{body}");
    }

    let deleted = rpc_a.call("services.delete", json!({"name": "chat"})).await;
    assert_eq!(deleted.ok()["grants_removed"], 1);
    assert_eq!(b.lookup(&old_token, &["bob"]).await.0, 401);
    let new_token = rpc_a.service_token("chat").await;
    let (status, body) = b.lookup(&new_token, &["bob"]).await;
    assert_eq!(status, 200);
    assert_eq!(body["users"][0]["services"], json!([]), "{body}");
    assert_eq!(body["users"][0]["key_withheld"], "service_not_allowed");
}

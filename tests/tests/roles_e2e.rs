//! Roles and organization scopes (issue 18), through the real daemon on both databases.
//!
//! The matrix calls every admin RPC method the contract declares as every kind of account —
//! super admin, admin, viewer, and an admin and a viewer limited to one organization — and
//! checks each call against the method table: allowed calls work, refused ones answer
//! `forbidden`, change nothing and leave an event naming the account. A method added to the
//! contract without a sample here fails the test. Every response a viewer received is searched
//! for the users' keys.

use mama_core::api::rpc::{methods, Caller};
use mama_core::api::types::Role;
use mama_tests::harness::daemon::ADMIN_PASSWORD;
use mama_tests::harness::{sync, Daemon, RpcClient, RpcReply};
use mama_tests::standin::StandIn;
use serde_json::{json, Value};

const PASSWORD: &str = "a long enough password 42";
const NEW_PASSWORD: &str = "yet another password 77";

/// One kind of account in the matrix.
#[derive(Debug, Clone, Copy)]
struct Account {
    name: &'static str,
    role: Role,
    scope: Option<&'static [&'static str]>,
}

const ACCOUNTS: &[Account] = &[
    Account {
        name: "helper",
        role: Role::Admin,
        scope: None,
    },
    Account {
        name: "auditor",
        role: Role::Viewer,
        scope: None,
    },
    Account {
        name: "alpha-admin",
        role: Role::Admin,
        scope: Some(&["alpha"]),
    },
    Account {
        name: "alpha-viewer",
        role: Role::Viewer,
        scope: Some(&["alpha"]),
    },
    // Last: its password change ends the fixture's session too.
    Account {
        name: "admin",
        role: Role::Super,
        scope: None,
    },
];

fn user(id: &str, org: &str) -> Value {
    json!({"id": id, "organization": org, "models": ["gpt-4o"], "services": ["chat"], "info": {}})
}

/// Creates `name` as the super admin and signs in as it (changing the first password).
async fn account(d: &Daemon, root: &mut RpcClient, a: &Account) -> RpcClient {
    if a.role != Role::Super {
        root.call(
            "admins.create",
            json!({"username": a.name, "password": "first password 123", "role": a.role.as_str(),
                   "organizations": a.scope}),
        )
        .await
        .ok();
    }
    let mut rpc = d.rpc();
    if a.role == Role::Super {
        rpc.login(a.name, ADMIN_PASSWORD).await;
        return rpc;
    }
    rpc.login(a.name, "first password 123").await;
    let changed = rpc
        .call(
            "auth.change_password",
            json!({"old_password": "first password 123", "new_password": PASSWORD}),
        )
        .await;
    rpc.token = Some(changed.ok()["token"].as_str().expect("token").to_string());
    rpc
}

/// Params that succeed for `method` called by `who`, given the fixture [`prepare`] made for
/// it. `None`: the method has no sample (the test fails).
fn sample(
    method: &str,
    who: &str,
    versions: &Value,
    token_ids: &Value,
    undo_ids: &Value,
) -> Option<Value> {
    Some(match method {
        "auth.refresh" | "auth.logout" | "auth.whoami" | "admins.list" | "services.list"
        | "organizations.list" | "sync.status" | "sync.reconcile" | "usage.refresh" => json!({}),
        "sync.retry_failed" => json!({}),
        "auth.change_password" => {
            json!({"old_password": password_of(who), "new_password": NEW_PASSWORD})
        }
        "admins.create" => {
            json!({"username": format!("new-{who}"), "password": "a long password 123",
                                  "role": "viewer", "organizations": ["alpha"]})
        }
        "admins.update" => json!({"username": format!("upd-{who}"), "role": "viewer",
                                  "organizations": ["alpha"]}),
        "admins.delete" => json!({"username": format!("gone-{who}")}),
        "users.list" => json!({"page": {"offset": 0, "limit": 50}, "counts": true}),
        "users.list_ids" | "users.count" => json!({"filter": {}}),
        "users.get" => json!({"ids": ["a1", "b1"]}),
        "users.reveal_key" => json!({"id": "a1"}),
        "users.create" => json!({"users": [user(&format!("new-{who}"), "alpha")]}),
        "users.update" => json!({"id": "a1", "version": versions["a1"], "info": {"by": who}}),
        "users.delete" => json!({"ids": [format!("del-{who}")]}),
        "users.bulk_update" => {
            json!({"ids": ["a1", "a2"], "models": {"op": "add", "values": [format!("m-{who}")]}})
        }
        "users.rotate_keys" => json!({"ids": ["a2"]}),
        "users.trash" => json!({"text": "trash-"}),
        "users.restore" => json!({"ids": [format!("trash-{who}")]}),
        "users.purge" => json!({"ids": [format!("purge-{who}")]}),
        "services.create" => json!({"name": format!("svc-{who}")}),
        "services.delete" => json!({"name": format!("del-svc-{who}")}),
        "services.issue_token" => json!({"service": "chat"}),
        "services.revoke_token" => json!({"id": token_ids[who]}),
        "organizations.set_defaults" => {
            json!({"name": "alpha", "defaults": {"max_budget": 5, "rpm_limit": 60}})
        }
        "events.list" => json!({"page": {"offset": 0, "limit": 20}}),
        "events.undo" => json!({"event_id": undo_ids[who], "dry_run": true}),
        "models.list" => json!({}),
        "usage.query" => json!({"group": ["user"]}),
        _ => return None,
    })
}

fn password_of(who: &str) -> &'static str {
    if who == "admin" {
        ADMIN_PASSWORD
    } else {
        PASSWORD
    }
}

/// What the daemon holds, as the super admin sees it, to compare around a refused call.
async fn state(root: &mut RpcClient) -> Value {
    let users = root
        .call(
            "users.list",
            json!({"page": {"offset": 0, "limit": 500}, "counts": true}),
        )
        .await;
    let users: Vec<Value> = users.ok()["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| json!([u["id"], u["version"], u["organization"]]))
        .collect();
    let services = root.call("services.list", json!({})).await;
    let services: Vec<Value> = services.ok()["services"]
        .as_array()
        .expect("services")
        .iter()
        .map(|s| json!([s["name"], s["tokens"].as_array().map(|t| t.len())]))
        .collect();
    let admins = root.call("admins.list", json!({})).await;
    let admins: Vec<Value> = admins.ok()["admins"]
        .as_array()
        .expect("admins")
        .iter()
        .map(|a| json!([a["username"], a["role"], a["organizations"]]))
        .collect();
    let orgs = root.call("organizations.list", json!({})).await;
    json!({"users": users, "services": services, "admins": admins,
           "organizations": orgs.ok()["organizations"]})
}

/// The per-account fixture: a user, service and admins to delete, a token to revoke.
async fn prepare(root: &mut RpcClient, who: &str) -> String {
    let (trashed, purged) = (format!("trash-{who}"), format!("purge-{who}"));
    root.call(
        "users.create",
        json!({"users": [user(&format!("del-{who}"), "alpha"), user(&trashed, "alpha"),
                         user(&purged, "alpha")]}),
    )
    .await
    .ok();
    root.call("users.delete", json!({"ids": [trashed, purged]}))
        .await
        .ok();
    root.call("services.create", json!({"name": format!("del-svc-{who}")}))
        .await
        .ok();
    for name in [format!("gone-{who}"), format!("upd-{who}")] {
        root.call(
            "admins.create",
            json!({"username": name, "password": "some password 123", "role": "admin"}),
        )
        .await
        .ok();
    }
    let issued = root
        .call("services.issue_token", json!({"service": "chat"}))
        .await;
    issued.ok()["id"].as_str().expect("token id").to_string()
}

async fn versions(root: &mut RpcClient) -> Value {
    let got = root
        .call("users.get", json!({"ids": ["a1", "a2", "b1"]}))
        .await;
    let mut out = serde_json::Map::new();
    for u in got.ok()["users"].as_array().expect("users") {
        out.insert(
            u["id"].as_str().expect("id").to_string(),
            u["version"].clone(),
        );
    }
    Value::Object(out)
}

/// The newest event of `actor` calling `action`.
async fn last_event(root: &mut RpcClient, actor: &str, action: &str) -> Value {
    let events = root
        .call(
            "events.list",
            json!({"filter": {"actor": actor, "action": action}, "page": {"offset": 0, "limit": 1}}),
        )
        .await;
    events.ok()["events"][0].clone()
}

#[tokio::test]
async fn every_method_as_every_role_matches_the_method_table() {
    // The LiteLLM stand-in answers the methods that reach LiteLLM (reconcile, usage refresh).
    let standin = StandIn::start().await.expect("stand-in");
    let key = sync::key_file(standin.master_key());
    let mut args = sync::sync_args(&standin.base_url(), &key);
    args.extend(["--trash-days".into(), "7".into()]);
    let d = sync::start_synced(&args, &sync::envs(&sync::unique_prefix()), None);
    let mut root = d.admin().await;
    root.call("services.create", json!({"name": "chat"}))
        .await
        .ok();
    root.call(
        "users.create",
        json!({"users": [user("a1", "alpha"), user("a2", "alpha"), user("b1", "beta")]}),
    )
    .await
    .ok();
    let keys: Vec<String> = root
        .call("users.get", json!({"ids": ["a1", "a2", "b1"]}))
        .await
        .ok()["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            u["key"]
                .as_str()
                .expect("a super admin sees keys")
                .to_string()
        })
        .collect();
    assert_eq!(keys.len(), 3);

    let mut clients = Vec::new();
    let mut token_ids = serde_json::Map::new();
    for a in ACCOUNTS {
        let rpc = account(&d, &mut root, a).await;
        token_ids.insert(a.name.into(), Value::from(prepare(&mut root, a.name).await));
        clients.push((a, rpc));
    }
    let token_ids = Value::Object(token_ids);
    // An undoable event per account: the creation of its users to delete (a preview of its
    // undo changes nothing, so every account's call finds it as it was).
    let created = root
        .call(
            "events.list",
            json!({"filter": {"action": "users.create", "result": "ok"}, "page": {"offset": 0, "limit": 100}}),
        )
        .await;
    let undo_id = created.ok()["events"][0]["id"].clone();
    let undo_ids = json!(ACCOUNTS
        .iter()
        .map(|a| (a.name.to_string(), undo_id.clone()))
        .collect::<serde_json::Map<_, _>>());

    // Signing out and changing the own password end the session: they go last.
    let last = ["auth.change_password", "auth.logout"];
    let mut declared: Vec<_> = methods()
        .iter()
        .filter(|m| m.caller != Caller::Anyone)
        .collect();
    declared.sort_by_key(|m| last.iter().position(|l| *l == m.name));
    assert!(declared.len() >= 30, "{declared:?}");

    let mut refused = 0;
    for (a, rpc) in &mut clients {
        let mut viewer_bodies = String::new();
        for m in &declared {
            let versions = versions(&mut root).await;
            let params = sample(m.name, a.name, &versions, &token_ids, &undo_ids)
                .unwrap_or_else(|| panic!("{} is declared without a sample here: add one", m.name));
            let allowed = m.caller.admits(a.role, a.scope.is_some());
            let before = if allowed.is_err() {
                Some(state(&mut root).await)
            } else {
                None
            };
            let reply: RpcReply = rpc.call(m.name, params).await;
            if a.role == Role::Viewer {
                viewer_bodies.push_str(&reply.body.to_string());
            }
            // A refresh revokes the token it replaces; a password change ends every other
            // session (the fixture's too, for the super admin).
            if reply.body.get("error").is_none()
                && matches!(m.name, "auth.refresh" | "auth.change_password")
            {
                rpc.token = Some(reply.ok()["token"].as_str().expect("token").to_string());
                if a.role == Role::Super && m.name == "auth.change_password" {
                    root.login("admin", NEW_PASSWORD).await;
                }
            }
            match allowed {
                Ok(()) => {
                    assert!(
                        reply.body.get("error").is_none(),
                        "{} as {} ({:?}, scope {:?}) should work: {}",
                        m.name,
                        a.name,
                        a.role,
                        a.scope,
                        reply.body
                    );
                }
                Err(why) => {
                    refused += 1;
                    assert_eq!(
                        (reply.status, reply.code()),
                        (403, "forbidden"),
                        "{} as {}: {}",
                        m.name,
                        a.name,
                        reply.body
                    );
                    assert_eq!(reply.error()["message"], why, "{}", reply.body);
                    assert_eq!(
                        state(&mut root).await,
                        before.expect("state before"),
                        "{} as {} changed something while refused",
                        m.name,
                        a.name
                    );
                    let event = last_event(&mut root, a.name, m.name).await;
                    assert_eq!(
                        event["result"], "error",
                        "{} as {}: {event}",
                        m.name, a.name
                    );
                    assert_eq!(event["error_code"], "forbidden", "{event}");
                }
            }
        }
        for key in &keys {
            assert!(
                !viewer_bodies.contains(key.as_str()),
                "{} (a viewer) received a key",
                a.name
            );
        }
    }
    // 3 super-only methods × 4 accounts, every change × 2 viewers, global ones × scoped admin.
    assert!(refused >= 40, "only {refused} calls were refused");
}

/// A scoped admin sees, counts and changes only its organizations' users, whatever it names.
#[tokio::test]
async fn a_scoped_admin_acts_only_within_its_organizations() {
    let d = Daemon::start();
    let mut root = d.admin().await;
    root.call("services.create", json!({"name": "chat"}))
        .await
        .ok();
    let mut batch = Vec::new();
    for i in 0..30 {
        let org = ["alpha", "beta", "gamma"][i % 3];
        batch.push(user(&format!("u{i:02}"), org));
    }
    root.call("users.create", json!({"users": batch}))
        .await
        .ok();
    let a = Account {
        name: "scoped",
        role: Role::Admin,
        scope: Some(&["alpha", "gamma"]),
    };
    let mut rpc = account(&d, &mut root, &a).await;

    let who = rpc.call("auth.whoami", json!({})).await;
    assert_eq!(who.ok()["organizations"], json!(["alpha", "gamma"]));

    // Lists and counts are of its organizations alone.
    let list = rpc
        .call(
            "users.list",
            json!({"page": {"offset": 0, "limit": 100}, "counts": true}),
        )
        .await;
    let listed = list.ok()["users"].as_array().expect("users").clone();
    assert_eq!(listed.len(), 20);
    assert!(listed.iter().all(|u| u["organization"] != "beta"));
    assert_eq!(list.ok()["total"], 20);
    let count = rpc
        .call("users.count", json!({"filter": {"text": "u0"}}))
        .await;
    assert_eq!(count.ok()["total"], 20);
    assert_eq!(
        count.ok()["matching"],
        7,
        "u00..u09 minus beta's u01 u04 u07"
    );
    let ids = rpc
        .call(
            "users.list_ids",
            json!({"filter": {"organization": "beta"}}),
        )
        .await;
    assert_eq!(ids.ok()["ids"], json!([]));
    let orgs = rpc.call("organizations.list", json!({})).await;
    let names: Vec<&str> = orgs.ok()["organizations"]
        .as_array()
        .expect("organizations")
        .iter()
        .map(|o| o["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["alpha", "gamma"]);

    // A bulk change on a filter (here: everyone) touches only its organizations.
    let bulk = rpc
        .call(
            "users.bulk_update",
            json!({"filter": {}, "models": {"op": "add", "values": ["llama3"]}}),
        )
        .await;
    assert_eq!(bulk.ok()["matched"], 20, "{}", bulk.body);
    let beta = root
        .call("users.list", json!({"filter": {"model": "llama3"}, "page": {"offset": 0, "limit": 100}, "counts": true}))
        .await;
    assert_eq!(beta.ok()["matching"], 20);
    assert!(beta.ok()["users"]
        .as_array()
        .expect("users")
        .iter()
        .all(|u| u["organization"] != "beta"));

    // Users of other organizations do not exist for it: not found, nothing done.
    let before = state(&mut root).await;
    let got = rpc.call("users.get", json!({"ids": ["u00", "u01"]})).await;
    assert_eq!(got.ok()["missing"], json!(["u01"]));
    let del = rpc
        .call("users.delete", json!({"ids": ["u00", "u01"]}))
        .await;
    assert_eq!(del.code(), "not_found", "{}", del.body);
    assert_eq!(del.error()["missing"], json!(["u01"]));
    let bulk = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["u00", "u01"], "models": {"op": "add", "values": ["x"]}}),
        )
        .await;
    assert_eq!(bulk.code(), "not_found", "{}", bulk.body);
    let rotate = rpc.call("users.rotate_keys", json!({"ids": ["u01"]})).await;
    assert_eq!(rotate.code(), "not_found");
    let update = rpc
        .call(
            "users.update",
            json!({"id": "u01", "version": 1, "info": {"x": "y"}}),
        )
        .await;
    assert_eq!(update.code(), "not_found");
    // It cannot move a user out of its scope, nor create one outside it.
    let u00 = rpc.call("users.get", json!({"ids": ["u00"]})).await;
    let version = u00.ok()["users"][0]["version"].clone();
    let moved = rpc
        .call(
            "users.update",
            json!({"id": "u00", "version": version, "organization": "beta"}),
        )
        .await;
    assert_eq!(moved.code(), "forbidden", "{}", moved.body);
    let moved = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ["u00"], "organization": "beta"}),
        )
        .await;
    assert_eq!(moved.code(), "forbidden", "{}", moved.body);
    let created = rpc
        .call(
            "users.create",
            json!({"users": [user("n1", "alpha"), user("n2", "beta")]}),
        )
        .await;
    assert_eq!(created.code(), "forbidden", "{}", created.body);
    assert_eq!(
        created.error()["fields"][0]["field"],
        "users[1].organization"
    );
    let defaults = rpc
        .call(
            "organizations.set_defaults",
            json!({"name": "beta", "defaults": {"max_budget": 1}}),
        )
        .await;
    assert_eq!(defaults.code(), "forbidden");
    assert_eq!(state(&mut root).await, before, "nothing changed");

    // Its event log is its own actions, or the history of one of its users.
    let events = rpc
        .call("events.list", json!({"page": {"offset": 0, "limit": 100}}))
        .await;
    assert!(events.ok()["events"]
        .as_array()
        .expect("events")
        .iter()
        .all(|e| e["actor"] == "scoped"));
    let other = rpc
        .call(
            "events.list",
            json!({"filter": {"user_id": "u01"}, "page": {"offset": 0, "limit": 100}}),
        )
        .await;
    assert_eq!(other.ok()["events"], json!([]));
    let own = rpc
        .call(
            "events.list",
            json!({"filter": {"user_id": "u00"}, "page": {"offset": 0, "limit": 100}}),
        )
        .await;
    assert!(own.ok()["events"]
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["actor"] == "admin" && e["action"] == "users.create"));
}

/// A change of role or scope ends the account's sessions at once; the new scope applies to
/// the next session. An empty scope is nothing, never everything.
#[tokio::test]
async fn a_role_or_scope_change_ends_the_sessions() {
    let d = Daemon::start();
    let mut root = d.admin().await;
    root.call("services.create", json!({"name": "chat"}))
        .await
        .ok();
    root.call(
        "users.create",
        json!({"users": [user("a1", "alpha"), user("b1", "beta")]}),
    )
    .await
    .ok();
    let a = Account {
        name: "desk",
        role: Role::Admin,
        scope: None,
    };
    let mut rpc = account(&d, &mut root, &a).await;
    let list = rpc.call("users.count", json!({"filter": {}})).await;
    assert_eq!(list.ok()["matching"], 2);

    let updated = root
        .call(
            "admins.update",
            json!({"username": "desk", "role": "viewer", "organizations": []}),
        )
        .await;
    assert_eq!(updated.ok()["role"], "viewer");
    assert_eq!(updated.ok()["organizations"], json!([]));
    let after = rpc.call("users.count", json!({"filter": {}})).await;
    assert_eq!(after.code(), "session_revoked", "{}", after.body);

    rpc.login("desk", PASSWORD).await;
    let who = rpc.call("auth.whoami", json!({})).await;
    assert_eq!(who.ok()["role"], "viewer");
    let count = rpc.call("users.count", json!({"filter": {}})).await;
    assert_eq!(count.ok()["matching"], 0, "an empty scope sees nobody");
    assert_eq!(count.ok()["total"], 0);
    let got = rpc.call("users.get", json!({"ids": ["a1"]})).await;
    assert_eq!(got.ok()["users"], json!([]));

    // Checked: a super admin is never scoped, nobody changes their own role, the last super
    // admin keeps the role.
    let bad = root
        .call(
            "admins.update",
            json!({"username": "desk", "role": "super", "organizations": ["alpha"]}),
        )
        .await;
    assert_eq!(bad.code(), "invalid_params");
    assert_eq!(bad.error()["fields"][0]["field"], "organizations");
    let own = root
        .call(
            "admins.update",
            json!({"username": "admin", "role": "admin"}),
        )
        .await;
    assert_eq!(own.code(), "forbidden");
    let unknown = root
        .call(
            "admins.update",
            json!({"username": "nobody", "role": "admin"}),
        )
        .await;
    assert_eq!(unknown.code(), "not_found");
}

//! When the event log cannot be written, nothing happens without its record: every change the
//! admin RPC declares, a service's lookup and a sign-in fail whole with `unavailable`, `/readyz`
//! says not ready, and all of it heals by itself once events can be stored again.
//!
//! Two faults: every event insert refused at the database (a trigger; both databases), and, on
//! SQLite when the tests run as root, the data directory's filesystem really full (a small
//! tmpfs filled to the last block).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use mama_core::api::rpc::{methods, Caller};
use mama_core::api::types::EventKind;
use mama_tests::harness::daemon::ADMIN_PASSWORD;
use mama_tests::harness::database::{self, Kind, TestDatabase};
use mama_tests::harness::{Daemon, RpcClient};
use serde_json::{json, Value};

fn user(id: &str) -> Value {
    json!({"id": id, "organization": "org", "models": ["gpt-4o"], "services": ["chat"], "info": {}})
}

async fn ready(d: &Daemon) -> u16 {
    reqwest::get(d.rest_url("/readyz"))
        .await
        .expect("readyz answers")
        .status()
        .as_u16()
}

/// What the daemon holds, to compare before and after a fault.
async fn state(rpc: &mut RpcClient) -> Value {
    let users = rpc
        .call("users.get", json!({"ids": ["u1", "u2", "u3"]}))
        .await;
    let services = rpc.call("services.list", json!({})).await;
    let organizations = rpc.call("organizations.list", json!({})).await;
    let trash = rpc.call("users.trash", json!({})).await;
    let trash: Vec<Value> = trash.ok()["users"]
        .as_array()
        .expect("trash")
        .iter()
        .map(|u| u["id"].clone())
        .collect();
    let admins = rpc.call("admins.list", json!({})).await;
    let admins: Vec<Value> = admins.ok()["admins"]
        .as_array()
        .expect("admins")
        .iter()
        .map(|a| json!([a["username"], a["role"], a["password_changed_at"]]))
        .collect();
    json!({"users": users.ok()["users"], "missing": users.ok()["missing"],
           "services": services.ok()["services"], "admins": admins, "trash": trash,
           "organizations": organizations.ok()["organizations"]})
}

/// Params that would succeed for every change method of the admin RPC, given the fixture of
/// [`every_declared_change_fails_whole_while_events_cannot_be_stored`]. A method added to the
/// contract without a sample here fails the test, so it cannot escape the fault.
fn sample(method: &str, u1_version: i64, token_id: &str, undo_id: &str) -> Option<Value> {
    Some(match method {
        "auth.refresh" | "auth.logout" | "sync.reconcile" | "sync.retry_failed" => json!({}),
        "auth.change_password" => {
            json!({"old_password": ADMIN_PASSWORD, "new_password": "another long password 9"})
        }
        "admins.create" => {
            json!({"username": "newbie", "password": "a long password 123", "role": "admin"})
        }
        "admins.update" => {
            json!({"username": "helpdesk", "role": "viewer", "organizations": ["org"]})
        }
        "admins.delete" => json!({"username": "helpdesk"}),
        "users.create" => json!({"users": [user("u3")]}),
        "users.update" => json!({"id": "u1", "version": u1_version, "models": ["llama3"]}),
        "users.delete" => json!({"ids": ["u2"]}),
        "users.bulk_update" => {
            json!({"ids": ["u1", "u2"], "models": {"op": "add", "values": ["llama3"]}})
        }
        "users.rotate_keys" => json!({"ids": ["u1"]}),
        "users.restore" => json!({"ids": ["t1"]}),
        "events.undo" => json!({"event_id": undo_id}),
        "users.purge" => json!({"ids": ["t2"]}),
        "services.create" => json!({"name": "search"}),
        "services.delete" => json!({"name": "chat"}),
        "services.issue_token" => json!({"service": "chat"}),
        "services.revoke_token" => json!({"id": token_id}),
        "organizations.set_defaults" => {
            json!({"name": "org", "defaults": {"max_budget": 5, "rpm_limit": 60}})
        }
        "usage.refresh" => json!({}),
        _ => return None,
    })
}

#[tokio::test]
async fn every_declared_change_fails_whole_while_events_cannot_be_stored() {
    let d = Daemon::start_with(&["--trash-days", "7"], &[]);
    let mut rpc = d.admin().await;
    rpc.call("services.create", json!({"name": "chat"}))
        .await
        .ok();
    let issued = rpc
        .call("services.issue_token", json!({"service": "chat"}))
        .await;
    let token = issued.ok()["token"].as_str().expect("token").to_string();
    let token_id = issued.ok()["id"].as_str().expect("id").to_string();
    rpc.call(
        "users.create",
        json!({"users": [user("u1"), user("u2"), user("t1"), user("t2")]}),
    )
    .await
    .ok();
    // Two users in the trash, to restore and to purge.
    rpc.call("users.delete", json!({"ids": ["t1", "t2"]}))
        .await
        .ok();
    rpc.call(
        "admins.create",
        json!({"username": "helpdesk", "password": "helpdesk password 1", "role": "admin"}),
    )
    .await
    .ok();
    // The deletion of t1 and t2: undoing it would restore them.
    let deleted = rpc
        .call(
            "events.list",
            json!({"filter": {"action": "users.delete"}, "page": {"offset": 0, "limit": 1}}),
        )
        .await;
    let undo_id = deleted.ok()["events"][0]["id"]
        .as_str()
        .expect("event id")
        .to_string();
    let u1 = rpc.call("users.get", json!({"ids": ["u1"]})).await;
    let u1_version = u1.ok()["users"][0]["version"].as_i64().expect("version");
    let (status, _) = d.lookup(&token, &["u1"]).await;
    assert_eq!(status, 200);
    let before = state(&mut rpc).await;
    assert_eq!(ready(&d).await, 200);

    d.db.refuse_events();
    let changes: Vec<_> = methods()
        .iter()
        .filter(|m| m.kind == EventKind::Change && m.caller != Caller::Anyone)
        .collect();
    assert!(changes.len() >= 15, "{changes:?}");
    for m in &changes {
        let params = sample(m.name, u1_version, &token_id, &undo_id).unwrap_or_else(|| {
            panic!(
                "{} is a declared change without a sample here: add one",
                m.name
            )
        });
        let reply = rpc.call(m.name, params).await;
        assert_eq!(
            (reply.status, reply.code()),
            (503, "unavailable"),
            "{} while events cannot be stored: {}",
            m.name,
            reply.body
        );
        assert!(reply.body.get("result").is_none(), "{}", reply.body);
    }
    // A service's lookup hands out no key without its record, and a sign-in is refused the
    // same way whatever the password.
    let (status, body) = d.lookup(&token, &["u1"]).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(
        !body.to_string().contains("sk-"),
        "no key without its event: {body}"
    );
    for password in ["a wrong password", ADMIN_PASSWORD] {
        let mut other = d.rpc_tcp();
        let reply = other
            .call(
                "auth.login",
                json!({"username": "admin", "password": password}),
            )
            .await;
        assert_eq!((reply.status, reply.code()), (503, "unavailable"));
    }
    assert_eq!(ready(&d).await, 503);

    d.db.allow_events();
    assert_eq!(
        ready(&d).await,
        200,
        "ready again once events can be stored"
    );
    let after = state(&mut rpc).await;
    assert_eq!(after, before, "no change was applied without its event");
    let (status, body) = d.lookup(&token, &["u1"]).await;
    assert_eq!(status, 200, "{body}");
    // The session survived: logout and password change failed whole too.
    rpc.call("auth.whoami", json!({})).await.ok();
    let mut fresh = d.rpc_tcp();
    fresh.login("admin", ADMIN_PASSWORD).await;
}

/// A tmpfs mounted over a directory for the test's life (root only), unmounted on drop.
struct SmallFilesystem {
    at: PathBuf,
}

impl SmallFilesystem {
    fn mount(at: &Path, size: &str) -> Option<SmallFilesystem> {
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "none",
            ])
            .arg(at)
            .status()
            .ok()?;
        status.success().then(|| SmallFilesystem { at: at.into() })
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

fn code(body: &Value) -> &str {
    body["error"]["data"]["code"]
        .as_str()
        .or_else(|| body["error"]["code"].as_str())
        .unwrap_or("ok")
}

/// How many events of `action` succeeded.
async fn ok_events(rpc: &mut RpcClient, action: &str) -> usize {
    let reply = rpc
        .call(
            "events.list",
            json!({"filter": {"action": action, "result": "ok"}, "page": {"limit": 1}}),
        )
        .await;
    reply.ok()["matching"].as_u64().expect("matching") as usize
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Writes zeros to `path` until the filesystem refuses another block.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).expect("filler file");
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    let small = [0u8; 512];
    while file.write_all(&small).is_ok() {}
    let _ = file.sync_all();
}

#[tokio::test]
async fn a_full_filesystem_fails_requests_whole_and_heals_when_space_returns() {
    if database::kind() != Kind::Sqlite {
        eprintln!("skipped: a full filesystem under the daemon matters on SQLite only (PostgreSQL keeps events on its server; the trigger test covers it)");
        return;
    }
    if !running_as_root() {
        assert!(
            std::env::var_os("CI").is_none()
                && std::env::var_os("MAMA_REQUIRE_REAL_PROXY").is_none(),
            "CI runs as root: the full-filesystem test must run there"
        );
        eprintln!(
            "skipped: mounting a small tmpfs needs root (the trigger test covers the same paths)"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let _fs = SmallFilesystem::mount(dir.path(), "24m").expect("mount a tmpfs (as root)");
    let db = TestDatabase::create(dir.path());
    let d = Daemon::start_on(dir, db, &[], &[]);
    let mut rpc = d.admin().await;
    rpc.call("services.create", json!({"name": "chat"}))
        .await
        .ok();
    let token = rpc.service_token("chat").await;
    rpc.call("users.create", json!({"users": [user("u1")]}))
        .await
        .ok();

    let logins_before = ok_events(&mut rpc, "auth.login").await;
    let lookups_before = ok_events(&mut rpc, "rest.lookup").await;
    let filler = d.dir.path().join("filler");
    fill(&filler);

    // A full filesystem does not fail every write alike (a small insert may still fit where a
    // create does not), so each answer is checked for what it is: complete, with its event, or
    // `unavailable` with nothing done. Never another error, never a half.
    let mut created = Vec::new();
    let mut refused = Vec::new();
    let (mut logins_answered, mut lookups_answered, mut other_refusals) = (0, 0, 0);
    for i in 0..5_000 {
        let id = format!("full-{i}");
        let reply = rpc
            .call("users.create", json!({"users": [user(&id)]}))
            .await;
        match code(&reply.body) {
            "ok" => created.push(id),
            "unavailable" => refused.push(id),
            other => panic!("a full disk answered {other}: {}", reply.body),
        }
        let (status, body) = d.lookup(&token, &["u1"]).await;
        match status {
            200 => lookups_answered += 1,
            503 => {
                assert!(!body.to_string().contains("sk-"), "{body}");
                other_refusals += 1;
            }
            other => panic!("a lookup on a full disk answered {other}: {body}"),
        }
        let mut other = d.rpc_tcp();
        let reply = other
            .call(
                "auth.login",
                json!({"username": "admin", "password": ADMIN_PASSWORD}),
            )
            .await;
        match code(&reply.body) {
            "ok" => logins_answered += 1,
            "unavailable" => other_refusals += 1,
            other => panic!("a sign-in on a full disk answered {other}: {}", reply.body),
        }
        if refused.len() >= 3 && other_refusals >= 3 {
            break;
        }
    }
    eprintln!(
        "full filesystem: creates {} acknowledged, {} refused; lookups and sign-ins {} answered, {} refused",
        created.len(),
        refused.len(),
        lookups_answered + logins_answered,
        other_refusals
    );
    assert!(
        refused.len() >= 3,
        "the filesystem never refused a write ({} creates succeeded)",
        created.len()
    );

    std::fs::remove_file(&filler).expect("free the space");
    let mut healed = false;
    for _ in 0..100 {
        if ready(&d).await == 200 {
            healed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(healed, "ready again once the filesystem has space");
    // Every answered lookup and sign-in has its event; the refused ones have none.
    assert_eq!(
        ok_events(&mut rpc, "rest.lookup").await - lookups_before,
        lookups_answered
    );
    assert_eq!(
        ok_events(&mut rpc, "auth.login").await - logins_before,
        logins_answered
    );
    let mut fresh = d.rpc_tcp();
    fresh.login("admin", ADMIN_PASSWORD).await;
    let (status, _) = d.lookup(&token, &["u1"]).await;
    assert_eq!(status, 200);
    // Every acknowledged create is there, every refused one is not.
    let mut ids: Vec<&str> = created.iter().map(String::as_str).collect();
    ids.extend(refused.iter().map(String::as_str));
    let found = rpc.call("users.get", json!({ "ids": ids })).await;
    let missing: Vec<String> = serde_json::from_value(found.ok()["missing"].clone()).unwrap();
    assert_eq!(
        missing, refused,
        "refused creates left nothing, acknowledged ones stayed"
    );
    let events = rpc
        .call(
            "events.list",
            json!({"filter": {"action": "users.create"}, "page": {"limit": 1000}}),
        )
        .await;
    let ok_creates = events.ok()["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["result"] == "ok")
        .count();
    assert_eq!(
        ok_creates,
        created.len() + 1,
        "one event per acknowledged create (and the fixture's)"
    );
}

//! The canary scan: a daemon at `--log trace` goes through logins (a wrong password too),
//! creates, a bulk change LiteLLM answers by echoing the whole request (Authorization header
//! included), REST lookups, a rotation and deletes; then its log, its database (file and WAL on
//! SQLite, every table on PostgreSQL), every error body it sent and `/metrics` are searched for
//! every secret it handled: the admin passwords, the master key, the service token and every
//! virtual key. None may appear.

use std::time::Duration;

use mama_tests::harness::database::Kind;
use mama_tests::harness::sync::*;
use mama_tests::standin::{Fault, FaultRule, StandIn};
use serde_json::json;

#[tokio::test]
async fn no_secret_reaches_a_log_the_database_an_error_or_metrics() {
    let standin = StandIn::start().await.expect("stand-in");
    let master = standin.master_key().to_string();
    let key = key_file(&master);
    let prefix = unique_prefix();
    let mut env = envs(&prefix);
    env.push(("MAMA_LOG", "trace".into()));
    let mut args = sync_args(&standin.base_url(), &key);
    args.extend(["--log".into(), "trace".into()]);
    let mut d = start_synced(&args, &env, None);
    let mut rpc = d.admin().await;
    let mut secrets: Vec<(String, String)> = vec![
        ("master key".into(), master.clone()),
        (
            "admin password".into(),
            mama_tests::harness::daemon::ADMIN_PASSWORD.into(),
        ),
    ];
    let mut errors: Vec<String> = Vec::new();

    // A wrong password, over both listeners.
    let wrong = "canary-wrong-password-7f3a9c";
    secrets.push(("wrong password".into(), wrong.into()));
    for mut client in [d.rpc(), d.rpc_tcp()] {
        let reply = client
            .call(
                "auth.login",
                json!({"username": "admin", "password": wrong}),
            )
            .await;
        errors.push(reply.body.to_string());
    }

    let token = rpc.service_token("chat").await;
    secrets.push(("service token".into(), token.clone()));
    let ids = ids("canary-", 5);
    create(&mut rpc, &ids, &["gpt-4o"]).await;
    let rows = wait_active(&mut rpc, &ids).await;
    for u in &rows {
        secrets.push((
            format!("key of {}", u["id"]),
            u["key"].as_str().unwrap().into(),
        ));
    }

    // LiteLLM echoes mama's whole request back in its errors, master key included.
    standin.faults().inject(
        FaultRule::new(Fault::EchoRequest)
            .on("/key/update")
            .times(10),
    );
    let bulk = rpc
        .call(
            "users.bulk_update",
            json!({"ids": ids, "models": {"op": "add", "values": ["llama3"]}}),
        )
        .await;
    bulk.ok();
    wait_active(&mut rpc, &ids).await;
    assert!(standin.faults().active().is_empty(), "the echo was met");

    let client = reqwest::Client::new();
    let lookup = client
        .post(d.rest_url("/api/v1/users/lookup"))
        .bearer_auth(&token)
        .json(&json!({"user_ids": ids}))
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.status().as_u16(), 200);
    let refused = client
        .post(d.rest_url("/api/v1/users/lookup"))
        .bearer_auth(format!("{token}x"))
        .json(&json!({"user_ids": ids}))
        .send()
        .await
        .unwrap();
    errors.push(refused.text().await.unwrap());
    let bad_rpc = rpc
        .call("users.get", json!({"ids": ["not a valid id"]}))
        .await;
    errors.push(bad_rpc.body.to_string());

    rpc.call("users.rotate_keys", json!({"ids": ids}))
        .await
        .ok();
    let rotated = wait_active(&mut rpc, &ids).await;
    for u in &rotated {
        secrets.push((
            format!("new key of {}", u["id"]),
            u["key"].as_str().unwrap().into(),
        ));
    }
    let metrics = client
        .get(d.rest_url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    rpc.call("users.delete", json!({"ids": ids})).await.ok();
    tokio::time::sleep(Duration::from_millis(500)).await;
    d.terminate();

    let log = d.log_text();
    assert!(
        log.contains("TRACE") || log.contains("trace"),
        "the log is at trace level"
    );
    let mut places: Vec<(String, Vec<u8>)> = vec![
        ("the log".into(), log.into_bytes()),
        ("/metrics".into(), metrics.into_bytes()),
        ("error bodies".into(), errors.join("\n").into_bytes()),
    ];
    match (d.db.kind, d.db.sqlite_path()) {
        (Kind::Sqlite, Some(path)) => {
            for suffix in ["", "-wal"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                if let Ok(bytes) = std::fs::read(&file) {
                    places.push((format!("database file {suffix}"), bytes));
                }
            }
        }
        _ => {
            let dump = d.db.query(
                "SELECT string_agg(t::text, E'\\n') FROM (SELECT row_to_json(e)::text AS t FROM events e UNION ALL SELECT row_to_json(u)::text FROM users u UNION ALL SELECT row_to_json(o)::text FROM outbox o UNION ALL SELECT row_to_json(a)::text FROM admins a UNION ALL SELECT row_to_json(s)::text FROM service_tokens s) x",
            );
            places.push(("PostgreSQL tables".into(), dump.into_bytes()));
        }
    }
    let mut hits = Vec::new();
    for (what, secret) in &secrets {
        for (place, bytes) in &places {
            if contains(bytes, secret.as_bytes()) {
                hits.push(format!("{what} found in {place}"));
            }
        }
    }
    assert!(hits.is_empty(), "{hits:#?}");
    assert!(
        secrets.len() >= 14,
        "every secret was collected: {}",
        secrets.len()
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

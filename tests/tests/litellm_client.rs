//! The reqwest LiteLLM client against the stand-in (one test per status, quirk and fault) and,
//! when `LITELLM_BASE_URL` and `LITELLM_MASTER_KEY` are set, against the real proxy.

use std::time::Duration;

use mama_core::litellm::{
    key_hash, GenerateKey, KeyConfirmation, KeyStatus, ListKeys, LiteLlm, LiteLlmConfig,
    LiteLlmError, NewTeam, ReqwestLiteLlm, SecretString, UpdateKey,
};
use mama_tests::standin::{Fault, FaultRule, StandIn};
use serde_json::{json, Map, Value};

const ACTOR: &str = "mama-test";

fn client_for(base_url: &str, master_key: &str, timeout: Duration) -> ReqwestLiteLlm {
    let mut config = LiteLlmConfig::new(base_url, SecretString::new(master_key));
    config.request_timeout = timeout;
    ReqwestLiteLlm::new(config).expect("valid test config")
}

fn client(standin: &StandIn) -> ReqwestLiteLlm {
    client_for(
        &standin.base_url(),
        standin.master_key(),
        Duration::from_secs(10),
    )
}

/// A short timeout for slow/hang faults: the assertion is on the classification, not on time.
fn impatient_client(standin: &StandIn) -> ReqwestLiteLlm {
    client_for(
        &standin.base_url(),
        standin.master_key(),
        Duration::from_millis(500),
    )
}

fn mama_metadata(user: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("managed_by".into(), json!("mama"));
    m.insert("mama_user".into(), json!(user));
    m
}

/// A fresh key request with a unique value and alias.
fn new_key(prefix: &str, name: &str, models: &[&str]) -> GenerateKey {
    GenerateKey {
        key: SecretString::new(format!("sk-mama-{}", uuid::Uuid::new_v4().simple())),
        key_alias: Some(format!("{prefix}-{name}")),
        models: models.iter().map(|m| (*m).to_owned()).collect(),
        user_id: Some(format!("{prefix}-{name}-user")),
        team_id: None,
        metadata: mama_metadata(name),
        blocked: false,
        limits: Default::default(),
    }
}

fn unique_prefix() -> String {
    format!(
        "mama-test-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// One story for both peers: generate → info → update → the key opens exactly its models →
// delete → info says deleted.
// ---------------------------------------------------------------------------------------------

async fn lifecycle_story(c: &ReqwestLiteLlm, prefix: &str) {
    let req = new_key(prefix, "life", &["gpt-4o", "mock-gpt"]);
    let created = c.generate_key(ACTOR, &req).await.expect("generate");
    assert_eq!(created.token, key_hash(req.key.expose()));
    assert_eq!(created.key_alias, req.key_alias);
    assert_eq!(created.models, req.models);

    let info = c
        .key_info(&created.token)
        .await
        .expect("info")
        .expect("exists");
    assert_eq!(info.status, KeyStatus::Active);
    assert_eq!(info.token, created.token);
    assert_eq!(info.models, strings(&["gpt-4o", "mock-gpt"]));
    assert_eq!(info.user_id, req.user_id);
    assert_eq!(info.metadata.get("managed_by"), Some(&json!("mama")));
    assert_eq!(info.key_type.as_deref(), Some("llm_api"));

    let update = UpdateKey {
        models: Some(strings(&["mock-gpt", "llama3"])),
        ..UpdateKey::default()
    };
    let updated = c
        .update_key(ACTOR, &created.token, &update)
        .await
        .expect("update");
    assert_eq!(updated.models, strings(&["mock-gpt", "llama3"]));
    // Only the sent fields change.
    assert_eq!(updated.key_alias, req.key_alias);
    assert_eq!(updated.metadata.get("managed_by"), Some(&json!("mama")));

    let mut visible = c
        .models_visible_to(&req.key)
        .await
        .expect("models with the key");
    visible.sort();
    assert_eq!(visible, strings(&["llama3", "mock-gpt"]));

    c.delete_keys(ACTOR, std::slice::from_ref(&created.token))
        .await
        .expect("delete");
    let after = c
        .key_info(&created.token)
        .await
        .expect("info after delete")
        .expect("archived");
    assert_eq!(after.status, KeyStatus::Deleted);
    let gone = c
        .models_visible_to(&req.key)
        .await
        .expect_err("deleted key is refused");
    assert!(
        matches!(gone, LiteLlmError::Unauthorized { .. }),
        "{gone:?}"
    );
    let again = c
        .update_key(ACTOR, &created.token, &update)
        .await
        .expect_err("update deleted");
    assert!(matches!(again, LiteLlmError::NotFound { .. }), "{again:?}");
}

async fn duplicate_alias_story(c: &ReqwestLiteLlm, prefix: &str) {
    let first = new_key(prefix, "dup", &["gpt-4o"]);
    let created = c.generate_key(ACTOR, &first).await.expect("first");
    let mut second = new_key(prefix, "dup-other", &["gpt-4o"]);
    second.key_alias = first.key_alias.clone();
    let err = c
        .generate_key(ACTOR, &second)
        .await
        .expect_err("duplicate alias");
    assert!(
        matches!(err, LiteLlmError::DuplicateAlias { .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable() && !err.is_unclear());
    assert!(
        !err.to_string().contains("already exists"),
        "mama's words only: {err}"
    );
    assert!(c
        .key_info(&key_hash(second.key.expose()))
        .await
        .expect("info")
        .is_none());

    // A retry of the first generate (as after a timeout) is settled by reading the key.
    let confirmed = c
        .create_key_confirmed(ACTOR, &first)
        .await
        .expect("retry confirms");
    assert!(matches!(confirmed, KeyConfirmation::Created(ref k) if k.token == created.token));

    // Alias collision on update.
    let third = new_key(prefix, "dup-third", &[]);
    let third_created = c.generate_key(ACTOR, &third).await.expect("third");
    let rename = UpdateKey {
        key_alias: first.key_alias.clone(),
        ..UpdateKey::default()
    };
    let err = c
        .update_key(ACTOR, &third_created.token, &rename)
        .await
        .expect_err("collision");
    assert!(
        matches!(err, LiteLlmError::DuplicateAlias { .. }),
        "{err:?}"
    );

    c.delete_keys(ACTOR, &[created.token, third_created.token])
        .await
        .expect("cleanup");
}

async fn list_by_alias_story(c: &ReqwestLiteLlm, prefix: &str) {
    let req = new_key(prefix, "listed", &["gpt-4o"]);
    let created = c.generate_key(ACTOR, &req).await.expect("generate");
    let page = c
        .list_keys(&ListKeys {
            key_alias: req.key_alias.clone(),
            ..ListKeys::default()
        })
        .await
        .expect("list");
    assert_eq!(page.total_count, 1);
    assert_eq!(page.total_pages, 1);
    assert_eq!(page.keys.len(), 1);
    assert_eq!(page.keys[0].token, created.token);
    assert_eq!(page.keys[0].models, strings(&["gpt-4o"]));
    assert_eq!(page.keys[0].status, KeyStatus::Active);
    c.delete_keys_by_alias(ACTOR, &[req.key_alias.clone().unwrap_or_default()])
        .await
        .expect("delete by alias");
    let page = c
        .list_keys(&ListKeys {
            key_alias: req.key_alias.clone(),
            ..ListKeys::default()
        })
        .await
        .expect("list after delete");
    assert_eq!(page.total_count, 0);
}

async fn missing_keys_story(c: &ReqwestLiteLlm) {
    let missing = key_hash(&format!("sk-never-{}", uuid::Uuid::new_v4()));
    assert!(c.key_info(&missing).await.expect("info").is_none());
    let err = c
        .update_key(ACTOR, &missing, &UpdateKey::default())
        .await
        .expect_err("update missing");
    assert!(matches!(err, LiteLlmError::NotFound { .. }), "{err:?}");
    let err = c
        .delete_keys(ACTOR, &[missing])
        .await
        .expect_err("delete missing");
    assert!(matches!(err, LiteLlmError::NotFound { .. }), "{err:?}");
    assert!(!err.is_retryable());
}

// ---------------------------------------------------------------------------------------------
// Against the stand-in.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn standin_lifecycle() {
    let litellm = StandIn::start().await.expect("stand-in");
    lifecycle_story(&client(&litellm), &unique_prefix()).await;
}

#[tokio::test]
async fn standin_duplicate_alias() {
    let litellm = StandIn::start().await.expect("stand-in");
    duplicate_alias_story(&client(&litellm), &unique_prefix()).await;
}

#[tokio::test]
async fn standin_list_by_alias() {
    let litellm = StandIn::start().await.expect("stand-in");
    list_by_alias_story(&client(&litellm), &unique_prefix()).await;
}

#[tokio::test]
async fn standin_missing_keys_are_not_found() {
    let litellm = StandIn::start().await.expect("stand-in");
    missing_keys_story(&client(&litellm)).await;
}

#[tokio::test]
async fn generate_sends_llm_api_actor_and_no_enterprise_fields() {
    let litellm = StandIn::start().await.expect("stand-in");
    let c = client(&litellm);
    let mut req = new_key("p", "wire", &["gpt-4o"]);
    req.key_alias = Some(String::new());
    c.generate_key(ACTOR, &req).await.expect("generate");
    let calls = litellm.calls("/key/generate");
    assert_eq!(calls.len(), 1);
    let body = calls[0].body.clone().expect("json body");
    assert_eq!(body["key_type"], "llm_api");
    assert!(body.get("key_alias").is_none(), "empty alias is omitted");
    assert!(body.get("tags").is_none() && body.get("model_max_budget").is_none());
    assert_eq!(calls[0].changed_by.as_deref(), Some(ACTOR));
    assert!(calls[0].by_master_key);

    // No key ever reaches a URL: info, update and delete go by hash.
    let token = key_hash(req.key.expose());
    c.key_info(req.key.expose())
        .await
        .expect("info")
        .expect("exists");
    c.update_key(ACTOR, req.key.expose(), &UpdateKey::default())
        .await
        .expect("update");
    for call in litellm.all_calls() {
        assert!(
            !call.query.unwrap_or_default().contains("sk-"),
            "no key in a URL"
        );
    }
    assert_eq!(
        litellm.calls("/key/update")[0]
            .body
            .as_ref()
            .map(|b| b["key"].clone()),
        Some(json!(token))
    );
}

#[tokio::test]
async fn duplicate_explicit_key_answers_200_without_change() {
    let litellm = StandIn::start().await.expect("stand-in");
    let c = client(&litellm);
    let first = new_key("p", "explicit", &["llama3"]);
    c.generate_key(ACTOR, &first).await.expect("first");
    let mut again = first.clone();
    again.key_alias = Some("p-explicit-again".into());
    again.models = strings(&["gpt-4o"]);
    // LiteLLM's 200 echoes the request…
    let echoed = c.generate_key(ACTOR, &again).await.expect("200");
    assert_eq!(echoed.models, strings(&["gpt-4o"]));
    // …but nothing changed: only /key/info tells.
    let stored = c
        .key_info(&echoed.token)
        .await
        .expect("info")
        .expect("exists");
    assert_eq!(stored.models, strings(&["llama3"]));
    assert_eq!(stored.key_alias.as_deref(), Some("p-explicit"));
    let mut third = first.clone();
    third.key_alias = Some("p-explicit-third".into());
    let confirmed = c
        .create_key_confirmed(ACTOR, &third)
        .await
        .expect("confirm");
    assert!(
        matches!(confirmed, KeyConfirmation::Differs(ref k) if k.key_alias.as_deref() == Some("p-explicit"))
    );
}

#[tokio::test]
async fn delete_mixing_found_and_missing_answers_ok() {
    let litellm = StandIn::start().await.expect("stand-in");
    let c = client(&litellm);
    let req = new_key("p", "mixed", &[]);
    let created = c.generate_key(ACTOR, &req).await.expect("generate");
    let missing = key_hash("sk-does-not-exist-anywhere");
    c.delete_keys(ACTOR, &[created.token.clone(), missing.clone()])
        .await
        .expect("mixed → 200");
    let info = c
        .key_info(&created.token)
        .await
        .expect("info")
        .expect("archived");
    assert_eq!(info.status, KeyStatus::Deleted);
    assert!(c.key_info(&missing).await.expect("info").is_none());
}

#[tokio::test]
async fn update_replaces_models_and_metadata() {
    let litellm = StandIn::start().await.expect("stand-in");
    let c = client(&litellm);
    let req = new_key("p", "replace", &["gpt-4o", "llama3"]);
    let created = c.generate_key(ACTOR, &req).await.expect("generate");
    let mut metadata = Map::new();
    metadata.insert("only".into(), json!("this"));
    let update = UpdateKey {
        models: Some(strings(&["claude-3-5-sonnet"])),
        metadata: Some(metadata.clone()),
        ..UpdateKey::default()
    };
    c.update_key(ACTOR, &created.token, &update)
        .await
        .expect("update");
    let info = c
        .key_info(&created.token)
        .await
        .expect("info")
        .expect("exists");
    assert_eq!(info.models, strings(&["claude-3-5-sonnet"]));
    assert_eq!(info.metadata, metadata);
}

#[tokio::test]
async fn list_keys_pages_newest_first() {
    let litellm = StandIn::start().await.expect("stand-in");
    let c = client(&litellm);
    let mut tokens = Vec::new();
    for i in 0..5 {
        let mut req = new_key("p", &format!("page-{i}"), &["gpt-4o"]);
        req.user_id = Some("pager".into());
        tokens.push(c.generate_key(ACTOR, &req).await.expect("generate").token);
    }
    let mut seen = Vec::new();
    for page in 1..=3 {
        let got = c
            .list_keys(&ListKeys {
                page,
                size: 2,
                user_id: Some("pager".into()),
                ..ListKeys::default()
            })
            .await
            .expect("page");
        assert_eq!(got.total_count, 5);
        assert_eq!(got.total_pages, 3);
        assert_eq!(got.current_page, page);
        seen.extend(got.keys.into_iter().map(|k| k.token));
    }
    tokens.reverse();
    assert_eq!(seen, tokens);
    let call = &litellm.calls("/key/list")[0];
    assert!(call
        .query
        .as_deref()
        .unwrap_or_default()
        .contains("return_full_object=true"));
}

#[tokio::test]
async fn oversized_page_is_a_validation_error() {
    let litellm = StandIn::start().await.expect("stand-in");
    let err = client(&litellm)
        .list_keys(&ListKeys {
            size: 1000,
            ..ListKeys::default()
        })
        .await
        .expect_err("size > 100");
    assert!(matches!(err, LiteLlmError::Validation { .. }), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn wrong_master_key_is_unauthorized() {
    let litellm = StandIn::start().await.expect("stand-in");
    let c = client_for(
        &litellm.base_url(),
        "sk-wrong-master-key",
        Duration::from_secs(5),
    );
    let err = c.list_keys(&ListKeys::default()).await.expect_err("401");
    assert!(matches!(err, LiteLlmError::Unauthorized { .. }), "{err:?}");
    assert!(!err.is_retryable() && !err.is_unclear());
    assert!(!err.to_string().contains("sk-"));
    assert!(
        !format!("{err:?}").contains("Key Hash"),
        "upstream text stays out of Debug"
    );
}

#[tokio::test]
async fn master_key_never_shows_in_debug() {
    let config = LiteLlmConfig::new(
        "http://127.0.0.1:1",
        SecretString::new("sk-top-secret-master"),
    );
    assert!(!format!("{config:?}").contains("sk-top-secret-master"));
    let c = ReqwestLiteLlm::new(config).expect("client");
    assert!(!format!("{c:?}").contains("sk-top-secret-master"));
}

#[tokio::test]
async fn bad_base_url_is_a_config_error() {
    let err = ReqwestLiteLlm::new(LiteLlmConfig::new("not a url", SecretString::new("sk-x")))
        .expect_err("config");
    assert!(matches!(err, LiteLlmError::Config { .. }));
}

#[tokio::test]
async fn models_and_model_info_deduplicated() {
    let litellm = StandIn::start().await.expect("stand-in");
    litellm.set_models(&["gpt-4o", "mock-gpt", "gpt-4o", "llama3"]);
    let c = client(&litellm);
    assert_eq!(
        c.list_models().await.expect("models"),
        strings(&["gpt-4o", "mock-gpt", "llama3"])
    );
    assert_eq!(
        c.model_info_names().await.expect("model info"),
        strings(&["gpt-4o", "mock-gpt", "llama3"])
    );
    let health = c.health().await.expect("health");
    assert!(health.is_healthy());
    assert_eq!(health.db.as_deref(), Some("connected"));
}

#[tokio::test]
async fn key_models_semantics_match_litellm() {
    let litellm = StandIn::start().await.expect("stand-in");
    let c = client(&litellm);
    let all = strings(&["gpt-4o", "claude-3-5-sonnet", "llama3", "mock-gpt"]);
    let team = c
        .ensure_team(
            ACTOR,
            &NewTeam {
                team_id: Some("mama-all-team-models".into()),
                team_alias: "mama".into(),
                models: strings(&["gpt-4o", "llama3"]),
            },
        )
        .await
        .expect("team");
    let cases: Vec<(Vec<&str>, Option<&str>, Vec<String>)> = vec![
        (vec![], None, all.clone()),
        (vec!["all-proxy-models"], None, all.clone()),
        (vec!["all-team-models"], None, all.clone()),
        (
            vec!["all-team-models"],
            Some(&team.team_id),
            strings(&["gpt-4o", "llama3"]),
        ),
        (vec![], Some(&team.team_id), strings(&["gpt-4o", "llama3"])),
        (
            vec!["gpt-5-not-in-config"],
            None,
            strings(&["gpt-5-not-in-config"]),
        ),
    ];
    for (i, (models, team_id, expected)) in cases.into_iter().enumerate() {
        let mut req = new_key("p", &format!("sem-{i}"), &models);
        req.team_id = team_id.map(str::to_owned);
        c.generate_key(ACTOR, &req).await.expect("generate");
        assert_eq!(
            c.models_visible_to(&req.key).await.expect("models"),
            expected,
            "case {i}"
        );
    }
}

#[tokio::test]
async fn ensure_team_creates_once() {
    let litellm = StandIn::start().await.expect("stand-in");
    let c = client(&litellm);
    let by_alias = NewTeam {
        team_id: None,
        team_alias: "mama-team".into(),
        models: vec![],
    };
    let first = c.ensure_team(ACTOR, &by_alias).await.expect("create");
    let second = c.ensure_team(ACTOR, &by_alias).await.expect("find");
    assert_eq!(first.team_id, second.team_id);
    assert_eq!(litellm.call_count("/team/new"), 1);
    assert!(c.team_info("no-such-team").await.expect("info").is_none());
    let explicit = NewTeam {
        team_id: Some(first.team_id.clone()),
        ..by_alias
    };
    let err = c
        .new_team(ACTOR, &explicit)
        .await
        .expect_err("duplicate id");
    assert!(
        matches!(err, LiteLlmError::BadRequest { status: 400, .. }),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Faults.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn server_error_is_unclear_and_retryable() {
    let litellm = StandIn::start().await.expect("stand-in");
    litellm
        .faults()
        .on_route("/key/update", Fault::Status(500), 1);
    let c = client(&litellm);
    let created = c
        .generate_key(ACTOR, &new_key("p", "five", &[]))
        .await
        .expect("generate");
    let update = UpdateKey {
        models: Some(strings(&["gpt-4o"])),
        ..UpdateKey::default()
    };
    let err = c
        .update_key(ACTOR, &created.token, &update)
        .await
        .expect_err("500");
    assert!(
        matches!(err, LiteLlmError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.is_unclear() && err.is_retryable());
    // The rule was for one request: the retry goes through.
    c.update_key(ACTOR, &created.token, &update)
        .await
        .expect("retry");
    assert_eq!(litellm.call_count("/key/update"), 2);
}

#[tokio::test]
async fn bad_gateway_is_server_error() {
    let litellm = StandIn::start().await.expect("stand-in");
    litellm.faults().set_global(Fault::Status(503));
    let err = client(&litellm).list_models().await.expect_err("503");
    assert!(
        matches!(err, LiteLlmError::Server { status: 503, .. }),
        "{err:?}"
    );
    litellm.faults().clear();
    client(&litellm).list_models().await.expect("after clear");
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let litellm = StandIn::start().await.expect("stand-in");
    litellm.faults().on_route(
        "/key/generate",
        Fault::RateLimited {
            retry_after_secs: Some(7),
        },
        1,
    );
    let err = client(&litellm)
        .generate_key(ACTOR, &new_key("p", "rl", &[]))
        .await
        .expect_err("429");
    match &err {
        LiteLlmError::RateLimited { retry_after, .. } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(7)))
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err.is_retryable() && !err.is_unclear());
    assert!(litellm.keys().is_empty(), "a 429 creates nothing");
}

#[tokio::test]
async fn slow_answer_is_a_timeout_and_unclear() {
    let litellm = StandIn::start().await.expect("stand-in");
    litellm.faults().inject(
        FaultRule::new(Fault::Slow(Duration::from_secs(5)))
            .on("/key/generate")
            .times(1),
    );
    let c = impatient_client(&litellm);
    let req = new_key("p", "slow", &["gpt-4o"]);
    let err = c.generate_key(ACTOR, &req).await.expect_err("timeout");
    assert!(matches!(err, LiteLlmError::Timeout), "{err:?}");
    assert!(err.is_unclear() && err.is_retryable());
    // The proxy did the work although the answer never arrived: reading state settles it.
    let confirmed = c.create_key_confirmed(ACTOR, &req).await.expect("settled");
    assert!(matches!(confirmed, KeyConfirmation::Created(_)));
    assert_eq!(litellm.keys().len(), 1);
}

#[tokio::test]
async fn hang_is_a_timeout() {
    let litellm = StandIn::start().await.expect("stand-in");
    litellm.faults().on_route("/key/info", Fault::Hang, 1);
    let err = impatient_client(&litellm)
        .key_info(&key_hash("sk-anything-at-all"))
        .await
        .expect_err("hang");
    assert!(matches!(err, LiteLlmError::Timeout), "{err:?}");
    assert!(err.is_unclear());
}

#[tokio::test]
async fn cut_mid_response_is_unclear() {
    let litellm = StandIn::start().await.expect("stand-in");
    litellm
        .faults()
        .on_route("/key/generate", Fault::CutMidResponse, 1);
    let c = client(&litellm);
    let req = new_key("p", "cut", &["gpt-4o"]);
    let err = c.generate_key(ACTOR, &req).await.expect_err("cut");
    assert!(matches!(err, LiteLlmError::ConnectionCut { .. }), "{err:?}");
    assert!(err.is_unclear() && err.is_retryable());
    let info = c.key_info(&key_hash(req.key.expose())).await.expect("info");
    assert!(info.is_some(), "the operation happened before the cut");
}

#[tokio::test]
async fn malformed_success_body_is_unclear() {
    let litellm = StandIn::start().await.expect("stand-in");
    litellm
        .faults()
        .on_route("/key/list", Fault::MalformedBody, 1);
    let err = client(&litellm)
        .list_keys(&ListKeys::default())
        .await
        .expect_err("malformed");
    assert!(
        matches!(err, LiteLlmError::Malformed { status: 200, .. }),
        "{err:?}"
    );
    assert!(err.is_unclear() && err.is_retryable());
}

#[tokio::test]
async fn connection_refused_is_connect_then_recovers() {
    let litellm = StandIn::start().await.expect("stand-in");
    let c = client(&litellm);
    let created = c
        .generate_key(ACTOR, &new_key("p", "down", &[]))
        .await
        .expect("generate");
    litellm.stop().await;
    let err = c.key_info(&created.token).await.expect_err("refused");
    assert!(matches!(err, LiteLlmError::Connect { .. }), "{err:?}");
    assert!(
        err.is_retryable() && !err.is_unclear(),
        "a refused call never happened"
    );
    litellm.restart().await.expect("restart on the same port");
    let info = c
        .key_info(&created.token)
        .await
        .expect("back")
        .expect("state kept");
    assert_eq!(info.status, KeyStatus::Active);
}

#[tokio::test]
async fn fault_on_one_route_leaves_others_alone() {
    let litellm = StandIn::start().await.expect("stand-in");
    litellm
        .faults()
        .inject(FaultRule::new(Fault::Status(500)).on("/key/delete"));
    let c = client(&litellm);
    let created = c
        .generate_key(ACTOR, &new_key("p", "route", &[]))
        .await
        .expect("generate");
    for _ in 0..2 {
        let err = c
            .delete_keys(ACTOR, std::slice::from_ref(&created.token))
            .await
            .expect_err("500");
        assert!(matches!(err, LiteLlmError::Server { .. }));
    }
    assert!(c.key_info(&created.token).await.expect("info").is_some());
    litellm.faults().clear_route("/key/delete");
    c.delete_keys(ACTOR, &[created.token])
        .await
        .expect("delete");
    let statuses: Vec<Option<u16>> = litellm
        .calls("/key/delete")
        .iter()
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, vec![Some(500), Some(500), Some(200)]);
}

// ---------------------------------------------------------------------------------------------
// Against the real proxy (CI sets the variables; locally: shared/litellm/real/setup.sh).
// ---------------------------------------------------------------------------------------------

fn real_client() -> Option<ReqwestLiteLlm> {
    let (Ok(url), Ok(key)) = (
        std::env::var("LITELLM_BASE_URL"),
        std::env::var("LITELLM_MASTER_KEY"),
    ) else {
        eprintln!("skipped: no real LiteLLM (set LITELLM_BASE_URL and LITELLM_MASTER_KEY)");
        return None;
    };
    Some(client_for(&url, &key, Duration::from_secs(30)))
}

#[tokio::test]
async fn real_lifecycle() {
    let Some(c) = real_client() else { return };
    lifecycle_story(&c, &unique_prefix()).await;
}

#[tokio::test]
async fn real_duplicate_alias() {
    let Some(c) = real_client() else { return };
    duplicate_alias_story(&c, &unique_prefix()).await;
}

#[tokio::test]
async fn real_list_by_alias() {
    let Some(c) = real_client() else { return };
    list_by_alias_story(&c, &unique_prefix()).await;
}

#[tokio::test]
async fn real_missing_keys_are_not_found() {
    let Some(c) = real_client() else { return };
    missing_keys_story(&c).await;
}

#[tokio::test]
async fn real_models_and_health() {
    let Some(c) = real_client() else { return };
    let models = c.list_models().await.expect("models");
    for name in ["gpt-4o", "claude-3-5-sonnet", "llama3", "mock-gpt"] {
        assert!(models.iter().any(|m| m == name), "{name} in {models:?}");
    }
    let mut info = c.model_info_names().await.expect("model info");
    let mut listed = models.clone();
    info.sort();
    listed.sort();
    assert_eq!(info, listed);
    assert!(c.health().await.expect("health").is_healthy());
}

#[tokio::test]
async fn real_duplicate_explicit_key_confirmed_by_info() {
    let Some(c) = real_client() else { return };
    let prefix = unique_prefix();
    let first = new_key(&prefix, "explicit", &["llama3"]);
    let created = c.generate_key(ACTOR, &first).await.expect("first");
    let mut again = first.clone();
    again.key_alias = Some(format!("{prefix}-explicit-again"));
    again.models = strings(&["gpt-4o"]);
    c.generate_key(ACTOR, &again)
        .await
        .expect("LiteLLM answers 200");
    let confirmed = c
        .create_key_confirmed(ACTOR, &again)
        .await
        .expect("confirm");
    match confirmed {
        KeyConfirmation::Differs(stored) => assert_eq!(stored.models, strings(&["llama3"])),
        other => panic!("expected Differs, got {other:?}"),
    }
    c.delete_keys(ACTOR, &[created.token])
        .await
        .expect("cleanup");
}

#[tokio::test]
async fn real_wrong_master_key_is_unauthorized() {
    let Ok(url) = std::env::var("LITELLM_BASE_URL") else {
        eprintln!("skipped: no real LiteLLM (set LITELLM_BASE_URL)");
        return;
    };
    let c = client_for(&url, "sk-wrong-master-key", Duration::from_secs(30));
    let err = c.list_keys(&ListKeys::default()).await.expect_err("401");
    assert!(matches!(err, LiteLlmError::Unauthorized { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// The stand-in's raw shapes, as the captures show them (what the client relies on).
// ---------------------------------------------------------------------------------------------

async fn raw(
    litellm: &StandIn,
    method: reqwest::Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let http = reqwest::Client::new();
    let mut req = http
        .request(method, format!("{}{path}", litellm.base_url()))
        .bearer_auth(key);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let response = req.send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn standin_error_envelope_and_chat_rules() {
    let litellm = StandIn::start().await.expect("stand-in");
    let master = litellm.master_key().to_owned();
    let post = reqwest::Method::POST;
    let body = json!({"key_alias": "a", "models": ["gpt-4o"], "key": "sk-standin-shape-0001"});
    let (status, _) = raw(
        &litellm,
        post.clone(),
        "/key/generate",
        &master,
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 200);
    let (status, dup) = raw(&litellm, post.clone(), "/key/generate", &master, Some(body)).await;
    assert_eq!(status, 400);
    assert_eq!(dup["error"]["param"], "key_alias");
    assert_eq!(dup["error"]["code"], "400", "code is a string");
    let (status, v422) = raw(
        &litellm,
        post.clone(),
        "/key/generate",
        &master,
        Some(json!({"models": "x"})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(v422["detail"][0]["type"], "list_type");

    let chat =
        |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    let key = "sk-standin-shape-0001";
    let (status, denied) = raw(
        &litellm,
        post.clone(),
        "/chat/completions",
        key,
        Some(chat("mock-gpt")),
    )
    .await;
    assert_eq!(
        (status, denied["error"]["type"].clone()),
        (403, json!("key_model_access_denied"))
    );
    assert!(litellm
        .insert_key("sk-standin-shape-0002", None, &[], None)
        .is_some());
    let all = "sk-standin-shape-0002";
    let (status, answer) = raw(
        &litellm,
        post.clone(),
        "/chat/completions",
        all,
        Some(chat("mock-gpt")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from the mock deployment"
    );
    let (status, _) = raw(
        &litellm,
        post,
        "/chat/completions",
        all,
        Some(chat("gpt-5-not-in-config")),
    )
    .await;
    assert_eq!(status, 400);
    let (status, unauth) = raw(
        &litellm,
        reqwest::Method::GET,
        "/v1/models",
        "sk-not-a-key",
        None,
    )
    .await;
    assert_eq!(
        (status, unauth["error"]["type"].clone()),
        (401, json!("token_not_found_in_db"))
    );
}

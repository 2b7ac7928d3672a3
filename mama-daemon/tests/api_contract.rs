//! The wire contract, driven through the daemon's routers in-process (`tower::ServiceExt::oneshot`
//! on a fresh SQLite database, no socket, no LiteLLM): every error path of `POST /rpc` and of the
//! REST API, a few successes, and the OpenAPI document, each compared with a reviewed insta
//! snapshot (status and body). A change to the contract shows up as a snapshot diff; times,
//! tokens and keys are redacted after their shape is checked.

#[path = "api_contract/support.rs"]
mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};

use support::{TestApp, NEW_PASSWORD};

// ---------------------------------------------------------------- admin RPC: the envelope

#[tokio::test]
async fn rpc_refuses_a_body_that_is_not_json() {
    let app = TestApp::new().await;
    let answer = app.rpc_raw(None, "{\"jsonrpc\": \"2.0\", ").await;
    support::assert_answer_snapshot!(answer);
}

#[tokio::test]
async fn rpc_refuses_json_that_is_not_a_json_rpc_request() {
    let app = TestApp::new().await;
    let answer = app.rpc_raw(None, r#"{"hello": "world"}"#).await;
    support::assert_answer_snapshot!(answer);
}

#[tokio::test]
async fn rpc_refuses_another_json_rpc_version() {
    let app = TestApp::new().await;
    let body = json!({"jsonrpc": "1.0", "id": 7, "method": "auth.whoami"}).to_string();
    let answer = app.rpc_raw(None, body).await;
    support::assert_answer_snapshot!(answer);
}

#[tokio::test]
async fn rpc_refuses_an_unknown_method() {
    let app = TestApp::new().await;
    let token = app.super_token().await;
    let answer = app.rpc(Some(&token), "users.frobnicate", json!({})).await;
    support::assert_answer_snapshot!(answer);
}

#[tokio::test]
async fn rpc_refuses_a_body_over_one_mebibyte() {
    let app = TestApp::new().await;
    let padding = "a".repeat(mama_daemon::routes::MAX_BODY_BYTES + 1);
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "auth.whoami", "params": {"p": padding}});
    let answer = app.rpc_raw(None, body.to_string()).await;
    support::assert_answer_snapshot!(answer);
}

// ---------------------------------------------------------------- admin RPC: who is calling

#[tokio::test]
async fn rpc_without_a_token_is_unauthenticated() {
    let app = TestApp::new().await;
    let answer = app.rpc(None, "users.list", json!({})).await;
    support::assert_answer_snapshot!(answer);
}

#[tokio::test]
async fn rpc_with_a_forged_token_is_unauthenticated() {
    let app = TestApp::new().await;
    // A well-formed HS256 JWT for the super admin, signed with a key the daemon does not have.
    let forged = support::forged_session_token();
    let answer = app.rpc(Some(&forged), "users.list", json!({})).await;
    support::assert_answer_snapshot!(answer);
}

#[tokio::test]
async fn rpc_with_a_token_that_is_not_a_jwt_is_unauthenticated() {
    let app = TestApp::new().await;
    let answer = app.rpc(Some("not-a-jwt"), "users.list", json!({})).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.error_code(), "unauthenticated");
}

#[tokio::test]
async fn rpc_refuses_a_wrong_password() {
    let app = TestApp::new().await;
    let params = json!({"username": "admin", "password": "not the password"});
    let answer = app.rpc(None, "auth.login", params).await;
    support::assert_answer_snapshot!(answer);
}

#[tokio::test]
async fn the_bootstrap_session_must_change_its_password_first() {
    let app = TestApp::new().await;
    let login = app
        .rpc(
            None,
            "auth.login",
            json!({"username": "admin", "password": "admin"}),
        )
        .await;
    support::assert_answer_snapshot!("bootstrap_login", login);
    let token = login.result()["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let answer = app.rpc(Some(&token), "users.list", json!({})).await;
    support::assert_answer_snapshot!("bootstrap_session_lists_users", answer);
}

#[tokio::test]
async fn rpc_refuses_a_plain_admin_a_super_admin_method() {
    let app = TestApp::new().await;
    let token = app.plain_admin_token().await;
    let params = json!({"username": "carol", "password": "carols password 1", "role": "admin"});
    let answer = app.rpc(Some(&token), "admins.create", params).await;
    support::assert_answer_snapshot!(answer);
}

// ---------------------------------------------------------------- admin RPC: params

#[tokio::test]
async fn rpc_refuses_params_of_the_wrong_type() {
    let app = TestApp::new().await;
    let token = app.super_token().await;
    let answer = app
        .rpc(Some(&token), "users.get", json!({"ids": "alice"}))
        .await;
    support::assert_answer_snapshot!(answer);
}

#[tokio::test]
async fn rpc_refuses_an_unknown_param() {
    let app = TestApp::new().await;
    let token = app.super_token().await;
    let answer = app
        .rpc(Some(&token), "users.list", json!({"colour": "blue"}))
        .await;
    support::assert_answer_snapshot!(answer);
}

#[tokio::test]
async fn rpc_refuses_params_that_are_not_an_object() {
    let app = TestApp::new().await;
    let token = app.super_token().await;
    let answer = app.rpc(Some(&token), "users.list", json!([1, 2])).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_code(), "invalid_params");
}

#[tokio::test]
async fn rpc_names_every_bad_row_of_a_bulk_create() {
    let app = TestApp::new().await;
    let token = app.super_token().await;
    let params = json!({"users": [{"id": "ok-1"}, {"id": "bad id"}, {"id": ""}]});
    let answer = app.rpc(Some(&token), "users.create", params).await;
    support::assert_answer_snapshot!(answer);
}

// ---------------------------------------------------------------- admin RPC: state

#[tokio::test]
async fn rpc_refuses_an_update_based_on_a_stale_version() {
    let app = TestApp::new().await;
    let token = app.super_token().await;
    app.create_user(&token, json!({"id": "alice"})).await;
    let first = json!({"id": "alice", "version": 1, "organization": "Research"});
    let answer = app.rpc(Some(&token), "users.update", first).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let stale = json!({"id": "alice", "version": 1, "organization": "Sales"});
    let answer = app.rpc(Some(&token), "users.update", stale).await;
    support::assert_answer_snapshot!(answer);
}

#[tokio::test]
async fn rpc_reports_what_does_not_exist() {
    let app = TestApp::new().await;
    let token = app.super_token().await;
    app.create_user(&token, json!({"id": "alice"})).await;
    let params = json!({"ids": ["alice", "nobody", "ghost"]});
    let answer = app.rpc(Some(&token), "users.delete", params).await;
    support::assert_answer_snapshot!("delete_missing_users", answer);
    let params = json!({"id": "nobody", "version": 1, "organization": "x"});
    let answer = app.rpc(Some(&token), "users.update", params).await;
    support::assert_answer_snapshot!("update_missing_user", answer);
}

#[tokio::test]
async fn rpc_refuses_a_user_that_exists_already() {
    let app = TestApp::new().await;
    let token = app.super_token().await;
    app.create_user(&token, json!({"id": "alice"})).await;
    let params = json!({"users": [{"id": "alice"}]});
    let answer = app.rpc(Some(&token), "users.create", params).await;
    support::assert_answer_snapshot!(answer);
}

// ---------------------------------------------------------------- admin RPC: successes

#[tokio::test]
async fn rpc_creates_and_lists_users() {
    let app = TestApp::new().await;
    let token = app.super_token().await;
    app.rpc_ok(&token, "services.create", json!({"name": "chat"}))
        .await;
    let params = json!({"users": [
        {"id": "alice", "organization": "Research", "models": ["gpt-4o"], "services": ["chat"],
         "info": {"team": "ml"}},
        {"id": "bob"},
    ]});
    let created = app.rpc(Some(&token), "users.create", params).await;
    support::assert_answer_snapshot!("users_create", created);
    let listed = app
        .rpc(
            Some(&token),
            "users.list",
            json!({"sort": {"column": "id", "descending": true}, "page": {"limit": 10}}),
        )
        .await;
    support::assert_answer_snapshot!("users_list", listed);
}

#[tokio::test]
async fn rpc_changes_the_bootstrap_password_and_issues_a_service_token() {
    let app = TestApp::new().await;
    let login = app
        .rpc_ok_anonymous(
            "auth.login",
            json!({"username": "admin", "password": "admin"}),
        )
        .await;
    let bootstrap = login["token"].as_str().unwrap_or_default().to_string();
    let params = json!({"old_password": "admin", "new_password": NEW_PASSWORD});
    let changed = app
        .rpc(Some(&bootstrap), "auth.change_password", params)
        .await;
    support::assert_answer_snapshot!("change_password", changed);
    let token = changed.result()["token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let old = app.rpc(Some(&bootstrap), "auth.whoami", json!({})).await;
    support::assert_answer_snapshot!("old_session_after_password_change", old);
    app.rpc_ok(&token, "services.create", json!({"name": "chat"}))
        .await;
    let issued = app
        .rpc(
            Some(&token),
            "services.issue_token",
            json!({"service": "chat"}),
        )
        .await;
    support::assert_answer_snapshot!("issue_token", issued);
}

// ---------------------------------------------------------------- REST

#[tokio::test]
async fn rest_without_a_token_is_unauthenticated() {
    let app = TestApp::new().await;
    let body = json!({"user_ids": ["alice"]});
    let answer = app.rest_post("/api/v1/users/lookup", None, body).await;
    support::assert_answer_snapshot!(answer);
}

#[tokio::test]
async fn rest_with_an_unknown_token_is_unauthenticated() {
    let app = TestApp::new().await;
    let unknown = format!("mama_st_{}", "0".repeat(64));
    let answer = app.rest_get("/api/v1/users/alice", Some(&unknown)).await;
    support::assert_answer_snapshot!(answer);
}

#[tokio::test]
async fn rest_refuses_bad_ids_and_bad_bodies() {
    let app = TestApp::new().await;
    let (_, service_token) = app.service_with_token("chat").await;
    let token = Some(service_token.as_str());
    let cases = [
        (
            "invalid_id",
            json!({"user_ids": ["alice", "bad id", "ｕ１"]}),
        ),
        ("no_ids", json!({"user_ids": []})),
        (
            "unknown_field",
            json!({"user_ids": ["alice"], "extra": true}),
        ),
        ("ids_not_a_list", json!({"user_ids": "alice"})),
    ];
    for (name, body) in cases {
        let answer = app.rest_post("/api/v1/users/lookup", token, body).await;
        support::assert_answer_snapshot!(format!("lookup_{name}"), answer);
    }
    let answer = app.rest_post_raw("/api/v1/users/lookup", token, "[").await;
    support::assert_answer_snapshot!("lookup_not_json", answer);
    let too_many: Vec<String> = (0..1001).map(|i| format!("u{i}")).collect();
    let answer = app
        .rest_post("/api/v1/users/lookup", token, json!({"user_ids": too_many}))
        .await;
    support::assert_answer_snapshot!("lookup_too_many_ids", answer);
    let answer = app.rest_get("/api/v1/users/bad%20id", token).await;
    support::assert_answer_snapshot!("get_invalid_id", answer);
    let answer = app.rest_get("/api/v1/users/%FF", token).await;
    support::assert_answer_snapshot!("get_id_not_utf8", answer);
}

#[tokio::test]
async fn rest_refuses_a_body_over_one_mebibyte() {
    let app = TestApp::new().await;
    let (_, service_token) = app.service_with_token("chat").await;
    let padding = "a".repeat(mama_daemon::routes::MAX_BODY_BYTES);
    let body = json!({"user_ids": [padding]});
    let answer = app
        .rest_post("/api/v1/users/lookup", Some(&service_token), body)
        .await;
    support::assert_answer_snapshot!(answer);
}

#[tokio::test]
async fn rest_looks_users_up_and_gives_keys_only_to_granted_services() {
    let app = TestApp::new().await;
    let (admin_token, service_token) = app.service_with_token("chat").await;
    app.rpc_ok(&admin_token, "services.create", json!({"name": "mail"}))
        .await;
    app.create_user(
        &admin_token,
        json!({"id": "alice", "organization": "Research", "models": ["gpt-4o"],
               "services": ["chat"], "info": {"team": "ml"}}),
    )
    .await;
    app.create_user(
        &admin_token,
        json!({"id": "bob", "models": ["gpt-4o"], "services": ["mail"]}),
    )
    .await;
    app.create_user(&admin_token, json!({"id": "carol", "services": ["chat"]}))
        .await;
    let token = Some(service_token.as_str());
    let body = json!({"user_ids": ["carol", "alice", "nobody", "bob", "alice"]});
    let answer = app.rest_post("/api/v1/users/lookup", token, body).await;
    support::assert_answer_snapshot!("lookup", answer);
    let answer = app.rest_get("/api/v1/users/alice", token).await;
    support::assert_answer_snapshot!("get_user", answer);
    let answer = app.rest_get("/api/v1/users/nobody", token).await;
    support::assert_answer_snapshot!("get_missing_user", answer);
}

#[tokio::test]
async fn rest_answers_unknown_routes_and_methods_with_the_envelope() {
    let app = TestApp::new().await;
    let answer = app.rest_get("/api/v1/nothing-here", None).await;
    support::assert_answer_snapshot!("unknown_route", answer);
    let answer = app.rest_get("/api/v1/users/lookup", None).await;
    support::assert_answer_snapshot!("wrong_method", answer);
}

// ---------------------------------------------------------------- documents and probes

#[tokio::test]
async fn the_openapi_document_is_the_reviewed_one() {
    let app = TestApp::new().await;
    let answer = app.rest_get("/api/v1/openapi.json", None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, mama_daemon::routes::openapi::document());
    insta::assert_json_snapshot!("openapi", answer.body, {".info.version" => "[version]"});
}

#[tokio::test]
async fn health_and_readiness_answer_json() {
    let app = TestApp::new().await;
    let answer = app.rest_get("/healthz", None).await;
    support::assert_answer_snapshot!("healthz", answer);
    let answer = app.rest_get("/readyz", None).await;
    support::assert_answer_snapshot!("readyz", answer);
}

/// The JSON-RPC error codes the table in docs/admin-rpc.md promises, one call each, against the
/// `data.code` and HTTP status that carry them.
#[tokio::test]
async fn rpc_errors_carry_the_documented_numbers() {
    let app = TestApp::new().await;
    let cases: [(&str, i64, u16); 3] = [
        ("{", -32700, 400),
        (r#"{"jsonrpc": "2.0", "id": 1}"#, -32600, 400),
        (
            r#"{"jsonrpc": "2.0", "id": 1, "method": "nope"}"#,
            -32601,
            404,
        ),
    ];
    for (body, code, status) in cases {
        let answer = app.rpc_raw(None, body).await;
        assert_eq!(answer.status.as_u16(), status, "{body}");
        assert_eq!(answer.body["error"]["code"], json!(code), "{body}");
    }
    let answer: Value = app.rpc(None, "users.list", json!({})).await.body;
    assert_eq!(answer["error"]["code"], json!(-32001));
}

//! `usage.query` and `GET /api/v1/usage` over stored usage rows, through the real daemon on
//! SQLite or PostgreSQL (`MAMA_TEST_DATABASE`). The rows are written into the database as the
//! collector would leave them (the collector itself is checked against the real proxy in
//! `usage_e2e`), so every number here is known in advance.

use chrono::{Days, Utc};
use mama_tests::harness::{Daemon, RpcClient};
use serde_json::{json, Value};

/// Users, their organizations and services, and usage on three days: today, yesterday and 40
/// days ago, in two models; `gone` was deleted (its history stays).
async fn seeded() -> (Daemon, RpcClient, [String; 3]) {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    rpc.ensure_service("chat").await;
    rpc.ensure_service("billing").await;
    let created = rpc
        .call(
            "users.create",
            json!({"users": [
                {"id": "ann", "organization": "research", "services": ["chat", "billing"]},
                {"id": "김철수", "organization": "연구소", "services": ["billing"]},
                {"id": "cy", "organization": "research", "services": ["chat"]},
                {"id": "gone", "organization": "sales", "services": ["billing"]},
            ]}),
        )
        .await;
    assert_eq!(created.ok()["created"], 4, "{}", created.body);
    let deleted = rpc.call("users.delete", json!({"ids": ["gone"]})).await;
    assert_eq!(deleted.ok()["deleted"], 1, "{}", deleted.body);
    let today = Utc::now().date_naive();
    let days = [
        today.to_string(),
        (today - Days::new(1)).to_string(),
        (today - Days::new(40)).to_string(),
    ];
    let [t, y, old] = &days;
    d.db.execute(&format!(
        "INSERT INTO usage_daily (day, user_id, model, organization, spend, successful_requests, \
           failed_requests, prompt_tokens, completion_tokens, total_tokens) VALUES
         ('{t}', 'ann', 'mock-gpt', 'research', 1.5, 10, 1, 100, 200, 300),
         ('{t}', 'ann', 'gpt-4o', 'research', 0.0, 0, 2, 0, 0, 0),
         ('{y}', 'ann', 'mock-gpt', 'research', 0.25, 2, 0, 20, 40, 60),
         ('{t}', '김철수', 'mock-gpt', '연구소', 4.0, 40, 0, 400, 800, 1200),
         ('{y}', 'gone', 'mock-gpt', 'sales', 2.0, 20, 0, 200, 400, 600),
         ('{old}', 'cy', 'mock-gpt', 'research', 9.0, 90, 0, 900, 1800, 2700);
         INSERT INTO usage_other (day, model, spend, successful_requests, failed_requests, \
           prompt_tokens, completion_tokens, total_tokens) VALUES
         ('{t}', 'mock-gpt', 0.5, 5, 0, 50, 100, 150);
         INSERT INTO usage_daily_org SELECT day, organization, model, SUM(spend),            SUM(successful_requests), SUM(failed_requests), SUM(prompt_tokens),            SUM(completion_tokens), SUM(total_tokens) FROM usage_daily GROUP BY day, organization, model;"
    ));
    (d, rpc, days)
}

fn keys(report: &Value) -> Vec<Vec<String>> {
    report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            r["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn usage_query_groups_filters_ranks_and_marks_deleted_users() {
    let (_d, mut rpc, [today, yesterday, _]) = seeded().await;

    // The last 30 days by user, largest spend first; the deleted user is kept and marked.
    let by_user = rpc
        .call("usage.query", json!({"range": "30d", "group": ["user"]}))
        .await;
    let report = by_user.ok();
    assert_eq!(
        keys(report),
        [["김철수"], ["gone"], ["ann"]],
        "{}",
        by_user.body
    );
    assert_eq!(report["rows"][1]["deleted"], true);
    assert!(report["rows"][0].get("deleted").is_none());
    assert_eq!(report["total"]["spend"], 7.75);
    assert_eq!(report["total"]["successful_requests"], 72);
    assert_eq!(report["total"]["failed_requests"], 3);
    assert_eq!(report["not_mamas"]["spend"], 0.5);
    assert_eq!(report["row_count"], 3);

    // Organization × day, ranked by requests; top 2 leaves the rest summed.
    let org_day = rpc
        .call(
            "usage.query",
            json!({"range": "7d", "group": ["organization", "day"], "sort": "requests", "top": 2}),
        )
        .await;
    let report = org_day.ok();
    assert_eq!(
        keys(report),
        [
            vec!["연구소".to_string(), today.clone()],
            vec!["sales".to_string(), yesterday.clone()]
        ],
        "{}",
        org_day.body
    );
    assert_eq!(report["row_count"], 4);
    assert_eq!(report["rest"]["successful_requests"], 12);
    assert_eq!(report["rest"]["failed_requests"], 3);

    // Filters: an organization substring and a model; by day in time order.
    let filtered = rpc
        .call(
            "usage.query",
            json!({"range": "7d", "group": ["day"],
                   "filter": {"organization": "SEARCH", "model": "mock-gpt"}}),
        )
        .await;
    let report = filtered.ok();
    assert_eq!(keys(report), [[yesterday.clone()], [today.clone()]]);
    assert_eq!(report["total"]["spend"], 1.75);
    assert!(report.get("not_mamas").is_none(), "only without a filter");

    // The 90 days take in the old day; today alone does not.
    let ninety = rpc
        .call("usage.query", json!({"range": "90d", "group": []}))
        .await;
    assert_eq!(ninety.ok()["total"]["spend"], 16.75);
    let only_today = rpc
        .call(
            "usage.query",
            json!({"range": {"from": today, "to": today}, "group": ["model"]}),
        )
        .await;
    assert_eq!(keys(only_today.ok()), [["mock-gpt"], ["gpt-4o"]]);

    // Bad params are named and change nothing.
    for (params, field) in [
        (json!({"group": ["user", "model", "day"]}), "group"),
        (json!({"group": ["day", "month"]}), "group"),
        (json!({"group": ["user", "user"]}), "group"),
        (
            json!({"range": {"from": today, "to": "2000-01-01"}}),
            "range",
        ),
        (json!({"range": "fortnight"}), "range"),
        (json!({"top": 0}), "top"),
        (json!({"filter": {"model": " "}}), "filter.model"),
        (json!({"sort": "vibes"}), "sort"),
        (json!({"bogus": 1}), "bogus"),
    ] {
        let reply = rpc.call("usage.query", params.clone()).await;
        assert_eq!(reply.code(), "invalid_params", "{params}: {}", reply.body);
        assert!(
            reply.body.to_string().contains(field),
            "{params}: {}",
            reply.body
        );
    }
}

async fn get_usage(d: &Daemon, token: &str, query: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(d.rest_url(&format!("/api/v1/usage?{query}")))
        .bearer_auth(token)
        .send()
        .await
        .expect("REST answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("JSON body"))
}

#[tokio::test]
async fn rest_usage_answers_only_for_users_that_allow_the_service() {
    let (d, mut rpc, [today, yesterday, old]) = seeded().await;
    let chat = rpc.service_token("chat").await;
    let billing = rpc.service_token("billing").await;

    // chat: ann allows it, 김철수 does not, nobody and gone are no users.
    let ids = "ann,%EA%B9%80%EC%B2%A0%EC%88%98,nobody,gone";
    let (status, body) = get_usage(&d, &chat, &format!("user_ids={ids}&group=day")).await;
    assert_eq!(status, 200, "{body}");
    let users = body["users"].as_array().expect("users");
    assert_eq!(users.len(), 2, "{body}");
    assert_eq!(users[0]["id"], "ann");
    let days: Vec<&str> = users[0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(days, [yesterday.as_str(), today.as_str()]);
    assert_eq!(users[0]["total"]["spend"], 1.75);
    assert_eq!(users[0]["total"]["failed_requests"], 3);
    assert_eq!(users[1]["id"], "김철수");
    assert_eq!(users[1]["withheld"], "service_not_allowed");
    assert_eq!(users[1]["rows"], json!([]));
    assert_eq!(users[1]["total"]["spend"], 0.0);
    assert_eq!(body["missing"], json!(["nobody", "gone"]));

    // billing sees 김철수, by model; a range back to the old day finds nothing for it there.
    let (status, body) = get_usage(
        &d,
        &billing,
        &format!(
            "user_ids=%EA%B9%80%EC%B2%A0%EC%88%98&user_ids=ann&group=model&from={old}&to={today}"
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["users"][0]["rows"][0]["key"], "mock-gpt");
    assert_eq!(body["users"][0]["total"]["total_tokens"], 1200);
    let models: Vec<&str> = body["users"][1]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["mock-gpt", "gpt-4o"], "largest spend first");
    assert_eq!(body["group"], "model");

    // Bad input: 400 naming the parameter; no token: 401.
    for (query, field) in [
        ("group=day", "user_ids"),
        ("user_ids=", "user_ids"),
        ("user_ids=ann&from=yesterday", "from"),
        ("user_ids=ann&from=2026-12-31&to=2026-01-01", "from"),
        ("user_ids=ann&from=2020-01-01&to=2026-01-01", "to"),
        ("user_ids=ann&group=week", "group"),
        ("user_ids=ann&key=sk-123", "key"),
        ("user_ids=ann&to=2026-01-01&to=2026-01-02", "to"),
        ("user_ids=a%20b", "user_ids[0]"),
    ] {
        let (status, body) = get_usage(&d, &chat, query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_params", "{query}: {body}");
        assert!(body.to_string().contains(field), "{query}: {body}");
    }
    let many: Vec<String> = (0..101).map(|i| format!("u{i}")).collect();
    let (status, _) = get_usage(&d, &chat, &format!("user_ids={}", many.join(","))).await;
    assert_eq!(status, 400);
    let (status, body) = get_usage(&d, "mama_st_nope", "user_ids=ann").await;
    assert_eq!(status, 401, "{body}");

    // Every request is in the event log as rest.usage, with its result.
    let events = rpc
        .call("events.list", json!({"filter": {"action": "rest.usage"}}))
        .await;
    let list = events.ok()["events"].as_array().expect("events").clone();
    assert!(list.len() >= 12, "{}", events.body);
    assert!(list.iter().any(|e| e["result"] == "ok"));
    assert!(list.iter().any(|e| e["result"] != "ok"));
    assert!(
        !events.body.to_string().contains("mama_st_"),
        "no token in events"
    );
}

//! The users table's filters through the real daemon on `MAMA_TEST_DATABASE`: every filter,
//! sort and page agrees with the plain definition ("case-insensitive substring of the id or the
//! organization", "holds this model", …) computed here from the full listing, whichever way the
//! daemon chose to read it (trigram index or scan, driving from a term or walking the sort
//! order), including after organizations change and users are deleted.

use mama_tests::harness::{Daemon, RpcClient};
use serde_json::{json, Value};

const USERS: usize = 240;

fn seed() -> Vec<Value> {
    let mut users = Vec::new();
    for i in 0..USERS {
        let id = match i {
            0 => "김철수".to_string(),
            1 => "Ångström-1".to_string(),
            2 => "ABC-xyz".to_string(),
            3 => "q".to_string(),
            _ => format!("u{i:03}"),
        };
        let org = match i {
            5 => "R&D \"Alpha\" 50%_off".to_string(),
            6 => "ÄRZTE ohne Grenzen".to_string(),
            _ if i % 3 == 0 => format!("연구소-{}", i % 7),
            _ if i % 3 == 1 => "Sales Team".to_string(),
            _ => format!("Ops {}", i % 11),
        };
        let mut models = vec![];
        if i % 10 != 0 {
            models.push("common");
        }
        if i % 50 == 0 {
            models.push("rare");
        }
        let services: Vec<&str> = if i % 2 == 0 { vec!["chat"] } else { vec![] };
        let info = if i % 4 == 0 {
            json!({"team": "t"})
        } else {
            json!({})
        };
        users.push(json!({"id": id, "organization": org, "models": models, "services": services, "info": info}));
    }
    users
}

/// Every user as the daemon holds it now.
async fn everyone(rpc: &mut RpcClient) -> Vec<Value> {
    let all = rpc
        .call("users.list", json!({"page": {"limit": 1000}}))
        .await;
    all.ok()["users"].as_array().expect("users").clone()
}

fn contains(haystack: &Value, needle: &str) -> bool {
    haystack
        .as_str()
        .unwrap_or("")
        .to_lowercase()
        .contains(&needle.to_lowercase())
}

fn has(list: &Value, value: &str) -> bool {
    list.as_array()
        .is_some_and(|l| l.iter().any(|v| v == value))
}

/// The definition of each filter term.
fn matches(user: &Value, filter: &Value) -> bool {
    let term = |name: &str| filter[name].as_str().filter(|t| !t.is_empty());
    term("text").is_none_or(|t| contains(&user["id"], t) || contains(&user["organization"], t))
        && term("organization").is_none_or(|t| contains(&user["organization"], t))
        && term("model").is_none_or(|m| has(&user["models"], m))
        && term("service").is_none_or(|s| has(&user["services"], s))
        && term("info_key").is_none_or(|k| user["info"].get(k).is_some())
        && term("key_status").is_none_or(|s| user["key_status"] == s)
}

/// Checks one filter on every sort and a few pages against the definition.
async fn check(rpc: &mut RpcClient, all: &[Value], filter: Value) {
    let mut expected: Vec<&Value> = all.iter().filter(|u| matches(u, &filter)).collect();
    for (column, descending) in [
        ("id", false),
        ("organization", true),
        ("organization", false),
    ] {
        let key = |u: &&Value| {
            let by = u[column].as_str().unwrap_or("").to_string();
            (by, u["id"].as_str().unwrap_or("").to_string())
        };
        expected.sort_by_key(key);
        if descending {
            expected.reverse();
        }
        let want_ids: Vec<&str> = expected.iter().map(|u| u["id"].as_str().unwrap()).collect();
        for (offset, limit) in [(0, 10), (10, 25), (0, 1000)] {
            let reply = rpc
                .call(
                    "users.list",
                    json!({"filter": filter, "sort": {"column": column, "descending": descending},
                           "page": {"offset": offset, "limit": limit}}),
                )
                .await;
            let got = reply.ok();
            let got_ids: Vec<&str> = got["users"]
                .as_array()
                .expect("users")
                .iter()
                .map(|u| u["id"].as_str().unwrap())
                .collect();
            let want: Vec<&str> = want_ids.iter().skip(offset).take(limit).copied().collect();
            let context =
                format!("filter {filter} sort {column} desc={descending} page {offset}+{limit}");
            assert_eq!(got_ids, want, "{context}");
            assert_eq!(got["matching"], expected.len(), "{context}");
            assert_eq!(got["total"], all.len(), "{context}");
        }
    }
    let ids = rpc.call("users.list_ids", json!({"filter": filter})).await;
    let mut want: Vec<&str> = expected.iter().map(|u| u["id"].as_str().unwrap()).collect();
    want.sort();
    let got: Vec<&str> = ids.ok()["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(got, want, "users.list_ids {filter}");
}

fn filters() -> Vec<Value> {
    let texts = [
        "q",
        "u1",
        "U29",
        "연",
        "연구",
        "연구소",
        "소-3",
        "sales team",
        "SALES",
        "ales",
        "\"alpha\"",
        "50%_",
        "%",
        "_",
        "ärzte",
        "ÅNGSTRÖM",
        "철수",
        "abc-x",
        "zzz",
        "o",
    ];
    let mut out: Vec<Value> = texts.iter().map(|t| json!({"text": t})).collect();
    out.extend(
        ["sal", "연", "연구소-3", "OPS 1", "alpha\" 5"]
            .iter()
            .map(|o| json!({"organization": o})),
    );
    out.extend([
        json!({"model": "common"}),
        json!({"model": "rare"}),
        json!({"model": "none-such"}),
        json!({"service": "chat"}),
        json!({"info_key": "team"}),
        json!({"text": "u1", "model": "rare"}),
        json!({"text": "u0", "organization": "연구"}),
        json!({"text": "u00", "organization": "sales"}),
        json!({"organization": "연구소", "model": "common", "service": "chat"}),
        json!({"info_key": "team", "organization": "sales"}),
        json!({"text": "sal", "info_key": "team", "model": "common"}),
    ]);
    out
}

#[tokio::test]
async fn every_filter_sort_and_page_agrees_with_the_definition() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    rpc.ensure_service("chat").await;
    let created = rpc.call("users.create", json!({"users": seed()})).await;
    assert_eq!(created.ok()["created"], USERS);
    let all = everyone(&mut rpc).await;
    assert_eq!(all.len(), USERS);
    let status = all[7]["key_status"].as_str().unwrap().to_string();

    let mut cases = filters();
    cases.push(json!({"key_status": status}));
    cases.push(json!({"key_status": status, "text": "연구소"}));
    for filter in &cases {
        check(&mut rpc, &all, filter.clone()).await;
    }

    // Organizations change one at a time and in bulk, users go away: the filters follow.
    let one = &all[4];
    let edit = rpc
        .call(
            "users.update",
            json!({"id": one["id"], "version": one["version"], "organization": "Quantum Lab"}),
        )
        .await;
    edit.ok();
    let bulk = rpc
        .call(
            "users.bulk_update",
            json!({"filter": {"organization": "연구소-3"}, "organization": "Moved 연구실"}),
        )
        .await;
    assert!(bulk.ok()["changed"].as_u64().unwrap() > 10);
    let gone = rpc
        .call("users.delete", json!({"ids": ["김철수", "u031", "u010"]}))
        .await;
    assert_eq!(gone.ok()["deleted"], 3);

    let all = everyone(&mut rpc).await;
    assert_eq!(all.len(), USERS - 3);
    let after = [
        json!({"text": "quantum"}),
        json!({"text": "qua"}),
        json!({"organization": "연구소-3"}),
        json!({"text": "연구실"}),
        json!({"organization": "moved"}),
        json!({"text": "철수"}),
        json!({"text": "u031"}),
        json!({"text": "연구소"}),
    ];
    for filter in after.iter().chain(cases.iter()) {
        check(&mut rpc, &all, filter.clone()).await;
    }
    let moved = rpc
        .call("users.list", json!({"filter": {"text": "quantum"}}))
        .await;
    assert_eq!(moved.ok()["matching"], 1, "the new organization is found");
    let old = rpc
        .call(
            "users.list",
            json!({"filter": {"organization": "연구소-3"}}),
        )
        .await;
    assert_eq!(old.ok()["matching"], 0, "the old organization is not");
}

fn ids_of(reply: &Value) -> Vec<String> {
    reply["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["id"].as_str().expect("id").to_string())
        .collect()
}

/// The daemon's offset listing of `filter` in `sort`, all of it.
async fn listing(rpc: &mut RpcClient, filter: &Value, sort: &Value) -> Vec<String> {
    let all = rpc
        .call(
            "users.list",
            json!({"filter": filter, "sort": sort, "page": {"limit": 1000}}),
        )
        .await;
    ids_of(all.ok())
}

/// Pages of `limit` chained by `cursor.after` from the first page, until a short page.
async fn forward_by_cursor(
    rpc: &mut RpcClient,
    filter: &Value,
    sort: &Value,
    limit: usize,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<Value> = None;
    loop {
        let mut params = json!({"filter": filter, "sort": sort, "page": {"limit": limit},
                                "counts": false});
        if let Some(cursor) = after.take() {
            params["cursor"] = json!({"after": cursor});
        }
        let reply = rpc.call("users.list", params).await;
        let page = reply.ok();
        assert_eq!(page["matching"], Value::Null, "no counts asked");
        let got = ids_of(page);
        let n = got.len();
        ids.extend(got);
        if n < limit {
            return ids;
        }
        after = Some(page["end_cursor"].clone());
    }
}

/// The last page as the first page of the reversed sort, then pages chained by
/// `cursor.before` back to the first row.
async fn backward_by_cursor(
    rpc: &mut RpcClient,
    filter: &Value,
    sort: &Value,
    limit: usize,
) -> Vec<String> {
    let mut reversed = sort.clone();
    reversed["descending"] = json!(!sort["descending"].as_bool().unwrap_or(false));
    let last = rpc
        .call(
            "users.list",
            json!({"filter": filter, "sort": reversed, "page": {"limit": limit}}),
        )
        .await;
    let mut ids = ids_of(last.ok());
    ids.reverse();
    // The reversed page's last row is the first row in `sort`.
    let mut before = last.ok()["end_cursor"].clone();
    while !before.is_null() {
        let reply = rpc
            .call(
                "users.list",
                json!({"filter": filter, "sort": sort, "page": {"limit": limit},
                       "cursor": {"before": before}}),
            )
            .await;
        let page = reply.ok();
        let mut got = ids_of(page);
        assert!(got.len() <= limit);
        before = if got.len() < limit {
            Value::Null
        } else {
            page["start_cursor"].clone()
        };
        got.extend(ids);
        ids = got;
    }
    ids
}

const COLUMNS: [&str; 8] = [
    "id",
    "organization",
    "models",
    "services",
    "key_status",
    "info",
    "created_at",
    "updated_at",
];

#[tokio::test]
async fn cursor_pages_stitch_into_the_offset_listing() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    rpc.ensure_service("chat").await;
    let created = rpc.call("users.create", json!({"users": seed()})).await;
    assert_eq!(created.ok()["created"], USERS);
    // A second batch: other creation times, ties within each batch.
    let later: Vec<Value> = (0..30)
        .map(|i| json!({"id": format!("v{i:02}"), "organization": "Sales Team", "models": ["common"]}))
        .collect();
    rpc.call("users.create", json!({"users": later})).await.ok();

    for filter in [
        json!({}),
        json!({"organization": "sales"}),
        json!({"model": "common"}),
        json!({"text": "연", "service": "chat"}),
        json!({"text": "zzz"}),
    ] {
        for column in COLUMNS {
            for descending in [false, true] {
                let sort = json!({"column": column, "descending": descending});
                let want = listing(&mut rpc, &filter, &sort).await;
                let context = format!("filter {filter} sort {sort}");
                for limit in [7, 50] {
                    let forward = forward_by_cursor(&mut rpc, &filter, &sort, limit).await;
                    assert_eq!(forward, want, "forward by {limit}, {context}");
                    let backward = backward_by_cursor(&mut rpc, &filter, &sort, limit).await;
                    assert_eq!(backward, want, "backward by {limit}, {context}");
                }
            }
        }
    }

    // The counts on their own are those of the listing.
    let filter = json!({"organization": "sales"});
    let listed = rpc
        .call(
            "users.list",
            json!({"filter": filter, "page": {"limit": 1}}),
        )
        .await;
    let counted = rpc.call("users.count", json!({"filter": filter})).await;
    assert_eq!(counted.ok()["matching"], listed.ok()["matching"]);
    assert_eq!(counted.ok()["total"], USERS + 30);

    // A cursor is refused with an offset, with another sort column, or garbled.
    let first = rpc
        .call(
            "users.list",
            json!({"sort": {"column": "organization"}, "page": {"limit": 5}}),
        )
        .await;
    let cursor = first.ok()["end_cursor"].clone();
    for params in [
        json!({"sort": {"column": "organization"}, "page": {"offset": 5}, "cursor": {"after": cursor}}),
        json!({"sort": {"column": "models"}, "cursor": {"after": cursor}}),
        json!({"sort": {"column": "organization"}, "cursor": {"after": cursor, "before": cursor}}),
        json!({"sort": {"column": "organization"}, "cursor": {"before": "bm90IGEgY3Vyc29y"}}),
    ] {
        let reply = rpc.call("users.list", params.clone()).await;
        assert_eq!(reply.code(), "invalid_params", "{params}");
    }
}

#[tokio::test]
async fn a_cursor_page_after_inserts_and_deletes_continues_from_its_row() {
    let d = Daemon::start();
    let mut rpc = d.admin().await;
    rpc.ensure_service("chat").await;
    rpc.call("users.create", json!({"users": seed()}))
        .await
        .ok();
    let filter = json!({});
    for column in ["organization", "id", "models"] {
        for descending in [false, true] {
            let sort = json!({"column": column, "descending": descending});
            let context = format!("sort {sort}");
            let first = rpc
                .call("users.list", json!({"sort": sort, "page": {"limit": 20}}))
                .await;
            let page1 = ids_of(first.ok());
            let (start, end) = (
                first.ok()["start_cursor"].clone(),
                first.ok()["end_cursor"].clone(),
            );
            let old = listing(&mut rpc, &filter, &sort).await;

            // Between two pages, rows on both sides of the cursors go and new ones come.
            let gone = vec![page1[3].clone(), old[25].clone(), old[120].clone()];
            rpc.call("users.delete", json!({"ids": gone})).await.ok();
            let added: Vec<Value> = ["a", "u019b", "zz", "Sales", "0"]
                .iter()
                .map(|id| {
                    json!({"id": format!("{id}-{column}-{descending}"),
                           "organization": "Sales Team", "models": ["common"]})
                })
                .collect();
            rpc.call("users.create", json!({"users": added})).await.ok();
            let now = listing(&mut rpc, &filter, &sort).await;
            let at = |id: &str| now.iter().position(|x| x == id).expect("listed");
            let after = forward_from(&mut rpc, &sort, end.clone()).await;
            assert_eq!(
                after,
                now[at(&page1[19]) + 1..].to_vec(),
                "after, {context}"
            );
            let before = before_all(&mut rpc, &sort, start.clone()).await;
            assert_eq!(before, now[..at(&page1[0])].to_vec(), "before, {context}");

            // The cursors' own rows go: the pages still continue right past where they were.
            let cut = [page1[0].clone(), page1[19].clone()];
            rpc.call("users.delete", json!({"ids": cut})).await.ok();
            let want_after: Vec<String> = now[at(&page1[19]) + 1..].to_vec();
            let want_before: Vec<String> = now[..at(&page1[0])].to_vec();
            let after = forward_from(&mut rpc, &sort, end).await;
            assert_eq!(after, want_after, "after a deleted row, {context}");
            let before = before_all(&mut rpc, &sort, start).await;
            assert_eq!(before, want_before, "before a deleted row, {context}");
        }
    }
}

/// Every row before `cursor` in `sort`, in one page.
async fn before_all(rpc: &mut RpcClient, sort: &Value, cursor: Value) -> Vec<String> {
    let reply = rpc
        .call(
            "users.list",
            json!({"sort": sort, "page": {"limit": 1000}, "cursor": {"before": cursor}}),
        )
        .await;
    ids_of(reply.ok())
}

/// Every row after `cursor` in `sort`, chained by 9.
async fn forward_from(rpc: &mut RpcClient, sort: &Value, cursor: Value) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after = cursor;
    loop {
        let reply = rpc
            .call(
                "users.list",
                json!({"sort": sort, "page": {"limit": 9}, "cursor": {"after": after}}),
            )
            .await;
        let got = ids_of(reply.ok());
        let n = got.len();
        ids.extend(got);
        if n < 9 {
            return ids;
        }
        after = reply.ok()["end_cursor"].clone();
    }
}

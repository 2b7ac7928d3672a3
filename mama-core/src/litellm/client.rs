//! The reqwest implementation of [`LiteLlm`]: builds requests, maps statuses and transport
//! failures to [`LiteLlmError`], and parses only the fields mama uses.

use std::time::Duration;

use chrono::{DateTime, Utc};

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::activity::{ActivityPage, RawActivity};
use super::error::{LiteLlmError, UpstreamDetail};
use super::types::*;
use super::{key_hash, LiteLlm};
use crate::secret::SecretString;

/// Header LiteLLM records as the author of a change.
const CHANGED_BY: &str = "litellm-changed-by";

/// How to reach LiteLLM's admin API.
#[derive(Debug, Clone)]
pub struct LiteLlmConfig {
    /// e.g. `http://127.0.0.1:4000`; a path prefix (`https://gw/litellm`) is kept.
    pub base_url: String,
    pub master_key: SecretString,
    /// Whole-request limit; past it the call is [`LiteLlmError::Timeout`] (unclear).
    pub request_timeout: Duration,
    /// Connect limit; past it the call is [`LiteLlmError::Connect`] (never reached LiteLLM).
    pub connect_timeout: Duration,
}

impl LiteLlmConfig {
    /// Defaults: 10 s per request, 3 s to connect.
    pub fn new(base_url: impl Into<String>, master_key: SecretString) -> Self {
        Self {
            base_url: base_url.into(),
            master_key,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
        }
    }
}

/// LiteLLM admin client over HTTP. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct ReqwestLiteLlm {
    http: reqwest::Client,
    base: Url,
    auth: HeaderValue,
    /// Limit of reads LiteLLM computes in Python over many rows (a 1,000-row activity page).
    slow_timeout: Duration,
}

/// A page of `/user/daily/activity` is built row by row in Python: seconds on a busy proxy, so it
/// gets at least this long whatever the per-call limit of key operations is.
const MIN_SLOW_TIMEOUT: Duration = Duration::from_secs(60);

impl ReqwestLiteLlm {
    pub fn new(config: LiteLlmConfig) -> Result<Self, LiteLlmError> {
        let trimmed = config.base_url.trim_end_matches('/');
        let base = Url::parse(&format!("{trimmed}/")).map_err(|_| LiteLlmError::Config {
            what: "base URL is not a valid URL",
        })?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(LiteLlmError::Config {
                what: "base URL must be http or https",
            });
        }
        let auth = bearer(&config.master_key)?;
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            .default_headers(HeaderMap::new())
            .build()
            .map_err(|_| LiteLlmError::Config {
                what: "HTTP client could not be built",
            })?;
        Ok(Self {
            http,
            base,
            auth,
            slow_timeout: config.request_timeout.max(MIN_SLOW_TIMEOUT),
        })
    }

    /// Model names a given virtual key may use (`/v1/models` with that key): the check that a
    /// user's key opens exactly its models. Not part of the trait: the sync never needs it.
    pub async fn models_visible_to(&self, key: &SecretString) -> Result<Vec<String>, LiteLlmError> {
        let request = self
            .http
            .get(self.url("v1/models")?)
            .header(AUTHORIZATION, bearer(key)?);
        let list: RawModelList = parse(send(request).await?)?;
        Ok(list.data.into_iter().map(|m| m.id).collect())
    }

    fn url(&self, path: &str) -> Result<Url, LiteLlmError> {
        self.base.join(path).map_err(|_| LiteLlmError::Config {
            what: "base URL cannot carry an API path",
        })
    }

    fn admin(&self, method: Method, path: &str) -> Result<RequestBuilder, LiteLlmError> {
        Ok(self
            .http
            .request(method, self.url(path)?)
            .header(AUTHORIZATION, self.auth.clone()))
    }

    fn mutating(
        &self,
        path: &str,
        changed_by: &str,
        body: &Value,
    ) -> Result<RequestBuilder, LiteLlmError> {
        let actor = HeaderValue::from_str(changed_by).unwrap_or(HeaderValue::from_static("mama"));
        Ok(self
            .admin(Method::POST, path)?
            .header(CHANGED_BY, actor)
            .json(body))
    }

    async fn call<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, LiteLlmError> {
        parse(send(request).await?)
    }
}

fn bearer(secret: &SecretString) -> Result<HeaderValue, LiteLlmError> {
    let mut value =
        HeaderValue::from_str(&format!("Bearer {}", secret.expose())).map_err(|_| {
            LiteLlmError::Config {
                what: "key contains characters not allowed in a header",
            }
        })?;
    value.set_sensitive(true);
    Ok(value)
}

/// LiteLLM accepts a key or its hash; mama always sends the hash so no secret travels needlessly.
fn as_hash(key_or_hash: &str) -> String {
    if key_or_hash.starts_with("sk-") {
        key_hash(key_or_hash)
    } else {
        key_or_hash.to_owned()
    }
}

/// A complete answer: status plus the whole body.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

/// Sends and reads the whole body; maps transport failures and non-2xx statuses.
async fn send(request: RequestBuilder) -> Result<Answer, LiteLlmError> {
    let response = request.send().await.map_err(transport_error)?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.bytes().await.map_err(transport_error)?.to_vec();
    if status.is_success() {
        return Ok(Answer { status, body });
    }
    Err(status_error(status, &body, retry_after))
}

fn parse<T: DeserializeOwned>(answer: Answer) -> Result<T, LiteLlmError> {
    serde_json::from_slice(&answer.body).map_err(|err| {
        // serde quotes the values it chokes on: the detail is redacted like any upstream text.
        let detail = UpstreamDetail::new(err.to_string());
        tracing::debug!(
            status = answer.status.as_u16(),
            error = detail.as_str(),
            "unreadable LiteLLM body"
        );
        LiteLlmError::Malformed {
            status: answer.status.as_u16(),
            detail,
        }
    })
}

/// Order matters: a connect timeout is a connect failure (nothing was sent), not an unclear one.
fn transport_error(err: reqwest::Error) -> LiteLlmError {
    let detail = UpstreamDetail::new(error_chain(&err));
    tracing::debug!(detail = detail.as_str(), "LiteLLM transport error");
    if err.is_connect() {
        LiteLlmError::Connect { detail }
    } else if err.is_timeout() {
        LiteLlmError::Timeout
    } else if err.is_builder() {
        LiteLlmError::Config {
            what: "request could not be built",
        }
    } else {
        // Reset, closed before or during the answer, truncated or undecodable body.
        LiteLlmError::ConnectionCut { detail }
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// LiteLLM's `type` is unreliable (many 400/404 say `internal_server_error`): decide by status
/// and `param` only. `param` may be JSON null or the string `"None"`.
fn status_error(status: StatusCode, body: &[u8], retry_after: Option<Duration>) -> LiteLlmError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let envelope = parsed.as_ref().and_then(|v| v.get("error"));
    let message = envelope
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            parsed
                .as_ref()
                .and_then(|v| v.get("detail"))
                .map(Value::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let param = envelope
        .and_then(|e| e.get("param"))
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty() && *p != "None")
        .map(str::to_owned);
    let detail = UpstreamDetail::new(message);
    tracing::debug!(status = status.as_u16(), param = ?param, detail = detail.as_str(), "LiteLLM error answer");
    match status.as_u16() {
        401 => LiteLlmError::Unauthorized { detail },
        403 => LiteLlmError::Forbidden { detail },
        404 => LiteLlmError::NotFound { detail },
        422 => LiteLlmError::Validation { detail },
        429 => LiteLlmError::RateLimited {
            retry_after,
            detail,
        },
        400 if param.as_deref() == Some("key_alias") => LiteLlmError::DuplicateAlias { detail },
        s @ 400..=499 => LiteLlmError::BadRequest {
            status: s,
            param,
            detail,
        },
        s @ 500..=599 => LiteLlmError::Server { status: s, detail },
        s => LiteLlmError::UnexpectedStatus { status: s, detail },
    }
}

/// The `/key/generate` body: `key_type` always `llm_api`; never `tags` or `model_max_budget`
/// (enterprise-only); no empty alias (LiteLLM counts `""` as an alias).
fn generate_body(req: &GenerateKey) -> Value {
    let mut body = Map::new();
    body.insert("key".into(), json!(req.key.expose()));
    body.insert("models".into(), json!(req.models));
    body.insert("key_type".into(), json!(KEY_TYPE_LLM_API));
    body.insert("metadata".into(), Value::Object(req.metadata.clone()));
    if let Some(alias) = req.key_alias.as_deref().filter(|a| !a.is_empty()) {
        body.insert("key_alias".into(), json!(alias));
    }
    if let Some(user_id) = &req.user_id {
        body.insert("user_id".into(), json!(user_id));
    }
    if let Some(team_id) = &req.team_id {
        body.insert("team_id".into(), json!(team_id));
    }
    if req.blocked {
        body.insert("blocked".into(), json!(true));
    }
    let limits = limits_body(&req.limits, Utc::now());
    body.extend(limits.into_iter().filter(|(_, v)| !v.is_null()));
    Value::Object(body)
}

/// Every limit as `/key/generate` and `/key/update` take it, `null` for none (which clears it
/// on an update). An expiry goes out as a duration from `now`, at least a second, so a key whose
/// time has passed while LiteLLM was unreachable still expires.
fn limits_body(limits: &LimitsOnKey, now: DateTime<Utc>) -> Map<String, Value> {
    let duration = limits
        .expires
        .map(|at| format!("{}s", (at - now).num_seconds().max(1)));
    Map::from_iter([
        ("max_budget".to_string(), json!(limits.max_budget)),
        ("budget_duration".to_string(), json!(limits.budget_duration)),
        ("tpm_limit".to_string(), json!(limits.tpm_limit)),
        ("rpm_limit".to_string(), json!(limits.rpm_limit)),
        ("duration".to_string(), json!(duration)),
    ])
}

/// The `/key/update` body: only the fields that change.
fn update_body(token: &str, req: &UpdateKey) -> Value {
    let mut body = Map::new();
    body.insert("key".into(), json!(token));
    if let Some(models) = &req.models {
        body.insert("models".into(), json!(models));
    }
    if let Some(alias) = req.key_alias.as_deref().filter(|a| !a.is_empty()) {
        body.insert("key_alias".into(), json!(alias));
    }
    if let Some(team_id) = &req.team_id {
        body.insert("team_id".into(), json!(team_id));
    }
    if let Some(user_id) = &req.user_id {
        body.insert("user_id".into(), json!(user_id));
    }
    if let Some(metadata) = &req.metadata {
        body.insert("metadata".into(), Value::Object(metadata.clone()));
    }
    if let Some(blocked) = req.blocked {
        body.insert("blocked".into(), json!(blocked));
    }
    if let Some(limits) = &req.limits {
        body.extend(limits_body(limits, Utc::now()));
    }
    Value::Object(body)
}

fn malformed(status: u16, what: &str) -> LiteLlmError {
    LiteLlmError::Malformed {
        status,
        detail: UpstreamDetail::new(what),
    }
}

#[async_trait]
impl LiteLlm for ReqwestLiteLlm {
    async fn health(&self) -> Result<Health, LiteLlmError> {
        let raw: RawHealth = self
            .call(self.admin(Method::GET, "health/readiness")?)
            .await?;
        Ok(Health {
            status: raw.status,
            db: raw.db,
        })
    }

    async fn list_models(&self) -> Result<Vec<String>, LiteLlmError> {
        let list: RawModelList = self.call(self.admin(Method::GET, "v1/models")?).await?;
        Ok(dedup(list.data.into_iter().map(|m| m.id)))
    }

    async fn model_info_names(&self) -> Result<Vec<String>, LiteLlmError> {
        let list: RawModelInfoList = self.call(self.admin(Method::GET, "model/info")?).await?;
        Ok(dedup(list.data.into_iter().map(|m| m.model_name)))
    }

    async fn generate_key(
        &self,
        changed_by: &str,
        req: &GenerateKey,
    ) -> Result<KeyInfo, LiteLlmError> {
        let token = key_hash(req.key.expose());
        let raw: RawKey = self
            .call(self.mutating("key/generate", changed_by, &generate_body(req))?)
            .await?;
        raw.into_info(Some(&token))
            .ok_or_else(|| malformed(200, "generate answer without token"))
    }

    async fn update_key(
        &self,
        changed_by: &str,
        key_hash_or_key: &str,
        req: &UpdateKey,
    ) -> Result<KeyInfo, LiteLlmError> {
        let token = as_hash(key_hash_or_key);
        let raw: RawKey = self
            .call(self.mutating("key/update", changed_by, &update_body(&token, req))?)
            .await?;
        raw.into_info(Some(&token))
            .ok_or_else(|| malformed(200, "update answer without token"))
    }

    async fn delete_keys(
        &self,
        changed_by: &str,
        key_hashes: &[String],
    ) -> Result<(), LiteLlmError> {
        let keys: Vec<String> = key_hashes.iter().map(|k| as_hash(k)).collect();
        let _: RawDeleted = self
            .call(self.mutating("key/delete", changed_by, &json!({ "keys": keys }))?)
            .await?;
        Ok(())
    }

    async fn delete_keys_by_alias(
        &self,
        changed_by: &str,
        aliases: &[String],
    ) -> Result<(), LiteLlmError> {
        let _: RawDeleted = self
            .call(self.mutating("key/delete", changed_by, &json!({ "key_aliases": aliases }))?)
            .await?;
        Ok(())
    }

    async fn key_info(&self, key_hash_or_key: &str) -> Result<Option<KeyInfo>, LiteLlmError> {
        let token = as_hash(key_hash_or_key);
        let request = self
            .admin(Method::GET, "key/info")?
            .query(&[("key", token.as_str())]);
        let raw: RawKeyInfoResponse = match self.call(request).await {
            Ok(raw) => raw,
            Err(LiteLlmError::NotFound { .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        let known = raw.key.filter(|k| !k.starts_with("sk-")).unwrap_or(token);
        raw.info
            .into_info(Some(&known))
            .map(Some)
            .ok_or_else(|| malformed(200, "key info without token"))
    }

    async fn list_keys(&self, query: &ListKeys) -> Result<KeyPage, LiteLlmError> {
        let mut params: Vec<(&str, String)> = vec![
            ("page", query.page.to_string()),
            ("size", query.size.to_string()),
            ("return_full_object", "true".into()),
        ];
        for (name, value) in [
            ("key_alias", &query.key_alias),
            ("user_id", &query.user_id),
            ("team_id", &query.team_id),
        ] {
            if let Some(value) = value {
                params.push((name, value.clone()));
            }
        }
        let request = self.admin(Method::GET, "key/list")?.query(&params);
        let raw: RawKeyList = self.call(request).await?;
        let keys = raw
            .keys
            .into_iter()
            .map(|k| {
                k.into_info(None)
                    .ok_or_else(|| malformed(200, "listed key without token"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(KeyPage {
            keys,
            total_count: raw.total_count.unwrap_or(0),
            current_page: raw.current_page.unwrap_or(query.page),
            total_pages: raw.total_pages.unwrap_or(0),
        })
    }

    async fn team_info(&self, team_id: &str) -> Result<Option<Team>, LiteLlmError> {
        let request = self
            .admin(Method::GET, "team/info")?
            .query(&[("team_id", team_id)]);
        match self.call::<RawTeamInfo>(request).await {
            Ok(raw) => Ok(Some(raw.team_info.into())),
            Err(LiteLlmError::NotFound { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    async fn daily_activity(
        &self,
        start: chrono::NaiveDate,
        end: chrono::NaiveDate,
        page: u32,
        page_size: u32,
    ) -> Result<ActivityPage, LiteLlmError> {
        let params = [
            ("start_date", start.format("%Y-%m-%d").to_string()),
            ("end_date", end.format("%Y-%m-%d").to_string()),
            ("page", page.to_string()),
            ("page_size", page_size.to_string()),
        ];
        let request = self
            .admin(Method::GET, "user/daily/activity")?
            .query(&params)
            .timeout(self.slow_timeout);
        let raw: RawActivity = self.call(request).await?;
        Ok(raw.into_page(page))
    }

    async fn list_teams(&self) -> Result<Vec<Team>, LiteLlmError> {
        let raw: Vec<RawTeam> = self.call(self.admin(Method::GET, "team/list")?).await?;
        Ok(raw.into_iter().map(Team::from).collect())
    }

    async fn new_team(&self, changed_by: &str, req: &NewTeam) -> Result<Team, LiteLlmError> {
        let mut body = json!({ "team_alias": req.team_alias, "models": req.models });
        if let (Some(id), Some(map)) = (&req.team_id, body.as_object_mut()) {
            map.insert("team_id".into(), json!(id));
        }
        let raw: RawTeam = self
            .call(self.mutating("team/new", changed_by, &body)?)
            .await?;
        Ok(raw.into())
    }

    async fn set_team_models(
        &self,
        changed_by: &str,
        team_id: &str,
        models: &[String],
    ) -> Result<(), LiteLlmError> {
        let body = json!({ "team_id": team_id, "models": models });
        let _: Value = self
            .call(self.mutating("team/update", changed_by, &body)?)
            .await?;
        Ok(())
    }
}

/// Keeps the first occurrence of each name, in LiteLLM's order (`/model/info` lists one entry per
/// deployment, so a model served twice appears twice).
fn dedup(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names.filter(|n| seen.insert(n.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(alias: Option<&str>) -> GenerateKey {
        GenerateKey {
            key: SecretString::new("sk-0123456789abcdef"),
            key_alias: alias.map(str::to_owned),
            models: vec!["gpt-4o".into()],
            user_id: Some("u1".into()),
            team_id: None,
            metadata: Map::new(),
            blocked: false,
            limits: LimitsOnKey::default(),
        }
    }

    #[test]
    fn limits_go_out_as_litellm_takes_them_and_none_clears_on_update() {
        let now = Utc::now();
        let limits = LimitsOnKey {
            max_budget: Some(2.5),
            budget_duration: Some("30d".into()),
            tpm_limit: None,
            rpm_limit: Some(60),
            expires: Some(now + chrono::Duration::seconds(3600)),
        };
        let body = limits_body(&limits, now);
        assert_eq!(body["max_budget"], 2.5);
        assert_eq!(body["budget_duration"], "30d");
        assert_eq!(body["rpm_limit"], 60);
        assert_eq!(body["duration"], "3600s");
        assert!(
            body["tpm_limit"].is_null(),
            "null clears the limit in LiteLLM"
        );
        let past = LimitsOnKey {
            expires: Some(now - chrono::Duration::seconds(10)),
            ..LimitsOnKey::default()
        };
        assert_eq!(limits_body(&past, now)["duration"], "1s");
        let mut req = generate(None);
        req.limits = limits;
        let body = generate_body(&req);
        assert!(body.get("tpm_limit").is_none(), "no nulls on generate");
        assert_eq!(body["rpm_limit"], 60);
    }

    #[test]
    fn generate_body_sends_llm_api_and_never_enterprise_fields() {
        let body = generate_body(&generate(Some("mama-u1")));
        assert_eq!(body["key_type"], "llm_api");
        assert_eq!(body["key_alias"], "mama-u1");
        assert!(body.get("tags").is_none() && body.get("model_max_budget").is_none());
        assert!(body.get("team_id").is_none());
    }

    #[test]
    fn empty_alias_is_omitted() {
        assert!(generate_body(&generate(Some("")))
            .get("key_alias")
            .is_none());
        assert!(generate_body(&generate(None)).get("key_alias").is_none());
    }

    #[test]
    fn status_mapping_decides_by_status_and_param() {
        let dup = br#"{"error":{"message":"x","type":"bad_request_error","param":"key_alias","code":"400"}}"#;
        assert!(matches!(
            status_error(StatusCode::BAD_REQUEST, dup, None),
            LiteLlmError::DuplicateAlias { .. }
        ));
        let none = br#"{"error":{"message":"x","type":"auth_error","param":"None","code":"400"}}"#;
        assert!(matches!(
            status_error(StatusCode::BAD_REQUEST, none, None),
            LiteLlmError::BadRequest { param: None, .. }
        ));
        let not_found = br#"{"error":{"message":"x","type":"internal_server_error","param":null,"code":"404"}}"#;
        assert!(matches!(
            status_error(StatusCode::NOT_FOUND, not_found, None),
            LiteLlmError::NotFound { .. }
        ));
        assert!(matches!(
            status_error(StatusCode::BAD_GATEWAY, b"<html>", None),
            LiteLlmError::Server { status: 502, .. }
        ));
    }

    #[test]
    fn plaintext_keys_are_hashed_before_leaving() {
        assert_eq!(as_hash("sk-abc"), key_hash("sk-abc"));
        assert_eq!(as_hash("abcdef"), "abcdef");
    }
}

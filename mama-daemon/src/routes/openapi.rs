//! The OpenAPI document of the REST API, kept next to the handlers it describes. Schemathesis
//! checks the served daemon against it in CI (`.ci/schemathesis.sh`), and a snapshot in
//! `tests/api_contract.rs` makes every change to it a reviewed diff.

use axum::Json;
use serde_json::{json, Value};

pub async fn openapi_json() -> Json<Value> {
    Json(document())
}

/// What a user id may contain, as a pattern that no common regex dialect (ECMA-262 with or
/// without the `u` flag, Java, Python) reads as refusing an id the server accepts: it refuses
/// white space, control characters and ASCII punctuation other than `. _ - @ +`, and leaves the
/// rest to the server. (`\w` is ASCII only in most dialects, so it refused ids like `홍길동`.)
const USER_ID_PATTERN: &str = r"^[^\x00-\x2a\x2c\x2f\x3a-\x3f\x5b-\x5e\x60\x7b-\xa0\s]+$";

pub fn document() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let err = |desc: &str| json!({"description": desc, "content": {"application/json": {"schema": error}}});
    let throttled = || {
        json!({"description": "Too many requests without a valid token from this address",
               "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 0}}},
               "content": {"application/json": {"schema": error}}})
    };
    json!({
        "openapi": "3.0.3",
        "info": {"title": "mama REST API for services", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Look up users and their LiteLLM virtual keys. A user's key is returned only when the user's allowed services include the calling service."},
        "servers": [{"url": "/"}],
        "security": [{"serviceToken": []}],
        "paths": {
            "/api/v1/users/lookup": {"post": {
                "operationId": "lookupUsers",
                "summary": "Info and key of many users, in request order",
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/LookupRequest"},
                    "example": {"user_ids": ["alice", "nobody"]}}}},
                "responses": {
                    "200": {"description": "Found users and missing ids", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LookupResponse"}}},
                            "links": {"GetFirstUser": {"operationId": "getUser", "parameters": {"id": "$response.body#/users/0/id"},
                                                       "description": "The first user found, on its own"}}},
                    "400": err("Bad input: not JSON, unknown field, 0 or more than 1000 ids, an invalid id"),
                    "401": err("Missing, malformed, unknown or revoked service token"),
                    "413": err("Body larger than 1 MiB"),
                    "429": throttled(),
                    "503": err("Database or event log unavailable")
                }
            }},
            "/api/v1/users/{id}": {"get": {
                "operationId": "getUser",
                "summary": "Info and key of one user",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"$ref": "#/components/schemas/UserId"}, "example": "alice"}],
                "responses": {
                    "200": {"description": "The user", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LookupUser"}}}},
                    "400": err("Invalid id"),
                    "401": err("Missing or invalid service token"),
                    "404": err("No such user"),
                    "429": throttled(),
                    "503": err("Database or event log unavailable")
                }
            }},
            "/api/v1/usage": {"get": {
                "operationId": "getUsage",
                "summary": "Usage and spend of many users, by day or by model, as mama collected it from LiteLLM",
                "parameters": [
                    {"name": "user_ids", "in": "query", "required": true, "schema": {"type": "string", "minLength": 1}, "example": "alice,bob",
                     "description": "1 to 100 user ids, comma-separated (or the parameter repeated)"},
                    {"name": "from", "in": "query", "required": false, "schema": {"type": "string", "format": "date"}, "example": "2026-11-01",
                     "description": "First UTC day (default: 29 days before `to`)"},
                    {"name": "to", "in": "query", "required": false, "schema": {"type": "string", "format": "date"}, "example": "2026-11-30",
                     "description": "Last UTC day, included (default: today); at most 366 days after `from`"},
                    {"name": "group", "in": "query", "required": false, "schema": {"type": "string", "enum": ["day", "model"], "default": "day"}}
                ],
                "responses": {
                    "200": {"description": "Each found user's usage in request order (withheld for users that do not allow the calling service), and the ids that are no users",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/UsageResponse"}}}},
                    "400": err("Bad input: no ids or more than 100, an invalid id, a bad date or range, an unknown parameter"),
                    "401": err("Missing or invalid service token"),
                    "429": throttled(),
                    "503": err("Database or event log unavailable")
                }
            }},
            "/api/v1/openapi.json": {"get": {"operationId": "openapi", "security": [], "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3 document", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/healthz": {"get": {"operationId": "healthz", "security": [], "summary": "Liveness: the process answers",
                "responses": {"200": {"description": "Alive", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}}}},
            "/readyz": {"get": {"operationId": "readyz", "security": [], "summary": "Readiness: database and event log; LiteLLM is reported, not required",
                "responses": {
                    "200": {"description": "Database reachable and migrated, event log writable", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}},
                    "503": {"description": "Not ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Readiness"}}}}}}},
            "/metrics": {"get": {"operationId": "metrics", "security": [], "summary": "Prometheus metrics",
                "responses": {"200": {"description": "The Prometheus text exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}}
        },
        "components": {
            "securitySchemes": {"serviceToken": {"type": "http", "scheme": "bearer", "description": "A service token (mama_st_…) issued by an admin"}},
            "schemas": {
                "LookupRequest": {"type": "object", "additionalProperties": false, "required": ["user_ids"],
                    "properties": {"user_ids": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"$ref": "#/components/schemas/UserId"}}}},
                "UserId": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": USER_ID_PATTERN, "example": "alice",
                    "description": "Letters and digits of any script (Hangul included) and . _ - @ +, in Unicode normal form NFKC (fullwidth and other look-alike forms are refused). The pattern refuses only white space, control characters and ASCII punctuation other than . _ - @ +: which other characters are letters and digits is Unicode's call, made by the server."},
                "LookupUser": {"type": "object", "required": ["id", "organization", "models", "services", "info", "key", "key_status", "limits", "status", "rotated_at"],
                    "properties": {
                        "id": {"type": "string"}, "organization": {"type": "string"},
                        "models": {"type": "array", "items": {"type": "string"}},
                        "services": {"type": "array", "items": {"type": "string"}},
                        "info": {"type": "object", "additionalProperties": {"type": "string"}},
                        "key": {"type": "string", "nullable": true, "description": "The LiteLLM virtual key, or null (see key_withheld)"},
                        "key_status": {"type": "string", "enum": ["none", "pending", "active", "failed"]},
                        "key_withheld": {"type": "string", "enum": ["service_not_allowed", "no_key", "no_models", "not_in_litellm_yet", "key_unreadable", "suspended", "expired"]},
                        "limits": {"$ref": "#/components/schemas/KeyLimits"},
                        "status": {"type": "string", "enum": ["suspended", "expired", "over_budget", "failed", "pending", "active", "none"],
                                   "description": "What the key can do now, the most pressing state first"},
                        "rotated_at": {"type": "string", "format": "date-time", "nullable": true, "description": "When the key was last rotated (null: never)"},
                        "previous_key_expires_at": {"type": "string", "format": "date-time", "description": "During the grace after a rotation: when the previous key stops working"}
                    }},
                "KeyLimits": {"type": "object", "required": ["max_budget", "budget_period", "tpm_limit", "rpm_limit", "expires_at", "rotation_every"],
                    "description": "What the key may spend, how fast and for how long; null is no limit",
                    "properties": {
                        "max_budget": {"type": "number", "minimum": 0, "nullable": true, "description": "USD per budget period (or in total without one)"},
                        "budget_period": {"type": "string", "enum": ["1d", "7d", "30d"], "nullable": true, "description": "Spend resets on UTC calendar boundaries"},
                        "tpm_limit": {"type": "integer", "minimum": 1, "nullable": true, "description": "Tokens per minute"},
                        "rpm_limit": {"type": "integer", "minimum": 1, "nullable": true, "description": "Requests per minute"},
                        "expires_at": {"type": "string", "format": "date-time", "nullable": true},
                        "rotation_every": {"type": "string", "pattern": "^[0-9]+d$", "nullable": true, "description": "The key is rotated this long after its last rotation"}
                    }},
                "LookupResponse": {"type": "object", "required": ["users", "missing"],
                    "properties": {"users": {"type": "array", "items": {"$ref": "#/components/schemas/LookupUser"}},
                                   "missing": {"type": "array", "items": {"type": "string"}}}},
                "Usage": {"type": "object", "required": ["spend", "successful_requests", "failed_requests", "prompt_tokens", "completion_tokens", "total_tokens"],
                    "properties": {
                        "spend": {"type": "number", "minimum": 0, "description": "USD"},
                        "successful_requests": {"type": "integer", "minimum": 0},
                        "failed_requests": {"type": "integer", "minimum": 0, "description": "Calls LiteLLM refused or failed"},
                        "prompt_tokens": {"type": "integer", "minimum": 0},
                        "completion_tokens": {"type": "integer", "minimum": 0},
                        "total_tokens": {"type": "integer", "minimum": 0}
                    }},
                "UserUsage": {"type": "object", "required": ["id", "total", "rows"],
                    "properties": {
                        "id": {"type": "string"},
                        "withheld": {"type": "string", "enum": ["service_not_allowed"], "description": "The user does not allow the calling service: no usage shown"},
                        "total": {"$ref": "#/components/schemas/Usage"},
                        "rows": {"type": "array", "items": {"type": "object", "required": ["key", "usage"], "properties": {
                            "key": {"type": "string", "description": "The UTC day (YYYY-MM-DD) or the model"},
                            "usage": {"$ref": "#/components/schemas/Usage"}}}}
                    }},
                "UsageResponse": {"type": "object", "required": ["from", "to", "group", "users", "missing", "as_of"],
                    "properties": {
                        "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
                        "group": {"type": "string", "enum": ["day", "model"]},
                        "users": {"type": "array", "items": {"$ref": "#/components/schemas/UserUsage"}},
                        "missing": {"type": "array", "items": {"type": "string"}},
                        "as_of": {"type": "string", "format": "date-time", "nullable": true, "description": "When mama last collected usage from LiteLLM (null: not yet)"}
                    }},
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string", "description": "Stable; branch on it: parse_error, invalid_request, invalid_params, payload_too_large, unauthenticated, too_many_requests, not_found, unavailable, internal"},
                                   "message": {"type": "string", "description": "For a person; may change"},
                                   "fields": {"type": "array", "items": {"type": "object", "required": ["field", "message"],
                                       "properties": {"field": {"type": "string"}, "message": {"type": "string"}, "row": {"type": "integer", "minimum": 0}}}},
                                   "missing": {"type": "array", "items": {"type": "string"}},
                                   "retry_after_secs": {"type": "integer", "minimum": 0}}}}},
                "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok"]}}},
                "Readiness": {"type": "object", "required": ["status", "database", "events", "litellm"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ready", "not ready"]},
                        "database": {"type": "string", "enum": ["ok", "migrations pending", "unreachable"]},
                        "events": {"type": "string", "enum": ["ok", "not writable"]},
                        "litellm": {"type": "object", "required": ["configured"], "properties": {
                            "configured": {"type": "boolean"},
                            "reachable": {"type": "boolean", "nullable": true, "description": "null: not known yet"},
                            "error": {"type": "string", "nullable": true}}}
                    }}
            }
        }
    })
}

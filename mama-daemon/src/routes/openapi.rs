//! The OpenAPI document of the REST API, kept next to the handlers it describes; the test suite
//! checks the server against it.

use axum::Json;
use serde_json::{json, Value};

pub async fn openapi_json() -> Json<Value> {
    Json(document())
}

pub fn document() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let err = |desc: &str| json!({"description": desc, "content": {"application/json": {"schema": error}}});
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
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LookupRequest"}}}},
                "responses": {
                    "200": {"description": "Found users and missing ids", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LookupResponse"}}}},
                    "400": err("Bad input: not JSON, unknown field, 0 or more than 1000 ids, an invalid id"),
                    "401": err("Missing, malformed, unknown or revoked service token"),
                    "413": err("Body larger than 1 MiB"),
                    "429": err("Too many requests without a valid token from this address"),
                    "503": err("Database or event log unavailable")
                }
            }},
            "/api/v1/users/{id}": {"get": {
                "operationId": "getUser",
                "summary": "Info and key of one user",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"$ref": "#/components/schemas/UserId"}}],
                "responses": {
                    "200": {"description": "The user", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/LookupUser"}}}},
                    "400": err("Invalid id"),
                    "401": err("Missing or invalid service token"),
                    "404": err("No such user"),
                    "503": err("Database or event log unavailable")
                }
            }},
            "/api/v1/openapi.json": {"get": {"operationId": "openapi", "security": [], "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3 document", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/healthz": {"get": {"operationId": "healthz", "security": [], "responses": {"200": {"description": "Alive"}}}},
            "/readyz": {"get": {"operationId": "readyz", "security": [], "responses": {"200": {"description": "Database reachable and migrated, event log writable"}, "503": {"description": "Not ready"}}}}
        },
        "components": {
            "securitySchemes": {"serviceToken": {"type": "http", "scheme": "bearer", "description": "A service token (mama_st_…) issued by an admin"}},
            "schemas": {
                "LookupRequest": {"type": "object", "additionalProperties": false, "required": ["user_ids"],
                    "properties": {"user_ids": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"$ref": "#/components/schemas/UserId"}}}},
                "UserId": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[\\w.@+-]{1,128}$",
                    "description": "Letters and digits of any script (Hangul included) and . _ - @ +, in Unicode normal form NFKC (fullwidth and other look-alike forms are refused)."},
                "LookupUser": {"type": "object", "required": ["id", "organization", "models", "services", "info", "key", "key_status"],
                    "properties": {
                        "id": {"type": "string"}, "organization": {"type": "string"},
                        "models": {"type": "array", "items": {"type": "string"}},
                        "services": {"type": "array", "items": {"type": "string"}},
                        "info": {"type": "object", "additionalProperties": {"type": "string"}},
                        "key": {"type": "string", "nullable": true, "description": "The LiteLLM virtual key, or null (see key_withheld)"},
                        "key_status": {"type": "string", "enum": ["none", "pending", "active", "failed"]},
                        "key_withheld": {"type": "string", "enum": ["service_not_allowed", "no_key", "no_models", "not_in_litellm_yet", "key_unreadable"]}
                    }},
                "LookupResponse": {"type": "object", "required": ["users", "missing"],
                    "properties": {"users": {"type": "array", "items": {"$ref": "#/components/schemas/LookupUser"}},
                                   "missing": {"type": "array", "items": {"type": "string"}}}},
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                                   "fields": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}, "row": {"type": "integer"}}}},
                                   "missing": {"type": "array", "items": {"type": "string"}},
                                   "retry_after_secs": {"type": "integer"}}}}}
            }
        }
    })
}

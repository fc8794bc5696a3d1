//! The API's OpenAPI document, served at `/api/openapi.json`.
//!
//! Each handler declares what it answers itself (`#[utoipa::path]`): its parameters, its body,
//! its successes and the refusals its own code makes. What a route answers because of how it
//! is built — its body extractor, its session extractor, the timeout and panic layers every
//! route sits behind — is added here, once, from the operation's own declaration
//! ([`complete`]): so no handler repeats those lists and none can forget them. A test
//! (`tests/api/openapi.rs`) and the schemathesis leg of `scripts/test.sh` hold the document to
//! what the server does.

use porchlight_proto::SESSION_COOKIE;
use serde_json::{Map, Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{OpenApi, PartialSchema, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(title = "Porchlight API", description = "The Porchlight home-camera cloud. Every error is `{\"error\": {\"code\", \"message\"}}`."),
    modifiers(&SecuritySchemes),
    tags((name = "accounts"), (name = "sessions"), (name = "notifications"), (name = "devices"), (name = "hubs"), (name = "clips"), (name = "live"), (name = "push"), (name = "transparency log"), (name = "staff"), (name = "staff access"), (name = "operations"))
)]
pub(crate) struct ApiDoc;

/// The two ways a session token travels: `bearer` (API clients; hubs and staff carry their
/// own tokens the same way) and `cookie`, the browser app's HttpOnly session cookie.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The browser app's session (HttpOnly, set by sign-in with `porchlight-web: 1`). \
                 A write carried by it also needs the session's `x-csrf-token` and no \
                 other-site `Sec-Fetch-Site`/`Origin`, else `403 csrf`.",
            ))),
        );
    }
}

/// Bytes as they are: an age file, an MP4, a payload range. For bodies and answers that are
/// not JSON (`body = inline(Binary)`), where utoipa would describe `Vec<u8>` as an array of
/// numbers.
#[derive(Debug)]
pub struct Binary;

impl PartialSchema for Binary {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl ToSchema for Binary {}

/// The document of `api` (the router's generated one), completed: every operation gets the
/// answers its construction implies ([`implied_answers`]), and every schema built by
/// `#[serde(flatten)]` is written out as the one object it is on the wire.
pub fn complete(api: utoipa::openapi::OpenApi) -> Value {
    let mut doc = serde_json::to_value(api).unwrap_or_default();
    flatten_all_of(&mut doc);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for (method, operation) in item.iter_mut() {
                let implied = implied_answers(method, operation);
                add_answers(operation, &implied);
            }
        }
    }
    doc
}

/// A status every route built some way can answer, with why.
type Answer = (u16, &'static str);

const INTERNAL: Answer = (
    500,
    "`internal`: a failure on the server (the cause is logged, never sent)",
);
const UNAVAILABLE: Answer = (
    503,
    "`unavailable`: the store is out of reach, the server is busy, or the request took longer than 30 s",
);
const BAD_JSON: Answer = (
    400,
    "`malformed_request` or `unknown_field`: the body is not JSON of this route's shape",
);
const TOO_LARGE: Answer = (
    413,
    "`payload_too_large`: the body is larger than the server takes",
);
const NOT_JSON: Answer = (
    415,
    "`unsupported_media_type`: the body is not sent as `application/json`",
);
const BAD_PARAMETER: Answer = (
    400,
    "`malformed_request`: the path or query string is not valid for this route",
);
const UNAUTHENTICATED: Answer = (
    401,
    "`unauthenticated`: no token, an unknown or expired one, or one used from another device",
);
const CSRF: Answer = (
    403,
    "`csrf`: a write carried by the session cookie without the session's CSRF token, or sent \
     by another site",
);

/// What an operation can answer because of how it is declared, and so how it is built:
/// - every route sits behind the timeout and panic layers and most reach the store: `500`,
///   `503`;
/// - a JSON body is read by the JSON extractor: `400`, `413`, `415`;
/// - a path or query parameter is parsed by its extractor: `400`;
/// - a secured route checks its token first: `401`;
/// - a route that takes the session cookie refuses a cross-site or token-less write: `403`.
pub fn implied_answers(method: &str, operation: &Value) -> Vec<Answer> {
    let mut answers = vec![INTERNAL, UNAVAILABLE];
    if operation
        .pointer("/requestBody/content/application~1json")
        .is_some()
    {
        answers.extend([BAD_JSON, TOO_LARGE, NOT_JSON]);
    }
    let parameters = operation.get("parameters").and_then(Value::as_array);
    if parameters.is_some_and(|ps| {
        ps.iter()
            .any(|p| matches!(p.get("in").and_then(Value::as_str), Some("path" | "query")))
    }) {
        answers.push(BAD_PARAMETER);
    }
    let schemes: Vec<&str> = operation
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(Map::keys)
        .map(String::as_str)
        .collect();
    if !schemes.is_empty() {
        answers.push(UNAUTHENTICATED);
    }
    if schemes.contains(&"cookie") && !matches!(method, "get" | "head" | "options") {
        answers.push(CSRF);
    }
    answers
}

/// Adds each answer the operation does not already declare, with the error shape, and gives
/// every answer the `description` OpenAPI requires (the status's reason phrase where the
/// handler gave none).
fn add_answers(operation: &mut Value, answers: &[Answer]) {
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        if let Some(response) = response.as_object_mut()
            && response
                .get("description")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            let reason = status
                .parse::<u16>()
                .ok()
                .and_then(|s| axum::http::StatusCode::from_u16(s).ok())
                .and_then(|s| s.canonical_reason())
                .unwrap_or("answer");
            response.insert("description".into(), json!(reason));
        }
    }
    // Every `429` comes from `ApiError::throttled`, which always says when to try again.
    if let Some(throttled) = responses.get_mut("429").and_then(Value::as_object_mut) {
        throttled.insert(
            "headers".into(),
            json!({"Retry-After": {
                "description": "seconds to wait before trying again",
                "required": true,
                "schema": {"type": "integer", "minimum": 1},
            }}),
        );
    }
    for (status, why) in answers {
        responses.entry(status.to_string()).or_insert_with(|| {
            json!({
                "description": why,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
            })
        });
    }
}

/// utoipa writes a struct with a `#[serde(flatten)]` field as `allOf: [the flattened type,
/// the rest]`. Where the flattened type forbids other properties (`deny_unknown_fields`), no
/// object satisfies both parts: the answer the server sends is refused by its own document.
/// Each such schema is rewritten as the one object it is on the wire: the properties and
/// required fields of every part, other properties forbidden if any part forbade them.
fn flatten_all_of(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
    else {
        return;
    };
    let mut merged = Map::new();
    for (name, schema) in &schemas {
        if let Some(object) = merge_parts(&schemas, schema) {
            merged.insert(name.clone(), object);
        }
    }
    if let Some(target) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        target.extend(merged);
    }
}

/// The single object an `allOf` of objects describes, or `None` if `schema` is not one.
fn merge_parts(schemas: &Map<String, Value>, schema: &Value) -> Option<Value> {
    let parts = schema.get("allOf")?.as_array()?;
    let mut properties = Map::new();
    let mut required: Vec<Value> = Vec::new();
    let mut closed = false;
    for part in parts {
        let part = match part.get("$ref").and_then(Value::as_str) {
            Some(reference) => schemas.get(reference.strip_prefix("#/components/schemas/")?)?,
            None => part,
        };
        let part = merge_parts(schemas, part).unwrap_or_else(|| part.clone());
        if part.get("type").and_then(Value::as_str) != Some("object") {
            return None;
        }
        properties.extend(part.get("properties")?.as_object()?.clone());
        for field in part
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !required.contains(field) {
                required.push(field.clone());
            }
        }
        closed |= part.get("additionalProperties") == Some(&Value::Bool(false));
    }
    let mut object = Map::new();
    object.insert("type".into(), json!("object"));
    if let Some(description) = schema.get("description") {
        object.insert("description".into(), description.clone());
    }
    object.insert("required".into(), Value::Array(required));
    object.insert("properties".into(), Value::Object(properties));
    if closed {
        object.insert("additionalProperties".into(), json!(false));
    }
    Some(Value::Object(object))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn flattened_schemas_become_one_object() {
        let mut doc = json!({"components": {"schemas": {
            "Inner": {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}, "additionalProperties": false},
            "Outer": {"allOf": [
                {"$ref": "#/components/schemas/Inner"},
                {"type": "object", "required": ["b"], "properties": {"b": {"type": "integer"}}}
            ], "description": "both"},
        }}});
        flatten_all_of(&mut doc);
        assert_eq!(
            doc.pointer("/components/schemas/Outer").unwrap(),
            &json!({"type": "object", "description": "both", "required": ["a", "b"],
                "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
                "additionalProperties": false})
        );
    }

    #[test]
    fn answers_follow_the_declaration() {
        let statuses = |method, op: Value| -> Vec<u16> {
            let mut s: Vec<u16> = implied_answers(method, &op).iter().map(|a| a.0).collect();
            s.sort_unstable();
            s
        };
        assert_eq!(statuses("get", json!({})), [500, 503]);
        assert_eq!(
            statuses(
                "post",
                json!({"requestBody": {"content": {"application/json": {}}},
                       "security": [{"bearer": []}, {"cookie": []}]})
            ),
            [400, 401, 403, 413, 415, 500, 503]
        );
        assert_eq!(
            statuses(
                "get",
                json!({"parameters": [{"in": "query"}], "security": [{"bearer": []}, {"cookie": []}]})
            ),
            [400, 401, 500, 503]
        );
    }

    #[test]
    fn declared_answers_are_kept() {
        let mut op = json!({"responses": {"400": {"description": "mine"}}});
        add_answers(&mut op, &[BAD_JSON, TOO_LARGE]);
        assert_eq!(op.pointer("/responses/400/description").unwrap(), "mine");
        assert!(op.pointer("/responses/413").is_some());
    }
}

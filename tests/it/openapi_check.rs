//! Checks a real response against `/openapi.json` with a JSON-schema validator: the path and
//! method must be documented (else the response must be the documented 404 / 405), the status
//! must be listed, the body must match the schema of its media type, and required response
//! headers must be present.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use serde_json::{Value, json};

static DOC: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(orders::api::OPENAPI).expect("openapi.json parses"));
static VALIDATORS: LazyLock<Mutex<HashMap<String, jsonschema::Validator>>> = LazyLock::new(Default::default);

/// The documented path template matching a concrete path (`/orders/5` → `/orders/{id}`).
pub fn template_of(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    DOC["paths"].as_object()?.keys().find_map(|template| {
        let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
        let matches = parts.len() == segments.len()
            && parts.iter().zip(&segments).all(|(p, s)| (p.starts_with('{') && !s.is_empty()) || p == s);
        matches.then(|| template.clone())
    })
}

/// Escapes a JSON pointer token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Follows a `$ref` to a component, returning its pointer.
fn resolve(pointer: String) -> String {
    match DOC.pointer(&pointer).and_then(|v| v.get("$ref")).and_then(Value::as_str) {
        Some(target) => resolve(target.trim_start_matches('#').to_owned()),
        None => pointer,
    }
}

fn validate_at(schema_pointer: &str, instance: &Value) -> Result<(), String> {
    let mut cache = VALIDATORS.lock().unwrap();
    if !cache.contains_key(schema_pointer) {
        let mut root = DOC.clone();
        let fragment = schema_pointer.replace('{', "%7B").replace('}', "%7D");
        root.as_object_mut().unwrap().insert("$ref".to_owned(), json!(format!("#{fragment}")));
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .map_err(|e| format!("schema {schema_pointer} does not compile: {e}"))?;
        cache.insert(schema_pointer.to_owned(), validator);
    }
    let errors: Vec<String> = cache[schema_pointer].iter_errors(instance).map(|e| e.to_string()).collect();
    if errors.is_empty() { Ok(()) } else { Err(format!("{schema_pointer}: {}", errors.join("; "))) }
}

/// The pointer of the documented response for a call: its operation's, or the shared 404 /
/// 405 ones for an unknown path / method.
fn response_pointer(method: &str, path: &str, status: u16) -> Result<String, String> {
    let Some(template) = template_of(path) else {
        return if status == 404 {
            Ok("/components/responses/NotFound".to_owned())
        } else {
            Err(format!("{path} is not documented yet answered {status}"))
        };
    };
    let op = format!("/paths/{}/{}", escape(&template), method.to_ascii_lowercase());
    if DOC.pointer(&op).is_none() {
        return if status == 405 {
            Ok("/components/responses/MethodNotAllowed".to_owned())
        } else {
            Err(format!("{method} {template} is not documented yet answered {status}"))
        };
    }
    let pointer = format!("{op}/responses/{status}");
    if DOC.pointer(&pointer).is_none() {
        return Err(format!("{method} {template} does not document status {status}"));
    }
    Ok(resolve(pointer))
}

/// Checks one response; the error names what does not match.
pub fn check(
    method: &str,
    path: &str,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> Result<(), String> {
    let path = path.split('?').next().unwrap_or(path);
    // HEAD is GET without the body: GET's documented status and headers, and nothing else.
    let head = method.eq_ignore_ascii_case("HEAD");
    if head && !body.is_empty() {
        return Err(format!("HEAD {path} {status}: a body"));
    }
    let response_pointer = response_pointer(if head { "GET" } else { method }, path, status)?;
    let response = DOC.pointer(&response_pointer).unwrap();
    if let Some(required) = response.get("headers").and_then(Value::as_object) {
        for (name, spec) in required {
            if spec["required"] == json!(true) && !headers.contains_key(name.as_str()) {
                return Err(format!("{method} {path} {status}: header {name} is missing"));
            }
        }
    }
    if head {
        return Ok(());
    }
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return if body.is_empty() {
            Ok(())
        } else {
            Err(format!("{method} {path} {status}: body where none is documented"))
        };
    };
    let media = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = media.split(';').next().unwrap_or_default().trim();
    if !content.contains_key(essence) {
        return Err(format!("{method} {path} {status}: content type {media:?} is not documented"));
    }
    let instance: Value = if essence == "text/plain" {
        Value::String(body.to_owned())
    } else {
        serde_json::from_str(body).map_err(|e| format!("{method} {path} {status}: body is not JSON: {e}"))?
    };
    validate_at(&format!("{response_pointer}/content/{}/schema", escape(essence)), &instance)
        .map_err(|e| format!("{method} {path} {status}: {e}"))
}

/// Every (method, template) the document lists.
pub fn documented_operations() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (template, item) in DOC["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.push((method.to_ascii_uppercase(), template.clone()));
            }
        }
    }
    out
}

#[test]
fn the_checker_refuses_a_body_that_breaks_the_schema() {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("etag", "\"1\"".parse().unwrap());
    let wrong = r#"{"id": 1, "datetime": "2030-01-01T00:00:00Z", "totalfee": "1", "services": [], "version": 1}"#;
    assert!(check("GET", "/orders/1", 200, &headers, wrong).is_err(), "a malformed order must not pass");
    assert!(check("GET", "/orders/1", 418, &headers, "{}").is_err(), "an undocumented status must not pass");
    assert!(check("GET", "/elsewhere", 200, &headers, "{}").is_err(), "an undocumented path must not pass");
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The committed `openapi/openapi.json` is exactly what the server serves at `/openapi.json`.
//! Regenerate it with `PREQUAL_UPDATE_OPENAPI=1 cargo nextest run -E 'test(/^openapi::/)'`.

use std::path::Path;

#[test]
fn committed_document_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    let generated = prequal::http::openapi_json() + "\n";
    if std::env::var_os("PREQUAL_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date; run PREQUAL_UPDATE_OPENAPI=1 cargo nextest run -E 'test(/^openapi::/)'"
    );
}

#[test]
fn every_operation_is_documented() {
    let doc: serde_json::Value = serde_json::from_str(&prequal::http::openapi_json()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 15, "{} paths", paths.len());
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            let (verb, resource) = id.split_once('_').unwrap_or_else(|| panic!("{id}: not <verb>_<resource>"));
            assert!(
                !verb.is_empty() && !resource.is_empty() && id.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{id}"
            );
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{id}: no tag");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|k| k.starts_with('2')), "{id}: no success response");
            if !path.starts_with("/healthz") && !path.starts_with("/metrics") {
                assert!(responses.keys().any(|k| k.starts_with('4') || k.starts_with('5')), "{id}: no error response");
            }
            assert!(op["description"].is_string() || op["summary"].is_string(), "{id}: undocumented");
        }
    }
}

/// Found by the API conformance run (tests/suite/api_conformance.rs): the extractors answer 400 when
/// path or query parameters do not parse and 429 when an address has failed too many token
/// attempts, on every operation, and the document did not say so.
#[test]
fn shared_refusals_are_documented_on_every_operation() {
    let doc: serde_json::Value = serde_json::from_str(&prequal::http::openapi_json()).unwrap();
    let mut secured = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            if op["parameters"].as_array().is_some_and(|p| !p.is_empty()) {
                assert!(responses.contains_key("400"), "{method} {path}: parameters but no 400");
            }
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                secured += 1;
                let throttled = &responses
                    .get("429")
                    .unwrap_or_else(|| panic!("{method} {path}: takes a token but documents no 429"));
                assert!(throttled["headers"]["Retry-After"].is_object(), "{method} {path}: 429 without Retry-After");
                assert_eq!(
                    throttled["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody"
                );
            }
        }
    }
    assert!(secured >= 20, "{secured} operations take a token");
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Who may do what, as matrices over real HTTP on both backends:
//! - authorisation: every role (anonymous, revoked token, reader, lab, other lab, certifier,
//!   operator) × every endpoint;
//! - releasability: public, allied and restricted packages × readers of each kind, on every
//!   read path (list, count, get, download, countersign, withdraw).

use crate::common;

use std::collections::BTreeMap;

use common::server::{Backend, Response, TestRegistry};
use common::*;
use prequal::package::{Limits, verify_file};
use prequal::registry::OrgKind;
use serde_json::json;

both_backends!(authorisation_matrix, releasability_matrix);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Neither 401 nor 403 (the request was let through; it may still fail on its merits).
    Allowed,
    Unauthenticated,
    Forbidden,
}

fn authorisation_matrix(backend: Backend) {
    let reg = TestRegistry::start(backend);
    let mut tokens = reg.register(&[
        ("lab-a", OrgKind::Lab, "US", Some(&test_key(1))),
        ("lab-b", OrgKind::Lab, "US", Some(&test_key(2))),
        ("cert-a", OrgKind::Certifier, "US", Some(&test_key(3))),
        ("oem-a", OrgKind::Oem, "US", None),
    ]);
    tokens.insert("operator".into(), reg.operator_token.clone());
    let revoked =
        reg.post_json("/v1/tokens", Some(&reg.operator_token), &json!({"organisation": "lab-a", "role": "lab"})).json();
    reg.post_json(
        &format!("/v1/tokens/{}/revoke", revoked["id"].as_str().unwrap()),
        Some(&reg.operator_token),
        &json!({}),
    );
    tokens.insert("revoked".into(), revoked["token"].as_str().unwrap().to_owned());

    let dir = tempfile::tempdir().unwrap();
    let pkg = signed_package(dir.path());
    let digest = verify_file(&pkg, Limits::default()).unwrap().digest().to_string();
    assert_eq!(reg.upload(&pkg, Some(&tokens["lab-a"])).status, 201);
    let countersignature = test_key(3).sign(&prequal::package::PackageDigest::parse(&digest).unwrap()).to_bytes();
    let bytes = std::fs::read(&pkg).unwrap();

    use Expect::*;
    let roles = ["anonymous", "revoked", "oem-a", "lab-a", "lab-b", "cert-a", "operator"];
    type Call<'a> = Box<dyn Fn(Option<&str>) -> Response + 'a>;
    let d = digest.clone();
    let endpoints: Vec<(&str, Call, [Expect; 7])> = vec![
        (
            "GET /v1/packages",
            Box::new(|t| reg.get("/v1/packages", t)),
            [Allowed, Unauthenticated, Allowed, Allowed, Allowed, Allowed, Allowed],
        ),
        (
            "GET /v1/packages/{digest}",
            Box::new(|t| reg.get(&format!("/v1/packages/{d}"), t)),
            [Allowed, Unauthenticated, Allowed, Allowed, Allowed, Allowed, Allowed],
        ),
        (
            "GET /v1/packages/{digest}/download",
            Box::new(|t| reg.get(&format!("/v1/packages/{d}/download"), t)),
            [Allowed, Unauthenticated, Allowed, Allowed, Allowed, Allowed, Allowed],
        ),
        (
            "POST /v1/packages",
            Box::new(|t| reg.upload_bytes(bytes.clone(), t)),
            [Unauthenticated, Unauthenticated, Forbidden, Allowed, Allowed, Forbidden, Forbidden],
        ),
        (
            "POST /v1/packages/{digest}/signatures",
            Box::new(|t| {
                reg.request(
                    "POST",
                    &format!("/v1/packages/{d}/signatures"),
                    t,
                    Some(("application/json", countersignature.clone())),
                )
            }),
            [Unauthenticated, Unauthenticated, Forbidden, Forbidden, Forbidden, Allowed, Forbidden],
        ),
        (
            "POST /v1/packages/{digest}/withdraw",
            Box::new(|t| {
                // An empty reason is refused with 400 after the authorisation check, so nothing is withdrawn.
                reg.post_json(&format!("/v1/packages/{d}/withdraw"), t, &json!({"reason": ""}))
            }),
            [Unauthenticated, Unauthenticated, Forbidden, Allowed, Allowed, Forbidden, Allowed],
        ),
        (
            "GET /v1/organisations",
            Box::new(|t| reg.get("/v1/organisations", t)),
            [Allowed, Allowed, Allowed, Allowed, Allowed, Allowed, Allowed],
        ),
        (
            "GET /v1/organisations/{id}",
            Box::new(|t| reg.get("/v1/organisations/lab-a", t)),
            [Allowed, Allowed, Allowed, Allowed, Allowed, Allowed, Allowed],
        ),
        (
            "POST /v1/organisations",
            Box::new(|t| {
                reg.post_json("/v1/organisations", t, &json!({"id": "x", "name": "", "kind": "lab", "country": "US"}))
            }),
            [Unauthenticated, Unauthenticated, Forbidden, Forbidden, Forbidden, Forbidden, Allowed],
        ),
        (
            "POST /v1/organisations/{id}/keys",
            Box::new(|t| reg.post_json("/v1/organisations/lab-a/keys", t, &json!({"public_key": "not-a-key"}))),
            [Unauthenticated, Unauthenticated, Forbidden, Forbidden, Forbidden, Forbidden, Allowed],
        ),
        (
            "GET /v1/keys/{key_id}",
            Box::new(|t| reg.get(&format!("/v1/keys/{}", test_key(1).key_id()), t)),
            [Allowed, Allowed, Allowed, Allowed, Allowed, Allowed, Allowed],
        ),
        (
            "POST /v1/keys/{key_id}/revoke",
            Box::new(|t| {
                reg.post_json(&format!("/v1/keys/{}/revoke", test_key(1).key_id()), t, &json!({"reason": ""}))
            }),
            [Unauthenticated, Unauthenticated, Forbidden, Forbidden, Forbidden, Forbidden, Allowed],
        ),
        (
            "POST /v1/tokens",
            Box::new(|t| reg.post_json("/v1/tokens", t, &json!({"organisation": "nobody", "role": "reader"}))),
            [Unauthenticated, Unauthenticated, Forbidden, Forbidden, Forbidden, Forbidden, Allowed],
        ),
        (
            "GET /v1/tokens",
            Box::new(|t| reg.get("/v1/tokens", t)),
            [Unauthenticated, Unauthenticated, Forbidden, Forbidden, Forbidden, Forbidden, Allowed],
        ),
        (
            "POST /v1/tokens/{id}/revoke",
            Box::new(|t| reg.post_json("/v1/tokens/nonexistent/revoke", t, &json!({}))),
            [Unauthenticated, Unauthenticated, Forbidden, Forbidden, Forbidden, Forbidden, Allowed],
        ),
        (
            "GET /v1/whoami",
            Box::new(|t| reg.get("/v1/whoami", t)),
            [Unauthenticated, Unauthenticated, Allowed, Allowed, Allowed, Allowed, Allowed],
        ),
        ("GET /healthz", Box::new(|t| reg.get("/healthz", t)), [Allowed; 7]),
        ("GET /readyz", Box::new(|t| reg.get("/readyz", t)), [Allowed; 7]),
        ("GET /metrics", Box::new(|t| reg.get("/metrics", t)), [Allowed; 7]),
        ("GET /openapi.json", Box::new(|t| reg.get("/openapi.json", t)), [Allowed; 7]),
    ];
    let mut failures = Vec::new();
    for (name, call, expected) in &endpoints {
        for (role, want) in roles.iter().zip(expected) {
            let token = tokens.get(*role).map(String::as_str);
            let res = call(token);
            let got = match res.status {
                401 => Unauthenticated,
                403 => Forbidden,
                _ => Allowed,
            };
            if got != *want {
                failures.push(format!(
                    "{name} as {role}: expected {want:?}, got {} {}",
                    res.status,
                    String::from_utf8_lossy(&res.body)
                ));
            }
            if res.status == 401 || res.status == 403 {
                assert!(!res.code().is_empty(), "{name} as {role}: refusals carry a code");
            }
        }
    }
    assert!(failures.is_empty(), "{} cell(s) wrong:\n{}", failures.len(), failures.join("\n"));
    // The matrix withdrew nothing and registered nothing.
    let detail = reg.get(&format!("/v1/packages/{digest}"), None).json();
    assert_eq!(detail["status"], "active");
    assert_eq!(reg.get("/v1/organisations", None).json().as_array().unwrap().len(), 5);
}

fn releasability_matrix(backend: Backend) {
    let reg = TestRegistry::start(backend);
    let mut tokens = reg.register(&[
        ("lab-a", OrgKind::Lab, "US", Some(&test_key(1))),
        ("oem-us", OrgKind::Oem, "US", None),
        ("oem-gb", OrgKind::Oem, "GB", None),
        ("oem-jp", OrgKind::Oem, "JP", None),
        ("cert-gb", OrgKind::Certifier, "GB", Some(&test_key(3))),
    ]);
    tokens.insert("operator".into(), reg.operator_token.clone());
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str, releasability: serde_json::Value| {
        let p = custom_package(
            dir.path(),
            BASELINE,
            name,
            |m| {
                m["name"] = name.into();
                m["releasability"] = releasability;
            },
            &[&test_key(1)],
        );
        let digest = verify_file(&p, Limits::default()).unwrap().digest().to_string();
        let res = reg.upload(&p, Some(&tokens["lab-a"]));
        assert_eq!(res.status, 201, "{name}: {}", String::from_utf8_lossy(&res.body));
        digest
    };
    let public = make("rel-public", json!({"level": "public"}));
    let allied = make("rel-allied", json!({"level": "allied", "countries": ["GB", "CA"]}));
    let restricted = make("rel-restricted", json!({"level": "restricted", "organisations": ["oem-jp"]}));

    // reader → may see (public, allied, restricted)
    let expected: BTreeMap<&str, [bool; 3]> = BTreeMap::from([
        ("anonymous", [true, false, false]),
        ("oem-us", [true, false, false]),
        ("oem-gb", [true, true, false]),
        ("oem-jp", [true, false, true]),
        ("cert-gb", [true, true, false]),
        ("lab-a", [true, true, true]),
        ("operator", [true, true, true]),
    ]);
    let digests = [&public, &allied, &restricted];
    for (reader, sees) in &expected {
        let token = tokens.get(*reader).map(String::as_str);
        let list = reg.get("/v1/packages", token).json();
        let listed: Vec<&str> =
            list["packages"].as_array().unwrap().iter().map(|p| p["digest"].as_str().unwrap()).collect();
        let count = sees.iter().filter(|s| **s).count();
        assert_eq!(list["total"], count, "{reader}: count");
        assert_eq!(listed.len(), count, "{reader}: list");
        let filtered = reg.get("/v1/packages?organisation=lab-a&material_class=permanent_magnet", token).json();
        assert_eq!(filtered["total"], count, "{reader}: filtered count");
        // Search is a read path like the others: the one material is found through exactly the
        // packages the reader may see.
        let found = reg.get("/v1/search?lab=lab-a", token).json();
        assert_eq!(found["total"], 1, "{reader}: search {found}");
        let mut through: Vec<&str> =
            found["hits"][0]["packages"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
        through.sort();
        let mut seen: Vec<&str> = digests.iter().zip(sees).filter(|(_, may)| **may).map(|(d, _)| d.as_str()).collect();
        seen.sort();
        assert_eq!(through, seen, "{reader}: search");
        for (digest, may) in digests.iter().zip(sees) {
            assert_eq!(listed.contains(&digest.as_str()), *may, "{reader} lists {digest}");
            let want = if *may { 200 } else { 404 };
            assert_eq!(reg.get(&format!("/v1/packages/{digest}"), token).status, want, "{reader} gets {digest}");
            assert_eq!(
                reg.get(&format!("/v1/packages/{digest}/download"), token).status,
                want,
                "{reader} downloads {digest}"
            );
        }
    }
    // A certifier can countersign only what it may see.
    let sign = |digest: &str| {
        let body = test_key(3).sign(&prequal::package::PackageDigest::parse(digest).unwrap()).to_bytes();
        reg.request(
            "POST",
            &format!("/v1/packages/{digest}/signatures"),
            Some(&tokens["cert-gb"]),
            Some(("application/json", body)),
        )
    };
    assert_eq!(sign(&allied).status, 201);
    assert_eq!(sign(&restricted).status, 404);
    // The countersignature reaches search at once, for those who may see the package.
    let certified = |token: Option<&str>| reg.get("/v1/search?countersigned=true", token).json();
    assert_eq!(certified(Some(&tokens["oem-gb"]))["hits"][0]["packages"], json!([allied]));
    assert_eq!(certified(None)["total"], 0);
    assert_eq!(certified(Some(&tokens["oem-jp"]))["total"], 0);
    // A 404 for a restricted package reads exactly like one for a package that does not exist.
    let hidden = reg.get(&format!("/v1/packages/{restricted}"), Some(&tokens["oem-us"])).json();
    assert_eq!(hidden["error"]["code"], "not_found");
}

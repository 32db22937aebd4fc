#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The registry over real HTTP, on SQLite and on PostgreSQL: publish → get → download, every
//! refusal with its status and stable code, idempotency, conflicts, countersigning, withdrawal,
//! supersession, key revocation, operations endpoints and the OpenAPI document.

use crate::common;

use common::server::{Backend, TestRegistry, request};
use common::*;
use prequal::package::{Limits, verify_file};
use prequal::registry::OrgKind;
use serde_json::json;

both_backends!(
    publish_get_download_round_trip,
    refusals_have_stable_codes_and_store_nothing,
    countersign_withdraw_supersede,
    revoked_and_compromised_keys,
    operator_api_and_operations,
    graceful_shutdown_finishes_an_upload,
    concurrent_versions_supersede_in_order,
    failed_tokens_are_throttled_and_pages_carry_security_headers,
    internal_errors_stay_inside,
);

/// A fault inside the registry (here a stored profile made unreadable behind its back) is
/// answered 500 `internal` with the request id and a generic message; the cause is in the log
/// under that id, never in the response.
fn internal_errors_stay_inside(backend: Backend) {
    use diesel::RunQueryDsl;
    let reg = TestRegistry::start(backend);
    {
        let lib = reg.library();
        let mut conn = lib.store.conn().unwrap();
        diesel::sql_query("UPDATE profiles SET body = 'garbled-profile-body' WHERE id = 'loudspeaker-magnet'")
            .execute(&mut conn)
            .unwrap();
    }
    let res = reg.get("/v1/profiles/loudspeaker-magnet", None);
    assert_eq!(res.status, 500, "{}", String::from_utf8_lossy(&res.body));
    let body = res.json();
    assert_eq!(body["error"]["code"], "internal");
    let id = res.headers["x-request-id"].clone();
    assert_eq!(body["error"]["request_id"], id.as_str());
    let text = String::from_utf8_lossy(&res.body).to_string();
    assert!(text.contains(&id) && !text.contains("garbled") && !text.contains("expected"), "{text}");
    let log = std::fs::read_to_string(reg.log_path()).unwrap();
    let line = log.lines().find(|l| l.contains(&format!("req={id} internal"))).unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("loudspeaker-magnet"), "the cause is logged: {line}");
    // Refusals keep their own words and carry the id too.
    let res = reg.get("/v1/profiles/nothing", None);
    assert_eq!(res.json()["error"]["request_id"], res.headers["x-request-id"].as_str());
}

fn digest_of(path: &std::path::Path) -> String {
    verify_file(path, Limits::default()).unwrap().digest().to_string()
}

fn blob_count(reg: &TestRegistry) -> usize {
    files_under(&reg.data.join("blobs"))
}

fn publish_get_download_round_trip(backend: Backend) {
    let reg = TestRegistry::start(backend);
    let tokens = reg.register(&[("lab-a", OrgKind::Lab, "US", Some(&test_key(1)))]);
    let dir = tempfile::tempdir().unwrap();
    let pkg = signed_package(dir.path());
    let bytes = std::fs::read(&pkg).unwrap();
    let digest = digest_of(&pkg);

    let res = reg.upload(&pkg, Some(&tokens["lab-a"]));
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.headers["location"], format!("/v1/packages/{digest}"));
    let body = res.json();
    assert_eq!(body["digest"], digest);
    assert_eq!(body["organisation"], "lab-a");
    assert_eq!(body["status"], "active");
    assert_eq!(body["counts_as_evidence"], true);
    assert_eq!(body["file_sha256"], sha256_hex(&bytes));
    assert_eq!(body["signatures"][0]["kind"], "author");
    assert_eq!(body["verification"]["result"], "verified");
    assert!(!body["datasets"].as_array().unwrap().is_empty());
    let hcj = body["datasets"].as_array().unwrap().iter().find(|d| d["property"] == "intrinsic_coercivity").unwrap();
    assert!(hcj["measurements"].as_i64().unwrap() > 0 && hcj["batches"].as_i64().unwrap() >= 1);

    // Read back, anonymously (public package).
    let got = reg.get(&format!("/v1/packages/{digest}"), None);
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["manifest"]["name"], "ndfeb-n42sh-baseline");

    // Download: exact bytes, ETag = digest, Range, conditional GET.
    let dl = reg.get(&format!("/v1/packages/{digest}/download"), None);
    assert_eq!(dl.status, 200);
    assert_eq!(dl.body, bytes);
    assert_eq!(dl.headers["etag"], format!("\"{digest}\""));
    assert_eq!(dl.headers["content-type"], "application/zip");
    let url = format!("{}/v1/packages/{digest}/download", reg.url);
    let part = request(&url, "GET", None, None, &[("Range", "bytes=10-109")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body, bytes[10..110]);
    assert_eq!(part.headers["content-range"], format!("bytes 10-109/{}", bytes.len()));
    let not_modified = request(&url, "GET", None, None, &[("If-None-Match", &format!("\"{digest}\""))]);
    assert_eq!(not_modified.status, 304);

    // The same package again: the same record, nothing new stored.
    let again = reg.upload(&pkg, Some(&tokens["lab-a"]));
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["digest"], digest);
    assert_eq!(again.json()["registered_at"], body["registered_at"]);
    let list = reg.get("/v1/packages", None).json();
    assert_eq!(list["total"], 1);
    assert_eq!(list["packages"][0]["digest"], digest);
    assert_eq!(blob_count(&reg), 1);

    // Filters.
    assert_eq!(reg.get("/v1/packages?material_class=battery_cell", None).json()["total"], 0);
    assert_eq!(reg.get("/v1/packages?organisation=lab-a&status=active", None).json()["total"], 1);
    assert_eq!(reg.get("/v1/packages?limit=0", None).status, 400);

    // Organisations and keys are public.
    let org = reg.get("/v1/organisations/lab-a", None).json();
    assert_eq!(org["keys"][0]["key_id"], test_key(1).key_id().as_str());
    assert_eq!(org["keys"][0]["status"], "active");
}

fn refusals_have_stable_codes_and_store_nothing(backend: Backend) {
    let reg = TestRegistry::start_with(backend, &["--max-upload-bytes", "200000"]);
    let tokens = reg.register(&[
        ("lab-a", OrgKind::Lab, "US", Some(&test_key(1))),
        ("lab-b", OrgKind::Lab, "GB", Some(&test_key(2))),
        ("oem-a", OrgKind::Oem, "DE", None),
    ]);
    let lab_a = tokens["lab-a"].as_str();
    let dir = tempfile::tempdir().unwrap();
    let good = signed_package(dir.path());
    assert_eq!(reg.upload(&good, Some(lab_a)).status, 201);

    // A revoked token.
    let lib = reg.library();
    let revoked = lib
        .create_token(&prequal::registry::views::NewToken {
            organisation: "lab-a".into(),
            role: prequal::registry::Role::Lab,
            label: "revoked".into(),
        })
        .unwrap();
    lib.revoke_token(&revoked.info.id).unwrap();
    // A key of lab-a revoked before the upload.
    lib.add_key(
        "lab-a",
        &prequal::registry::views::NewKey {
            public_key: prequal::package::signing::encode_public_key(&test_key(5).public_key()),
        },
    )
    .unwrap();
    lib.revoke_key(
        test_key(5).key_id().as_str(),
        &prequal::registry::views::KeyRevocation { effective_at: None, compromised: false, reason: "retired".into() },
    )
    .unwrap();

    let tampered = {
        let mut e = PackageEntries::read(&good);
        let csv = e.names().into_iter().find(|n| n.ends_with(".csv")).unwrap();
        let text = e.text(&csv);
        let last_digit = text.rfind(|c: char| c.is_ascii_digit()).unwrap();
        let mut changed = text.clone().into_bytes();
        changed[last_digit] = if changed[last_digit] == b'9' { b'8' } else { changed[last_digit] + 1 };
        e.set(&csv, changed);
        let p = dir.path().join("tampered.zip");
        e.write(&p);
        p
    };
    let v2 = |name: &str, signers: &[&prequal::package::SecretKey]| {
        custom_package(dir.path(), BASELINE, name, |m| m["version"] = "2.0.0".into(), signers)
    };
    let unsigned = v2("unsigned", &[]);
    let unknown_key = v2("unknown-key", &[&test_key(9)]);
    let other_lab = v2("other-lab", &[&test_key(2)]);
    let revoked_key = v2("revoked-key", &[&test_key(5)]);
    let conflicting =
        custom_package(dir.path(), BASELINE, "conflict", |m| m["title"] = "Another title".into(), &[&test_key(1)]);
    let foreign_name = package_version(dir.path(), BASELINE, "3.0.0", &[&test_key(2)]);
    let read = |p: &std::path::Path| std::fs::read(p).unwrap();
    // Copies of the published package (same digest: signatures are outside it) with its
    // signature removed, or replaced by junk: refused like any badly signed upload, never 200.
    let resigned = |name: &str, junk: Option<&[u8]>| {
        let mut e = PackageEntries::read(&good);
        for sig in e.names().into_iter().filter(|n| n.starts_with("signatures/")) {
            e.remove(&sig);
        }
        if let Some(junk) = junk {
            e.set("signatures/junk.json", junk.to_vec());
        }
        let p = dir.path().join(name);
        e.write(&p);
        p
    };
    let unsigned_copy = resigned("unsigned-copy.zip", None);
    let junk_copy = resigned("junk-copy.zip", Some(b"{\"not\": \"a signature\"}"));
    // A different package under a published version, with a broken signature: the signature
    // error is what the lab needs to hear, not the version conflict.
    let conflicting_junk = {
        let mut e = PackageEntries::read(&conflicting);
        for sig in e.names().into_iter().filter(|n| n.starts_with("signatures/")) {
            e.remove(&sig);
        }
        e.set("signatures/junk.json", b"{}".to_vec());
        let p = dir.path().join("conflicting-junk.zip");
        e.write(&p);
        p
    };

    let unknown_token = format!("pq_{}_{}", "0".repeat(12), "0".repeat(64));
    type Case<'a> = (&'a str, Vec<u8>, Option<&'a str>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("no token", read(&good), None, 401, "unauthenticated"),
        ("malformed token", read(&good), Some("pq_nonsense"), 401, "invalid_token"),
        ("unknown token", read(&good), Some(&unknown_token), 401, "invalid_token"),
        ("revoked token", read(&good), Some(&revoked.token), 401, "token_revoked"),
        ("reader token", read(&good), Some(&tokens["oem-a"]), 403, "forbidden"),
        ("empty body", Vec::new(), Some(lab_a), 400, "bad_request"),
        ("not a zip", b"PK this is not a zip archive at all".repeat(10), Some(lab_a), 422, "not_a_zip"),
        ("tampered data", read(&tampered), Some(lab_a), 422, "hash_mismatch"),
        ("unsigned", read(&unsigned), Some(lab_a), 422, "not_signed_by_uploader"),
        ("unknown key", read(&unknown_key), Some(lab_a), 422, "unknown_key"),
        ("signed by another lab", read(&other_lab), Some(lab_a), 422, "signer_not_allowed"),
        ("revoked key", read(&revoked_key), Some(lab_a), 422, "key_revoked"),
        ("same version, other content", read(&conflicting), Some(lab_a), 409, "version_conflict"),
        ("unsigned copy of a published package", read(&unsigned_copy), Some(lab_a), 422, "not_signed_by_uploader"),
        ("junk signature on a published package", read(&junk_copy), Some(lab_a), 422, "signature_invalid"),
        ("version conflict with a junk signature", read(&conflicting_junk), Some(lab_a), 422, "signature_invalid"),
        ("name of another lab", read(&foreign_name), Some(&tokens["lab-b"]), 403, "name_owned_by_other_organisation"),
        ("too large", vec![0u8; 300_000], Some(lab_a), 413, "upload_too_large"),
    ];
    for (what, bytes, token, status, code) in cases {
        let res = reg.upload_bytes(bytes, token);
        assert_eq!(res.status, status, "{what}: {}", String::from_utf8_lossy(&res.body));
        let body = res.json();
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty(), "{what}");
        assert!(!body["error"]["details"].as_array().unwrap().is_empty(), "{what}");
    }
    // A refusal names another organisation only to a caller who may read its package: lab-a's
    // restricted package is invisible to lab-b, so lab-b learns neither its owner from the name
    // it tries to use nor who published the bytes it holds.
    let hidden = custom_package(
        dir.path(),
        BASELINE,
        "hidden",
        |m| {
            m["name"] = "hidden-n42sh".into();
            m["releasability"] = serde_json::json!({"level": "restricted", "organisations": ["lab-a"]});
        },
        &[&test_key(1)],
    );
    assert_eq!(reg.upload(&hidden, Some(lab_a)).status, 201);
    let same_name = custom_package(
        dir.path(),
        BASELINE,
        "same-name",
        |m| {
            m["name"] = "hidden-n42sh".into();
            m["version"] = "9.0.0".into();
        },
        &[&test_key(2)],
    );
    let res = reg.upload(&same_name, Some(&tokens["lab-b"]));
    assert_eq!((res.status, res.code().as_str()), (403, "name_owned_by_other_organisation"));
    assert!(!String::from_utf8_lossy(&res.body).contains("lab-a"), "{}", String::from_utf8_lossy(&res.body));
    let same_bytes = {
        let mut e = PackageEntries::read(&hidden);
        for sig in e.names().into_iter().filter(|n| n.starts_with("signatures/")) {
            e.remove(&sig);
        }
        let p = dir.path().join("hidden-resigned.zip");
        e.write(&p);
        prequal::package::sign_package(&p, &test_key(2), prequal::package::Limits::default()).unwrap();
        p
    };
    let res = reg.upload(&same_bytes, Some(&tokens["lab-b"]));
    assert_eq!((res.status, res.code().as_str()), (409, "published_by_other_organisation"));
    assert!(!String::from_utf8_lossy(&res.body).contains("lab-a"), "{}", String::from_utf8_lossy(&res.body));
    // A public package's owner may be named: anyone can read it.
    let res = reg.upload(&foreign_name, Some(&tokens["lab-b"]));
    assert!(res.json()["error"]["message"].as_str().unwrap().contains("'lab-a'"), "{}", res.json());

    // The tampered file is named in the details.
    let res = reg.upload(&tampered, Some(lab_a)).json();
    assert!(res["error"]["details"][0]["message"].as_str().unwrap().contains(".csv"), "{res}");

    // Reads refuse bad input too.
    assert_eq!(reg.get("/v1/packages/not-a-digest", None).code(), "bad_request");
    let missing = format!("/v1/packages/sha256:{}", "0".repeat(64));
    assert_eq!(reg.get(&missing, None).status, 404);
    assert_eq!(reg.get("/v1/nothing-here", None).code(), "not_found");

    // Nothing of the refused uploads was kept (the good package and lab-a's hidden one stay).
    assert_eq!(reg.get("/v1/packages", Some(&reg.operator_token)).json()["total"], 2);
    assert_eq!(blob_count(&reg), 2);
    assert_eq!(files_under(&reg.data.join("tmp")), 0);
    let metrics = String::from_utf8(reg.get("/metrics", None).body).unwrap();
    assert!(metrics.contains("prequal_uploads_total{outcome=\"rejected\",code=\"hash_mismatch\"} 2"), "{metrics}");
    assert!(metrics.contains("prequal_uploads_total{outcome=\"accepted\",code=\"\"} 2"), "{metrics}");
}

fn countersign_withdraw_supersede(backend: Backend) {
    let reg = TestRegistry::start(backend);
    let tokens = reg.register(&[
        ("lab-a", OrgKind::Lab, "US", Some(&test_key(1))),
        ("lab-b", OrgKind::Lab, "US", Some(&test_key(2))),
        ("cert-a", OrgKind::Certifier, "US", Some(&test_key(3))),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let v1 = signed_package(dir.path());
    let d1 = digest_of(&v1);
    assert_eq!(reg.upload(&v1, Some(&tokens["lab-a"])).status, 201);

    // Countersigning.
    let parsed = prequal::package::PackageDigest::parse(&d1).unwrap();
    let sig = test_key(3).sign(&parsed).to_bytes();
    let path = format!("/v1/packages/{d1}/signatures");
    let post = |token: &str, body: Vec<u8>| reg.request("POST", &path, Some(token), Some(("application/json", body)));
    assert_eq!(post(&tokens["lab-a"], sig.clone()).status, 403);
    let wrong =
        test_key(3).sign(&prequal::package::PackageDigest::parse(&format!("sha256:{}", "1".repeat(64))).unwrap());
    let res = post(&tokens["cert-a"], wrong.to_bytes());
    assert_eq!((res.status, res.code().as_str()), (422, "signature_invalid"));
    let res = post(&tokens["cert-a"], test_key(2).sign(&parsed).to_bytes());
    assert_eq!((res.status, res.code().as_str()), (422, "signer_not_allowed"));
    let res = post(&tokens["cert-a"], sig.clone());
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    let body = res.json();
    assert_eq!(body["countersigned"], true);
    let kinds: Vec<&str> = body["signatures"].as_array().unwrap().iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.contains(&"countersignature") && kinds.contains(&"author"));
    assert_eq!(post(&tokens["cert-a"], sig).status, 200);

    // A new version supersedes the old one.
    let v2 = package_version(dir.path(), BASELINE, "1.1.0", &[&test_key(1)]);
    let d2 = digest_of(&v2);
    assert_eq!(reg.upload(&v2, Some(&tokens["lab-a"])).status, 201);
    let old = reg.get(&format!("/v1/packages/{d1}"), None).json();
    assert_eq!(old["status"], "superseded");
    assert_eq!(old["superseded_by"], d2);
    assert_eq!(old["counts_as_evidence"], false);
    assert_eq!(reg.get("/v1/packages?status=active", None).json()["total"], 1);
    assert_eq!(reg.get("/v1/packages?status=superseded", None).json()["total"], 1);

    // Withdrawal: only the publishing lab or an operator, with a reason; never deleted.
    let withdraw = |token: &str, reason: &str| {
        reg.post_json(&format!("/v1/packages/{d2}/withdraw"), Some(token), &json!({"reason": reason}))
    };
    assert_eq!(withdraw(&tokens["lab-b"], "not mine").status, 403);
    assert_eq!(withdraw(&tokens["cert-a"], "no").status, 403);
    assert_eq!(withdraw(&tokens["lab-a"], "  ").code(), "bad_request");
    let res = withdraw(&tokens["lab-a"], "calibration error in fixture 3");
    assert_eq!(res.status, 200);
    let body = res.json();
    assert_eq!(body["status"], "withdrawn");
    assert_eq!(body["withdrawn"]["reason"], "calibration error in fixture 3");
    assert_eq!(body["counts_as_evidence"], false);
    assert_eq!(reg.get(&format!("/v1/packages/{d2}/download"), None).status, 200);
    assert_eq!(reg.get("/v1/packages?status=withdrawn", None).json()["total"], 1);
    assert_eq!(reg.get("/v1/packages", None).json()["total"], 2);
}

fn revoked_and_compromised_keys(backend: Backend) {
    let reg = TestRegistry::start(backend);
    let tokens = reg.register(&[("lab-a", OrgKind::Lab, "US", Some(&test_key(1)))]);
    let lab = tokens["lab-a"].as_str();
    let op = reg.operator_token.clone();
    let dir = tempfile::tempdir().unwrap();
    let p1 = signed_package(dir.path());
    let d1 = digest_of(&p1);
    let registered = reg.upload(&p1, Some(lab)).json()["registered_at"].as_str().unwrap().to_owned();

    // A revocation that takes effect in the future does not stop uploads yet.
    let key = test_key(1).key_id().as_str().to_owned();
    let res = reg.post_json(
        &format!("/v1/keys/{key}/revoke"),
        Some(&op),
        &json!({"reason": "rotation", "effective_at": "2099-01-01T00:00:00Z"}),
    );
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["status"], "active");
    let p2 = package_version(dir.path(), BASELINE, "1.0.1", &[&test_key(1)]);
    assert_eq!(reg.upload(&p2, Some(lab)).status, 201);
    assert_eq!(reg.get(&format!("/v1/packages/{d1}"), None).json()["suspect"], false);
    // Search finds the material through its current version (1.0.1); 1.0.0 is superseded.
    let found = reg.get("/v1/search?lab=lab-a", None).json();
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["hits"][0]["packages"].as_array().unwrap().len(), 1, "{found}");
    assert_ne!(found["hits"][0]["packages"][0], d1.as_str(), "{found}");

    // Reported compromised since before p1 was registered: every package signed with it since
    // then is suspect, visibly, in lists and details; new uploads with it are refused.
    // A date before the key was registered is a mistake, refused with both dates, not logged.
    let too_early = prequal::store::format_time(prequal::store::parse_time(&registered).unwrap() - 3_600_000);
    let res = reg.post_json(
        &format!("/v1/keys/{key}/revoke"),
        Some(&op),
        &json!({"reason": "key file leaked", "effective_at": too_early, "compromised": true}),
    );
    assert_eq!((res.status, res.code().as_str()), (400, "bad_request"));
    let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains(&too_early) && message.contains("was registered"), "{message}");
    assert_eq!(reg.get(&format!("/v1/packages/{d1}"), None).json()["suspect"], false, "nothing changed");
    let since = prequal::store::format_time(prequal::store::parse_time(&registered).unwrap() - 1);
    let res = reg.post_json(
        &format!("/v1/keys/{key}/revoke"),
        Some(&op),
        &json!({"reason": "key file leaked", "effective_at": since, "compromised": true}),
    );
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json()["status"], "revoked");
    let detail = reg.get(&format!("/v1/packages/{d1}"), None).json();
    assert_eq!(detail["suspect"], true);
    assert!(detail["suspect_reasons"][0].as_str().unwrap().contains("compromised"));
    assert_eq!(detail["counts_as_evidence"], false);
    assert_eq!(detail["signatures"][0]["key_status"], "revoked");
    let list = reg.get("/v1/packages", None).json();
    assert!(list["packages"].as_array().unwrap().iter().all(|p| p["suspect"] == true));
    // Suspect packages stop counting in search too, in the same transaction as the revocation.
    assert_eq!(reg.get("/v1/search?lab=lab-a", None).json()["total"], 0);
    let p3 = package_version(dir.path(), BASELINE, "1.0.2", &[&test_key(1)]);
    let res = reg.upload(&p3, Some(lab));
    assert_eq!((res.status, res.code().as_str()), (422, "key_revoked"));

    // A plain (not compromised) revocation leaves earlier packages in good standing.
    let reg2 = TestRegistry::start(reg.backend.clone());
    let t2 = reg2.register(&[("lab-a", OrgKind::Lab, "US", Some(&test_key(1)))]);
    assert_eq!(reg2.upload(&p1, Some(&t2["lab-a"])).status, 201);
    let res =
        reg2.post_json(&format!("/v1/keys/{key}/revoke"), Some(&reg2.operator_token), &json!({"reason": "retired"}));
    assert_eq!(res.status, 200);
    assert_eq!(reg2.get(&format!("/v1/packages/{d1}"), None).json()["suspect"], false);
    assert_eq!(reg2.upload(&p2, Some(&t2["lab-a"])).code(), "key_revoked");
}

fn operator_api_and_operations(backend: Backend) {
    let reg = TestRegistry::start(backend);
    let op = reg.operator_token.clone();
    let org = json!({"id": "new-lab", "name": "New Lab", "kind": "lab", "country": "FR"});
    assert_eq!(reg.post_json("/v1/organisations", None, &org).status, 401);
    let res = reg.post_json("/v1/organisations", Some(&op), &org);
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(reg.post_json("/v1/organisations", Some(&op), &org).code(), "conflict");
    let bad = json!({"id": "Bad Id", "name": "x", "kind": "lab", "country": "FR"});
    assert_eq!(reg.post_json("/v1/organisations", Some(&op), &bad).code(), "bad_request");
    let bad_kind = json!({"id": "x-lab", "name": "x", "kind": "wizard", "country": "FR"});
    assert_eq!(reg.post_json("/v1/organisations", Some(&op), &bad_kind).status, 400);

    let pk = prequal::package::signing::encode_public_key(&test_key(7).public_key());
    let res = reg.post_json("/v1/organisations/new-lab/keys", Some(&op), &json!({"public_key": pk}));
    assert_eq!(res.status, 201);
    assert_eq!(res.json()["key_id"], test_key(7).key_id().as_str());
    assert_eq!(reg.post_json("/v1/organisations/new-lab/keys", Some(&op), &json!({"public_key": "abc"})).status, 400);
    assert_eq!(reg.post_json("/v1/organisations/nobody/keys", Some(&op), &json!({"public_key": pk})).status, 404);

    let res = reg.post_json("/v1/tokens", Some(&op), &json!({"organisation": "new-lab", "role": "operator"}));
    assert_eq!(res.code(), "bad_request", "a lab cannot hold an operator token");
    let res = reg.post_json("/v1/tokens", Some(&op), &json!({"organisation": "new-lab", "role": "lab", "label": "ci"}));
    assert_eq!(res.status, 201);
    let created = res.json();
    let token = created["token"].as_str().unwrap().to_owned();
    let who = reg.get("/v1/whoami", Some(&token)).json();
    assert_eq!((who["organisation"].as_str(), who["role"].as_str()), (Some("new-lab"), Some("lab")));
    let listed = reg.get("/v1/tokens", Some(&op));
    assert!(!String::from_utf8_lossy(&listed.body).contains(&token), "tokens are never shown again");
    let id = created["id"].as_str().unwrap();
    assert_eq!(reg.post_json(&format!("/v1/tokens/{id}/revoke"), Some(&op), &json!({})).status, 200);
    assert_eq!(reg.get("/v1/whoami", Some(&token)).code(), "token_revoked");

    // Operations.
    assert_eq!(reg.get("/healthz", None).status, 200);
    let ready = reg.get("/readyz", None);
    assert_eq!((ready.status, ready.json()["status"].as_str()), (200, Some("ready")));
    let traced = request(&format!("{}/healthz", reg.url), "GET", None, None, &[("X-Request-Id", "trace-123")]);
    assert_eq!(traced.headers["x-request-id"], "trace-123");
    let metrics = String::from_utf8(reg.get("/metrics", None).body).unwrap();
    assert!(
        metrics.contains("prequal_http_requests_total{method=\"POST\",route=\"/v1/organisations\",status=\"201\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("prequal_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"+Inf\"}")
    );
    let log = std::fs::read_to_string(reg.log_path()).unwrap();
    assert!(log.contains("req=trace-123 GET /healthz 200"), "request ids are logged");
    assert!(!log.contains(&token) && !log.contains(&op), "tokens never reach the log");

    // The served API document is the committed one, and the docs page needs no network.
    let served = reg.get("/openapi.json", None).json();
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("openapi/openapi.json")).unwrap()).unwrap();
    assert_eq!(served, committed);
    let page = reg.get("/docs/", None);
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body).unwrap();
    assert!(!html.contains("https://") && !html.contains("http://"), "no external assets: {html}");
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-initializer.js"]
    {
        assert!(html.contains(asset), "{asset} referenced");
        let res = reg.get(&format!("/docs/{asset}"), None);
        assert_eq!(res.status, 200, "{asset}");
        assert!(res.body.len() > 100, "{asset}");
    }
    let init = String::from_utf8(reg.get("/docs/swagger-initializer.js", None).body).unwrap();
    assert!(init.contains("/openapi.json"));
}

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// SIGTERM while an upload is still arriving: the server finishes it, answers 201, then exits.
fn graceful_shutdown_finishes_an_upload(backend: Backend) {
    use std::io::{Read, Write};
    let mut reg = TestRegistry::start(backend);
    let tokens = reg.register(&[("lab-a", OrgKind::Lab, "US", Some(&test_key(1)))]);
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(signed_package(dir.path())).unwrap();
    let addr = reg.url.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST /v1/packages HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/zip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        tokens["lab-a"],
        bytes.len()
    )
    .unwrap();
    let half = bytes.len() / 2;
    stream.write_all(&bytes[..half]).unwrap();
    stream.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = reg.pid().unwrap();
    std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    stream.write_all(&bytes[half..]).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let status = reg.terminate_wait();
    assert!(status.success(), "exit status {status:?}");
    // Restart on the same storage: the package is there.
    reg.spawn();
    assert_eq!(reg.get("/v1/packages", None).json()["total"], 1);
}

/// Versions of one name published concurrently: exactly one is current and each other version
/// points at the next higher one (PostgreSQL needs the per-name lock for this).
fn concurrent_versions_supersede_in_order(backend: Backend) {
    let reg = TestRegistry::start(backend);
    let tokens = reg.register(&[("lab-a", OrgKind::Lab, "US", Some(&test_key(1)))]);
    let dir = tempfile::tempdir().unwrap();
    let versions: Vec<String> = (0..30).map(|i| format!("1.{i}.0")).collect();
    let files: Vec<Vec<u8>> = versions
        .iter()
        .map(|v| std::fs::read(package_version(dir.path(), BASELINE, v, &[&test_key(1)])).unwrap())
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(bytes) = files.get(i) else { return };
                    let res = reg.upload_bytes(bytes.clone(), Some(&tokens["lab-a"]));
                    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
                }
            });
        }
    });
    let list = reg.get("/v1/packages?limit=100", None).json();
    let by_version: std::collections::BTreeMap<String, (String, Option<String>)> = list["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["version"].as_str().unwrap().to_owned(),
                (p["digest"].as_str().unwrap().to_owned(), p["superseded_by"].as_str().map(str::to_owned)),
            )
        })
        .collect();
    assert_eq!(by_version.len(), versions.len());
    for (i, v) in versions.iter().enumerate() {
        let expected = versions.get(i + 1).map(|next| by_version[next].0.clone());
        assert_eq!(by_version[v].1, expected, "version {v}");
    }
    assert_eq!(reg.get("/v1/packages?status=active", None).json()["total"], 1);
}

fn failed_tokens_are_throttled_and_pages_carry_security_headers(backend: Backend) {
    let reg = TestRegistry::start(backend);
    let guess = format!("pq_{}_{}", "0".repeat(12), "0".repeat(64));
    let guess = guess.as_str();
    for i in 0..prequal::http::AuthFailures::LIMIT {
        let res = reg.get("/v1/packages", Some(guess));
        assert_eq!(res.status, 401, "attempt {i}");
        assert_eq!(res.code(), "invalid_token");
    }
    // The next attempt from this address is refused before any lookup, and so is a valid token
    // from the same address while the window lasts; anonymous reads are not affected.
    let res = reg.get("/v1/packages", Some(guess));
    assert_eq!(res.status, 429);
    assert_eq!(res.code(), "too_many_auth_failures");
    let retry: u64 = res.headers["retry-after"].parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(reg.get("/v1/packages", Some(&reg.operator_token)).status, 429);
    assert_eq!(reg.get("/v1/packages", None).status, 200);

    // Security headers on every response; a content security policy on the HTML pages.
    let page = reg.get("/", None);
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["referrer-policy"], "no-referrer");
    let csp = &page.headers["content-security-policy"];
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let api = reg.get("/v1/packages", None);
    assert_eq!(api.headers["x-content-type-options"], "nosniff");
    // No CORS grant, even to a cross-origin request with a token, or to a preflight.
    let cross = common::server::request(
        &format!("{}/v1/packages", reg.url),
        "GET",
        None,
        None,
        &[("Origin", "https://elsewhere.example")],
    );
    assert!(!cross.headers.keys().any(|k| k.starts_with("access-control-")), "{:?}", cross.headers);
    let preflight = common::server::request(
        &format!("{}/v1/packages", reg.url),
        "OPTIONS",
        None,
        None,
        &[("Origin", "https://elsewhere.example"), ("Access-Control-Request-Method", "POST")],
    );
    assert!(!preflight.headers.keys().any(|k| k.starts_with("access-control-")), "{:?}", preflight.headers);
    assert!(!api.headers.contains_key("content-security-policy"), "JSON needs no policy");

    // No secret reaches the server's log: neither a valid token nor a guessed one.
    let log = std::fs::read_to_string(reg.log_path()).unwrap();
    assert!(log.contains("/v1/packages"), "requests are logged: {log}");
    let secret = |t: &str| t.rsplit('_').next().unwrap().to_owned();
    assert!(!log.contains(&secret(&reg.operator_token)), "the operator token's secret is in the log");
    assert!(!log.contains(&secret(guess)), "a guessed token is in the log");
}

/// Behind a trusted reverse proxy, throttling counts per client named in `X-Forwarded-For`;
/// without `--trusted-proxy`, the header is ignored, so a client cannot dodge the limit by
/// inventing addresses.
#[test]
fn throttling_behind_a_trusted_proxy_counts_per_forwarded_client() {
    use common::server::request;
    let guess = format!("pq_{}_{}", "0".repeat(12), "0".repeat(64));
    let attempt = |reg: &TestRegistry, token: &str, xff: &str| {
        request(&format!("{}/v1/packages", reg.url), "GET", Some(token), None, &[("X-Forwarded-For", xff)])
    };

    let proxied = TestRegistry::start_with(Backend::Sqlite, &["--trusted-proxy", "127.0.0.1"]);
    for i in 0..prequal::http::AuthFailures::LIMIT {
        assert_eq!(attempt(&proxied, &guess, "203.0.113.7").status, 401, "attempt {i}");
    }
    assert_eq!(attempt(&proxied, &guess, "203.0.113.7").code(), "too_many_auth_failures");
    // A client's own forged entry on the left does not help it: the proxy appends the real one.
    assert_eq!(attempt(&proxied, &guess, "198.51.100.1, 203.0.113.7").status, 429);
    // Another client behind the same proxy is not affected.
    assert_eq!(attempt(&proxied, &proxied.operator_token, "203.0.113.8").status, 200);

    let direct = TestRegistry::start(Backend::Sqlite);
    for i in 0..prequal::http::AuthFailures::LIMIT {
        assert_eq!(attempt(&direct, &guess, &format!("203.0.113.{i}")).status, 401, "attempt {i}");
    }
    assert_eq!(attempt(&direct, &guess, "192.0.2.99").status, 429, "an untrusted X-Forwarded-For was believed");
}

/// Every request body has a limit, and going over it is a 413 with the registry's error body
/// (not the web framework's plain text), whatever the endpoint reads: JSON, a signature, a
/// cosigned checkpoint.
#[test]
fn oversized_bodies_are_refused_with_a_stable_code_everywhere() {
    let reg = TestRegistry::start(Backend::Sqlite);
    let big = vec![b'a'; 2 << 20];
    let digest = format!("sha256:{}", "a".repeat(64));
    for (path, content_type) in [
        ("/log/cosignature".to_owned(), "text/plain"),
        (format!("/v1/packages/{digest}/signatures"), "application/octet-stream"),
        ("/v1/equivalency".to_owned(), "application/json"),
        (format!("/v1/packages/{digest}/withdraw"), "application/json"),
    ] {
        let res = reg.request("POST", &path, Some(&reg.operator_token), Some((content_type, big.clone())));
        assert_eq!(res.status, 413, "{path}: {}", String::from_utf8_lossy(&res.body[..res.body.len().min(300)]));
        assert_eq!(res.code(), "upload_too_large", "{path}");
    }
}

/// A query parameter an operation does not document is refused with 400, naming it and the
/// nearest known one, on every API operation (it was silently ignored everywhere but search).
#[test]
fn undocumented_query_parameters_are_refused_everywhere() {
    let reg = TestRegistry::start(Backend::Sqlite);
    let res = reg.get("/v1/packages?limt=5", None);
    assert_eq!((res.status, res.code().as_str()), (400, "bad_request"));
    let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("'limt'") && message.contains("did you mean 'limit'"), "{message}");
    assert_eq!(reg.get("/v1/packages?limit=5", None).status, 200);
    // An operation without query parameters, one with a path parameter, the log's checkpoint.
    for path in ["/v1/organisations?country=US", "/v1/profiles/loudspeaker-magnet?vers=1.0.0", "/log/checkpoint?size=3"]
    {
        let res = reg.get(path, None);
        assert_eq!((res.status, res.code().as_str()), (400, "bad_request"), "{path}");
    }
    assert_eq!(reg.get("/v1/profiles/loudspeaker-magnet?version=1.0.0", None).status, 200);
    // Pages check their own parameters; a page with a known one still renders.
    assert_eq!(reg.get("/?property=remanence", None).status, 200);
}

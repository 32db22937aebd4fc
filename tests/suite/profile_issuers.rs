#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Profiles owned by their issuers, over HTTP on both backends: only the organisation that
//! registered a profile id adds versions, each signed with one of its keys; versions are
//! immutable; "latest" is the highest semantic version; a fit pinned to a version does not move
//! when a newer one appears; and a mirror replays an issued version with the same bytes.

use crate::common;

use std::process::Command;

use common::server::{Backend, TestDb, TestRegistry};
use common::*;
use prequal::package::SecretKey;
use prequal::package::signing::encode_public_key;
use prequal::profile::issued::SignedProfile;
use prequal::profile::{self, Profile};
use prequal::registry::views::{KeyRevocation, NewKey};
use prequal::registry::{OrgKind, Policy, Registry};
use prequal::store::{DatabaseUrl, Store};
use serde_json::{Value, json};

fn builtin(id: &str) -> Profile {
    profile::builtin().unwrap().into_iter().find(|p| p.id == id).unwrap()
}

/// An OEM's own traction profile, based on the built-in 150 °C one.
pub(crate) fn custom(version: &str, hcj_threshold: f64) -> Profile {
    let mut p = builtin("ev-traction-magnet-150c");
    p.id = "oem-x-traction-150c".into();
    p.version = version.into();
    p.issuing_body = "Certifier A".into();
    p.illustrative = false;
    p.requirements.iter_mut().find(|r| r.id == "hcj-150").unwrap().threshold = hcj_threshold;
    p
}

pub(crate) fn signed(p: &Profile, key: &SecretKey) -> Value {
    serde_json::to_value(SignedProfile::sign(p, key)).unwrap()
}

fn body(res: &common::server::Response) -> String {
    String::from_utf8_lossy(&res.body).into_owned()
}

fn add_key(reg: &TestRegistry, org: &str, key: &SecretKey) {
    reg.library().add_key(org, &NewKey { public_key: encode_public_key(&key.public_key()) }).unwrap();
}

both_backends!(
    only_the_issuer_adds_signed_immutable_versions,
    a_fit_pinned_to_a_version_stays_the_same_when_a_newer_one_appears
);

fn only_the_issuer_adds_signed_immutable_versions(backend: Backend) {
    let reg = TestRegistry::start(backend);
    let tokens = reg.register(&[
        ("cert-a", OrgKind::Certifier, "DE", Some(&test_key(3))),
        ("cert-b", OrgKind::Certifier, "FR", Some(&test_key(4))),
        ("lab-a", OrgKind::Lab, "US", Some(&test_key(1))),
    ]);
    add_key(&reg, "test-operator", &test_key(6));
    let (cert_a, cert_b, lab) = (&tokens["cert-a"], &tokens["cert-b"], &tokens["lab-a"]);
    let op = reg.operator_token.as_str();

    // The issuer registers version 1.0.0: signed, logged, owned.
    let v100 = signed(&custom("1.0.0", 750.0), &test_key(3));
    let res = reg.post_json("/v1/profiles", Some(cert_a), &v100);
    assert_eq!(res.status, 201, "{}", body(&res));
    let created = res.json();
    assert_eq!(created["organisation"], "cert-a");
    assert_eq!(created["key_id"], test_key(3).key_id().as_str());
    assert_eq!(created["sha256"], v100["sha256"]);
    assert!(created["log_index"].is_u64(), "{created}");
    assert_eq!(created["latest"], true);
    // The same signed bytes again: nothing changes.
    let again = reg.post_json("/v1/profiles", Some(cert_a), &v100);
    assert_eq!(again.status, 200, "{}", body(&again));
    assert_eq!(again.json()["log_index"], created["log_index"]);

    // The authorization matrix for a new version of the issuer's id.
    let v101 = custom("1.0.1", 1200.0);
    let refused = |token: Option<&str>, envelope: &Value| {
        let res = reg.post_json("/v1/profiles", token, envelope);
        (res.status, res.code())
    };
    assert_eq!(refused(None, &signed(&v101, &test_key(3))), (401, "unauthenticated".into()));
    assert_eq!(refused(Some(lab), &signed(&v101, &test_key(1))), (403, "forbidden".into()));
    assert_eq!(
        refused(Some(cert_b), &signed(&v101, &test_key(4))),
        (403, "profile_owned_by_other_organisation".into())
    );
    assert_eq!(refused(Some(op), &signed(&v101, &test_key(6))), (403, "profile_owned_by_other_organisation".into()));
    // Rewriting an existing version (other bytes, same id and version): 409, by anyone.
    let rewritten = signed(&custom("1.0.0", 0.0), &test_key(3));
    assert_eq!(refused(Some(cert_a), &rewritten), (409, "profile_version_exists".into()));

    // Signatures: the issuer's registered, unrevoked key only.
    assert_eq!(refused(Some(cert_a), &signed(&v101, &test_key(4))), (422, "signer_not_allowed".into()));
    assert_eq!(refused(Some(cert_a), &signed(&v101, &test_key(9))), (422, "unknown_key".into()));
    let mut forged = signed(&v101, &test_key(3));
    let other = signed(&custom("1.0.1", 1.0), &test_key(3));
    forged["signature"] = other["signature"].clone();
    assert_eq!(refused(Some(cert_a), &forged), (422, "signature_invalid".into()));
    let mut tampered = signed(&v101, &test_key(3));
    tampered["profile"]["requirements"][1]["threshold"] = json!(1.0);
    assert_eq!(refused(Some(cert_a), &tampered), (422, "profile_digest_mismatch".into()));
    add_key(&reg, "cert-a", &test_key(5));
    let revocation = KeyRevocation { reason: "rotated".into(), compromised: false, effective_at: None };
    reg.library().revoke_key(test_key(5).key_id().as_str(), &revocation).unwrap();
    assert_eq!(refused(Some(cert_a), &signed(&v101, &test_key(5))), (422, "key_revoked".into()));
    let unsigned = serde_json::to_value(custom("1.0.1", 1200.0)).unwrap();
    assert_eq!(refused(Some(cert_a), &unsigned), (400, "profile_not_signed".into()));
    let mut not_semver = custom("1.0.1", 1200.0);
    not_semver.version = "2026-12".into();
    assert_eq!(refused(Some(cert_a), &signed(&not_semver, &test_key(3))), (400, "profile_version_invalid".into()));

    // Nobody but the registry operator versions a built-in profile (the reported attack).
    let mut zeroed = builtin("ev-traction-magnet-180c");
    zeroed.version = "1.0.2".into();
    zeroed.requirements.iter_mut().for_each(|r| r.threshold = 0.0);
    assert_eq!(
        refused(Some(cert_a), &signed(&zeroed, &test_key(3))),
        (403, "profile_owned_by_other_organisation".into())
    );
    let served = reg.get("/v1/profiles/ev-traction-magnet-180c", None).json();
    assert_eq!(served["version"], "1.0.0");
    assert_ne!(served["requirements"][0]["threshold"], 0.0);
    // The operator may (signed with an operator organisation's key), as the issuer `registry`.
    let mut op_version = builtin("ev-traction-magnet-180c");
    op_version.version = "1.1.0".into();
    let res = reg.post_json("/v1/profiles", Some(op), &signed(&op_version, &test_key(6)));
    assert_eq!(res.status, 201, "{}", body(&res));
    assert_eq!(res.json()["organisation"], "registry");

    // The issuer adds 1.0.1, then a pre-release of 1.0.1 later: latest is 1.0.1 (semver order,
    // not the last registered).
    let res = reg.post_json("/v1/profiles", Some(cert_a), &signed(&v101, &test_key(3)));
    assert_eq!(res.status, 201, "{}", body(&res));
    let res = reg.post_json("/v1/profiles", Some(cert_a), &signed(&custom("1.0.1-rc.1", 900.0), &test_key(3)));
    assert_eq!(res.status, 201, "{}", body(&res));
    assert_eq!(res.json()["latest"], false);
    assert_eq!(reg.get("/v1/profiles/oem-x-traction-150c", None).json()["version"], "1.0.1");
    let pinned = reg.get("/v1/profiles/oem-x-traction-150c?version=1.0.0", None).json();
    assert_eq!(pinned["requirements"][1]["threshold"], 750.0);
    let listed: Vec<(String, bool)> = reg
        .get("/v1/profiles", None)
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["id"] == "oem-x-traction-150c")
        .map(|p| (p["version"].as_str().unwrap().to_owned(), p["latest"].as_bool().unwrap()))
        .collect();
    assert_eq!(listed, [("1.0.0".into(), false), ("1.0.1-rc.1".into(), false), ("1.0.1".into(), true)]);

    // A body over the documented 1 MiB JSON limit: the registry's JSON 413.
    let big = json!({"type": "prequal-signed-profile", "padding": "x".repeat(1_200_000)});
    let res = reg.post_json("/v1/profiles", Some(cert_a), &big);
    assert_eq!(res.status, 413);
    assert_eq!(res.headers["content-type"], "application/json");
    assert_eq!(res.code(), "upload_too_large");
}

fn a_fit_pinned_to_a_version_stays_the_same_when_a_newer_one_appears(backend: Backend) {
    let reg = TestRegistry::start(backend);
    let tokens = reg.register(&[
        ("cert-a", OrgKind::Certifier, "DE", Some(&test_key(3))),
        ("lab-a", OrgKind::Lab, "US", Some(&test_key(1))),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let res = reg.upload(&signed_package(dir.path()), Some(&tokens["lab-a"]));
    assert_eq!(res.status, 201, "{}", body(&res));
    let material = reg.get("/v1/materials", None).json()[0]["id"].as_str().unwrap().to_owned();
    let res = reg.post_json("/v1/profiles", Some(&tokens["cert-a"]), &signed(&custom("1.0.0", 750.0), &test_key(3)));
    assert_eq!(res.status, 201, "{}", body(&res));

    let fit = |query: &str| {
        let res = reg.get(&format!("/v1/fit?profile=oem-x-traction-150c&material={material}{query}"), None);
        assert_eq!(res.status, 200, "{}", body(&res));
        res.json()
    };
    let before = fit("");
    assert_eq!(before["profile"]["version"], "1.0.0");
    assert_eq!(before["profile"]["issuer"], "cert-a");
    assert_eq!(before["verdict"], "qualified", "{before}");

    // A stricter 1.0.1 appears: the latest changes, the pinned report does not.
    let res = reg.post_json("/v1/profiles", Some(&tokens["cert-a"]), &signed(&custom("1.0.1", 5000.0), &test_key(3)));
    assert_eq!(res.status, 201, "{}", body(&res));
    let latest = fit("");
    assert_eq!(
        (latest["profile"]["version"].as_str(), latest["verdict"].as_str()),
        (Some("1.0.1"), Some("not_qualified"))
    );
    assert_eq!(fit("&version=1.0.0"), before);
    let ranking = reg.get("/v1/fit/ranking?profile=oem-x-traction-150c&version=1.0.0", None).json();
    assert_eq!(ranking["profile"], before["profile"]);
    assert_eq!(ranking["materials"][0]["verdict"], "qualified");
    let search = reg.get("/v1/search?profile=oem-x-traction-150c", None).json();
    let hit = &search["hits"][0]["fit"];
    assert_eq!((hit["profile_version"].as_str(), hit["profile_issuer"].as_str()), (Some("1.0.1"), Some("cert-a")));
    assert_eq!(reg.get("/v1/fit?profile=oem-x-traction-150c&version=9.9.9&material=x", None).status, 404);
}

#[test]
fn an_issued_profile_version_arrives_on_a_mirror_with_the_same_bytes() {
    let origin = TestRegistry::start(Backend::Sqlite);
    let tokens = origin.register(&[("cert-a", OrgKind::Certifier, "DE", Some(&test_key(3)))]);
    let res = origin.post_json("/v1/profiles", Some(&tokens["cert-a"]), &signed(&custom("1.0.0", 750.0), &test_key(3)));
    assert_eq!(res.status, 201, "{}", body(&res));
    let res = origin.post_json("/v1/profiles", Some(&tokens["cert-a"]), &signed(&custom("1.2.0", 800.0), &test_key(3)));
    assert_eq!(res.status, 201, "{}", body(&res));

    let dir = tempfile::tempdir().unwrap();
    let mirror_backend = Backend::postgres().unwrap_or(Backend::Sqlite);
    let db = TestDb::new(&mirror_backend, dir.path());
    let data = dir.path().join("data");
    let key = String::from_utf8(origin.get("/log/key", None).body).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_prequal"))
        .args(["mirror", "--once", "--upstream", &origin.url, "--upstream-key", key.trim(), "--db", &db.url, "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let mirror = Registry::new(Store::open(&DatabaseUrl::parse(&db.url), &data, 2).unwrap(), Policy::default());
    let on_origin = origin.library();
    let listed = |r: &Registry| serde_json::to_value(r.list_profiles().unwrap()).unwrap();
    assert_eq!(listed(&mirror), listed(&on_origin), "the same versions, issuers, hashes, signatures and log indexes");
    for version in ["1.0.0", "1.2.0"] {
        let a = on_origin.get_issued_profile("oem-x-traction-150c", Some(version)).unwrap();
        let b = mirror.get_issued_profile("oem-x-traction-150c", Some(version)).unwrap();
        assert_eq!((a.profile, a.issuer, a.sha256.clone()), (b.profile, b.issuer, b.sha256));
        assert!(a.sha256.is_some());
    }
    assert_eq!(mirror.get_issued_profile("oem-x-traction-150c", None).unwrap().profile.version, "1.2.0");
    let status = mirror.mirror_status().unwrap().unwrap();
    assert!(status.rejections.is_empty(), "{:?}", status.rejections);
}

#[test]
fn the_cli_signs_and_pushes_a_profile_version() {
    let reg = TestRegistry::start(Backend::Sqlite);
    let tokens = reg.register(&[("cert-a", OrgKind::Certifier, "DE", Some(&test_key(3)))]);
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("cert.secret.json");
    test_key(3).write(&key_file, None).unwrap();
    let profile_file = dir.path().join("oem-x.json");
    std::fs::write(&profile_file, serde_json::to_vec_pretty(&custom("1.0.0", 750.0)).unwrap()).unwrap();
    let run =
        |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_prequal")).args(args).env("RUST_LOG", "off").output().unwrap();

    let out = run(&["profile", "sign", profile_file.to_str().unwrap(), "--key", key_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let signed_file = dir.path().join("oem-x.signed.json");
    let envelope: Value = serde_json::from_slice(&std::fs::read(&signed_file).unwrap()).unwrap();
    assert_eq!(envelope["key_id"], test_key(3).key_id().as_str());

    let push = || {
        run(&["profile", "push", signed_file.to_str().unwrap(), "--registry", &reg.url, "--token", &tokens["cert-a"]])
    };
    let out = push();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.starts_with("registered oem-x-traction-150c 1.0.0 by 'cert-a'"), "{stdout}");
    let out = push();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("already registered:"));
    // Refused by the registry: exit 1 with the code.
    let out = run(&[
        "profile",
        "push",
        signed_file.to_str().unwrap(),
        "--registry",
        &reg.url,
        "--token",
        &reg.operator_token,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("profile_owned_by_other_organisation"));
}

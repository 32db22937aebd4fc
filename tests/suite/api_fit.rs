#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Profiles, materials, fit reports and rankings over HTTP on both backends, with the demo
//! data: the evidence is what the registry verified and the reader may see, nothing else.

use crate::common;

use common::server::{Backend, TestRegistry};
use common::*;
use serde_json::json;

both_backends!(fit_reports_and_rankings_from_the_registry, another_site_is_kept_apart_until_shown_equivalent);

fn fit_reports_and_rankings_from_the_registry(backend: Backend) {
    let samples = samples_dir();
    let reg = TestRegistry::start_with(backend, &["--demo", "--samples", samples.to_str().unwrap()]);
    let tokens: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reg.data.join("demo-tokens.json")).unwrap()).unwrap();
    let token = |org: &str| tokens[org]["token"].as_str().unwrap().to_owned();

    let profiles = reg.get("/v1/profiles", None).json();
    assert_eq!(profiles.as_array().unwrap().len(), 7);
    let p = reg.get("/v1/profiles/ev-traction-magnet-180c", None).json();
    assert_eq!(p["requirements"].as_array().unwrap().len(), 5);
    assert_eq!(reg.get("/v1/profiles/nothing", None).status, 404);

    let materials = reg.get("/v1/materials", None).json();
    assert_eq!(materials.as_array().unwrap().len(), 5, "the allied Fe16N2 material is hidden from anonymous readers");
    let all = reg.get("/v1/materials", Some(&reg.operator_token)).json();
    assert_eq!(all.as_array().unwrap().len(), 6);
    let id_of = |designation: &str| {
        all.as_array().unwrap().iter().find(|m| m["designation"].as_str().unwrap().starts_with(designation)).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let gbd = id_of("40UH-GBD");
    let sh = id_of("N42SH");
    let fen = id_of("FeN-EB1");

    let report = reg.get(&format!("/v1/fit?profile=ev-traction-magnet-180c&material={gbd}"), None);
    assert_eq!(report.status, 200, "{}", String::from_utf8_lossy(&report.body));
    let report = report.json();
    assert_eq!(report["verdict"], "incomplete");
    let req = |r: &serde_json::Value, id: &str| {
        r["requirements"].as_array().unwrap().iter().find(|x| x["id"] == id).unwrap().clone()
    };
    let hcj = req(&report, "hcj-180");
    assert_eq!(hcj["status"], "met");
    assert_eq!(hcj["citations"][0]["organisation"], "kestrel-test-centre");
    assert!(hcj["citations"][0]["countersigned_by"][0].as_str().unwrap().starts_with("test-certifier"));
    assert_eq!(report["remaining_tests"][0]["requirement"], "flux-loss-180");
    let sh_report = reg.get(&format!("/v1/fit?profile=ev-traction-magnet-180c&material={sh}"), None).json();
    assert_eq!(req(&sh_report, "hcj-180")["status"], "not_met");

    // Releasability holds for fit reports too.
    let path = format!("/v1/fit?profile=loudspeaker-magnet&material={fen}");
    assert_eq!(reg.get(&path, None).status, 404);
    assert_eq!(reg.get(&path, Some(&token("demo-oem"))).status, 200, "the demo OEM (DE) is in the allied list");

    let ranking = reg.get("/v1/fit/ranking?profile=ev-traction-magnet-180c", None).json();
    let ranked: Vec<&str> =
        ranking["materials"].as_array().unwrap().iter().map(|m| m["material"]["id"].as_str().unwrap()).collect();
    assert_eq!(ranked.len(), 3, "magnets visible anonymously: {ranked:?}");
    assert_eq!(ranked[0], gbd);
    assert_eq!(reg.get("/v1/fit?profile=ev-traction-magnet-180c", None).code(), "bad_request");

    // A withdrawn package stops counting as evidence.
    let digest =
        reg.get("/v1/packages?name=ndfeb-gbd-dy-uh", None).json()["packages"][0]["digest"].as_str().unwrap().to_owned();
    let res = reg.post_json(
        &format!("/v1/packages/{digest}/withdraw"),
        Some(&token("kestrel-test-centre")),
        &json!({"reason": "test"}),
    );
    assert_eq!(res.status, 200);
    let after = reg.get(&format!("/v1/fit?profile=ev-traction-magnet-180c&material={gbd}"), None).json();
    assert_eq!(req(&after, "hcj-180")["status"], "not_tested");
    let ranking = reg.get("/v1/fit/ranking?profile=ev-traction-magnet-180c", None).json();
    assert_ne!(ranking["materials"][0]["material"]["id"], gbd.as_str());

    // Profiles can be added by certifiers and operators, signed by their issuer, and are checked.
    let mut custom = p.clone();
    custom["id"] = "oem-x-traction-180c".into();
    custom["issuing_body"] = "OEM X".into();
    let certifier_key =
        prequal::package::SecretKey::read(&samples.join("keys/test-only-test-certifier.secret.json")).unwrap();
    let profile: prequal::profile::Profile = serde_json::from_value(custom.clone()).unwrap();
    let envelope =
        serde_json::to_value(prequal::profile::issued::SignedProfile::sign(&profile, &certifier_key)).unwrap();
    let res = reg.post_json("/v1/profiles", Some(&token("test-certifier")), &envelope);
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(reg.post_json("/v1/profiles", Some(&token("test-certifier")), &envelope).status, 200, "idempotent");
    assert_eq!(reg.post_json("/v1/profiles", Some(&token("demo-oem")), &envelope).status, 403);
    let mut bad = envelope.clone();
    bad["profile"]["version"] = "2.0.0".into();
    bad["profile"]["requirements"][1]["property"] = "capacity".into();
    let res = reg.post_json("/v1/profiles", Some(&reg.operator_token), &bad);
    assert_eq!(res.status, 400);
    assert!(res.json()["error"]["message"].as_str().unwrap().contains("hcj-180"), "the requirement is named");
    assert_eq!(reg.get("/v1/profiles", None).json().as_array().unwrap().len(), 8);

    // Equivalency of a second test site's package against the material's qualified data.
    let key =
        prequal::package::SecretKey::read(&samples.join("keys/test-only-test-magnetics-lab.secret.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let site_b = custom_package(dir.path(), BASELINE, "n42sh-site-b", |m| m["name"] = "n42sh-site-b".into(), &[&key]);
    let res = reg.upload(&site_b, Some(&token("test-magnetics-lab")));
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    let sample = res.json()["digest"].as_str().unwrap().to_owned();
    let eq = reg.post_json("/v1/equivalency", None, &json!({"material": sh, "sample": sample}));
    assert_eq!(eq.status, 200, "{}", String::from_utf8_lossy(&eq.body));
    let eq = eq.json();
    assert_eq!(eq["pass"], true, "{eq}");
    assert!(eq["qualified"].as_array().unwrap().len() == 1, "the sample is not its own base");
    assert!(eq["properties"].as_array().unwrap().len() >= 10);
    let bad = reg.post_json("/v1/equivalency", None, &json!({"material": sh, "sample": sample, "alpha": 2}));
    assert_eq!(bad.code(), "bad_request");
    let hidden = reg.post_json("/v1/equivalency", None, &json!({"material": fen, "sample": sample}));
    assert_eq!(hidden.status, 404, "an allied material is not a base for anonymous callers");

    // The CLI against the registry.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prequal"))
        .args(["fit", "--registry", &reg.url, "--profile", "ev-traction-magnet-150c", "--material", &sh])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("verdict: qualified") && text.contains("hcj-150"), "{text}");
}

/// A second production site of the N42SH material publishes weaker coercivity: the equivalency
/// endpoint says it is not equivalent, and the fit report agrees — the package is listed as kept
/// apart and none of its specimens count.
fn another_site_is_kept_apart_until_shown_equivalent(backend: Backend) {
    let samples = samples_dir();
    let reg = TestRegistry::start_with(backend, &["--demo", "--samples", samples.to_str().unwrap()]);
    let tokens: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reg.data.join("demo-tokens.json")).unwrap()).unwrap();
    let all = reg.get("/v1/materials", None).json();
    let sh = all.as_array().unwrap().iter().find(|m| m["designation"] == "N42SH").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/fit?profile=ev-traction-magnet-150c&material={sh}");
    let before = reg.get(&path, None).json();
    assert_eq!(before["sources"].as_array().unwrap().len(), 1, "{}", before["sources"]);
    assert_eq!(before["sources"][0]["role"], "baseline");

    let key =
        prequal::package::SecretKey::read(&samples.join("keys/test-only-test-magnetics-lab.secret.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let weaker = second_site_package(dir.path(), "n42sh-plant-b", 0.93, &key);
    let res = reg.upload(&weaker, Some(tokens["test-magnetics-lab"]["token"].as_str().unwrap()));
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    let digest = res.json()["digest"].as_str().unwrap().to_owned();

    let eq = reg.post_json("/v1/equivalency", None, &json!({"material": sh, "sample": digest})).json();
    assert_eq!(eq["pass"], false, "{eq}");

    let after = reg.get(&path, None).json();
    let sources = after["sources"].as_array().unwrap();
    let roles: Vec<&str> = sources.iter().map(|s| s["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["baseline", "kept_apart"], "{sources:?}");
    assert!(sources[1]["packages"][0].as_str().unwrap().contains(&digest));
    assert_eq!(sources[1]["equivalency"][0]["pass"], false);
    assert_eq!(after["packages"].as_array().unwrap().len(), 1, "only the baseline is pooled");
    assert_eq!(after["verdict"], before["verdict"]);
    for (a, b) in before["requirements"].as_array().unwrap().iter().zip(after["requirements"].as_array().unwrap()) {
        assert_eq!((&a["status"], &a["value"], &a["specimens"]), (&b["status"], &b["value"], &b["specimens"]));
    }
    // The material page's datasheet rests on the same sources: the other site's package is
    // named as kept apart, and its measurements are in neither the table nor the CSV.
    let page = String::from_utf8(reg.get(&format!("/materials/{sh}"), None).body).unwrap();
    let apart = page.split("id=\"kept-apart\"").nth(1).expect("the page names the source kept apart");
    assert!(apart.split("</div>").next().unwrap().contains(&digest), "{apart}");
    let table = page.split("id=\"datasheet-table\"").nth(1).unwrap().split("</table>").next().unwrap();
    assert!(!table.contains(&digest), "the datasheet holds only pooled packages");
    let csv = String::from_utf8(reg.get(&format!("/materials/{sh}/datasheet.csv"), None).body).unwrap();
    assert!(!csv.contains(&digest) && csv.lines().count() > 1, "{csv}");
}

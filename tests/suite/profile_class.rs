#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A profile applies to its material class only: the offline CLI, `GET /v1/fit`, rankings and
//! `profile=` search refuse (or, for an offline ranking, leave out) a material of another class
//! with `profile_class_mismatch`, naming both classes.

use crate::common;

use std::process::{Command, Output};

use common::samples_dir;
use common::server::{Backend, TestRegistry};

fn prequal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prequal")).args(args).env("RUST_LOG", "off").output().unwrap()
}

fn package(name: &str) -> String {
    samples_dir().join("packages").join(format!("{name}.zip")).to_str().unwrap().to_owned()
}

#[test]
fn offline_fit_refuses_a_magnet_against_a_cell_profile_with_exit_2() {
    let out = prequal(&["fit", "--profile", "stationary-storage-cell", &package("ndfeb-n42sh-baseline")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "no report is printed: {}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains("profile_class_mismatch"), "{stderr}");
    assert!(
        stderr.contains("profile 'stationary-storage-cell' applies to battery_cell; material '")
            && stderr.contains("' is permanent_magnet"),
        "{stderr}"
    );

    // The same material against a profile of its class still fits.
    let out = prequal(&["fit", "--profile", "ev-traction-magnet-150c", &package("ndfeb-n42sh-baseline")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn offline_ranking_leaves_cells_out_of_a_magnet_ranking_and_says_why() {
    let out = prequal(&[
        "fit",
        "--rank",
        "--json",
        "--profile",
        "loudspeaker-magnet",
        &package("ndfeb-n42sh-baseline"),
        &package("lfp-cell-prismatic"),
        &package("ferrite-sr-y30bh"),
        &package("sodium-ion-cell-cylindrical"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let classes: Vec<&str> =
        v["materials"].as_array().unwrap().iter().map(|m| m["material"]["material_class"].as_str().unwrap()).collect();
    assert_eq!(classes, ["permanent_magnet", "permanent_magnet"], "{v}");
    let excluded = v["excluded"].as_array().unwrap();
    assert_eq!(excluded.len(), 2);
    assert!(excluded.iter().all(|e| e["code"] == "profile_class_mismatch" && e["material_class"] == "battery_cell"));
    assert_eq!(stderr.matches("left out of the ranking: [profile_class_mismatch]").count(), 2, "{stderr}");

    // Nothing of the profile's class: refused.
    let out = prequal(&["fit", "--rank", "--profile", "loudspeaker-magnet", &package("lfp-cell-prismatic")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("applies to permanent_magnet"));
}

both_backends!(registry_fit_ranking_and_search_refuse_another_class);

fn registry_fit_ranking_and_search_refuse_another_class(backend: Backend) {
    let samples = samples_dir();
    let reg = TestRegistry::start_with(backend, &["--demo", "--samples", samples.to_str().unwrap()]);
    let materials = reg.get("/v1/materials", None).json();
    let id_of = |designation: &str| {
        materials
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["designation"].as_str().unwrap().starts_with(designation))
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let sh = id_of("N42SH");
    let lfp = id_of("EPC-LFP280");

    let res = reg.get(&format!("/v1/fit?profile=stationary-storage-cell&material={sh}"), None);
    assert_eq!(res.status, 422);
    assert_eq!(res.headers["content-type"], "application/json");
    let body = res.json();
    assert_eq!(body["error"]["code"], "profile_class_mismatch");
    assert_eq!(
        body["error"]["message"],
        format!("profile 'stationary-storage-cell' applies to battery_cell; material '{sh}' is permanent_magnet")
    );
    let res = reg.get(&format!("/v1/fit?profile=loudspeaker-magnet&material={lfp}"), None);
    assert_eq!((res.status, res.code().as_str()), (422, "profile_class_mismatch"));
    assert_eq!(reg.get(&format!("/v1/fit?profile=stationary-storage-cell&material={lfp}"), None).status, 200);

    // A ranking holds the profile's class only.
    let ranking = reg.get("/v1/fit/ranking?profile=loudspeaker-magnet", None).json();
    let ranked = ranking["materials"].as_array().unwrap();
    assert!(!ranked.is_empty());
    assert!(ranked.iter().all(|m| m["material"]["material_class"] == "permanent_magnet"), "{ranking}");

    // Search: another material_class is refused; without one, only the profile's class is listed.
    let res = reg.get("/v1/search?profile=loudspeaker-magnet&material_class=battery_cell", None);
    assert_eq!((res.status, res.code().as_str()), (422, "profile_class_mismatch"));
    assert!(res.json()["error"]["message"].as_str().unwrap().contains("applies to permanent_magnet"));
    let hits = reg.get("/v1/search?profile=stationary-storage-cell", None).json();
    let hits = hits["hits"].as_array().unwrap();
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| h["material_class"] == "battery_cell" && h["fit"].is_object()), "{hits:?}");

    // The CLI against the registry: exit 2, both classes named.
    let out = prequal(&["fit", "--registry", &reg.url, "--profile", "stationary-storage-cell", "--material", &sh]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("profile_class_mismatch") && stderr.contains("is permanent_magnet"), "{stderr}");
}

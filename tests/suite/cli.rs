#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The lab's commands through the real binary, as the README tells a new user to run them:
//! keygen → pack → verify (unsigned: refused) → sign → verify (trusted), exit codes and JSON.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn prequal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prequal")).args(args).env("RUST_LOG", "off").output().unwrap()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn keygen_pack_sign_verify_like_the_readme() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("lab.secret.json");
    let pkg = tmp.path().join("ferrite.zip");
    let source = root().join("sample-packages/sources/ferrite-sr-y30bh");

    let out = prequal(&["keygen", "--out", s(&key), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let keygen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let key_id = keygen["key_id"].as_str().unwrap().to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    // A second keygen to the same file must not overwrite the key.
    let before = std::fs::read(&key).unwrap();
    assert_eq!(prequal(&["keygen", "--out", s(&key)]).status.code(), Some(2));
    assert_eq!(std::fs::read(&key).unwrap(), before);

    let out = prequal(&["pack", s(&source), "--out", s(&pkg), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let packed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest = packed["digest"].as_str().unwrap().to_owned();

    // Unsigned: refused unless explicitly allowed.
    assert_eq!(prequal(&["verify", s(&pkg)]).status.code(), Some(1));
    assert_eq!(prequal(&["verify", s(&pkg), "--allow-unsigned"]).status.code(), Some(0));

    let out = prequal(&["sign", s(&pkg), "--key", s(&key), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let signed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(signed["digest"], digest.as_str(), "signing must not change the digest");

    // Without a trust set the signature is checked but the signer is not: exit 0, said plainly.
    let out = prequal(&["verify", s(&pkg)]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("signer not checked"));

    // With a trust set that does not know the key: unknown_key, refused.
    let trust_unknown = root().join("sample-packages/keys/test-trust.json");
    let out = prequal(&["verify", s(&pkg), "--trust", s(&trust_unknown), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["signatures"][0]["status"], "unknown_key");

    // With a trust set naming the key: valid; revoked: refused.
    let trust = tmp.path().join("trust.json");
    let write_trust = |status: &str| {
        let doc = serde_json::json!({"keys": [{"key_id": key_id, "public_key": keygen["public_key"], "organisation": "my-lab", "role": "lab", "status": status}]});
        std::fs::write(&trust, doc.to_string()).unwrap();
    };
    write_trust("active");
    let out = prequal(&["verify", s(&pkg), "--trust", s(&trust), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["digest"], digest.as_str());
    assert_eq!(report["signatures"][0]["status"], "valid");
    assert_eq!(report["signatures"][0]["organisation"], "my-lab");
    write_trust("revoked");
    let out = prequal(&["verify", s(&pkg), "--trust", s(&trust), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["signatures"][0]["status"], "revoked_key");
}

#[test]
fn pack_and_verify_report_demagnetisation_curves() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("y30bh.zip");
    let source = root().join("sample-packages/sources/ferrite-sr-y30bh");
    let out = prequal(&["pack", s(&source), "--out", s(&pkg), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let packed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((packed["curves"].as_u64(), packed["curve_points"].as_u64()), (Some(4), Some(4 * 3 * 41)));

    let committed = root().join("sample-packages/packages/ferrite-sr-y30bh.zip");
    let trust = root().join("sample-packages/keys/test-trust.json");
    let out = prequal(&["verify", s(&committed), "--trust", s(&trust), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let curves = report["curves"].as_array().unwrap();
    let summary: Vec<(&str, &str, f64, u64)> = curves
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap(),
                c["kind"].as_str().unwrap(),
                c["temperature_c"].as_f64().unwrap(),
                c["points"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("demag-m40", "B-H", -40.0, 123),
            ("demag-20", "B-H", 20.0, 123),
            ("demag-150", "B-H", 150.0, 123),
            ("demag-180", "B-H", 180.0, 123)
        ]
    );
    let out = prequal(&["verify", s(&committed), "--trust", s(&trust)]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("demagnetisation curve CSV files: 4 curves, 492 points"));

    // A curve problem is reported under the data checks, with its file and line.
    let src = tmp.path().join("src");
    copy_dir(&source, &src);
    let curve = src.join("curves/demag-20.csv");
    let text = std::fs::read_to_string(&curve).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    lines.truncate(3);
    std::fs::write(&curve, lines.join("\n") + "\n").unwrap();
    let out = prequal(&["pack", s(&src), "--out", s(&tmp.path().join("x.zip")), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["problems"][0]["code"], "curve_too_few_points", "{report}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("curves/demag-20.csv, line 3"));
}

#[test]
fn a_tampered_package_is_refused_with_its_code() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("cut.zip");
    let sample = std::fs::read(root().join("sample-packages/packages/lfp-cell-prismatic.zip")).unwrap();
    std::fs::write(&pkg, &sample[..sample.len() / 2]).unwrap();
    let out = prequal(&["verify", s(&pkg), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["problems"][0]["code"], "truncated_zip");

    // A file that cannot be read at all is "could not run", not "refused".
    assert_eq!(prequal(&["verify", s(&tmp.path().join("absent.zip"))]).status.code(), Some(2));
}

#[test]
fn pack_reports_every_problem_of_a_source_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let original = root().join("sample-packages/sources/ndfeb-n42sh-baseline");
    copy_dir(&original, &src);
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join("prequal.json")).unwrap()).unwrap();
    manifest["datasets"][0]["unit"] = "kA/m".into(); // remanence in a field-strength unit
    manifest["datasets"][1]["property"] = "coercivity".into(); // not in the vocabulary
    std::fs::write(src.join("prequal.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    std::fs::write(src.join("stray.txt"), "not listed").unwrap();
    let csv = src.join(manifest["datasets"][2]["file"].as_str().unwrap());
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let last = lines[2].rfind(',').unwrap();
    lines[2] = format!("{},n/a", &lines[2][..last]);
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();

    let out = prequal(&["pack", s(&src), "--out", s(&tmp.path().join("x.zip")), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = report["problems"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap()).collect();
    for code in ["unit_incompatible", "unknown_property", "unreferenced_file", "csv_not_numeric"] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(!tmp.path().join("x.zip").exists(), "a refused source must not leave a package behind");
}

#[test]
fn check_reports_every_problem_class_of_a_broken_manifest_in_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_dir(&root().join("sample-packages/sources/ndfeb-n42sh-baseline"), &src);
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join("prequal.json")).unwrap()).unwrap();
    manifest["material"].as_object_mut().unwrap().remove("process_route"); // missing
    manifest["test_methods"][0].as_object_mut().unwrap().remove("equipment"); // missing, in a list
    manifest["lab"]["colour"] = "blue".into(); // unknown
    manifest["synthetic"] = "yes".into(); // wrong type
    manifest["material"]["class"] = "ceramic".into(); // not an allowed value
    manifest["date_published"] = "2026-13-01".into(); // semantic: not a date
    manifest["datasets"][0]["unit"] = "kA/m".into(); // semantic: unit of the wrong dimension
    std::fs::write(src.join("prequal.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let csv = src.join(manifest["datasets"][2]["file"].as_str().unwrap());
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let last = lines[2].rfind(',').unwrap();
    lines[2] = format!("{},n/a", &lines[2][..last]);
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();

    let out = prequal(&["check", s(&src), "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems: Vec<(String, String)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["code"].as_str().unwrap().to_owned(), p["field"].as_str().unwrap_or("").to_owned()))
        .collect();
    let has = |code: &str, field: &str| problems.iter().any(|(c, f)| c == code && f == field);
    assert!(has("manifest_field_missing", "material.process_route"), "{problems:?}");
    assert!(has("manifest_field_missing", "test_methods[0].equipment"), "{problems:?}");
    assert!(has("manifest_field_unknown", "lab.colour"), "{problems:?}");
    assert!(has("manifest_field_type", "synthetic"), "{problems:?}");
    assert!(has("manifest_field_invalid", "material.class"), "{problems:?}");
    assert!(has("manifest_field_invalid", "date_published"), "{problems:?}");
    assert!(has("unit_incompatible", "datasets[0].unit"), "{problems:?}");
    assert!(problems.iter().any(|(c, _)| c == "csv_not_numeric"), "{problems:?}");
    assert!(!problems.iter().any(|(c, _)| c == "json_invalid"), "a missing field is not invalid JSON: {problems:?}");
    // A repaired field is reported once, by the schema, not again as "must not be empty".
    assert_eq!(problems.iter().filter(|(_, f)| f == "material.process_route").count(), 1, "{problems:?}");
    // The human report names the CSV's file, line and column.
    let out = prequal(&["check", s(&src)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}, line 3, column 'value'", manifest["datasets"][2]["file"].as_str().unwrap())),
        "{stderr}"
    );
    // Pack reports the same problems and writes nothing.
    let out = prequal(&["pack", s(&src), "--out", s(&tmp.path().join("x.zip")), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let packed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(packed["problems"], report["problems"]);
    assert!(!tmp.path().join("x.zip").exists());
    // A clean source: exit 0 and the next command to run.
    let out = prequal(&["check", s(&root().join("sample-packages/sources/ndfeb-n42sh-baseline"))]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Next: prequal pack"));
}

/// Replaces every `FILL IN` placeholder of a template manifest with a plausible value.
fn fill_in(v: &mut serde_json::Value, path: &str) {
    match v {
        serde_json::Value::Object(obj) => obj.iter_mut().for_each(|(k, v)| fill_in(v, &format!("{path}.{k}"))),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| fill_in(v, path)),
        serde_json::Value::String(text) if text.starts_with("FILL IN") => {
            *text = match path.rsplit('.').next().unwrap() {
                "name" if path == ".name" => "nai-cell-2026".into(),
                "country" => "DE".into(),
                "id" => "L1".into(),
                "date" | "produced" => "2026-05-01".into(),
                other => format!("A lab's {other}"),
            }
        }
        _ => {}
    }
}

#[test]
fn init_fill_in_check_pack_sign_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("nai");
    let out = prequal(&["init", "--class", "battery_cell", s(&src)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let readme = std::fs::read_to_string(src.join("README.md")).unwrap();
    for field in ["material.process_route", "material.lots", "releasability", "cycle_life", "c_rate"] {
        assert!(readme.contains(field), "README.md does not explain {field}");
    }
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join("prequal.json")).unwrap()).unwrap();
    assert_eq!(manifest["synthetic"], false);
    assert_eq!(manifest["material"]["class"], "battery_cell");

    // Untouched, the template is refused: every placeholder is named, nothing else is confused.
    let out = prequal(&["check", s(&src), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = report["problems"].as_array().unwrap();
    assert!(problems.iter().any(|p| p["code"] == "manifest_placeholder" && p["field"] == "material.process_route"));
    assert!(problems.iter().any(|p| p["code"] == "csv_invalid"), "empty CSV files are reported");
    assert!(!problems.iter().any(|p| p["field"] == "name" && p["code"] != "manifest_placeholder"), "{problems:?}");

    // The lab writes its description and its data.
    fill_in(&mut manifest, "");
    manifest["material"]["composition"] = serde_json::json!([
        {"element": "C", "mass_fraction": 0.35}, {"element": "O", "mass_fraction": 0.25},
        {"element": "Na", "mass_fraction": 0.15}, {"element": "Fe", "mass_fraction": 0.15},
        {"element": "Mn", "mass_fraction": 0.10}
    ]);
    std::fs::write(src.join("prequal.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    for ds in manifest["datasets"].as_array().unwrap() {
        let file = src.join(ds["file"].as_str().unwrap());
        let header = std::fs::read_to_string(&file).unwrap();
        assert_eq!(header, "specimen,batch,value\n");
        let value = match ds["property"].as_str().unwrap() {
            "capacity" => 2.51,
            "cycle_life" => 3200.0,
            _ => 150.0,
        };
        let rows: String = (1..=5).map(|i| format!("L1-S0{i},L1,{}\n", value + i as f64 * 0.01)).collect();
        std::fs::write(&file, header + &rows).unwrap();
    }
    let out = prequal(&["check", s(&src)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let pkg = tmp.path().join("nai.zip");
    let key = tmp.path().join("lab.secret.json");
    let out = prequal(&["pack", s(&src), "--out", s(&pkg)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(prequal(&["keygen", "--out", s(&key)]).status.code(), Some(0));
    let out = prequal(&["sign", s(&pkg), "--key", s(&key)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = prequal(&["verify", s(&pkg), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["synthetic"], false);
    assert_eq!(report["datasets"].as_array().unwrap().len(), 3);

    // A second package starts from the first: same lab and material, next version, empty CSVs.
    let next = tmp.path().join("nai-2");
    let out = prequal(&["init", "--from", s(&pkg), s(&next)]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let second: serde_json::Value = serde_json::from_slice(&std::fs::read(next.join("prequal.json")).unwrap()).unwrap();
    assert_eq!(second["material"], manifest["material"]);
    assert_eq!(second["version"], "1.1.0");
    // init never writes into a folder that has files.
    assert_eq!(prequal(&["init", "--class", "battery_cell", s(&src)]).status.code(), Some(2));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn fit_offline_reports_and_ranks() {
    let pkgs = root().join("sample-packages/packages");
    let gbd = pkgs.join("ndfeb-gbd-dy-uh.zip");
    let out = prequal(&["fit", "--profile", "ev-traction-magnet-180c", s(&gbd)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("verdict: incomplete") && text.contains("remaining tests:") && text.contains("flux-loss-180"),
        "{text}"
    );
    // Each requirement's notes sit under its own heading: the flux-loss gap is explained in the
    // flux-loss block, not under the requirement printed before it.
    let block = |id: &str| -> String {
        let start = text.find(&format!("\n  {id} — ")).unwrap_or_else(|| panic!("no block for {id}: {text}"));
        let rest = &text[start + 3..];
        rest[..rest.find("\n\n").unwrap_or(rest.len())].to_owned()
    };
    assert!(block("flux-loss-180").contains("tested at 150 °C only"), "{}", block("flux-loss-180"));
    assert!(!block("bhmax-180").contains("irreversible_flux_loss"), "{}", block("bhmax-180"));
    assert!(block("hcj-180").contains("route: outliers (MNR, CMH-17-1G 8.3.3)"), "{}", block("hcj-180"));

    // The failing verdict reads "not qualified"; values and margins carry units and datasheet
    // precision.
    let sh = pkgs.join("ndfeb-n42sh-baseline.zip");
    let out = prequal(&["fit", "--profile", "ev-traction-magnet-180c", s(&sh)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("verdict: not qualified"), "{text}");
    assert!(!text.contains("NotQualified") && !text.contains("notqualified"), "{text}");
    let hcj = text.lines().find(|l| l.starts_with("hcj-180 ")).unwrap();
    assert!(hcj.contains("627.4 kA/m") && hcj.contains("-172.6 kA/m (-21.6 %)"), "{hcj}");
    assert!(text.lines().take(12).all(|l| !l.contains("99999") && !l.contains("00001")), "no float noise: {text}");

    let out = prequal(&["fit", "--profile", "ev-traction-magnet-180c", "--json", s(&gbd)]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verdict"], "incomplete");
    assert_eq!(report["requirements"].as_array().unwrap().len(), 5);

    let magnets: Vec<PathBuf> = ["ndfeb-n42sh-baseline", "ndfeb-gbd-dy-uh", "ferrite-sr-y30bh"]
        .iter()
        .map(|n| pkgs.join(format!("{n}.zip")))
        .collect();
    let mut args = vec!["fit", "--profile", "ev-traction-magnet-180c", "--json"];
    args.extend(magnets.iter().map(|p| s(p)));
    let out = prequal(&args);
    let ranking: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ranking["materials"][0]["material"]["designation"], "40UH-GBD (fictional grade name)");

    let out = prequal(&["fit", "--profile", "no-such-profile", s(&gbd)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("built-in:"));
}

/// Every argument and flag of every subcommand has help text (walks `--help` recursively).
#[test]
fn every_argument_and_flag_has_help_text() {
    fn walk(path: &mut Vec<String>, missing: &mut Vec<String>) {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = prequal(&args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        let mut section = "";
        let mut subcommands = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with(' ') && line.ends_with(':') {
                section = line.trim_end_matches(':');
                continue;
            }
            if !line.starts_with("  ") || line.starts_with("      ") {
                continue;
            }
            let body = line.trim();
            match section {
                "Commands" => {
                    let name = body.split_whitespace().next().unwrap_or("");
                    if name != "help" {
                        subcommands.push(name.to_owned());
                    }
                }
                "Arguments" | "Options" => {
                    let described =
                        body.contains("  ") || lines.get(i + 1).is_some_and(|l| l.starts_with("          "));
                    if !described {
                        missing.push(format!("{}: {body}", path.join(" ")));
                    }
                }
                _ => {}
            }
        }
        for sub in subcommands {
            path.push(sub);
            walk(path, missing);
            path.pop();
        }
    }
    let mut missing = Vec::new();
    walk(&mut Vec::new(), &mut missing);
    assert!(missing.is_empty(), "arguments without help text:\n{}", missing.join("\n"));
}

#[test]
fn admin_storage_options_are_accepted_before_or_after_the_subcommand() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("registry");
    let after = prequal(&["admin", "org", "list", "--data", s(&data), "--json"]);
    assert_eq!(after.status.code(), Some(0), "{}", String::from_utf8_lossy(&after.stderr));
    assert!(data.join("prequal.db").exists(), "--data after the subcommand names the data directory");
    let before = prequal(&["admin", "--data", s(&data), "--json", "org", "list"]);
    assert_eq!(before.status.code(), Some(0), "{}", String::from_utf8_lossy(&before.stderr));
    assert_eq!(after.stdout, before.stdout);
}

#[test]
fn a_folder_or_a_non_zip_given_where_a_package_belongs_says_what_to_run_first() {
    let tmp = tempfile::tempdir().unwrap();
    let source = root().join("sample-packages/sources/ferrite-sr-y30bh");
    let key = tmp.path().join("k.json");
    assert_eq!(prequal(&["keygen", "--out", s(&key)]).status.code(), Some(0));
    let out = prequal(&["push", s(&source), "--registry", "http://127.0.0.1:9", "--token", "t"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is a folder") && stderr.contains("prequal pack"), "{stderr}");
    assert!(!stderr.contains("could not reach"), "{stderr}");
    let out = prequal(&["sign", s(&source), "--key", s(&key)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("prequal pack"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = prequal(&["sign", s(&source.join("prequal.json")), "--key", s(&key)]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a package") && stderr.contains("prequal pack"), "{stderr}");
    let out = prequal(&["verify", s(&source)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("prequal check"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A reader that closes the pipe before reading (`prequal … | head -0`) ends the command quietly:
/// no panic message, no exit code 101.
#[test]
fn a_closed_stdout_pipe_is_not_a_panic() {
    use std::process::Stdio;
    let pkg = root().join("sample-packages/packages/ndfeb-n42sh-baseline.zip");
    let lfp = root().join("sample-packages/sources/lfp-cell-prismatic");
    let runs: [&[&str]; 3] = [&["verify", s(&pkg), "--json"], &["verify", s(&pkg)], &["check", s(&lfp), "--json"]];
    for args in runs {
        let mut child = Command::new(env!("CARGO_BIN_EXE_prequal"))
            .args(args)
            .env("RUST_LOG", "off")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before the first line is written
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
    }
}

/// Progress bars are drawn on a terminal (here a pseudo-terminal from `script`) and never in a
/// pipe or with --json.
#[test]
fn progress_bars_appear_on_a_terminal_only() {
    if !Path::new("/usr/bin/script").exists() {
        eprintln!("skipped: no `script` to give the command a pseudo-terminal");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    copy_dir(&root().join("sample-packages/sources/ferrite-sr-y30bh"), &src);
    // A 24 MiB attachment makes packing long enough to deserve a bar.
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join("prequal.json")).unwrap()).unwrap();
    manifest["attachments"].as_array_mut().unwrap().push(serde_json::json!(
        {"file": "raw/export.bin", "description": "raw instrument export", "media_type": "application/octet-stream"}
    ));
    std::fs::write(src.join("prequal.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    std::fs::create_dir_all(src.join("raw")).unwrap();
    let bytes: Vec<u8> = (0..24u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    std::fs::write(src.join("raw/export.bin"), bytes).unwrap();
    let bin = env!("CARGO_BIN_EXE_prequal");
    let on_terminal = |cmd: String| {
        let out = Command::new("script").args(["-qec", &cmd, "/dev/null"]).env("RUST_LOG", "off").output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let pkg = tmp.path().join("p.zip");
    let shown = on_terminal(format!("{bin} pack {} --out {}", s(&src), s(&pkg)));
    assert!(shown.contains("packing ["), "no bar on a terminal: {shown}");
    let shown = on_terminal(format!("{bin} verify {} --allow-unsigned", s(&pkg)));
    assert!(shown.contains("verifying ["), "no bar on a terminal: {shown}");
    let quiet = on_terminal(format!("{bin} verify {} --allow-unsigned --json", s(&pkg)));
    assert!(!quiet.contains("verifying ["), "a bar with --json: {quiet}");
    // In a pipe: no bar.
    let out = prequal(&["pack", s(&src), "--out", s(&pkg)]);
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains('['), "{}", String::from_utf8_lossy(&out.stderr));
}

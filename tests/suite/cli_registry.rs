#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The operator's and the lab's registry commands through the real binary: `prequal admin`
//! registers an organisation, its key and a token; `prequal push` publishes, is idempotent,
//! and reports a refusal with its code and exit status 1; `prequal serve --demo` shows the
//! sample packages at once.

use crate::common;

use std::process::{Command, Output};

use common::server::{Backend, TestRegistry};
use common::*;

fn prequal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prequal")).args(args).env("RUST_LOG", "off").output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn admin_then_push() {
    let reg = TestRegistry::start(Backend::Sqlite);
    let data = reg.data.to_str().unwrap().to_owned();
    let db = reg.db.url.clone();
    let admin = |args: &[&str]| {
        let mut all = vec!["admin", "--db", &db, "--data", &data];
        all.extend_from_slice(args);
        prequal(&all)
    };
    let out = admin(&["org", "add", "cli-lab", "--name", "CLI Lab", "--kind", "lab", "--country", "NO"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = admin(&["org", "add", "cli-lab", "--name", "again", "--kind", "lab", "--country", "NO"]);
    assert_eq!(out.status.code(), Some(1), "duplicate refused: {}", text(&out));
    assert!(text(&out).contains("[conflict]"));
    let out = admin(&["org", "add", "x-lab", "--name", "X", "--kind", "lab", "--country", "norway"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("ISO 3166-1"));

    let key = prequal::package::signing::encode_public_key(&test_key(1).public_key());
    let out = admin(&["key", "add", "cli-lab", "--public-key", &key]);
    assert!(out.status.success(), "{}", text(&out));
    let out = admin(&["--json", "token", "create", "cli-lab", "--role", "lab", "--label", "push test"]);
    assert!(out.status.success(), "{}", text(&out));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let out = admin(&["token", "list"]);
    assert!(text(&out).contains("cli-lab") && !text(&out).contains(&token));

    let dir = tempfile::tempdir().unwrap();
    let pkg = signed_package(dir.path());
    let pkg = pkg.to_str().unwrap();
    let push = |p: &str, token: &str| prequal(&["push", p, "--registry", &reg.url, "--token", token]);
    let out = push(pkg, &token);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("published: ndfeb-n42sh-baseline 1.0.0 sha256:"), "{}", text(&out));
    let out = push(pkg, &token);
    assert!(out.status.success());
    assert!(text(&out).contains("already published"));

    let unsigned = custom_package(dir.path(), BASELINE, "unsigned", |m| m["version"] = "9.0.0".into(), &[]);
    let out = push(unsigned.to_str().unwrap(), &token);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not_signed_by_uploader"), "{}", text(&out));
    let out = push(pkg, "pq_wrong");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("invalid_token"));
    let out = prequal(&["push", pkg, "--registry", "http://127.0.0.1:9", "--token", &token]);
    assert_eq!(out.status.code(), Some(2), "unreachable registry: {}", text(&out));

    // Revoking the token through admin takes effect for the running server.
    let out = admin(&["token", "revoke", created["id"].as_str().unwrap()]);
    assert!(out.status.success());
    assert!(text(&push(pkg, &token)).contains("token_revoked"));
}

#[test]
fn serve_demo_shows_the_samples() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_prequal"))
        .args(["serve", "--demo", "--bind", "127.0.0.1:0", "--data", data.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut url = None;
    let mut printed = Vec::new();
    for line in stdout.lines().map_while(Result::ok) {
        printed.push(line.clone());
        if let Some(rest) = line.strip_prefix("prequal registry listening on ") {
            url = rest.split_whitespace().next().map(str::to_owned);
            break;
        }
    }
    let url = url.unwrap_or_else(|| panic!("no address printed: {printed:?}"));
    let list = common::server::request(&format!("{url}/v1/packages"), "GET", None, None, &[]).json();
    // Six samples; the allied Fe16N2 package is hidden from anonymous readers.
    assert_eq!(list["total"], 5);
    let tokens: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("demo-tokens.json")).unwrap()).unwrap();
    let op = tokens["demo-operator"]["token"].as_str().unwrap();
    let all = common::server::request(&format!("{url}/v1/packages"), "GET", Some(op), None, &[]).json();
    assert_eq!(all["total"], 6);
    let countersigned = all["packages"].as_array().unwrap().iter().filter(|p| p["countersigned"] == true).count();
    assert_eq!(countersigned, 3);
    child.kill().unwrap();
    child.wait().unwrap();
}

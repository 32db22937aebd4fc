#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Witnessing over real processes: `prequal serve` configured with two witnesses, the witnesses
//! cosigning with `prequal log cosign`, clients checking with `prequal log verify --quorum`, and
//! offline evidence bundles checked with `prequal verify`. Every refusal is asserted by its
//! stable code: quorum not met (one witness, a duplicated or resubmitted cosignature), an
//! unknown witness, a checkpoint the origin never signed, a bad cosignature, a rewritten log,
//! and each kind of tampering with a bundle.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::server::{Backend, TestRegistry};
use common::*;
use prequal::log::checkpoint::{Checkpoint, SignedCheckpoint};
use prequal::log::cosignature::Witness;
use prequal::log::note::{NoteSigner, VerifierKey};
use prequal::package::SecretKey;
use prequal::registry::OrgKind;
use prequal::registry::views::NewOrganisation;
use serde_json::Value;

both_backends!(witnesses_cosign_and_clients_require_a_quorum, a_rewritten_log_is_refused);

#[test]
fn tlog_witness_an_origin_collects_from_a_mirror_witness_which_also_cosigns_a_foreign_log() {
    tlog_witness_both_sides()
}

#[test]
fn evidence_bundles_verify_offline_and_tampering_is_caught() {
    evidence_bundles(Backend::Sqlite)
}

fn prequal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prequal")).args(args).env("RUST_LOG", "off").output().unwrap()
}

fn out_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}\nstderr: {}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    })
}

/// A witness: its key file, name and verifier key.
struct TestWitness {
    key_file: PathBuf,
    name: String,
    vkey: String,
    state: PathBuf,
}

impl TestWitness {
    fn new(dir: &Path, n: u8) -> TestWitness {
        let name = format!("witness{n}.example/w");
        let key_file = dir.join(format!("witness{n}.json"));
        test_key(100 + n).write(&key_file, Some("test witness")).unwrap();
        let out = prequal(&["log", "witness-key", "--key", key_file.to_str().unwrap(), "--name", &name]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let vkey = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let expected = Witness::new(&name, test_key(100 + n).signing_key().clone()).unwrap();
        assert_eq!(vkey, expected.verifier().to_string());
        TestWitness { key_file, name, vkey, state: dir.join(format!("witness{n}-state.json")) }
    }

    fn witness(&self) -> Witness {
        let key = SecretKey::read(&self.key_file).unwrap();
        Witness::new(&self.name, key.signing_key().clone()).unwrap()
    }

    /// `prequal log cosign`, with its state file.
    fn cosign(&self, reg: &TestRegistry, log_key: &str) -> Output {
        prequal(&[
            "log",
            "cosign",
            "--registry",
            &reg.url,
            "--log-key",
            log_key,
            "--key",
            self.key_file.to_str().unwrap(),
            "--name",
            &self.name,
            "--state",
            self.state.to_str().unwrap(),
            "--json",
        ])
    }
}

fn start(backend: Backend, witnesses: &[&TestWitness], demo: bool) -> TestRegistry {
    let samples = samples_dir();
    let mut args: Vec<String> = Vec::new();
    if demo {
        args.extend(["--demo".into(), "--samples".into(), samples.to_str().unwrap().into()]);
    }
    for w in witnesses {
        args.extend(["--witness".into(), w.vkey.clone()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    TestRegistry::start_with(backend, &args)
}

fn log_key(reg: &TestRegistry) -> String {
    let res = reg.get("/log/key", None);
    assert_eq!(res.status, 200);
    String::from_utf8(res.body).unwrap().trim().to_owned()
}

fn signed_checkpoint(reg: &TestRegistry, path: &str) -> SignedCheckpoint {
    let res = reg.get(path, None);
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    SignedCheckpoint::verify(&res.body, &VerifierKey::parse(&log_key(reg)).unwrap()).unwrap()
}

/// `prequal log verify` with `witnesses`, a quorum and optionally a state file.
fn log_verify(reg: &TestRegistry, witnesses: &[&str], quorum: usize, state: Option<&Path>) -> Output {
    log_verify_at(&reg.url, &log_key(reg), witnesses, quorum, state)
}

fn log_verify_at(url: &str, key: &str, witnesses: &[&str], quorum: usize, state: Option<&Path>) -> Output {
    let quorum = quorum.to_string();
    let mut args = vec!["log", "verify", "--registry", url, "--log-key", key, "--quorum", &quorum, "--json"];
    for w in witnesses {
        args.extend(["--witness", w]);
    }
    if let Some(s) = state {
        args.extend(["--state", s.to_str().unwrap()]);
    }
    prequal(&args)
}

/// Exit status 1 with `code` in the JSON report.
fn assert_refused(o: &Output, code: &str) {
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(out_json(o)["code"], code, "{}", String::from_utf8_lossy(&o.stderr));
}

fn post_note(reg: &TestRegistry, note: &str) -> common::server::Response {
    reg.request("POST", "/log/cosignature", None, Some(("text/plain", note.as_bytes().to_vec())))
}

/// The log's origin (its key's name).
fn origin(reg: &TestRegistry) -> String {
    VerifierKey::parse(&log_key(reg)).unwrap().name().to_owned()
}

/// The log's own key, read from the data directory as the server created it.
fn log_signer(reg: &TestRegistry) -> NoteSigner {
    let key = SecretKey::read(&reg.data.join("log-key.json")).unwrap();
    NoteSigner::new(&origin(reg), key.signing_key().clone()).unwrap()
}

fn witnesses_cosign_and_clients_require_a_quorum(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (w1, w2, stranger) =
        (TestWitness::new(dir.path(), 1), TestWitness::new(dir.path(), 2), TestWitness::new(dir.path(), 3));
    let reg = start(backend.clone(), &[&w1, &w2], false);
    let key = log_key(&reg);
    let both = [w1.vkey.as_str(), w2.vkey.as_str()];

    // Nothing cosigned yet.
    assert_eq!(reg.get("/log/checkpoint/cosigned", None).status, 404);
    assert_refused(&log_verify(&reg, &both, 2, None), "quorum_not_met");

    // One witness: a quorum of 1 of it passes, 2 of 2 does not.
    let out = w1.cosign(&reg, &key);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = out_json(&out)["report"].clone();
    assert_eq!(report["accepted"]["stored"], serde_json::json!([w1.vkey]));
    let cp = signed_checkpoint(&reg, "/log/checkpoint");
    assert_eq!(cp.note().signatures().len(), 2, "the log's signature and one cosignature");
    assert_refused(&log_verify(&reg, &both, 2, None), "quorum_not_met");
    let ok = log_verify(&reg, &[&w1.vkey], 1, None);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));

    // The same cosignature again, and twice in one note: stored once, still one of two.
    let line = w1.witness().cosign(&cp, 1_800_000_000).unwrap();
    // The checkpoint with the log's signature only (the served one carries w1's cosignature).
    let plain = format!("{}\n{}", cp.text(), cp.note().signatures()[0].line());
    let doubled = format!("{plain}{line}{line}");
    for _ in 0..2 {
        let res = post_note(&reg, &doubled);
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
        assert_eq!(res.json()["already_stored"], serde_json::json!([w1.vkey]));
        assert_eq!(res.json()["stored"], serde_json::json!([]));
    }
    assert_eq!(signed_checkpoint(&reg, "/log/checkpoint").note().signatures().len(), 2);
    assert_refused(&log_verify(&reg, &both, 2, None), "quorum_not_met");
    // One witness named twice is still one witness.
    assert_refused(&log_verify(&reg, &[&w1.vkey, &w1.vkey], 2, None), "quorum_too_large");

    // An unknown witness's line is ignored (signed-note): alone, the note carries no
    // cosignature the origin accepts, through the CLI and over HTTP; beside a known witness's
    // valid line, the known one is kept.
    assert_refused(&stranger.cosign(&reg, &key), "no_cosignature");
    let foreign = stranger.witness().cosign(&cp, 1_800_000_000).unwrap();
    let res = post_note(&reg, &format!("{plain}{foreign}"));
    assert_eq!((res.status, res.code().as_str()), (422, "no_cosignature"));
    let res = post_note(&reg, &format!("{plain}{foreign}{line}"));
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json()["already_stored"], serde_json::json!([w1.vkey]));

    // A checkpoint the origin never signed: another root at the same size, signed with the log's
    // own key (so only the root check can catch it); another key; a size beyond the log.
    let c = cp.checkpoint();
    let signer = log_signer(&reg);
    let w2w = w2.witness();
    let forged_text = Checkpoint { root: [7; 32], ..c.clone() }.to_text();
    let forged = SignedCheckpoint::verify(signer.sign(&forged_text).unwrap().as_bytes(), signer.verifier()).unwrap();
    let res = post_note(&reg, &format!("{}{}", forged.note().encode(), w2w.cosign(&forged, 1).unwrap()));
    assert_eq!(
        (res.status, res.code().as_str()),
        (422, "checkpoint_not_ours"),
        "{}",
        String::from_utf8_lossy(&res.body)
    );
    let beyond_text = Checkpoint { size: c.size + 5, ..c.clone() }.to_text();
    let beyond = SignedCheckpoint::verify(signer.sign(&beyond_text).unwrap().as_bytes(), signer.verifier()).unwrap();
    let res = post_note(&reg, &format!("{}{}", beyond.note().encode(), w2w.cosign(&beyond, 1).unwrap()));
    assert_eq!((res.status, res.code().as_str()), (422, "checkpoint_not_ours"));
    let other_log = NoteSigner::new(&origin(&reg), test_key(77).signing_key().clone()).unwrap();
    let other = SignedCheckpoint::verify(other_log.sign(cp.text()).unwrap().as_bytes(), other_log.verifier()).unwrap();
    let res = post_note(&reg, &format!("{}{}", other.note().encode(), w2w.cosign(&other, 1).unwrap()));
    assert_eq!((res.status, res.code().as_str()), (422, "checkpoint_not_ours"));
    // A cosignature by a configured witness that does not verify; none at all; not a note.
    let good = w2w.cosign(&cp, 1_800_000_000).unwrap();
    let mut raw = B64.decode(good.trim_end().rsplit_once(' ').unwrap().1).unwrap();
    raw[20] ^= 1;
    let bad_line = format!("\u{2014} {} {}\n", w2.name, B64.encode(raw));
    let res = post_note(&reg, &format!("{plain}{bad_line}"));
    assert_eq!((res.status, res.code().as_str()), (422, "bad_cosignature"));
    // A line claiming a known witness that does not verify spoils the note, even beside a
    // stranger's line and a valid one.
    let res = post_note(&reg, &format!("{plain}{foreign}{line}{bad_line}"));
    assert_eq!((res.status, res.code().as_str()), (422, "bad_cosignature"));
    let res = post_note(&reg, &plain);
    assert_eq!((res.status, res.code().as_str()), (422, "no_cosignature"));
    let res = post_note(&reg, "not a checkpoint");
    assert_eq!((res.status, res.code().as_str()), (400, "malformed_checkpoint"));
    // None of the refused submissions was stored.
    assert_eq!(signed_checkpoint(&reg, "/log/checkpoint").note().signatures().len(), 2);

    // The second witness: 2 of 2.
    let out = w2.cosign(&reg, &key);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ok = log_verify(&reg, &both, 2, None);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let report = out_json(&ok)["report"].clone();
    assert_eq!(report["cosigners"].as_array().unwrap().len(), 2);
    assert_eq!(report["from_cosigned_endpoint"], false);
    // Without naming the witnesses nothing counts.
    assert_refused(&log_verify(&reg, &[&stranger.vkey], 1, None), "quorum_not_met");

    // The log grows: the current checkpoint has no cosignatures, the cosigned one is served
    // separately, and a client requiring 2 of 2 checks that one.
    reg.library()
        .create_organisation(&NewOrganisation {
            id: "grown".into(),
            name: "grows the log".into(),
            kind: OrgKind::Lab,
            country: "US".into(),
        })
        .unwrap();
    let current = signed_checkpoint(&reg, "/log/checkpoint");
    assert_eq!(current.checkpoint().size, c.size + 1);
    assert_eq!(current.note().signatures().len(), 1);
    let cosigned = signed_checkpoint(&reg, "/log/checkpoint/cosigned");
    assert_eq!(cosigned.checkpoint(), c);
    assert_eq!(cosigned.note().signatures().len(), 3);
    let ok = log_verify(&reg, &both, 2, None);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(out_json(&ok)["report"]["from_cosigned_endpoint"], true);
    assert_eq!(out_json(&ok)["report"]["tree_size"], c.size);
    // The witnesses move on, consistently with their state files.
    for w in [&w1, &w2] {
        let out = w.cosign(&reg, &key);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out_json(&out)["report"]["previous_size"], c.size);
        assert_eq!(out_json(&out)["report"]["tree_size"], c.size + 1);
    }
    assert_eq!(signed_checkpoint(&reg, "/log/checkpoint").note().signatures().len(), 3);

    // A mirror serves the origin's newest cosigned checkpoint of what it holds, so a client
    // verifies against the mirror with the same quorum (it answered 503 before). The log grows
    // once more first: the origin's current checkpoint is then not the cosigned one.
    add_org(&reg, "grown-again");
    let origin_cosigned = reg.get("/log/checkpoint/cosigned", None);
    assert_eq!(origin_cosigned.status, 200);
    let mirror_dir = tempfile::tempdir().unwrap();
    let mirror_db = common::server::TestDb::new(&backend, mirror_dir.path());
    let mut mirror = Command::new(env!("CARGO_BIN_EXE_prequal"))
        .args(["mirror", "--upstream", &reg.url, "--upstream-key", &key, "--db", &mirror_db.url, "--data"])
        .arg(mirror_dir.path().join("data"))
        .args(["--listen", "127.0.0.1:0", "--interval", "1", "--workers", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mirror_url = common::server::listening_address(&mut mirror, "prequal mirror listening on ")
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the mirror starts");
    let served = (0..300)
        .find_map(|_| {
            let res =
                common::server::try_request(&format!("{mirror_url}/log/checkpoint/cosigned"), "GET", None, None, &[])
                    .ok()?;
            if res.status == 200 {
                return Some(res);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
            None
        })
        .expect("the mirror serves a cosigned checkpoint within 30 s");
    assert_eq!(served.body, origin_cosigned.body, "the origin's cosigned checkpoint, verbatim");
    let ok = log_verify_at(&mirror_url, &key, &both, 2, None);
    let _ = mirror.kill();
    let _ = mirror.wait();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    assert_eq!(out_json(&ok)["report"]["from_cosigned_endpoint"], true);
    assert_eq!(out_json(&ok)["report"]["tree_size"], c.size + 1);
}

/// Removes the log's entries from index `from` on (and the subtrees covering them), as an
/// origin rewriting its history would.
fn truncate_log(reg: &TestRegistry, from: u64) {
    use diesel::RunQueryDsl;
    let lib = reg.library();
    let mut conn = lib.store.conn().unwrap();
    diesel::sql_query(format!("DELETE FROM log_entries WHERE idx >= {from}")).execute(&mut conn).unwrap();
    for level in 0..40u32 {
        let width = 1u64 << level;
        // Node (level, i) covers leaves [i·w, (i+1)·w): remove it if it reaches `from`.
        diesel::sql_query(format!("DELETE FROM log_nodes WHERE level = {level} AND (idx + 1) * {width} > {from}"))
            .execute(&mut conn)
            .unwrap();
    }
    diesel::sql_query(format!("UPDATE log_head SET size = {from}")).execute(&mut conn).unwrap();
}

fn add_org(reg: &TestRegistry, id: &str) {
    let body = serde_json::json!({"id": id, "name": "grows the log", "kind": "lab", "country": "US"});
    let res = reg.post_json("/v1/organisations", Some(&reg.operator_token), &body);
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
}

fn a_rewritten_log_is_refused(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let w1 = TestWitness::new(dir.path(), 1);
    let mut reg = start(backend, &[&w1], false);
    let key = log_key(&reg);
    let state = dir.path().join("client-state.json");
    for i in 0..3 {
        add_org(&reg, &format!("first-{i}"));
    }
    assert!(w1.cosign(&reg, &key).status.success());
    let ok = log_verify(&reg, &[&w1.vkey], 1, Some(&state));
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let seen = out_json(&ok)["report"]["tree_size"].as_u64().unwrap();
    // Growing honestly is accepted, and the state file moves on.
    add_org(&reg, "honest");
    assert!(w1.cosign(&reg, &key).status.success());
    let ok = log_verify(&reg, &[&w1.vkey], 1, Some(&state));
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(out_json(&ok)["report"]["previous_size"], seen);
    let seen = seen + 1;
    assert_eq!(out_json(&ok)["report"]["tree_size"], seen);

    // The origin drops its last two entries: smaller than what the client and witness saw.
    reg.kill();
    truncate_log(&reg, seen - 2);
    reg.spawn();
    assert_refused(&log_verify(&reg, &[], 0, Some(&state)), "checkpoint_older_than_seen");
    assert_refused(&w1.cosign(&reg, &key), "checkpoint_older_than_seen");
    // ... then writes other entries in their place and beyond: larger, but another history.
    for i in 0..4 {
        add_org(&reg, &format!("rewritten-{i}"));
    }
    assert!(signed_checkpoint(&reg, "/log/checkpoint").checkpoint().size > seen);
    assert_refused(&log_verify(&reg, &[], 0, Some(&state)), "checkpoint_inconsistent");
    assert_refused(&w1.cosign(&reg, &key), "checkpoint_inconsistent");
    // Without the state file the rewritten log looks fine: the state is what catches it.
    let fresh = log_verify(&reg, &[], 0, None);
    assert!(fresh.status.success(), "{}", String::from_utf8_lossy(&fresh.stderr));
    // A state file that does not verify with the log key is an error, not a fresh start.
    std::fs::write(&state, b"{\"origin\":\"x\",\"size\":1,\"root\":\"\",\"checkpoint\":\"forged\\n\"}").unwrap();
    let out = log_verify(&reg, &[], 0, Some(&state));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(out_json(&out)["code"], "state_file");
}

/// Rewrites a bundle's JSON field with `f`.
fn tampered(bundle: &Path, dir: &Path, name: &str, f: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v: Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    f(&mut v);
    let out = dir.join(name);
    std::fs::write(&out, serde_json::to_vec(&v).unwrap()).unwrap();
    out
}

/// `prequal evidence export --json` of one package of the registry at `url` into `out`.
fn export_evidence(url: &str, digest: &str, out: &Path, token: Option<&str>) -> Output {
    let mut args = vec!["evidence", "export", "--registry", url, "--digest", digest, "--out", out.to_str().unwrap()];
    if let Some(t) = token {
        args.extend(["--token", t]);
    }
    args.push("--json");
    prequal(&args)
}

fn verify_bundle(bundle: &Path, key: &str, witnesses: &[&str], quorum: usize) -> Output {
    let quorum = quorum.to_string();
    let mut args = vec!["verify", bundle.to_str().unwrap(), "--log-key", key, "--quorum", &quorum, "--json"];
    for w in witnesses {
        args.extend(["--witness", w]);
    }
    prequal(&args)
}

fn evidence_bundles(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (w1, w2) = (TestWitness::new(dir.path(), 1), TestWitness::new(dir.path(), 2));
    let reg = start(backend, &[&w1, &w2], true);
    let key = log_key(&reg);
    let log_origin = origin(&reg);
    let both = [w1.vkey.as_str(), w2.vkey.as_str()];
    let list = reg.get("/v1/packages?limit=500", Some(&reg.operator_token)).json();
    let packages = list["packages"].as_array().unwrap();
    let public = packages.iter().find(|p| p["releasability"] == "public").unwrap()["digest"].as_str().unwrap();
    let allied = packages.iter().find(|p| p["releasability"] == "allied").unwrap()["digest"].as_str().unwrap();

    // Before any cosignature: the export falls back to the current checkpoint, which a client
    // requiring witnesses refuses.
    let early = dir.path().join("early.json");
    let out = export_evidence(&reg.url, public, &early, None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out_json(&out)["report"]["cosigned_checkpoint"], false);
    assert_refused(&verify_bundle(&early, &key, &both, 2), "evidence_quorum_not_met");
    let no_witness = verify_bundle(&early, &key, &[], 0);
    assert!(no_witness.status.success(), "{}", String::from_utf8_lossy(&no_witness.stdout));

    for w in [&w1, &w2] {
        assert!(w.cosign(&reg, &key).status.success());
    }
    let bundle = dir.path().join("public.json");
    let out = export_evidence(&reg.url, public, &bundle, None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out_json(&out)["report"]["cosigned_checkpoint"], true);
    assert_eq!(out_json(&out)["report"]["cosignatures"], 2);
    // The C2SP tlog-proof on its own, for outside tools: the bundle's proof, byte for byte.
    let proof_file = dir.path().join("public.tlog-proof");
    let again = dir.path().join("public-again.json");
    let out = prequal(&[
        "evidence",
        "export",
        "--registry",
        &reg.url,
        "--digest",
        public,
        "--out",
        again.to_str().unwrap(),
        "--tlog-proof",
        proof_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let proof_text = std::fs::read_to_string(&proof_file).unwrap();
    let in_bundle: Value = serde_json::from_slice(&std::fs::read(&again).unwrap()).unwrap();
    assert_eq!(in_bundle["proof"], proof_text.as_str());
    let parsed = prequal::log::tlog_proof::TlogProof::parse(&proof_text).unwrap();
    assert_eq!(parsed.encode(), proof_text);

    // Offline: the registry is gone.
    let url = reg.url.clone();
    drop(reg);
    assert!(common::server::try_request(&format!("{url}/healthz"), "GET", None, None, &[]).is_err());
    let ok = verify_bundle(&bundle, &key, &both, 2);
    assert!(ok.status.success(), "{}\n{}", String::from_utf8_lossy(&ok.stdout), String::from_utf8_lossy(&ok.stderr));
    let report = out_json(&ok);
    assert_eq!(report["ok"], true);
    assert_eq!(report["digest"], public);
    assert_eq!(report["evidence"]["cosigners"].as_array().unwrap().len(), 2);
    // The human report too.
    let human =
        prequal(&["verify", bundle.to_str().unwrap(), "--log-key", &key, "--witness", both[0], "--witness", both[1]]);
    assert!(human.status.success());
    assert!(String::from_utf8_lossy(&human.stdout).contains("cosigned by 2 of the named witnesses (quorum 2)"));
    // A bundle needs the log key; a package takes no log key.
    assert_eq!(prequal(&["verify", bundle.to_str().unwrap()]).status.code(), Some(2));
    // A log key that is not the log's.
    let wrong_key = NoteSigner::new(&log_origin, test_key(77).signing_key().clone()).unwrap().verifier().to_string();
    assert_refused(&verify_bundle(&bundle, &wrong_key, &both, 2), "evidence_checkpoint_invalid");

    // Tampering, one field at a time, each with its own code.
    let d = dir.path();
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            tampered(&bundle, d, "package.json", |v| {
                let mut p = B64.decode(v["package"].as_str().unwrap()).unwrap();
                let mid = p.len() / 2;
                p[mid] ^= 1;
                v["package"] = B64.encode(p).into();
            }),
            "evidence_file_sha256_mismatch",
        ),
        (
            tampered(&bundle, d, "entry.json", |v| {
                let e = v["log_entry"].as_str().unwrap().replacen("version ", "version 9", 1);
                v["log_entry"] = e.into();
            }),
            "evidence_entry_mismatch",
        ),
        (
            tampered(&bundle, d, "proof.json", |v| {
                let p = v["proof"].as_str().unwrap().to_owned();
                let mut lines: Vec<String> = p.split('\n').map(str::to_owned).collect();
                let mut h = B64.decode(&lines[2]).unwrap();
                h[0] ^= 1;
                lines[2] = B64.encode(h);
                v["proof"] = lines.join("\n").into();
            }),
            "evidence_inclusion_failed",
        ),
        (
            tampered(&bundle, d, "checkpoint.json", |v| {
                let p = v["proof"].as_str().unwrap().to_owned();
                let (head, cp) = p.split_once("\n\n").unwrap();
                let mut lines: Vec<&str> = cp.split('\n').collect();
                let size: u64 = lines[1].parse().unwrap();
                let bigger = (size + 1).to_string();
                lines[1] = &bigger;
                v["proof"] = format!("{head}\n\n{}", lines.join("\n")).into();
            }),
            "evidence_checkpoint_invalid",
        ),
        (
            tampered(&bundle, d, "removed.json", |v| {
                let p = v["proof"].as_str().unwrap().to_owned();
                let kept: Vec<&str> = p.split('\n').filter(|l| !l.contains("witness2.example")).collect();
                v["proof"] = kept.join("\n").into();
            }),
            "evidence_quorum_not_met",
        ),
        (
            tampered(&bundle, d, "cosignature.json", |v| {
                let p = v["proof"].as_str().unwrap().to_owned();
                let lines: Vec<String> = p
                    .split('\n')
                    .map(|l| {
                        if l.contains("witness2.example") {
                            let (name, sig) = l.rsplit_once(' ').unwrap();
                            let mut raw = B64.decode(sig).unwrap();
                            raw[30] ^= 1;
                            format!("{name} {}", B64.encode(raw))
                        } else {
                            l.to_owned()
                        }
                    })
                    .collect();
                v["proof"] = lines.join("\n").into();
            }),
            "evidence_bad_cosignature",
        ),
        (
            tampered(&bundle, d, "digest.json", |v| {
                v["digest"] = format!("sha256:{}", "ab".repeat(32)).into();
            }),
            "evidence_entry_not_this_package",
        ),
    ];
    for (file, code) in &cases {
        assert_refused(&verify_bundle(file, &key, &both, 2), code);
    }
    // The codes are distinct.
    let mut codes: Vec<&str> = cases.iter().map(|(_, c)| *c).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), cases.len());

    // A package that is not public: its entry is sealed, and the bundle opens it.
    let reg = start(Backend::Sqlite, &[&w1, &w2], true);
    let key = log_key(&reg);
    for (i, w) in [&w1, &w2].into_iter().enumerate() {
        let state = dir.path().join(format!("second-{i}.json"));
        let out = prequal(&[
            "log",
            "cosign",
            "--registry",
            &reg.url,
            "--log-key",
            &key,
            "--key",
            w.key_file.to_str().unwrap(),
            "--name",
            &w.name,
            "--state",
            state.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let sealed = dir.path().join("allied.json");
    let anonymous = export_evidence(&reg.url, allied, &sealed, None);
    assert_eq!(anonymous.status.code(), Some(1), "an anonymous caller may not see the allied package");
    let out = export_evidence(&reg.url, allied, &sealed, Some(&reg.operator_token));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out_json(&out)["report"]["sealed"], true);
    let ok = verify_bundle(&sealed, &key, &both, 2);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
    assert_eq!(out_json(&ok)["evidence"]["sealed"], true);
    let bad_seal = tampered(&sealed, d, "seal.json", |v| {
        let full = v["sealed"]["full_entry"].as_str().unwrap().replacen("version ", "version 9", 1);
        v["sealed"]["full_entry"] = full.into();
    });
    assert_refused(&verify_bundle(&bad_seal, &key, &both, 2), "evidence_seal_mismatch");
}

/// A `prequal mirror` run as a tlog-witness, on SQLite in `dir`; restartable.
struct MirrorWitness {
    data: PathBuf,
    args: Vec<String>,
    child: Option<std::process::Child>,
    url: String,
}

impl MirrorWitness {
    fn start(data: PathBuf, args: Vec<String>) -> MirrorWitness {
        let mut m = MirrorWitness { data, args, child: None, url: String::new() };
        m.spawn();
        m
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.data.with_extension("log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_prequal"))
            .args(["mirror", "--data"])
            .arg(&self.data)
            .args(["--listen", "127.0.0.1:0", "--interval", "3600", "--workers", "1"])
            .args(&self.args)
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        self.url = common::server::listening_address(&mut child, "prequal mirror listening on ")
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the mirror did not start"));
        self.child = Some(child);
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn add_checkpoint(&self, body: &[u8]) -> common::server::Response {
        common::server::try_request(
            &format!("{}/add-checkpoint", self.url),
            "POST",
            None,
            Some(("text/plain", body.to_vec())),
            &[],
        )
        .unwrap()
    }
}

impl Drop for MirrorWitness {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A log that is not prequal's, built with the `tlog_tiles` and `signed_note` crates.
struct ForeignLog {
    origin: String,
    signer: signed_note::StandardSigner,
    vkey: String,
    hashes: Vec<tlog_tiles::Hash>,
    size: u64,
}

impl tlog_tiles::HashReader for ForeignLog {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        Ok(indexes.iter().map(|&i| self.hashes[i as usize]).collect())
    }
}

impl ForeignLog {
    fn new(origin: &str) -> ForeignLog {
        let (skey, vkey) = signed_note::generate_key(&mut rand_core::OsRng, origin);
        let signer = signed_note::StandardSigner::new(&skey).unwrap();
        ForeignLog { origin: origin.into(), signer, vkey, hashes: Vec::new(), size: 0 }
    }

    fn grow_to(&mut self, size: u64) {
        while self.size < size {
            let stored = tlog_tiles::stored_hashes(self.size, format!("entry {}", self.size).as_bytes(), self).unwrap();
            self.hashes.extend(stored);
            self.size += 1;
        }
    }

    /// The checkpoint of the current size, signed by `signer`, with `root` if given.
    fn note_with(&self, signer: &signed_note::StandardSigner, root: Option<[u8; 32]>) -> Vec<u8> {
        let hash = root.map_or_else(|| tlog_tiles::tree_hash(self.size, self).unwrap(), tlog_tiles::Hash);
        let text = tlog_tiles::Checkpoint::new(&self.origin, self.size, hash, "").unwrap().to_bytes();
        let mut note = signed_note::Note::new(&text, &[]).unwrap();
        note.add_sigs(&[signer]).unwrap();
        note.to_bytes()
    }

    fn note(&self) -> Vec<u8> {
        self.note_with(&self.signer, None)
    }

    /// An add-checkpoint body from `old` to the current size, with the proof from `tlog_tiles`.
    fn request(&self, old: u64, note: &[u8], tamper: bool) -> Vec<u8> {
        let mut proof = if old == 0 { Vec::new() } else { tlog_tiles::prove_tree(self.size, old, self).unwrap() };
        if tamper {
            proof[0].0[0] ^= 1;
        }
        let mut body = format!("old {old}\n").into_bytes();
        for h in &proof {
            body.extend_from_slice(format!("{}\n", B64.encode(h.0)).as_bytes());
        }
        body.push(b'\n');
        body.extend_from_slice(note);
        body
    }
}

fn tlog_witness_both_sides() {
    use prequal::log::cosignature::{CosignerKey, verify_cosignatures};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    // The origin's log key and name, known before it starts (the witness is configured with them).
    let origin_key_file = dir.path().join("origin-log-key.json");
    test_key(60).write(&origin_key_file, Some("origin log key")).unwrap();
    let origin_vkey =
        NoteSigner::new("origin.test/log", test_key(60).signing_key().clone()).unwrap().verifier().clone();
    // The mirror-witness: it witnesses the prequal origin and a foreign log.
    let witness_key_file = dir.path().join("mirror-witness.json");
    test_key(61).write(&witness_key_file, Some("mirror witness")).unwrap();
    let witness = Witness::new("mirror-witness.test/w", test_key(61).signing_key().clone()).unwrap();
    let wkey: CosignerKey = witness.verifier().clone();
    let mut foreign = ForeignLog::new("example.org/foreign-log");
    let witness_args: Vec<String> = [
        "--upstream",
        "http://127.0.0.1:9",
        "--witness-key",
        witness_key_file.to_str().unwrap(),
        "--witness-name",
        "mirror-witness.test/w",
        "--witness-log",
        &origin_vkey.to_string(),
        "--witness-log",
        &foreign.vkey,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut mirror = MirrorWitness::start(dir.path().join("mirror-data"), witness_args);

    // The origin sends its checkpoints to the mirror-witness and serves what it cosigns.
    let witness_spec = format!("{wkey}={}", mirror.url);
    let mut reg = TestRegistry::start_with(
        Backend::Sqlite,
        &[
            "--log-key",
            origin_key_file.to_str().unwrap(),
            "--public-url",
            "https://origin.test",
            "--witness",
            &witness_spec,
            "--witness-interval",
            "1",
        ],
    );
    assert_eq!(log_key(&reg), origin_vkey.to_string());
    let cosigned_at_size = |reg: &TestRegistry, size: u64| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let res = reg.get("/log/checkpoint/cosigned", None);
            if res.status == 200 {
                let cp = SignedCheckpoint::verify(&res.body, &origin_vkey).unwrap();
                if cp.checkpoint().size == size {
                    assert_eq!(verify_cosignatures(&cp, std::slice::from_ref(&wkey)).unwrap().len(), 1);
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no cosignature at size {size}:\n{}",
                std::fs::read_to_string(reg.log_path()).unwrap()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    add_org(&reg, "first");
    let size = signed_checkpoint(&reg, "/log/checkpoint").checkpoint().size;
    cosigned_at_size(&reg, size);
    // The log grows: the next request carries a consistency proof from the size cosigned.
    add_org(&reg, "second");
    cosigned_at_size(&reg, size + 1);
    // A restarted origin does not know the witness's size: `old 0` gets a 409 naming it, and
    // the retry with a proof from there is cosigned.
    reg.kill();
    reg.spawn();
    add_org(&reg, "third");
    cosigned_at_size(&reg, size + 2);
    let log = std::fs::read_to_string(reg.log_path()).unwrap();
    assert!(log.contains("mirror-witness.test/w cosigned size"), "{log}");

    // The mirror-witness and a log that is not prequal's, driven by hand with proofs and
    // signatures from the tlog_tiles and signed_note crates.
    let status_of = |res: &common::server::Response| (res.status, res.code());
    foreign.grow_to(5);
    let note5 = foreign.note();
    // Unknown origin: 404; a configured origin signed by a key it does not trust: 403.
    let stranger = ForeignLog::new("example.org/unknown-log");
    let res = mirror.add_checkpoint(&stranger.request(0, &stranger.note(), false));
    assert_eq!(status_of(&res), (404, "witness_unknown_log".to_owned()));
    let impostor = ForeignLog::new("example.org/foreign-log");
    let res = mirror.add_checkpoint(&foreign.request(0, &foreign.note_with(&impostor.signer, None), false));
    assert_eq!(status_of(&res), (403, "witness_checkpoint_not_signed".to_owned()));
    // First cosignature, from 0.
    let res = mirror.add_checkpoint(&foreign.request(0, &note5, false));
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let lines = String::from_utf8(res.body.clone()).unwrap();
    assert!(lines.starts_with("\u{2014} mirror-witness.test/w ") && lines.ends_with('\n'), "{lines}");
    let text = String::from_utf8(note5.clone()).unwrap();
    let body = text.rsplit_once("\n\n").unwrap().0.to_owned() + "\n";
    let signed = prequal::log::note::Note::parse(format!("{body}\n{lines}").as_bytes()).unwrap();
    let cosig = wkey.verify(&body, &signed.signatures()[0]).unwrap();
    assert!(cosig.timestamp > 1_700_000_000);
    // The log grows to 8: `old 0` is now a conflict naming 5, as text/x.tlog.size.
    foreign.grow_to(8);
    let note8 = foreign.note();
    let res = mirror.add_checkpoint(&foreign.request(0, &note8, false));
    assert_eq!(res.status, 409);
    assert_eq!(res.headers["content-type"], "text/x.tlog.size");
    assert_eq!(res.body, b"5\n");
    // A proof that does not verify: 422; an old size beyond the checkpoint: 400.
    let res = mirror.add_checkpoint(&foreign.request(5, &note8, true));
    assert_eq!(status_of(&res), (422, "witness_bad_consistency_proof".to_owned()));
    let mut beyond = foreign.request(0, &note8, false);
    beyond.splice(0..5, b"old 9".iter().copied());
    let res = mirror.add_checkpoint(&beyond);
    assert_eq!(status_of(&res), (400, "witness_old_size_too_large".to_owned()));
    // The right proof from 5: cosigned.
    let res = mirror.add_checkpoint(&foreign.request(5, &note8, false));
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    // The same size with another root, properly signed: a fork, 409.
    let forked = foreign.note_with(&foreign.signer, Some([7; 32]));
    let res = mirror.add_checkpoint(&foreign.request(8, &forked, false));
    assert_eq!(status_of(&res), (409, "witness_root_mismatch".to_owned()));
    // The state survives a restart.
    mirror.kill();
    mirror.spawn();
    let res = mirror.add_checkpoint(&foreign.request(0, &note8, false));
    assert_eq!((res.status, res.body.as_slice()), (409, b"8\n".as_slice()));
    let res = mirror.add_checkpoint(&foreign.request(8, &note8, false));
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
}

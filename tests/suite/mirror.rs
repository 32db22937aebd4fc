#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `prequal mirror` with real processes on loopback: an origin and two mirrors started from
//! scratch reach the origin's exact checkpoint and serve the same packages, read-only, and keep
//! serving when the origin is down; tampered answers (through a tampering proxy in this
//! process) are refused without halting; a blob altered at the origin is refused while later
//! packages are stored; a fork (a second origin with the same log key on a copy of the first's
//! database) halts both mirrors with evidence that `prequal log check-evidence` accepts and a
//! forged bundle fails; a mirror killed with SIGKILL mid-sync resumes with nothing lost or
//! duplicated.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::server::{Backend, Response, TestDb, TestRegistry, listening_address, spawn_server, try_request};
use common::*;
use prequal::registry::mirror::MirrorStatus;
use prequal::registry::{OrgKind, Policy, Registry};
use prequal::store::{DatabaseUrl, Store};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_prequal");

/// A mirror's storage and, while serving, its process.
struct Mirror {
    dir: tempfile::TempDir,
    db: TestDb,
    url: String,
    child: Option<Child>,
}

impl Mirror {
    fn new(backend: &Backend) -> Mirror {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::new(backend, dir.path());
        Mirror { dir, db, url: String::new(), child: None }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, upstream: &str, extra: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(["mirror", "--upstream", upstream, "--db", &self.db.url, "--data"])
            .arg(self.data())
            .args(["--pool-size", "4"])
            .args(extra)
            .env("RUST_LOG", "info");
        cmd
    }

    /// `prequal mirror --once`.
    /// `prequal admin ARGS` on the mirror's storage.
    fn admin(&self, args: &[&str]) -> Output {
        Command::new(BIN).args(["admin", "--db", &self.db.url, "--data"]).arg(self.data()).args(args).output().unwrap()
    }

    fn once(&self, upstream: &str, extra: &[&str]) -> Output {
        let mut args = vec!["--once"];
        args.extend_from_slice(extra);
        self.command(upstream, &args).output().unwrap()
    }

    /// Serves, syncing every second.
    fn serve(&mut self, upstream: &str) {
        self.serve_every(upstream, "1");
    }

    /// Serves, with `--interval SECONDS`.
    fn serve_every(&mut self, upstream: &str, seconds: &str) {
        let log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("mirror.log")).unwrap();
        let mut child = self
            .command(upstream, &["--listen", "127.0.0.1:0", "--interval", seconds, "--workers", "2"])
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        self.url = listening_address(&mut child, "prequal mirror listening on ")
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the mirror did not start:\n{}", self.log()));
        self.child = Some(child);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mirror.log")).unwrap_or_default()
    }

    fn get(&self, path: &str) -> Response {
        try_request(&format!("{}{path}", self.url), "GET", None, None, &[]).unwrap()
    }

    fn library(&self) -> Registry {
        Registry::new(Store::open(&DatabaseUrl::parse(&self.db.url), &self.data(), 2).unwrap(), Policy::default())
    }

    fn status(&self) -> MirrorStatus {
        self.library().mirror_status().unwrap().expect("a mirror state")
    }

    fn evidence_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.data().join("evidence"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_refused(o: &Output, code: &str) {
    assert_eq!(o.status.code(), Some(1), "expected refusal {code}; stderr:\n{}", stderr(o));
    assert!(stderr(o).contains(&format!("error: {code}:")), "expected {code}; stderr:\n{}", stderr(o));
}

fn assert_synced(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "stderr:\n{}", stderr(o));
}

fn checkpoint_of(url: &str) -> Vec<u8> {
    let res = try_request(&format!("{url}/log/checkpoint"), "GET", None, None, &[]).unwrap();
    assert_eq!(res.status, 200);
    res.body
}

/// The checkpoint, or None while the mirror has none yet (503).
fn try_checkpoint(url: &str) -> Option<Vec<u8>> {
    try_request(&format!("{url}/log/checkpoint"), "GET", None, None, &[])
        .ok()
        .filter(|r| r.status == 200)
        .map(|r| r.body)
}

fn size_of(note: &[u8]) -> u64 {
    String::from_utf8_lossy(note).lines().nth(1).unwrap().parse().unwrap()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(120), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn publish(reg_url: &str, token: &str, package: &Path) -> String {
    let res = try_request(
        &format!("{reg_url}/v1/packages"),
        "POST",
        Some(token),
        Some(("application/zip", std::fs::read(package).unwrap())),
        &[],
    )
    .unwrap();
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    res.json()["digest"].as_str().unwrap().to_owned()
}

/// Anonymous package list: (digest, status) sorted.
fn packages(url: &str) -> Vec<(String, String)> {
    let res = try_request(&format!("{url}/v1/packages?limit=500"), "GET", None, None, &[]).unwrap();
    assert_eq!(res.status, 200);
    let mut out: Vec<(String, String)> = res.json()["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["digest"].as_str().unwrap().to_owned(), p["status"].as_str().unwrap().to_owned()))
        .collect();
    out.sort();
    out
}

/// A lab, a second lab and a certifier, with keys 1, 2 and 3.
fn origin_with_orgs(backend: Backend) -> (TestRegistry, std::collections::BTreeMap<String, String>) {
    let origin = TestRegistry::start(backend);
    let tokens = origin.register(&[
        ("lab-a", OrgKind::Lab, "US", Some(&test_key(1))),
        ("lab-b", OrgKind::Lab, "GB", Some(&test_key(2))),
        ("cert-a", OrgKind::Certifier, "US", Some(&test_key(3))),
    ]);
    (origin, tokens)
}

// --- a tampering proxy in front of an upstream ---

type Tamper = Box<dyn Fn(&str, Vec<u8>) -> Vec<u8> + Send>;

struct ProxyConf {
    target: String,
    tamper: Option<Tamper>,
    /// Delay before answering a package download.
    download_delay: Duration,
}

struct Proxy {
    url: String,
    conf: Arc<Mutex<ProxyConf>>,
}

impl Proxy {
    fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let conf =
            Arc::new(Mutex::new(ProxyConf { target: target.to_owned(), tamper: None, download_delay: Duration::ZERO }));
        let shared = conf.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let conf = shared.clone();
                std::thread::spawn(move || serve_one(stream, &conf));
            }
        });
        Proxy { url, conf }
    }

    fn target(&self, target: &str) {
        self.conf.lock().unwrap().target = target.to_owned();
    }

    fn tamper(&self, f: impl Fn(&str, Vec<u8>) -> Vec<u8> + Send + 'static) {
        self.conf.lock().unwrap().tamper = Some(Box::new(f));
    }

    fn honest(&self) {
        self.conf.lock().unwrap().tamper = None;
    }
}

fn serve_one(mut stream: std::net::TcpStream, conf: &Mutex<ProxyConf>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let (target, delay) = {
        let c = conf.lock().unwrap();
        (c.target.clone(), c.download_delay)
    };
    if path.ends_with("/download") {
        std::thread::sleep(delay);
    }
    let token = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("authorization").then(|| value.trim().trim_start_matches("Bearer ").to_owned())
    });
    let Ok(res) = try_request(&format!("{target}{path}"), "GET", token.as_deref(), None, &[]) else { return };
    let body = match &conf.lock().unwrap().tamper {
        Some(f) if res.status == 200 => f(&path, res.body),
        _ => res.body,
    };
    let content_type = res.headers.get("content-type").cloned().unwrap_or_else(|| "application/octet-stream".into());
    let _ = write!(
        stream,
        "HTTP/1.1 {} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        res.status,
        body.len()
    );
    let _ = stream.write_all(&body);
}

// --- tests ---

// The mirror's own database on both backends (the origin is on SQLite).
both_backends!(
    a_mirror_killed_mid_sync_resumes_without_loss_or_duplication,
    a_mirror_holds_the_same_rows_as_its_origin_for_every_event_kind
);

#[test]
fn origin_and_two_mirrors_agree_and_keep_serving_when_the_origin_is_down() {
    let (mut origin, tokens) = origin_with_orgs(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let p1 = publish(&origin.url, &tokens["lab-a"], &signed_package(dir.path()));
    let p2 = publish(&origin.url, &tokens["lab-b"], &signed_package_from(dir.path(), "ferrite-sr-y30bh", &[2]));
    let p3 = publish(&origin.url, &tokens["lab-a"], &package_version(dir.path(), BASELINE, "2.0.0", &[&test_key(1)]));
    // A countersignature, a withdrawal, a revocation: replayed from the log.
    let sig = test_key(3).sign(&prequal::package::PackageDigest::parse(&p1).unwrap()).to_bytes();
    let res = origin.request(
        "POST",
        &format!("/v1/packages/{p1}/signatures"),
        Some(&tokens["cert-a"]),
        Some(("application/json", sig)),
    );
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    let res = origin.post_json(
        &format!("/v1/packages/{p2}/withdraw"),
        Some(&tokens["lab-b"]),
        &serde_json::json!({"reason": "bad batch"}),
    );
    assert_eq!(res.status, 200);
    let key2 = test_key(2).key_id().as_str().to_owned();
    let res = origin.post_json(
        &format!("/v1/keys/{key2}/revoke"),
        Some(&origin.operator_token),
        &serde_json::json!({"reason": "laptop lost", "compromised": true}),
    );
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));

    let key = String::from_utf8(origin.get("/log/key", None).body).unwrap();
    let mut first = Mirror::new(&Backend::Sqlite);
    let second_backend = Backend::postgres().unwrap_or(Backend::Sqlite);
    let mut second = Mirror::new(&second_backend);
    // One with the key given out of band, one pinning what the upstream serves.
    assert_synced(&first.once(&origin.url, &["--upstream-key", key.trim()]));
    first.serve(&origin.url);
    second.serve(&origin.url);
    let want = checkpoint_of(&origin.url);
    for m in [&first, &second] {
        wait_for("the mirror to reach the origin's checkpoint", || try_checkpoint(&m.url).as_ref() == Some(&want));
        assert_eq!(packages(&m.url), packages(&origin.url));
        assert_eq!(m.get("/log/key").body, key.as_bytes());
        let n = size_of(&want);
        let bundle = format!("/log/tile/entries/000.p/{n}");
        assert_eq!(m.get(&bundle).body, origin.get(&bundle, None).body);
        let tile = format!("/log/tile/0/000.p/{n}");
        assert_eq!(m.get(&tile).body, origin.get(&tile, None).body);
        let proof = "/v1/log/proof/consistency?from=3&to=9";
        assert_eq!(m.get(proof).json(), origin.get(proof, None).json());
        // Every package reads the same, but for when the mirror itself verified it.
        for d in [&p1, &p2, &p3] {
            let (mut mine, mut theirs) =
                (m.get(&format!("/v1/packages/{d}")).json(), origin.get(&format!("/v1/packages/{d}"), None).json());
            assert_eq!(mine["verification"]["result"], "verified");
            mine["verification"] = Value::Null;
            theirs["verification"] = Value::Null;
            assert_eq!(mine, theirs);
        }
        // Withdrawal, countersignature and revocation replayed.
        let d1 = m.get(&format!("/v1/packages/{p1}")).json();
        assert_eq!(d1["countersigned"], true, "{d1}");
        let d2 = m.get(&format!("/v1/packages/{p2}")).json();
        assert_eq!(d2["status"], "withdrawn", "{d2}");
        assert_eq!(m.get(&format!("/v1/keys/{key2}")).json()["status"], "revoked");
        assert_eq!(
            m.get(&format!("/v1/packages/{p3}/download")).body,
            origin.get(&format!("/v1/packages/{p3}/download"), None).body
        );
        // Read-only.
        let res = try_request(
            &format!("{}/v1/packages", m.url),
            "POST",
            Some(&tokens["lab-a"]),
            Some(("application/zip", vec![1, 2])),
            &[],
        )
        .unwrap();
        assert_eq!((res.status, res.code().as_str()), (403, "read_only_mirror"));
        let res = try_request(
            &format!("{}/v1/organisations", m.url),
            "POST",
            None,
            Some(("application/json", b"{}".to_vec())),
            &[],
        )
        .unwrap();
        assert_eq!((res.status, res.code().as_str()), (403, "read_only_mirror"));
        // Search and the materials view are rebuilt from the replayed rows.
        for q in ["/v1/search", "/v1/materials"] {
            let (mine, theirs) = (m.get(q), origin.get(q, None));
            assert_eq!(mine.status, 200, "{q}");
            assert_eq!(mine.json(), theirs.json(), "{q}");
        }
        assert_eq!(m.get("/").status, 200);
        assert_eq!(m.get(&format!("/packages/{p1}")).status, 200);
        let status = m.get("/v1/mirror").json();
        assert_eq!(status["halted"], false);
        assert_eq!(status["rejections"], Value::Array(vec![]));
    }
    assert_eq!(origin.get("/v1/mirror", None).status, 404);
    // A mirror serves what a mirror needs: a mirror of the mirror, pinning the same key, agrees.
    let chained = Mirror::new(&Backend::Sqlite);
    assert_synced(&chained.once(&first.url, &["--upstream-key", key.trim()]));
    assert_eq!(chained.library().checkpoint().unwrap().as_bytes(), &want[..]);
    assert!(chained.status().rejections.is_empty());

    // The origin grows; the mirrors follow.
    let p4 = publish(&origin.url, &tokens["lab-a"], &package_version(dir.path(), BASELINE, "3.0.0", &[&test_key(1)]));
    let want = checkpoint_of(&origin.url);
    for m in [&first, &second] {
        wait_for("the mirror to follow", || checkpoint_of(&m.url) == want);
        assert_eq!(m.get(&format!("/v1/packages/{p4}")).status, 200);
    }

    // Origin down: the mirrors keep serving what they verified.
    origin.kill();
    for m in [&first, &second] {
        wait_for("a failed sync to be recorded", || {
            m.get("/v1/mirror").json()["last_error"].as_str().is_some_and(|e| e.starts_with("upstream_unavailable"))
        });
        assert_eq!(checkpoint_of(&m.url), want);
        assert_eq!(m.get(&format!("/v1/packages/{p4}")).status, 200);
        assert_eq!(m.get(&format!("/v1/packages/{p1}/download")).status, 200);
    }
}

#[test]
fn tampered_answers_are_refused_without_halting() {
    let (origin, tokens) = origin_with_orgs(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    publish(&origin.url, &tokens["lab-a"], &signed_package(dir.path()));
    let proxy = Proxy::start(&origin.url);
    let m = Mirror::new(&Backend::Sqlite);
    assert_synced(&m.once(&proxy.url, &[]));
    let old_checkpoint = checkpoint_of(&origin.url);
    publish(&origin.url, &tokens["lab-a"], &package_version(dir.path(), BASELINE, "2.0.0", &[&test_key(1)]));
    publish(&origin.url, &tokens["lab-b"], &signed_package_from(dir.path(), "ferrite-sr-y30bh", &[2]));
    let before = m.library().log_size().unwrap();
    assert_eq!(before, size_of(&old_checkpoint));

    let bundles = |path: &str| path.starts_with("/log/tile/entries/");
    // A flipped bit in an entry bundle.
    proxy.tamper(move |path, mut body| {
        if bundles(path) {
            let last = body.len() - 3;
            body[last] ^= 1;
        }
        body
    });
    assert_refused(&m.once(&proxy.url, &[]), "entries_invalid");
    // Truncated: the last entry dropped.
    proxy.tamper(move |path, body| {
        if !bundles(path) {
            return body;
        }
        let entries = prequal::log::tiles::split_bundle(&body).unwrap();
        prequal::log::tiles::entry_bundle(entries[..entries.len() - 1].iter().copied())
    });
    assert_refused(&m.once(&proxy.url, &[]), "entries_invalid");
    // Reordered: the last two entries swapped.
    proxy.tamper(move |path, body| {
        if !bundles(path) {
            return body;
        }
        let mut entries = prequal::log::tiles::split_bundle(&body).unwrap();
        let n = entries.len();
        entries.swap(n - 1, n - 2);
        prequal::log::tiles::entry_bundle(entries)
    });
    assert_refused(&m.once(&proxy.url, &[]), "entries_invalid");
    // A consistency proof with a flipped bit.
    proxy.tamper(|path, body| {
        if !path.starts_with("/v1/log/proof/consistency") {
            return body;
        }
        let mut v: Value = serde_json::from_slice(&body).unwrap();
        let h = v["hashes"][0].as_str().unwrap().to_owned();
        let flipped = format!("{}{}", if h.starts_with('0') { "1" } else { "0" }, &h[1..]);
        v["hashes"][0] = flipped.into();
        serde_json::to_vec(&v).unwrap()
    });
    assert_refused(&m.once(&proxy.url, &[]), "consistency_proof_invalid");
    // A checkpoint whose signed text was changed (its root).
    proxy.tamper(|path, body| {
        if path != "/log/checkpoint" {
            return body;
        }
        let text = String::from_utf8(body).unwrap();
        let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
        let flipped = if lines[2].starts_with('A') { "B" } else { "A" };
        lines[2] = format!("{flipped}{}", &lines[2][1..]);
        lines.join("\n").into_bytes()
    });
    assert_refused(&m.once(&proxy.url, &[]), "checkpoint_invalid");
    // Honest while checked against the checkpoint, tampered when fetched again to be replayed
    // (a sync too large to keep its entries in memory).
    let fetched = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = fetched.clone();
    proxy.tamper(move |path, mut body| {
        if bundles(path) && count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
            let last = body.len() - 1;
            body[last] ^= 1;
        }
        body
    });
    assert_refused(&m.once(&proxy.url, &["--entries-in-memory", "0"]), "entries_invalid");
    assert!(fetched.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    // Nothing was stored by any of these, and the mirror is not halted.
    assert_eq!(m.library().log_size().unwrap(), before);
    let status = m.status();
    assert!(!status.halted, "{status:?}");
    assert!(m.evidence_files().is_empty());

    // Honest again: the mirror catches up.
    proxy.honest();
    assert_synced(&m.once(&proxy.url, &[]));
    let now = checkpoint_of(&origin.url);
    assert_eq!(m.library().checkpoint().unwrap().as_bytes(), &now[..]);
    assert_eq!(m.library().log_size().unwrap(), size_of(&now));

    // An older checkpoint, validly signed, is refused as stale.
    proxy.tamper(move |path, body| if path == "/log/checkpoint" { old_checkpoint.clone() } else { body });
    assert_refused(&m.once(&proxy.url, &[]), "stale_checkpoint");
    assert!(!m.status().halted);
    assert_eq!(m.library().log_size().unwrap(), size_of(&now));
}

#[test]
fn an_altered_blob_is_refused_and_later_packages_are_stored() {
    let (origin, tokens) = origin_with_orgs(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let p1 = publish(&origin.url, &tokens["lab-a"], &signed_package(dir.path()));
    let p2 = publish(&origin.url, &tokens["lab-b"], &signed_package_from(dir.path(), "ferrite-sr-y30bh", &[2]));
    // Alter p1's stored file at the origin.
    let lib = origin.library();
    let sha = origin.get(&format!("/v1/packages/{p1}"), None).json()["file_sha256"].as_str().unwrap().to_owned();
    let local = lib.store.blobs.local(&sha).unwrap();
    let path = local.path().to_path_buf();
    drop(local);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    let p3 = publish(&origin.url, &tokens["lab-a"], &package_version(dir.path(), BASELINE, "2.0.0", &[&test_key(1)]));

    let m = Mirror::new(&Backend::Sqlite);
    let out = m.once(&origin.url, &[]);
    assert_synced(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 refused"), "{}", String::from_utf8_lossy(&out.stdout));
    let status = m.status();
    assert_eq!(status.rejections.len(), 1, "{status:?}");
    assert_eq!(status.rejections[0].digest, p1);
    assert_eq!(status.rejections[0].code, "blob_sha256_mismatch");
    // The entry is kept (the log is whole); the package is not stored; the others are.
    let lib = m.library();
    assert_eq!(lib.log_size().unwrap(), size_of(&checkpoint_of(&origin.url)));
    let reader = prequal::registry::Reader::Anonymous;
    assert!(lib.detail(&reader, &p1).is_err());
    assert!(lib.detail(&reader, &p2).is_ok());
    assert!(lib.detail(&reader, &p3).is_ok());
}

fn check_evidence(file: &Path, key: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(["log", "check-evidence"]).arg(file);
    if let Some(k) = key {
        cmd.args(["--key", k]);
    }
    cmd.output().unwrap()
}

#[test]
fn a_fork_halts_both_mirrors_with_evidence_anyone_can_check() {
    let (mut origin, tokens) = origin_with_orgs(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    publish(&origin.url, &tokens["lab-a"], &signed_package(dir.path()));
    let key = String::from_utf8(origin.get("/log/key", None).body).unwrap().trim().to_owned();
    let proxy = Proxy::start(&origin.url);
    let first = Mirror::new(&Backend::Sqlite);
    let mut second = Mirror::new(&Backend::Sqlite);
    assert_synced(&first.once(&proxy.url, &["--upstream-key", &key]));
    assert_synced(&second.once(&proxy.url, &["--upstream-key", &key]));

    // The fork: the origin's database and log key copied, each then writes its own history.
    assert!(origin.terminate().success());
    let fork_dir = tempfile::tempdir().unwrap();
    copy_tree(origin.dir.path(), fork_dir.path());
    origin.spawn();
    proxy.target(&origin.url);
    // `prequal serve` on the copy: same database, data and log key.
    let fork_db = format!("sqlite://{}", fork_dir.path().join("registry.db").display());
    let (mut fork, fork_url) =
        spawn_server(&fork_db, &fork_dir.path().join("data"), &[], &fork_dir.path().join("fork.log"));
    assert_eq!(checkpoint_of(&fork_url), checkpoint_of(&origin.url));
    publish(&origin.url, &tokens["lab-a"], &package_version(dir.path(), BASELINE, "2.0.0", &[&test_key(1)]));
    publish(&fork_url, &tokens["lab-b"], &signed_package_from(dir.path(), "ferrite-sr-y30bh", &[2]));
    let b_same_size = checkpoint_of(&fork_url);
    publish(&fork_url, &tokens["lab-a"], &package_version(dir.path(), BASELINE, "9.0.0", &[&test_key(1)]));
    let (a, b) = (checkpoint_of(&origin.url), checkpoint_of(&fork_url));
    assert!(size_of(&a) < size_of(&b));

    // The first mirror saw the origin's history, then the fork's longer one: its consistency
    // proof cannot start from the root the mirror verified.
    assert_synced(&first.once(&proxy.url, &[]));
    proxy.target(&fork_url);
    assert_refused(&first.once(&proxy.url, &[]), "split_view");
    // The second saw only the common part, accepted the fork's (consistent) extension, then the
    // origin's shorter checkpoint, whose root is not the first entries' of what it holds.
    assert_synced(&second.once(&proxy.url, &[]));
    proxy.target(&origin.url);
    assert_refused(&second.once(&proxy.url, &[]), "split_view");

    // A third, at the origin's size, is shown the fork's checkpoint of the same size.
    let third = Mirror::new(&Backend::Sqlite);
    assert_synced(&third.once(&proxy.url, &["--upstream-key", &key]));
    assert_eq!(size_of(&b_same_size), size_of(&a));
    proxy.tamper(move |path, body| if path == "/log/checkpoint" { b_same_size.clone() } else { body });
    assert_refused(&third.once(&proxy.url, &[]), "split_view");
    proxy.honest();

    for m in [&first, &second, &third] {
        let status = m.status();
        assert!(status.halted, "{status:?}");
        let files = m.evidence_files();
        assert_eq!(files.len(), 1);
        assert_eq!(status.evidence_file.as_deref(), Some(files[0].to_str().unwrap()));
        let out = check_evidence(&files[0], Some(&key));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("split view proven"));
        let bundle: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
        let notes = [bundle["older"].as_str().unwrap(), bundle["newer"].as_str().unwrap()];
        assert!(notes.contains(&String::from_utf8(a.clone()).unwrap().as_str()));
        // Forgeries fail: another key, a root the proof does not support, a changed note.
        let forged = m.dir.path().join("forged.json");
        let out =
            check_evidence(&files[0], Some("127.0.0.1/log+00000000+AXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        for (field, value) in [
            ("older_root_in_newer", Value::from("00".repeat(32))),
            ("newer", bundle["older"].clone()),
            ("older", Value::from(bundle["older"].as_str().unwrap().replacen("\n", "\n1", 1))),
        ] {
            let mut f = bundle.clone();
            f[field] = value;
            std::fs::write(&forged, serde_json::to_vec(&f).unwrap()).unwrap();
            let out = check_evidence(&forged, None);
            assert_eq!(out.status.code(), Some(1), "forged {field} accepted: {}", String::from_utf8_lossy(&out.stdout));
        }
        // Halted: no more syncing, even from the honest origin.
        assert_refused(&m.once(&origin.url, &[]), "mirror_halted");
    }

    // An operator lifts a halt after reviewing the evidence. The third mirror, shown the fork's
    // checkpoint once, follows the honest origin again; the first, still shown the fork, halts
    // again with new evidence. Lifting a halt that is not there is an error.
    for m in [&third, &first] {
        let out = m.admin(&["mirror-resume"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("mirror resumed"));
        assert!(!m.status().halted);
    }
    assert_synced(&third.once(&origin.url, &[]));
    let out = third.admin(&["mirror-resume"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("not halted"), "{}", stderr(&out));
    assert_refused(&first.once(&fork_url, &[]), "split_view");
    assert!(first.status().halted);
    assert_eq!(first.evidence_files().len(), 2);

    // A halted mirror keeps serving what it verified.
    second.serve(&origin.url);
    assert_eq!(second.get("/log/checkpoint").body, b);
    assert_eq!(second.get("/v1/mirror").json()["halted"], true);
    assert_eq!(packages(&second.url).len(), 3);
    let _ = fork.kill();
    let _ = fork.wait();
}

fn a_mirror_killed_mid_sync_resumes_without_loss_or_duplication(backend: Backend) {
    let (origin, tokens) = origin_with_orgs(Backend::Sqlite);
    let dir = tempfile::tempdir().unwrap();
    let mut digests = Vec::new();
    for i in 0..12 {
        let pkg = package_version(dir.path(), BASELINE, &format!("1.{i}.0"), &[&test_key(1)]);
        digests.push(publish(&origin.url, &tokens["lab-a"], &pkg));
    }
    let total = size_of(&checkpoint_of(&origin.url));
    let proxy = Proxy::start(&origin.url);
    proxy.conf.lock().unwrap().download_delay = Duration::from_millis(300);
    let m = Mirror::new(&backend);
    // Opened (and migrated) before the mirror starts, to watch it.
    let lib = m.library();
    let mut child = m
        .command(&proxy.url, &["--once", "--batch", "3", "--entries-in-memory", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the first batch", || lib.log_size().map(|n| n > 0).unwrap_or(false));
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = lib.log_size().unwrap();
    assert!(partial > 0 && partial < total, "killed at {partial} of {total}");
    assert_eq!(partial % 3, 0, "a batch is committed whole");

    proxy.conf.lock().unwrap().download_delay = Duration::ZERO;
    assert_synced(&m.once(&proxy.url, &["--batch", "3", "--entries-in-memory", "2"]));
    assert_eq!(lib.checkpoint().unwrap().as_bytes(), &checkpoint_of(&origin.url)[..]);
    let list = lib
        .list_packages(
            &prequal::registry::Reader::Anonymous,
            &serde_json::from_value(serde_json::json!({"limit": 500})).unwrap(),
        )
        .unwrap();
    let mut stored: Vec<String> = list.packages.iter().map(|p| p.digest.clone()).collect();
    stored.sort();
    let mut want = digests.clone();
    want.sort();
    assert_eq!(stored, want);
    assert_eq!(list.total, 12);
    assert!(m.status().rejections.is_empty());
}

#[test]
fn sealed_entries_open_with_a_token_and_the_country_filter_applies() {
    let origin = TestRegistry::start(Backend::Sqlite);
    let tokens = origin.register(&[
        ("lab-a", OrgKind::Lab, "US", Some(&test_key(1))),
        ("oem-gb", OrgKind::Oem, "GB", None),
        ("oem-fr", OrgKind::Oem, "FR", None),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let public = publish(&origin.url, &tokens["lab-a"], &signed_package(dir.path()));
    let allied = publish(
        &origin.url,
        &tokens["lab-a"],
        &signed_package_from(dir.path(), "iron-nitride-fe16n2-illustrative", &[1]),
    );
    let want = checkpoint_of(&origin.url);
    let reader = prequal::registry::Reader::Operator;
    let allied_index = {
        let lib = origin.library();
        let entries = lib.log_entries(0, size_of(&want)).unwrap().entries;
        entries.iter().position(|e| e.contains("\nreleasability allied\n")).unwrap() as u64
    };

    // A GB reader's token, mirroring for GB: both packages, the sealed entry opened and kept.
    let gb = Mirror::new(&Backend::Sqlite);
    assert_synced(&gb.once(&origin.url, &["--token", &tokens["oem-gb"], "--country", "GB"]));
    // No token: the sealed entry is kept and verified, the package unknown.
    let anonymous = Mirror::new(&Backend::Sqlite);
    assert_synced(&anonymous.once(&origin.url, &[]));
    // A token that may see it, but mirroring for a country it is not releasable to.
    let fr = Mirror::new(&Backend::Sqlite);
    assert_synced(&fr.once(&origin.url, &["--token", &tokens["oem-gb"], "--country", "FR"]));
    // A token that may not see it (FR is not in the allied list): 404, kept.
    let fr_token = Mirror::new(&Backend::Sqlite);
    assert_synced(&fr_token.once(&origin.url, &["--token", &tokens["oem-fr"]]));

    for (m, stores_allied) in [(&gb, true), (&anonymous, false), (&fr, false), (&fr_token, false)] {
        let lib = m.library();
        assert_eq!(lib.checkpoint().unwrap().as_bytes(), &want[..]);
        assert!(lib.detail(&reader, &public).is_ok());
        assert_eq!(lib.detail(&reader, &allied).is_ok(), stores_allied);
        assert!(m.status().rejections.is_empty(), "{:?}", m.status());
        let opened = lib.open_sealed(&reader, allied_index);
        assert_eq!(opened.is_ok(), stores_allied);
    }
    let opened = gb.library().open_sealed(&reader, allied_index).unwrap();
    assert!(opened.full_entry.contains("\nname iron-nitride-fe16n2-illustrative\n"));
    assert_eq!(gb.library().detail(&reader, &allied).unwrap().summary.releasability, "allied");

    // The mirror's own readers: organisations come from the log, tokens are the mirror's.
    let gb_reader = gb
        .library()
        .create_token(&prequal::registry::views::NewToken {
            organisation: "oem-gb".into(),
            role: prequal::registry::Role::Reader,
            label: "mirror reader".into(),
        })
        .unwrap()
        .token;
    let mut gb = gb;
    gb.serve(&origin.url);
    let url = format!("{}/v1/packages/{allied}", gb.url);
    assert_eq!(try_request(&url, "GET", Some(&gb_reader), None, &[]).unwrap().status, 200);
    assert_eq!(try_request(&url, "GET", None, None, &[]).unwrap().status, 404);
    let sealed = format!("{}/v1/log/sealed/{allied_index}", gb.url);
    let opened = try_request(&sealed, "GET", Some(&gb_reader), None, &[]).unwrap();
    assert_eq!(opened.status, 200);
    assert!(opened.json()["full_entry"].as_str().unwrap().contains("iron-nitride"));

    // An opened entry that does not match its commitment is refused; the rest is stored.
    let proxy = Proxy::start(&origin.url);
    proxy.tamper(|path, body| {
        if !path.starts_with("/v1/log/sealed/") {
            return body;
        }
        let mut v: Value = serde_json::from_slice(&body).unwrap();
        let full = v["full_entry"].as_str().unwrap().replace("\nversion 1.0.0\n", "\nversion 1.0.1\n");
        v["full_entry"] = full.into();
        serde_json::to_vec(&v).unwrap()
    });
    let tampered = Mirror::new(&Backend::Sqlite);
    assert_synced(&tampered.once(&proxy.url, &["--token", &tokens["oem-gb"]]));
    let status = tampered.status();
    assert_eq!(status.rejections.len(), 1, "{status:?}");
    assert_eq!(
        (status.rejections[0].index, status.rejections[0].code.as_str()),
        (allied_index, "sealed_entry_invalid")
    );
    assert!(tampered.library().detail(&reader, &public).is_ok());
    assert!(tampered.library().detail(&reader, &allied).is_err());
}

#[test]
fn a_mirrors_database_takes_no_changes_of_its_own() {
    let (origin, _tokens) = origin_with_orgs(Backend::Sqlite);
    let m = Mirror::new(&Backend::Sqlite);
    assert_synced(&m.once(&origin.url, &[]));
    let size = m.library().log_size().unwrap();
    // Organisations come from the log only; `prequal admin` on the mirror's database is refused.
    let out = Command::new(BIN)
        .args(["admin", "--db", &m.db.url, "--data"])
        .arg(m.data())
        .args(["org", "add", "rogue", "--name", "Rogue", "--kind", "lab", "--country", "US"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("read-only mirror"), "{}", stderr(&out));
    assert_eq!(m.library().log_size().unwrap(), size);
    // A database with a log of its own cannot become a mirror.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["mirror", "--once", "--upstream", &origin.url, "--db", &origin.db.url, "--data"])
        .arg(elsewhere.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("holds a transparency log of its own"), "{}", stderr(&out));
    assert_eq!(origin.get("/v1/mirror", None).status, 404);
}

/// The "done when": two mirrors started from scratch reach the origin's exact
/// checkpoint, cosign it as witnesses, the origin collects both cosignatures, and a client
/// requiring 2 of 2 witnesses accepts the origin's checkpoint (and refuses a quorum of 3).
#[test]
fn two_mirrors_witness_the_origin_and_a_client_requires_both() {
    let dir = tempfile::tempdir().unwrap();
    let witnesses: Vec<(PathBuf, String, String)> = (1..=2u8)
        .map(|n| {
            let key_file = dir.path().join(format!("mirror{n}-witness.json"));
            test_key(120 + n).write(&key_file, Some("mirror witness")).unwrap();
            let name = format!("mirror{n}.example/witness");
            let out = Command::new(BIN)
                .args(["log", "witness-key", "--key", key_file.to_str().unwrap(), "--name", &name])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", stderr(&out));
            (key_file, name, String::from_utf8(out.stdout).unwrap().trim().to_owned())
        })
        .collect();
    let origin =
        TestRegistry::start_with(Backend::Sqlite, &["--witness", &witnesses[0].2, "--witness", &witnesses[1].2]);
    let tokens = origin.register(&[("lab-a", OrgKind::Lab, "US", Some(&test_key(1)))]);
    publish(&origin.url, &tokens["lab-a"], &signed_package_from(dir.path(), BASELINE, &[1]));
    let log_key = String::from_utf8(origin.get("/log/key", None).body).unwrap().trim().to_owned();

    let mirrors: Vec<Mirror> = (0..2).map(|_| Mirror::new(&Backend::Sqlite)).collect();
    for (m, (key_file, name, _)) in mirrors.iter().zip(&witnesses) {
        let out = m.once(
            &origin.url,
            &["--upstream-key", &log_key, "--witness-key", key_file.to_str().unwrap(), "--witness-name", name],
        );
        assert_synced(&out);
        assert!(stderr(&out).contains("cosigned as"), "{}", stderr(&out));
    }
    let note = checkpoint_of(&origin.url);
    let text = String::from_utf8(note.clone()).unwrap();
    for (_, name, _) in &witnesses {
        assert!(text.contains(&format!("— {name} ")), "the origin does not serve {name}'s cosignature:\n{text}");
    }
    // Each mirror reached exactly this checkpoint and serves it with its own cosignature.
    for (m, (_, name, _)) in mirrors.iter().zip(&witnesses) {
        let status = m.status();
        assert_eq!(status.log_size, size_of(&note));
        let lib = m.library();
        let own = String::from_utf8(lib.checkpoint().unwrap().into_bytes()).unwrap();
        assert!(own.starts_with(text.split("\n\n").next().unwrap()), "{own}");
        assert!(own.contains(&format!("— {name} ")), "{own}");
    }

    let verify = |quorum: &str, keys: &[&str]| {
        let mut args = vec!["log", "verify", "--registry", &origin.url, "--log-key", &log_key, "--quorum", quorum];
        for k in keys {
            args.extend(["--witness", k]);
        }
        Command::new(BIN).args(&args).output().unwrap()
    };
    let both = verify("2", &[&witnesses[0].2, &witnesses[1].2]);
    assert!(both.status.success(), "2 of 2 refused: {}", stderr(&both));
    // The same witness named twice is still one witness.
    let twice = verify("2", &[&witnesses[0].2, &witnesses[0].2]);
    assert!(!twice.status.success(), "one witness counted twice");
}

/// The rows of the tables a logged event writes, in a comparable form (Debug of the typed rows,
/// in key order). Local secrets (tokens) and each side's own bookkeeping (mirror state, blob
/// intents, cosignatures, the search index's generation) are not compared.
fn event_rows(db_url: &str, data: &Path) -> Vec<(&'static str, Vec<String>)> {
    use diesel::prelude::*;
    use prequal::store::models::*;
    use prequal::store::schema::*;
    let store = Store::open(&DatabaseUrl::parse(db_url), data, 1).unwrap();
    let mut conn = store.conn().unwrap();
    let conn = &mut *conn;
    fn dbg<T: std::fmt::Debug>(rows: Vec<T>) -> Vec<String> {
        rows.iter().map(|r| format!("{r:?}")).collect()
    }
    type Entry = (i64, String, String, Vec<u8>, Vec<u8>);
    let log: Vec<Entry> = log_entries::table
        .order(log_entries::idx)
        .select((log_entries::idx, log_entries::kind, log_entries::subject, log_entries::entry, log_entries::leaf_hash))
        .load(conn)
        .unwrap();
    vec![
        (
            "organisations",
            dbg(organisations::table.order(organisations::id).select(OrganisationRow::as_select()).load(conn).unwrap()),
        ),
        (
            "signing_keys",
            dbg(signing_keys::table.order(signing_keys::key_id).select(KeyRow::as_select()).load(conn).unwrap()),
        ),
        ("packages", dbg(packages::table.order(packages::digest).select(PackageRow::as_select()).load(conn).unwrap())),
        (
            "package_documents",
            dbg(package_documents::table
                .order(package_documents::digest)
                .select(DocumentRow::as_select())
                .load(conn)
                .unwrap()),
        ),
        (
            "package_readers",
            dbg(package_readers::table
                .order((package_readers::digest, package_readers::reader))
                .select(ReaderRow::as_select())
                .load(conn)
                .unwrap()),
        ),
        (
            "package_materials",
            dbg(package_materials::table
                .order(package_materials::digest)
                .select(PackageMaterialRow::as_select())
                .load(conn)
                .unwrap()),
        ),
        (
            "datasets",
            dbg(datasets::table
                .order((datasets::digest, datasets::dataset_id))
                .select(DatasetRow::as_select())
                .load(conn)
                .unwrap()),
        ),
        (
            "signatures",
            dbg(signatures::table
                .order((signatures::digest, signatures::key_id))
                .select(SignatureRow::as_select())
                .load(conn)
                .unwrap()),
        ),
        (
            "profiles",
            // Built-in profiles are not logged: each registry seeds them from its own binary at
            // start-up, so their seeding time is its own.
            dbg(profiles::table
                .order((profiles::id, profiles::version))
                .select(ProfileRow::as_select())
                .load(conn)
                .unwrap()
                .into_iter()
                .map(|mut p: ProfileRow| {
                    if p.log_index.is_none() {
                        p.created_at = 0;
                    }
                    p
                })
                .collect()),
        ),
        (
            "profile_owners",
            dbg(profile_owners::table
                .order(profile_owners::id)
                .load::<(String, String, i64)>(conn)
                .unwrap()
                .into_iter()
                .map(|(id, owner, at)| if owner == "registry" { (id, owner, 0) } else { (id, owner, at) })
                .collect()),
        ),
        ("log_entries", dbg(log)),
    ]
}

/// One write path: a log holding every event kind (organisations, keys, a revocation, public and
/// allied publications, a supersession, a countersignature, a withdrawal, profile versions) is
/// replayed by a mirror, which then holds the same rows as its origin, table by table.
fn a_mirror_holds_the_same_rows_as_its_origin_for_every_event_kind(backend: Backend) {
    let (origin, tokens) = origin_with_orgs(backend.clone());
    let dir = tempfile::tempdir().unwrap();
    let v1 = package_version(dir.path(), BASELINE, "1.0.0", &[&test_key(1)]);
    let d1 = publish(&origin.url, &tokens["lab-a"], &v1);
    let v2 = package_version(dir.path(), BASELINE, "1.1.0", &[&test_key(1)]);
    let d2 = publish(&origin.url, &tokens["lab-a"], &v2);
    // An allied package (releasable to GB among others), read by the mirror with a GB token.
    let reader = origin.register(&[("oem-gb", OrgKind::Oem, "GB", None)]);
    publish(&origin.url, &tokens["lab-b"], &signed_package_from(dir.path(), "iron-nitride-fe16n2-illustrative", &[2]));
    let sig = test_key(3).sign(&prequal::package::PackageDigest::parse(&d1).unwrap()).to_bytes();
    let res = origin.request(
        "POST",
        &format!("/v1/packages/{d1}/signatures"),
        Some(&tokens["cert-a"]),
        Some(("application/json", sig.to_vec())),
    );
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    let res = origin.post_json(
        &format!("/v1/packages/{d2}/withdraw"),
        Some(&tokens["lab-a"]),
        &serde_json::json!({"reason": "fixture recalibrated"}),
    );
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    for (version, threshold) in [("1.0.0", 750.0), ("1.1.0", 800.0)] {
        let body = crate::profile_issuers::signed(&crate::profile_issuers::custom(version, threshold), &test_key(3));
        let res = origin.post_json("/v1/profiles", Some(&tokens["cert-a"]), &body);
        assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    }
    let key = test_key(2).key_id().as_str().to_owned();
    let res = origin.post_json(
        &format!("/v1/keys/{key}/revoke"),
        Some(&origin.operator_token),
        &serde_json::json!({"reason": "rotation"}),
    );
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    let res = origin.post_json(
        "/v1/organisations",
        Some(&origin.operator_token),
        &serde_json::json!({"id": "lab-late", "name": "Late Lab", "kind": "lab", "country": "DE"}),
    );
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));

    let mirror = Mirror::new(&backend);
    let log_key = String::from_utf8(origin.get("/log/key", None).body).unwrap();
    assert_synced(&mirror.once(&origin.url, &["--upstream-key", log_key.trim(), "--token", &reader["oem-gb"]]));
    assert!(mirror.status().rejections.is_empty(), "{:?}", mirror.status().rejections);

    let on_origin = event_rows(&origin.db.url, &origin.data);
    let on_mirror = event_rows(&mirror.db.url, &mirror.data());
    let kinds: std::collections::BTreeSet<String> = on_origin
        .iter()
        .find(|(t, _)| *t == "log_entries")
        .unwrap()
        .1
        .iter()
        .map(|e| e.split(", ").nth(1).unwrap().to_owned())
        .collect();
    for kind in [
        "organisation_added",
        "key_added",
        "key_revoked",
        "package_published",
        "package_countersigned",
        "package_withdrawn",
        "profile_version_added",
    ] {
        assert!(kinds.contains(&format!("{kind:?}")), "the log holds a {kind} entry: {kinds:?}");
    }
    for ((table, a), (_, b)) in on_origin.iter().zip(&on_mirror) {
        assert!(!a.is_empty(), "{table} has rows");
        assert_eq!(a.len(), b.len(), "{table}: as many rows on the mirror as on the origin");
        if let Some((x, y)) = a.iter().zip(b).find(|(x, y)| x != y) {
            panic!("{table}: a row differs\non the origin: {x}\non the mirror: {y}");
        }
    }
}

/// A mirror with the default interval (60 s) hears of a new entry through its long poll of the
/// upstream's checkpoint and serves a package published at the origin within seconds, not at
/// its next poll.
#[test]
fn a_mirror_with_the_default_interval_serves_a_new_package_within_seconds() {
    let (origin, tokens) = origin_with_orgs(Backend::Sqlite);
    let mut mirror = Mirror::new(&Backend::Sqlite);
    mirror.serve_every(&origin.url, "60");
    wait_for("the mirror's first sync", || try_checkpoint(&mirror.url).is_some());
    // The long poll itself: answered at once when the log is past `after`, after `wait` when not.
    let size = size_of(&checkpoint_of(&origin.url));
    let started = Instant::now();
    let res = try_request(&format!("{}/log/checkpoint?after={}&wait=1", origin.url, size - 1), "GET", None, None, &[])
        .unwrap();
    assert_eq!(res.status, 200);
    assert!(started.elapsed() < Duration::from_millis(900), "answered at once: {:?}", started.elapsed());
    let started = Instant::now();
    let res =
        try_request(&format!("{}/log/checkpoint?after={size}&wait=1", origin.url), "GET", None, None, &[]).unwrap();
    assert_eq!((res.status, size_of(&res.body)), (200, size));
    assert!(started.elapsed() >= Duration::from_millis(900), "waited: {:?}", started.elapsed());
    for bad in ["afterr=1", "after=x", "after=1&wait=-1"] {
        let res = try_request(&format!("{}/log/checkpoint?{bad}", origin.url), "GET", None, None, &[]).unwrap();
        assert_eq!((res.status, res.code().as_str()), (400, "bad_request"), "{bad}");
    }
    // Without `after`, no wait.
    let started = Instant::now();
    assert_eq!(try_request(&format!("{}/log/checkpoint", origin.url), "GET", None, None, &[]).unwrap().status, 200);
    assert!(started.elapsed() < Duration::from_millis(900));

    let dir = tempfile::tempdir().unwrap();
    let digest = publish(&origin.url, &tokens["lab-a"], &signed_package(dir.path()));
    let published = Instant::now();
    wait_for("the package on the mirror", || mirror.get(&format!("/v1/packages/{digest}")).status == 200);
    let took = published.elapsed();
    eprintln!("served by the mirror {took:?} after its publication at the origin");
    assert!(took < Duration::from_secs(5), "took {took:?}\n{}", mirror.log());
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Two `prequal serve` processes on one PostgreSQL database and one S3-compatible object store
//! behave as one registry: they start together on an empty database; packages uploaded through
//! both at once (different names, versions of one name, and the same package through both) are
//! all stored once; a countersignature and withdrawals made through one are seen by the other
//! (including its in-memory search copy); and every package, download, search result, log
//! checkpoint and inclusion proof is identical from either, with one log entry per state change.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Barrier;

use common::s3::S3Server;
use common::server::{Backend, Response, TestRegistry};
use common::*;
use prequal::log::checkpoint::Checkpoint;
use prequal::log::merkle::{self, Hash};
use prequal::log::note::{Note, VerifierKey};
use prequal::registry::OrgKind;
use serde_json::{Value, json};

#[test]
fn two_replicas_are_one_registry() {
    let Some(backend) = Backend::postgres() else { return };
    let Some(s3) = S3Server::start() else { return };
    run(backend, &s3);
}

const VERSIONS: usize = 6;

fn hash(hex_str: &str) -> Hash {
    hex::decode(hex_str).unwrap().try_into().unwrap()
}

fn ok(res: Response, what: &str) -> Value {
    assert_eq!(res.status, 200, "{what}: {}", String::from_utf8_lossy(&res.body));
    res.json()
}

fn run(backend: Backend, s3: &S3Server) {
    // One log key and origin for both: the checkpoints they sign must be the same notes.
    let keys = tempfile::tempdir().unwrap();
    let log_key = keys.path().join("log-key.json");
    test_key(42).write(&log_key, Some("replica test log key")).unwrap();
    let mut args = s3.flags("replicas");
    args.extend(["--log-key".into(), log_key.display().to_string(), "--log-origin".into(), "replicas.test/log".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut a = TestRegistry::prepare(backend, &args, s3.config("replicas"));
    let mut b = a.replica(&args);

    // Both start at once on an empty database: migrations, log backfill, search reindex and
    // built-in profiles run in both, concurrently.
    a.launch();
    b.launch();
    a.wait_listening();
    b.wait_listening();
    a.add_operator();
    b.operator_token = a.operator_token.clone();
    for r in [&a, &b] {
        ok(r.get("/readyz", None), "readyz");
    }
    assert_eq!(ok(a.get("/v1/profiles", None), "profiles"), ok(b.get("/v1/profiles", None), "profiles"));
    refuses_another_log_key(&a);

    let tokens = a.register(&[
        ("lab-a", OrgKind::Lab, "US", Some(&test_key(1))),
        ("lab-b", OrgKind::Lab, "DE", Some(&test_key(2))),
        ("cert-c", OrgKind::Certifier, "US", Some(&test_key(3))),
    ]);
    let dir = tempfile::tempdir().unwrap();
    // Versions of two names by two labs; each upload goes to the replica its index picks.
    let mut uploads: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..VERSIONS {
        let v = format!("1.0.{i}");
        uploads
            .push(("lab-a".into(), std::fs::read(package_version(dir.path(), BASELINE, &v, &[&test_key(1)])).unwrap()));
        let ferrite = package_version(dir.path(), "ferrite-sr-y30bh", &v, &[&test_key(2)]);
        uploads.push(("lab-b".into(), std::fs::read(ferrite).unwrap()));
    }
    let replicas = [&a, &b];
    std::thread::scope(|s| {
        for worker in 0..4 {
            let uploads = &uploads;
            let tokens = &tokens;
            s.spawn(move || {
                for (i, (lab, bytes)) in uploads.iter().enumerate().filter(|(i, _)| i % 4 == worker) {
                    let res = replicas[i % 2].upload_bytes(bytes.clone(), Some(&tokens[lab]));
                    assert_eq!(res.status, 201, "upload {i}: {}", String::from_utf8_lossy(&res.body));
                }
            });
        }
    });
    // The same package through both replicas at the same moment: stored once.
    let same = std::fs::read(package_version(dir.path(), BASELINE, "2.0.0", &[&test_key(1)])).unwrap();
    let barrier = Barrier::new(2);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = replicas
            .iter()
            .map(|r| {
                let (barrier, same, token) = (&barrier, &same, &tokens["lab-a"]);
                s.spawn(move || {
                    barrier.wait();
                    r.upload_bytes(same.clone(), Some(token)).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, [200, 201], "one replica stored it, the other found it stored");
    let published = 2 * VERSIONS + 1;
    let objects = s3.client("replicas").list().unwrap();
    assert_eq!(objects.len(), published, "one object per package");

    let list = ok(b.get("/v1/packages?limit=500", Some(&b.operator_token)), "list");
    assert_eq!(list["total"], published);
    let digest_of = |name: &str, version: &str| -> String {
        list["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"].as_str().unwrap().contains(name) && p["version"] == version)
            .unwrap_or_else(|| panic!("{name} {version} not listed"))["digest"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Versions published through both replicas supersede each other in version order.
    let latest = ok(a.get(&format!("/v1/packages/{}", digest_of("n42sh", "2.0.0")), None), "latest");
    assert_eq!(latest["status"], "active");
    let older = ok(b.get(&format!("/v1/packages/{}", digest_of("n42sh", "1.0.5")), None), "older");
    assert_eq!(older["superseded_by"], latest["digest"]);

    // Warm both search copies, then change standing through one replica only.
    let ferrite_query = "/v1/search?property=HcJ&max=310&temperature=20&tolerance=2";
    let before = ok(a.get(ferrite_query, None), "search");
    assert!(before.to_string().contains("Y30BH"), "{before}");
    ok(b.get(ferrite_query, None), "search");
    let countersigned = digest_of("n42sh", "2.0.0");
    let sig = test_key(3).sign(&prequal::package::PackageDigest::parse(&countersigned).unwrap()).to_bytes();
    let res = a.request(
        "POST",
        &format!("/v1/packages/{countersigned}/signatures"),
        Some(&tokens["cert-c"]),
        Some(("application/json", sig)),
    );
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(ok(b.get(&format!("/v1/packages/{countersigned}"), None), "detail")["countersigned"], true);
    for i in 0..VERSIONS {
        let d = digest_of("y30bh", &format!("1.0.{i}"));
        let body = json!({"reason": "replica test: withdrawn"});
        let res = b.post_json(&format!("/v1/packages/{d}/withdraw"), Some(&tokens["lab-b"]), &body);
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    }
    // Replica A's search copy learns of B's withdrawals: the ferrite no longer counts.
    let after = ok(a.get(ferrite_query, None), "search");
    assert!(!after.to_string().contains("Y30BH"), "A still finds the withdrawn ferrite: {after}");
    assert_eq!(after, ok(b.get(ferrite_query, None), "search"));

    // Every read is the same from either replica.
    let list_a = ok(a.get("/v1/packages?limit=500", Some(&a.operator_token)), "list");
    assert_eq!(list_a, ok(b.get("/v1/packages?limit=500", Some(&b.operator_token)), "list"));
    let digests: Vec<String> =
        list_a["packages"].as_array().unwrap().iter().map(|p| p["digest"].as_str().unwrap().to_owned()).collect();
    assert_eq!(digests.len(), published);
    for query in [
        "/v1/search?property=HcJ&temperature=20&tolerance=5",
        "/v1/search?property=remanence",
        ferrite_query,
        "/v1/materials",
    ] {
        assert_eq!(ok(a.get(query, None), query), ok(b.get(query, None), query), "{query}");
    }
    let checkpoint_a = a.get("/log/checkpoint", None);
    let checkpoint_b = b.get("/log/checkpoint", None);
    assert_eq!(checkpoint_a.status, 200);
    assert_eq!(checkpoint_a.body, checkpoint_b.body, "the same signed checkpoint from both");
    let key = VerifierKey::parse(String::from_utf8(a.get("/log/key", None).body).unwrap().trim_end()).unwrap();
    let cp = Checkpoint::parse(Note::parse(&checkpoint_a.body).unwrap().verify(&key).unwrap()).unwrap();
    assert_eq!(cp.origin, "replicas.test/log");

    let mut entries: Vec<String> = Vec::new();
    while (entries.len() as u64) < cp.size {
        let start = entries.len() as u64;
        let end = (start + 1000).min(cp.size);
        let page = ok(a.get(&format!("/v1/log/entries?start={start}&end={end}"), None), "entries");
        assert_eq!(page, ok(b.get(&format!("/v1/log/entries?start={start}&end={end}"), None), "entries"));
        entries.extend(page["entries"].as_array().unwrap().iter().map(|e| e.as_str().unwrap().to_owned()));
    }
    let leaves: Vec<Hash> = entries.iter().map(|e| merkle::leaf_hash(e.as_bytes())).collect();
    assert_eq!(merkle::root_of_leaves(&leaves), cp.root, "the entries make the checkpoint's tree");

    for d in &digests {
        let detail = ok(a.get(&format!("/v1/packages/{d}"), None), "detail");
        assert_eq!(detail, ok(b.get(&format!("/v1/packages/{d}"), None), "detail"), "{d}");
        let sha = detail["file_sha256"].as_str().unwrap();
        let from_a = a.get(&format!("/v1/packages/{d}/download"), None);
        let from_b = b.get(&format!("/v1/packages/{d}/download"), None);
        assert_eq!((from_a.status, from_b.status), (200, 200));
        assert_eq!(sha256_hex(&from_a.body), sha, "{d}");
        assert!(from_a.body == from_b.body, "{d}: downloads differ");
        let proof_path = format!("/v1/log/proof/inclusion?digest={d}&size={}", cp.size);
        let proof = ok(a.get(&proof_path, None), "proof");
        assert_eq!(proof, ok(b.get(&proof_path, None), "proof"), "{d}");
        let index = proof["leaf_index"].as_u64().unwrap() as usize;
        assert!(
            entries[index].contains("kind package_published") && entries[index].contains(&format!("\ndigest {d}\n"))
        );
        let hashes: Vec<Hash> = proof["hashes"].as_array().unwrap().iter().map(|h| hash(h.as_str().unwrap())).collect();
        merkle::verify_inclusion(index as u64, cp.size, &leaves[index], &hashes, &cp.root).unwrap();
    }

    // One entry per state change, none twice, none missing.
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for e in &entries {
        let kind = e.lines().find_map(|l| l.strip_prefix("kind ")).unwrap_or("?").to_owned();
        *kinds.entry(kind).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = [
        ("organisation_added", 4), // the test operator and three organisations
        ("key_added", 3),
        ("package_published", published),
        ("package_countersigned", 1),
        ("package_withdrawn", VERSIONS),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect();
    assert_eq!(kinds, expected, "log entries by kind");
    assert_eq!(cp.size as usize, entries.len());
    let unique: BTreeSet<&String> = entries.iter().collect();
    assert_eq!(unique.len(), entries.len(), "no entry twice");
    let published_digests: BTreeSet<String> = entries
        .iter()
        .filter(|e| e.contains("kind package_published"))
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("digest ")).map(str::to_owned))
        .collect();
    assert_eq!(published_digests, digests.iter().cloned().collect(), "one publication entry per package");
}

/// A third process with a log key of its own (the default, per data directory) refuses to
/// start: it would sign checkpoints of the same log with another key.
fn refuses_another_log_key(a: &TestRegistry) {
    let data = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_prequal"))
        .args(["serve", "--db", &a.db.url, "--data"])
        .arg(data.path())
        .args(["--bind", "127.0.0.1:0", "--log-origin", "replicas.test/log"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("a process with another log key kept running");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(stderr.contains("this log is signed with verifier key replicas.test/log+"), "{stderr}");
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Kill the registry with SIGKILL in the middle of a stream of uploads, restart it, and check
//! that every upload answered 201 is intact and downloadable, and that no orphan blob, temporary
//! file or half-written row remains. Several rounds, on both backends.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::server::{Backend, TestRegistry, try_request};
use common::*;
use prequal::registry::OrgKind;
use rand_core::{OsRng, RngCore};

both_backends!(sigkill_during_uploads_loses_nothing);

/// Kill rounds per run; `PREQUAL_CRASH_ROUNDS` raises it (tests/tools/kill-loop.sh).
fn rounds() -> usize {
    std::env::var("PREQUAL_CRASH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(4)
}
const UPLOADERS: usize = 2;

fn sigkill_during_uploads_loses_nothing(backend: Backend) {
    // Enough packages that every kill round has uploads in flight.
    let total = (rounds() * 25).max(90);
    let mut reg = TestRegistry::start(backend);
    let tokens = reg.register(&[("lab-a", OrgKind::Lab, "US", Some(&test_key(1)))]);
    let token = tokens["lab-a"].clone();
    let dir = tempfile::tempdir().unwrap();
    // (bytes, sha256 of the file) for each distinct package.
    let packages: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        (0..total)
            .map(|i| {
                let bytes =
                    std::fs::read(package_version(dir.path(), BASELINE, &format!("1.0.{i}"), &[&test_key(1)])).unwrap();
                let sha = sha256_hex(&bytes);
                (bytes, sha)
            })
            .collect(),
    );
    let acknowledged: Arc<Mutex<BTreeMap<String, String>>> = Arc::default(); // digest -> file sha
    let next = Arc::new(AtomicUsize::new(0));
    let mut kills_mid_stream = 0;

    for round in 0..rounds() {
        let url = reg.url.clone();
        let workers: Vec<_> = (0..UPLOADERS)
            .map(|_| {
                let (url, token, packages, acknowledged, next) =
                    (url.clone(), token.clone(), packages.clone(), acknowledged.clone(), next.clone());
                std::thread::spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= total {
                            return;
                        }
                        let (bytes, sha) = &packages[i];
                        let res = try_request(
                            &format!("{url}/v1/packages"),
                            "POST",
                            Some(&token),
                            Some(("application/zip", bytes.clone())),
                            &[],
                        );
                        match res {
                            Ok(r) if r.status == 201 => {
                                let digest = r.json()["digest"].as_str().unwrap().to_owned();
                                acknowledged.lock().unwrap().insert(digest, sha.clone());
                            }
                            Ok(r) => panic!("upload {i}: unexpected {} {}", r.status, String::from_utf8_lossy(&r.body)),
                            // The server died under us: this package is unacknowledged.
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        // Kill at a random point after this round's first acknowledgment (so every round kills
        // a server that was making progress, however loaded the machine is).
        let acked_before = acknowledged.lock().unwrap().len();
        let waiting = std::time::Instant::now();
        while acknowledged.lock().unwrap().len() == acked_before
            && next.load(Ordering::SeqCst) < total
            && waiting.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let delay = u64::from(OsRng.next_u32() % 150);
        std::thread::sleep(Duration::from_millis(delay));
        let before = next.load(Ordering::SeqCst);
        reg.kill();
        for w in workers {
            w.join().unwrap();
        }
        if before < total {
            kills_mid_stream += 1;
        }
        reg.spawn();
        eprintln!("round {round}: killed after {delay} ms; {} acknowledged so far", acknowledged.lock().unwrap().len());
    }
    // Upload whatever is left, so the last state is known too.
    let acked = acknowledged.lock().unwrap().clone();
    assert!(kills_mid_stream >= 1, "no kill landed during the upload stream");
    assert!(!acked.is_empty(), "no upload was acknowledged before the kills");

    // Every acknowledged upload is intact and downloadable.
    for (digest, sha) in &acked {
        let dl = reg.get(&format!("/v1/packages/{digest}/download"), None);
        assert_eq!(dl.status, 200, "{digest}");
        assert_eq!(&sha256_hex(&dl.body), sha, "{digest}: downloaded bytes differ");
    }
    // Everything the registry lists is complete: a blob with the right bytes, datasets, an
    // author signature. Unacknowledged uploads may have committed just before the kill; if so
    // they must be just as complete.
    let list = reg.get("/v1/packages?limit=500", Some(&reg.operator_token)).json();
    let listed = list["packages"].as_array().unwrap();
    assert!(listed.len() >= acked.len());
    let mut referenced = BTreeSet::new();
    let sent: BTreeSet<&str> = packages.iter().map(|(_, sha)| sha.as_str()).collect();
    for p in listed {
        let digest = p["digest"].as_str().unwrap();
        let detail = reg.get(&format!("/v1/packages/{digest}"), Some(&reg.operator_token)).json();
        let sha = detail["file_sha256"].as_str().unwrap().to_owned();
        assert!(sent.contains(sha.as_str()), "{digest}: stored bytes are not a file that was sent");
        assert!(!detail["datasets"].as_array().unwrap().is_empty(), "{digest}: datasets missing");
        assert_eq!(detail["signatures"][0]["kind"], "author", "{digest}");
        let dl = reg.get(&format!("/v1/packages/{digest}/download"), None);
        assert_eq!(sha256_hex(&dl.body), sha, "{digest}");
        referenced.insert(sha);
    }
    // No orphan blob and no temporary file survive the restart's sweep.
    let mut blobs = BTreeSet::new();
    for shard in std::fs::read_dir(reg.data.join("blobs/sha256")).unwrap() {
        for f in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            let name = f.unwrap().file_name().to_string_lossy().into_owned();
            blobs.insert(name.trim_end_matches(".zip").to_owned());
        }
    }
    assert_eq!(blobs, referenced, "blobs on disk and rows in the database differ");
    assert_eq!(std::fs::read_dir(reg.data.join("tmp")).unwrap().count(), 0, "temporary files left");

    // Leftovers of a crash between storing a blob and committing its rows (or mid-stream) are
    // swept at start-up: plant one of each and restart.
    let some_blob = reg.data.join("blobs/sha256").join(&referenced.iter().next().unwrap()[..2]);
    let orphan = "ab".repeat(32);
    std::fs::create_dir_all(reg.data.join("blobs/sha256/ab")).unwrap();
    std::fs::write(reg.data.join(format!("blobs/sha256/ab/{orphan}.zip")), b"orphan").unwrap();
    std::fs::write(reg.data.join("tmp/upload-interrupted.tmp"), b"half an upload").unwrap();
    reg.kill();
    reg.spawn();
    assert!(!reg.data.join(format!("blobs/sha256/ab/{orphan}.zip")).exists(), "orphan blob swept");
    assert_eq!(std::fs::read_dir(reg.data.join("tmp")).unwrap().count(), 0, "temporary upload swept");
    assert!(some_blob.exists());
    assert_eq!(reg.get("/v1/packages?limit=500", Some(&reg.operator_token)).json()["total"], listed.len());
    eprintln!("{} acknowledged, {} stored, {} kill(s) during the stream", acked.len(), listed.len(), kills_mid_stream);

    // The whole store re-checked from scratch: every file hashed and verified again, the log's
    // leaves and root recomputed, one publish entry per package.
    reg.kill();
    let report = reg.admin_check();
    assert_eq!(report["packages"], listed.len());
}

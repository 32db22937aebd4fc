#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Benchmark: a mirror syncing N packages (default 10 000) from an origin on loopback, against
//! fetching the same package files with parallel curl in the same run, and the time an
//! up-to-date mirror takes to pick up one new package.
//!
//!   cargo build --release --bin prequal && cargo bench --bench mirror_sync
//!
//! The origin is filled through the library's real publish path (verify, store, log), then
//! served by the release binary. The mirror is `prequal mirror --once` on a fresh SQLite
//! database: it checks the checkpoint, the consistency proof and every entry bundle against the
//! root, downloads every package and verifies it again before storing it. The baseline only
//! downloads: `curl --parallel --parallel-max 8` of every package file to /dev/null.
//! Environment: PREQUAL_BENCH_PACKAGES (10000); PREQUAL_BENCH_ATTACHMENT_KIB (0: packages of
//! about 14 kB; e.g. 1024 adds a 1 MiB raw data file to each); PREQUAL_BENCH_DIR keeps the origin there and
//! reuses it on the next run (publishing 10 000 packages takes minutes).

mod common;
use common::copy_tree;

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use prequal::package::signing::encode_public_key;
use prequal::package::{Compression, Limits, SecretKey, pack_dir, sign_package};
use prequal::registry::views::{NewKey, NewOrganisation, NewToken};
use prequal::registry::{OrgKind, Policy, Principal, Registry, Role, Upload};
use prequal::store::{DatabaseUrl, Store};
use sha2::Digest as _;

const SOURCE: &str = "ndfeb-n42sh-baseline";

/// A signed package of the sample source with its own name: (bytes).
fn make_package(work: &Path, name: &str, key: &SecretKey) -> Vec<u8> {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-packages/sources");
    let dir = work.join(format!("src-{name}"));
    copy_tree(&samples.join(SOURCE), &dir);
    let manifest_path = dir.join("prequal.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    m["name"] = name.into();
    m["lab"]["name"] = "bench-lab".into();
    let kib = attachment_kib();
    if kib > 0 {
        // A raw instrument export: incompressible, like real binary data.
        std::fs::create_dir_all(dir.join("reports")).unwrap();
        let mut raw = Vec::with_capacity(kib * 1024);
        let mut block = sha2::Sha256::digest(name.as_bytes());
        while raw.len() < kib * 1024 {
            block = sha2::Sha256::digest(block);
            raw.extend_from_slice(&block);
        }
        raw.truncate(kib * 1024);
        std::fs::write(dir.join("reports/raw-export.bin"), raw).unwrap();
        let attachment = serde_json::json!({
            "file": "reports/raw-export.bin",
            "description": "Raw instrument export.",
            "media_type": "application/octet-stream"
        });
        match m["attachments"].as_array_mut() {
            Some(list) => list.push(attachment),
            None => m["attachments"] = serde_json::json!([attachment]),
        }
    }
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let zip = work.join(format!("{name}.zip"));
    pack_dir(&dir, &zip, Compression::Deflated, Limits::default()).unwrap();
    sign_package(&zip, key, Limits::default()).unwrap();
    let bytes = std::fs::read(&zip).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_file(&zip).unwrap();
    bytes
}

/// PREQUAL_BENCH_ATTACHMENT_KIB: an incompressible attachment of this many KiB in every
/// package (0, the default: the sample package alone, about 14 kB).
fn attachment_kib() -> usize {
    std::env::var("PREQUAL_BENCH_ATTACHMENT_KIB").ok().and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn publish(registry: &Registry, bytes: &[u8]) -> String {
    let mut file = tempfile::NamedTempFile::new_in(std::env::temp_dir()).unwrap();
    file.write_all(bytes).unwrap();
    let upload = Upload { file, sha256_hex: hex::encode(sha2::Sha256::digest(bytes)), size: bytes.len() as u64 };
    let principal =
        Principal { token_id: "bench".into(), organisation: "bench-lab".into(), country: "US".into(), role: Role::Lab };
    registry.publish(&principal, upload).unwrap().0.summary.digest
}

fn binary() -> std::path::PathBuf {
    let b = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/prequal");
    assert!(b.exists(), "build the server first: cargo build --release --bin prequal");
    b
}

/// Runs `prequal mirror --once` and returns its wall time in seconds.
fn mirror_once(upstream: &str, key: &str, data: &Path) -> f64 {
    let t = Instant::now();
    let out = Command::new(binary())
        .args(["mirror", "--once", "--upstream", upstream, "--upstream-key", key, "--data"])
        .arg(data)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(out.status.success(), "mirror: {}", String::from_utf8_lossy(&out.stderr));
    secs
}

/// The mirror's log size and root, read from its database.
fn mirror_head(data: &Path) -> (u64, [u8; 32]) {
    let url = DatabaseUrl::Sqlite(data.join("prequal.db").display().to_string());
    let registry = Registry::new(Store::open(&url, data, 1).unwrap(), Policy::default());
    let size = registry.log_size().unwrap();
    (size, registry.log_root(size).unwrap())
}

fn origin_head(base: &str) -> (u64, [u8; 32]) {
    let text = ureq::get(format!("{base}/log/checkpoint")).call().unwrap().body_mut().read_to_string().unwrap();
    let mut lines = text.lines().skip(1);
    let size: u64 = lines.next().unwrap().parse().unwrap();
    use base64::Engine as _;
    let root = base64::engine::general_purpose::STANDARD.decode(lines.next().unwrap()).unwrap();
    (size, root.try_into().unwrap())
}

fn main() {
    let n: usize = std::env::var("PREQUAL_BENCH_PACKAGES").ok().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let temp = tempfile::tempdir().unwrap();
    let kept = std::env::var_os("PREQUAL_BENCH_DIR").map(std::path::PathBuf::from);
    let work_dir = kept.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let work = &work_dir;
    let origin_data = work.join("origin");
    let digests_file = work.join("digests.txt");
    let reuse = kept.is_some() && digests_file.exists();
    let url = DatabaseUrl::Sqlite(origin_data.join("prequal.db").display().to_string());
    std::fs::create_dir_all(&origin_data).unwrap();
    let registry = Registry::new(Store::open(&url, &origin_data, 2).unwrap(), Policy::default());
    let key = SecretKey::from_seed([7; 32]);
    if !reuse {
        registry
            .create_organisation(&NewOrganisation {
                id: "bench-lab".into(),
                name: "Bench lab".into(),
                kind: OrgKind::Lab,
                country: "US".into(),
            })
            .unwrap();
        registry.add_key("bench-lab", &NewKey { public_key: encode_public_key(&key.public_key()) }).unwrap();
    }
    let token = registry
        .create_token(&NewToken { organisation: "bench-lab".into(), role: Role::Lab, label: "bench".into() })
        .unwrap()
        .token;
    let start = Instant::now();
    let mut digests = Vec::with_capacity(n);
    let mut bytes_total = 0usize;
    if reuse {
        let text = std::fs::read_to_string(&digests_file).unwrap();
        let mut lines = text.lines();
        bytes_total = lines.next().unwrap().parse().unwrap();
        digests = lines.map(str::to_owned).collect();
        eprintln!("  reusing the origin in {} ({} packages)", work.display(), digests.len());
    }
    for i in digests.len()..n {
        let bytes = make_package(work, &format!("mirror-bench-{i}"), &key);
        bytes_total += bytes.len();
        digests.push(publish(&registry, &bytes));
        if (i + 1) % 1000 == 0 {
            eprintln!("  {} packages published ({:.0}/s)", i + 1, (i + 1) as f64 / start.elapsed().as_secs_f64());
        }
    }
    drop(registry);
    std::fs::write(&digests_file, format!("{bytes_total}\n{}\n", digests.join("\n"))).unwrap();
    let n = digests.len();
    let mirror_dir = work.join("mirror");
    let _ = std::fs::remove_dir_all(&mirror_dir);

    let origin_db = format!("sqlite://{}", origin_data.join("prequal.db").display());
    let (mut server, base) = common::serve(&binary(), &origin_db, &origin_data);
    let log_key = ureq::get(format!("{base}/log/key")).call().unwrap().body_mut().read_to_string().unwrap();
    let log_key = log_key.trim().to_owned();

    // Baseline: every package file with parallel curl, to /dev/null (the baseline), and
    // a reference: the same saving each file and syncing them (what any copy must at least do).
    let curl_run = |save: Option<&Path>| -> f64 {
        let config = work.join("curl.cfg");
        let mut cfg = std::fs::File::create(&config).unwrap();
        for (i, d) in digests.iter().enumerate() {
            let out = save.map_or("/dev/null".to_owned(), |dir| dir.join(format!("{i}.zip")).display().to_string());
            writeln!(cfg, "url = \"{base}/v1/packages/{d}/download\"\noutput = \"{out}\"").unwrap();
        }
        drop(cfg);
        let t = Instant::now();
        let curl = Command::new("curl")
            .args(["-sS", "--no-progress-meter", "--fail", "--parallel", "--parallel-max", "8", "-K"])
            .arg(&config)
            .status()
            .unwrap();
        if let Some(dir) = save {
            assert!(Command::new("sync").arg("-f").arg(dir).status().unwrap().success());
        }
        let secs = t.elapsed().as_secs_f64();
        assert!(curl.success(), "curl failed");
        secs
    };
    let curl_secs = curl_run(None);
    let saved = work.join("curl-saved");
    let _ = std::fs::remove_dir_all(&saved);
    std::fs::create_dir_all(&saved).unwrap();
    let curl_saved_secs = curl_run(Some(&saved));
    std::fs::remove_dir_all(&saved).unwrap();

    // The mirror from scratch, then one new package on an up-to-date mirror.
    let mirror_data = mirror_dir;
    let sync_secs = mirror_once(&base, &log_key, &mirror_data);
    assert_eq!(mirror_head(&mirror_data), origin_head(&base), "the mirror did not reach the origin's checkpoint");
    let idle_secs = mirror_once(&base, &log_key, &mirror_data);
    let one = make_package(work, &format!("mirror-bench-one-more-{}", std::process::id()), &key);
    let res = ureq::post(format!("{base}/v1/packages"))
        .header("Authorization", &format!("Bearer {token}"))
        .header("Content-Type", "application/zip")
        .send(&one[..])
        .unwrap();
    assert_eq!(res.status(), 201);
    let one_secs = mirror_once(&base, &log_key, &mirror_data);
    assert_eq!(mirror_head(&mirror_data), origin_head(&base));
    let _ = server.kill();
    let _ = server.wait();

    let mib = bytes_total as f64 / 1048576.0;
    println!(
        "{n} packages, {mib:.1} MiB in all ({:.1} kB each), origin and mirror on SQLite, loopback",
        bytes_total as f64 / n as f64 / 1000.0
    );
    println!("| what | seconds | packages/s | MiB/s | ratio to parallel curl |");
    println!("|---|---|---|---|---|");
    println!(
        "| parallel curl (8 streams), download only | {curl_secs:.1} | {:.0} | {:.1} | 1.00 |",
        n as f64 / curl_secs,
        mib / curl_secs
    );
    println!(
        "| parallel curl (8 streams), saving the files, then `sync` | {curl_saved_secs:.1} | {:.0} | {:.1} | {:.2} |",
        n as f64 / curl_saved_secs,
        mib / curl_saved_secs,
        curl_secs / curl_saved_secs
    );
    println!(
        "| `prequal mirror --once` from scratch: verify log, download, re-verify, store | {sync_secs:.1} | {:.0} | {:.1} | {:.2} |",
        n as f64 / sync_secs,
        mib / sync_secs,
        curl_secs / sync_secs
    );
    println!("| `prequal mirror --once`, already up to date | {idle_secs:.2} | | | |");
    println!("| `prequal mirror --once`, one new package | {one_secs:.2} | | | |");
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Mixed load on a real server from this (separate) process: uploads, searches and downloads at
//! once from several clients, on SQLite and PostgreSQL. No request may fail; afterwards every
//! acknowledged upload must be listed, downloadable byte for byte and logged once, and
//! `prequal admin check` must find the stored packages and the log intact.
//!
//! CI runs it for a bounded time (`PREQUAL_LOAD_SECONDS`, default 10 s per backend); for a longer
//! run: `PREQUAL_LOAD_SECONDS=180 cargo nextest run -E 'test(/^load::/)' --no-capture` (the table of
//! throughput and latency percentiles is printed).

use crate::common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::server::{Backend, TestRegistry, try_request};
use common::*;
use prequal::registry::OrgKind;
use rand_core::{OsRng, RngCore};

both_backends!(mixed_load_loses_nothing);

const CLIENTS: usize = 4;

const SEARCHES: &[&str] = &[
    "/v1/search?property=HcJ&min=300&unit=kA/m&temperature=150&tolerance=5",
    "/v1/search?material_class=permanent_magnet&rare_earth_free=true&sort=hhi",
    "/v1/search?q=ferrite",
    "/v1/search?material_class=battery_cell",
    "/v1/packages?limit=50",
];

#[derive(Default)]
struct Stats {
    latencies: BTreeMap<&'static str, Vec<f64>>,
    errors: Vec<String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn mixed_load_loses_nothing(backend: Backend) {
    let seconds: u64 = std::env::var("PREQUAL_LOAD_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let samples = common::samples_dir();
    let reg = TestRegistry::start_with(backend.clone(), &["--demo", "--samples", samples.to_str().unwrap()]);
    let tokens = reg.register(&[("load-lab", OrgKind::Lab, "US", Some(&test_key(1)))]);
    let token = tokens["load-lab"].clone();

    // Distinct packages to upload: enough that the uploaders never run out.
    let pool_size = (seconds as usize * 20).clamp(100, 4000);
    let dir = tempfile::tempdir().unwrap();
    let made = Instant::now();
    let packages: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        (0..pool_size)
            .map(|i| {
                let version = format!("2.0.{i}");
                let path = custom_package(
                    dir.path(),
                    BASELINE,
                    &format!("load-{i}"),
                    |m| {
                        m["name"] = "load-test-magnet".into();
                        m["version"] = version.as_str().into();
                    },
                    &[&test_key(1)],
                );
                let bytes = std::fs::read(path).unwrap();
                let sha = sha256_hex(&bytes);
                (bytes, sha)
            })
            .collect(),
    );
    eprintln!("made {pool_size} packages in {:.1} s", made.elapsed().as_secs_f64());

    let log_before: u64 =
        String::from_utf8(reg.get("/log/checkpoint", None).body).unwrap().lines().nth(1).unwrap().parse().unwrap();
    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::default(); // (digest, file sha)
    let next = Arc::new(AtomicUsize::new(0));
    let stats = Arc::new(Mutex::new(Stats::default()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (url, token, packages, acknowledged, next, stats) =
                (reg.url.clone(), token.clone(), packages.clone(), acknowledged.clone(), next.clone(), stats.clone());
            std::thread::spawn(move || {
                let mut own: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
                let mut errors = Vec::new();
                while Instant::now() < deadline {
                    let roll = OsRng.next_u32() % 10;
                    let t = Instant::now();
                    let (op, outcome) = if roll < 2 {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some((bytes, sha)) = packages.get(i) else { continue };
                        let res = try_request(
                            &format!("{url}/v1/packages"),
                            "POST",
                            Some(&token),
                            Some(("application/zip", bytes.clone())),
                            &[],
                        );
                        let outcome = match res {
                            Ok(r) if r.status == 201 => {
                                acknowledged
                                    .lock()
                                    .unwrap()
                                    .push((r.json()["digest"].as_str().unwrap().to_owned(), sha.clone()));
                                Ok(())
                            }
                            Ok(r) => Err(format!("upload: {} {}", r.status, String::from_utf8_lossy(&r.body))),
                            Err(e) => Err(format!("upload: {e}")),
                        };
                        ("upload", outcome)
                    } else if roll < 7 {
                        let path = SEARCHES[(OsRng.next_u32() as usize) % SEARCHES.len()];
                        let outcome = match try_request(&format!("{url}{path}"), "GET", None, None, &[]) {
                            Ok(r) if r.status == 200 => Ok(()),
                            Ok(r) => Err(format!("{path}: {}", r.status)),
                            Err(e) => Err(format!("{path}: {e}")),
                        };
                        ("search", outcome)
                    } else {
                        let pick = {
                            let acked = acknowledged.lock().unwrap();
                            (!acked.is_empty()).then(|| acked[(OsRng.next_u32() as usize) % acked.len()].clone())
                        };
                        let Some((digest, sha)) = pick else { continue };
                        let path = format!("{url}/v1/packages/{digest}/download");
                        let outcome = match try_request(&path, "GET", None, None, &[]) {
                            Ok(r) if r.status == 200 && sha256_hex(&r.body) == sha => Ok(()),
                            Ok(r) if r.status == 200 => Err(format!("{digest}: downloaded bytes differ")),
                            Ok(r) => Err(format!("{digest}: {}", r.status)),
                            Err(e) => Err(format!("{digest}: {e}")),
                        };
                        ("download", outcome)
                    };
                    own.entry(op).or_default().push(t.elapsed().as_secs_f64() * 1e3);
                    if let Err(e) = outcome {
                        errors.push(e);
                    }
                }
                let mut s = stats.lock().unwrap();
                for (op, mut l) in own {
                    s.latencies.entry(op).or_default().append(&mut l);
                }
                s.errors.extend(errors);
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = stats.lock().unwrap();

    println!("\n{} load, {CLIENTS} clients, {elapsed:.0} s:", backend.name());
    println!("| backend | operation | requests | per second | p50 ms | p90 ms | p99 ms | errors |");
    println!("|---|---|---|---|---|---|---|---|");
    for (op, l) in &stats.latencies {
        let mut sorted = l.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "| {} | {op} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
            backend.name(),
            sorted.len(),
            sorted.len() as f64 / elapsed,
            percentile(&sorted, 0.5),
            percentile(&sorted, 0.9),
            percentile(&sorted, 0.99),
            stats.errors.iter().filter(|e| e.starts_with(op)).count()
        );
    }
    assert!(
        stats.errors.is_empty(),
        "{} request(s) failed under load: {:?}",
        stats.errors.len(),
        &stats.errors[..stats.errors.len().min(5)]
    );
    for op in ["upload", "search", "download"] {
        assert!(stats.latencies.get(op).is_some_and(|l| !l.is_empty()), "no {op} ran");
    }

    // Nothing lost: every acknowledged upload is listed, intact and logged exactly once.
    let acked = acknowledged.lock().unwrap().clone();
    for (digest, sha) in &acked {
        let dl = reg.get(&format!("/v1/packages/{digest}/download"), None);
        assert_eq!(dl.status, 200, "{digest}");
        assert_eq!(&sha256_hex(&dl.body), sha, "{digest}");
    }
    let listed = reg.get("/v1/packages?limit=1", Some(&reg.operator_token)).json();
    assert_eq!(listed["total"].as_u64().unwrap() as usize, acked.len() + 6, "6 demo packages + the uploads");
    let log_after: u64 =
        String::from_utf8(reg.get("/log/checkpoint", None).body).unwrap().lines().nth(1).unwrap().parse().unwrap();
    assert_eq!(log_after - log_before, acked.len() as u64, "one log entry per acknowledged upload");
    let report = reg.admin_check();
    assert_eq!(report["packages_verified"].as_u64().unwrap() as usize, acked.len() + 6);
}

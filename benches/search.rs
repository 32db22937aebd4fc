//! Benchmark: `GET /v1/search` latency over a registry of N synthetic packages (default
//! 100 000), measured from this process against a separate `prequal serve` (the release build at
//! `target/release/prequal`), on SQLite and, when PREQUAL_BENCH_POSTGRES names an admin URL,
//! on PostgreSQL (in a database `prequal_bench_search` it creates and drops).
//!
//! The generator writes the rows search reads (packages, package_materials, one HcJ dataset per
//! package with 15 specimen rows at 20, 150 and 180 °C) straight into the database in one
//! transaction: these are synthetic rows, not packed, signed and verified packages (at ~100
//! uploads/s, the real publishing path would take hours for 100 000).
//!
//!   cargo build --release --bin prequal && cargo bench --bench search
//!   PREQUAL_BENCH_PACKAGES=10000 PREQUAL_BENCH_SECONDS=5 cargo bench --bench search
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use prequal::fit::{EvidenceRow, encode_rows};
use prequal::registry::views::{NewOrganisation, NewToken};
use prequal::registry::{OrgKind, Policy, Registry, RegistryError, Role};
use prequal::store::models::{DatasetRow, DocumentRow, PackageMaterialRow, PackageRow, ReaderRow};
use prequal::store::schema::{datasets, package_documents, package_materials, package_readers, packages};
use prequal::store::{DatabaseUrl, Store};
use sha2::Digest as _;

const COUNTRIES: [&str; 6] = ["DE", "JP", "US", "CN", "GB", "FR"];
/// (class, designation stem, composition, HcJ at 20 °C in kA/m, relative loss per K).
const KINDS: [(&str, &str, &str, f64, f64); 3] = [
    (
        "permanent_magnet",
        "NDFEB",
        r#"[{"element":"Nd","mass_fraction":0.23},{"element":"Pr","mass_fraction":0.07},{"element":"Dy","mass_fraction":0.01},{"element":"Fe","mass_fraction":0.68},{"element":"B","mass_fraction":0.01}]"#,
        1700.0,
        0.0045,
    ),
    (
        "permanent_magnet",
        "FERRITE",
        r#"[{"element":"Sr","mass_fraction":0.08},{"element":"Fe","mass_fraction":0.63},{"element":"O","mass_fraction":0.29}]"#,
        240.0,
        -0.002,
    ),
    (
        "battery_cell",
        "CELL",
        r#"[{"element":"C","mass_fraction":0.25},{"element":"Fe","mass_fraction":0.12},{"element":"Li","mass_fraction":0.015},{"element":"O","mass_fraction":0.2}]"#,
        0.0,
        0.0,
    ),
];

/// Fills the registry; returns a reader token of an OEM in Germany (which sees the allied rows).
fn fill(registry: &Registry, n: usize) -> String {
    for i in 0..20 {
        registry
            .create_organisation(&NewOrganisation {
                id: format!("bench-lab-{i}"),
                name: format!("Bench lab {i}"),
                kind: OrgKind::Lab,
                country: COUNTRIES[i % COUNTRIES.len()].into(),
            })
            .unwrap();
    }
    let start = Instant::now();
    registry
        .store
        .write(|conn| -> Result<(), RegistryError> {
            for i in 0..n {
                let (class, stem, composition, hcj20, beta) = KINDS[i % KINDS.len()];
                let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(i.to_le_bytes())));
                let material = i / 2; // two packages per material
                let scale = 0.7 + 0.6 * ((material * 7919) % 1000) as f64 / 1000.0;
                let row = PackageRow {
                    digest: digest.clone(),
                    name: format!("bench-{i}"),
                    version: "1.0.0".into(),
                    title: format!("Synthetic {stem} grade {material}"),
                    material_class: class.into(),
                    designation: format!("{stem}-{material}"),
                    organisation_id: format!("bench-lab-{}", i % 20),
                    // One package in ten is releasable to allied countries only.
                    releasability: if i % 10 == 9 { "allied" } else { "public" }.into(),
                    synthetic: true,
                    blob_sha256: digest[7..].to_owned(),
                    size_bytes: 10_000,
                    registered_at: i as i64,
                    withdrawn_at: None,
                    withdrawn_reason: None,
                    superseded_by: None,
                    material_id: format!("bench-material-{material}"),
                    producer: format!("Bench producer {}", material % 50),
                };
                diesel::insert_into(packages::table).values(&row).execute(conn)?;
                if i % 10 == 9 {
                    for country in ["DE", "FR"] {
                        diesel::insert_into(package_readers::table)
                            .values(&ReaderRow { digest: digest.clone(), reader: format!("country:{country}") })
                            .execute(conn)?;
                    }
                }
                diesel::insert_into(package_documents::table)
                    .values(&DocumentRow { digest: digest.clone(), manifest: "{}".into(), verification: "{}".into() })
                    .execute(conn)?;
                diesel::insert_into(package_materials::table)
                    .values(&PackageMaterialRow {
                        digest: digest.clone(),
                        producer_country: COUNTRIES[material % COUNTRIES.len()].into(),
                        composition: composition.into(),
                        source: r#"{"sites":[],"process_route":"synthetic"}"#.into(),
                    })
                    .execute(conn)?;
                if class != "permanent_magnet" {
                    continue;
                }
                let rows: Vec<EvidenceRow> = (0..15)
                    .map(|s| {
                        let t = [20.0, 150.0, 180.0][s % 3];
                        let value = hcj20 * scale * (1.0 - beta * (t - 20.0)) * (1.0 + 0.01 * (s as f64 - 7.0) / 7.0);
                        EvidenceRow {
                            specimen: format!("S{s}"),
                            batch: format!("L{}", s % 3).into(),
                            value,
                            conditions: BTreeMap::from([("temperature".to_owned(), (t, "Cel".to_owned()))]).into(),
                        }
                    })
                    .collect();
                diesel::insert_into(datasets::table)
                    .values(&DatasetRow {
                        digest: digest.clone(),
                        dataset_id: "hcj".into(),
                        property: "intrinsic_coercivity".into(),
                        unit: "kA/m".into(),
                        file: "datasets/hcj.csv".into(),
                        measurements: 15,
                        specimens: 15,
                        batches: 3,
                        min_value: 0.0,
                        max_value: 0.0,
                        mean_value: 0.0,
                        conditions: "{}".into(),
                        standard: "IEC 60404-5:2015".into(),
                        rows: encode_rows(&rows),
                    })
                    .execute(conn)?;
            }
            Ok(())
        })
        .unwrap();
    println!("generated {n} synthetic packages in {:.1} s", start.elapsed().as_secs_f64());
    registry
        .create_organisation(&NewOrganisation {
            id: "bench-oem".into(),
            name: "Bench OEM".into(),
            kind: OrgKind::Oem,
            country: "DE".into(),
        })
        .unwrap();
    registry
        .create_token(&NewToken { organisation: "bench-oem".into(), role: Role::Reader, label: "bench".into() })
        .unwrap()
        .token
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `sql` `runs` times in one session of the database's own shell (`sqlite3` or `psql`)
/// and returns the median time the shell reports, in ms, and the hit count of the last run
/// (the statement's third column).
fn shell_baseline(backend: &str, url: &str, sql: &str, runs: usize) -> Option<(f64, String)> {
    let (mut cmd, script, time_prefix) = if backend == "sqlite" {
        let mut c = Command::new("sqlite3");
        c.arg(url.trim_start_matches("sqlite://"));
        (c, String::from(".timer on\n.mode list\n"), "Run Time: real ")
    } else {
        let mut c = Command::new("psql");
        c.args(["-X", "-q", "-A", "-t", url]);
        (c, String::from("\\timing on\n"), "Time: ")
    };
    let mut script = script;
    for _ in 0..runs {
        script.push_str(sql);
        script.push_str(";\n");
    }
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().ok()?;
    child.stdin.take()?.write_all(script.as_bytes()).ok()?;
    let out = child.wait_with_output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut times: Vec<f64> = Vec::new();
    let mut hits = String::from("0");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix(time_prefix) {
            let n: f64 = rest.split_whitespace().next()?.parse().ok()?;
            times.push(if backend == "sqlite" { n * 1e3 } else { n });
        } else if let Some(h) = line.split('|').nth(2) {
            hits = h.trim().to_owned();
        }
    }
    if times.len() != runs {
        eprintln!("{backend} shell: expected {runs} timings, got {}:\n{text}", times.len());
        return None;
    }
    times.sort_by(f64::total_cmp);
    Some((percentile(&times, 0.5), hits))
}

fn run_backend(backend: &str, url: &str, data: &Path, n: usize, seconds: u64) {
    let db_url = url;
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/prequal");
    let registry = Registry::new(Store::open(&DatabaseUrl::parse(url), data, 2).unwrap(), Policy::default());
    let token = fill(&registry, n);
    drop(registry);

    // The server indexes the synthetic packages for search at start-up, as it would after an
    // upgrade of a registry filled before the index existed.
    let started = Instant::now();
    let (mut server, base) = common::serve(&binary, url, data);
    println!(
        "\n{backend}: server ready in {:.1} s (including indexing {n} packages for search)\n",
        started.elapsed().as_secs_f64()
    );
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(120))).build().new_agent();
    println!(
        "| reader | query | hits | requests | p50 ms | p99 ms | requests/s (2 clients) | same query in the {} shell: p50 ms (hits) | ratio p50 shell/prequal |\n|---|---|---|---|---|---|---|---|---|",
        if backend == "sqlite" { "sqlite3" } else { "psql" }
    );
    // The baseline: the same selection written as one SQL statement (public packages with
    // evidence, grouped by material, best first, the first page and the number of hits), run
    // in the database's own shell on the same database, timed by the shell.
    let hcj = |bound: &str, t: u32| {
        format!(
            "SELECT material_id, best, count(*) OVER () FROM (SELECT s.material_id, max(p.value) AS best \
             FROM dataset_points p JOIN search_index s ON s.key = p.package_key \
             WHERE p.property = 'intrinsic_coercivity' AND p.temperature_c >= {lo} AND p.temperature_c <= {hi} \
             AND p.value >= {bound} AND s.evidence AND s.releasability = 'public' GROUP BY s.material_id) t \
             ORDER BY best DESC LIMIT 20",
            lo = t - 5,
            hi = t + 5
        )
    };
    let per_index = |filter: &str, order: &str| {
        format!(
            "SELECT material_id, k, count(*) OVER () FROM (SELECT material_id, {order} AS k FROM search_index \
             WHERE evidence AND releasability = 'public' AND {filter} GROUP BY material_id) t ORDER BY k LIMIT 20"
        )
    };
    let queries: [(&str, &str, Option<String>); 8] = [
        ("anonymous", "property=HcJ&min=800&unit=kA/m&temperature=150&tolerance=5", Some(hcj("800", 150))),
        ("OEM (DE)", "property=HcJ&min=800&unit=kA/m&temperature=150&tolerance=5", None),
        // A different bound on every request (700 to 899 kA/m), so no two in a row are alike.
        ("anonymous", "property=HcJ&min={min}&unit=kA/m&temperature=150&tolerance=5", None),
        (
            "anonymous",
            "property=HcJ&min=7&unit=kOe&temperature=180&tolerance=5&material_class=permanent_magnet&sort=value",
            // 7 kOe = 557.04 kA/m
            Some(
                hcj("557.0423", 180)
                    .replace("AND s.evidence", "AND s.evidence AND s.material_class = 'permanent_magnet'"),
            ),
        ),
        (
            "anonymous",
            "material_class=permanent_magnet&rare_earth_free=true&sort=hhi",
            Some(per_index("material_class = 'permanent_magnet' AND rare_earth_free", "min(supply_hhi)")),
        ),
        ("OEM (DE)", "material_class=permanent_magnet&rare_earth_free=true&sort=hhi", None),
        ("anonymous", "q=ferrite-123", Some(per_index("text LIKE '%ferrite-123%'", "min(designation)"))),
        (
            "anonymous",
            "country=DE&countersigned=false&per_page=50",
            Some(per_index("producer_country = 'DE'", "min(designation)").replace("LIMIT 20", "LIMIT 50")),
        ),
    ];
    for (who, query, baseline) in queries {
        let auth = if who == "anonymous" { String::new() } else { format!("Bearer {token}") };
        let get = |url: &str| {
            let mut req = agent.get(url);
            if !auth.is_empty() {
                req = req.header("Authorization", &auth);
            }
            req.call().unwrap().body_mut().read_to_string().unwrap()
        };
        let url = format!("{base}/v1/search?{query}");
        let nth = |i: usize| url.replace("{min}", &(700 + (i * 37) % 200).to_string());
        let total: serde_json::Value = serde_json::from_str(&get(&nth(100))).unwrap();
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let latencies: Vec<f64> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..2)
                .map(|w| {
                    s.spawn(move || {
                        let mut own = Vec::new();
                        while Instant::now() < deadline || own.len() < 3 {
                            let url = nth(2 * own.len() + w);
                            let t = Instant::now();
                            let _ = get(&url);
                            own.push(t.elapsed().as_secs_f64() * 1e3);
                        }
                        own
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
        });
        let elapsed = started.elapsed().as_secs_f64();
        let mut sorted = latencies.clone();
        sorted.sort_by(f64::total_cmp);
        let p50 = percentile(&sorted, 0.5);
        let shell = match baseline.and_then(|sql| shell_baseline(backend, db_url, &sql, 30)) {
            Some((ms, hits)) => format!("{ms:.1} ({hits}) | {:.2}", ms / p50),
            None => "— | —".to_owned(),
        };
        println!(
            "| {who} | `{query}` | {} | {} | {p50:.1} | {:.1} | {:.2} | {shell} |",
            total["total"],
            sorted.len(),
            percentile(&sorted, 0.99),
            sorted.len() as f64 / elapsed
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}

fn main() {
    let n: usize = std::env::var("PREQUAL_BENCH_PACKAGES").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let seconds: u64 = std::env::var("PREQUAL_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(15);
    assert!(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/prequal").exists(),
        "build the server first: cargo build --release --bin prequal"
    );
    // PREQUAL_BENCH_KEEP: keep the filled registries (printed) to inspect them afterwards.
    let keep = std::env::var_os("PREQUAL_BENCH_KEEP").is_some();
    if std::env::var_os("PREQUAL_BENCH_SKIP_SQLITE").is_none() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("registry.db").display());
        run_backend("sqlite", &url, &dir.path().join("data"), n, seconds);
        if keep {
            println!("kept {url}");
            let _ = dir.keep();
        }
    }
    if let Ok(admin) = std::env::var("PREQUAL_BENCH_POSTGRES") {
        use diesel::Connection;
        let db = "prequal_bench_search";
        let mut conn = diesel::PgConnection::establish(&admin).unwrap();
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&mut conn).unwrap();
        diesel::sql_query(format!("CREATE DATABASE {db}")).execute(&mut conn).unwrap();
        let url = format!("{}/{db}", admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b));
        let dir = tempfile::tempdir().unwrap();
        run_backend("postgres", &url, &dir.path().join("data"), n, seconds);
        if keep {
            println!("kept {url}");
        } else {
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&mut conn).unwrap();
        }
    }
}

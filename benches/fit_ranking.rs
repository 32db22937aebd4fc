//! Benchmark: rank every material in a registry of N packages (default 10 000) against each
//! built-in profile, on SQLite and (when PREQUAL_BENCH_POSTGRES names an admin URL) PostgreSQL.
//! Target: under one second per ranking.
//!
//! The registry is filled through the real publishing path (pack, sign, verify, store): every
//! package is a copy of a sample source with its own material, version and scaled values.
//!
//!   cargo bench --bench fit_ranking               # 10 000 packages
//!   PREQUAL_BENCH_PACKAGES=2000 cargo bench --bench fit_ranking
//!   PREQUAL_BENCH_DIR=/tmp/fit-bench cargo bench --bench fit_ranking   # fill once, measure again
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The same allocator as the server binary (see src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;
use common::copy_tree;

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use prequal::package::signing::encode_public_key;
use prequal::package::{Compression, Limits, SecretKey, pack_dir, sign_package};
use prequal::registry::evidence::FitQuery;
use prequal::registry::views::{NewKey, NewOrganisation};
use prequal::registry::{OrgKind, Policy, Principal, Reader, Registry, Role, Upload};
use prequal::store::{DatabaseUrl, Store};
use sha2::Digest as _;

const SOURCES: [(&str, u32); 5] = [
    ("ndfeb-n42sh-baseline", 35),
    ("ndfeb-gbd-dy-uh", 20),
    ("ferrite-sr-y30bh", 15),
    ("lfp-cell-prismatic", 15),
    ("sodium-ion-cell-cylindrical", 15),
];
const LABS: usize = 20;

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Scales the `value` column of every CSV under `dir/datasets` by `factor`.
fn scale_values(dir: &Path, factor: f64) {
    for e in std::fs::read_dir(dir.join("datasets")).unwrap() {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap().to_owned();
        let vi = header.split(',').position(|c| c == "value").unwrap();
        let mut out = vec![header];
        for line in lines.filter(|l| !l.is_empty()) {
            let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
            let v: f64 = cells[vi].parse().unwrap();
            // Pass/fail outcomes (1/0) stay as they are.
            if v != 0.0 && v != 1.0 {
                cells[vi] = format!("{:.5}", v * factor);
            }
            out.push(cells.join(","));
        }
        std::fs::write(&path, out.join("\n") + "\n").unwrap();
    }
}

fn fill(registry: &Registry, n: usize, work: &Path) {
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-packages/sources");
    let labs: Vec<(String, SecretKey)> =
        (0..LABS).map(|i| (format!("bench-lab-{i:02}"), SecretKey::from_seed([i as u8 + 1; 32]))).collect();
    for (i, (id, key)) in labs.iter().enumerate() {
        let country = ["US", "GB", "DE", "JP", "CA"][i % 5];
        registry
            .create_organisation(&NewOrganisation {
                id: id.clone(),
                name: id.clone(),
                kind: OrgKind::Lab,
                country: country.into(),
            })
            .unwrap();
        registry.add_key(id, &NewKey { public_key: encode_public_key(&key.public_key()) }).unwrap();
    }
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let total_weight: u32 = SOURCES.iter().map(|(_, w)| w).sum();
    let start = Instant::now();
    for i in 0..n {
        let mut pick = (rng.next() * f64::from(total_weight)) as u32;
        let source = SOURCES
            .iter()
            .find(|(_, w)| {
                if pick < *w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .map_or(SOURCES[0].0, |s| s.0);
        // About two packages per material, from different labs.
        let material = i / 2;
        let lab = &labs[i % LABS];
        let dir = work.join(format!("src-{i}"));
        copy_tree(&samples.join(source), &dir);
        let manifest_path = dir.join("prequal.json");
        let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
        m["name"] = format!("bench-{source}-{i}").into();
        m["material"]["designation"] =
            format!("{} bench grade {material}", m["material"]["designation"].as_str().unwrap()).into();
        m["lab"]["name"] = lab.0.clone().into();
        std::fs::write(&manifest_path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        scale_values(&dir, 0.85 + 0.3 * rng.next());
        let zip = work.join(format!("pkg-{i}.zip"));
        pack_dir(&dir, &zip, Compression::Deflated, Limits::default()).unwrap();
        sign_package(&zip, &lab.1, Limits::default()).unwrap();
        let bytes = std::fs::read(&zip).unwrap();
        let mut file = registry.store.blobs.temp_file().unwrap();
        file.write_all(&bytes).unwrap();
        let upload = Upload { file, sha256_hex: hex::encode(sha2::Sha256::digest(&bytes)), size: bytes.len() as u64 };
        let principal =
            Principal { token_id: "bench".into(), organisation: lab.0.clone(), country: "US".into(), role: Role::Lab };
        registry.publish(&principal, upload).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_file(&zip).unwrap();
        if (i + 1) % 1000 == 0 {
            eprintln!("  {} packages published ({:.0}/s)", i + 1, (i + 1) as f64 / start.elapsed().as_secs_f64());
        }
    }
}

fn measure(label: &str, registry: &Registry, runs: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let only = std::env::var("PREQUAL_BENCH_PROFILE").ok();
    for profile in prequal::profile::builtin().unwrap() {
        if only.as_ref().is_some_and(|p| *p != profile.id) {
            continue;
        }
        let query = FitQuery { profile: profile.id.clone(), version: None, material: None };
        let mut times = Vec::new();
        let mut materials = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let (ranking, _) = registry.rank(&Reader::Anonymous, &query).unwrap();
            times.push(t.elapsed().as_secs_f64());
            materials = ranking.materials.len();
        }
        times.sort_by(f64::total_cmp);
        // Where the time goes: loading evidence from the database versus computing the fits.
        let filters = prequal::registry::evidence::profile_filters(&profile);
        let t = Instant::now();
        let materials_ev =
            registry.evidence(&Reader::Anonymous, Some(profile.material_class.as_str()), None, Some(&filters)).unwrap();
        let load = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let _ = prequal::fit::rank(&profile, materials_ev);
        let compute = t.elapsed().as_secs_f64();
        eprintln!("  {}: load {load:.3} s, fit {compute:.3} s", profile.id);
        let line = format!(
            "| {label} | {} | {materials} | {:.3} | {:.3} | {} |",
            profile.id,
            times[times.len() / 2],
            times[times.len() - 1],
            if times[times.len() / 2] < 1.0 { "yes" } else { "no" }
        );
        eprintln!("{line}");
        lines.push(line);
    }
    lines
}

/// Where a backend's registry lives: a fresh temporary folder, or with PREQUAL_BENCH_DIR a kept
/// one that is filled only once (a marker file records the package count).
fn bench_dir(label: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let dir = match std::env::var_os("PREQUAL_BENCH_DIR") {
        Some(d) => Path::new(&d).join(label),
        None => temp.path().to_path_buf(),
    };
    std::fs::create_dir_all(&dir).unwrap();
    (temp, dir)
}

fn run_backend(label: &str, url: DatabaseUrl, dir: &Path, n: usize, runs: usize) -> Vec<String> {
    let marker = dir.join("filled");
    let filled = std::fs::read_to_string(&marker).ok().and_then(|s| s.trim().parse::<usize>().ok()) == Some(n);
    if !filled {
        // A partial or different fill starts over.
        let _ = std::fs::remove_dir_all(dir.join("data"));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("bench.db{suffix}")));
        }
    }
    let store = Store::open(&url, &dir.join("data"), 4).unwrap();
    let registry = Registry::new(store, Policy::default());
    registry.load_builtin_profiles().unwrap();
    if filled {
        eprintln!("{label}: reusing the {n} packages already in {}", dir.display());
    } else {
        eprintln!("{label}: publishing {n} packages");
        let t = Instant::now();
        fill(&registry, n, dir);
        eprintln!("{label}: filled in {:.0} s", t.elapsed().as_secs_f64());
        std::fs::write(&marker, n.to_string()).unwrap();
    }
    measure(label, &registry, runs)
}

fn main() {
    let n: usize = std::env::var("PREQUAL_BENCH_PACKAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let runs: usize = std::env::var("PREQUAL_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let mut lines = Vec::new();
    let keep = std::env::var_os("PREQUAL_BENCH_DIR").is_some();
    // PREQUAL_BENCH_SKIP_SQLITE=1 measures PostgreSQL alone.
    if std::env::var_os("PREQUAL_BENCH_SKIP_SQLITE").is_none() {
        let (_temp, dir) = bench_dir("sqlite");
        if !keep {
            let _ = std::fs::remove_file(dir.join("filled"));
        }
        let url = DatabaseUrl::Sqlite(dir.join("bench.db").display().to_string());
        lines.extend(run_backend("sqlite", url, &dir, n, runs));
    }
    if let Ok(admin) = std::env::var("PREQUAL_BENCH_POSTGRES") {
        use diesel::{Connection, RunQueryDsl};
        let db = "prequal_bench_fit";
        let mut conn = diesel::PgConnection::establish(&admin).unwrap();
        let (_temp, dir) = bench_dir("postgres");
        let reuse = keep && dir.join("filled").exists();
        if !reuse {
            let _ = std::fs::remove_file(dir.join("filled"));
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&mut conn).unwrap();
            diesel::sql_query(format!("CREATE DATABASE {db}")).execute(&mut conn).unwrap();
        }
        let url = format!("{}/{db}", admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b));
        lines.extend(run_backend("postgres", DatabaseUrl::Postgres(url), &dir, n, runs));
        if !keep {
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).execute(&mut conn).unwrap();
        }
    }
    println!(
        "\nRanking every material against each built-in profile, {n} packages, median and worst of {runs} runs (seconds):\n"
    );
    println!("| backend | profile | materials ranked | median s | worst s | under 1 s |");
    println!("|---|---|---|---|---|---|");
    for l in lines {
        println!("{l}");
    }
}

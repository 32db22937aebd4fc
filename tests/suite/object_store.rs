#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The registry with its blobs in a real S3-compatible object store (SeaweedFS, started per
//! test by `common::s3`): uploads land as objects (none in the local blob directory), downloads
//! stream the exact bytes (ranges too) without holding the package in memory, the material page
//! reads stored packages through the store, a crash between storing an object and committing
//! its rows leaves an orphan that the sweeper removes (and never a published object), and a
//! store that goes down gives 503 `blob_store_unavailable` with nothing half-stored.

use crate::common;

use std::path::Path;
use std::time::Duration;

use common::s3::S3Server;
use common::server::{Backend, TestRegistry};
use common::*;
use diesel::{Connection, PgConnection, RunQueryDsl};
use prequal::registry::OrgKind;
use rand_core::{OsRng, RngCore};

both_backends!(objects_round_trip, store_down_is_503_and_nothing_half_stored);

mod postgres_only {
    #[test]
    fn crash_between_put_and_commit_is_swept() {
        if let Some(b) = super::common::server::Backend::postgres() {
            super::crash_between_put_and_commit_is_swept(b)
        }
    }
}

fn start(backend: Backend, s3: &S3Server, prefix: &str) -> TestRegistry {
    let flags = s3.flags(prefix);
    let args: Vec<&str> = flags.iter().map(String::as_str).collect();
    TestRegistry::start_with_blobs(backend, &args, s3.config(prefix))
}

/// A signed package of the baseline sample with an incompressible attachment of `mib` MiB.
fn large_package(dir: &Path, version: &str, mib: usize) -> std::path::PathBuf {
    custom_package_with_files(
        dir,
        BASELINE,
        &format!("large-{version}"),
        |m| {
            m["version"] = version.into();
            let attachment = serde_json::json!({
                "file": "reports/raw-export.bin",
                "description": "Raw instrument export (random bytes for the test).",
                "media_type": "application/octet-stream"
            });
            match m["attachments"].as_array_mut() {
                Some(list) => list.push(attachment),
                None => m["attachments"] = serde_json::json!([attachment]),
            }
        },
        |src| {
            let mut bytes = vec![0u8; mib << 20];
            OsRng.fill_bytes(&mut bytes);
            std::fs::create_dir_all(src.join("reports")).unwrap();
            std::fs::write(src.join("reports/raw-export.bin"), bytes).unwrap();
        },
        &[&test_key(1)],
    )
}

/// Peak resident memory of a process since the last reset, and a reset (Linux).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn reset_peak_rss(pid: u32) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
}

fn objects_round_trip(backend: Backend) {
    let Some(s3) = S3Server::start() else { return };
    let reg = start(backend, &s3, "round-trip");
    let tokens = reg.register(&[("lab-a", OrgKind::Lab, "US", Some(&test_key(1)))]);
    let lab = &tokens["lab-a"];
    let store = s3.client("round-trip");
    let dir = tempfile::tempdir().unwrap();

    // A small package (one PUT) and a large one (a multipart upload of four parts).
    let small = std::fs::read(signed_package(dir.path())).unwrap();
    let large = std::fs::read(large_package(dir.path(), "2.0.0", 64)).unwrap();
    let mut digests = Vec::new();
    for bytes in [&small, &large] {
        let res = reg.upload_bytes(bytes.clone(), Some(lab));
        assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
        let detail = res.json();
        let sha = sha256_hex(bytes);
        assert_eq!(detail["file_sha256"], sha);
        assert!(store.exists(&sha).unwrap(), "object {sha} is in the store");
        digests.push(detail["digest"].as_str().unwrap().to_owned());
    }
    // Nothing in the local blob directory; no staging file left.
    assert_eq!(files_under(&reg.data.join("blobs")), 0);
    assert_eq!(files_under(&reg.data.join("tmp")), 0);
    assert_eq!(store.list().unwrap().len(), 2);

    // Downloads: the exact bytes, a range, a conditional request.
    // A first download warms the client (threads, connections, allocator arenas), so the
    // measured one shows what a download costs.
    let pid = reg.pid().unwrap();
    assert_eq!(reg.get(&format!("/v1/packages/{}/download", digests[1]), None).body.len(), large.len());
    reset_peak_rss(pid);
    let before = peak_rss_kib(pid);
    let dl = reg.get(&format!("/v1/packages/{}/download", digests[1]), None);
    let growth_kib = peak_rss_kib(pid).saturating_sub(before);
    assert_eq!(dl.status, 200);
    assert_eq!(dl.body.len(), large.len());
    assert!(dl.body == large, "downloaded bytes differ from the uploaded package");
    assert_eq!(dl.headers["content-type"], "application/zip");
    assert_eq!(dl.headers["content-length"], large.len().to_string());
    assert!(dl.headers["content-disposition"].contains(".zip"), "{:?}", dl.headers);
    assert_eq!(dl.headers["etag"], format!("\"{}\"", digests[1]));
    // Streamed: the server's peak memory grew by far less than the 64 MiB it sent (measured
    // here: 4 MiB alone, up to 12 MiB with other tests running; a buffered download would add
    // at least the whole package).
    assert!(growth_kib < 24 * 1024, "peak RSS grew by {growth_kib} KiB while sending {} bytes", large.len());
    eprintln!("download of {} bytes: peak RSS +{growth_kib} KiB", large.len());

    let url = format!("{}/v1/packages/{}/download", reg.url, digests[0]);
    let part = common::server::request(&url, "GET", None, None, &[("Range", "bytes=100-1099")]);
    assert_eq!(part.status, 206);
    assert_eq!(part.body, small[100..1100].to_vec());
    assert_eq!(part.headers["content-range"], format!("bytes 100-1099/{}", small.len()));
    let tail = common::server::request(&url, "GET", None, None, &[("Range", "bytes=-10")]);
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, small[small.len() - 10..].to_vec());
    let beyond = format!("bytes={}-", small.len() + 10);
    let refused = common::server::request(&url, "GET", None, None, &[("Range", beyond.as_str())]);
    assert_eq!(refused.status, 416);
    assert_eq!(refused.headers["content-range"], format!("bytes */{}", small.len()));
    let etag = format!("\"{}\"", digests[0]);
    let cached = common::server::request(&url, "GET", None, None, &[("If-None-Match", etag.as_str())]);
    assert_eq!(cached.status, 304);
    assert_eq!(reg.get(&url.replace(&reg.url, ""), None).body, small);

    // The material page reads the stored packages' curves through the object store.
    let manifest = reg.get(&format!("/v1/packages/{}", digests[0]), None).json()["manifest"].clone();
    let material = prequal::fit::material_id(
        manifest["material"]["producer"]["name"].as_str().unwrap(),
        manifest["material"]["designation"].as_str().unwrap(),
    );
    let page = reg.get(&format!("/materials/{material}"), None);
    assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("Demagnetisation curves") && html.contains("<svg"), "curves are drawn");
    assert_eq!(files_under(&reg.data.join("tmp")), 0, "local copies are removed after reading");

    // Readiness checks the store.
    let ready = reg.get("/readyz", None);
    assert_eq!(ready.status, 200, "{}", String::from_utf8_lossy(&ready.body));

    // Take the current version's object away (the page reads the curves of the packages that
    // count as evidence): its download and the page fail with a stable code instead of serving
    // something else.
    store.remove(&sha256_hex(&large)).unwrap();
    let gone = reg.get(&format!("/v1/packages/{}/download", digests[1]), None);
    assert_eq!(gone.status, 500);
    assert_eq!(gone.code(), "blob_missing");
    assert_eq!(reg.get(&format!("/materials/{material}"), None).status, 500);
}

fn store_down_is_503_and_nothing_half_stored(backend: Backend) {
    let Some(mut s3) = S3Server::start() else { return };
    let reg = start(backend, &s3, "outage");
    let tokens = reg.register(&[("lab-a", OrgKind::Lab, "US", Some(&test_key(1)))]);
    let lab = &tokens["lab-a"];
    let dir = tempfile::tempdir().unwrap();
    let first = std::fs::read(package_version(dir.path(), BASELINE, "1.0.0", &[&test_key(1)])).unwrap();
    let second = std::fs::read(package_version(dir.path(), BASELINE, "1.1.0", &[&test_key(1)])).unwrap();
    let res = reg.upload_bytes(first.clone(), Some(lab));
    assert_eq!(res.status, 201);
    let first_digest = res.json()["digest"].as_str().unwrap().to_owned();
    let size_before = reg.library().log_size().unwrap();

    s3.kill();
    let started = std::time::Instant::now();
    let res = reg.upload_bytes(second.clone(), Some(lab));
    assert_eq!(res.status, 503, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.code(), "blob_store_unavailable");
    // The client hears that the object store is down, with the request id; the store's address
    // (internal infrastructure) stays in the server's log.
    let message = res.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains("object store did not answer"), "{message}");
    assert!(message.contains(res.json()["error"]["request_id"].as_str().unwrap()), "{message}");
    assert!(!message.contains("s3://"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(60), "refused within seconds, took {:?}", started.elapsed());
    let ready = reg.get("/readyz", None);
    assert_eq!(ready.status, 503);
    assert!(ready.json()["detail"].as_str().unwrap().contains("blob store"), "{}", ready.json());
    let dl = reg.get(&format!("/v1/packages/{first_digest}/download"), None);
    assert_eq!(dl.status, 503);
    assert_eq!(dl.code(), "blob_store_unavailable");
    // Reads that need only the database still work.
    assert_eq!(reg.get(&format!("/v1/packages/{first_digest}"), None).status, 200);

    // Nothing half-stored: no row, no log entry, no intent, no staging file.
    let lib = reg.library();
    assert_eq!(reg.get("/v1/packages", Some(&reg.operator_token)).json()["total"], 1);
    assert_eq!(lib.log_size().unwrap(), size_before);
    {
        use diesel::QueryDsl;
        use prequal::store::schema::blob_intents;
        let intents: i64 = blob_intents::table.count().get_result(&mut *lib.store.conn().unwrap()).unwrap();
        assert_eq!(intents, 0, "the failed upload's intent was cleared");
    }
    assert_eq!(files_under(&reg.data.join("tmp")), 0);
    drop(lib);

    s3.restart();
    assert_eq!(reg.get("/readyz", None).status, 200);
    assert!(!s3.client("outage").exists(&sha256_hex(&second)).unwrap(), "no object of the refused upload");
    let res = reg.upload_bytes(second.clone(), Some(lab));
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(reg.get(&format!("/v1/packages/{first_digest}/download"), None).body, first);
    assert_eq!(s3.client("outage").list().unwrap().len(), 2);
}

/// A real crash between storing an object and committing its rows: the test holds the
/// package-name lock the publish transaction takes, waits until the server has stored the
/// object, and kills the server with SIGKILL. The object and its intent remain; the sweep at
/// the next start removes both, and leaves every published object alone.
fn crash_between_put_and_commit_is_swept(backend: Backend) {
    let Some(s3) = S3Server::start() else { return };
    let mut reg = start(backend, &s3, "crash");
    let tokens = reg.register(&[("lab-a", OrgKind::Lab, "US", Some(&test_key(1)))]);
    let lab = tokens["lab-a"].clone();
    let store = s3.client("crash");
    let dir = tempfile::tempdir().unwrap();
    let published = std::fs::read(package_version(dir.path(), BASELINE, "1.0.0", &[&test_key(1)])).unwrap();
    assert_eq!(reg.upload_bytes(published.clone(), Some(&lab)).status, 201);
    let doomed = std::fs::read(package_version(dir.path(), BASELINE, "1.1.0", &[&test_key(1)])).unwrap();
    let doomed_sha = sha256_hex(&doomed);

    // Block the publish transaction at its first statement (the package-name lock).
    let mut blocker = PgConnection::establish(&reg.db.url).unwrap();
    let name: String = {
        #[derive(diesel::QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        diesel::sql_query("SELECT name FROM packages LIMIT 1").get_result::<Name>(&mut blocker).unwrap().name
    };
    diesel::sql_query("SELECT pg_advisory_lock(hashtextextended($1, 0))")
        .bind::<diesel::sql_types::Text, _>(&name)
        .execute(&mut blocker)
        .unwrap();
    let url = reg.url.clone();
    let uploader = std::thread::spawn(move || {
        common::server::try_request(
            &format!("{url}/v1/packages"),
            "POST",
            Some(&lab),
            Some(("application/zip", doomed)),
            &[],
        )
    });
    let waited = std::time::Instant::now();
    while !store.exists(&doomed_sha).unwrap() {
        assert!(waited.elapsed() < Duration::from_secs(60), "the server never stored the object");
        std::thread::sleep(Duration::from_millis(50));
    }
    // While the upload is in flight (stored, not committed), a sweep from another process
    // with no grace at all leaves its object alone: the publisher holds the blob's lock.
    std::thread::sleep(Duration::from_millis(1100)); // object times have whole seconds
    let swept = admin_sweep(&reg, &s3);
    assert!(swept.is_empty(), "an in-flight upload was swept: {swept:?}");
    assert!(store.exists(&doomed_sha).unwrap());
    reg.kill();
    assert!(uploader.join().unwrap().is_err(), "the upload was never answered");
    diesel::sql_query("SELECT pg_advisory_unlock(hashtextextended($1, 0))")
        .bind::<diesel::sql_types::Text, _>(&name)
        .execute(&mut blocker)
        .unwrap();

    // The crash left an object without a row, and its intent.
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count = |conn: &mut PgConnection, sql: &str| diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n;
    assert_eq!(count(&mut blocker, "SELECT count(*) AS n FROM packages"), 1);
    let intents = format!("SELECT count(*) AS n FROM blob_intents WHERE blob_sha256 = '{doomed_sha}'");
    assert_eq!(count(&mut blocker, &intents), 1);
    assert!(store.exists(&doomed_sha).unwrap());

    // The killed server's database session (and with it its lock on the blob) ends once
    // PostgreSQL notices; the sweep at the next start then removes the orphan.
    let waited = std::time::Instant::now();
    loop {
        reg.spawn();
        if !store.exists(&doomed_sha).unwrap() {
            break;
        }
        assert!(waited.elapsed() < Duration::from_secs(60), "the orphan object was never swept");
        reg.kill();
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(count(&mut blocker, &intents), 0, "its intent was removed with it");
    assert!(store.exists(&sha256_hex(&published)).unwrap(), "the published object stays");
    assert_eq!(store.list().unwrap().len(), 1);
    let listed = reg.get("/v1/packages", Some(&reg.operator_token)).json();
    assert_eq!(listed["total"], 1);
    let digest = listed["packages"][0]["digest"].as_str().unwrap().to_owned();
    assert_eq!(reg.get(&format!("/v1/packages/{digest}/download"), None).body, published);

    // `prequal admin sweep` with the same flags finds nothing more, and a planted object with
    // no row and no intent (a put whose process died before anything else) goes too.
    let stray = "ab".repeat(32);
    let mut staged = store.temp_file().unwrap();
    std::io::Write::write_all(&mut staged, b"stray").unwrap();
    store.put(staged, &stray).unwrap();
    std::thread::sleep(Duration::from_millis(1100)); // object times have whole seconds
    assert_eq!(admin_sweep(&reg, &s3), vec![stray.clone()]);
    assert!(!store.exists(&stray).unwrap());
    assert!(store.exists(&sha256_hex(&published)).unwrap());
    // Readers ask for the package, never for the sweep's leftovers.
    assert_eq!(reg.get(&format!("/v1/packages/{digest}/download"), None).status, 200);
}

/// `prequal admin sweep --grace 0` on the test's database and object store; the swept hashes.
fn admin_sweep(reg: &TestRegistry, s3: &S3Server) -> Vec<String> {
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prequal"))
        .args(["admin", "--db", &reg.db.url, "--data"])
        .arg(data.path())
        .args(s3.flags("crash"))
        .args(["--json", "sweep", "--grace", "0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

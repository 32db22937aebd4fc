#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Faults under a running registry, with real parts:
//!
//! - **the database restarts** under load: a private PostgreSQL cluster (initdb'd by the test, so
//!   restarting it disturbs no other test) is stopped and started again while clients search and
//!   upload. While it is down, readiness says so and requests get 503 `unavailable` quickly; after
//!   it is back the same server process serves again, without a restart, and nothing
//!   acknowledged is lost;
//! - **the disk fills up** while a package file is stored: the data directory is a small tmpfs.
//!   The upload that does not fit gets 507 `storage_full`, nothing of it stays behind, the
//!   registry keeps serving, and uploads work again once there is room.
//!
//! Both need root (to run PostgreSQL as its own user, to mount a tmpfs): under CI they fail if
//! they cannot; elsewhere they are skipped with a message.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::server::{Backend, TestRegistry, try_request};
use common::*;
use prequal::registry::OrgKind;

fn may_skip(why: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but {why}");
    }
    eprintln!("skipped: {why}");
    true
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A PostgreSQL cluster of the test's own, run as the `postgres` user on a free port.
struct Cluster {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl Cluster {
    fn start() -> Option<Cluster> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|p| p.join("pg_ctl").exists())?;
        let dir = tempfile::tempdir().unwrap();
        // The postgres user must reach its directories.
        Command::new("chmod").arg("755").arg(dir.path()).status().unwrap();
        let data = dir.path().join("cluster");
        std::fs::create_dir(&data).unwrap();
        assert!(Command::new("chown").args(["postgres:postgres"]).arg(&data).status().unwrap().success());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let cluster = Cluster { _dir: dir, data, bin, port };
        cluster.pg_ctl("start");
        Some(cluster)
    }

    fn pg_ctl(&self, action: &str) {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-m", "fast"]);
        if action == "start" {
            cmd.arg("-o")
                .arg(format!("-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off", self.port, self.data.display()))
                .arg("-l")
                .arg(self.data.join("server.log"));
        }
        let out = cmd.arg(action).output().unwrap();
        assert!(out.status.success(), "pg_ctl {action}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

fn upload(reg: &TestRegistry, token: &str, bytes: &[u8]) -> Result<common::server::Response, String> {
    try_request(
        &format!("{}/v1/packages", reg.url),
        "POST",
        Some(token),
        Some(("application/zip", bytes.to_vec())),
        &[],
    )
}

fn packages(dir: &Path, name: &str, n: usize) -> Vec<(Vec<u8>, String)> {
    (0..n)
        .map(|i| {
            let version = format!("3.0.{i}");
            let path = custom_package(
                dir,
                BASELINE,
                &format!("{name}-{i}"),
                |m| {
                    m["name"] = name.into();
                    m["version"] = version.as_str().into();
                },
                &[&test_key(1)],
            );
            let bytes = std::fs::read(path).unwrap();
            let sha = sha256_hex(&bytes);
            (bytes, sha)
        })
        .collect()
}

#[test]
fn database_restart_under_load_recovers_without_a_server_restart() {
    if !is_root() && may_skip("not root: cannot run a private PostgreSQL cluster as its user") {
        return;
    }
    let Some(cluster) = Cluster::start() else {
        may_skip("no PostgreSQL server binaries under /usr/lib/postgresql");
        return;
    };
    let reg = TestRegistry::start(Backend::Postgres(cluster.admin_url()));
    let token = reg.register(&[("fault-lab", OrgKind::Lab, "US", Some(&test_key(1)))])["fault-lab"].clone();
    let dir = tempfile::tempdir().unwrap();
    let pkgs = packages(dir.path(), "fault-restart-magnet", 12);
    let mut acknowledged = Vec::new();
    for (bytes, sha) in &pkgs[..4] {
        let r = upload(&reg, &token, bytes).unwrap();
        assert_eq!(r.status, 201);
        acknowledged.push((r.json()["digest"].as_str().unwrap().to_owned(), sha.clone()));
    }
    assert_eq!(reg.get("/readyz", None).status, 200);

    // Readers keep asking while the database goes away and comes back.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (url, stop) = (reg.url.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let t = Instant::now();
                let r = try_request(&format!("{url}/v1/search?q=fault"), "GET", None, None, &[]).unwrap();
                assert!(t.elapsed() < Duration::from_secs(15), "a request hung for {:?}", t.elapsed());
                if r.status != 200 {
                    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
                    assert_eq!(r.code(), "unavailable");
                }
                *statuses.entry(r.status).or_default() += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            statuses
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    cluster.pg_ctl("stop");

    // Down: readiness says so within a few seconds, and an upload is refused with a stable code
    // and leaves nothing behind.
    let t = Instant::now();
    let ready = reg.get("/readyz", None);
    assert_eq!(ready.status, 503);
    assert!(t.elapsed() < Duration::from_secs(5), "readiness took {:?} while the database was down", t.elapsed());
    assert!(ready.json()["detail"].as_str().unwrap().contains("database"), "{}", ready.json());
    let refused = upload(&reg, &token, &pkgs[4].0).unwrap();
    assert_eq!(refused.status, 503, "{}", String::from_utf8_lossy(&refused.body));
    assert_eq!(refused.code(), "unavailable");
    std::thread::sleep(Duration::from_secs(1));

    cluster.pg_ctl("start");
    wait_for("ready again after the database restart", Duration::from_secs(30), || {
        reg.get("/readyz", None).status == 200
    });
    // The same process serves and accepts uploads again.
    for (bytes, sha) in &pkgs[4..8] {
        let r = upload(&reg, &token, bytes).unwrap();
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        acknowledged.push((r.json()["digest"].as_str().unwrap().to_owned(), sha.clone()));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let statuses = reader.join().unwrap();
    eprintln!("reader statuses across the restart: {statuses:?}");
    assert!(statuses.get(&503).is_some_and(|n| *n > 0), "the outage was never seen: {statuses:?}");
    assert!(statuses.get(&200).is_some_and(|n| *n > 0));

    for (digest, sha) in &acknowledged {
        let dl = reg.get(&format!("/v1/packages/{digest}/download"), None);
        assert_eq!(dl.status, 200, "{digest}");
        assert_eq!(&sha256_hex(&dl.body), sha);
    }
    let report = reg.admin_check();
    assert_eq!(report["packages"], acknowledged.len());
    assert_eq!(std::fs::read_dir(reg.data.join("tmp")).unwrap().count(), 0, "temporary files left");
}

/// Unmounts the tmpfs when the test ends, however it ends.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn disk_full_while_storing_is_a_clean_error() {
    if !is_root() && may_skip("not root: cannot mount a small tmpfs as the data directory") {
        return;
    }
    let mut reg = TestRegistry::start(Backend::Sqlite);
    let token = reg.register(&[("full-lab", OrgKind::Lab, "US", Some(&test_key(1)))])["full-lab"].clone();
    reg.kill();
    // The data directory (package files and uploads in progress; the database lives elsewhere)
    // moves onto a 256 KiB tmpfs.
    let saved = reg.dir.path().join("data-before");
    assert!(Command::new("cp").arg("-a").arg(&reg.data).arg(&saved).status().unwrap().success());
    let out =
        Command::new("mount").args(["-t", "tmpfs", "-o", "size=256k"]).arg("tmpfs").arg(&reg.data).output().unwrap();
    if !out.status.success() {
        may_skip(&format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&out.stderr)));
        return;
    }
    let _mount = Mount(reg.data.clone());
    assert!(
        Command::new("cp").arg("-a").arg(format!("{}/.", saved.display())).arg(&reg.data).status().unwrap().success()
    );
    reg.spawn();

    let dir = tempfile::tempdir().unwrap();
    let pkgs = packages(dir.path(), "fault-full-magnet", 40);
    let mut acknowledged = Vec::new();
    let mut refusal = None;
    for (i, (bytes, sha)) in pkgs.iter().enumerate() {
        let r = upload(&reg, &token, bytes).unwrap();
        if r.status == 201 {
            acknowledged.push((r.json()["digest"].as_str().unwrap().to_owned(), sha.clone()));
        } else {
            refusal = Some((i, r));
            break;
        }
    }
    let (at, refusal) = refusal.expect("40 packages fit in 256 KiB?");
    assert!(!acknowledged.is_empty(), "not even one package fitted");
    assert_eq!(refusal.status, 507, "{}", String::from_utf8_lossy(&refusal.body));
    assert_eq!(refusal.code(), "storage_full");
    assert!(refusal.json()["error"]["message"].as_str().unwrap().contains("nothing was stored"));

    // Nothing half-stored: no temporary file, one package file per acknowledged upload.
    assert_eq!(files_under(&reg.data.join("tmp")), 0, "temporary files left");
    assert_eq!(
        files_under(&reg.data.join("blobs")),
        acknowledged.len(),
        "package files and acknowledged uploads differ"
    );
    // Still serving everything it acknowledged.
    assert_eq!(reg.get("/healthz", None).status, 200);
    for (digest, sha) in &acknowledged {
        assert_eq!(&sha256_hex(&reg.get(&format!("/v1/packages/{digest}/download"), None).body), sha);
    }
    let report = reg.admin_check();
    assert_eq!(report["packages"], acknowledged.len());

    // Room again: the refused upload now goes through.
    let out = Command::new("mount").args(["-o", "remount,size=4m"]).arg(&reg.data).output().unwrap();
    assert!(out.status.success(), "remount: {}", String::from_utf8_lossy(&out.stderr));
    let r = upload(&reg, &token, &pkgs[at].0).unwrap();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    reg.kill();
}

/// Blob locks (PostgreSQL) hold a connection while a blob is stored, which for a large object
/// PUT can take minutes: at most half the pool may be held that way, so readers always get a
/// connection. A third slow store on a pool of 4 waits for a permit, holding no connection,
/// while two readers still connect; it proceeds as soon as a store finishes.
#[test]
fn slow_blob_stores_leave_half_the_pool_to_readers() {
    use prequal::store::{DatabaseUrl, Store};
    let Some(backend) = Backend::postgres() else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = common::server::TestDb::new(&backend, dir.path());
    let store = Store::open(&DatabaseUrl::parse(&db.url), dir.path(), 4).unwrap();
    let first = store.lock_blob_shared(&"a".repeat(64)).unwrap();
    let second = store.lock_blob_shared(&"b".repeat(64)).unwrap();
    let (granted, waiting) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let third = store.lock_blob_shared(&"c".repeat(64)).unwrap();
            granted.send(()).unwrap();
            drop(third);
        });
        assert!(waiting.recv_timeout(Duration::from_millis(500)).is_err(), "a third blob lock got a connection");
        let readers = (store.conn().unwrap(), store.conn().unwrap());
        drop(readers);
        drop(first);
        waiting.recv_timeout(Duration::from_secs(10)).expect("the waiting store was not let through");
    });
    drop(second);
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The files under `deploy/`, checked with the real tools that consume them (no Docker engine runs
//! here): the compose file with docker-compose's own validation, the systemd unit with
//! `systemd-analyze verify`, the reverse-proxy configuration by running nginx with it in front of
//! two real registry processes, and the backup and restore scripts end to end on SQLite and
//! PostgreSQL: back up, wipe, restore, then every package and the signed checkpoint must be exactly
//! what they were.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::s3::S3Server;
use common::server::{Backend, TestRegistry, request, try_request};

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(file)
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    eprintln!(
        "{cmd:?}\n--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn compose_file_is_valid_and_complete() {
    let compose = deploy("compose.yaml");
    let out = run(Command::new("docker-compose").arg("-f").arg(&compose).args(["config", "-q"]));
    assert!(out.status.success(), "docker-compose rejects deploy/compose.yaml");
    let out = run(Command::new("docker-compose").arg("-f").arg(&compose).args(["config", "--services"]));
    let services: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect();
    for s in ["postgres", "objects", "registry-1", "registry-2", "proxy", "mirror"] {
        assert!(services.iter().any(|x| x == s), "service {s} missing from {services:?}");
    }
    // The resolved configuration: both replicas on the same database and object store, the
    // proxy in front of both, the mirror following the proxy.
    let out = run(Command::new("docker-compose").arg("-f").arg(&compose).arg("config"));
    let config = String::from_utf8_lossy(&out.stdout);
    assert!(config.matches("PREQUAL_DB: postgres://prequal:").count() >= 2, "{config}");
    assert!(config.matches("PREQUAL_BLOB_STORE: s3://").count() >= 2, "{config}");

    // A compose file that references an undefined service is refused: the check is real.
    let broken = tempfile::NamedTempFile::new().unwrap();
    let text = std::fs::read_to_string(&compose).unwrap().replace("condition: service_healthy", "condition: bogus");
    std::fs::write(broken.path(), text).unwrap();
    let out = run(Command::new("docker-compose").arg("-f").arg(broken.path()).args(["config", "-q"]));
    assert!(!out.status.success(), "a broken compose file was accepted");
}

#[test]
fn systemd_unit_verifies_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let env = deploy("prequal.env.example");
    let unit = std::fs::read_to_string(deploy("prequal.service"))
        .unwrap()
        .replace("/usr/local/bin/prequal", env!("CARGO_BIN_EXE_prequal"))
        .replace("/etc/prequal/prequal.env", env.to_str().unwrap());
    let path = dir.path().join("prequal.service");
    std::fs::write(&path, &unit).unwrap();
    let out = run(Command::new("systemd-analyze").arg("verify").arg(&path));
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.trim().is_empty(), "systemd-analyze warns about deploy/prequal.service:\n{stderr}");
    for hardening in ["NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=\n", "SystemCallFilter="] {
        assert!(unit.contains(hardening), "{hardening} missing");
    }

    // The same check catches a misspelt option.
    std::fs::write(&path, unit.replace("ProtectHome=yes", "ProtectHome=bogus")).unwrap();
    let out = run(Command::new("systemd-analyze").arg("verify").arg(&path));
    assert!(!String::from_utf8_lossy(&out.stderr).trim().is_empty());
}

/// nginx with deploy/nginx.conf (upstream names pointed at loopback) in front of two registry
/// processes sharing one database and data directory: reads, uploads and downloads go through,
/// and reads keep working when one replica dies.
#[test]
fn nginx_config_proxies_to_two_replicas_and_fails_over() {
    let samples = common::samples_dir();
    let mut first = TestRegistry::start_with(Backend::Sqlite, &["--demo", "--samples", samples.to_str().unwrap()]);
    let second = second_replica(&first);

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let host = |url: &str| url.trim_start_matches("http://").to_owned();
    let conf = std::fs::read_to_string(deploy("nginx.conf"))
        .unwrap()
        .replace("registry-1:8080", &host(&first.url))
        .replace("registry-2:8080", &host(&second.url))
        .replace("listen 8080;", &format!("listen 127.0.0.1:{port};"))
        .replace("pid /tmp/nginx.pid;", &format!("pid {}/nginx.pid;", dir.path().display()))
        .replace("/tmp/nginx-", &format!("{}/nginx-", dir.path().display()));
    let conf_path = dir.path().join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let out = run(Command::new("nginx").arg("-t").arg("-c").arg(&conf_path).arg("-p").arg(dir.path()));
    assert!(out.status.success(), "nginx -t rejects deploy/nginx.conf");
    let mut nginx = Command::new("nginx")
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(dir.path())
        .args(["-g", "daemon off;"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let proxy = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if try_request(&format!("{proxy}/healthz"), "GET", None, None, &[]).is_ok_and(|r| r.status == 200) {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ready, "nginx did not come up");

    let direct = request(&format!("{}/v1/packages", first.url), "GET", None, None, &[]).json();
    for _ in 0..4 {
        let via = request(&format!("{proxy}/v1/packages"), "GET", None, None, &[]);
        assert_eq!(via.status, 200);
        assert_eq!(via.json(), direct, "the proxy answers something else than the replicas");
    }
    // A download through the proxy is the stored package, byte for byte.
    let digest = direct["packages"][0]["digest"].as_str().unwrap().to_owned();
    let path = format!("/v1/packages/{digest}/download");
    let via = request(&format!("{proxy}{path}"), "GET", None, None, &[]);
    assert_eq!(via.status, 200);
    assert_eq!(via.body, first.get(&path, None).body);
    // The registry's own error (code included) reaches the client through the proxy.
    let refused = request(&format!("{proxy}/v1/packages"), "POST", None, Some(("application/zip", b"x".to_vec())), &[]);
    assert_eq!(refused.status, 401);
    assert_eq!(refused.code(), "unauthenticated");

    // One replica dies: reads keep working through the other.
    first.kill();
    for _ in 0..4 {
        let via = request(&format!("{proxy}/v1/packages"), "GET", None, None, &[]);
        assert_eq!(via.status, 200, "the proxy did not fail over");
        assert_eq!(via.json(), direct);
    }
    // TERM (not KILL) so the master stops its workers too.
    let _ = Command::new("kill").args(["-TERM", &nginx.id().to_string()]).status();
    let _ = nginx.wait();
    drop(second);
}

/// A second `prequal serve` on the first one's database and data directory.
fn second_replica(first: &TestRegistry) -> common::server::ChildServer {
    common::server::ChildServer::start(&first.db.url, &first.data, &[])
}

fn script(name: &str, db: &str, data: &Path, extra_env: &[(&str, &str)], arg: &Path) -> Output {
    let mut cmd = Command::new("bash");
    cmd.arg(deploy(name))
        .arg(arg)
        .env("PREQUAL_DB", db)
        .env("PREQUAL_DATA", data)
        .env("PREQUAL_BIN", env!("CARGO_BIN_EXE_prequal"))
        .env_remove("PREQUAL_URL");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// Removes everything the registry stored: its database contents, its data directory and, with an
/// object store, every object under its prefix.
fn wipe(reg: &TestRegistry, s3: Option<&S3Server>) {
    if let Some(s3) = s3 {
        let store = s3.client(PREFIX);
        for (sha, _) in store.list().unwrap() {
            store.remove(&sha).unwrap();
        }
        assert!(store.list().unwrap().is_empty());
    }
    match &reg.backend {
        Backend::Sqlite => {
            let file = reg.db.url.trim_start_matches("sqlite://");
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{file}{suffix}"));
            }
        }
        Backend::Postgres(_) => {
            let out = run(Command::new("psql").arg(&reg.db.url).args([
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                "DROP SCHEMA public CASCADE; CREATE SCHEMA public;",
            ]));
            assert!(out.status.success());
        }
    }
    std::fs::remove_dir_all(&reg.data).unwrap();
}

const PREFIX: &str = "backup";

fn backup_then_restore(backend: Backend) {
    round_trip(backend, None);
}

/// The same with the package files in an S3-compatible object store (SeaweedFS), copied with
/// rclone by the scripts.
#[test]
fn backup_then_restore_with_an_object_store() {
    let Some(backend) = Backend::postgres() else { return };
    let Some(s3) = S3Server::start() else { return };
    round_trip(backend, Some(&s3));
}

fn round_trip(backend: Backend, s3: Option<&S3Server>) {
    let samples = common::samples_dir();
    let mut args: Vec<String> =
        ["--demo", "--samples", samples.to_str().unwrap()].iter().map(|s| s.to_string()).collect();
    let mut env: Vec<(String, String)> = Vec::new();
    if let Some(s3) = s3 {
        args.extend(s3.flags(PREFIX));
        env = vec![
            ("PREQUAL_BLOB_STORE".into(), format!("s3://{}/{PREFIX}", common::s3::BUCKET)),
            ("PREQUAL_S3_ENDPOINT".into(), s3.endpoint.clone()),
            ("PREQUAL_S3_ALLOW_HTTP".into(), "true".into()),
            ("AWS_ACCESS_KEY_ID".into(), common::s3::ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY".into(), common::s3::SECRET_KEY.into()),
        ];
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut reg = TestRegistry::start_with(backend, &args);
    let checkpoint = reg.get("/log/checkpoint", None);
    assert_eq!(checkpoint.status, 200);
    let list = reg.get("/v1/packages?limit=100", Some(&reg.operator_token)).json();
    let packages: Vec<(String, Vec<u8>)> = list["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let digest = p["digest"].as_str().unwrap().to_owned();
            let bytes = reg.get(&format!("/v1/packages/{digest}/download"), Some(&reg.operator_token)).body;
            (digest, bytes)
        })
        .collect();
    assert!(packages.len() >= 6, "{list}");

    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("b1");
    let with_url: Vec<(&str, &str)> = env.iter().copied().chain([("PREQUAL_URL", reg.url.as_str())]).collect();
    let out = script("backup.sh", &reg.db.url, &reg.data, &with_url, &backup);
    assert!(out.status.success(), "backup failed");
    assert!(backup.join("checkpoint.txt").is_file() && backup.join("SHA256SUMS").is_file());
    // A second backup into the same directory is refused rather than mixed.
    assert_eq!(script("backup.sh", &reg.db.url, &reg.data, &env, &backup).status.code(), Some(2));
    // The package files are in the backup (from the object store when there is one).
    assert_eq!(walk(&backup.join("blobs")).len(), packages.len(), "package files in the backup");

    reg.kill();
    wipe(&reg, s3);

    // A tampered package file in the backup, with its checksum list rewritten to match, is
    // caught by the check after the restore (the registry's own hashes, not the backup's).
    let tampered = backups.path().join("tampered");
    copy_dir(&backup, &tampered);
    let blob = walk(&tampered.join("blobs")).into_iter().next().unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 30;
    bytes[last] ^= 0x55;
    std::fs::write(&blob, bytes).unwrap();
    let sums = run(Command::new("bash")
        .arg("-c")
        .arg("find . -type f ! -name SHA256SUMS -print0 | sort -z | xargs -0 sha256sum > SHA256SUMS")
        .current_dir(&tampered));
    assert!(sums.status.success());
    let out = script("restore.sh", &reg.db.url, &reg.data, &env, &tampered);
    assert!(!out.status.success(), "a restore with a tampered package passed its check");
    assert!(String::from_utf8_lossy(&out.stdout).contains("blob_hash_mismatch"));
    // Restoring over what is there now is refused.
    let out = script("restore.sh", &reg.db.url, &reg.data, &env, &backup);
    assert_eq!(out.status.code(), Some(2), "restore into a non-empty database or data directory");
    wipe(&reg, s3);

    let out = script("restore.sh", &reg.db.url, &reg.data, &env, &backup);
    assert!(out.status.success(), "restore failed");
    reg.spawn();
    let after = reg.get("/log/checkpoint", None);
    assert_eq!(
        String::from_utf8_lossy(&after.body),
        String::from_utf8_lossy(&checkpoint.body),
        "the restored registry signs another checkpoint"
    );
    for (digest, bytes) in &packages {
        let got = reg.get(&format!("/v1/packages/{digest}/download"), Some(&reg.operator_token));
        assert_eq!(got.status, 200, "{digest} not restored");
        assert!(got.body == *bytes, "{digest} differs after the restore");
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out.sort();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    assert!(Command::new("cp").arg("-a").arg(from).arg(to).status().unwrap().success());
}

both_backends!(backup_then_restore);

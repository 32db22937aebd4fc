//! A real S3-compatible server for tests: SeaweedFS (`weed mini`, installed by
//! `tests/tools/install-s3.sh`) on free loopback ports with a temporary directory, one per
//! test, with credentials (anonymous requests are refused) and the bucket `prequal-test`.
//!
//! The tests run when `PREQUAL_TEST_S3` names the `weed` command; `.ci/run` sets it. Under CI
//! they fail loudly if it is unset or the server does not start; elsewhere they are skipped with
//! a message.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use prequal::store::blobs::S3Config;
use prequal::store::{BlobConfig, BlobStore};

pub const BUCKET: &str = "prequal-test";
pub const ACCESS_KEY: &str = "prequal-test-key";
pub const SECRET_KEY: &str = "prequal-test-secret-0123456789";

pub struct S3Server {
    command: String,
    pub dir: tempfile::TempDir,
    ports: Vec<u16>,
    pub endpoint: String,
    child: Option<Child>,
}

/// The `weed` command, or None (with a message) when tests may skip.
pub fn s3_command() -> Option<String> {
    match std::env::var("PREQUAL_TEST_S3") {
        Ok(cmd) if !cmd.is_empty() => Some(cmd),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but PREQUAL_TEST_S3 is not: the object-storage tests must run in CI")
        }
        _ => {
            eprintln!(
                "skipped: PREQUAL_TEST_S3 is not set (object-storage tests run in CI; tests/tools/install-s3.sh)"
            );
            None
        }
    }
}

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    listeners.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

impl S3Server {
    /// Starts a server; None when `PREQUAL_TEST_S3` is unset outside CI.
    pub fn start() -> Option<S3Server> {
        let command = s3_command()?;
        let dir = tempfile::tempdir().unwrap();
        let mut server = S3Server { command, dir, ports: Vec::new(), endpoint: String::new(), child: None };
        // Ports are picked free and then handed over, so another process may take one in
        // between: try again with new ones.
        for attempt in 0..3 {
            server.ports = free_ports(10);
            server.endpoint = format!("http://127.0.0.1:{}", server.ports[0]);
            server.launch();
            if server.wait_ready(Duration::from_secs(30)) {
                return Some(server);
            }
            eprintln!("S3 server attempt {attempt} did not start:\n{}", server.log());
            server.kill();
        }
        panic!("the S3 server ({}) did not start; see tests/tools/install-s3.sh\n{}", server.command, server.log());
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("weed.log")
    }

    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        text.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    fn launch(&mut self) {
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap();
        let p = &self.ports;
        let port = |flag: &str, i: usize| format!("-{flag}={}", p[i]);
        let child = Command::new(&self.command)
            .arg("mini")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-admin.ui=false", "-webdav=false"])
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-bucket={BUCKET}"))
            .arg(port("s3.port", 0))
            .arg(port("s3.port.grpc", 1))
            .arg(port("master.port", 2))
            .arg(port("master.port.grpc", 3))
            .arg(port("volume.port", 4))
            .arg(port("volume.port.grpc", 5))
            .arg(port("filer.port", 6))
            .arg(port("filer.port.grpc", 7))
            .arg(port("admin.port", 8))
            .arg(port("admin.port.grpc", 9))
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run '{}' (tests/tools/install-s3.sh installs it): {e}", self.command));
        self.child = Some(child);
    }

    /// Ready when a signed listing of the bucket succeeds (the bucket exists, the credentials
    /// are accepted).
    fn wait_ready(&mut self, limit: Duration) -> bool {
        let probe = BlobStore::open_with(self.dir.path(), &self.config("readiness")).unwrap();
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                return false;
            }
            if probe.list().is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    /// SIGKILL: the store becomes unreachable at once.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same ports and data.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
        assert!(self.wait_ready(Duration::from_secs(30)), "the S3 server did not restart:\n{}", self.log());
    }

    /// The blob store configuration for objects under `prefix` in the test bucket.
    pub fn config(&self, prefix: &str) -> BlobConfig {
        let mut c = S3Config::parse_location(&format!("s3://{BUCKET}/{prefix}")).unwrap();
        c.endpoint = Some(self.endpoint.clone());
        c.access_key_id = Some(ACCESS_KEY.to_owned());
        c.secret_access_key = Some(SECRET_KEY.to_owned());
        c.allow_http = true;
        BlobConfig::S3(c)
    }

    /// The `prequal serve` / `prequal admin` flags for the same (the secret travels in the
    /// environment in production; here flags keep each process's settings explicit).
    pub fn flags(&self, prefix: &str) -> Vec<String> {
        [
            "--blob-store",
            &format!("s3://{BUCKET}/{prefix}"),
            "--s3-endpoint",
            &self.endpoint,
            "--s3-access-key-id",
            ACCESS_KEY,
            "--s3-secret-access-key",
            SECRET_KEY,
            "--s3-allow-http",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// A blob store client on the same objects, for checks from the test.
    pub fn client(&self, prefix: &str) -> BlobStore {
        let dir = self.dir.path().join("client");
        std::fs::create_dir_all(&dir).unwrap();
        BlobStore::open_with(&dir, &self.config(prefix)).unwrap()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

//! A real registry for tests: the `prequal` binary on a free loopback port, with its own SQLite
//! file or its own PostgreSQL database (created for the test and dropped afterwards).
//!
//! PostgreSQL tests run when `PREQUAL_TEST_POSTGRES` names a server (an admin URL such as
//! `postgres://postgres@127.0.0.1:5432/postgres`); `.ci/run` sets it. Under CI they fail loudly
//! if it is unset or the server is unreachable; elsewhere they are skipped with a message.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use prequal::registry::views::{NewKey, NewOrganisation, NewToken};
use prequal::registry::{OrgKind, Policy, Registry, Role};
use prequal::store::{BlobConfig, DatabaseUrl, Store};
use rand_core::{OsRng, RngCore};
use serde_json::Value;

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL backend, or None (with a message) when tests may skip it.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("PREQUAL_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ if std::env::var_os("CI").is_some() => {
                panic!("CI is set but PREQUAL_TEST_POSTGRES is not: the PostgreSQL tests must run in CI")
            }
            _ => {
                eprintln!("skipped: PREQUAL_TEST_POSTGRES is not set (PostgreSQL tests run in CI)");
                None
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// Runs a test body against SQLite and, when available, PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $( #[test] fn $name() { super::$name($crate::common::server::Backend::Sqlite) } )*
        }
        mod on_postgres {
            $( #[test] fn $name() {
                if let Some(b) = $crate::common::server::Backend::postgres() { super::$name(b) }
            } )*
        }
    };
}

/// A database of the test's own.
pub struct TestDb {
    pub url: String,
    postgres: Option<(String, String)>,
}

fn with_database(admin_url: &str, db: &str) -> String {
    match admin_url.rsplit_once('/') {
        Some((base, _)) if base.contains("://") && base.len() > "postgres://".len() => format!("{base}/{db}"),
        _ => format!("{}/{db}", admin_url.trim_end_matches('/')),
    }
}

impl TestDb {
    pub fn new(backend: &Backend, dir: &Path) -> TestDb {
        match backend {
            Backend::Sqlite => {
                TestDb { url: format!("sqlite://{}", dir.join("registry.db").display()), postgres: None }
            }
            Backend::Postgres(admin) => {
                let mut id = [0u8; 6];
                OsRng.fill_bytes(&mut id);
                let name = format!("prequal_test_{}", hex::encode(id));
                let mut conn = PgConnection::establish(admin)
                    .unwrap_or_else(|e| panic!("PREQUAL_TEST_POSTGRES={admin}: cannot connect to PostgreSQL: {e}"));
                diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).unwrap();
                TestDb { url: with_database(admin, &name), postgres: Some((admin.clone(), name)) }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.postgres
            && let Ok(mut conn) = PgConnection::establish(admin)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
        }
    }
}

/// A registry process and the means to talk to it.
pub struct TestRegistry {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    /// Shared by the replicas of one registry ([`TestRegistry::replica`]).
    pub db: std::sync::Arc<TestDb>,
    pub data: PathBuf,
    pub url: String,
    pub operator_token: String,
    /// Where blobs go (the `--blob-store` flags must say the same, in `extra_args`).
    pub blob_config: BlobConfig,
    child: Option<Child>,
    extra_args: Vec<String>,
    listening: Option<std::sync::Mutex<std::sync::mpsc::Receiver<String>>>,
}

pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("status {}: body is not JSON ({e}): {}", self.status, String::from_utf8_lossy(&self.body))
        })
    }

    /// The stable error code of a refusal.
    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or("").to_owned()
    }
}

impl TestRegistry {
    pub fn start(backend: Backend) -> TestRegistry {
        Self::start_with(backend, &[])
    }

    pub fn start_with(backend: Backend, extra_args: &[&str]) -> TestRegistry {
        Self::start_with_blobs(backend, extra_args, BlobConfig::Filesystem)
    }

    /// A registry whose blobs are in `blob_config` (`extra_args` holds the matching flags).
    pub fn start_with_blobs(backend: Backend, extra_args: &[&str], blob_config: BlobConfig) -> TestRegistry {
        let mut reg = Self::prepare(backend, extra_args, blob_config);
        reg.add_operator();
        reg.spawn();
        reg
    }

    /// A registry with its own new database, not started yet (no migrations run).
    pub fn prepare(backend: Backend, extra_args: &[&str], blob_config: BlobConfig) -> TestRegistry {
        let dir = tempfile::tempdir().unwrap();
        let db = TestDb::new(&backend, dir.path());
        let data = dir.path().join("data");
        TestRegistry {
            backend,
            data,
            db: std::sync::Arc::new(db),
            dir,
            url: String::new(),
            operator_token: String::new(),
            blob_config,
            child: None,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            listening: None,
        }
    }

    /// Another `prequal serve` process on the same database and blob store, with a data
    /// directory of its own; not started. `extra_args` replace this one's.
    pub fn replica(&self, extra_args: &[&str]) -> TestRegistry {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        TestRegistry {
            backend: self.backend.clone(),
            data,
            db: std::sync::Arc::clone(&self.db),
            dir,
            url: String::new(),
            operator_token: self.operator_token.clone(),
            blob_config: self.blob_config.clone(),
            child: None,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            listening: None,
        }
    }

    /// Registers the test operator and keeps its token.
    pub fn add_operator(&mut self) {
        let lib = self.library();
        lib.create_organisation(&NewOrganisation {
            id: "test-operator".into(),
            name: "Test operator".into(),
            kind: OrgKind::Operator,
            country: "US".into(),
        })
        .unwrap();
        self.operator_token = lib
            .create_token(&NewToken {
                organisation: "test-operator".into(),
                role: Role::Operator,
                label: "tests".into(),
            })
            .unwrap()
            .token;
    }

    /// The registry as a library, on the same database and data directory.
    pub fn library(&self) -> Registry {
        let store = Store::open_with(&DatabaseUrl::parse(&self.db.url), &self.data, 2, &self.blob_config).unwrap();
        Registry::new(store, Policy::default())
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Starts the server process and waits for its address.
    pub fn spawn(&mut self) {
        self.launch();
        self.wait_listening();
    }

    /// Starts the server process without waiting (see [`TestRegistry::wait_listening`]), so
    /// that several can start at once.
    pub fn launch(&mut self) {
        let (child, rx) = launch_server(&self.db.url, &self.data, &self.extra_args, &self.log_path());
        self.child = Some(child);
        self.listening = Some(std::sync::Mutex::new(rx));
    }

    /// Waits until a launched server listens, and keeps its address.
    pub fn wait_listening(&mut self) {
        let rx = self.listening.take().unwrap().into_inner().unwrap();
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => self.url = url,
            Err(_) => {
                self.kill();
                panic!("the server did not start:\n{}", std::fs::read_to_string(self.log_path()).unwrap_or_default());
            }
        }
    }

    /// `prequal admin check --json` on this registry's database and data directory: every stored
    /// package re-verified, the log recomputed. Panics with the report unless it passes.
    pub fn admin_check(&self) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_prequal"))
            .args(["admin", "--db", &self.db.url, "--data"])
            .arg(&self.data)
            .args(["check", "--json"])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("admin check: {}", String::from_utf8_lossy(&out.stderr)));
        assert!(out.status.success(), "prequal admin check: {report}");
        report
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        child.wait().unwrap()
    }

    /// Waits for a process that was sent a signal elsewhere.
    pub fn terminate_wait(&mut self) -> std::process::ExitStatus {
        self.child.take().unwrap().wait().unwrap()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<(&str, Vec<u8>)>) -> Response {
        request(&format!("{}{path}", self.url), method, token, body, &[])
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.request("GET", path, token, None)
    }

    pub fn post_json(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        self.request("POST", path, token, Some(("application/json", serde_json::to_vec(body).unwrap())))
    }

    pub fn upload(&self, package: &Path, token: Option<&str>) -> Response {
        self.upload_bytes(std::fs::read(package).unwrap(), token)
    }

    pub fn upload_bytes(&self, bytes: Vec<u8>, token: Option<&str>) -> Response {
        self.request("POST", "/v1/packages", token, Some(("application/zip", bytes)))
    }

    /// Registers organisations with keys and returns a token for each: (id, kind, country, key).
    pub fn register(
        &self,
        orgs: &[(&str, OrgKind, &str, Option<&prequal::package::SecretKey>)],
    ) -> BTreeMap<String, String> {
        let lib = self.library();
        let mut tokens = BTreeMap::new();
        for (id, kind, country, key) in orgs {
            lib.create_organisation(&NewOrganisation {
                id: (*id).into(),
                name: format!("{id} (test)"),
                kind: *kind,
                country: (*country).into(),
            })
            .unwrap();
            if let Some(key) = key {
                let public_key = prequal::package::signing::encode_public_key(&key.public_key());
                lib.add_key(id, &NewKey { public_key }).unwrap();
            }
            let role = match kind {
                OrgKind::Lab => Role::Lab,
                OrgKind::Certifier => Role::Certifier,
                OrgKind::Operator => Role::Operator,
                _ => Role::Reader,
            };
            let token =
                lib.create_token(&NewToken { organisation: (*id).into(), role, label: "tests".into() }).unwrap().token;
            tokens.insert((*id).to_owned(), token);
        }
        tokens
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.kill();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .new_agent()
}

/// Starts `prequal serve` on `db` and `data` on a free loopback port without waiting; returns
/// the process and a receiver of its base URL once it listens. Its log goes to `log`.
pub fn launch_server(
    db: &str,
    data: &Path,
    extra_args: &[String],
    log: &Path,
) -> (Child, std::sync::mpsc::Receiver<String>) {
    let log_file = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_prequal"))
        .args(["serve", "--db", db, "--data"])
        .arg(data)
        .args(["--bind", "127.0.0.1:0", "--workers", "2", "--pool-size", "4"])
        .args(extra_args)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .unwrap();
    let rx = listening_address(&mut child, "prequal registry listening on ");
    (child, rx)
}

/// Reads a child's standard output (piped) on a thread of its own, sending the address that
/// follows `prefix` (e.g. "prequal registry listening on ") when the process prints it.
pub fn listening_address(child: &mut Child, prefix: &'static str) -> std::sync::mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix(prefix) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_owned());
            }
        }
    });
    rx
}

/// [`launch_server`], then waits for its address.
pub fn spawn_server(db: &str, data: &Path, extra_args: &[String], log: &Path) -> (Child, String) {
    let (mut child, rx) = launch_server(db, data, extra_args, log);
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(url) => (child, url),
        Err(_) => {
            let _ = child.kill();
            panic!("the server did not start:\n{}", std::fs::read_to_string(log).unwrap_or_default());
        }
    }
}

/// Another server process on an existing registry's database and data directory (a replica),
/// killed when dropped.
pub struct ChildServer {
    pub url: String,
    child: Child,
    _log_dir: tempfile::TempDir,
}

impl ChildServer {
    pub fn start(db: &str, data: &Path, extra_args: &[&str]) -> ChildServer {
        let log_dir = tempfile::tempdir().unwrap();
        let args: Vec<String> = extra_args.iter().map(|s| s.to_string()).collect();
        let (child, url) = spawn_server(db, data, &args, &log_dir.path().join("server.log"));
        ChildServer { url, child, _log_dir: log_dir }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP request over a real socket.
pub fn request(
    url: &str,
    method: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
    headers: &[(&str, &str)],
) -> Response {
    try_request(url, method, token, body, headers).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// One HTTP request; a transport failure (server gone) is an `Err`.
pub fn try_request(
    url: &str,
    method: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
    headers: &[(&str, &str)],
) -> Result<Response, String> {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    if let Some(t) = token {
        builder = builder.header("Authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let (content_type, bytes) = body.unwrap_or(("application/octet-stream", Vec::new()));
    if !bytes.is_empty() || method == "POST" {
        builder = builder.header("Content-Type", content_type);
    }
    let req = builder.body(bytes).unwrap();
    let mut res = agent().run(req).map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    let headers =
        res.headers().iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned())).collect();
    let mut body = Vec::new();
    res.body_mut().as_reader().read_to_end(&mut body).map_err(|e| e.to_string())?;
    Ok(Response { status, headers, body })
}

//! `prequal serve`: the registry process, and the storage options it shares with `admin` and
//! `mirror`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::Outcome;
use crate::audit::witness_client::{Submitter, WitnessEndpoint};
use crate::http;
use crate::log::cosignature::CosignerKey;
use crate::package::signing::{KeyError, SecretKey};
use crate::registry::transparency::{LogKey, default_origin, is_loopback_origin};
use crate::registry::{Policy, Registry, RegistryError, demo};
use crate::store::blobs::S3Config;
use crate::store::{BlobConfig, DatabaseUrl, Store};

/// Where the registry keeps its data. Shared by `serve` and `admin`.
#[derive(Args, Debug, Clone)]
pub struct StorageArgs {
    /// Database: `postgres://user@host/db`, or a SQLite file (`sqlite://PATH` or a path).
    /// Default: `DATA/prequal.db`.
    #[arg(long, env = "PREQUAL_DB", value_name = "URL", global = true)]
    db: Option<String>,
    /// Data directory: blobs, temporary uploads, the default SQLite database.
    #[arg(long, env = "PREQUAL_DATA", value_name = "DIR", default_value = "prequal-data", global = true)]
    data: PathBuf,
    /// Database connections kept in the pool.
    #[arg(long, env = "PREQUAL_POOL_SIZE", default_value_t = 8, global = true)]
    pub(super) pool_size: u32,
    #[command(flatten)]
    blobs: BlobArgs,
}

/// Where package files are stored: `DATA/blobs` (default) or an S3-compatible object store.
#[derive(Args, Debug, Clone)]
pub struct BlobArgs {
    /// Blob store: `file` (DATA/blobs, the default) or `s3://BUCKET[/PREFIX]` for an
    /// S3-compatible object store. Several `prequal serve` processes share one object store.
    #[arg(long, env = "PREQUAL_BLOB_STORE", value_name = "LOCATION", default_value = "file")]
    blob_store: String,
    /// S3 endpoint URL (an S3-compatible server); AWS's regional endpoint if absent.
    #[arg(long, env = "PREQUAL_S3_ENDPOINT", value_name = "URL")]
    s3_endpoint: Option<String>,
    /// S3 region.
    #[arg(long, env = "PREQUAL_S3_REGION", default_value = "us-east-1")]
    s3_region: String,
    /// S3 access key id (prefer the environment variable).
    #[arg(long, env = "AWS_ACCESS_KEY_ID", value_name = "ID", hide_env_values = true)]
    s3_access_key_id: Option<String>,
    /// S3 secret access key (prefer the environment variable: flags show in process lists).
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", value_name = "SECRET", hide_env_values = true)]
    s3_secret_access_key: Option<String>,
    /// Allow a plain-HTTP endpoint (an object store on the same host or private network).
    #[arg(long, env = "PREQUAL_S3_ALLOW_HTTP")]
    s3_allow_http: bool,
}

impl BlobArgs {
    fn config(&self) -> Result<BlobConfig, String> {
        let location = self.blob_store.trim();
        if location.is_empty() || location == "file" {
            return Ok(BlobConfig::Filesystem);
        }
        let mut c = S3Config::parse_location(location).map_err(|e| format!("--blob-store: {e}"))?;
        c.endpoint = self.s3_endpoint.clone().filter(|e| !e.is_empty());
        c.region = self.s3_region.clone();
        c.access_key_id = self.s3_access_key_id.clone().filter(|k| !k.is_empty());
        c.secret_access_key = self.s3_secret_access_key.clone().filter(|k| !k.is_empty());
        c.allow_http = self.s3_allow_http;
        if c.access_key_id.is_some() != c.secret_access_key.is_some() {
            return Err("--s3-access-key-id and --s3-secret-access-key go together".to_owned());
        }
        Ok(BlobConfig::S3(c))
    }
}

impl StorageArgs {
    fn url(&self) -> DatabaseUrl {
        match &self.db {
            Some(url) => DatabaseUrl::parse(url),
            None => DatabaseUrl::Sqlite(self.data.join("prequal.db").display().to_string()),
        }
    }

    pub(super) fn data(&self) -> &std::path::Path {
        &self.data
    }

    pub(super) fn open(&self, policy: Policy) -> Result<Registry, String> {
        std::fs::create_dir_all(&self.data).map_err(|e| format!("{}: {e}", self.data.display()))?;
        let url = self.url();
        let blobs = self.blobs.config()?;
        let store = Store::open_with(&url, &self.data, self.pool_size, &blobs)
            .map_err(|e| format!("{}: {e}", url.redacted()))?;
        let registry = Registry::new(store, policy);
        // Before anything else appends, so that the log keeps the registry's own order.
        match registry.backfill_log() {
            Ok(n) if n > 0 => log::info!("logged {n} change(s) that predate the transparency log"),
            Ok(_) => {}
            Err(e) => return Err(format!("logging the state that predates the transparency log: {e}")),
        }
        Ok(registry)
    }
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, env = "PREQUAL_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// Load the sample packages, their test organisations and keys, and demo tokens.
    #[arg(long, env = "PREQUAL_DEMO")]
    demo: bool,
    /// The sample-packages folder for --demo (default: ./sample-packages).
    #[arg(long, env = "PREQUAL_SAMPLES", value_name = "DIR")]
    samples: Option<PathBuf>,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "PREQUAL_WORKERS")]
    workers: Option<usize>,
    /// Largest package upload accepted, in bytes.
    #[arg(long, env = "PREQUAL_MAX_UPLOAD_BYTES", default_value_t = 1 << 30)]
    max_upload_bytes: u64,
    /// At start-up, remove blobs and temporary files of interrupted uploads older than this many
    /// seconds. On PostgreSQL an upload in flight in any process is never swept (it holds a lock
    /// on its blob), so 0 is safe with several processes; on SQLite, set it longer than the
    /// slowest upload if other processes share the data directory.
    #[arg(long, env = "PREQUAL_SWEEP_GRACE", default_value_t = 0)]
    sweep_grace: u64,
    /// The key that signs the transparency log's checkpoints: a `prequal keygen` key file.
    /// Default: DATA/log-key.json, created (mode 0600) on first start. Every process serving
    /// one database must use the same key.
    #[arg(long, env = "PREQUAL_LOG_KEY", value_name = "FILE")]
    log_key: Option<PathBuf>,
    /// The log's origin line (also the checkpoint key name). It identifies the log and must
    /// never change; set it to the registry's public host name, e.g. `prequal.example/log`.
    /// Default: the origin already recorded in the database for this log key; else derived
    /// from --public-url (`https://prequal.example` gives `prequal.example/log`); else from
    /// the log key (`prequal-<16 hex digits of its hash>`). A loopback origin draws a warning.
    #[arg(long, env = "PREQUAL_LOG_ORIGIN", value_name = "ORIGIN")]
    log_origin: Option<String>,
    /// The registry's public base URL, e.g. `https://prequal.example`: the default log origin
    /// is derived from it.
    #[arg(long, env = "PREQUAL_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// A reverse proxy in front of the registry (repeatable, or comma-separated in the
    /// variable): for requests from it, the client address (for throttling failed token
    /// attempts) is taken from `X-Forwarded-For`.
    #[arg(long = "trusted-proxy", env = "PREQUAL_TRUSTED_PROXIES", value_name = "IP", value_delimiter = ',')]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// A witness whose cosignatures of the log's checkpoints the registry accepts
    /// (`POST /log/cosignature`) and serves with them: its verifier key
    /// `<name>+<key id>+<base64(0x04 ‖ key)>`, as printed by `prequal log witness-key`. With
    /// `=URL` (its C2SP tlog-witness submission prefix) the registry also sends it each new
    /// checkpoint (`POST URL/add-checkpoint`) and keeps the cosignature it answers with.
    /// Repeat for several; the environment variable takes a comma-separated list.
    #[arg(long = "witness", env = "PREQUAL_WITNESSES", value_name = "VKEY[=URL]", value_delimiter = ',')]
    witnesses: Vec<String>,
    /// Seconds between checks for a new checkpoint to send to the witnesses with a URL (a
    /// failing witness is retried after twice as long each time, at most an hour).
    #[arg(long, env = "PREQUAL_WITNESS_INTERVAL", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    witness_interval: u64,
}

/// Reads the log key, or creates it (0600) at the default place on first start, and names
/// the log: `--log-origin`, else the origin already recorded for this key (so registries
/// started before origins were derived keep theirs), else [`default_origin`].
fn log_key(args: &ServeArgs, registry: &Registry) -> Result<LogKey, String> {
    let key = match &args.log_key {
        Some(path) => SecretKey::read(path).map_err(|e| e.to_string())?,
        None => {
            let path = args.storage.data.join("log-key.json");
            if !path.exists() {
                let created = SecretKey::generate();
                match created.write(&path, Some("prequal registry log key")) {
                    Ok(()) => log::info!("created the log key {}", path.display()),
                    // Another process created it first: read theirs.
                    Err(KeyError::Exists { .. }) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            SecretKey::read(&path).map_err(|e| e.to_string())?
        }
    };
    let public = key.signing_key().verifying_key();
    let origin = match &args.log_origin {
        Some(o) => o.clone(),
        None => match registry.recorded_log_key().map_err(|e| format!("reading the recorded log key: {e}"))? {
            Some(recorded) if recorded.public_key() == &public => recorded.name().to_owned(),
            _ => default_origin(args.public_url.as_deref(), &public),
        },
    };
    if is_loopback_origin(&origin) {
        log::warn!(
            "the log origin '{origin}' names a loopback host: other registries may use the same origin, \
             so witnesses and clients cannot tell their logs apart; it can never change once witnessed"
        );
    }
    LogKey::new(&origin, &key)
}

pub(super) fn fail(e: impl std::fmt::Display) -> Outcome {
    eprintln!("error: {e}");
    Outcome::Failed
}

/// Start-up work before serving (a registry or a mirror): sweep what interrupted uploads left,
/// index for search, load the built-in requirement profiles.
pub(super) fn prepare(registry: &Registry, sweep_grace: Duration) -> Result<(), String> {
    match registry.sweep_orphans(sweep_grace, false) {
        Ok(orphans) if !orphans.is_empty() => {
            log::warn!("removed {} blob(s) of interrupted uploads", orphans.len())
        }
        Ok(_) => {}
        // An object store that is down does not keep the registry from starting: /readyz
        // reports it, and the next start or `prequal admin sweep` sweeps.
        Err(e @ RegistryError::Blob(crate::store::BlobError::Unavailable { .. })) => {
            log::warn!("sweeping interrupted uploads: {e}")
        }
        Err(e) => return Err(format!("sweeping interrupted uploads: {e}")),
    }
    match registry.backfill_sources() {
        Ok(n) if n > 0 => log::info!("recorded the evidence source of {n} package(s) stored before sources were"),
        Ok(_) => {}
        Err(e) => return Err(format!("recording evidence sources: {e}")),
    }
    let started = std::time::Instant::now();
    let indexed = registry.reindex(|n| {
        if n % 10_000 == 0 {
            log::info!("indexing for search: {n} package(s) so far");
        }
    });
    match indexed {
        Ok(r) if r.packages > 0 => log::info!(
            "indexed {} package(s) and {} dataset point(s) for search in {:.1} s",
            r.packages,
            r.points,
            started.elapsed().as_secs_f64()
        ),
        Ok(_) => {}
        Err(e) => return Err(format!("indexing packages for search: {e}")),
    }
    let started = std::time::Instant::now();
    match registry.warm_search() {
        Ok(n) => {
            log::info!("search holds {n} package(s) in memory (loaded in {:.1} s)", started.elapsed().as_secs_f64())
        }
        Err(e) => return Err(format!("loading the search index: {e}")),
    }
    match registry.load_builtin_profiles() {
        Ok(n) if n > 0 => log::info!("loaded {n} built-in requirement profile(s)"),
        Ok(_) => {}
        Err(e) => return Err(format!("loading the built-in profiles: {e}")),
    }
    Ok(())
}

pub(super) fn serve(args: ServeArgs) -> Outcome {
    let policy = Policy { max_upload_bytes: args.max_upload_bytes, ..Policy::default() };
    let mut witnesses: Vec<CosignerKey> = Vec::new();
    let mut endpoints: Vec<WitnessEndpoint> = Vec::new();
    for w in &args.witnesses {
        // `VKEY` or `VKEY=URL` (verifier keys hold no '=').
        let vkey = w.split_once('=').map_or(w.as_str(), |(k, _)| k);
        match CosignerKey::parse(vkey).map_err(|e| format!("--witness {w}: [{}] {e}", e.code())).and_then(|key| {
            WitnessEndpoint::parse(w).map(|endpoint| (key, endpoint)).map_err(|e| format!("--witness {w}: {e}"))
        }) {
            Ok((key, endpoint)) => {
                witnesses.push(key);
                endpoints.extend(endpoint);
            }
            Err(e) => return fail(e),
        }
    }
    let registry = match args.storage.open(policy).and_then(|r| {
        let key = log_key(&args, &r)?;
        Ok(r.with_log_key(key).with_witnesses(witnesses))
    }) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    if let Some(key) = registry.log_key() {
        log::info!("transparency log origin '{}', verifier key {}", key.origin(), key.verifier());
    }
    if let Err(e) = registry.claim_log_key() {
        return fail(format!("log key: {e}"));
    }
    for w in registry.witnesses() {
        log::info!("accepting cosignatures from witness {w}");
    }
    log::info!("database: {} ({})", registry.store.url().redacted(), registry.store.url().backend());
    log::info!("blob store: {}", registry.store.blobs.describe());
    if let Err(e) = prepare(&registry, Duration::from_secs(args.sweep_grace)) {
        return fail(e);
    }
    if args.demo {
        let loaded =
            demo::find_samples(args.samples.as_deref()).and_then(|dir| demo::load(&registry, &dir, &args.storage.data));
        match loaded {
            Ok(report) => {
                log::info!(
                    "demo: {} organisation(s) added, {} package(s) published, {} already present",
                    report.organisations_added,
                    report.packages_published,
                    report.packages_present
                );
                if let Some(file) = &report.tokens_file {
                    println!("demo API tokens (test only) written to {}", file.display());
                }
            }
            Err(e) => return fail(format!("loading the demo data: {e}")),
        }
    }
    let listener = match TcpListener::bind(&args.bind) {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on {}: {e}", args.bind)),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let state = http::with_trusted_proxies(registry, args.trusted_proxies.clone());
    if !endpoints.is_empty() {
        for e in &endpoints {
            log::info!("sending checkpoints to witness {} at {}/add-checkpoint", e.key.name(), e.url);
        }
        let interval = Duration::from_secs(args.witness_interval);
        let mut submitter = Submitter::new(endpoints, interval);
        let state = state.clone();
        std::thread::spawn(move || {
            loop {
                submitter.round(&state.registry);
                std::thread::sleep(interval);
            }
        });
    }
    let result = actix_web::rt::System::new().block_on(async move {
        let server = http::server(state, listener, workers)?;
        println!("prequal registry listening on http://{addr}  (API docs: http://{addr}/docs)");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        server.await
    });
    match result {
        Ok(()) => {
            log::info!("stopped");
            Outcome::Ok
        }
        Err(e) => fail(e),
    }
}

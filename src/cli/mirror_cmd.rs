//! `prequal mirror`: a read-only registry that follows an upstream registry's transparency log,
//! verifying everything (see `registry::mirror`), and `prequal log check-evidence`, which checks
//! a split-view evidence bundle offline.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use clap::Args;

use super::Outcome;
use super::serve_cmds::{StorageArgs, fail, prepare};
use crate::audit::{self, LogClient};
use crate::http;
use crate::log::checkpoint::SignedCheckpoint;
use crate::log::cosignature::Witness;
use crate::log::note::VerifierKey;
use crate::log::split_view::Evidence;
use crate::log::witness::WitnessedLog;
use crate::package::signing::SecretKey;
use crate::registry::mirror::{MirrorConfig, MirrorError, SyncProgress, SyncReport, Upstream};
use crate::registry::witnessing::WitnessService;
use crate::registry::{Policy, Registry};

#[derive(Args, Debug)]
pub struct MirrorArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// The upstream registry's base URL, e.g. `https://prequal.example`.
    #[arg(long, env = "PREQUAL_UPSTREAM", value_name = "URL")]
    upstream: String,
    /// The upstream's checkpoint verifier key (what its `GET /log/key` serves), obtained out of
    /// band. Without it the key is fetched on the first sync and pinned, with a warning.
    #[arg(long, env = "PREQUAL_UPSTREAM_KEY", value_name = "VKEY")]
    upstream_key: Option<String>,
    /// Address to serve the read API and web pages on (port 0 picks a free port).
    #[arg(long, env = "PREQUAL_MIRROR_LISTEN", default_value = "127.0.0.1:8081")]
    listen: String,
    /// The longest wait between syncs, in seconds. New entries are heard of at once: between
    /// syncs the mirror long-polls the upstream's checkpoint (`/log/checkpoint?after=SIZE`), and
    /// syncs as soon as the upstream's log grows; the interval still bounds the wait for changes
    /// outside the log (witness cosignatures) and for an upstream that does not long-poll.
    #[arg(long, env = "PREQUAL_MIRROR_INTERVAL", default_value_t = 60)]
    interval: u64,
    /// Sync once and exit (no server): exit 0 when in sync, 1 when the upstream's data was
    /// refused (stale or inconsistent checkpoint, split view, halted mirror), 2 when the upstream
    /// or the storage could not be reached.
    #[arg(long)]
    once: bool,
    /// Log entries replayed per transaction: a crash loses at most one batch.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    batch: u64,
    /// An API token of the upstream's (a reader organisation's): non-public packages it may see
    /// are fetched and their sealed log entries opened, checked and replayed.
    #[arg(long, env = "PREQUAL_UPSTREAM_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Store only packages releasable to this country (ISO 3166-1 alpha-2): public ones and
    /// allied ones listing it. Every log entry is still kept and verified.
    #[arg(long, value_name = "CC")]
    country: Option<String>,
    /// Package files downloaded and verified at once.
    #[arg(long, env = "PREQUAL_MIRROR_PARALLEL", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=64))]
    parallel: u64,
    /// Syncs of at most this many new entries keep them in memory between checking them against
    /// the checkpoint and replaying them; larger syncs fetch each batch's entries again (and
    /// check them against the leaf hashes already verified).
    #[arg(long, default_value_t = 100_000)]
    entries_in_memory: u64,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "PREQUAL_WORKERS")]
    workers: Option<usize>,
    /// Witness the upstream's log: cosign (C2SP tlog-cosignature) every checkpoint this mirror
    /// has verified and committed with this `prequal keygen` key file, serve the cosignature
    /// with the checkpoint, and submit it to the upstream (`POST /log/cosignature`).
    #[arg(long, env = "PREQUAL_WITNESS_KEY", value_name = "FILE", requires = "witness_name")]
    witness_key: Option<PathBuf>,
    /// The witness's name (its verifier key is printed by `prequal log witness-key`), e.g.
    /// `mirror.example.org/witness`.
    #[arg(long, env = "PREQUAL_WITNESS_NAME", value_name = "NAME")]
    witness_name: Option<String>,
    /// A C2SP log this mirror witnesses for others (tlog-witness: it answers `POST
    /// /add-checkpoint` with its cosignature after checking the checkpoint's signature and its
    /// consistency with the last one it cosigned of that log, kept in the database): the log's
    /// verifier key, prefixed by `ORIGIN=` when its origin is not the key's name. Any C2SP log,
    /// prequal's or not. Repeat for several; the variable takes a comma-separated list.
    #[arg(
        long = "witness-log",
        env = "PREQUAL_WITNESS_LOGS",
        value_name = "[ORIGIN=]VKEY",
        value_delimiter = ',',
        requires = "witness_key"
    )]
    witness_logs: Vec<String>,
}

/// The upstream over HTTP.
struct HttpUpstream {
    base: String,
    agent: ureq::Agent,
}

impl HttpUpstream {
    fn new(base: &str) -> HttpUpstream {
        HttpUpstream { base: base.trim_end_matches('/').to_owned(), agent: audit::http_agent() }
    }

    fn call(&self, path: &str, token: Option<&str>) -> Result<ureq::http::Response<ureq::Body>, String> {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        req.call().map_err(|e| e.to_string())
    }
}

impl Upstream for HttpUpstream {
    fn get(&self, path: &str, token: Option<&str>) -> Result<(u16, Vec<u8>), String> {
        let mut res = self.call(path, token)?;
        let status = res.status().as_u16();
        // An entry bundle is at most 256 entries of 64 KiB.
        let body = res.body_mut().with_config().limit(32 << 20).read_to_vec().map_err(|e| e.to_string())?;
        Ok((status, body))
    }

    fn download(&self, path: &str, token: Option<&str>, file: &mut std::fs::File) -> Result<u16, String> {
        let mut res = self.call(path, token)?;
        let status = res.status().as_u16();
        if status == 200 {
            let mut reader = res.body_mut().with_config().limit(u64::MAX).reader();
            std::io::copy(&mut reader, file).map_err(|e| e.to_string())?;
        }
        Ok(status)
    }

    fn base(&self) -> &str {
        &self.base
    }
}

/// Called after each verified checkpoint is committed: logs it and, for a witnessing mirror,
/// cosigns it, keeps the cosignature (served with the checkpoint) and submits it upstream.
/// Cosigning is safe here: the mirror accepted the checkpoint only as an append-only extension
/// of every checkpoint it accepted before.
fn on_verified_checkpoint(registry: &Registry, witness: Option<&Witnessing>, upstream: &str, note: &str) {
    let head: Vec<&str> = note.lines().take(2).collect();
    log::info!("mirror: verified checkpoint {}", head.join(" "));
    let Some(witness) = witness else { return };
    let cosign = || -> Result<String, String> {
        // The pinned upstream key (pinned by the first sync at the latest; it never changes).
        let key = match witness.upstream_key.get() {
            Some(k) => k,
            None => {
                let text = registry.log_verifier_key().map_err(|e| e.to_string())?;
                let parsed = VerifierKey::parse(&text).map_err(|e| e.to_string())?;
                witness.upstream_key.get_or_init(|| parsed)
            }
        };
        let signed = SignedCheckpoint::verify(note.as_bytes(), key).map_err(|e| e.to_string())?;
        let now = audit::now_secs();
        let line = witness.witness.cosign(&signed, now).map_err(|e| e.to_string())?;
        registry.keep_own_cosignature(witness.witness.verifier(), &signed, &line, now).map_err(|e| e.to_string())?;
        let accepted = LogClient::new(upstream, None)
            .submit_cosignature(&audit::cosigned_note(&signed, key, &line))
            .map_err(|e| format!("submitting it upstream: {}: {e}", e.code()))?;
        Ok(format!("size {}, upstream stored {:?}", accepted.tree_size, accepted.stored))
    };
    match cosign() {
        Ok(done) => log::info!("mirror: cosigned as {}: {done}", witness.witness.verifier().name()),
        Err(e) => log::warn!("mirror: cosigning as {}: {e}", witness.witness.verifier().name()),
    }
}

/// A witnessing mirror's key, and the upstream's pinned key once read.
struct Witnessing {
    witness: Witness,
    upstream_key: OnceLock<VerifierKey>,
}

fn sync(
    registry: &Registry,
    cfg: &MirrorConfig,
    up: &HttpUpstream,
    witness: Option<&Witnessing>,
) -> Result<SyncReport, MirrorError> {
    let result =
        registry.sync_mirror(cfg, up, &|note: &str| on_verified_checkpoint(registry, witness, up.base(), note));
    if let Err(e) = registry.record_sync_outcome(result.as_ref().err()) {
        log::warn!("could not record the sync's outcome: {e}");
    }
    result
}

fn describe(r: &SyncReport) -> String {
    format!(
        "log {} -> {} entries; {} package(s) stored, {} refused",
        r.from_size, r.to_size, r.packages_stored, r.packages_rejected
    )
}

pub(super) fn mirror(args: MirrorArgs) -> Outcome {
    let registry = match args.storage.open(Policy::default()) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    // The built-in profiles are not logged: every registry and mirror loads the same bytes.
    if let Err(e) = registry.load_builtin_profiles() {
        return fail(e);
    }
    let cfg = MirrorConfig {
        upstream_key: args.upstream_key.clone(),
        evidence_dir: args.storage.data().join("evidence"),
        batch: usize::try_from(args.batch).unwrap_or(256),
        entries_in_memory: args.entries_in_memory,
        token: args.token.clone(),
        country: args.country.clone(),
        parallel: usize::try_from(args.parallel).unwrap_or(8),
        progress: Default::default(),
    };
    let up = HttpUpstream::new(&args.upstream);
    let mut registry = registry;
    let witness = match (&args.witness_key, &args.witness_name) {
        (Some(file), Some(name)) => {
            let key = match SecretKey::read(file) {
                Ok(k) => k,
                Err(e) => return fail(format!("--witness-key: {e}")),
            };
            let witness = |key: &SecretKey| Witness::new(name, key.signing_key().clone());
            match (witness(&key), witness(&key)) {
                (Ok(w), Ok(service_key)) => {
                    log::info!("mirror: witnessing as {}", w.verifier());
                    let mut logs = Vec::new();
                    for spec in &args.witness_logs {
                        match WitnessedLog::parse(spec) {
                            Ok(l) => {
                                log::info!("mirror: answering add-checkpoint for the log '{}'", l.origin());
                                logs.push(l);
                            }
                            Err(e) => return fail(format!("--witness-log {spec}: {e}")),
                        }
                    }
                    if !logs.is_empty() {
                        registry = registry.with_witness_service(WitnessService::new(service_key, logs));
                    }
                    Some(Witnessing { witness: w, upstream_key: OnceLock::new() })
                }
                (Err(e), _) | (_, Err(e)) => return fail(format!("--witness-name {name}: {e}")),
            }
        }
        _ => None,
    };
    if args.once {
        // A first sync of a large registry draws a bar of entries replayed (on a terminal).
        let bar: std::sync::Arc<std::sync::Mutex<Option<indicatif::ProgressBar>>> = Default::default();
        let mut cfg = cfg;
        let slot = bar.clone();
        cfg.progress = SyncProgress(Some(std::sync::Arc::new(move |done, total| {
            if let Ok(mut b) = slot.lock() {
                b.get_or_insert_with(|| super::progress::count_bar(total, 2_000, "syncing", "entries", false))
                    .set_position(done);
            }
        })));
        let synced = sync(&registry, &cfg, &up, witness.as_ref());
        if let Some(b) = bar.lock().ok().and_then(|mut b| b.take()) {
            b.finish_and_clear();
        }
        return match synced {
            Ok(report) => {
                println!("in sync with {}: {}", up.base(), describe(&report));
                Outcome::Ok
            }
            Err(e) => {
                eprintln!("error: {}: {e}", e.code());
                if e.is_refusal() { Outcome::Refused } else { Outcome::Failed }
            }
        };
    }
    if let Err(e) = prepare(&registry, Duration::ZERO) {
        return fail(e);
    }
    let listener = match TcpListener::bind(&args.listen) {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on {}: {e}", args.listen)),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let state = http::new_mirror_state(registry, up.base(), Vec::new());
    let follower = state.clone();
    let interval = Duration::from_secs(args.interval.max(1));
    std::thread::spawn(move || {
        let mut failures = 0u32;
        loop {
            let held = match sync(&follower.registry, &cfg, &up, witness.as_ref()) {
                Ok(report) => {
                    failures = 0;
                    if report.to_size != report.from_size {
                        log::info!("mirror: {}", describe(&report));
                    }
                    Some(report.to_size)
                }
                Err(e @ MirrorError::Halted(_)) => {
                    log::debug!("mirror: {e}");
                    None
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    log::warn!(
                        "mirror: sync with {} failed ({failures} in a row): {}: {e}; next try in {} s",
                        up.base(),
                        e.code(),
                        retry_after(interval, failures).as_secs()
                    );
                    None
                }
            };
            match held {
                Some(size) => wait_for_growth(&up, size, interval),
                None => std::thread::sleep(retry_after(interval, failures)),
            }
        }
    });
    let result = actix_web::rt::System::new().block_on(async move {
        let server = http::server(state, listener, workers)?;
        println!("prequal mirror listening on http://{addr}  (upstream {})", args.upstream);
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        server.await
    });
    match result {
        Ok(()) => Outcome::Ok,
        Err(e) => fail(e),
    }
}

/// Waits until the upstream's log holds more than `size` entries, at most `interval`: a long
/// poll of `GET /log/checkpoint?after=SIZE`, which the upstream answers as soon as its log grows
/// (or after the wait asked for, at most 25 s, when it is asked again). An upstream that answers at once without growing (one
/// that does not know the parameter) or cannot be reached leaves the plain interval.
fn wait_for_growth(up: &dyn Upstream, size: u64, interval: Duration) {
    let started = Instant::now();
    loop {
        let left = interval.saturating_sub(started.elapsed());
        if left < Duration::from_secs(1) {
            std::thread::sleep(left);
            return;
        }
        let wait = left.as_secs().min(25);
        let asked = Instant::now();
        match up.get(&format!("/log/checkpoint?after={size}&wait={wait}"), None) {
            Ok((200, body)) if checkpoint_size(&body).is_some_and(|s| s > size) => return,
            // The upstream waited as asked and the log did not grow: ask again.
            Ok((200, _)) if asked.elapsed() >= Duration::from_secs(wait) / 2 => {}
            _ => {
                std::thread::sleep(interval.saturating_sub(started.elapsed()));
                return;
            }
        }
    }
}

/// The tree size line of a checkpoint note.
fn checkpoint_size(note: &[u8]) -> Option<u64> {
    std::str::from_utf8(note).ok()?.lines().nth(1)?.parse().ok()
}

/// The wait before the next sync: the interval, doubled after each failure in a row up to 16
/// times the interval or one hour, whichever is longer (an unreachable upstream is not asked
/// every interval; a short interval still retries within the hour).
fn retry_after(interval: Duration, failures: u32) -> Duration {
    let backed_off = interval.saturating_mul(1 << failures.min(4));
    backed_off.min(interval.max(Duration::from_secs(3600)))
}

/// `prequal log check-evidence`: whether a split-view evidence bundle proves a split view.
pub(super) fn check_evidence(file: PathBuf, key: Option<String>) -> Outcome {
    let mut text = String::new();
    let read = std::fs::File::open(&file).and_then(|mut f| f.read_to_string(&mut text));
    if let Err(e) = read {
        return fail(format!("{}: {e}", file.display()));
    }
    let evidence: Evidence = match serde_json::from_str(&text) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: evidence_format: {}: {e}", file.display());
            return Outcome::Refused;
        }
    };
    match evidence.check(key.as_deref()) {
        Ok(p) => {
            println!(
                "split view proven: log '{}' signed two inconsistent checkpoints ({} and {} entries)",
                p.origin, p.older_size, p.newer_size
            );
            Outcome::Ok
        }
        Err(e) => {
            eprintln!("error: {}: {e}", e.code());
            Outcome::Refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_wait_doubles_and_is_capped() {
        let minute = Duration::from_secs(60);
        let waits: Vec<u64> = (0..7).map(|f| retry_after(minute, f).as_secs()).collect();
        assert_eq!(waits, [60, 120, 240, 480, 960, 960, 960]);
        // Capped at an hour unless the interval itself is longer.
        assert_eq!(retry_after(Duration::from_secs(600), 9).as_secs(), 3600);
        assert_eq!(retry_after(Duration::from_secs(7200), 9).as_secs(), 7200);
    }
}

//! A verifying mirror of another prequal registry (its *upstream*): the mirror copies the
//! upstream's transparency log entry by entry, proves every entry against a checkpoint signed
//! by the pinned upstream key, and replays the entries into its own tables, re-verifying every
//! package file with the same verifier as an upload. It never trusts the upstream's database,
//! never appends entries of its own and never deletes history.
//!
//! One sync ([`Registry::sync_mirror`]), numbered as the checks run:
//! 1. Fetch the upstream's checkpoint; it must verify with the pinned key and name its origin.
//! 2. Compare it with the newest checkpoint already verified (the *target*):
//!    smaller → refused (`stale_checkpoint`), unless the mirror can prove the two conflict;
//!    same size and another root → split view; larger → the upstream's consistency proof from
//!    the target must verify. When it does not, the mirror asks whether the upstream's own
//!    entries show another history (split view, provable) or the proof is merely bad
//!    (`consistency_proof_invalid`, retried next time).
//! 3. Fetch the new entries through the C2SP tlog-tiles entry bundles and check that the tree
//!    of the stored entries plus the new ones has exactly the checkpoint's root: any flipped
//!    bit, missing, extra or reordered entry fails here (`entries_invalid`).
//! 4. Decode every entry strictly ([`Event::decode`]).
//! 5. Replay in log order, in transactions of at most [`MirrorConfig::batch`] entries that also
//!    store the entries (same indexes as upstream) and the checkpoint; a crash loses at most
//!    the batch in progress and the next sync resumes from what was committed.
//!
//! A split view halts the mirror for good (until an operator intervenes): it keeps serving what
//! it verified and writes an evidence bundle ([`crate::log::split_view`]).

use std::path::PathBuf;

use diesel::prelude::*;
use serde::Serialize;
use tempfile::NamedTempFile;
use utoipa::ToSchema;

use super::packages::{PackageRows, Signers, check_signers};
use super::transparency::{self, DbNodes, StoredEntry};
use super::{Registry, RegistryError};
use crate::log::checkpoint::Checkpoint;
use crate::log::entry::{Decoded, Event};
use crate::log::merkle::{self, Hash, NodeSource, ProofError};
use crate::log::note::{Note, VerifierKey};
use crate::log::split_view::{EVIDENCE_FORMAT, Evidence};
use crate::log::tiles::{self, TILE_WIDTH};

use crate::package::{VerifiedPackage, verify_file};
use crate::store::models::KeyRow;
use crate::store::schema::{mirror_rejections, mirror_state, packages, signing_keys};
use crate::store::{AnyConnection, format_time, now_ms};

/// The upstream, over HTTP (the command line implements it; tests may too). Package files
/// are fetched from several threads at once.
pub trait Upstream: Sync {
    /// `GET path` (path and query, from the upstream's base URL): (status, body). `Err` when
    /// the upstream could not be reached.
    fn get(&self, path: &str, token: Option<&str>) -> Result<(u16, Vec<u8>), String>;
    /// `GET path` streamed into `file`: the status.
    fn download(&self, path: &str, token: Option<&str>, file: &mut std::fs::File) -> Result<u16, String>;
    /// The base URL, for logs and evidence.
    fn base(&self) -> &str;
}

/// Who hears how far a sync has come: entries replayed so far and in all (the command line
/// draws a bar with it for `--once`).
#[derive(Clone, Default)]
pub struct SyncProgress(pub Option<std::sync::Arc<dyn Fn(u64, u64) + Send + Sync>>);

impl SyncProgress {
    fn report(&self, done: u64, total: u64) {
        if let Some(f) = &self.0 {
            f(done, total);
        }
    }
}

impl std::fmt::Debug for SyncProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "SyncProgress(reported)" } else { "SyncProgress(none)" })
    }
}

/// What a mirror follows and how.
#[derive(Debug, Clone)]
pub struct MirrorConfig {
    /// The upstream's checkpoint verifier key, if given on the command line. Without it, the
    /// key is fetched from `/log/key` on the first sync and pinned.
    pub upstream_key: Option<String>,
    /// Where evidence bundles are written.
    pub evidence_dir: PathBuf,
    /// Entries replayed per transaction.
    pub batch: usize,
    /// Syncs of at most this many entries keep them in memory between checking them against
    /// the checkpoint and replaying them; larger ones fetch each batch again.
    pub entries_in_memory: u64,
    /// A token of the upstream's (a reader organisation's): non-public packages it may see are
    /// fetched, their sealed entries opened, checked against the commitment and replayed.
    pub token: Option<String>,
    /// Store only packages releasable to this country (ISO 3166-1 alpha-2): public ones, and
    /// allied ones that list it. Every log entry is still kept and verified.
    pub country: Option<String>,
    /// Package files downloaded and verified at once (at least 1).
    pub parallel: usize,
    /// Told of each batch replayed.
    pub progress: SyncProgress,
}

/// Why a sync did not complete. `code()` is stable.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error("the mirror is halted: {0}")]
    Halted(String),
    #[error("the upstream's checkpoint has {got} entries, fewer than the {have} already verified")]
    Stale { have: u64, got: u64 },
    #[error("the upstream's checkpoint is not valid: {0}")]
    CheckpointInvalid(String),
    #[error("the upstream's key '{fetched}' is not the pinned key '{pinned}'")]
    KeyMismatch { pinned: String, fetched: String },
    #[error("split view: {reason}; evidence written to {}", evidence.display())]
    SplitView { reason: String, evidence: PathBuf },
    #[error("the upstream's consistency proof does not verify: {0}")]
    ConsistencyProofInvalid(String),
    #[error("the upstream's entries do not match its checkpoint: {0}")]
    EntriesInvalid(String),
    #[error("log entry {index}: {problem}")]
    EntryMalformed { index: u64, problem: String },
    #[error("upstream unavailable: {0}")]
    Upstream(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl MirrorError {
    pub fn code(&self) -> &'static str {
        match self {
            MirrorError::Halted(_) => "mirror_halted",
            MirrorError::Stale { .. } => "stale_checkpoint",
            MirrorError::CheckpointInvalid(_) => "checkpoint_invalid",
            MirrorError::KeyMismatch { .. } => "upstream_key_mismatch",
            MirrorError::SplitView { .. } => "split_view",
            MirrorError::ConsistencyProofInvalid(_) => "consistency_proof_invalid",
            MirrorError::EntriesInvalid(_) => "entries_invalid",
            MirrorError::EntryMalformed { .. } => "entry_malformed",
            MirrorError::Upstream(_) => "upstream_unavailable",
            MirrorError::Registry(e) => e.code(),
        }
    }

    /// A refusal of what the upstream served (as opposed to the upstream or storage being
    /// unavailable).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, MirrorError::Upstream(_) | MirrorError::Registry(_))
    }
}

impl From<diesel::result::Error> for MirrorError {
    fn from(e: diesel::result::Error) -> Self {
        MirrorError::Registry(e.into())
    }
}

impl From<crate::store::StoreError> for MirrorError {
    fn from(e: crate::store::StoreError) -> Self {
        MirrorError::Registry(e.into())
    }
}

type Result<T, E = MirrorError> = std::result::Result<T, E>;

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub from_size: u64,
    pub to_size: u64,
    pub packages_stored: u64,
    pub packages_rejected: u64,
}

/// A package the mirror refused; its log entry is kept.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MirrorRejection {
    /// The index of the package's entry in the log.
    pub index: u64,
    pub digest: String,
    /// Stable code, e.g. `blob_sha256_mismatch`, `signature_mismatch` or a verifier code.
    pub code: String,
    pub message: String,
    pub rejected_at: String,
}

/// The state of a mirror (`GET /v1/mirror`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MirrorStatus {
    pub upstream: String,
    /// The pinned checkpoint verifier key of the upstream.
    pub upstream_key: String,
    /// Entries held (and verified).
    pub log_size: u64,
    /// The size of the newest verified checkpoint (larger than log_size during a sync).
    pub verified_size: u64,
    pub halted: bool,
    pub halted_reason: Option<String>,
    pub halted_at: Option<String>,
    /// The evidence bundle of the split view that halted the mirror.
    pub evidence_file: Option<String>,
    pub last_sync_at: Option<String>,
    /// The last sync's refusal or failure, if it did not complete.
    pub last_error: Option<String>,
    pub rejections: Vec<MirrorRejection>,
}

#[derive(Debug, Clone, Queryable)]
struct StateRow {
    upstream: String,
    upstream_key: String,
    target_checkpoint: Option<String>,
    checkpoint: Option<String>,
    halted_reason: Option<String>,
    halted_at: Option<i64>,
    evidence_file: Option<String>,
    last_sync_at: Option<i64>,
    last_error: Option<String>,
}

fn load_state(conn: &mut AnyConnection) -> Result<Option<StateRow>, RegistryError> {
    use mirror_state::dsl as m;
    Ok(mirror_state::table
        .find(1)
        .select((
            m::upstream,
            m::upstream_key,
            m::target_checkpoint,
            m::checkpoint,
            m::halted_reason,
            m::halted_at,
            m::evidence_file,
            m::last_sync_at,
            m::last_error,
        ))
        .first(conn)
        .optional()?)
}

/// A signed checkpoint, verified with the key.
struct Verified {
    note: String,
    cp: Checkpoint,
}

fn open_checkpoint(note: &str, key: &VerifierKey) -> Result<Verified, String> {
    let parsed = Note::parse(note.as_bytes()).map_err(|e| e.to_string())?;
    let text = parsed.verify(key).map_err(|e| e.to_string())?;
    let cp = Checkpoint::parse(text).map_err(|e| e.to_string())?;
    if cp.origin != key.name() {
        return Err(format!("origin '{}' is not the key's name '{}'", cp.origin, key.name()));
    }
    Ok(Verified { note: note.to_owned(), cp })
}

/// Two checkpoints that cannot both be true, and what shows it (see `log::split_view`).
struct Conflict<'a> {
    older: &'a Verified,
    newer: &'a Verified,
    /// The newer tree's root at the older size.
    older_root_in_newer: Hash,
    /// Consistency proof from the older size to the newer, in the newer tree.
    proof: &'a [Hash],
    reason: String,
}

/// Stored nodes below `own` and new leaves from `own` on (C2SP tlog clients do the same with
/// hash tiles): the tree the mirror would hold after storing the new entries.
struct Extended<'a> {
    db: DbNodes<'a>,
    own: u64,
    leaves: &'a [Hash],
}

impl NodeSource for Extended<'_> {
    type Error = RegistryError;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, RegistryError> {
        let width = 1u64 << level;
        let (start, end) = (index * width, (index + 1) * width);
        if end <= self.own {
            return self.db.node(level, index);
        }
        if start >= self.own {
            let (s, e) = ((start - self.own) as usize, (end - self.own) as usize);
            let slice = self
                .leaves
                .get(s..e)
                .ok_or(ProofError::IndexOutOfRange { index: end - 1, size: self.own + self.leaves.len() as u64 })?;
            return Ok(merkle::root_of_leaves(slice));
        }
        // Straddles the boundary: split it.
        let left = self.node(level - 1, 2 * index)?;
        let right = self.node(level - 1, 2 * index + 1)?;
        Ok(merkle::node_hash(&left, &right))
    }
}

/// Something the mirror refused to store, with a stable code.
struct Refused {
    code: &'static str,
    message: String,
}

/// A shared rule's outcome as the mirror records it: applied (nothing newly stored), a refused
/// entry, or a failure that stops the sync.
fn replayed<T>(
    outcome: std::result::Result<T, super::apply::ApplyError>,
) -> Result<std::result::Result<bool, Refused>> {
    match outcome {
        Ok(_) => Ok(Ok(false)),
        Err(super::apply::ApplyError::Broken { code, message, .. }) => Ok(Err(refused(code, message))),
        Err(super::apply::ApplyError::Registry(e)) => Err(e.into()),
    }
}

fn refused(code: &'static str, message: impl Into<String>) -> Refused {
    Refused { code, message: message.into() }
}

/// What an entry needs that takes the network, gathered before the batch's transaction.
#[derive(Default)]
struct Prepared {
    /// The full event to replay: the entry itself, or the opened sealed entry.
    event: Option<Event>,
    /// An opened sealed entry: (full entry, salt), kept to serve entitled readers.
    opened: Option<(Vec<u8>, Vec<u8>)>,
    /// A sealed entry that did not open correctly.
    refused: Option<Refused>,
    fetched: Option<std::result::Result<Fetched, Refused>>,
}

/// A package file fetched and verified before the transaction that stores it.
struct Fetched {
    verified: VerifiedPackage,
    file: NamedTempFile,
    sha256: String,
    size: u64,
    /// The package's rows but its signatures' (these depend on the keys in force).
    rows: PackageRows,
}

fn upstream_error(path: &str, e: String) -> MirrorError {
    MirrorError::Upstream(format!("GET {path}: {e}"))
}

fn get_ok(up: &dyn Upstream, path: &str) -> Result<Vec<u8>> {
    match up.get(path, None).map_err(|e| upstream_error(path, e))? {
        (200, body) => Ok(body),
        (status, body) => Err(MirrorError::Upstream(format!(
            "GET {path}: status {status}: {}",
            String::from_utf8_lossy(&body).chars().take(200).collect::<String>()
        ))),
    }
}

/// Entries `[start, end)` through entry bundles, each handed to `sink` with its index; each
/// bundle must hold exactly its width.
fn for_each_entry(
    up: &dyn Upstream,
    start: u64,
    end: u64,
    mut sink: impl FnMut(u64, &[u8]),
    mut progress: impl FnMut(u64),
) -> Result<()> {
    if start >= end {
        return Ok(());
    }
    for tile in start / TILE_WIDTH..=(end - 1) / TILE_WIDTH {
        let first = tile * TILE_WIDTH;
        let width = (end - first).min(TILE_WIDTH);
        let mut path = format!("/log/tile/entries/{}", tiles::encode_index(tile));
        if width < TILE_WIDTH {
            path.push_str(&format!(".p/{width}"));
        }
        let body = get_ok(up, &path)?;
        let entries = tiles::split_bundle(&body)
            .ok_or_else(|| MirrorError::EntriesInvalid(format!("{path}: not an entry bundle")))?;
        if entries.len() as u64 != width {
            return Err(MirrorError::EntriesInvalid(format!("{path}: {} entries, expected {width}", entries.len())));
        }
        for (i, e) in entries.into_iter().enumerate() {
            let index = first + i as u64;
            if index >= start {
                sink(index, e);
            }
        }
        progress(first + width);
    }
    Ok(())
}

/// The leaf hashes of entries `[start, end)`.
fn leaf_hashes(up: &dyn Upstream, start: u64, end: u64) -> Result<Vec<Hash>> {
    let mut out = Vec::new();
    for_each_entry(up, start, end, |_, e| out.push(merkle::leaf_hash(e)), |_| {})?;
    Ok(out)
}

fn parse_proof(body: &[u8]) -> Result<Vec<Hash>> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| MirrorError::ConsistencyProofInvalid(format!("not JSON: {e}")))?;
    let hashes = v
        .get("hashes")
        .and_then(|h| h.as_array())
        .ok_or_else(|| MirrorError::ConsistencyProofInvalid("no 'hashes' array".into()))?;
    hashes
        .iter()
        .map(|h| {
            h.as_str()
                .and_then(|s| hex::decode(s).ok())
                .and_then(|b| <Hash>::try_from(b).ok())
                .ok_or_else(|| MirrorError::ConsistencyProofInvalid(format!("hashes: {h} is not a hex SHA-256 hash")))
        })
        .collect()
}

impl Registry {
    /// The pinned upstream key of a mirror.
    pub(super) fn mirrored_key(&self) -> Result<Option<String>, RegistryError> {
        Ok(load_state(&mut *self.store.conn()?)?.map(|s| s.upstream_key))
    }

    /// The upstream's signed checkpoint of exactly the entries a mirror holds.
    pub(super) fn mirrored_checkpoint(&self) -> Result<Option<String>, RegistryError> {
        Ok(load_state(&mut *self.store.conn()?)?.and_then(|s| s.checkpoint))
    }

    /// The mirror's state and refused packages; `None` for a registry that is not a mirror.
    pub fn mirror_status(&self) -> Result<Option<MirrorStatus>, RegistryError> {
        let mut conn = self.store.conn()?;
        let Some(s) = load_state(&mut conn)? else { return Ok(None) };
        let log_size = transparency::head(&mut conn)?.0;
        let verified_size = match (&s.target_checkpoint, VerifierKey::parse(&s.upstream_key)) {
            (Some(t), Ok(key)) => open_checkpoint(t, &key).map(|v| v.cp.size).unwrap_or(log_size),
            _ => log_size,
        };
        let rows: Vec<(i64, String, String, String, i64)> = mirror_rejections::table
            .order(mirror_rejections::idx)
            .select((
                mirror_rejections::idx,
                mirror_rejections::digest,
                mirror_rejections::code,
                mirror_rejections::message,
                mirror_rejections::rejected_at,
            ))
            .load(&mut conn)?;
        Ok(Some(MirrorStatus {
            upstream: s.upstream,
            upstream_key: s.upstream_key,
            log_size,
            verified_size,
            halted: s.halted_reason.is_some(),
            halted_reason: s.halted_reason,
            halted_at: s.halted_at.map(format_time),
            evidence_file: s.evidence_file,
            last_sync_at: s.last_sync_at.map(format_time),
            last_error: s.last_error,
            rejections: rows
                .into_iter()
                .map(|(idx, digest, code, message, at)| MirrorRejection {
                    index: idx as u64,
                    digest,
                    code,
                    message,
                    rejected_at: format_time(at),
                })
                .collect(),
        }))
    }

    /// Lifts a mirror's halt once an operator has reviewed the split-view evidence (the
    /// evidence file stays where it is). Nothing verified is forgotten: the next sync checks the
    /// upstream against the newest checkpoint the mirror verified, so a split view that
    /// persists halts it again with new evidence. Returns the reason it was halted for.
    pub fn resume_mirror(&self) -> Result<String, RegistryError> {
        self.store.write(|conn| -> Result<String, RegistryError> {
            let Some(state) = load_state(conn)? else {
                return Err(RegistryError::NotFound("this registry is not a mirror".into()));
            };
            let Some(reason) = state.halted_reason else {
                return Err(RegistryError::Conflict("the mirror is not halted".into()));
            };
            diesel::update(mirror_state::table.find(1))
                .set((
                    mirror_state::halted_reason.eq(None::<String>),
                    mirror_state::halted_at.eq(None::<i64>),
                    mirror_state::evidence_file.eq(None::<String>),
                ))
                .execute(conn)?;
            log::warn!(
                "mirror: halt lifted by the operator (was: {reason}; evidence: {})",
                state.evidence_file.as_deref().unwrap_or("none")
            );
            Ok(reason)
        })
    }

    /// Records the outcome of a sync (for `GET /v1/mirror`).
    pub fn record_sync_outcome(&self, error: Option<&MirrorError>) -> Result<(), RegistryError> {
        let message = error.map(|e| format!("{}: {e}", e.code()));
        self.store.write(|conn| -> Result<usize, RegistryError> {
            Ok(diesel::update(mirror_state::table.find(1))
                .set((mirror_state::last_sync_at.eq(now_ms()), mirror_state::last_error.eq(message)))
                .execute(conn)?)
        })?;
        Ok(())
    }

    /// Reads the mirror's state, creating it on the first sync: the upstream key is the one
    /// configured, or fetched from the upstream and pinned (with a warning).
    fn mirror_state(&self, cfg: &MirrorConfig, up: &dyn Upstream) -> Result<StateRow> {
        let mut conn = self.store.conn()?;
        if let Some(state) = load_state(&mut conn)? {
            if let Some(given) = &cfg.upstream_key
                && given.trim() != state.upstream_key
            {
                return Err(MirrorError::KeyMismatch { pinned: state.upstream_key, fetched: given.trim().to_owned() });
            }
            // Trust is the pinned key, not the address: the upstream may move (or be reached
            // through another host). Recorded for `GET /v1/mirror`.
            if state.upstream != up.base() {
                log::warn!("mirror: upstream address changed from {} to {}", state.upstream, up.base());
                drop(conn);
                self.store.write(|conn| -> Result<usize, RegistryError> {
                    Ok(diesel::update(mirror_state::table.find(1))
                        .set(mirror_state::upstream.eq(up.base()))
                        .execute(conn)?)
                })?;
                return Ok(StateRow { upstream: up.base().to_owned(), ..state });
            }
            return Ok(state);
        }
        if transparency::head(&mut conn)?.0 > 0 {
            return Err(MirrorError::Registry(RegistryError::Conflict(
                "this database holds a transparency log of its own; a mirror needs an empty database".into(),
            )));
        }
        drop(conn);
        let key = match &cfg.upstream_key {
            Some(k) => k.trim().to_owned(),
            None => {
                let body = get_ok(up, "/log/key")?;
                let fetched = String::from_utf8_lossy(&body).trim().to_owned();
                log::warn!(
                    "no --upstream-key given: pinning the key the upstream serves, {fetched}; \
                     check it out of band"
                );
                fetched
            }
        };
        VerifierKey::parse(&key).map_err(|e| MirrorError::CheckpointInvalid(format!("upstream key '{key}': {e}")))?;
        self.store.write(|conn| -> Result<usize, RegistryError> {
            Ok(diesel::insert_into(mirror_state::table)
                .values((
                    mirror_state::id.eq(1),
                    mirror_state::upstream.eq(up.base()),
                    mirror_state::upstream_key.eq(&key),
                ))
                .execute(conn)?)
        })?;
        Ok(load_state(&mut *self.store.conn()?)?
            .ok_or_else(|| RegistryError::Internal("the mirror state was not stored".into()))?)
    }

    /// Halts the mirror and writes the evidence bundle; returns the split-view error.
    fn split_view(
        &self,
        cfg: &MirrorConfig,
        up: &dyn Upstream,
        key: &VerifierKey,
        Conflict { older, newer, older_root_in_newer, proof, reason }: Conflict,
    ) -> MirrorError {
        let now = now_ms();
        let evidence = Evidence {
            format: EVIDENCE_FORMAT.to_owned(),
            key: key.to_string(),
            upstream: up.base().to_owned(),
            detected_at: format_time(now),
            older: older.note.clone(),
            newer: newer.note.clone(),
            older_root_in_newer: hex::encode(older_root_in_newer),
            consistency_proof: proof.iter().map(hex::encode).collect(),
            explanation: reason.clone(),
        };
        let file = cfg.evidence_dir.join(format!("{}.json", format_time(now).replace(':', "-")));
        let written = std::fs::create_dir_all(&cfg.evidence_dir)
            .and_then(|()| serde_json::to_vec_pretty(&evidence).map_err(std::io::Error::other))
            .and_then(|bytes| std::fs::write(&file, bytes));
        if let Err(e) = written {
            log::error!("could not write the split-view evidence to {}: {e}", file.display());
        }
        let halted = self.store.write(|conn| -> Result<usize, RegistryError> {
            Ok(diesel::update(mirror_state::table.find(1))
                .set((
                    mirror_state::halted_reason.eq(&reason),
                    mirror_state::halted_at.eq(now),
                    mirror_state::evidence_file.eq(file.display().to_string()),
                ))
                .execute(conn)?)
        });
        if let Err(e) = halted {
            log::error!("could not record the halt: {e}");
        }
        log::error!("split view at {}: {reason}; halted; evidence in {}", up.base(), file.display());
        MirrorError::SplitView { reason, evidence: file }
    }

    /// Step 2: the checkpoint to sync to, given the newest verified one (`target`, of which
    /// `own` entries are stored) and the upstream's `new` one. Refuses a stale or unproven one;
    /// halts on a split view.
    fn next_goal(
        &self,
        cfg: &MirrorConfig,
        up: &dyn Upstream,
        key: &VerifierKey,
        own: u64,
        target: Option<Verified>,
        new: Verified,
    ) -> Result<Verified> {
        let mut conn = self.store.conn()?;
        let (t_size, t_root) = target.as_ref().map_or((0, merkle::empty_root()), |t| (t.cp.size, t.cp.root));
        if new.cp.size < t_size {
            // Provable only when all of the target's entries are here.
            if let Some(target) = target.as_ref().filter(|_| own == t_size) {
                let ours = merkle::tree_root(&mut DbNodes(&mut conn), new.cp.size)?;
                if ours != new.cp.root {
                    let proof = merkle::consistency_proof(&mut DbNodes(&mut conn), new.cp.size, t_size)?;
                    drop(conn);
                    let reason = format!(
                        "a checkpoint of {} entries whose root is not that of the first {} of the {} verified",
                        new.cp.size, new.cp.size, t_size
                    );
                    return Err(self.split_view(
                        cfg,
                        up,
                        key,
                        Conflict { older: &new, newer: target, older_root_in_newer: ours, proof: &proof, reason },
                    ));
                }
            }
            return Err(MirrorError::Stale { have: t_size, got: new.cp.size });
        }
        drop(conn);
        let goal = if new.cp.size == t_size {
            match &target {
                Some(target) if target.cp.root != new.cp.root => {
                    let reason = format!("two checkpoints of {t_size} entries with different roots");
                    return Err(self.split_view(
                        cfg,
                        up,
                        key,
                        Conflict { older: target, newer: &new, older_root_in_newer: new.cp.root, proof: &[], reason },
                    ));
                }
                Some(target) => Verified { note: target.note.clone(), cp: target.cp.clone() },
                None => new,
            }
        } else {
            if let Some(target) = &target {
                let path = format!("/v1/log/proof/consistency?from={t_size}&to={}", new.cp.size);
                let proof = parse_proof(&get_ok(up, &path)?)?;
                if let Err(e) = merkle::verify_consistency(t_size, new.cp.size, &proof, &t_root, &new.cp.root) {
                    // Another history, or a bad proof? The upstream's own entries tell.
                    let theirs = leaf_hashes(up, 0, t_size).map(|leaves| merkle::root_of_leaves(&leaves));
                    if let Ok(theirs) = theirs
                        && theirs != t_root
                        && merkle::verify_consistency(t_size, new.cp.size, &proof, &theirs, &new.cp.root).is_ok()
                    {
                        let reason = format!(
                            "the checkpoint of {} entries does not extend the verified one of {t_size}: its tree \
                             has another root at {t_size}",
                            new.cp.size
                        );
                        return Err(self.split_view(
                            cfg,
                            up,
                            key,
                            Conflict { older: target, newer: &new, older_root_in_newer: theirs, proof: &proof, reason },
                        ));
                    }
                    return Err(MirrorError::ConsistencyProofInvalid(format!("from {t_size} to {}: {e}", new.cp.size)));
                }
            }
            new
        };
        Ok(goal)
    }

    /// One sync with the upstream (see the module docs). `on_verified_checkpoint` is called
    /// with each signed checkpoint once all its entries are committed.
    pub fn sync_mirror(
        &self,
        cfg: &MirrorConfig,
        up: &dyn Upstream,
        on_verified_checkpoint: &dyn Fn(&str),
    ) -> Result<SyncReport> {
        let report = self.sync_entries(cfg, up, on_verified_checkpoint)?;
        // Witness cosignatures are not part of the log: the upstream's newest cosigned
        // checkpoint is followed separately, and a failure there never fails the sync.
        if let Err(e) = self.follow_cosigned_checkpoint(up) {
            log::warn!("mirror: the upstream's cosigned checkpoint was not taken: {e}");
        }
        Ok(report)
    }

    /// Keeps the upstream's newest witness-cosigned checkpoint when it is signed by the pinned
    /// log key and its root is this mirror's own root at that size (a cosigned checkpoint
    /// beyond what the mirror holds waits for the next sync). The witnesses' lines are kept as
    /// served: clients check them against the witness keys they trust.
    fn follow_cosigned_checkpoint(&self, up: &dyn Upstream) -> Result<()> {
        let path = "/log/checkpoint/cosigned";
        let body = match up.get(path, None).map_err(|e| upstream_error(path, e))? {
            (200, body) => body,
            (404, _) => return Ok(()),
            (status, _) => return Err(MirrorError::Upstream(format!("GET {path}: status {status}"))),
        };
        let Some(state) = load_state(&mut *self.store.conn()?)? else { return Ok(()) };
        let key = VerifierKey::parse(&state.upstream_key)
            .map_err(|e| RegistryError::Internal(format!("the pinned upstream key: {e}")))?;
        let note = String::from_utf8(body).map_err(|_| MirrorError::CheckpointInvalid("not UTF-8".into()))?;
        let cosigned = open_checkpoint(&note, &key).map_err(MirrorError::CheckpointInvalid)?;
        if self.mirrored_cosigned_checkpoint()?.as_deref() == Some(note.as_str()) {
            return Ok(());
        }
        let mut conn = self.store.conn()?;
        if cosigned.cp.size > transparency::head(&mut conn)?.0 {
            return Ok(());
        }
        if transparency::tree_root_at(&mut conn, cosigned.cp.size)? != cosigned.cp.root {
            return Err(MirrorError::CheckpointInvalid(format!(
                "the cosigned checkpoint's root is not the verified log's root at size {}",
                cosigned.cp.size
            )));
        }
        drop(conn);
        self.store.write(|conn| -> Result<usize, RegistryError> {
            Ok(diesel::update(mirror_state::table.find(1))
                .set(mirror_state::cosigned_checkpoint.eq(&note))
                .execute(conn)?)
        })?;
        Ok(())
    }

    /// The upstream's newest witness-cosigned checkpoint this mirror holds (see
    /// [`Registry::follow_cosigned_checkpoint`]).
    pub(super) fn mirrored_cosigned_checkpoint(&self) -> Result<Option<String>, RegistryError> {
        let stored: Option<Option<String>> = mirror_state::table
            .find(1)
            .select(mirror_state::cosigned_checkpoint)
            .first(&mut *self.store.conn()?)
            .optional()?;
        Ok(stored.flatten())
    }

    fn sync_entries(
        &self,
        cfg: &MirrorConfig,
        up: &dyn Upstream,
        on_verified_checkpoint: &dyn Fn(&str),
    ) -> Result<SyncReport> {
        let state = self.mirror_state(cfg, up)?;
        if let Some(reason) = state.halted_reason {
            return Err(MirrorError::Halted(reason));
        }
        let key = VerifierKey::parse(&state.upstream_key)
            .map_err(|e| RegistryError::Internal(format!("the pinned upstream key: {e}")))?;

        // Step 1.
        let body = get_ok(up, "/log/checkpoint")?;
        let note = String::from_utf8(body).map_err(|_| MirrorError::CheckpointInvalid("not UTF-8".into()))?;
        let new = open_checkpoint(&note, &key).map_err(MirrorError::CheckpointInvalid)?;

        // Step 2.
        let own = transparency::head(&mut *self.store.conn()?)?.0;
        let target = match &state.target_checkpoint {
            Some(t) => {
                Some(open_checkpoint(t, &key).map_err(|e| RegistryError::Internal(format!("stored checkpoint: {e}")))?)
            }
            None => None,
        };
        let goal = self.next_goal(cfg, up, &key, own, target, new)?;
        let mut report = SyncReport { from_size: own, to_size: own, ..SyncReport::default() };
        if own == goal.cp.size {
            if state.checkpoint.as_deref() != Some(goal.note.as_str()) {
                self.store.write(|conn| -> Result<usize, RegistryError> {
                    Ok(diesel::update(mirror_state::table.find(1))
                        .set((mirror_state::target_checkpoint.eq(&goal.note), mirror_state::checkpoint.eq(&goal.note)))
                        .execute(conn)?)
                })?;
                on_verified_checkpoint(&goal.note);
            }
            return Ok(report);
        }

        // Step 3.
        let total = goal.cp.size - own;
        log::info!("mirror: fetching {total} entries ({own} to {}) from {}", goal.cp.size, up.base());
        // Small syncs keep the entries from this pass; large ones keep only the leaf hashes and
        // fetch each batch again, checking it against them.
        let keep = total <= cfg.entries_in_memory;
        let (mut leaves, mut kept) = (Vec::new(), Vec::new());
        for_each_entry(
            up,
            own,
            goal.cp.size,
            |_, e| {
                leaves.push(merkle::leaf_hash(e));
                if keep {
                    kept.push(e.to_vec());
                }
            },
            |done| {
                if done % (TILE_WIDTH * 40) == 0 {
                    log::info!("mirror: fetched entries up to {done} of {}", goal.cp.size);
                }
            },
        )?;
        let root = {
            let mut conn = self.store.conn()?;
            merkle::tree_root(&mut Extended { db: DbNodes(&mut conn), own, leaves: &leaves }, goal.cp.size)?
        };
        if root != goal.cp.root {
            return Err(MirrorError::EntriesInvalid(format!(
                "entries {own} to {} do not hash to the checkpoint's root",
                goal.cp.size
            )));
        }

        // Steps 4 and 5, batch by batch. While one batch's transaction runs, the next batch's
        // files are fetched and verified on other threads.
        let batch = cfg.batch.max(1) as u64;
        let size = goal.cp.size;
        let load = |start: u64| -> Result<Loaded> {
            let end = (start + batch).min(size);
            let bytes: Vec<Vec<u8>> = if keep {
                kept[(start - own) as usize..(end - own) as usize].to_vec()
            } else {
                let mut again = Vec::new();
                for_each_entry(up, start, end, |_, e| again.push(e.to_vec()), |_| {})?;
                if again.iter().zip(&leaves[(start - own) as usize..]).any(|(e, l)| merkle::leaf_hash(e) != *l) {
                    return Err(MirrorError::EntriesInvalid(format!(
                        "entries {start} to {end} changed since they were checked against the checkpoint"
                    )));
                }
                again
            };
            let chunk = bytes
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    Event::decode(e).map_err(|err| MirrorError::EntryMalformed {
                        index: start + i as u64,
                        problem: err.to_string(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            // Files are fetched and verified before the transaction; everything that depends on
            // the log's state (keys in force, names) is checked inside it.
            let prepared = self.prepare_batch(cfg, up, start, &chunk, &bytes)?;
            Ok(Loaded { start, end, bytes, chunk, prepared })
        };
        let index = std::thread::scope(|scope| -> Result<u64> {
            let load = &load;
            let mut next = Some(scope.spawn(move || load(own)));
            let mut index = own;
            while let Some(handle) = next.take() {
                let Loaded { start, end, bytes, chunk, mut prepared } =
                    handle.join().map_err(|_| RegistryError::Internal("a mirror fetch thread panicked".into()))??;
                if end < size {
                    next = Some(scope.spawn(move || load(end)));
                }
                let last = end == size;
                let (stored, rejected) = self.store.write(|conn| -> Result<(u64, u64)> {
                    diesel::update(mirror_state::table.find(1))
                        .set(mirror_state::target_checkpoint.eq(&goal.note))
                        .execute(conn)?;
                    let (mut stored, mut rejected) = (0, 0);
                    for (i, d) in chunk.iter().enumerate() {
                        let idx = start + i as u64;
                        let mut p = std::mem::take(&mut prepared[i]);
                        let (sealed_entry, salt) = p.opened.take().unzip();
                        match self.replay(conn, cfg, idx, d, p)? {
                            Replayed::Stored => stored += 1,
                            Replayed::Rejected => rejected += 1,
                            Replayed::Kept => {}
                        }
                        let entry =
                            StoredEntry { kind: d.kind(), subject: d.subject(), bytes: &bytes[i], sealed_entry, salt };
                        transparency::append_at(conn, idx, &entry)?;
                    }
                    if last {
                        diesel::update(mirror_state::table.find(1))
                            .set(mirror_state::checkpoint.eq(&goal.note))
                            .execute(conn)?;
                    }
                    Ok((stored, rejected))
                })?;
                index = end;
                report.packages_stored += stored;
                report.packages_rejected += rejected;
                cfg.progress.report(end - own, total);
                if total > batch {
                    log::info!(
                        "mirror: committed {index} of {size} entries ({} package(s) stored, {} refused so far)",
                        report.packages_stored,
                        report.packages_rejected
                    );
                }
            }
            Ok(index)
        })?;
        report.to_size = index;
        on_verified_checkpoint(&goal.note);
        Ok(report)
    }

    /// [`Self::prepare_entry`] for every entry of a batch, `cfg.parallel` at a time (the
    /// downloads wait on the network and the verification takes a core; doing several at once
    /// keeps both busy). The first error stops the workers.
    fn prepare_batch(
        &self,
        cfg: &MirrorConfig,
        up: &dyn Upstream,
        start: u64,
        chunk: &[Decoded],
        bytes: &[Vec<u8>],
    ) -> Result<Vec<Prepared>> {
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let prepare = |i: usize| self.prepare_entry(cfg, up, start + i as u64, &chunk[i], &bytes[i]);
        let workers = cfg.parallel.clamp(1, chunk.len().max(1));
        if workers == 1 {
            return (0..chunk.len()).map(prepare).collect();
        }
        let slots: Vec<Mutex<Option<Result<Prepared>>>> = chunk.iter().map(|_| Mutex::new(None)).collect();
        let (next, failed) = (AtomicUsize::new(0), AtomicBool::new(false));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= chunk.len() {
                            break;
                        }
                        let outcome = prepare(i);
                        if outcome.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
                    }
                });
            }
        });
        let mut prepared = Vec::with_capacity(chunk.len());
        for slot in slots {
            match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
                Some(outcome) => prepared.push(outcome?),
                // Not reached: the workers stopped at an earlier error, returned above.
                None => return Err(RegistryError::Internal("a batch entry was not prepared".into()).into()),
            }
        }
        Ok(prepared)
    }

    /// Opens a sealed entry (with the token) and fetches a published package's file. Only an
    /// unreachable upstream fails; a bad answer about one entry is a refusal of that entry.
    fn prepare_entry(
        &self,
        cfg: &MirrorConfig,
        up: &dyn Upstream,
        idx: u64,
        d: &Decoded,
        bytes: &[u8],
    ) -> Result<Prepared> {
        let mut p = Prepared::default();
        match d {
            Decoded::Event { event, .. } => p.event = Some(event.clone()),
            Decoded::Sealed { .. } => {
                let Some(token) = &cfg.token else { return Ok(p) };
                match open_sealed(up, token, idx, d, bytes)? {
                    None => return Ok(p),
                    Some(Err(r)) => {
                        p.refused = Some(r);
                        return Ok(p);
                    }
                    Some(Ok((event, full, salt))) => {
                        p.event = Some(event);
                        p.opened = Some((full, salt));
                    }
                }
            }
        }
        if let Some(event) = &p.event {
            p.fetched = self.prefetch(up, cfg.token.as_deref(), event, d.at());
        }
        Ok(p)
    }

    /// Downloads and verifies the file of a published package. `None` for other entries.
    fn prefetch(
        &self,
        up: &dyn Upstream,
        token: Option<&str>,
        event: &Event,
        at: i64,
    ) -> Option<std::result::Result<Fetched, Refused>> {
        let Event::PackagePublished { digest, file_sha256, organisation, .. } = event else {
            return None;
        };
        Some((|| {
            let mut file =
                self.store.blobs.temp_file().map_err(|e| refused("mirror_storage", format!("temporary file: {e}")))?;
            let path = format!("/v1/packages/{digest}/download");
            let status = up
                .download(&path, token, file.as_file_mut())
                .map_err(|e| refused("package_unavailable", format!("GET {path}: {e}")))?;
            if status != 200 {
                return Err(refused("package_unavailable", format!("GET {path}: status {status}")));
            }
            let (sha256, size) = crate::package::bagit::hash_file(file.path(), &mut |_| {})
                .map(|(h, n)| (h.to_hex(), n))
                .map_err(|e| refused("mirror_storage", e.to_string()))?;
            if &sha256 != file_sha256 {
                return Err(refused(
                    "blob_sha256_mismatch",
                    format!("the file's SHA-256 is {sha256}, the log entry says {file_sha256}"),
                ));
            }
            let verified = verify_file(file.path(), self.policy.limits)
                .map_err(|r| Refused { code: r.code(), message: format!("the package failed verification: {r}") })?;
            // Synced here, on a fetching thread, so storing it in the transaction is quick.
            file.as_file().sync_all().map_err(|e| refused("mirror_storage", format!("syncing the file: {e}")))?;
            let rows = PackageRows::unsigned(&verified, &sha256, size, organisation, at);
            Ok(Fetched { verified, file, sha256, size, rows })
        })())
    }

    /// Applies one entry in the batch's transaction. Refusals of a package are recorded and do
    /// not fail the batch; database errors do.
    fn replay(
        &self,
        conn: &mut AnyConnection,
        cfg: &MirrorConfig,
        idx: u64,
        d: &Decoded,
        p: Prepared,
    ) -> Result<Replayed> {
        let at = d.at();
        let Prepared { event, refused: open_refused, fetched, .. } = p;
        if let Some(r) = open_refused {
            record_rejection(conn, idx, d.subject(), &r)?;
            return Ok(Replayed::Rejected);
        }
        // A sealed entry the mirror may not open: kept, not replayed.
        let Some(event) = &event else { return Ok(Replayed::Kept) };
        let outcome = match event {
            // The origin's rules (super::apply), replayed.
            Event::OrganisationAdded { .. } => replayed(super::apply::organisation_added(conn, event, at))?,
            Event::KeyAdded { .. } => replayed(super::apply::key_added(conn, event, at))?,
            Event::KeyRevoked { key_id, effective_at, compromised, reason, .. } => {
                let row: Option<KeyRow> =
                    signing_keys::table.find(key_id).select(KeyRow::as_select()).first(conn).optional()?;
                match row {
                    None => Err(refused("unknown_key", format!("revocation of unknown key {key_id}"))),
                    Some(row) => {
                        // Marked, never deleted; the origin's rule.
                        super::key_revocation::apply(conn, row, *effective_at, *compromised, reason)?;
                        Ok(false)
                    }
                }
            }
            Event::PackagePublished { .. } => match fetched {
                Some(Ok(f)) => self.store_package(conn, cfg, event, at, f)?,
                Some(Err(r)) => Err(r),
                None => Err(refused("package_unavailable", "the package was not fetched")),
            },
            Event::Countersigned { digest, .. } => {
                if packages::table.find(digest).count().get_result::<i64>(conn)? == 0 {
                    return Ok(Replayed::Kept);
                }
                replayed(super::apply::countersigned(conn, event, at))?
            }
            // The origin's rule, replayed: the issuer's key in force at the entry's time, the
            // same ownership and immutability, the same stored bytes.
            Event::ProfileVersionAdded { .. } => {
                match super::profiles::check_version(conn, event, at).map_err(MirrorError::Registry)? {
                    Ok(super::profiles::Checked::New) => {
                        super::profiles::store_version(conn, event, at, Some(idx)).map_err(MirrorError::Registry)?;
                        Ok(false)
                    }
                    Ok(super::profiles::Checked::Same) => Ok(false),
                    Err(r) => Err(refused(r.code, r.detail)),
                }
            }
            Event::Withdrawn { .. } => replayed(super::apply::withdrawn(conn, event, at))?,
        };
        match outcome {
            Ok(true) => Ok(Replayed::Stored),
            Ok(false) => Ok(Replayed::Kept),
            Err(r) => {
                record_rejection(conn, idx, event.subject(), &r)?;
                Ok(Replayed::Rejected)
            }
        }
    }

    /// The checks an upload passes that depend on the log's state, then the rows and the blob.
    /// `Ok(Ok(false))`: verified but not releasable to the mirror's country, so not stored.
    fn store_package(
        &self,
        conn: &mut AnyConnection,
        cfg: &MirrorConfig,
        event: &Event,
        at: i64,
        f: Fetched,
    ) -> std::result::Result<std::result::Result<bool, Refused>, MirrorError> {
        let Event::PackagePublished { digest, name, version, organisation, releasability, signatures: logged, .. } =
            event
        else {
            return Ok(Err(refused("internal", "not a publication")));
        };
        let v = &f.verified;
        let m = v.manifest();
        if v.digest().to_string() != *digest {
            return Ok(Err(refused("digest_mismatch", format!("the file's package digest is {}", v.digest()))));
        }
        let level = m.releasability.level();
        let releasable = cfg.country.as_deref().is_none_or(|c| m.releasability.releasable_to_country(c));
        if (m.name.as_str(), m.version.as_str(), level) != (name.as_str(), version.as_str(), releasability.as_str()) {
            return Ok(Err(refused(
                "manifest_mismatch",
                format!(
                    "the manifest says {} {} ({level}); the log entry says {name} {version} ({releasability})",
                    m.name, m.version
                ),
            )));
        }
        // Signers, as an upload is checked, with "in force" meaning in log order.
        let (accepted, rows) = match check_signers(conn, v, digest, organisation, at)? {
            Ok(Signers { signers, rows }) => (signers, rows),
            Err(r) => return Ok(Err(refused(r.code, format!("{}: {}", r.file, r.detail)))),
        };
        let signed: Vec<(String, String)> =
            accepted.iter().map(|(_, k, kind)| (k.clone(), (*kind).to_owned())).collect();
        if signed != *logged {
            return Ok(Err(refused(
                "signature_mismatch",
                format!("the file's signers {signed:?} are not the logged ones {logged:?}"),
            )));
        }
        if !signed.iter().any(|(_, kind)| kind == "author") {
            return Ok(Err(refused("not_signed_by_uploader", format!("no signature by '{organisation}'"))));
        }
        // The origin's naming rule; a digest already stored is the same conflict.
        match super::apply::name_taken(conn, organisation, name, version)? {
            Some(super::apply::NameTaken::OwnedBy(_)) => {
                return Ok(Err(refused(
                    "name_owned_by_other_organisation",
                    format!("'{name}' belongs to another organisation"),
                )));
            }
            Some(super::apply::NameTaken::VersionPublished { .. }) => {
                return Ok(Err(refused("version_conflict", format!("{name} {version} is already stored"))));
            }
            None => {}
        }
        if packages::table.find(digest).count().get_result::<i64>(conn)? > 0 {
            return Ok(Err(refused("version_conflict", format!("{digest} is already stored"))));
        }
        if !releasable {
            let country = cfg.country.as_deref().unwrap_or("");
            log::info!("mirror: {digest} is not releasable to {country}; its entry is kept, the package is not stored");
            return Ok(Ok(false));
        }
        let package = f.rows.signed(v, &f.sha256, f.size, at, rows, &accepted);
        // The blob first: if the transaction then fails, the start-up sweep removes it.
        self.store
            .blobs
            .put(f.file, &f.sha256)
            .map_err(|e| RegistryError::Unavailable(format!("storing blob: {e}")))?;
        package.insert(conn)?;
        Ok(Ok(true))
    }
}

/// One batch of entries, decoded, with their files fetched and verified.
struct Loaded {
    start: u64,
    end: u64,
    bytes: Vec<Vec<u8>>,
    chunk: Vec<Decoded>,
    prepared: Vec<Prepared>,
}

enum Replayed {
    Stored,
    Rejected,
    Kept,
}

fn record_rejection(conn: &mut AnyConnection, idx: u64, subject: &str, r: &Refused) -> Result<()> {
    log::warn!("mirror: entry {idx} ({subject}) refused: {}: {}", r.code, r.message);
    diesel::insert_into(mirror_rejections::table)
        .values((
            mirror_rejections::idx.eq(idx as i64),
            mirror_rejections::digest.eq(subject),
            mirror_rejections::code.eq(r.code),
            mirror_rejections::message.eq(&r.message),
            mirror_rejections::rejected_at.eq(now_ms()),
        ))
        .execute(conn)?;
    Ok(())
}

/// An opened sealed entry: the full event, the full entry's bytes and the salt.
type Opened = (Event, Vec<u8>, Vec<u8>);

/// Opens sealed entry `idx` with the token: `None` if the token may not see it (404). The
/// opened entry must be the logged one, its commitment SHA-256(salt ‖ full entry) must match,
/// and the full entry must be the same change (kind, time, package, level).
fn open_sealed(
    up: &dyn Upstream,
    token: &str,
    idx: u64,
    d: &Decoded,
    bytes: &[u8],
) -> Result<Option<std::result::Result<Opened, Refused>>> {
    let Decoded::Sealed { kind, at, digest, level, commitment } = d else { return Ok(None) };
    let path = format!("/v1/log/sealed/{idx}");
    let (status, body) = up.get(&path, Some(token)).map_err(|e| upstream_error(&path, e))?;
    match status {
        200 => {}
        404 => return Ok(None),
        other => {
            return Ok(Some(Err(refused("sealed_entry_unavailable", format!("GET {path}: status {other}")))));
        }
    }
    let bad = |m: String| Ok(Some(Err(refused("sealed_entry_invalid", m))));
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return bad(format!("GET {path}: not JSON"));
    };
    let (Some(entry), Some(full), Some(salt)) =
        (v["entry"].as_str(), v["full_entry"].as_str(), v["salt"].as_str().and_then(|s| hex::decode(s).ok()))
    else {
        return bad(format!("GET {path}: needs entry, full_entry and a hex salt"));
    };
    if entry.as_bytes() != bytes {
        return bad("the opened entry is not the logged one".into());
    }
    if crate::log::entry::seal_commitment(&salt, full.as_bytes()) != *commitment {
        return bad("SHA-256(salt ‖ full entry) is not the logged commitment".into());
    }
    let event = match Event::decode(full.as_bytes()) {
        Ok(Decoded::Event { at: full_at, event })
            if full_at == *at
                && event.kind() == kind
                && event.subject() == digest
                && !matches!(&event, Event::PackagePublished { releasability, .. } if releasability != level) =>
        {
            event
        }
        Ok(_) => return bad("the full entry is not the change the sealed entry describes".into()),
        Err(e) => return bad(format!("the full entry: {e}")),
    };
    Ok(Some(Ok((event, full.as_bytes().to_vec(), salt))))
}

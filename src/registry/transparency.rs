//! The registry's transparency log in the database: appending an entry in the transaction of
//! the state change it records, logging the state that predates the log, and reading roots,
//! proofs, tiles and signed checkpoints. Hashing and formats are in [`crate::log`].
//!
//! Log order is the registry's clock. Every append first increments the one row of `log_head`
//! and holds it until the transaction ends, so appends are serialised by the database (a row
//! lock on PostgreSQL, the write lock on SQLite) and several processes can share one log.

use std::sync::Mutex;

use diesel::prelude::*;

use super::views::{ConsistencyProof, InclusionProof, LogEntries, SealedEntry};
use super::{Reader, Registry, RegistryError, Result};
use crate::log::checkpoint::Checkpoint;
use crate::log::entry::Event;
use crate::log::merkle::{self, Hash, NodeSource, ProofError};
use crate::log::note::{NoteSigner, VerifierKey};
use crate::log::tiles::{self, TILE_HEIGHT, TILE_WIDTH, TileAddress};
use crate::store::models::{KeyRow, OrganisationRow, PackageRow, SignatureRow};
use crate::store::schema::{
    log_cosignatures, log_entries, log_head, log_nodes, organisations, packages, signatures, signing_keys,
};
use crate::store::{AnyConnection, now_ms};

/// The most entries `GET /v1/log/entries` returns at once.
pub const MAX_ENTRIES_PER_REQUEST: u64 = 1000;

impl From<ProofError> for RegistryError {
    fn from(e: ProofError) -> Self {
        RegistryError::bad_request(e.to_string())
    }
}

/// The key that signs checkpoints and the log's origin line.
pub struct LogKey {
    signer: NoteSigner,
    /// Signed checkpoint of the last size asked for: a checkpoint is signed once per size.
    cached: Mutex<Option<(u64, String)>>,
}

impl LogKey {
    /// `origin` is both the checkpoint's origin line and the note key name.
    pub fn new(origin: &str, key: &crate::package::signing::SecretKey) -> std::result::Result<LogKey, String> {
        let signer =
            NoteSigner::new(origin, key.signing_key().clone()).map_err(|e| format!("log origin '{origin}': {e}"))?;
        Ok(LogKey { signer, cached: Mutex::new(None) })
    }

    pub fn origin(&self) -> &str {
        self.signer.verifier().name()
    }

    pub fn verifier(&self) -> &VerifierKey {
        self.signer.verifier()
    }
}

/// The origin of a log whose operator configured none: `<host>[/<path>]/log` from the
/// registry's public URL (`https://prequal.example` gives `prequal.example/log`), else
/// `prequal-<hex of the first 8 bytes of SHA-256(public key)>`. Either is unique to the
/// registry, unlike a bind address: three registries on `127.0.0.1` once shared one origin.
pub fn default_origin(public_url: Option<&str>, key: &ed25519_dalek::VerifyingKey) -> String {
    let from_url = public_url.and_then(|url| {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        // Drop user information, query and fragment; keep host, port and path.
        let rest = rest.split(['?', '#']).next().unwrap_or("");
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r).trim_end_matches('/');
        let ok = !rest.is_empty() && crate::log::note::check_name(rest).is_ok();
        ok.then(|| format!("{rest}/log"))
    });
    from_url.unwrap_or_else(|| {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(key.as_bytes());
        format!("prequal-{}", hex::encode(&digest[..8]))
    })
}

/// Whether `origin` names a loopback host (`localhost`, `127.x.y.z`, `::1`): such an origin
/// is not unique to one registry, so outside witnesses and clients cannot tell logs apart.
pub fn is_loopback_origin(origin: &str) -> bool {
    let host = origin.split('/').next().unwrap_or(origin);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.rsplit_once(':').filter(|(h, _)| !h.contains(':')).map_or(host, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

/// Appends `event`, made at `at`, in the caller's transaction; returns its index.
pub(super) fn append(conn: &mut AnyConnection, event: &Event, at: i64) -> Result<u64> {
    // A mirror's log is its upstream's: nothing of its own may be appended (`prequal admin`
    // on a mirror's database included).
    if let Some(upstream) = crate::store::schema::mirror_state::table
        .find(1)
        .select(crate::store::schema::mirror_state::upstream)
        .first::<String>(conn)
        .optional()?
    {
        return Err(RegistryError::ReadOnlyMirror { upstream });
    }
    let full = event.encode(at).map_err(|e| RegistryError::bad_request(e.to_string()))?;
    // Changes to packages that are not public are logged sealed (see `log::entry`).
    let level = match event {
        Event::PackagePublished { releasability, .. } => Some(releasability.clone()),
        Event::Countersigned { digest, .. } | Event::Withdrawn { digest, .. } => {
            packages::table.find(digest).select(packages::releasability).first::<String>(conn).optional()?
        }
        _ => None,
    }
    .filter(|level| level != "public");
    let (bytes, sealed_entry, salt) = match level {
        None => (full, None, None),
        Some(level) => {
            use rand_core::RngCore as _;
            let mut salt = [0u8; 32];
            rand_core::OsRng.fill_bytes(&mut salt);
            let sealed = event
                .encode_sealed(at, &level, &salt, &full)
                .ok_or_else(|| RegistryError::Internal("a sealed entry of a change that is not a package's".into()))?;
            (sealed, Some(full), Some(salt.to_vec()))
        }
    };
    // Taking the next index locks the head row until the transaction ends.
    let size: i64 = diesel::update(log_head::table.find(1))
        .set(log_head::size.eq(log_head::size + 1))
        .returning(log_head::size)
        .get_result(conn)?;
    let index = size - 1;
    let stored = StoredEntry { kind: event.kind(), subject: event.subject(), bytes: &bytes, sealed_entry, salt };
    insert_entry(conn, index, &stored)?;
    Ok(index as u64)
}

/// One entry as the log tables keep it.
pub(super) struct StoredEntry<'a> {
    pub kind: &'a str,
    pub subject: &'a str,
    /// The logged bytes (sealed, for a change to a non-public package).
    pub bytes: &'a [u8],
    /// For a sealed entry, the full entry and the salt, when known.
    pub sealed_entry: Option<Vec<u8>>,
    pub salt: Option<Vec<u8>>,
}

/// Appends an entry another log already holds at `index` (a mirror copying its upstream), in
/// the caller's transaction. The log must have exactly `index` entries.
pub(super) fn append_at(conn: &mut AnyConnection, index: u64, entry: &StoredEntry) -> Result<()> {
    let size: i64 = diesel::update(log_head::table.find(1))
        .set(log_head::size.eq(log_head::size + 1))
        .returning(log_head::size)
        .get_result(conn)?;
    if size - 1 != to_i64(index)? {
        return Err(RegistryError::Internal(format!("log entry {index} appended to a log of {} entries", size - 1)));
    }
    insert_entry(conn, size - 1, entry)
}

fn insert_entry(conn: &mut AnyConnection, index: i64, e: &StoredEntry) -> Result<()> {
    let leaf = merkle::leaf_hash(e.bytes);
    diesel::insert_into(log_entries::table)
        .values((
            log_entries::idx.eq(index),
            log_entries::kind.eq(e.kind),
            log_entries::subject.eq(e.subject),
            log_entries::entry.eq(e.bytes),
            log_entries::leaf_hash.eq(leaf.as_slice()),
            log_entries::created_at.eq(now_ms()),
            log_entries::sealed_entry.eq(&e.sealed_entry),
            log_entries::salt.eq(&e.salt),
        ))
        .execute(conn)?;
    // The complete subtrees this leaf closes: one per trailing 1 bit of its index.
    let (mut hash, mut level, mut i) = (leaf, 0i32, index);
    insert_node(conn, level, i, &hash)?;
    while i & 1 == 1 {
        let left = DbNodes(conn).node(u32::try_from(level).unwrap_or(0), (i - 1) as u64)?;
        hash = merkle::node_hash(&left, &hash);
        level += 1;
        i >>= 1;
        insert_node(conn, level, i, &hash)?;
    }
    Ok(())
}

fn insert_node(conn: &mut AnyConnection, level: i32, idx: i64, hash: &Hash) -> Result<()> {
    diesel::insert_into(log_nodes::table)
        .values((log_nodes::level.eq(level), log_nodes::idx.eq(idx), log_nodes::hash.eq(hash.as_slice())))
        .execute(conn)?;
    Ok(())
}

fn to_hash(bytes: Vec<u8>) -> Result<Hash> {
    bytes.try_into().map_err(|_| RegistryError::Internal("a stored log hash is not 32 bytes".into()))
}

fn to_i64(n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| RegistryError::bad_request(format!("{n} is out of range")))
}

/// Complete subtree hashes from `log_nodes`.
pub(super) struct DbNodes<'a>(pub &'a mut AnyConnection);

impl NodeSource for DbNodes<'_> {
    type Error = RegistryError;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash> {
        let found: Option<Vec<u8>> = log_nodes::table
            .find((i32::try_from(level).unwrap_or(i32::MAX), to_i64(index)?))
            .select(log_nodes::hash)
            .first(self.0)
            .optional()?;
        to_hash(found.ok_or_else(|| RegistryError::Internal(format!("log node {level}/{index} is missing")))?)
    }
}

/// The index of the `key_added` entry of each key, refusing keys that were not added before
/// `before` or are revoked at `now`. Called inside a transaction that has appended (and so holds
/// the log head): every revocation logged before this entry is visible here, every later one
/// comes after it in the log.
pub(super) fn require_keys_in_force(
    conn: &mut AnyConnection,
    signers: &[(String, String)],
    before: u64,
    now: i64,
) -> Result<()> {
    for (file, key_id) in signers {
        let added: Option<i64> = log_entries::table
            .filter(log_entries::subject.eq(key_id))
            .filter(log_entries::kind.eq("key_added"))
            .select(log_entries::idx)
            .first(conn)
            .optional()?;
        if added.is_none_or(|i| (i as u64) >= before) {
            return Err(RegistryError::SignatureRejected {
                code: "unknown_key",
                file: file.clone(),
                detail: format!("key {key_id} has no entry in the registry's log before this package"),
            });
        }
        let revoked: Option<i64> =
            signing_keys::table.find(key_id).select(signing_keys::revoked_at).first(conn).optional()?.flatten();
        if revoked.is_some_and(|t| t <= now) {
            return Err(RegistryError::SignatureRejected {
                code: "key_revoked",
                file: file.clone(),
                detail: format!("key {key_id} was revoked before this package's log entry"),
            });
        }
    }
    Ok(())
}

/// The root of the tree of `size` entries, from the stored subtrees.
pub(super) fn tree_root_at(conn: &mut AnyConnection, size: u64) -> Result<Hash> {
    merkle::tree_root(&mut DbNodes(conn), size)
}

pub(super) fn head(conn: &mut AnyConnection) -> Result<(u64, bool)> {
    let (size, backfilled): (i64, bool) =
        log_head::table.find(1).select((log_head::size, log_head::backfilled)).first(conn)?;
    Ok((size as u64, backfilled))
}

impl Registry {
    /// Uses `key` to sign checkpoints.
    pub fn with_log_key(mut self, key: LogKey) -> Registry {
        self.log_key = Some(key);
        self
    }

    pub fn log_key(&self) -> Option<&LogKey> {
        self.log_key.as_ref()
    }

    /// Records this process's log key as the log's key if none is recorded yet, and refuses a
    /// key (or origin) other than the recorded one: replicas on one database must all sign
    /// checkpoints with the same key.
    pub fn claim_log_key(&self) -> Result<()> {
        let Some(key) = &self.log_key else { return Ok(()) };
        let mine = key.verifier().to_string();
        let recorded = self.store.write(|conn| -> Result<Option<String>> {
            diesel::update(log_head::table.find(1).filter(log_head::verifier_key.is_null()))
                .set(log_head::verifier_key.eq(&mine))
                .execute(conn)?;
            Ok(log_head::table.find(1).select(log_head::verifier_key).first(conn)?)
        })?;
        match recorded {
            Some(r) if r != mine => Err(RegistryError::Conflict(format!(
                "this log is signed with verifier key {r}; this process has {mine}: give every process \
                 serving the database the same --log-key and --log-origin"
            ))),
            _ => Ok(()),
        }
    }

    /// The verifier key recorded as the log's (by the first process that served it), if any.
    pub fn recorded_log_key(&self) -> Result<Option<VerifierKey>> {
        let mut conn = self.store.conn()?;
        let recorded: Option<String> = log_head::table.find(1).select(log_head::verifier_key).first(&mut conn)?;
        recorded
            .map(|r| {
                VerifierKey::parse(&r)
                    .map_err(|e| RegistryError::Internal(format!("the recorded log verifier key '{r}': {e}")))
            })
            .transpose()
    }

    /// The number of entries in the log.
    pub fn log_size(&self) -> Result<u64> {
        let mut conn = self.store.conn()?;
        Ok(head(&mut conn)?.0)
    }

    fn check_size(conn: &mut AnyConnection, size: u64, param: &str) -> Result<u64> {
        let current = head(conn)?.0;
        if size > current {
            return Err(RegistryError::bad_request(format!(
                "{param}: {size} is larger than the log ({current} entries)"
            )));
        }
        Ok(current)
    }

    /// The root hash of the log at `size` entries.
    pub fn log_root(&self, size: u64) -> Result<Hash> {
        let mut conn = self.store.conn()?;
        Self::check_size(&mut conn, size, "size")?;
        merkle::tree_root(&mut DbNodes(&mut conn), size)
    }

    /// The verifier key of the checkpoints this registry serves: its own, or a mirror's
    /// upstream's.
    pub fn log_verifier_key(&self) -> Result<String> {
        if let Some(key) = &self.log_key {
            return Ok(key.verifier().to_string());
        }
        self.mirrored_key()?.ok_or_else(|| RegistryError::Unavailable("no log key configured".into()))
    }

    /// The signed checkpoint (C2SP signed note) of the log as it is now, with the stored
    /// witness cosignatures of its size appended (see [`super::witnessing`]). A mirror serves
    /// its upstream's signed checkpoint of the entries it holds, verbatim.
    pub fn checkpoint(&self) -> Result<String> {
        if self.log_key.is_none() {
            let mut note = self.mirrored_checkpoint()?.ok_or_else(|| {
                RegistryError::Unavailable("no log key, or a mirror with no verified checkpoint yet".into())
            })?;
            // A mirror that witnesses serves its own cosignature with it.
            if let Some(size) = note.lines().nth(1).and_then(|l| l.parse::<u64>().ok()) {
                for line in cosignature_lines(&mut *self.store.conn()?, size)? {
                    note.push_str(&line);
                }
            }
            return Ok(note);
        }
        let mut conn = self.store.conn()?;
        let size = head(&mut conn)?.0;
        let mut note = self.signed_checkpoint(&mut conn, size)?;
        for line in cosignature_lines(&mut conn, size)? {
            note.push_str(&line);
        }
        Ok(note)
    }

    /// The checkpoint of the tree of `size` entries (at most the log's size), signed with the
    /// log key, without cosignatures. Signing is deterministic, so a size always gives the same
    /// note.
    pub(super) fn signed_checkpoint(&self, conn: &mut AnyConnection, size: u64) -> Result<String> {
        let key = self.log_key.as_ref().ok_or_else(|| RegistryError::Unavailable("no log key configured".into()))?;
        if let Ok(cached) = key.cached.lock()
            && let Some((s, note)) = cached.as_ref()
            && *s == size
        {
            return Ok(note.clone());
        }
        let root = tree_root_at(conn, size)?;
        let text = Checkpoint { origin: key.origin().to_owned(), size, root, extensions: Vec::new() }.to_text();
        let note = key.signer.sign(&text).map_err(|e| RegistryError::Internal(e.to_string()))?;
        if let Ok(mut cached) = key.cached.lock() {
            *cached = Some((size, note.clone()));
        }
        Ok(note)
    }

    /// The inclusion proof of the `package_published` entry of a package the reader may see, in
    /// the tree of `size` entries (the current size if absent).
    pub fn inclusion_proof(&self, reader: &Reader, digest: &str, size: Option<u64>) -> Result<InclusionProof> {
        let digest = super::queries::parse_digest(digest)?.to_string();
        let mut conn = self.store.conn()?;
        self.visible_row(&mut conn, reader, &digest)?;
        let current = Self::check_size(&mut conn, size.unwrap_or(0), "size")?;
        let size = size.unwrap_or(current);
        let (index, leaf): (i64, Vec<u8>) = log_entries::table
            .filter(log_entries::subject.eq(&digest))
            .filter(log_entries::kind.eq("package_published"))
            .select((log_entries::idx, log_entries::leaf_hash))
            .first(&mut conn)
            .optional()?
            .ok_or_else(|| RegistryError::not_found(format!("package {digest} has no log entry yet")))?;
        let index = index as u64;
        if index >= size {
            return Err(RegistryError::bad_request(format!(
                "size: the package's entry {index} is not in a tree of {size} entries"
            )));
        }
        let hashes = merkle::inclusion_proof(&mut DbNodes(&mut conn), index, size)?;
        Ok(InclusionProof {
            leaf_index: index,
            tree_size: size,
            leaf_hash: hex::encode(to_hash(leaf)?),
            hashes: hashes.iter().map(hex::encode).collect(),
        })
    }

    /// Opens the sealed entry at `index` for `reader`, who must be allowed to see its package
    /// (anyone else gets 404, as for a package that does not exist).
    pub fn open_sealed(&self, reader: &Reader, index: u64) -> Result<SealedEntry> {
        let mut conn = self.store.conn()?;
        // (subject, public entry, full entry, salt)
        type Stored = (String, Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);
        let row: Option<Stored> = log_entries::table
            .find(to_i64(index)?)
            .select((log_entries::subject, log_entries::entry, log_entries::sealed_entry, log_entries::salt))
            .first(&mut conn)
            .optional()?;
        let not_found = || RegistryError::not_found(format!("no sealed log entry {index} that the caller may see"));
        let (subject, entry, Some(full), Some(salt)) = row.ok_or_else(not_found)? else {
            return Err(not_found());
        };
        self.visible_row(&mut conn, reader, &subject).map_err(|e| match e {
            RegistryError::NotFound(_) => not_found(),
            other => other,
        })?;
        let text =
            |b: Vec<u8>| String::from_utf8(b).map_err(|_| RegistryError::Internal("a log entry is not UTF-8".into()));
        Ok(SealedEntry { index, entry: text(entry)?, full_entry: text(full)?, salt: hex::encode(salt) })
    }

    /// The consistency proof between two sizes of the log.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<ConsistencyProof> {
        let mut conn = self.store.conn()?;
        Self::check_size(&mut conn, to, "to")?;
        if from > to {
            return Err(RegistryError::bad_request(format!("from: {from} is larger than to ({to})")));
        }
        let hashes = merkle::consistency_proof(&mut DbNodes(&mut conn), from, to)?;
        Ok(ConsistencyProof { from, to, hashes: hashes.iter().map(hex::encode).collect() })
    }

    /// A hash tile (C2SP tlog-tiles): the hashes of tree level `8·level`, indexes
    /// `[256·N, 256·N + W)`, concatenated. Not found until all of them exist.
    pub fn log_tile(&self, level: u32, at: TileAddress) -> Result<Vec<u8>> {
        let tree_level = level
            .checked_mul(TILE_HEIGHT)
            .filter(|l| *l < 63)
            .ok_or_else(|| RegistryError::not_found(format!("no tile level {level}")))?;
        let start = to_i64(at.index.saturating_mul(TILE_WIDTH))?;
        let mut conn = self.store.conn()?;
        let rows: Vec<Vec<u8>> = log_nodes::table
            .filter(log_nodes::level.eq(tree_level as i32))
            .filter(log_nodes::idx.ge(start))
            .filter(log_nodes::idx.lt(start + at.width as i64))
            .order(log_nodes::idx)
            .select(log_nodes::hash)
            .load(&mut conn)?;
        if rows.len() as u64 != at.width {
            return Err(RegistryError::not_found(format!(
                "tile {level}/{} is not complete",
                tiles::encode_index(at.index)
            )));
        }
        Ok(rows.concat())
    }

    /// An entry bundle (C2SP tlog-tiles): entries `[256·N, 256·N + W)`, each with its length.
    pub fn log_entry_bundle(&self, at: TileAddress) -> Result<Vec<u8>> {
        let start = at.index.saturating_mul(TILE_WIDTH);
        let entries = self.entries_between(start, start.saturating_add(at.width))?;
        if entries.len() as u64 != at.width {
            return Err(RegistryError::not_found(format!(
                "entry bundle {} is not complete",
                tiles::encode_index(at.index)
            )));
        }
        Ok(tiles::entry_bundle(entries.iter().map(Vec::as_slice)))
    }

    fn entries_between(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>> {
        let mut conn = self.store.conn()?;
        Ok(log_entries::table
            .filter(log_entries::idx.ge(to_i64(start)?))
            .filter(log_entries::idx.lt(to_i64(end)?))
            .order(log_entries::idx)
            .select(log_entries::entry)
            .load(&mut conn)?)
    }

    /// Entries `[start, end)` as text (at most [`MAX_ENTRIES_PER_REQUEST`]).
    pub fn log_entries(&self, start: u64, end: u64) -> Result<LogEntries> {
        let size = self.log_size()?;
        if end > size {
            return Err(RegistryError::bad_request(format!("end: {end} is larger than the log ({size} entries)")));
        }
        if start > end || end - start > MAX_ENTRIES_PER_REQUEST {
            return Err(RegistryError::bad_request(format!(
                "start: must be at most end and within {MAX_ENTRIES_PER_REQUEST} entries of it"
            )));
        }
        let entries = self.entries_between(start, end)?;
        Ok(LogEntries {
            start,
            entries: entries.into_iter().map(|e| String::from_utf8_lossy(&e).into_owned()).collect(),
        })
    }

    /// Logs the state that predates the log (registries created before it), in the registry's
    /// own order: each change at the time it was made, organisations before keys before packages
    /// at equal times. Runs once; batches commit separately and skip what is already logged, so
    /// an interrupted run resumes, and two processes starting together do not log twice.
    /// Returns the number of entries appended.
    pub fn backfill_log(&self) -> Result<u64> {
        if head(&mut *self.store.conn()?)?.1 {
            return Ok(0);
        }
        let mut conn = self.store.conn()?;
        let orgs: Vec<OrganisationRow> = organisations::table.select(OrganisationRow::as_select()).load(&mut conn)?;
        let keys: Vec<KeyRow> = signing_keys::table.select(KeyRow::as_select()).load(&mut conn)?;
        let pkgs: Vec<PackageRow> = packages::table.select(PackageRow::as_select()).load(&mut conn)?;
        let sigs: Vec<SignatureRow> = signatures::table.select(SignatureRow::as_select()).load(&mut conn)?;
        drop(conn);
        let mut by_digest: std::collections::HashMap<&str, Vec<&SignatureRow>> = Default::default();
        for s in &sigs {
            by_digest.entry(s.digest.as_str()).or_default().push(s);
        }
        // (time, order at equal times, event)
        let mut events: Vec<(i64, u8, Event)> = Vec::new();
        for o in orgs {
            let e = Event::OrganisationAdded { organisation: o.id, name: o.name, kind: o.kind, country: o.country };
            events.push((o.created_at, 0, e));
        }
        for k in keys {
            if let (Some(at), Some(reason)) = (k.revoked_at, k.revocation_reason.clone()) {
                let e = Event::KeyRevoked {
                    key_id: k.key_id.clone(),
                    organisation: k.organisation_id.clone(),
                    effective_at: at,
                    compromised: k.compromised,
                    reason,
                };
                events.push((at, 4, e));
            }
            let e = Event::KeyAdded { key_id: k.key_id, organisation: k.organisation_id, public_key: k.public_key };
            events.push((k.added_at, 1, e));
        }
        for p in pkgs {
            let mut package_sigs = by_digest.remove(p.digest.as_str()).unwrap_or_default();
            package_sigs.sort_by(|a, b| (a.added_at, &a.key_id).cmp(&(b.added_at, &b.key_id)));
            for s in package_sigs.iter().filter(|s| s.source != "package") {
                let e = Event::Countersigned {
                    digest: s.digest.clone(),
                    key_id: s.key_id.clone(),
                    organisation: s.organisation_id.clone(),
                    signature: s.signature.clone(),
                };
                events.push((s.added_at, 3, e));
            }
            if let Some(at) = p.withdrawn_at {
                let e = Event::Withdrawn {
                    digest: p.digest.clone(),
                    reason: p.withdrawn_reason.clone().unwrap_or_default(),
                };
                events.push((at, 3, e));
            }
            let e = Event::PackagePublished {
                signatures: package_sigs
                    .iter()
                    .filter(|s| s.source == "package")
                    .map(|s| (s.key_id.clone(), s.kind.clone()))
                    .collect(),
                digest: p.digest,
                name: p.name,
                version: p.version,
                organisation: p.organisation_id,
                releasability: p.releasability,
                file_sha256: p.blob_sha256,
            };
            events.push((p.registered_at, 2, e));
        }
        events.sort_by_key(|(at, order, _)| (*at, *order));
        let mut appended = 0;
        for batch in events.chunks(500) {
            appended += self.store.write(|conn| -> Result<u64> {
                // Lock the head first, so that a concurrent backfill waits and then skips.
                diesel::update(log_head::table.find(1)).set(log_head::size.eq(log_head::size)).execute(conn)?;
                let mut n = 0;
                for (at, _, event) in batch {
                    // A package has several countersignatures: those compare whole entries.
                    let mut query = log_entries::table
                        .filter(log_entries::subject.eq(event.subject()))
                        .filter(log_entries::kind.eq(event.kind()))
                        .into_boxed();
                    if let Event::Countersigned { .. } = event {
                        let bytes = event.encode(*at).map_err(|e| RegistryError::Internal(e.to_string()))?;
                        query =
                            query.filter(log_entries::entry.eq(bytes.clone()).or(log_entries::sealed_entry.eq(bytes)));
                    }
                    let already = query.count().get_result::<i64>(conn)? > 0;
                    if !already {
                        append(conn, event, *at)?;
                        n += 1;
                    }
                }
                Ok(n)
            })?;
        }
        self.store.write(|conn| -> Result<usize> {
            Ok(diesel::update(log_head::table.find(1)).set(log_head::backfilled.eq(true)).execute(conn)?)
        })?;
        Ok(appended)
    }
}

/// The stored cosignature lines for `size`, in witness order.
pub(super) fn cosignature_lines(conn: &mut AnyConnection, size: u64) -> Result<Vec<String>> {
    let size = i64::try_from(size).map_err(|_| RegistryError::Internal("tree size out of range".into()))?;
    Ok(log_cosignatures::table
        .filter(log_cosignatures::tree_size.eq(size))
        .order(log_cosignatures::witness)
        .select(log_cosignatures::line)
        .load(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_origins_are_unique_and_loopback_ones_are_recognised() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key();
        let other = ed25519_dalek::SigningKey::from_bytes(&[4; 32]).verifying_key();
        assert_eq!(default_origin(Some("https://prequal.example"), &key), "prequal.example/log");
        assert_eq!(default_origin(Some("https://prequal.example/"), &key), "prequal.example/log");
        assert_eq!(default_origin(Some("https://u@x.example:8443/reg/?q=1"), &key), "x.example:8443/reg/log");
        let from_key = default_origin(None, &key);
        assert!(from_key.starts_with("prequal-") && from_key.len() == "prequal-".len() + 16, "{from_key}");
        assert_ne!(from_key, default_origin(None, &other));
        // A URL that cannot make a key name falls back to the key.
        assert_eq!(default_origin(Some("https://"), &key), from_key);
        assert_eq!(default_origin(Some("https://a b.example"), &key), from_key);
        for loopback in
            ["127.0.0.1/log", "127.0.0.1:8080/log", "localhost/log", "[::1]:80/log", "::1/log", "0.0.0.0/log"]
        {
            assert!(is_loopback_origin(loopback), "{loopback}");
        }
        for public in ["prequal.example/log", &from_key, "10.0.0.1/log", "x.example:8443/reg/log"] {
            assert!(!is_loopback_origin(public), "{public}");
        }
    }
}

//! `prequal admin check`: re-checks everything the registry stores against itself, for after a
//! restore from backup, a crash or a disk incident. Nothing is trusted that can be recomputed:
//!
//! - every package's stored file is read back, its SHA-256 compared with the recorded one, and the
//!   package verified again with the upload verifier (its digest must be the recorded digest);
//! - every log entry's leaf hash is recomputed from its bytes, indices must be contiguous, a
//!   sealed entry's commitment must match its stored salt and full entry, and the root of all
//!   leaves must equal the root the stored tree nodes give (what checkpoints are signed over);
//! - every package has exactly one `package_published` entry, every withdrawn one a
//!   `package_withdrawn` entry.
//!
//! Problems are collected, not stopped at, so one report lists them all.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;

use super::{Registry, Result};
use crate::log::merkle;
use crate::package::verify::verify_file;
use crate::store::schema::{log_entries, packages};

/// Entries read per query while checking the log.
const LOG_CHUNK: i64 = 2000;

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// Stable code: `blob_missing`, `blob_hash_mismatch`, `package_invalid`, `digest_mismatch`,
    /// `log_gap`, `leaf_hash_mismatch`, `sealed_commitment_mismatch`, `log_root_mismatch`,
    /// `publish_entry_missing`, `publish_entry_duplicated`, `withdraw_entry_missing`.
    pub code: &'static str,
    /// The package digest or log index concerned.
    pub subject: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IntegrityReport {
    pub packages: u64,
    pub packages_verified: u64,
    pub log_size: u64,
    /// Base64 root hash of the whole log, as a checkpoint of this size carries it.
    pub log_root: String,
    pub problems: Vec<Problem>,
}

impl IntegrityReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Registry {
    /// Checks packages, blobs and log (see the module docs). `progress` is called with a short
    /// description every so often on long checks.
    pub fn check_integrity(&self, progress: &mut dyn FnMut(&str)) -> Result<IntegrityReport> {
        let mut problems = Vec::new();
        let mut problem = |code, subject: &str, message: String| {
            problems.push(Problem { code, subject: subject.to_owned(), message })
        };

        let rows: Vec<(String, String, Option<i64>)> = packages::table
            .select((packages::digest, packages::blob_sha256, packages::withdrawn_at))
            .order(packages::digest)
            .load(&mut *self.store.conn()?)?;
        let mut verified = 0u64;
        for (i, (digest, blob, _)) in rows.iter().enumerate() {
            if i > 0 && i % 500 == 0 {
                progress(&format!("packages: {i} of {} checked", rows.len()));
            }
            let local = match self.store.blobs.local(blob) {
                Ok(l) => l,
                Err(e) => {
                    problem("blob_missing", digest, format!("the stored file sha256:{blob}: {e}"));
                    continue;
                }
            };
            let path = local.path();
            match crate::package::bagit::hash_file(path, &mut |_| {}).map(|(h, _)| h.to_hex()) {
                Ok(actual) if actual == *blob => {}
                Ok(actual) => {
                    problem("blob_hash_mismatch", digest, format!("stored file sha256:{blob} now hashes to {actual}"));
                    continue;
                }
                Err(e) => {
                    problem("blob_missing", digest, format!("reading {}: {e}", path.display()));
                    continue;
                }
            }
            match verify_file(path, self.policy.limits) {
                Ok(v) if v.digest().to_string() == *digest => verified += 1,
                Ok(v) => problem("digest_mismatch", digest, format!("the stored file is package {}", v.digest())),
                Err(e) => problem("package_invalid", digest, e.to_string()),
            }
        }

        // The log, in chunks: leaves recomputed, then the root compared with the stored tree's.
        let size = self.log_size()?;
        let mut leaves: Vec<merkle::Hash> = Vec::with_capacity(size as usize);
        let mut published: HashMap<String, u32> = HashMap::new();
        let mut withdrawn: HashMap<String, u32> = HashMap::new();
        let mut next: i64 = 0;
        loop {
            type Row = (i64, String, String, Vec<u8>, Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);
            let chunk: Vec<Row> = log_entries::table
                .filter(log_entries::idx.ge(next))
                .order(log_entries::idx)
                .limit(LOG_CHUNK)
                .select((
                    log_entries::idx,
                    log_entries::kind,
                    log_entries::subject,
                    log_entries::entry,
                    log_entries::leaf_hash,
                    log_entries::sealed_entry,
                    log_entries::salt,
                ))
                .load(&mut *self.store.conn()?)?;
            let Some(last) = chunk.last().map(|r| r.0) else { break };
            for (idx, kind, subject, entry, leaf_hash, sealed_full, salt) in chunk {
                let at = format!("log entry {idx}");
                if idx != next {
                    problem("log_gap", &at, format!("expected entry {next}, found {idx}"));
                }
                let leaf = merkle::leaf_hash(&entry);
                if leaf.as_slice() != leaf_hash.as_slice() {
                    problem("leaf_hash_mismatch", &at, "the stored leaf hash is not the hash of the entry".into());
                }
                if let (Some(full), Some(salt)) = (&sealed_full, &salt) {
                    let sealed = crate::log::entry::seal_commitment(salt, full);
                    let logged = match crate::log::entry::Event::decode(&entry) {
                        Ok(crate::log::entry::Decoded::Sealed { commitment, .. }) => Some(commitment),
                        _ => None,
                    };
                    if logged != Some(sealed) {
                        problem(
                            "sealed_commitment_mismatch",
                            &at,
                            "the sealed entry does not commit to its stored full entry".into(),
                        );
                    }
                }
                match kind.as_str() {
                    "package_published" => *published.entry(subject).or_default() += 1,
                    "package_withdrawn" => *withdrawn.entry(subject).or_default() += 1,
                    _ => {}
                }
                leaves.push(leaf);
                next = idx + 1;
            }
            next = next.max(last + 1);
            if leaves.len() % 10_000 < LOG_CHUNK as usize {
                progress(&format!("log: {} of {size} entries checked", leaves.len()));
            }
        }
        if leaves.len() as u64 != size {
            problem("log_gap", "log", format!("the log head says {size} entries, {} are stored", leaves.len()));
        }
        let root = merkle::root_of_leaves(&leaves);
        match self.log_root(size) {
            Ok(stored) if stored == root => {}
            Ok(_) => {
                problem("log_root_mismatch", "log", "the stored tree's root differs from the entries' root".into())
            }
            Err(e) => problem("log_root_mismatch", "log", format!("the stored tree cannot give a root: {e}")),
        }
        for (digest, _, withdrawn_at) in &rows {
            match published.get(digest).copied().unwrap_or(0) {
                1 => {}
                0 => problem("publish_entry_missing", digest, "no package_published entry in the log".into()),
                n => problem("publish_entry_duplicated", digest, format!("{n} package_published entries")),
            }
            if withdrawn_at.is_some() && !withdrawn.contains_key(digest) {
                problem("withdraw_entry_missing", digest, "withdrawn, but no package_withdrawn entry".into());
            }
        }
        use base64::Engine as _;
        Ok(IntegrityReport {
            packages: rows.len() as u64,
            packages_verified: verified,
            log_size: size,
            log_root: base64::engine::general_purpose::STANDARD.encode(root),
            problems,
        })
    }
}

//! Offline evidence bundles: one file an OEM keeps with a package, which proves with no network
//! that the registry logged exactly this package and that witnesses saw that log.
//!
//! The bundle is a JSON document (`prequal-evidence-v1`):
//!
//! | field | what |
//! |---|---|
//! | `format` | `prequal-evidence-v1` |
//! | `digest` | the package digest, `sha256:<hex>` |
//! | `package_file` | a file name for the package |
//! | `package` | the package file as published, base64 |
//! | `log_entry` | its `package_published` log entry, as in the log |
//! | `leaf_hash` | SHA-256(0x00 ‖ entry), hex (unauthenticated; tells a changed entry from a changed proof) |
//! | `sealed` | for a non-public package, `{"full_entry", "salt"}` opening the sealed entry |
//! | `proof` | a C2SP `tlog-proof`: the entry's index, the inclusion proof and the cosigned checkpoint |
//!
//! [`verify_bundle`] checks, in order, each failure with its own code:
//! 1. the bundle parses (`evidence_malformed`);
//! 2. the checkpoint verifies with the log key (`evidence_checkpoint_invalid`);
//! 3. `quorum` distinct named witnesses cosigned it (`evidence_bad_cosignature`,
//!    `evidence_quorum_not_met`);
//! 4. the entry hashes to the leaf hash (`evidence_entry_mismatch`) and the inclusion proof leads
//!    from it to the checkpoint's root (`evidence_inclusion_failed`);
//! 5. a sealed entry's commitment opens to the full entry (`evidence_seal_mismatch`); the
//!    (full) entry is the `package_published` entry of this digest
//!    (`evidence_entry_not_this_package`);
//! 6. the package file's SHA-256 is the entry's `file_sha256` (`evidence_file_sha256_mismatch`);
//! 7. the package verifies as `prequal verify` checks it (`evidence_package_rejected`) and its
//!    digest is the entry's (`evidence_digest_mismatch`).

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{AuditError, LogClient};
use crate::log::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::log::cosignature::{self, Cosignature, CosignatureError, CosignerKey};
use crate::log::entry::{Decoded, Event, seal_commitment};
use crate::log::merkle::{self, Hash};
use crate::log::note::{Note, VerifierKey};
use crate::log::tlog_proof::TlogProof;
use crate::package::{Limits, Rejection, VerifiedPackage, verify_file};

pub const FORMAT: &str = "prequal-evidence-v1";
/// The largest bundle read (the package is inside, base64).
pub const MAX_BUNDLE_BYTES: u64 = 1 << 30;

/// Opening of a sealed entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealedOpening {
    pub full_entry: String,
    /// The 32-byte salt, hex.
    pub salt: String,
}

/// The bundle as stored (unverified).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBundle {
    pub format: String,
    pub digest: String,
    pub package_file: String,
    pub package: String,
    pub log_entry: String,
    pub leaf_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<SealedOpening>,
    pub proof: String,
}

/// Whether the file at `path` is meant as an evidence bundle (a JSON object) rather than a
/// package (a zip, which starts with `PK`). A JSON file that is not a valid bundle is then
/// refused as `evidence_malformed`.
pub fn looks_like_bundle(path: &Path) -> bool {
    use std::io::Read as _;
    let mut head = [0u8; 64];
    let Ok(mut f) = std::fs::File::open(path) else { return false };
    let n = f.read(&mut head).unwrap_or(0);
    head[..n].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Why a bundle was refused. `code()` is stable.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{path}: {detail}")]
    Unreadable { path: String, detail: String },
    #[error("the bundle is malformed: {0}")]
    Malformed(String),
    #[error("the checkpoint does not verify with the log key: [{code}] {detail}")]
    Checkpoint { code: &'static str, detail: String },
    #[error("{0}")]
    BadCosignature(CosignatureError),
    #[error("{0}")]
    Quorum(CosignatureError),
    #[error("the log entry does not hash to the leaf hash {leaf_hash}")]
    EntryMismatch { leaf_hash: String },
    #[error("the inclusion proof of entry {index} does not lead to the checkpoint's root: {detail}")]
    Inclusion { index: u64, detail: String },
    #[error("the sealed entry's commitment does not open to the full entry given")]
    SealMismatch,
    #[error("the log entry is not the package_published entry of {digest}: {detail}")]
    NotThisPackage { digest: String, detail: String },
    #[error("the package file's SHA-256 is {actual}, the log entry says {logged}")]
    FileSha256 { logged: String, actual: String },
    #[error("the package failed verification: {0}")]
    Package(Rejection),
    #[error("the package's digest is {actual}, the log entry names {logged}")]
    Digest { logged: String, actual: String },
}

impl EvidenceError {
    pub fn code(&self) -> &'static str {
        match self {
            EvidenceError::Unreadable { .. } => "evidence_unreadable",
            EvidenceError::Malformed(_) => "evidence_malformed",
            EvidenceError::Checkpoint { .. } => "evidence_checkpoint_invalid",
            EvidenceError::BadCosignature(_) => "evidence_bad_cosignature",
            EvidenceError::Quorum(_) => "evidence_quorum_not_met",
            EvidenceError::EntryMismatch { .. } => "evidence_entry_mismatch",
            EvidenceError::Inclusion { .. } => "evidence_inclusion_failed",
            EvidenceError::SealMismatch => "evidence_seal_mismatch",
            EvidenceError::NotThisPackage { .. } => "evidence_entry_not_this_package",
            EvidenceError::FileSha256 { .. } => "evidence_file_sha256_mismatch",
            EvidenceError::Package(_) => "evidence_package_rejected",
            EvidenceError::Digest { .. } => "evidence_digest_mismatch",
        }
    }
}

/// Whom the verifier trusts: the log's key and the witnesses, `quorum` of which must cosign.
pub struct EvidencePolicy {
    pub log_key: VerifierKey,
    pub witnesses: Vec<CosignerKey>,
    pub quorum: usize,
}

/// A bundle every check passed. Only [`verify_bundle`] builds one.
#[derive(Debug)]
pub struct VerifiedEvidence {
    package: VerifiedPackage,
    checkpoint: Checkpoint,
    leaf_index: u64,
    cosignatures: Vec<Cosignature>,
    sealed: bool,
}

impl VerifiedEvidence {
    pub fn package(&self) -> &VerifiedPackage {
        &self.package
    }
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }
    pub fn leaf_index(&self) -> u64 {
        self.leaf_index
    }
    pub fn cosignatures(&self) -> &[Cosignature] {
        &self.cosignatures
    }
    /// Whether the log entry was sealed (a non-public package) and opened by the bundle.
    pub fn sealed(&self) -> bool {
        self.sealed
    }
}

/// Verifies the bundle at `path` (see the module docs for the steps), with no network.
pub fn verify_bundle(path: &Path, policy: &EvidencePolicy, limits: Limits) -> Result<VerifiedEvidence, EvidenceError> {
    let unreadable = |detail: String| EvidenceError::Unreadable { path: path.display().to_string(), detail };
    // Step 1.
    let size = std::fs::metadata(path).map_err(|e| unreadable(e.to_string()))?.len();
    if size > MAX_BUNDLE_BYTES {
        return Err(EvidenceError::Malformed(format!("larger than {MAX_BUNDLE_BYTES} bytes")));
    }
    let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    let bundle: EvidenceBundle =
        serde_json::from_slice(&bytes).map_err(|e| EvidenceError::Malformed(format!("not a bundle: {e}")))?;
    drop(bytes);
    if bundle.format != FORMAT {
        return Err(EvidenceError::Malformed(format!("format: '{}' is not {FORMAT}", bundle.format)));
    }
    let proof = TlogProof::parse(&bundle.proof).map_err(|e| EvidenceError::Malformed(format!("proof: {e}")))?;
    let package = B64.decode(&bundle.package).map_err(|_| EvidenceError::Malformed("package: not base64".into()))?;
    let leaf_hash: Hash = hex::decode(&bundle.leaf_hash)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| EvidenceError::Malformed("leaf_hash: not a hex SHA-256".into()))?;

    // Step 2.
    let cp = SignedCheckpoint::verify(proof.checkpoint.as_bytes(), &policy.log_key)
        .map_err(|e| EvidenceError::Checkpoint { code: e.code(), detail: e.to_string() })?;
    // Step 3.
    let cosignatures =
        cosignature::verify_cosignatures(&cp, &policy.witnesses).map_err(EvidenceError::BadCosignature)?;
    cosignature::require_quorum(&cosignatures, &policy.witnesses, policy.quorum).map_err(EvidenceError::Quorum)?;
    // Step 4.
    let leaf = merkle::leaf_hash(bundle.log_entry.as_bytes());
    if leaf != leaf_hash {
        return Err(EvidenceError::EntryMismatch { leaf_hash: bundle.leaf_hash.clone() });
    }
    let c = cp.checkpoint();
    merkle::verify_inclusion(proof.index, c.size, &leaf, &proof.hashes, &c.root)
        .map_err(|e| EvidenceError::Inclusion { index: proof.index, detail: e.to_string() })?;
    // Step 5.
    let not_this =
        |detail: &str| EvidenceError::NotThisPackage { digest: bundle.digest.clone(), detail: detail.into() };
    // The entry is read by the log's own parser (`Event::decode`), as mirrors read it.
    let event = match Event::decode(bundle.log_entry.as_bytes()) {
        Err(e) => return Err(not_this(&format!("its log entry does not parse: {e}"))),
        Ok(Decoded::Event { event, .. }) => event,
        Ok(Decoded::Sealed { kind, at, digest, commitment, .. }) => {
            let opening = bundle.sealed.as_ref().ok_or_else(|| not_this("the entry is sealed and not opened"))?;
            let salt = hex::decode(&opening.salt).map_err(|_| EvidenceError::SealMismatch)?;
            if seal_commitment(&salt, opening.full_entry.as_bytes()) != commitment {
                return Err(EvidenceError::SealMismatch);
            }
            match Event::decode(opening.full_entry.as_bytes()) {
                Ok(Decoded::Event { at: full_at, event })
                    if full_at == at && event.kind() == kind && event.subject() == digest =>
                {
                    event
                }
                _ => return Err(not_this("the full entry is not the sealed entry's")),
            }
        }
    };
    let Event::PackagePublished { digest: logged_digest, file_sha256: logged_sha, .. } = &event else {
        return Err(not_this("its kind is not package_published"));
    };
    if *logged_digest != bundle.digest {
        return Err(not_this(&format!("it names {logged_digest}")));
    }
    // Step 6.
    let actual_sha = hex::encode(Sha256::digest(&package));
    if *logged_sha != actual_sha {
        return Err(EvidenceError::FileSha256 { logged: logged_sha.clone(), actual: actual_sha });
    }
    // Step 7: the package reader works on files.
    let mut file = tempfile::NamedTempFile::new().map_err(|e| unreadable(format!("temporary file: {e}")))?;
    file.write_all(&package).and_then(|()| file.flush()).map_err(|e| unreadable(format!("temporary file: {e}")))?;
    drop(package);
    let verified = verify_file(file.path(), limits).map_err(EvidenceError::Package)?;
    if verified.digest().to_string() != *logged_digest {
        return Err(EvidenceError::Digest { logged: logged_digest.clone(), actual: verified.digest().to_string() });
    }
    Ok(VerifiedEvidence {
        package: verified,
        checkpoint: c.clone(),
        leaf_index: proof.index,
        cosignatures,
        sealed: bundle.sealed.is_some(),
    })
}

/// What `prequal evidence export` wrote.
#[derive(Debug, Serialize)]
pub struct ExportReport {
    pub digest: String,
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Cosignature lines on the checkpoint (not verified at export).
    pub cosignatures: usize,
    /// False when no cosigned checkpoint covers the entry yet and the current one was used.
    pub cosigned_checkpoint: bool,
    pub sealed: bool,
    pub bytes: u64,
}

fn checkpoint_size(note: &[u8]) -> Result<(u64, usize), AuditError> {
    let bad = |detail: String| AuditError::BadResponse { url: "checkpoint".into(), detail };
    let n = Note::parse(note).map_err(|e| bad(e.to_string()))?;
    let cp = Checkpoint::parse(n.unverified_text()).map_err(|e| bad(e.to_string()))?;
    Ok((cp.size, n.signatures().len().saturating_sub(1)))
}

/// Fetches everything a bundle holds for the package `digest` and writes it to `out`. Prefers
/// the newest cosigned checkpoint; falls back to the current one when that does not cover the
/// package's entry yet. Nothing is verified here: `prequal verify` does it, offline. With
/// `tlog_proof`, the C2SP tlog-proof text (the bundle's `proof`) is also written there on its
/// own, for tools that read that format and not prequal's bundle. `progress` hears of the
/// package's download (bytes so far, the announced size).
pub fn export_bundle(
    client: &LogClient,
    digest: &str,
    out: &Path,
    tlog_proof: Option<&Path>,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<ExportReport, AuditError> {
    let mut chosen = None;
    if let Some(note) = client.cosigned_checkpoint()? {
        let (size, cosigs) = checkpoint_size(&note)?;
        match client.inclusion(digest, size) {
            Ok(p) => chosen = Some((note, p, cosigs, true)),
            Err(AuditError::Registry { status: 400, .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let (note, inclusion, cosignatures, cosigned) = match chosen {
        Some(c) => c,
        None => {
            let note = client.checkpoint()?;
            let (size, cosigs) = checkpoint_size(&note)?;
            (note.clone(), client.inclusion(digest, size)?, cosigs, false)
        }
    };
    let bad = |detail: String| AuditError::BadResponse { url: "inclusion proof".into(), detail };
    let hashes = super::decode_hashes(&inclusion.hashes).map_err(bad)?;
    let entry = client.entry(inclusion.leaf_index)?;
    let sealed = match Event::decode(entry.as_bytes()) {
        Ok(Decoded::Sealed { .. }) => {
            let s = client.sealed(inclusion.leaf_index)?;
            Some(SealedOpening { full_entry: s.full_entry, salt: s.salt })
        }
        _ => None,
    };
    let package = client.download_with_progress(digest, MAX_BUNDLE_BYTES / 4 * 3, progress)?;
    let checkpoint = String::from_utf8(note).map_err(|_| bad("the checkpoint is not UTF-8".into()))?;
    let proof = TlogProof { extra: None, index: inclusion.leaf_index, hashes, checkpoint };
    let bundle = EvidenceBundle {
        format: FORMAT.to_owned(),
        digest: digest.to_owned(),
        package_file: format!("{}.zip", digest.replace(':', "-")),
        package: B64.encode(&package),
        log_entry: entry,
        leaf_hash: inclusion.leaf_hash,
        sealed: sealed.clone(),
        proof: proof.encode(),
    };
    let json = serde_json::to_vec_pretty(&bundle).map_err(|e| bad(e.to_string()))?;
    std::fs::write(out, &json)
        .map_err(|e| AuditError::Write { path: out.display().to_string(), detail: e.to_string() })?;
    if let Some(path) = tlog_proof {
        std::fs::write(path, &bundle.proof)
            .map_err(|e| AuditError::Write { path: path.display().to_string(), detail: e.to_string() })?;
    }
    Ok(ExportReport {
        digest: digest.to_owned(),
        leaf_index: proof.index,
        tree_size: inclusion.tree_size,
        cosignatures,
        cosigned_checkpoint: cosigned,
        sealed: sealed.is_some(),
        bytes: json.len() as u64,
    })
}

//! Split-view evidence: two checkpoints signed by one log key that cannot both be true, with
//! what proves it, in a JSON bundle anyone can check offline ([`Evidence::check`]).
//!
//! Two signed checkpoints `older` (size m) and `newer` (size n ≥ m) conflict when
//! - m = n and their root hashes differ, or
//! - m < n and the newer tree's root at size m (`older_root_in_newer`) differs from the older
//!   checkpoint's root, where `older_root_in_newer` is proven by an RFC 9162 consistency proof
//!   from (m, `older_root_in_newer`) to (n, newer root). Under SHA-256's collision resistance the
//!   newer tree has exactly one root at size m, so the log has shown two different histories.
//!
//! This module checks; it does no I/O (the mirror writes bundles, `prequal log check-evidence`
//! reads them).

use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use super::merkle::{self, Hash};
use super::note::{Note, VerifierKey};

pub const EVIDENCE_FORMAT: &str = "prequal-split-view-v1";

/// Why a bundle does not prove a split view. `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("format: expected '{EVIDENCE_FORMAT}', found '{0}'")]
    Format(String),
    #[error("key: {0}")]
    Key(String),
    #[error("key: the bundle names key '{bundle}' but the check was asked for '{given}'")]
    KeyDiffers { bundle: String, given: String },
    #[error("{which}: the signed note does not verify with the key: {problem}")]
    Signature { which: &'static str, problem: String },
    #[error("{which}: not a checkpoint: {problem}")]
    Checkpoint { which: &'static str, problem: String },
    #[error("the two checkpoints name different origins ('{0}' and '{1}')")]
    OriginsDiffer(String, String),
    #[error("older is larger than newer ({0} > {1} entries)")]
    SizesReversed(u64, u64),
    #[error("{field}: '{value}' is not a hex SHA-256 hash")]
    BadHash { field: &'static str, value: String },
    #[error("the checkpoints agree: same size and root")]
    SameCheckpoint,
    #[error("consistency_proof does not lead from older_root_in_newer to the newer root: {0}")]
    ProofInvalid(String),
    #[error("older_root_in_newer equals the older checkpoint's root: the log was consistent")]
    Consistent,
}

impl EvidenceError {
    pub fn code(&self) -> &'static str {
        match self {
            EvidenceError::Format(_) => "evidence_format",
            EvidenceError::Key(_) | EvidenceError::KeyDiffers { .. } => "evidence_key",
            EvidenceError::Signature { .. } => "evidence_signature_invalid",
            EvidenceError::Checkpoint { .. } => "evidence_checkpoint_malformed",
            EvidenceError::OriginsDiffer(..) => "evidence_origins_differ",
            EvidenceError::SizesReversed(..) => "evidence_sizes_reversed",
            EvidenceError::BadHash { .. } => "evidence_bad_hash",
            EvidenceError::SameCheckpoint => "evidence_checkpoints_agree",
            EvidenceError::ProofInvalid(_) => "evidence_proof_invalid",
            EvidenceError::Consistent => "evidence_consistent",
        }
    }
}

/// The bundle a mirror writes to `DATA/evidence/<time>.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Evidence {
    pub format: String,
    /// The log's verifier key (signed-note form).
    pub key: String,
    /// Where the checkpoints were fetched (informational).
    pub upstream: String,
    /// When the conflict was detected, RFC 3339 (informational).
    pub detected_at: String,
    /// The checkpoint with fewer (or as many) entries, as a signed note.
    pub older: String,
    /// The other checkpoint, as a signed note.
    pub newer: String,
    /// Hex: the newer tree's root hash at the older size.
    pub older_root_in_newer: String,
    /// Hex hashes: RFC 9162 consistency proof from the older size to the newer size, in the
    /// newer tree.
    pub consistency_proof: Vec<String>,
    /// Free text: how the mirror came to see the conflict.
    pub explanation: String,
}

/// What a valid bundle proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenSplitView {
    pub origin: String,
    pub older_size: u64,
    pub newer_size: u64,
}

fn hash(field: &'static str, value: &str) -> Result<Hash, EvidenceError> {
    hex::decode(value)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| EvidenceError::BadHash { field, value: value.to_owned() })
}

fn open(which: &'static str, note: &str, key: &VerifierKey) -> Result<Checkpoint, EvidenceError> {
    let parsed =
        Note::parse(note.as_bytes()).map_err(|e| EvidenceError::Signature { which, problem: e.to_string() })?;
    let text = parsed.verify(key).map_err(|e| EvidenceError::Signature { which, problem: e.to_string() })?;
    let cp = Checkpoint::parse(text).map_err(|e| EvidenceError::Checkpoint { which, problem: e.to_string() })?;
    if cp.origin != key.name() {
        return Err(EvidenceError::Checkpoint {
            which,
            problem: format!("origin '{}' is not the key's name '{}'", cp.origin, key.name()),
        });
    }
    Ok(cp)
}

impl Evidence {
    /// Checks the bundle: both notes signed by the key (`expected_key` if given, which must be
    /// the bundle's), and the checkpoints provably inconsistent (see the module docs).
    pub fn check(&self, expected_key: Option<&str>) -> Result<ProvenSplitView, EvidenceError> {
        if self.format != EVIDENCE_FORMAT {
            return Err(EvidenceError::Format(self.format.clone()));
        }
        if let Some(given) = expected_key
            && given.trim() != self.key.trim()
        {
            return Err(EvidenceError::KeyDiffers { bundle: self.key.clone(), given: given.trim().to_owned() });
        }
        let key = VerifierKey::parse(self.key.trim()).map_err(|e| EvidenceError::Key(e.to_string()))?;
        let older = open("older", &self.older, &key)?;
        let newer = open("newer", &self.newer, &key)?;
        if older.origin != newer.origin {
            return Err(EvidenceError::OriginsDiffer(older.origin, newer.origin));
        }
        if older.size > newer.size {
            return Err(EvidenceError::SizesReversed(older.size, newer.size));
        }
        let proven = ProvenSplitView { origin: older.origin.clone(), older_size: older.size, newer_size: newer.size };
        if older.size == newer.size && older.root == newer.root {
            return Err(EvidenceError::SameCheckpoint);
        }
        // At equal sizes the proof is empty and the root at the older size is the newer root;
        // the same check covers both cases.
        let in_newer = hash("older_root_in_newer", &self.older_root_in_newer)?;
        let proof =
            self.consistency_proof.iter().map(|h| hash("consistency_proof", h)).collect::<Result<Vec<_>, _>>()?;
        merkle::verify_consistency(older.size, newer.size, &proof, &in_newer, &newer.root)
            .map_err(|e| EvidenceError::ProofInvalid(e.to_string()))?;
        if in_newer == older.root {
            return Err(EvidenceError::Consistent);
        }
        Ok(proven)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::merkle::{Leaves, consistency_proof, leaf_hash, root_of_leaves};
    use crate::log::note::NoteSigner;

    fn signer() -> NoteSigner {
        NoteSigner::new("example.test/log", ed25519_dalek::SigningKey::from_bytes(&[9; 32])).unwrap()
    }

    fn note(s: &NoteSigner, size: u64, root: Hash) -> String {
        s.sign(&Checkpoint { origin: "example.test/log".into(), size, root, extensions: vec![] }.to_text()).unwrap()
    }

    fn leaves(prefix: &str, n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("{prefix}{i}").as_bytes())).collect()
    }

    fn fork(m: usize, n: usize) -> Evidence {
        let s = signer();
        let a = leaves("a", m);
        let mut b = leaves("a", m);
        b[m - 1] = leaf_hash(b"rewritten");
        b.extend(leaves("b", n - m));
        let proof = consistency_proof(&mut Leaves(&b), m as u64, n as u64).unwrap();
        Evidence {
            format: EVIDENCE_FORMAT.into(),
            key: s.verifier().to_string(),
            upstream: "http://origin".into(),
            detected_at: "2026-11-30T12:00:00.000Z".into(),
            older: note(&s, m as u64, root_of_leaves(&a)),
            newer: note(&s, n as u64, root_of_leaves(&b)),
            older_root_in_newer: hex::encode(root_of_leaves(&b[..m])),
            consistency_proof: proof.iter().map(hex::encode).collect(),
            explanation: String::new(),
        }
    }

    #[test]
    fn a_fork_is_proven_for_power_of_two_and_other_sizes() {
        for (m, n) in [(3, 7), (4, 9), (1, 2), (8, 8)] {
            let e = if m == n {
                let s = signer();
                let mut e = fork(m, m + 1);
                e.older = note(&s, m as u64, root_of_leaves(&leaves("a", m)));
                e.newer = note(&s, m as u64, root_of_leaves(&leaves("c", m)));
                e.older_root_in_newer = hex::encode(root_of_leaves(&leaves("c", m)));
                e.consistency_proof = vec![];
                // At equal sizes the root "at the older size" must be the newer root.
                let mut forged = e.clone();
                forged.older_root_in_newer = hex::encode([0u8; 32]);
                assert_eq!(forged.check(None).unwrap_err().code(), "evidence_proof_invalid");
                e
            } else {
                fork(m, n)
            };
            let key = e.key.clone();
            assert_eq!(e.check(Some(&key)).unwrap().older_size, m as u64, "{m} {n}");
        }
    }

    #[test]
    fn forged_bundles_are_refused() {
        let good = fork(5, 11);
        let code = |f: &dyn Fn(&mut Evidence)| {
            let mut e = good.clone();
            f(&mut e);
            e.check(None).unwrap_err().code()
        };
        // A note whose signature was tampered with.
        assert_eq!(code(&|e| e.newer = e.newer.replacen("\n11\n", "\n12\n", 1)), "evidence_signature_invalid");
        // Signed by another key.
        let other = NoteSigner::new("example.test/log", ed25519_dalek::SigningKey::from_bytes(&[8; 32])).unwrap();
        assert_eq!(code(&|e| e.older = note(&other, 5, [1; 32])), "evidence_signature_invalid");
        // A made-up root at the older size that the proof does not support.
        assert_eq!(code(&|e| e.older_root_in_newer = hex::encode([7u8; 32])), "evidence_proof_invalid");
        assert_eq!(code(&|e| e.consistency_proof.pop().map(|_| ()).unwrap_or(())), "evidence_proof_invalid");
        // Two consistent checkpoints are no evidence.
        let s = signer();
        let b = leaves("a", 11);
        assert_eq!(
            code(&|e| {
                e.older = note(&s, 5, root_of_leaves(&b[..5]));
                e.newer = note(&s, 11, root_of_leaves(&b));
                e.older_root_in_newer = hex::encode(root_of_leaves(&b[..5]));
                e.consistency_proof =
                    consistency_proof(&mut Leaves(&b), 5, 11).unwrap().iter().map(hex::encode).collect();
            }),
            "evidence_consistent"
        );
        assert_eq!(code(&|e| std::mem::swap(&mut e.older, &mut e.newer)), "evidence_sizes_reversed");
        assert_eq!(code(&|e| e.newer = e.older.clone()), "evidence_checkpoints_agree");
        assert!(matches!(good.check(Some("someone+00000000+AAAA")), Err(EvidenceError::KeyDiffers { .. })));
    }
}

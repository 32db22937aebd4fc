//! C2SP `tlog-witness` (<https://c2sp.org/tlog-witness>), the `add-checkpoint` call, without
//! I/O: the request body (an `old <size>` line, up to 63 base64 consistency proof lines, an empty
//! line, then the signed checkpoint), the logs a witness cosigns for (an origin and the keys it
//! trusts for it), and the checks a witness makes before cosigning, in the specification's order.
//!
//! Both sides use it: a prequal mirror run as a witness answers `add-checkpoint` for any
//! configured C2SP log (`registry::witnessing`), and an origin builds its requests with
//! [`AddCheckpoint::encode`] (`audit::witness_client`). Recording what was cosigned, atomically
//! with the check against the last record, is the caller's.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::checkpoint::{Checkpoint, CheckpointError};
use super::merkle::{self, Hash};
use super::note::{MAX_NOTE_BYTES, Note, VerifierKey};

/// The most consistency proof lines a request may carry (tlog-witness: "MUST NOT send more
/// than 63").
pub const MAX_PROOF_LINES: usize = 63;
/// The media type of a 409 answer's body, the witness's recorded size.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// Why a witness refused to cosign. `code()` is stable; each names the status the
/// specification requires (see `registry::error`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessError {
    /// 400: not an add-checkpoint body, or a checkpoint that does not parse.
    #[error("malformed add-checkpoint request: {0}")]
    Malformed(String),
    /// 404: the witness cosigns no log of this origin.
    #[error("this witness does not cosign the log '{0}'")]
    UnknownOrigin(String),
    /// 403: no signature verifies with a key the witness trusts for the origin.
    #[error("no signature on the checkpoint verifies with a key trusted for '{0}'")]
    NotSigned(String),
    /// 400: the old size is larger than the checkpoint's.
    #[error("the old size {old} is larger than the checkpoint's size {size}")]
    OldSizeTooLarge { old: u64, size: u64 },
    /// 409: the old size is not the size the witness last cosigned (the body says which).
    #[error("the old size {old} is not the size this witness last cosigned ({recorded})")]
    SizeMismatch { old: u64, recorded: u64 },
    /// 409: the same size as last cosigned, with another root hash: a fork.
    #[error("the checkpoint has the size this witness last cosigned ({size}) but another root hash")]
    RootMismatch { size: u64 },
    /// 422: the consistency proof does not prove the old tree a prefix of the new one.
    #[error("the consistency proof from {old} to {size} does not verify: {detail}")]
    BadProof { old: u64, size: u64, detail: String },
}

impl WitnessError {
    pub fn code(&self) -> &'static str {
        match self {
            WitnessError::Malformed(_) => "witness_malformed_request",
            WitnessError::UnknownOrigin(_) => "witness_unknown_log",
            WitnessError::NotSigned(_) => "witness_checkpoint_not_signed",
            WitnessError::OldSizeTooLarge { .. } => "witness_old_size_too_large",
            WitnessError::SizeMismatch { .. } => "witness_old_size_mismatch",
            WitnessError::RootMismatch { .. } => "witness_root_mismatch",
            WitnessError::BadProof { .. } => "witness_bad_consistency_proof",
        }
    }
}

/// An add-checkpoint request as sent: parsed, nothing verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, with all its signature lines.
    pub note: Vec<u8>,
}

fn decimal(s: &str) -> Option<u64> {
    let canonical = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    s.parse().ok().filter(|_| canonical)
}

impl AddCheckpoint {
    /// Parses a request body strictly: `old <decimal>\n`, then up to [`MAX_PROOF_LINES`] lines of
    /// base64 hashes, an empty line, and the note.
    pub fn parse(body: &[u8]) -> Result<AddCheckpoint, WitnessError> {
        let bad = |why: &str| WitnessError::Malformed(why.to_owned());
        if body.len() > MAX_NOTE_BYTES + 4096 {
            return Err(bad("the request is too large"));
        }
        let (head, note) = {
            let split = body.windows(2).position(|w| w == b"\n\n").ok_or_else(|| bad("no empty line"))?;
            (&body[..=split], &body[split + 2..])
        };
        let head = std::str::from_utf8(head).map_err(|_| bad("the header is not UTF-8"))?;
        let mut lines = head.strip_suffix('\n').unwrap_or(head).split('\n');
        let old = lines.next().and_then(|l| l.strip_prefix("old ")).ok_or_else(|| bad("no 'old <size>' line"))?;
        let old_size = decimal(old).ok_or_else(|| bad("the old size is not a canonical decimal"))?;
        let mut proof = Vec::new();
        for line in lines {
            if proof.len() == MAX_PROOF_LINES {
                return Err(bad("more than 63 consistency proof lines"));
            }
            let hash = B64.decode(line).ok().and_then(|h| Hash::try_from(h).ok());
            proof.push(hash.ok_or_else(|| bad("a consistency proof line is not the base64 of 32 bytes"))?);
        }
        if note.is_empty() {
            return Err(bad("no checkpoint after the empty line"));
        }
        Ok(AddCheckpoint { old_size, proof, note: note.to_vec() })
    }

    /// The request body.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = format!("old {}\n", self.old_size).into_bytes();
        for h in &self.proof {
            body.extend_from_slice(B64.encode(h).as_bytes());
            body.push(b'\n');
        }
        body.push(b'\n');
        body.extend_from_slice(&self.note);
        body
    }
}

/// A log a witness cosigns for: its origin line and the note keys it trusts for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessedLog {
    origin: String,
    keys: Vec<VerifierKey>,
}

impl WitnessedLog {
    pub fn new(origin: &str, keys: Vec<VerifierKey>) -> Result<WitnessedLog, WitnessError> {
        if origin.is_empty() || origin.contains('\n') || keys.is_empty() {
            return Err(WitnessError::Malformed("a witnessed log needs an origin and at least one key".into()));
        }
        Ok(WitnessedLog { origin: origin.to_owned(), keys })
    }

    /// `[<origin>=]<verifier key>`; without an origin, the key's name is the origin (as for
    /// tlog-checkpoint logs whose key is named after the origin). Verifier keys hold no '='.
    pub fn parse(spec: &str) -> Result<WitnessedLog, WitnessError> {
        let (origin, vkey) = match spec.rsplit_once('=') {
            Some((origin, vkey)) => (Some(origin), vkey),
            None => (None, spec),
        };
        let key = VerifierKey::parse(vkey).map_err(|e| WitnessError::Malformed(format!("'{vkey}': {e}")))?;
        let origin = origin.unwrap_or(key.name()).to_owned();
        WitnessedLog::new(&origin, vec![key])
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn keys(&self) -> &[VerifierKey] {
        &self.keys
    }
}

/// A checkpoint whose signature by a key trusted for its origin verified. Only
/// [`verify_checkpoint`] builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedCheckpoint {
    text: String,
    checkpoint: Checkpoint,
}

impl TrustedCheckpoint {
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The checkpoint body the log signed (what a cosignature covers).
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// The first three checks: the note parses (400), its origin is a configured log's (404), and
/// a signature by a key trusted for it verifies (403); signatures by other keys are ignored.
pub fn verify_checkpoint(logs: &[WitnessedLog], note: &[u8]) -> Result<TrustedCheckpoint, WitnessError> {
    let note = Note::parse(note).map_err(|e| WitnessError::Malformed(format!("the checkpoint note: {e}")))?;
    let unverified = note.unverified_text();
    let origin = unverified.split('\n').next().unwrap_or_default();
    let log = logs.iter().find(|l| l.origin == origin).ok_or_else(|| WitnessError::UnknownOrigin(origin.to_owned()))?;
    let text =
        log.keys.iter().find_map(|k| note.verify(k).ok()).ok_or_else(|| WitnessError::NotSigned(origin.to_owned()))?;
    let checkpoint = Checkpoint::parse(text)
        .map_err(|e: CheckpointError| WitnessError::Malformed(format!("the checkpoint: {e}")))?;
    Ok(TrustedCheckpoint { text: text.to_owned(), checkpoint })
}

/// What a witness recorded of a log: the size and root it last cosigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub size: u64,
    pub root: Hash,
}

/// The remaining checks against the witness's record (`None`: it never cosigned this log, so
/// the old size must be 0): the old size is at most the new one (400) and equals the recorded
/// size (409); at the same size the roots are equal (409); otherwise the proof verifies (422;
/// it must be empty from 0).
pub fn check_against_record(
    request_old: u64,
    proof: &[Hash],
    new: &Checkpoint,
    recorded: Option<Recorded>,
) -> Result<(), WitnessError> {
    let (old, size) = (request_old, new.size);
    if old > size {
        return Err(WitnessError::OldSizeTooLarge { old, size });
    }
    let recorded_size = recorded.map_or(0, |r| r.size);
    if old != recorded_size {
        return Err(WitnessError::SizeMismatch { old, recorded: recorded_size });
    }
    let bad_proof = |detail: String| WitnessError::BadProof { old, size, detail };
    let Some(recorded) = recorded.filter(|_| old > 0) else {
        return if proof.is_empty() { Ok(()) } else { Err(bad_proof("the proof from size 0 must be empty".into())) };
    };
    if old == size {
        if recorded.root != new.root {
            return Err(WitnessError::RootMismatch { size });
        }
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(bad_proof("the proof between equal sizes must be empty".into()))
        };
    }
    merkle::verify_consistency(old, size, proof, &recorded.root, &new.root).map_err(|e| bad_proof(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::merkle::root_of_leaves;
    use crate::log::note::NoteSigner;
    use ed25519_dalek::SigningKey;

    // The request body of the specification's example (tlog-witness.md, add-checkpoint).
    const SPEC_BODY: &str = "old 20852014\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\njrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n";

    #[test]
    fn parses_the_specification_example_and_encodes_it_back() {
        let req = AddCheckpoint::parse(SPEC_BODY.as_bytes()).unwrap();
        assert_eq!(req.old_size, 20852014);
        assert_eq!(req.proof.len(), 4);
        assert_eq!(B64.encode(req.proof[0]), "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=");
        let note = Note::parse(&req.note).unwrap();
        assert_eq!(note.signatures().len(), 2);
        assert!(note.unverified_text().starts_with("example.com/behind-the-sofa\n20852163\n"));
        assert_eq!(req.encode(), SPEC_BODY.as_bytes());
        // Its origin is unknown to a witness configured with another log: 404 before anything.
        let other = WitnessedLog::parse(
            &NoteSigner::new("other.example/log", SigningKey::from_bytes(&[1; 32])).unwrap().verifier().to_string(),
        )
        .unwrap();
        assert_eq!(verify_checkpoint(&[other], &req.note).unwrap_err().code(), "witness_unknown_log");
    }

    #[test]
    fn refuses_malformed_bodies() {
        let note = "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u{2014} o AAAAAAA=\n";
        let h = B64.encode([0u8; 32]);
        for body in [
            format!("old 01\n\n{note}"),
            format!("old -1\n\n{note}"),
            format!("old 1\n{h}\n{note}"),
            format!("old 1\nAAAA\n\n{note}"),
            format!("new 1\n\n{note}"),
            "old 1\n\n".to_owned(),
            format!("old 1\n{}\n{note}", format!("{h}\n").repeat(64)),
        ] {
            assert_eq!(
                AddCheckpoint::parse(body.as_bytes()).unwrap_err().code(),
                "witness_malformed_request",
                "{body}"
            );
        }
        let ok = format!("old 1\n{}\n{note}", format!("{h}\n").repeat(63));
        assert_eq!(AddCheckpoint::parse(ok.as_bytes()).unwrap().proof.len(), 63);
    }

    fn leaves(n: u8) -> Vec<Hash> {
        (0..n).map(|i| merkle::leaf_hash(&[i])).collect()
    }

    fn cp(origin: &str, n: u8) -> Checkpoint {
        Checkpoint { origin: origin.into(), size: n.into(), root: root_of_leaves(&leaves(n)), extensions: vec![] }
    }

    #[test]
    fn checks_signatures_then_the_record_in_the_specification_order() {
        let log = NoteSigner::new("log.example/a", SigningKey::from_bytes(&[2; 32])).unwrap();
        let stranger = NoteSigner::new("log.example/a", SigningKey::from_bytes(&[3; 32])).unwrap();
        let logs = [WitnessedLog::new("log.example/a", vec![log.verifier().clone()]).unwrap()];
        let c5 = cp("log.example/a", 5);
        // A stranger's signature is ignored, the trusted one verifies.
        let mut note = stranger.sign(&c5.to_text()).unwrap();
        assert_eq!(verify_checkpoint(&logs, note.as_bytes()).unwrap_err().code(), "witness_checkpoint_not_signed");
        note.push_str(log.sign(&c5.to_text()).unwrap().rsplit_once("\n\n").unwrap().1);
        let trusted = verify_checkpoint(&logs, note.as_bytes()).unwrap();
        assert_eq!(trusted.checkpoint(), &c5);

        // Never cosigned: old must be 0 and the proof empty.
        check_against_record(0, &[], &c5, None).unwrap();
        assert_eq!(
            check_against_record(3, &[], &c5, None).unwrap_err(),
            WitnessError::SizeMismatch { old: 3, recorded: 0 }
        );
        assert_eq!(check_against_record(0, &[[0; 32]], &c5, None).unwrap_err().code(), "witness_bad_consistency_proof");
        assert_eq!(check_against_record(6, &[], &c5, None).unwrap_err().code(), "witness_old_size_too_large");
        // Recorded 3: a proof from 3 to 5 verifies; a wrong one does not; another old size is 409.
        let rec = Recorded { size: 3, root: root_of_leaves(&leaves(3)) };
        let nodes = leaves(5);
        let mut src = merkle::Leaves(&nodes);
        let proof = merkle::consistency_proof(&mut src, 3, 5).unwrap();
        check_against_record(3, &proof, &c5, Some(rec)).unwrap();
        let mut wrong = proof.clone();
        wrong[0][0] ^= 1;
        assert_eq!(
            check_against_record(3, &wrong, &c5, Some(rec)).unwrap_err().code(),
            "witness_bad_consistency_proof"
        );
        assert_eq!(
            check_against_record(2, &[], &c5, Some(rec)).unwrap_err(),
            WitnessError::SizeMismatch { old: 2, recorded: 3 }
        );
        assert_eq!(check_against_record(0, &[], &c5, Some(rec)).unwrap_err().code(), "witness_old_size_mismatch");
        // The same size: the same root passes, another is a fork (409).
        let c3 = cp("log.example/a", 3);
        check_against_record(3, &[], &c3, Some(rec)).unwrap();
        let fork = Checkpoint { root: [9; 32], ..c3 };
        assert_eq!(check_against_record(3, &[], &fork, Some(rec)).unwrap_err().code(), "witness_root_mismatch");
    }

    #[test]
    fn witnessed_logs_parse_with_or_without_an_origin() {
        let key = NoteSigner::new("log.example/a", SigningKey::from_bytes(&[2; 32])).unwrap().verifier().to_string();
        assert_eq!(WitnessedLog::parse(&key).unwrap().origin(), "log.example/a");
        assert_eq!(WitnessedLog::parse(&format!("other origin=x{key}")).map(|l| l.origin().to_owned()).ok(), None);
        assert_eq!(WitnessedLog::parse(&format!("other.example/x={key}")).unwrap().origin(), "other.example/x");
        assert!(WitnessedLog::parse("nonsense").is_err());
    }
}

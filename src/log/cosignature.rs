//! C2SP `tlog-cosignature` v1, Ed25519 (<https://c2sp.org/tlog-cosignature>): a witness's
//! statement that, at a time, the checkpoint is the largest consistent tree it has seen of the
//! log.
//!
//! - The cosignature is a signed-note signature line, `— <witness name> base64(key id ‖
//!   timestamped_signature)`, with `timestamped_signature` = 8-byte big-endian POSIX seconds ‖
//!   64-byte Ed25519 signature.
//! - Key id: the first four bytes of SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key).
//! - Signed message: `cosignature/v1\ntime <seconds>\n` followed by the whole checkpoint body.
//! - Verifier keys in text form: `<name>+<hex key id>+<base64(0x04 ‖ public key)>`.
//!
//! **Counting toward a quorum** ([`verify_cosignatures`]): a line counts only if its name and
//! key id are those of a witness the caller named; other lines (the log's own signature, unknown
//! witnesses) are ignored, as signed-note requires. Valid cosignatures count **once per public
//! key**: the same line twice, two lines by one witness, or one key configured under two names
//! (the Ed25519 message does not commit to the name) all count once. A line that claims to be
//! by a named witness but does not verify is an **error**, not skipped: nobody but the witness
//! can produce that key id with a valid signature, so a bad one means the note was altered or
//! forged on the way, and the caller should see that rather than a smaller count.
//!
//! No I/O here; `crate::audit` fetches and submits.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};

use super::checkpoint::SignedCheckpoint;
use super::note::{NoteError, NoteSignature, SIG_PREFIX, check_name, check_text, key_id_of_type};

/// The signature type byte of Ed25519 cosignature/v1.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// Timestamps above this are refused (the specification's bound, 2^63 − 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;
/// Length of a timestamped Ed25519 signature.
const TIMESTAMPED_LEN: usize = 8 + 64;

/// Why a cosigner key, a cosignature or a quorum was refused. `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    #[error("malformed witness key: {0}")]
    BadKey(&'static str),
    #[error("malformed witness name '{0}' (non-empty, no spaces, no '+')")]
    BadName(String),
    #[error("the checkpoint text is not note text: {0}")]
    BadText(NoteError),
    #[error("the cosignature by {witness} is not a timestamped Ed25519 signature (8 + 64 bytes, time below 2^63)")]
    Malformed { witness: String },
    #[error("the cosignature by {witness} does not verify")]
    BadSignature { witness: String },
    #[error("{have} of the named witnesses cosigned, {need} required")]
    QuorumNotMet { have: usize, need: usize },
    #[error("a quorum of {quorum} cannot be met by {witnesses} distinct witness key(s)")]
    QuorumTooLarge { quorum: usize, witnesses: usize },
}

impl CosignatureError {
    pub fn code(&self) -> &'static str {
        match self {
            CosignatureError::BadKey(_) => "witness_bad_key",
            CosignatureError::BadName(_) => "witness_bad_name",
            CosignatureError::BadText(_) => "checkpoint_bad_text",
            CosignatureError::Malformed { .. } => "cosignature_malformed",
            CosignatureError::BadSignature { .. } => "cosignature_bad_signature",
            CosignatureError::QuorumNotMet { .. } => "quorum_not_met",
            CosignatureError::QuorumTooLarge { .. } => "quorum_too_large",
        }
    }
}

/// A witness's verifier key (signature type 0x04).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignerKey {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl CosignerKey {
    pub fn new(name: &str, key: VerifyingKey) -> Result<CosignerKey, CosignatureError> {
        check_name(name).map_err(|_| CosignatureError::BadName(name.to_owned()))?;
        Ok(CosignerKey { name: name.to_owned(), key_id: key_id_of_type(name, ALG_COSIGNATURE_V1, &key), key })
    }

    /// Parses `<name>+<hex key id>+<base64(0x04 ‖ key)>`; the key id must match.
    pub fn parse(s: &str) -> Result<CosignerKey, CosignatureError> {
        let s = s.trim();
        let shape = CosignatureError::BadKey("expected name+keyid+key");
        let (name, rest) = s.split_once('+').ok_or(shape.clone())?;
        let (id_hex, key_b64) = rest.split_once('+').ok_or(shape)?;
        check_name(name).map_err(|_| CosignatureError::BadName(name.to_owned()))?;
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(CosignatureError::BadKey("the key id must be 8 lowercase hex digits"));
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| CosignatureError::BadKey("bad key id"))?;
        let raw = B64.decode(key_b64).map_err(|_| CosignatureError::BadKey("the key is not base64"))?;
        let [alg, key @ ..]: [u8; 33] = raw.try_into().map_err(|_| CosignatureError::BadKey("wrong key length"))?;
        if alg != ALG_COSIGNATURE_V1 {
            return Err(CosignatureError::BadKey("not an Ed25519 cosignature/v1 key (type 0x04)"));
        }
        let key = VerifyingKey::from_bytes(&key).map_err(|_| CosignatureError::BadKey("not an Ed25519 point"))?;
        let ck = CosignerKey::new(name, key)?;
        if ck.key_id != id {
            return Err(CosignatureError::BadKey("the key id does not match the name and key"));
        }
        Ok(ck)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The raw public key.
    pub fn public_key(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// Whether a signature line claims to be by this witness (name and key id).
    pub fn claims(&self, sig: &NoteSignature) -> bool {
        sig.name == self.name && sig.key_id == self.key_id
    }

    /// Verifies a line that [`claims`](Self::claims) to be by this witness over `text`.
    pub fn verify(&self, text: &str, sig: &NoteSignature) -> Result<Cosignature, CosignatureError> {
        let malformed = || CosignatureError::Malformed { witness: self.to_string() };
        let raw: &[u8; TIMESTAMPED_LEN] = sig.signature.as_slice().try_into().map_err(|_| malformed())?;
        let (ts, signature) = raw.split_at(8);
        let timestamp = u64::from_be_bytes(ts.try_into().map_err(|_| malformed())?);
        if timestamp > MAX_TIMESTAMP {
            return Err(malformed());
        }
        let signature = Signature::from_slice(signature).map_err(|_| malformed())?;
        self.key
            .verify(&message(text, timestamp), &signature)
            .map_err(|_| CosignatureError::BadSignature { witness: self.to_string() })?;
        Ok(Cosignature { witness: self.clone(), timestamp, line: sig.line() })
    }
}

impl std::fmt::Display for CosignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![ALG_COSIGNATURE_V1];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.key_id, B64.encode(raw))
    }
}

/// The signed message of a cosignature: `cosignature/v1\ntime <timestamp>\n` ‖ checkpoint body.
pub fn message(text: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{text}").into_bytes()
}

/// A witness: a name and the Ed25519 key it cosigns with.
pub struct Witness {
    verifier: CosignerKey,
    key: SigningKey,
}

impl Witness {
    pub fn new(name: &str, key: SigningKey) -> Result<Witness, CosignatureError> {
        Ok(Witness { verifier: CosignerKey::new(name, key.verifying_key())?, key })
    }

    pub fn verifier(&self) -> &CosignerKey {
        &self.verifier
    }

    /// Cosigns a checkpoint the caller has verified (its signature, and its consistency with the
    /// last one this witness cosigned: see `crate::audit::check_consistency`) at `timestamp`
    /// (POSIX seconds). Returns the signature line, ending in a newline, to append to the note.
    pub fn cosign(&self, checkpoint: &SignedCheckpoint, timestamp: u64) -> Result<String, CosignatureError> {
        self.cosign_text(checkpoint.text(), timestamp)
    }

    /// Cosigns checkpoint body text as it is (tests and known-answer checks).
    pub fn cosign_text(&self, text: &str, timestamp: u64) -> Result<String, CosignatureError> {
        check_text(text).map_err(CosignatureError::BadText)?;
        if timestamp > MAX_TIMESTAMP {
            return Err(CosignatureError::Malformed { witness: self.verifier.to_string() });
        }
        let sig = self.key.sign(&message(text, timestamp));
        let mut blob = self.verifier.key_id.to_be_bytes().to_vec();
        blob.extend_from_slice(&timestamp.to_be_bytes());
        blob.extend_from_slice(&sig.to_bytes());
        Ok(format!("{SIG_PREFIX}{} {}\n", self.verifier.name, B64.encode(blob)))
    }
}

/// A cosignature that verified against a named witness's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    pub witness: CosignerKey,
    /// When the witness signed, POSIX seconds.
    pub timestamp: u64,
    /// The signature line as found (re-encoded), ending in a newline.
    pub line: String,
}

/// The valid cosignatures of `checkpoint` by the named `witnesses`, one per distinct public key
/// (the first valid line of each). Lines by keys not named are ignored; a line claiming to be by
/// a named witness that does not verify is an error (see the module docs).
pub fn verify_cosignatures(
    checkpoint: &SignedCheckpoint,
    witnesses: &[CosignerKey],
) -> Result<Vec<Cosignature>, CosignatureError> {
    let mut seen_keys = BTreeSet::new();
    let mut found = Vec::new();
    for sig in checkpoint.note().signatures() {
        for witness in witnesses.iter().filter(|w| w.claims(sig)) {
            let cosig = witness.verify(checkpoint.text(), sig)?;
            if seen_keys.insert(*witness.public_key()) {
                found.push(cosig);
            }
        }
    }
    Ok(found)
}

/// The number of distinct public keys among `witnesses`.
pub fn distinct_keys(witnesses: &[CosignerKey]) -> usize {
    witnesses.iter().map(|w| *w.public_key()).collect::<BTreeSet<_>>().len()
}

/// Checks that `quorum` cosignatures by distinct named witnesses are among `found` (from
/// [`verify_cosignatures`]), and that the quorum can be met at all by the named witnesses (a
/// witness named twice is one witness).
pub fn require_quorum(found: &[Cosignature], witnesses: &[CosignerKey], quorum: usize) -> Result<(), CosignatureError> {
    let distinct = distinct_keys(witnesses);
    if quorum > distinct {
        return Err(CosignatureError::QuorumTooLarge { quorum, witnesses: distinct });
    }
    let have = found.iter().map(|c| *c.witness.public_key()).collect::<BTreeSet<_>>().len();
    if have < quorum {
        return Err(CosignatureError::QuorumNotMet { have, need: quorum });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::checkpoint::Checkpoint;
    use crate::log::note::{Note, NoteSigner};

    // Known answer, computed independently of this code with Python's `cryptography` package
    // (hashlib SHA-256 for the key id, Ed25519 over the message as the specification spells
    // it): witness "witness.example/w1", seed 32 × 0x07, timestamp 1679315147, over the body
    // "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n".
    const KAT_BODY: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    const KAT_TIME: u64 = 1679315147;
    const KAT_VKEY: &str = "witness.example/w1+aa4a09d1+BOpKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs";
    const KAT_LINE: &str = "\u{2014} witness.example/w1 qkoJ0QAAAABkGFDLWr4Jea05CAgwNVtwky0Jgz6WfX0QJgM//FkB/W9BoT9TX0DkTxG+2cT4p/ViKNhUM/SnUwFcYQzugGFQ15LwDw==\n";

    fn kat_witness() -> Witness {
        Witness::new("witness.example/w1", SigningKey::from_bytes(&[7; 32])).unwrap()
    }

    fn log_signer() -> NoteSigner {
        NoteSigner::new("example.com/log", SigningKey::from_bytes(&[1; 32])).unwrap()
    }

    fn signed(size: u64) -> SignedCheckpoint {
        let signer = log_signer();
        let text = Checkpoint { origin: "example.com/log".into(), size, root: [5; 32], extensions: vec![] }.to_text();
        let note = signer.sign(&text).unwrap();
        SignedCheckpoint::verify(note.as_bytes(), signer.verifier()).unwrap()
    }

    fn with_lines(cp: &SignedCheckpoint, lines: &[String]) -> SignedCheckpoint {
        let mut note = cp.note().encode();
        for l in lines {
            note.push_str(l);
        }
        SignedCheckpoint::verify(note.as_bytes(), log_signer().verifier()).unwrap()
    }

    #[test]
    fn known_answer_matches_an_independent_implementation() {
        let w = kat_witness();
        assert_eq!(w.verifier().to_string(), KAT_VKEY);
        assert_eq!(w.cosign_text(KAT_BODY, KAT_TIME).unwrap(), KAT_LINE);
        let parsed = CosignerKey::parse(KAT_VKEY).unwrap();
        assert_eq!(&parsed, w.verifier());
        // The line verifies, and carries its timestamp.
        let note = Note::parse(format!("{KAT_BODY}\n{KAT_LINE}").as_bytes()).unwrap();
        let c = parsed.verify(KAT_BODY, &note.signatures()[0]).unwrap();
        assert_eq!(c.timestamp, KAT_TIME);
        assert_eq!(c.line, KAT_LINE);
    }

    #[test]
    fn parses_the_specification_example_line() {
        // tlog-cosignature's example cosignature: key id 8d66cf3f, time 1679315147 (the time
        // of the specification's example message), then 64 signature bytes.
        let example = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
        let note = Note::parse(example.as_bytes()).unwrap();
        let sig = &note.signatures()[0];
        assert_eq!(sig.key_id, 0x8d66cf3f);
        assert_eq!(sig.signature.len(), TIMESTAMPED_LEN);
        assert_eq!(u64::from_be_bytes(sig.signature[..8].try_into().unwrap()), 1679315147);
        assert_eq!(note.encode(), example);
    }

    #[test]
    fn round_trip_and_tampering() {
        let w = kat_witness();
        let cp = signed(10);
        let line = w.cosign(&cp, 1_700_000_000).unwrap();
        let cosigned = with_lines(&cp, std::slice::from_ref(&line));
        let found = verify_cosignatures(&cosigned, &[w.verifier().clone()]).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].timestamp, 1_700_000_000);
        // The same witness over another body: the line does not verify there.
        let other = signed(11);
        let moved = with_lines(&other, std::slice::from_ref(&line));
        assert_eq!(
            verify_cosignatures(&moved, &[w.verifier().clone()]).unwrap_err().code(),
            "cosignature_bad_signature"
        );
        // A changed timestamp breaks the signature.
        let note = Note::parse(cosigned.note().encode().as_bytes()).unwrap();
        let mut sig = note.signatures()[1].clone();
        sig.signature[7] ^= 1;
        let mut text = cp.note().encode();
        text.push_str(&sig.line());
        let bad = SignedCheckpoint::verify(text.as_bytes(), log_signer().verifier()).unwrap();
        assert_eq!(verify_cosignatures(&bad, &[w.verifier().clone()]).unwrap_err().code(), "cosignature_bad_signature");
        // Truncated: malformed.
        sig.signature.truncate(40);
        let mut text = cp.note().encode();
        text.push_str(&sig.line());
        let bad = SignedCheckpoint::verify(text.as_bytes(), log_signer().verifier()).unwrap();
        assert_eq!(verify_cosignatures(&bad, &[w.verifier().clone()]).unwrap_err().code(), "cosignature_malformed");
        // A note signature (type 0x01) by the same key under the same name is not a cosignature:
        // its key id differs, so it is ignored.
        let as_note = NoteSigner::new("witness.example/w1", SigningKey::from_bytes(&[7; 32])).unwrap();
        let note_line = as_note.sign(cp.text()).unwrap();
        let note_line = note_line.rsplit_once("\n\n").unwrap().1.to_owned();
        let confused = with_lines(&cp, &[note_line]);
        assert!(verify_cosignatures(&confused, &[w.verifier().clone()]).unwrap().is_empty());
    }

    #[test]
    fn quorum_counts_distinct_keys_once() {
        let a = kat_witness();
        let b = Witness::new("witness.example/w2", SigningKey::from_bytes(&[8; 32])).unwrap();
        let stranger = Witness::new("stranger.example", SigningKey::from_bytes(&[9; 32])).unwrap();
        let named = [a.verifier().clone(), b.verifier().clone()];
        let cp = signed(3);
        let la = a.cosign(&cp, 100).unwrap();
        let la2 = a.cosign(&cp, 200).unwrap();
        let lb = b.cosign(&cp, 100).unwrap();
        let ls = stranger.cosign(&cp, 100).unwrap();

        let both = with_lines(&cp, &[la.clone(), lb.clone()]);
        let found = verify_cosignatures(&both, &named).unwrap();
        assert_eq!(found.len(), 2);
        require_quorum(&found, &named, 2).unwrap();

        // The same line twice, or two lines by one witness: one.
        for lines in [vec![la.clone(), la.clone()], vec![la.clone(), la2.clone()], vec![la.clone(), ls.clone()]] {
            let cosigned = with_lines(&cp, &lines);
            let found = verify_cosignatures(&cosigned, &named).unwrap();
            assert_eq!(found.len(), 1, "{lines:?}");
            assert_eq!(require_quorum(&found, &named, 2).unwrap_err().code(), "quorum_not_met");
            require_quorum(&found, &named, 1).unwrap();
        }
        // One witness named twice is one witness: a quorum of 2 cannot be met.
        let twice = [a.verifier().clone(), a.verifier().clone()];
        let found = verify_cosignatures(&with_lines(&cp, &[la.clone(), la2]), &twice).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(require_quorum(&found, &twice, 2).unwrap_err().code(), "quorum_too_large");
        // One key under two names: the message does not commit to the name, so it counts once.
        let alias = Witness::new("alias.example", SigningKey::from_bytes(&[7; 32])).unwrap();
        let aliased = [a.verifier().clone(), alias.verifier().clone()];
        let la_alias = alias.cosign(&cp, 100).unwrap();
        let found = verify_cosignatures(&with_lines(&cp, &[la, la_alias]), &aliased).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(require_quorum(&found, &aliased, 2).unwrap_err().code(), "quorum_too_large");
        // Nobody named: nothing counts.
        assert!(verify_cosignatures(&with_lines(&cp, &[lb, ls]), &[]).unwrap().is_empty());
    }

    #[test]
    fn keys_parse_strictly() {
        let good = kat_witness().verifier().to_string();
        assert!(CosignerKey::parse(&good).is_ok());
        let note_key = log_signer().verifier().to_string();
        assert_eq!(CosignerKey::parse(&note_key).unwrap_err().code(), "witness_bad_key");
        let (name, rest) = good.split_once('+').unwrap();
        let wrong_id = format!("{name}+00000000+{}", rest.split_once('+').unwrap().1);
        assert_eq!(CosignerKey::parse(&wrong_id).unwrap_err().code(), "witness_bad_key");
        assert_eq!(CosignerKey::parse(&format!("a b+{rest}")).unwrap_err().code(), "witness_bad_name");
        assert_eq!(CosignerKey::parse("nothing").unwrap_err().code(), "witness_bad_key");
        assert_eq!(kat_witness().cosign_text("no newline", 1).unwrap_err().code(), "checkpoint_bad_text");
        assert_eq!(kat_witness().cosign_text(KAT_BODY, u64::MAX).unwrap_err().code(), "cosignature_malformed");
    }
}

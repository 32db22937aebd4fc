//! C2SP `signed-note` (<https://c2sp.org/signed-note>), Ed25519 signatures only: the note text,
//! an empty line, then one line per signature, `— <key name> <base64(key id ‖ signature)>`.
//! Byte-compatible with Go's `golang.org/x/mod/sumdb/note` (tested with its published vector).
//!
//! Parsing is strict and bounded (a later fuzz target reads untrusted notes through it).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use sha2::{Digest, Sha256};

/// The signature type byte of Ed25519 in signed notes.
const ALG_ED25519: u8 = 0x01;
/// The longest note accepted.
pub const MAX_NOTE_BYTES: usize = 1 << 20;
/// The most signature lines accepted (Go's `note.Open` has the same bound).
pub const MAX_SIGNATURES: usize = 100;
pub(crate) const SIG_PREFIX: &str = "\u{2014} ";

/// Why a note, a key or a signature was refused. `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("the note is larger than {MAX_NOTE_BYTES} bytes")]
    TooLarge,
    #[error("the note is not UTF-8")]
    NotUtf8,
    #[error("the note text contains a control character other than newline")]
    ControlCharacter,
    #[error("the note text must end with a newline")]
    MissingNewline,
    #[error("the note has no empty line before its signatures")]
    NoSignatureBlock,
    #[error("the note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    #[error("malformed signature line {0}")]
    MalformedSignature(usize),
    #[error("malformed key name '{0}' (non-empty, no spaces, no '+')")]
    BadKeyName(String),
    #[error("malformed verifier key: {0}")]
    BadVerifierKey(&'static str),
    #[error("no signature by key {name}+{key_id:08x}")]
    NotSignedByKey { name: String, key_id: u32 },
    #[error("the signature by {name}+{key_id:08x} does not verify")]
    BadSignature { name: String, key_id: u32 },
}

impl NoteError {
    pub fn code(&self) -> &'static str {
        match self {
            NoteError::TooLarge => "note_too_large",
            NoteError::NotUtf8 => "note_not_utf8",
            NoteError::ControlCharacter => "note_control_character",
            NoteError::MissingNewline => "note_missing_newline",
            NoteError::NoSignatureBlock => "note_no_signatures",
            NoteError::TooManySignatures => "note_too_many_signatures",
            NoteError::MalformedSignature(_) => "note_malformed_signature",
            NoteError::BadKeyName(_) => "note_bad_key_name",
            NoteError::BadVerifierKey(_) => "note_bad_verifier_key",
            NoteError::NotSignedByKey { .. } => "note_not_signed_by_key",
            NoteError::BadSignature { .. } => "note_bad_signature",
        }
    }
}

/// Key names: non-empty, no whitespace, no '+', no control characters.
pub(crate) fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+' || c.is_control()) {
        return Err(NoteError::BadKeyName(name.to_owned()));
    }
    Ok(())
}

/// The key id rule of signed-note: the first four bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key).
pub fn key_id(name: &str, key: &VerifyingKey) -> u32 {
    key_id_of_type(name, ALG_ED25519, key)
}

/// The key id of a key of signature type `alg` (0x01 note signatures, 0x04 cosignatures):
/// the first four bytes of SHA-256(name ‖ 0x0A ‖ alg ‖ key).
pub(crate) fn key_id_of_type(name: &str, alg: u8, key: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', alg]);
    h.update(key.as_bytes());
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// A verifier key: `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl VerifierKey {
    pub fn new(name: &str, key: VerifyingKey) -> Result<VerifierKey, NoteError> {
        check_name(name)?;
        Ok(VerifierKey { name: name.to_owned(), key_id: key_id(name, &key), key })
    }

    /// Parses the text form; the key id must match the name and key.
    pub fn parse(s: &str) -> Result<VerifierKey, NoteError> {
        // The name has no '+', the hex has none; the base64 may contain '+'.
        let (name, rest) = s.split_once('+').ok_or(NoteError::BadVerifierKey("expected name+keyid+key"))?;
        let (id_hex, key_b64) = rest.split_once('+').ok_or(NoteError::BadVerifierKey("expected name+keyid+key"))?;
        check_name(name)?;
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(NoteError::BadVerifierKey("the key id must be 8 lowercase hex digits"));
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| NoteError::BadVerifierKey("bad key id"))?;
        let raw = B64.decode(key_b64).map_err(|_| NoteError::BadVerifierKey("the key is not base64"))?;
        let [alg, key @ ..]: [u8; 33] = raw.try_into().map_err(|_| NoteError::BadVerifierKey("wrong key length"))?;
        if alg != ALG_ED25519 {
            return Err(NoteError::BadVerifierKey("not an Ed25519 key"));
        }
        let key = VerifyingKey::from_bytes(&key).map_err(|_| NoteError::BadVerifierKey("not an Ed25519 point"))?;
        let vk = VerifierKey::new(name, key)?;
        if vk.key_id != id {
            return Err(NoteError::BadVerifierKey("the key id does not match the name and key"));
        }
        Ok(vk)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![ALG_ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.key_id, B64.encode(raw))
    }
}

/// A note signer: a key name and an Ed25519 secret key.
pub struct NoteSigner {
    verifier: VerifierKey,
    key: SigningKey,
}

impl NoteSigner {
    pub fn new(name: &str, key: SigningKey) -> Result<NoteSigner, NoteError> {
        Ok(NoteSigner { verifier: VerifierKey::new(name, key.verifying_key())?, key })
    }

    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// Signs `text` (which must be valid note text) and returns the whole note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        let sig = self.key.sign(text.as_bytes());
        let mut blob = self.verifier.key_id.to_be_bytes().to_vec();
        blob.extend_from_slice(&sig.to_bytes());
        Ok(format!("{text}\n{SIG_PREFIX}{} {}\n", self.verifier.name, B64.encode(blob)))
    }
}

pub(crate) fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::MissingNewline);
    }
    if text.chars().any(|c| c.is_ascii_control() && c != '\n') {
        return Err(NoteError::ControlCharacter);
    }
    Ok(())
}

/// One signature line of a note (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: u32,
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, `— <name> <base64(key id ‖ signature)>\n`.
    pub fn line(&self) -> String {
        let mut blob = self.key_id.to_be_bytes().to_vec();
        blob.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(blob))
    }
}

/// A parsed, not yet verified note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// Parses a signed note: the text ends at the last empty line; every line after it is a
    /// signature line, and the note ends with a newline.
    pub fn parse(msg: &[u8]) -> Result<Note, NoteError> {
        if msg.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge);
        }
        let msg = std::str::from_utf8(msg).map_err(|_| NoteError::NotUtf8)?;
        if !msg.ends_with('\n') {
            return Err(NoteError::MissingNewline);
        }
        let split = msg.rfind("\n\n").ok_or(NoteError::NoSignatureBlock)?;
        let (text, sigs) = (&msg[..=split], &msg[split + 2..]);
        check_text(text)?;
        let lines: Vec<&str> = sigs.strip_suffix('\n').unwrap_or(sigs).split('\n').collect();
        if lines.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        let mut signatures = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let bad = || NoteError::MalformedSignature(i + 1);
            let rest = line.strip_prefix(SIG_PREFIX).ok_or_else(bad)?;
            let (name, b64) = rest.split_once(' ').ok_or_else(bad)?;
            check_name(name).map_err(|_| bad())?;
            let raw = B64.decode(b64).map_err(|_| bad())?;
            if raw.len() < 5 {
                return Err(bad());
            }
            let key_id = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
            signatures.push(NoteSignature { name: name.to_owned(), key_id, signature: raw[4..].to_vec() });
        }
        Ok(Note { text: text.to_owned(), signatures })
    }

    /// The text, unverified: only for showing what a refused note said.
    pub fn unverified_text(&self) -> &str {
        &self.text
    }

    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// The note as bytes again: the text, an empty line and one line per signature.
    pub fn encode(&self) -> String {
        let mut s = format!("{}\n", self.text);
        for sig in &self.signatures {
            s.push_str(&sig.line());
        }
        s
    }

    /// Verifies the signature by `key` and returns the text it vouches for. Signatures by other
    /// keys are ignored (cosigners), as the specification requires.
    pub fn verify(&self, key: &VerifierKey) -> Result<&str, NoteError> {
        let sig = self
            .signatures
            .iter()
            .find(|s| s.name == key.name && s.key_id == key.key_id)
            .ok_or_else(|| NoteError::NotSignedByKey { name: key.name.clone(), key_id: key.key_id })?;
        let bad = || NoteError::BadSignature { name: key.name.clone(), key_id: key.key_id };
        let sig = Signature::from_slice(&sig.signature).map_err(|_| bad())?;
        key.key.verify(self.text.as_bytes(), &sig).map_err(|_| bad())?;
        Ok(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of golang.org/x/mod/sumdb/note (note.go package documentation and
    // note_test.go): signer key, verifier key and the signed note it produces.
    const GO_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_TEXT: &str =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    fn go_signer() -> NoteSigner {
        // The base64 itself contains a '+': take everything after the 4th '+'.
        let b64 = GO_SKEY.splitn(5, '+').nth(4).unwrap();
        let raw = B64.decode(b64).unwrap();
        assert_eq!(raw[0], ALG_ED25519);
        let seed: [u8; 32] = raw[1..].try_into().unwrap();
        NoteSigner::new("PeterNeumann", SigningKey::from_bytes(&seed)).unwrap()
    }

    #[test]
    fn signs_byte_for_byte_like_go() {
        let signer = go_signer();
        assert_eq!(signer.verifier().to_string(), GO_VKEY);
        assert_eq!(signer.sign(GO_TEXT).unwrap(), GO_NOTE);
        let vk = VerifierKey::parse(GO_VKEY).unwrap();
        assert_eq!(vk.key_id(), 0xc74f20a3);
        assert_eq!(Note::parse(GO_NOTE.as_bytes()).unwrap().verify(&vk).unwrap(), GO_TEXT);
    }

    #[test]
    fn refuses_tampering_and_malformed_notes() {
        let vk = VerifierKey::parse(GO_VKEY).unwrap();
        let tampered = GO_NOTE.replace("cryptography", "cryptographY");
        assert_eq!(Note::parse(tampered.as_bytes()).unwrap().verify(&vk).unwrap_err().code(), "note_bad_signature");
        let code = |s: &str| Note::parse(s.as_bytes()).unwrap_err().code();
        assert_eq!(code(GO_NOTE.trim_end()), "note_missing_newline");
        assert_eq!(code("text\n"), "note_no_signatures");
        assert_eq!(code("te\x07xt\n\n\u{2014} a AAAAAAA=\n"), "note_control_character");
        assert_eq!(code("text\n\n- a AAAAAAA=\n"), "note_malformed_signature");
        assert_eq!(code("text\n\n\u{2014} a !!!\n"), "note_malformed_signature");
        assert_eq!(code("text\n\n\u{2014} a AAAA\n"), "note_malformed_signature");
        assert_eq!(code("text\n\n\u{2014} a+b AAAAAAA=\n"), "note_malformed_signature");
        let many = format!("text\n\n{}", "\u{2014} a AAAAAAA=\n".repeat(MAX_SIGNATURES + 1));
        assert_eq!(code(&many), "note_too_many_signatures");
        // Another key's signature is ignored, not an error; the wanted one must be there.
        let other = NoteSigner::new("other", SigningKey::from_bytes(&[9; 32])).unwrap();
        let note = other.sign(GO_TEXT).unwrap();
        assert_eq!(Note::parse(note.as_bytes()).unwrap().verify(&vk).unwrap_err().code(), "note_not_signed_by_key");
    }

    #[test]
    fn verifier_keys_parse_strictly() {
        for bad in [
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3",
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ] {
            assert!(VerifierKey::parse(bad).is_err(), "{bad}");
        }
    }
}

//! Keys, detached package signatures and trust sets.
//!
//! A signature is Ed25519 over the domain-separated message
//! `"prequal-package-v1\n" + "sha256:<hex digest>" + "\n"`, where the digest is the package digest
//! (SHA-256 of `tagmanifest-sha256.txt`). Signatures live in `signatures/<key id>.json`, which no
//! manifest lists, so adding one never changes the digest. A key id is derived from the public key
//! (first 16 bytes of SHA-256 over `"prequal-key-v1\n"` + the 32 key bytes, in hex), so a
//! signature file cannot claim another key's id.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::bagit::Sha256Hash;

/// Domain separation for package signatures.
pub const SIGNATURE_CONTEXT: &str = "prequal-package-v1";
const KEY_ID_CONTEXT: &[u8] = b"prequal-key-v1\n";

/// The digest that identifies a package: SHA-256 of its tag manifest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackageDigest(Sha256Hash);

impl PackageDigest {
    pub(crate) fn new(hash: Sha256Hash) -> Self {
        PackageDigest(hash)
    }

    /// Parses `sha256:<64 hex>` or bare hex.
    pub fn parse(s: &str) -> Option<Self> {
        let hex = s.strip_prefix("sha256:").unwrap_or(s);
        if hex.chars().any(|c| c.is_ascii_uppercase()) {
            return None;
        }
        Sha256Hash::parse_hex(hex).map(PackageDigest)
    }

    pub fn hex(&self) -> String {
        self.0.to_hex()
    }

    pub fn bytes(&self) -> &[u8; 32] {
        self.0.bytes()
    }
}

impl fmt::Display for PackageDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0.to_hex())
    }
}

impl fmt::Debug for PackageDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PackageDigest({self})")
    }
}

/// The bytes a signer signs for a package.
pub fn signing_message(digest: &PackageDigest) -> Vec<u8> {
    format!("{SIGNATURE_CONTEXT}\n{digest}\n").into_bytes()
}

/// A key id: 32 lowercase hex digits derived from the public key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    pub fn of(key: &VerifyingKey) -> KeyId {
        let mut h = Sha256::new();
        h.update(KEY_ID_CONTEXT);
        h.update(key.as_bytes());
        let full: [u8; 32] = h.finalize().into();
        KeyId(hex::encode(&full[..16]))
    }

    pub fn parse(s: &str) -> Result<KeyId, String> {
        if s.len() == 32 && s.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
            Ok(KeyId(s.to_owned()))
        } else {
            Err(format!("'{s}' is not a key id (32 lowercase hex digits)"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for KeyId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        KeyId::parse(&s)
    }
}

impl From<KeyId> for String {
    fn from(k: KeyId) -> String {
        k.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

pub fn encode_public_key(key: &VerifyingKey) -> String {
    B64.encode(key.as_bytes())
}

pub fn decode_public_key(s: &str) -> Result<VerifyingKey, String> {
    let bytes = B64.decode(s).map_err(|_| "public key is not base64".to_owned())?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| "public key must be 32 bytes".to_owned())?;
    VerifyingKey::from_bytes(&arr).map_err(|_| "public key is not a valid Ed25519 point".to_owned())
}

/// Errors handling key files.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {detail}")]
    Io { path: String, detail: String },
    #[error("{path}: not a prequal secret key file: {detail}")]
    Format { path: String, detail: String },
    #[error("{path} already exists; refusing to overwrite a key")]
    Exists { path: String },
}

/// A secret key file as written by `prequal keygen` (mode 0600).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretKeyFile {
    #[serde(rename = "type")]
    kind: String,
    algorithm: String,
    key_id: KeyId,
    public_key: String,
    /// The 32-byte Ed25519 seed, base64.
    secret_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

const SECRET_KEY_TYPE: &str = "prequal-secret-key";

/// A signing key loaded from a key file.
pub struct SecretKey {
    key: SigningKey,
    id: KeyId,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.id)
    }
}

impl SecretKey {
    pub fn generate() -> SecretKey {
        let key = SigningKey::generate(&mut rand_core::OsRng);
        let id = KeyId::of(&key.verifying_key());
        SecretKey { key, id }
    }

    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        let key = SigningKey::from_bytes(&seed);
        let id = KeyId::of(&key.verifying_key());
        SecretKey { key, id }
    }

    pub fn key_id(&self) -> &KeyId {
        &self.id
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The Ed25519 key itself (the registry signs log checkpoints with it).
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// Writes the key file with mode 0600, refusing to overwrite an existing file.
    pub fn write(&self, path: &Path, comment: Option<&str>) -> Result<(), KeyError> {
        let shown = path.display().to_string();
        let file = SecretKeyFile {
            kind: SECRET_KEY_TYPE.into(),
            algorithm: "ed25519".into(),
            key_id: self.id.clone(),
            public_key: encode_public_key(&self.public_key()),
            secret_key: B64.encode(self.key.to_bytes()),
            comment: comment.map(str::to_owned),
        };
        let mut text = serde_json::to_string_pretty(&file)
            .map_err(|e| KeyError::Format { path: shown.clone(), detail: e.to_string() })?;
        text.push('\n');
        write_new_private_file(path, text.as_bytes()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists { path: shown.clone() }
            } else {
                KeyError::Io { path: shown, detail: e.to_string() }
            }
        })
    }

    pub fn read(path: &Path) -> Result<SecretKey, KeyError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| KeyError::Io { path: shown.clone(), detail: e.to_string() })?;
        let format = |detail: String| KeyError::Format { path: shown.clone(), detail };
        let file: SecretKeyFile = serde_json::from_slice(&bytes).map_err(|e| format(e.to_string()))?;
        if file.kind != SECRET_KEY_TYPE || file.algorithm != "ed25519" {
            return Err(format("expected type 'prequal-secret-key', algorithm 'ed25519'".into()));
        }
        let seed = B64.decode(&file.secret_key).map_err(|_| format("secret_key is not base64".into()))?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| format("secret_key must be 32 bytes".into()))?;
        let key = SecretKey::from_seed(seed);
        if key.id != file.key_id || encode_public_key(&key.public_key()) != file.public_key {
            return Err(format("key_id or public_key does not match the secret key".into()));
        }
        Ok(key)
    }

    /// Signs a package digest, producing the signature file content.
    pub fn sign(&self, digest: &PackageDigest) -> SignatureFile {
        let signature = self.key.sign(&signing_message(digest));
        SignatureFile {
            kind: SIGNATURE_TYPE.into(),
            algorithm: "ed25519".into(),
            key_id: self.id.clone(),
            public_key: encode_public_key(&self.public_key()),
            digest: digest.to_string(),
            signature: B64.encode(signature.to_bytes()),
        }
    }
}

const SIGNATURE_TYPE: &str = "prequal-package-signature";

/// The content of `signatures/<key id>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    #[serde(rename = "type")]
    pub kind: String,
    pub algorithm: String,
    pub key_id: KeyId,
    pub public_key: String,
    /// `sha256:<hex>` of the package signed.
    pub digest: String,
    pub signature: String,
}

impl SignatureFile {
    pub fn entry_name(&self) -> String {
        format!("signatures/{}.json", self.key_id)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// Creates `path` with mode 0600 (never overwriting), writes `bytes` and syncs them: for secret
/// keys and tokens.
pub fn write_new_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut out = options.open(path)?;
    out.write_all(bytes)?;
    out.sync_all()
}

/// A signature found in a package, checked cryptographically against the package digest.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedSignature {
    /// Entry name in the package.
    pub file: String,
    /// The key id the file names (may be absent when the file is unreadable).
    pub key_id: Option<KeyId>,
    pub public_key: Option<VerifyingKey>,
    /// None when the signature is cryptographically valid for this package; otherwise why not.
    pub problem: Option<String>,
    /// The raw signature bytes, for storage.
    pub signature: Option<[u8; 64]>,
}

impl CheckedSignature {
    pub fn is_cryptographically_valid(&self) -> bool {
        self.problem.is_none()
    }
}

/// Checks one signature file's bytes against the package digest. Never fails: a bad file is a
/// signature with a problem.
pub fn check_signature(file: &str, bytes: &[u8], digest: &PackageDigest) -> CheckedSignature {
    let mut out =
        CheckedSignature { file: file.to_owned(), key_id: None, public_key: None, problem: None, signature: None };
    let parsed: SignatureFile = match serde_json::from_slice(bytes) {
        Ok(p) => p,
        Err(e) => {
            out.problem = Some(format!("not a signature file: {e}"));
            return out;
        }
    };
    out.key_id = Some(parsed.key_id.clone());
    let problem = (|| {
        if parsed.kind != SIGNATURE_TYPE || parsed.algorithm != "ed25519" {
            return Err("expected type 'prequal-package-signature', algorithm 'ed25519'".to_owned());
        }
        let key = decode_public_key(&parsed.public_key)?;
        out.public_key = Some(key);
        if KeyId::of(&key) != parsed.key_id {
            return Err("key_id is not derived from public_key".to_owned());
        }
        if file != parsed.entry_name() {
            return Err(format!("file name should be {}", parsed.entry_name()));
        }
        if parsed.digest != digest.to_string() {
            return Err(format!("signs {} but the package digest is {digest}", parsed.digest));
        }
        let sig = B64.decode(&parsed.signature).map_err(|_| "signature is not base64".to_owned())?;
        let sig: [u8; 64] = sig.try_into().map_err(|_| "signature must be 64 bytes".to_owned())?;
        out.signature = Some(sig);
        key.verify_strict(&signing_message(digest), &Signature::from_bytes(&sig))
            .map_err(|_| "signature does not verify against the package digest".to_owned())
    })();
    out.problem = problem.err();
    out
}

/// Standing of a key in a trust set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Active,
    Revoked,
}

/// One trusted key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    pub key_id: KeyId,
    /// Base64 public key; when present it must match the signature's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    pub organisation: String,
    /// e.g. `lab`, `certifier`.
    pub role: String,
    pub status: KeyStatus,
    /// When the key was revoked (RFC 3339), for people; offline verification treats any revoked
    /// key as unusable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// A trust set file: `{"keys": [ … ]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSet {
    pub keys: Vec<TrustedKey>,
}

/// The verdict on one signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureStatus {
    Valid,
    Invalid,
    UnknownKey,
    RevokedKey,
}

impl TrustSet {
    pub fn read(path: &Path) -> Result<TrustSet, KeyError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| KeyError::Io { path: shown.clone(), detail: e.to_string() })?;
        let set: TrustSet = serde_json::from_slice(&bytes)
            .map_err(|e| KeyError::Format { path: shown.clone(), detail: e.to_string() })?;
        let mut seen = BTreeMap::new();
        for k in &set.keys {
            if seen.insert(k.key_id.clone(), ()).is_some() {
                return Err(KeyError::Format { path: shown, detail: format!("key {} is listed twice", k.key_id) });
            }
        }
        Ok(set)
    }

    pub fn find(&self, id: &KeyId) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| &k.key_id == id)
    }

    /// The verdict on a checked signature under this trust set.
    pub fn assess(&self, sig: &CheckedSignature) -> (SignatureStatus, Option<&TrustedKey>) {
        if !sig.is_cryptographically_valid() {
            return (SignatureStatus::Invalid, None);
        }
        let (Some(id), Some(pk)) = (&sig.key_id, &sig.public_key) else {
            return (SignatureStatus::Invalid, None);
        };
        match self.find(id) {
            None => (SignatureStatus::UnknownKey, None),
            Some(k) if k.public_key.as_deref().is_some_and(|p| p != encode_public_key(pk)) => {
                (SignatureStatus::Invalid, Some(k))
            }
            Some(k) if k.status == KeyStatus::Revoked => (SignatureStatus::RevokedKey, Some(k)),
            Some(k) => (SignatureStatus::Valid, Some(k)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(b: u8) -> PackageDigest {
        PackageDigest::new(Sha256Hash::of(&[b]))
    }

    #[test]
    fn sign_and_check() {
        let key = SecretKey::from_seed([7; 32]);
        let d = digest(1);
        let file = key.sign(&d);
        let bytes = file.to_bytes();
        let checked = check_signature(&file.entry_name(), &bytes, &d);
        assert!(checked.is_cryptographically_valid(), "{:?}", checked.problem);
        let other = check_signature(&file.entry_name(), &bytes, &digest(2));
        assert!(!other.is_cryptographically_valid());
    }

    #[test]
    fn key_id_is_bound_to_the_key() {
        let a = SecretKey::from_seed([1; 32]);
        let b = SecretKey::from_seed([2; 32]);
        let d = digest(3);
        let mut forged = a.sign(&d);
        forged.key_id = b.key_id().clone();
        let checked = check_signature(&forged.entry_name(), &forged.to_bytes(), &d);
        assert!(checked.problem.unwrap().contains("not derived"));
    }

    #[test]
    fn trust_verdicts() {
        let key = SecretKey::from_seed([9; 32]);
        let d = digest(4);
        let file = key.sign(&d);
        let checked = check_signature(&file.entry_name(), &file.to_bytes(), &d);
        let mut trust = TrustSet::default();
        assert_eq!(trust.assess(&checked).0, SignatureStatus::UnknownKey);
        trust.keys.push(TrustedKey {
            key_id: key.key_id().clone(),
            public_key: Some(encode_public_key(&key.public_key())),
            organisation: "test-lab".into(),
            role: "lab".into(),
            status: KeyStatus::Active,
            revoked_at: None,
        });
        assert_eq!(trust.assess(&checked).0, SignatureStatus::Valid);
        trust.keys[0].status = KeyStatus::Revoked;
        assert_eq!(trust.assess(&checked).0, SignatureStatus::RevokedKey);
    }

    #[test]
    fn digest_parsing() {
        let d = digest(5);
        assert_eq!(PackageDigest::parse(&d.to_string()), Some(d));
        assert_eq!(PackageDigest::parse(&d.hex()), Some(d));
        assert_eq!(PackageDigest::parse("sha256:abc"), None);
        assert_eq!(PackageDigest::parse(&d.hex().to_uppercase()), None);
    }
}

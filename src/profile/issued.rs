//! Issued profile versions: semantic-version order, the canonical bytes an issuer signs, and
//! the signed envelope `prequal profile sign` writes and `POST /v1/profiles` accepts.
//!
//! A profile version is signed with Ed25519 over the domain-separated message
//! `"prequal-profile-v1\n" + "sha256:<hex>" + "\n"`, where the hex is the SHA-256 of the
//! profile's canonical bytes: the compact JSON serde writes for the parsed [`Profile`] (fields in
//! declaration order, conditions sorted by name, numbers in their shortest round-trip form, no
//! whitespace, one line). Signer and registry both parse and re-serialise, so formatting of the
//! submitted file never changes what is signed. Keys and key ids are the package keys
//! (`prequal keygen`, [`crate::package::signing`]). No I/O here.

use std::cmp::Ordering;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{Profile, ProfileError};
use crate::package::signing::{KeyId, SecretKey};

/// Domain separation for profile signatures.
pub const PROFILE_SIGNATURE_CONTEXT: &str = "prequal-profile-v1";
/// The `type` of a signed profile envelope.
pub const SIGNED_PROFILE_TYPE: &str = "prequal-signed-profile";
/// The issuer of the built-in profiles and of every profile an operator token registers.
/// Reserved: no organisation may take this id.
pub const REGISTRY_ISSUER: &str = "registry";
/// Largest canonical profile: its log entry (the body plus a few hundred bytes of fields, `\`
/// doubled) must stay under the log's 64 KiB entry limit.
pub const MAX_PROFILE_BYTES: usize = 30 * 1024;

/// A semantic version `MAJOR.MINOR.PATCH[-PRERELEASE]` (SemVer 2.0.0 §2, §9; build metadata is
/// not accepted: two versions differing only in it would be two rows with equal precedence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileVersion {
    core: [u64; 3],
    pre: Vec<String>,
    text: String,
}

impl ProfileVersion {
    pub fn parse(s: &str) -> Result<ProfileVersion, String> {
        let bad = || format!("version '{s}' is not a semantic version MAJOR.MINOR.PATCH[-PRERELEASE], e.g. 1.0.2");
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (s, None),
        };
        let numeric = |part: &str| -> Option<u64> {
            // No leading zeros (§2).
            if part.is_empty() || (part.len() > 1 && part.starts_with('0')) || !part.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            part.parse().ok()
        };
        let parts: Vec<&str> = core.split('.').collect();
        let [a, b, c] = parts.as_slice() else { return Err(bad()) };
        let core = [numeric(a).ok_or_else(bad)?, numeric(b).ok_or_else(bad)?, numeric(c).ok_or_else(bad)?];
        let pre: Vec<String> = match pre {
            None => Vec::new(),
            Some(p) => {
                let ids: Vec<String> = p.split('.').map(str::to_owned).collect();
                let ok = ids.iter().all(|id| {
                    !id.is_empty()
                        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !(id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit()))
                });
                if !ok {
                    return Err(bad());
                }
                ids
            }
        };
        Ok(ProfileVersion { core, pre, text: s.to_owned() })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for ProfileVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for ProfileVersion {
    /// SemVer §11 precedence.
    fn cmp(&self, other: &Self) -> Ordering {
        self.core.cmp(&other.core).then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                for (a, b) in self.pre.iter().zip(&other.pre) {
                    let o = match (a.parse::<u64>(), b.parse::<u64>()) {
                        (Ok(x), Ok(y)) => x.cmp(&y),
                        (Ok(_), Err(_)) => Ordering::Less,
                        (Err(_), Ok(_)) => Ordering::Greater,
                        (Err(_), Err(_)) => a.cmp(b),
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                self.pre.len().cmp(&other.pre.len())
            }
        })
    }
}

impl PartialOrd for ProfileVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The bytes an issuer signs and the registry stores and logs (see the module docs).
pub fn canonical_bytes(profile: &Profile) -> Vec<u8> {
    // Serialising plain data (strings, numbers, maps with string keys) cannot fail.
    serde_json::to_vec(profile).unwrap_or_default()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The bytes signed for a profile whose canonical bytes hash to `sha256_hex`.
pub fn signing_message(sha256_hex: &str) -> Vec<u8> {
    format!("{PROFILE_SIGNATURE_CONTEXT}\nsha256:{sha256_hex}\n").into_bytes()
}

/// Checks an Ed25519 signature (base64) of the profile with canonical-bytes hash `sha256_hex`.
pub fn signature_valid(key: &VerifyingKey, sha256_hex: &str, signature_b64: &str) -> bool {
    let Ok(raw) = B64.decode(signature_b64) else { return false };
    let Ok(raw): Result<[u8; 64], _> = raw.try_into() else { return false };
    key.verify_strict(&signing_message(sha256_hex), &Signature::from_bytes(&raw)).is_ok()
}

/// A profile version with its issuer's signature: what `prequal profile sign` writes and
/// `POST /v1/profiles` accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedProfile {
    /// `prequal-signed-profile`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The profile document.
    pub profile: serde_json::Value,
    /// SHA-256 (hex) of the profile's canonical bytes.
    pub sha256: String,
    pub key_id: KeyId,
    /// Base64 Ed25519 signature over [`signing_message`].
    pub signature: String,
}

/// Why a signed profile envelope is not acceptable before any key is looked at.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a signed profile (sign it with `prequal profile sign`): {0}")]
    NotAnEnvelope(String),
    #[error("{0}")]
    Profile(ProfileError),
    #[error("{0}")]
    Version(String),
    #[error("the canonical profile is {0} bytes, more than {MAX_PROFILE_BYTES}")]
    TooLarge(usize),
    #[error("sha256 {stated} is not the SHA-256 of the profile's canonical bytes ({actual})")]
    DigestMismatch { stated: String, actual: String },
}

impl EnvelopeError {
    pub fn code(&self) -> &'static str {
        match self {
            EnvelopeError::NotAnEnvelope(_) => "profile_not_signed",
            EnvelopeError::Profile(e) => e.code(),
            EnvelopeError::Version(_) => "profile_version_invalid",
            EnvelopeError::TooLarge(_) => "profile_too_large",
            EnvelopeError::DigestMismatch { .. } => "profile_digest_mismatch",
        }
    }
}

/// A profile whose envelope is well formed: the profile parses and checks, its version is a
/// semantic version, and the stated SHA-256 is that of its canonical bytes. The signature is
/// still to be checked against the issuer's registered key.
#[derive(Debug, Clone)]
pub struct EnvelopeChecked {
    pub profile: Profile,
    pub version: ProfileVersion,
    pub canonical: Vec<u8>,
    pub sha256: String,
    pub key_id: KeyId,
    pub signature: String,
}

/// Checks a profile's canonical form: it parses, its version is semver, it is not too large.
/// Returns the profile, its version and canonical bytes.
pub fn check_canonical(file: &str, bytes: &[u8]) -> Result<(Profile, ProfileVersion, Vec<u8>), EnvelopeError> {
    let profile = Profile::parse(file, bytes).map_err(EnvelopeError::Profile)?;
    let version = ProfileVersion::parse(&profile.version).map_err(EnvelopeError::Version)?;
    let canonical = canonical_bytes(&profile);
    if canonical.len() > MAX_PROFILE_BYTES {
        return Err(EnvelopeError::TooLarge(canonical.len()));
    }
    Ok((profile, version, canonical))
}

impl SignedProfile {
    /// Parses an envelope (request body or file).
    pub fn parse(bytes: &[u8]) -> Result<EnvelopeChecked, EnvelopeError> {
        let env: SignedProfile =
            serde_json::from_slice(bytes).map_err(|e| EnvelopeError::NotAnEnvelope(e.to_string()))?;
        if env.kind != SIGNED_PROFILE_TYPE {
            return Err(EnvelopeError::NotAnEnvelope(format!("type must be '{SIGNED_PROFILE_TYPE}'")));
        }
        let (profile, version, canonical) = check_canonical("profile", env.profile.to_string().as_bytes())?;
        let actual = sha256_hex(&canonical);
        if actual != env.sha256 {
            return Err(EnvelopeError::DigestMismatch { stated: env.sha256, actual });
        }
        Ok(EnvelopeChecked {
            profile,
            version,
            canonical,
            sha256: actual,
            key_id: env.key_id,
            signature: env.signature,
        })
    }

    /// Signs a checked profile with `key`.
    pub fn sign(profile: &Profile, key: &SecretKey) -> SignedProfile {
        let canonical = canonical_bytes(profile);
        let sha256 = sha256_hex(&canonical);
        let signature = key.signing_key().sign(&signing_message(&sha256));
        SignedProfile {
            kind: SIGNED_PROFILE_TYPE.to_owned(),
            profile: serde_json::from_slice(&canonical).unwrap_or_default(),
            sha256,
            key_id: key.key_id().clone(),
            signature: B64.encode(signature.to_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ProfileVersion {
        ProfileVersion::parse(s).unwrap()
    }

    #[test]
    fn versions_order_by_semver_precedence() {
        let ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0"];
        for w in ordered.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert!(v("1.0.10") > v("1.0.9"), "numeric, not text, order");
        assert!(v("2.0.0") > v("1.99.99"));
        for bad in ["1.0", "1.0.0.0", "01.0.0", "1.0.x", "", "1.0.0-", "1.0.0-01", "1.0.0+build", "v1.0.0"] {
            assert!(ProfileVersion::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signed_profiles_verify_and_any_change_breaks_them() {
        let (_, text) = super::super::BUILTIN[0];
        let profile = Profile::parse("p", text.as_bytes()).unwrap();
        let key = SecretKey::from_seed([7; 32]);
        let env = SignedProfile::sign(&profile, &key);
        let bytes = serde_json::to_vec_pretty(&env).unwrap();
        let checked = SignedProfile::parse(&bytes).unwrap();
        assert_eq!(checked.canonical, canonical_bytes(&profile));
        assert!(!checked.canonical.contains(&b'\n'), "one line");
        assert!(signature_valid(&key.public_key(), &checked.sha256, &checked.signature));
        assert!(!signature_valid(&SecretKey::from_seed([8; 32]).public_key(), &checked.sha256, &checked.signature));

        let mut changed = env.clone();
        changed.profile["requirements"][0]["threshold"] = 0.into();
        let e = SignedProfile::parse(&serde_json::to_vec(&changed).unwrap()).unwrap_err();
        assert_eq!(e.code(), "profile_digest_mismatch");
        let mut unsigned = serde_json::to_value(&env).unwrap();
        unsigned.as_object_mut().unwrap().remove("signature");
        assert_eq!(SignedProfile::parse(unsigned.to_string().as_bytes()).unwrap_err().code(), "profile_not_signed");
        assert_eq!(SignedProfile::parse(text.as_bytes()).unwrap_err().code(), "profile_not_signed");
    }
}

//! Log entries: deterministic bytes describing one state change of the registry, what a mirror
//! needs to replay it.
//!
//! Format `prequal-log-entry-v1`: UTF-8 lines, each ending in `\n`:
//!
//! ```text
//! prequal-log-entry-v1
//! kind package_published
//! at 2026-11-30T09:00:00.000Z
//! digest sha256:…
//! name …
//! …
//! ```
//!
//! The first line names the version; then `kind`, then `at` (the registry's time, RFC 3339 UTC
//! with milliseconds), then the fields of that kind in the fixed order below, one `<field>
//! <value>` per line. Repeated fields (`signature`) keep their order. In values, `\` is written
//! `\\` and every control character `\xHH` (two lowercase hex digits), so a value is one line.
//!
//! | kind | fields |
//! |---|---|
//! | `organisation_added` | `organisation`, `name`, `org_kind`, `country` |
//! | `key_added` | `key_id`, `organisation`, `public_key` |
//! | `key_revoked` | `key_id`, `organisation`, `effective_at`, `compromised` (`true`/`false`), `reason` |
//! | `package_published` | `digest`, `name`, `version`, `organisation`, `releasability`, `file_sha256`, then `signature <key id> <author\|countersignature>` per signature |
//! | `package_countersigned` | `digest`, `key_id`, `organisation`, `signature` (base64 Ed25519) |
//! | `package_withdrawn` | `digest`, `reason` |
//!
//! **Sealed entries.** A package that is not public must not become known through the log to
//! readers who may not see it (the read API answers 404 for it, as for a package that does not
//! exist). Its three kinds of entry are therefore logged sealed: after `kind` and `at`, only
//! `digest`, `releasability` (`allied` or `restricted`) and `sealed sha256:<hex>`, the SHA-256 of
//! a 32-byte random salt followed by the full entry as above. The registry keeps the salt and
//! the full entry, so whoever may see the package can be shown that the sealed entry commits to
//! exactly that change; the public log shows only that a non-public package changed.

use crate::store::format_time;

pub const ENTRY_VERSION: &str = "prequal-log-entry-v1";
/// An entry bundle stores each entry's length as a 16-bit number (C2SP tlog-tiles).
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("the log entry would be {0} bytes, more than {MAX_ENTRY_BYTES}")]
    TooLong(usize),
}

/// A state change of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    OrganisationAdded {
        organisation: String,
        name: String,
        kind: String,
        country: String,
    },
    KeyAdded {
        key_id: String,
        organisation: String,
        public_key: String,
    },
    KeyRevoked {
        key_id: String,
        organisation: String,
        effective_at: i64,
        compromised: bool,
        reason: String,
    },
    PackagePublished {
        digest: String,
        name: String,
        version: String,
        organisation: String,
        releasability: String,
        file_sha256: String,
        /// (key id, author | countersignature), in the package's order.
        signatures: Vec<(String, String)>,
    },
    Countersigned {
        digest: String,
        key_id: String,
        organisation: String,
        signature: String,
    },
    Withdrawn {
        digest: String,
        reason: String,
    },
}

fn escape(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c.is_control() && (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
}

impl Event {
    /// The entry kind (also stored in `log_entries.kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::OrganisationAdded { .. } => "organisation_added",
            Event::KeyAdded { .. } => "key_added",
            Event::KeyRevoked { .. } => "key_revoked",
            Event::PackagePublished { .. } => "package_published",
            Event::Countersigned { .. } => "package_countersigned",
            Event::Withdrawn { .. } => "package_withdrawn",
        }
    }

    /// What the entry is about: an organisation id, a key id or a package digest.
    pub fn subject(&self) -> &str {
        match self {
            Event::OrganisationAdded { organisation, .. } => organisation,
            Event::KeyAdded { key_id, .. } | Event::KeyRevoked { key_id, .. } => key_id,
            Event::PackagePublished { digest, .. }
            | Event::Countersigned { digest, .. }
            | Event::Withdrawn { digest, .. } => digest,
        }
    }

    /// The sealed entry of a change to a non-public package (`level`: `allied` or `restricted`),
    /// committing to its full entry `full` with `salt` (see the module docs). `None` for kinds
    /// that are not about a package.
    pub fn encode_sealed(&self, at: i64, level: &str, salt: &[u8], full: &[u8]) -> Option<Vec<u8>> {
        use sha2::Digest as _;
        let digest = match self {
            Event::PackagePublished { digest, .. }
            | Event::Countersigned { digest, .. }
            | Event::Withdrawn { digest, .. } => digest,
            _ => return None,
        };
        let mut h = sha2::Sha256::new();
        h.update(salt);
        h.update(full);
        let mut s = format!("{ENTRY_VERSION}\nkind {}\nat {}\n", self.kind(), format_time(at));
        for (name, value) in [("digest", digest.as_str()), ("releasability", level)] {
            s.push_str(name);
            s.push(' ');
            escape(value, &mut s);
            s.push('\n');
        }
        s.push_str(&format!("sealed sha256:{}\n", hex::encode(h.finalize())));
        Some(s.into_bytes())
    }

    /// The entry's bytes for a change made at `at` (milliseconds since the epoch).
    pub fn encode(&self, at: i64) -> Result<Vec<u8>, EntryError> {
        let mut s = format!("{ENTRY_VERSION}\nkind {}\nat {}\n", self.kind(), format_time(at));
        let mut field = |name: &str, value: &str| {
            s.push_str(name);
            s.push(' ');
            escape(value, &mut s);
            s.push('\n');
        };
        match self {
            Event::OrganisationAdded { organisation, name, kind, country } => {
                field("organisation", organisation);
                field("name", name);
                field("org_kind", kind);
                field("country", country);
            }
            Event::KeyAdded { key_id, organisation, public_key } => {
                field("key_id", key_id);
                field("organisation", organisation);
                field("public_key", public_key);
            }
            Event::KeyRevoked { key_id, organisation, effective_at, compromised, reason } => {
                field("key_id", key_id);
                field("organisation", organisation);
                field("effective_at", &format_time(*effective_at));
                field("compromised", if *compromised { "true" } else { "false" });
                field("reason", reason);
            }
            Event::PackagePublished { digest, name, version, organisation, releasability, file_sha256, signatures } => {
                field("digest", digest);
                field("name", name);
                field("version", version);
                field("organisation", organisation);
                field("releasability", releasability);
                field("file_sha256", file_sha256);
                for (key_id, kind) in signatures {
                    field("signature", &format!("{key_id} {kind}"));
                }
            }
            Event::Countersigned { digest, key_id, organisation, signature } => {
                field("digest", digest);
                field("key_id", key_id);
                field("organisation", organisation);
                field("signature", signature);
            }
            Event::Withdrawn { digest, reason } => {
                field("digest", digest);
                field("reason", reason);
            }
        }
        if s.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLong(s.len()));
        }
        Ok(s.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_deterministic_one_value_per_line() {
        let e = Event::Withdrawn { digest: "sha256:ab".into(), reason: "bad\nbatch \\ 3\t".into() };
        let bytes = e.encode(0).unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            "prequal-log-entry-v1\nkind package_withdrawn\nat 1970-01-01T00:00:00.000Z\ndigest sha256:ab\nreason bad\\x0abatch \\\\ 3\\x09\n"
        );
        assert_eq!(e.encode(0).unwrap(), bytes);
        let long = Event::Withdrawn { digest: "d".into(), reason: "x".repeat(70_000) };
        assert!(matches!(long.encode(0), Err(EntryError::TooLong(_))));
    }
}

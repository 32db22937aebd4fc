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
//! | `profile_version_added` | `profile` (id), `version`, `organisation` (the issuer; `registry` for the registry operator), `key_id`, `signature` (base64 Ed25519, see [`crate::profile::issued`]), `body_sha256` (hex), `body` (the canonical profile: compact JSON, one line) |
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
    /// A stored or fetched entry that is not in the canonical form [`Event::encode`] writes.
    #[error("log entry line {line}: {problem}")]
    Malformed { line: usize, problem: String },
}

impl EntryError {
    pub fn code(&self) -> &'static str {
        match self {
            EntryError::TooLong(_) => "entry_too_long",
            EntryError::Malformed { .. } => "entry_malformed",
        }
    }
}

/// A decoded entry: a full event, or the sealed form of a change to a non-public package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Event {
        at: i64,
        event: Event,
    },
    Sealed {
        /// `package_published`, `package_countersigned` or `package_withdrawn`.
        kind: String,
        at: i64,
        digest: String,
        /// `allied` or `restricted`.
        level: String,
        /// SHA-256 of the salt followed by the full entry.
        commitment: [u8; 32],
    },
}

impl Decoded {
    pub fn at(&self) -> i64 {
        match self {
            Decoded::Event { at, .. } | Decoded::Sealed { at, .. } => *at,
        }
    }

    pub fn kind(&self) -> &str {
        match self {
            Decoded::Event { event, .. } => event.kind(),
            Decoded::Sealed { kind, .. } => kind,
        }
    }

    pub fn subject(&self) -> &str {
        match self {
            Decoded::Event { event, .. } => event.subject(),
            Decoded::Sealed { digest, .. } => digest,
        }
    }
}

fn unescape(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                '\\' => out.push('\\'),
                'x' => {
                    let hex: String = [chars.next()?, chars.next()?].iter().collect();
                    out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
                }
                _ => return None,
            },
            c if c.is_control() => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Reads `<name> <value>` lines in a fixed order.
struct Lines<'a> {
    lines: std::iter::Enumerate<std::str::Split<'a, char>>,
}

impl Lines<'_> {
    fn bad(line: usize, problem: impl Into<String>) -> EntryError {
        EntryError::Malformed { line, problem: problem.into() }
    }

    fn next_raw(&mut self) -> Option<(usize, &str)> {
        self.lines.next().map(|(i, l)| (i + 1, l))
    }

    fn field(&mut self, name: &str) -> Result<String, EntryError> {
        let (n, line) = self.next_raw().ok_or_else(|| Self::bad(0, format!("missing field '{name}'")))?;
        let value = line
            .strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or_else(|| Self::bad(n, format!("expected field '{name}'")))?;
        unescape(value).ok_or_else(|| Self::bad(n, format!("field '{name}' has a bad escape or a control character")))
    }

    fn time(&mut self, name: &str) -> Result<i64, EntryError> {
        let value = self.field(name)?;
        crate::store::parse_time(&value).map_err(|e| Self::bad(0, format!("{name}: {e}")))
    }
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
    /// A version of a requirement profile, signed by its issuer. `body` is the canonical
    /// profile (compact JSON); a mirror replays it by checking the signature and storing it.
    ProfileVersionAdded {
        profile: String,
        version: String,
        organisation: String,
        key_id: String,
        signature: String,
        body_sha256: String,
        body: String,
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
            Event::ProfileVersionAdded { .. } => "profile_version_added",
        }
    }

    /// What the entry is about: an organisation id, a key id, a package digest or a profile id.
    pub fn subject(&self) -> &str {
        match self {
            Event::OrganisationAdded { organisation, .. } => organisation,
            Event::KeyAdded { key_id, .. } | Event::KeyRevoked { key_id, .. } => key_id,
            Event::PackagePublished { digest, .. }
            | Event::Countersigned { digest, .. }
            | Event::Withdrawn { digest, .. } => digest,
            Event::ProfileVersionAdded { profile, .. } => profile,
        }
    }

    /// The sealed entry of a change to a non-public package (`level`: `allied` or `restricted`),
    /// committing to its full entry `full` with `salt` (see the module docs). `None` for kinds
    /// that are not about a package.
    pub fn encode_sealed(&self, at: i64, level: &str, salt: &[u8], full: &[u8]) -> Option<Vec<u8>> {
        let digest = match self {
            Event::PackagePublished { digest, .. }
            | Event::Countersigned { digest, .. }
            | Event::Withdrawn { digest, .. } => digest,
            _ => return None,
        };
        let commitment = seal_commitment(salt, full);
        let mut s = format!("{ENTRY_VERSION}\nkind {}\nat {}\n", self.kind(), format_time(at));
        for (name, value) in [("digest", digest.as_str()), ("releasability", level)] {
            s.push_str(name);
            s.push(' ');
            escape(value, &mut s);
            s.push('\n');
        }
        s.push_str(&format!("sealed sha256:{}\n", hex::encode(commitment)));
        Some(s.into_bytes())
    }

    /// Decodes entry bytes: the exact inverse of [`Event::encode`] and [`Event::encode_sealed`].
    /// Strict: anything but the canonical bytes (field order, escapes, time format, trailing
    /// newline) is refused, checked by encoding the result again and comparing.
    pub fn decode(bytes: &[u8]) -> Result<Decoded, EntryError> {
        let text = std::str::from_utf8(bytes).map_err(|_| Lines::bad(0, "not UTF-8"))?;
        let body = text.strip_suffix('\n').ok_or_else(|| Lines::bad(0, "must end with a newline"))?;
        let mut r = Lines { lines: body.split('\n').enumerate() };
        match r.next_raw() {
            Some((_, ENTRY_VERSION)) => {}
            _ => return Err(Lines::bad(1, format!("the first line must be '{ENTRY_VERSION}'"))),
        }
        let kind = r.field("kind")?;
        let at = r.time("at")?;
        let peek_sealed = body.contains("\nsealed sha256:");
        let decoded = if peek_sealed {
            let digest = r.field("digest")?;
            let level = r.field("releasability")?;
            let sealed = r.field("sealed")?;
            let commitment: [u8; 32] = sealed
                .strip_prefix("sha256:")
                .and_then(|h| hex::decode(h).ok())
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| Lines::bad(6, "sealed must be sha256:<64 hex digits>"))?;
            if !matches!(kind.as_str(), "package_published" | "package_countersigned" | "package_withdrawn") {
                return Err(Lines::bad(2, format!("kind '{kind}' cannot be sealed")));
            }
            if level != "allied" && level != "restricted" {
                return Err(Lines::bad(5, format!("a sealed entry's releasability is '{level}'")));
            }
            Decoded::Sealed { kind, at, digest, level, commitment }
        } else {
            let event = match kind.as_str() {
                "organisation_added" => Event::OrganisationAdded {
                    organisation: r.field("organisation")?,
                    name: r.field("name")?,
                    kind: r.field("org_kind")?,
                    country: r.field("country")?,
                },
                "key_added" => Event::KeyAdded {
                    key_id: r.field("key_id")?,
                    organisation: r.field("organisation")?,
                    public_key: r.field("public_key")?,
                },
                "key_revoked" => Event::KeyRevoked {
                    key_id: r.field("key_id")?,
                    organisation: r.field("organisation")?,
                    effective_at: r.time("effective_at")?,
                    compromised: match r.field("compromised")?.as_str() {
                        "true" => true,
                        "false" => false,
                        other => return Err(Lines::bad(0, format!("compromised is '{other}'"))),
                    },
                    reason: r.field("reason")?,
                },
                "package_published" => {
                    let mut e = Event::PackagePublished {
                        digest: r.field("digest")?,
                        name: r.field("name")?,
                        version: r.field("version")?,
                        organisation: r.field("organisation")?,
                        releasability: r.field("releasability")?,
                        file_sha256: r.field("file_sha256")?,
                        signatures: Vec::new(),
                    };
                    if let Event::PackagePublished { signatures, .. } = &mut e {
                        while let Ok(sig) = r.field("signature") {
                            let (key, kind) = sig
                                .split_once(' ')
                                .ok_or_else(|| Lines::bad(0, format!("signature '{sig}' is not '<key id> <kind>'")))?;
                            signatures.push((key.to_owned(), kind.to_owned()));
                        }
                    }
                    e
                }
                "package_countersigned" => Event::Countersigned {
                    digest: r.field("digest")?,
                    key_id: r.field("key_id")?,
                    organisation: r.field("organisation")?,
                    signature: r.field("signature")?,
                },
                "package_withdrawn" => Event::Withdrawn { digest: r.field("digest")?, reason: r.field("reason")? },
                "profile_version_added" => Event::ProfileVersionAdded {
                    profile: r.field("profile")?,
                    version: r.field("version")?,
                    organisation: r.field("organisation")?,
                    key_id: r.field("key_id")?,
                    signature: r.field("signature")?,
                    body_sha256: r.field("body_sha256")?,
                    body: r.field("body")?,
                },
                other => return Err(Lines::bad(2, format!("unknown kind '{other}'"))),
            };
            Decoded::Event { at, event }
        };
        // Canonical form only: the same bytes must come out again.
        let again = match &decoded {
            Decoded::Event { at, event } => event.encode(*at)?,
            Decoded::Sealed { kind, at, digest, level, commitment } => format!(
                "{ENTRY_VERSION}\nkind {kind}\nat {}\ndigest {digest}\nreleasability {level}\nsealed sha256:{}\n",
                format_time(*at),
                hex::encode(commitment)
            )
            .into_bytes(),
        };
        if again != bytes {
            return Err(Lines::bad(0, "not in canonical form (field order, escapes, time or extra lines)"));
        }
        Ok(decoded)
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
            Event::ProfileVersionAdded { profile, version, organisation, key_id, signature, body_sha256, body } => {
                field("profile", profile);
                field("version", version);
                field("organisation", organisation);
                field("key_id", key_id);
                field("signature", signature);
                field("body_sha256", body_sha256);
                field("body", body);
            }
        }
        if s.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLong(s.len()));
        }
        Ok(s.into_bytes())
    }
}

/// The commitment a sealed entry carries (`sealed sha256:<hex>`): SHA-256 of the salt followed
/// by the full entry. The one place it is computed: sealing, mirrors opening sealed entries,
/// the integrity check and offline evidence all call it.
pub fn seal_commitment(salt: &[u8], full: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(salt);
    h.update(full);
    h.finalize().into()
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

    fn every_kind() -> Vec<Event> {
        vec![
            Event::OrganisationAdded {
                organisation: "lab-a".into(),
                name: "Lab A \\ Söhne\n".into(),
                kind: "lab".into(),
                country: "DE".into(),
            },
            Event::KeyAdded { key_id: "k1".into(), organisation: "lab-a".into(), public_key: "ed25519:AAAA".into() },
            Event::KeyRevoked {
                key_id: "k1".into(),
                organisation: "lab-a".into(),
                effective_at: 1_764_000_000_123,
                compromised: true,
                reason: "lost\tlaptop".into(),
            },
            Event::PackagePublished {
                digest: "sha256:ab".into(),
                name: "n".into(),
                version: "1.0.0".into(),
                organisation: "lab-a".into(),
                releasability: "public".into(),
                file_sha256: "cd".into(),
                signatures: vec![("k1".into(), "author".into()), ("k2".into(), "countersignature".into())],
            },
            Event::PackagePublished {
                digest: "sha256:ab".into(),
                name: "n".into(),
                version: "1.0.0".into(),
                organisation: "lab-a".into(),
                releasability: "public".into(),
                file_sha256: "cd".into(),
                signatures: vec![],
            },
            Event::Countersigned {
                digest: "sha256:ab".into(),
                key_id: "k2".into(),
                organisation: "cert".into(),
                signature: "c2ln".into(),
            },
            Event::Withdrawn { digest: "sha256:ab".into(), reason: "".into() },
            Event::ProfileVersionAdded {
                profile: "oem-x-traction".into(),
                version: "1.0.1".into(),
                organisation: "cert".into(),
                key_id: "k2".into(),
                signature: "c2ln".into(),
                body_sha256: "ab".into(),
                body: r#"{"id":"oem-x-traction","note":"a \"quoted\" \\ line\nbreak ± 5 °C \u0085"}"#.into(),
            },
        ]
    }

    #[test]
    fn decode_is_the_exact_inverse_of_encode() {
        for (i, e) in every_kind().into_iter().enumerate() {
            let at = 1_764_000_000_000 + i as i64;
            let bytes = e.encode(at).unwrap();
            assert_eq!(Event::decode(&bytes).unwrap(), Decoded::Event { at, event: e.clone() }, "{e:?}");
            if let Some(sealed) = e.encode_sealed(at, "allied", &[7; 32], &bytes) {
                match Event::decode(&sealed).unwrap() {
                    Decoded::Sealed { kind, at: t, digest, level, .. } => {
                        assert_eq!(
                            (kind.as_str(), t, digest.as_str(), level.as_str()),
                            (e.kind(), at, "sha256:ab", "allied")
                        );
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
    }

    #[test]
    fn decode_refuses_anything_but_canonical_bytes() {
        let e = &every_kind()[3];
        let good = String::from_utf8(e.encode(5).unwrap()).unwrap();
        let bad = [
            good.replace("prequal-log-entry-v1", "prequal-log-entry-v2"),
            good.trim_end().to_owned(),
            good.replace("name n\nversion 1.0.0\n", "version 1.0.0\nname n\n"),
            good.replace("at 1970-01-01T00:00:00.005Z", "at 1970-01-01T00:00:00.005000Z"),
            good.replace("kind package_published", "kind package_exploded"),
            format!("{good}extra x\n"),
            good.replace("signature k1 author", "signature k1author"),
            good.replace("name n", "name n\\q"),
            good.replace("name n", "name \\x0"),
            good.replace("name n", "name n\r"),
        ];
        for b in bad {
            let err = Event::decode(b.as_bytes()).unwrap_err();
            assert_eq!(err.code(), "entry_malformed", "{b:?}");
        }
        assert!(Event::decode(&[0xff, 0xfe]).is_err());
    }
}

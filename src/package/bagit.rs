//! The BagIt 1.0 text files (RFC 8493): `bagit.txt`, `bag-info.txt` and the SHA-256 payload and
//! tag manifests. Writing produces the exact bytes prequal packs; parsing accepts what RFC 8493
//! allows for these files and reports the line of anything else.

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest as _, Sha256};

use super::error::PackageError;

pub const BAGIT_TXT: &str = "bagit.txt";
pub const BAG_INFO_TXT: &str = "bag-info.txt";
pub const MANIFEST: &str = "manifest-sha256.txt";
pub const TAG_MANIFEST: &str = "tagmanifest-sha256.txt";

/// The exact content of `bagit.txt` (RFC 8493 §2.1.1).
pub const BAGIT_TXT_CONTENT: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";

/// A SHA-256 value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hash([u8; 32]);

impl Sha256Hash {
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Hash(Sha256::digest(bytes).into())
    }

    pub fn from_hasher(hasher: Sha256) -> Self {
        Sha256Hash(hasher.finalize().into())
    }

    /// Parses 64 hexadecimal digits (either case, as RFC 8493 allows).
    pub fn parse_hex(s: &str) -> Option<Self> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Sha256Hash(out))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Hash({})", self.to_hex())
    }
}

impl fmt::Display for Sha256Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A reader that hashes and counts every byte read through it. Packing and verification both
/// hash while streaming, so each file is read once.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: std::io::Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader { inner, hasher: Sha256::new(), count: 0 }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn finish(self) -> Sha256Hash {
        Sha256Hash::from_hasher(self.hasher)
    }
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// The SHA-256 and size of a file, read once in 64 KiB steps; `progress` hears of each step's
/// bytes. The one file-hashing helper: packing, mirrors checking a downloaded package and the
/// integrity check of stored blobs all use it.
pub fn hash_file(path: &std::path::Path, progress: &mut dyn FnMut(u64)) -> std::io::Result<(Sha256Hash, u64)> {
    let mut reader = HashingReader::new(Progress { inner: std::fs::File::open(path)?, progress });
    let size = std::io::copy(&mut reader, &mut std::io::sink())?;
    Ok((reader.finish(), size))
}

/// A reader that reports each read's size.
pub(crate) struct Progress<'p, R> {
    pub(crate) inner: R,
    pub(crate) progress: &'p mut dyn FnMut(u64),
}

impl<R: std::io::Read> std::io::Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
}

/// Encodes a path for a manifest line (RFC 8493 §2.1.3: CR, LF and % are percent-encoded).
pub fn encode_path(path: &str) -> String {
    path.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

fn decode_path(path: &str) -> String {
    path.replace("%0D", "\r").replace("%0d", "\r").replace("%0A", "\n").replace("%0a", "\n").replace("%25", "%")
}

/// Writes a manifest: one `<hex>  <path>` line per file, sorted by path.
pub fn write_manifest(entries: &BTreeMap<String, Sha256Hash>) -> String {
    let mut out = String::new();
    for (path, hash) in entries {
        out.push_str(&hash.to_hex());
        out.push_str("  ");
        out.push_str(&encode_path(path));
        out.push('\n');
    }
    out
}

/// Parses a manifest into path → hash. `which` names the file in errors.
pub fn parse_manifest(bytes: &[u8], tag: bool) -> Result<BTreeMap<String, Sha256Hash>, PackageError> {
    let err = |detail: String| {
        if tag { PackageError::TagManifestInvalid { detail } } else { PackageError::PayloadManifestInvalid { detail } }
    };
    let text = std::str::from_utf8(bytes).map_err(|_| err("not valid UTF-8".into()))?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let Some((hash, path)) = line.split_once([' ', '\t']) else {
            return Err(err(format!("line {line_no}: expected '<sha256>  <path>'")));
        };
        let path = decode_path(path.trim_start_matches([' ', '\t']));
        let hash = Sha256Hash::parse_hex(hash)
            .ok_or_else(|| err(format!("line {line_no}: '{hash}' is not a SHA-256 value")))?;
        if path.is_empty() {
            return Err(err(format!("line {line_no}: missing file path")));
        }
        if !tag && !path.starts_with("data/") {
            return Err(err(format!("line {line_no}: payload path '{path}' is outside data/")));
        }
        if out.insert(path.clone(), hash).is_some() {
            return Err(err(format!("line {line_no}: '{path}' is listed twice")));
        }
    }
    Ok(out)
}

/// Checks `bagit.txt` (RFC 8493 §2.1.1): version 1.0, UTF-8.
pub fn check_bagit_txt(bytes: &[u8]) -> Result<(), PackageError> {
    let err = |detail: &str| PackageError::BagitTxtInvalid { detail: detail.to_owned() };
    let text = std::str::from_utf8(bytes).map_err(|_| err("not valid UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines();
    match lines.next() {
        Some("BagIt-Version: 1.0") => {}
        Some(other) if other.starts_with("BagIt-Version:") => return Err(err("only BagIt-Version 1.0 is supported")),
        _ => return Err(err("first line must be 'BagIt-Version: 1.0'")),
    }
    match lines.next() {
        Some(line) if line.eq_ignore_ascii_case("Tag-File-Character-Encoding: UTF-8") => {}
        _ => return Err(err("second line must be 'Tag-File-Character-Encoding: UTF-8'")),
    }
    if lines.any(|l| !l.trim().is_empty()) {
        return Err(err("unexpected lines after the two required ones"));
    }
    Ok(())
}

/// The `bag-info.txt` fields prequal writes (RFC 8493 §2.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BagInfo {
    pub fields: Vec<(String, String)>,
}

impl BagInfo {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.fields {
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v);
            out.push('\n');
        }
        out
    }

    /// Parses labelled lines; continuation lines start with whitespace.
    pub fn parse(bytes: &[u8]) -> Result<BagInfo, PackageError> {
        let err = |detail: String| PackageError::BagInfoInvalid { detail };
        let text = std::str::from_utf8(bytes).map_err(|_| err("not valid UTF-8".into()))?;
        let mut fields: Vec<(String, String)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.starts_with([' ', '\t']) {
                let Some(last) = fields.last_mut() else {
                    return Err(err(format!("line {}: continuation line without a label", i + 1)));
                };
                last.1.push(' ');
                last.1.push_str(line.trim());
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            let Some((k, v)) = line.split_once(':') else {
                return Err(err(format!("line {}: expected 'Label: value'", i + 1)));
            };
            fields.push((k.trim().to_owned(), v.trim().to_owned()));
        }
        Ok(BagInfo { fields })
    }

    /// Parses `Payload-Oxum: <octets>.<streams>`.
    pub fn payload_oxum(&self) -> Result<(u64, u64), PackageError> {
        let err = |detail: &str| PackageError::BagInfoInvalid { detail: detail.to_owned() };
        let value = self.get("Payload-Oxum").ok_or_else(|| err("missing Payload-Oxum"))?;
        let (octets, streams) = value.split_once('.').ok_or_else(|| err("Payload-Oxum must be '<octets>.<files>'"))?;
        match (octets.parse(), streams.parse()) {
            (Ok(o), Ok(s)) => Ok((o, s)),
            _ => Err(err("Payload-Oxum must be '<octets>.<files>'")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip_with_percent_encoding() {
        let mut m = BTreeMap::new();
        m.insert("data/100%.csv".to_owned(), Sha256Hash::of(b"x"));
        m.insert("data/a b.csv".to_owned(), Sha256Hash::of(b"y"));
        let text = write_manifest(&m);
        assert!(text.contains("data/100%25.csv"));
        assert_eq!(parse_manifest(text.as_bytes(), false).unwrap(), m);
    }

    #[test]
    fn manifest_rejections() {
        assert!(parse_manifest(b"abc  data/x\n", false).is_err());
        let h = Sha256Hash::of(b"").to_hex();
        assert!(parse_manifest(format!("{h}  other/x\n").as_bytes(), false).is_err());
        assert!(parse_manifest(format!("{h}  data/x\n{h}  data/x\n").as_bytes(), false).is_err());
        assert!(parse_manifest(format!("{h}  bagit.txt\n").as_bytes(), true).is_ok());
    }

    #[test]
    fn bagit_txt() {
        assert!(check_bagit_txt(BAGIT_TXT_CONTENT.as_bytes()).is_ok());
        assert!(check_bagit_txt(b"BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n").is_err());
        assert!(check_bagit_txt(b"hello").is_err());
    }

    #[test]
    fn bag_info() {
        let info = BagInfo::parse(b"Payload-Oxum: 120.3\nExternal-Description: a\n  long text\n").unwrap();
        assert_eq!(info.payload_oxum().unwrap(), (120, 3));
        assert_eq!(info.get("external-description"), Some("a long text"));
    }
}

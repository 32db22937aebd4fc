//! Reading an untrusted zip archive safely.
//!
//! [`SafeZip::open`] checks the container before a single payload byte is inflated: the names
//! (no traversal, absolute, backslash or control-character paths, no symlinks, no duplicates or
//! names colliding by case), the sizes and compression ratios against [`Limits`], encryption,
//! overlapping entries and local headers that disagree with the central directory (the checks a
//! hardened package index makes). Entries are then read as streams whose length is enforced, so
//! a lying header cannot make prequal hold or write more than the limits allow. Nothing is ever
//! extracted to disk.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::mpsc;

use zip::CompressionMethod;
use zip::ZipArchive;
use zip::result::ZipError;

use super::error::PackageError;

/// Resource limits applied to every package read. The defaults suit the registry; a lab
/// verifying its own very large package can raise them from the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sum of the uncompressed sizes of all entries. Default 8 GiB.
    pub max_total_uncompressed: u64,
    /// Uncompressed size of one entry. Default 4 GiB.
    pub max_entry_size: u64,
    /// Number of entries in the archive. Default 10 000.
    pub max_entries: usize,
    /// Uncompressed/compressed size of one entry larger than 64 KiB. Default 200.
    pub max_compression_ratio: u64,
    /// Size of each metadata file (bag files, prequal.json, RO-Crate, signatures). Default 8 MiB.
    pub max_metadata_size: u64,
    /// Nesting depth of JSON metadata. Default 64.
    pub max_json_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_total_uncompressed: 8 << 30,
            max_entry_size: 4 << 30,
            max_entries: 10_000,
            max_compression_ratio: 200,
            max_metadata_size: 8 << 20,
            max_json_depth: 64,
        }
    }
}

/// Entries smaller than this are exempt from the compression-ratio limit: tiny files of
/// repeated bytes compress extremely well and are harmless.
const RATIO_EXEMPT_BELOW: u64 = 64 * 1024;

/// Size of the buffers a reader thread hands to the hashing thread.
const CHUNK: usize = 1 << 20;

/// Where an entry may live in a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// bagit.txt, bag-info.txt, manifest-sha256.txt, tagmanifest-sha256.txt
    TagFile,
    /// data/…
    Payload,
    /// signatures/*.json
    Signature,
}

/// An entry that passed the container checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    pub index: usize,
    pub name: String,
    pub size: u64,
    pub compressed_size: u64,
    pub kind: EntryKind,
}

/// The top-level bag files a package may hold.
pub const TAG_FILES: &[&str] = &["bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt"];

/// An archive whose container structure has been checked.
pub struct SafeZip {
    archive: ZipArchive<File>,
    entries: BTreeMap<String, EntryInfo>,
    limits: Limits,
}

impl SafeZip {
    /// Opens `path` and runs every container check.
    pub fn open(path: &Path, limits: Limits) -> Result<SafeZip, PackageError> {
        let shown = path.display().to_string();
        let mut file = File::open(path).map_err(|e| PackageError::io(&shown, e))?;
        let file_len = file.metadata().map_err(|e| PackageError::io(&shown, e))?.len();
        let mut magic = [0u8; 4];
        let starts_like_zip = file.read_exact(&mut magic).is_ok() && magic == *b"PK\x03\x04";
        if !starts_like_zip {
            return Err(PackageError::NotAZip {
                detail: "the file does not start with a zip local file header".into(),
            });
        }
        let comment_len = check_trailer(&mut file, file_len).map_err(|e| PackageError::io(&shown, e))??;
        file.seek(SeekFrom::Start(0)).map_err(|e| PackageError::io(&shown, e))?;

        let mut archive = ZipArchive::new(file).map_err(|e| PackageError::TruncatedZip { detail: e.to_string() })?;
        // A comment holding something that looks like an end record must not let two readers see
        // two archives: the zip reader's record must be the one found here.
        if archive.comment().len() as u64 != comment_len {
            return Err(PackageError::HeaderMismatch {
                detail: format!(
                    "the archive comment is {} bytes to the zip reader but {comment_len} by the end record",
                    archive.comment().len()
                ),
            });
        }
        if archive.offset() != 0 {
            return Err(PackageError::HeaderMismatch {
                detail: format!("{} bytes precede the first entry", archive.offset()),
            });
        }
        if archive.len() > limits.max_entries {
            return Err(PackageError::TooManyEntries { count: archive.len(), max: limits.max_entries });
        }
        if archive.has_duplicate_names() {
            return Err(PackageError::DuplicateEntry);
        }

        let mut entries = BTreeMap::new();
        let mut lowercase: BTreeMap<String, String> = BTreeMap::new();
        let mut total: u64 = 0;
        for index in 0..archive.len() {
            let entry =
                archive.by_index_raw(index).map_err(|e| PackageError::TruncatedZip { detail: e.to_string() })?;
            let name = check_name(entry.name_raw())?;
            if entry.is_symlink() {
                return Err(PackageError::SymlinkEntry { entry: name });
            }
            if entry.enclosed_name().is_none() {
                return Err(PackageError::PathTraversal { entry: name });
            }
            if entry.encrypted() {
                return Err(PackageError::EncryptedEntry { entry: name });
            }
            if entry.is_dir() {
                // Other zip tools write directory entries; they must be empty and where a bag
                // may have directories, or they could carry bytes no hash covers.
                if entry.size() != 0 || entry.compressed_size() != 0 {
                    return Err(PackageError::SizeMismatch {
                        entry: name,
                        detail: "a directory entry carries data".into(),
                    });
                }
                if !(name.starts_with("data/") || name == "signatures/") {
                    return Err(PackageError::UnexpectedEntry { entry: name });
                }
                continue;
            }
            match entry.compression() {
                CompressionMethod::Stored | CompressionMethod::Deflated => {}
                other => {
                    return Err(PackageError::UnsupportedCompression { entry: name, method: format!("{other:?}") });
                }
            }
            let size = entry.size();
            let compressed_size = entry.compressed_size();
            if entry.compression() == CompressionMethod::Stored && size != compressed_size {
                return Err(PackageError::SizeMismatch {
                    entry: name,
                    detail: format!("stored entry declares {size} bytes but occupies {compressed_size}"),
                });
            }
            if size > limits.max_entry_size {
                return Err(PackageError::EntryTooLarge { entry: name, size, max: limits.max_entry_size });
            }
            total = total.saturating_add(size);
            if total > limits.max_total_uncompressed {
                return Err(PackageError::PackageTooLarge { size: total, max: limits.max_total_uncompressed });
            }
            if size >= RATIO_EXEMPT_BELOW {
                let ratio = size as f64 / (compressed_size.max(1)) as f64;
                if ratio > limits.max_compression_ratio as f64 {
                    return Err(PackageError::CompressionRatioExceeded {
                        entry: name,
                        ratio,
                        max: limits.max_compression_ratio,
                    });
                }
            }
            if let Some(first) = lowercase.insert(name.to_lowercase(), name.clone()) {
                return Err(PackageError::CaseCollision { first, second: name });
            }
            let kind = classify(&name)?;
            entries.insert(name.clone(), EntryInfo { index, name, size, compressed_size, kind });
        }
        if archive.has_overlapping_entries().map_err(|e| PackageError::TruncatedZip { detail: e.to_string() })? {
            return Err(PackageError::OverlappingEntries);
        }
        archive.validate_header_consistency().map_err(|e| PackageError::HeaderMismatch { detail: zip_detail(e) })?;
        Ok(SafeZip { archive, entries, limits })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn entries(&self) -> impl Iterator<Item = &EntryInfo> {
        self.entries.values()
    }

    pub fn entry(&self, name: &str) -> Option<&EntryInfo> {
        self.entries.get(name)
    }

    /// Reads a small metadata entry whole, refusing anything over the metadata limit.
    pub fn read_metadata(&mut self, name: &str) -> Result<Option<Vec<u8>>, PackageError> {
        let Some(info) = self.entries.get(name).cloned() else {
            return Ok(None);
        };
        if info.size > self.limits.max_metadata_size {
            return Err(PackageError::MetadataTooLarge {
                file: name.to_owned(),
                size: info.size,
                max: self.limits.max_metadata_size,
            });
        }
        let mut out = Vec::with_capacity(info.size as usize);
        self.stream(name, |reader| reader.read_to_end(&mut out).map(|_| ()))?;
        Ok(Some(out))
    }

    /// Streams an entry's bytes through `consume`, on this thread, while another thread inflates
    /// it: reading and hashing overlap. The stream ends with an error if the entry holds more or
    /// fewer bytes than its header declares, or fails its CRC.
    pub fn stream<T>(
        &mut self,
        name: &str,
        consume: impl FnOnce(&mut dyn Read) -> io::Result<T>,
    ) -> Result<T, PackageError> {
        let info = self
            .entries
            .get(name)
            .cloned()
            .ok_or_else(|| PackageError::FileMissing { path: name.to_owned(), manifest: "the archive" })?;
        let corrupt = |detail: String| PackageError::CorruptEntry { entry: name.to_owned(), detail };
        let entry = self.archive.by_index(info.index).map_err(|e| corrupt(zip_detail(e)))?;
        let declared = info.size;

        if declared <= CHUNK as u64 {
            // Small entries: no thread, same checks.
            let mut reader = Exact::new(entry, declared);
            let result = consume(&mut reader).map_err(|e| classify_io(name, e))?;
            reader.finish().map_err(|e| classify_io(name, e))?;
            return Ok(result);
        }

        std::thread::scope(|scope| {
            let (full_tx, full_rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(4);
            let (empty_tx, empty_rx) = mpsc::channel::<Vec<u8>>();
            scope.spawn(move || {
                let mut reader = Exact::new(entry, declared);
                loop {
                    let mut buf = empty_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK));
                    buf.resize(CHUNK, 0);
                    match read_full(&mut reader, &mut buf) {
                        Ok(0) => {
                            let end = reader.finish().map(|()| Vec::new());
                            let _ = full_tx.send(end);
                            return;
                        }
                        Ok(n) => {
                            buf.truncate(n);
                            if full_tx.send(Ok(buf)).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            let _ = full_tx.send(Err(e));
                            return;
                        }
                    }
                }
            });
            let mut reader = ChannelReader { rx: full_rx, recycle: empty_tx, current: Vec::new(), pos: 0, done: false };
            let result = consume(&mut reader).map_err(|e| classify_io(name, e))?;
            // Drain whatever the consumer left, so length and CRC are checked to the end.
            io::copy(&mut reader, &mut io::sink()).map_err(|e| classify_io(name, e))?;
            Ok(result)
        })
    }
}

/// The longest archive comment the end-of-central-directory record can declare (its length is a
/// 16-bit field), so the comment is bounded by the format itself.
pub const MAX_COMMENT: u64 = u16::MAX as u64;

/// Verifies the archive ends exactly with its end-of-central-directory record and its comment
/// (zip tools write comments; at most [`MAX_COMMENT`] bytes): bytes appended after the comment
/// the record declares are refused. Returns the comment's length.
fn check_trailer(file: &mut File, len: u64) -> io::Result<Result<u64, PackageError>> {
    const EOCD_LEN: u64 = 22;
    if len < EOCD_LEN + 4 {
        return Ok(Err(PackageError::TruncatedZip { detail: "file too short to hold a central directory".into() }));
    }
    let tail_len = len.min(EOCD_LEN + MAX_COMMENT);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    file.read_exact(&mut tail)?;
    // The record closest to the end whose declared comment runs exactly to the end of the file.
    let eocd = EOCD_LEN as usize;
    let found = (0..=tail.len() - eocd).rev().find_map(|at| {
        let record = tail.get(at..at + eocd)?;
        let comment = u16::from_le_bytes([record[20], record[21]]) as usize;
        (record[0..4] == *b"PK\x05\x06" && at + eocd + comment == tail.len()).then_some(comment as u64)
    });
    Ok(found.ok_or_else(|| PackageError::TruncatedZip {
        detail: "no end-of-central-directory record at the end of the file (truncated, or data appended after it \
                 or after its comment)"
            .into(),
    }))
}

fn zip_detail(e: ZipError) -> String {
    e.to_string()
}

fn classify_io(name: &str, e: io::Error) -> PackageError {
    // The zip reader enforces declared sizes itself and reports it in its own words.
    let message = e.to_string();
    if e.kind() == io::ErrorKind::InvalidData
        && (message.starts_with(SIZE_MISMATCH) || message.contains("than its declared"))
    {
        PackageError::SizeMismatch { entry: name.to_owned(), detail: e.to_string() }
    } else if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<PackageError>()) {
        inner.clone()
    } else {
        PackageError::CorruptEntry { entry: name.to_owned(), detail: e.to_string() }
    }
}

const SIZE_MISMATCH: &str = "size mismatch";

/// Reads exactly the declared number of bytes and fails on more or fewer.
struct Exact<R> {
    inner: R,
    remaining: u64,
    declared: u64,
}

impl<R: Read> Exact<R> {
    fn new(inner: R, declared: u64) -> Self {
        Exact { inner, remaining: declared, declared }
    }

    /// Called at end of stream: the entry must hold no byte beyond its declared size.
    fn finish(&mut self) -> io::Result<()> {
        if self.remaining != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{SIZE_MISMATCH}: declared {} bytes, found {}", self.declared, self.declared - self.remaining),
            ));
        }
        let mut probe = [0u8; 1];
        match self.inner.read(&mut probe)? {
            0 => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{SIZE_MISMATCH}: holds more than the declared {} bytes", self.declared),
            )),
        }
    }
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{SIZE_MISMATCH}: declared {} bytes, found {}", self.declared, self.declared - self.remaining),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The consuming end of the reader thread.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    recycle: mpsc::Sender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if self.done {
                return Ok(0);
            }
            let next = self.rx.recv().map_err(|_| io::Error::other("entry reader stopped"))??;
            if next.is_empty() {
                self.done = true;
                return Ok(0);
            }
            let old = std::mem::replace(&mut self.current, next);
            let _ = self.recycle.send(old);
            self.pos = 0;
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Checks the raw name bytes of an entry and returns it as a string.
fn check_name(raw: &[u8]) -> Result<String, PackageError> {
    let shown = String::from_utf8_lossy(raw).escape_debug().to_string();
    if raw.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(PackageError::ControlCharacterInPath { entry: format!("\"{shown}\"") });
    }
    let name = std::str::from_utf8(raw).map_err(|_| PackageError::InvalidPath { entry: shown.clone() })?;
    if name.is_empty() {
        return Err(PackageError::InvalidPath { entry: shown });
    }
    if name.contains('\\') {
        return Err(PackageError::BackslashPath { entry: name.to_owned() });
    }
    let bytes = name.as_bytes();
    if name.starts_with('/') || (bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic()) {
        return Err(PackageError::AbsolutePath { entry: name.to_owned() });
    }
    if name.split('/').any(|part| part == "..") {
        return Err(PackageError::PathTraversal { entry: name.to_owned() });
    }
    if name.trim_end_matches('/').split('/').any(|part| part.is_empty() || part == ".") {
        return Err(PackageError::InvalidPath { entry: name.to_owned() });
    }
    Ok(name.to_owned())
}

fn classify(name: &str) -> Result<EntryKind, PackageError> {
    if TAG_FILES.contains(&name) {
        return Ok(EntryKind::TagFile);
    }
    if name.starts_with("data/") {
        return Ok(EntryKind::Payload);
    }
    if let Some(rest) = name.strip_prefix("signatures/")
        && !rest.contains('/')
        && rest.ends_with(".json")
    {
        return Ok(EntryKind::Signature);
    }
    Err(PackageError::UnexpectedEntry { entry: name.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(check_name(b"data/a.csv").unwrap(), "data/a.csv");
        assert_eq!(check_name(b"../x").unwrap_err().code(), "path_traversal");
        assert_eq!(check_name(b"data/../../x").unwrap_err().code(), "path_traversal");
        assert_eq!(check_name(b"/etc/passwd").unwrap_err().code(), "absolute_path");
        assert_eq!(check_name(b"C:/x").unwrap_err().code(), "absolute_path");
        assert_eq!(check_name(b"data\\x").unwrap_err().code(), "backslash_path");
        assert_eq!(check_name(b"data/a\0b").unwrap_err().code(), "control_character_in_path");
        assert_eq!(check_name(b"data/a\nb").unwrap_err().code(), "control_character_in_path");
        assert_eq!(check_name(b"data//a").unwrap_err().code(), "invalid_path");
        assert_eq!(check_name(&[b'd', 0xff]).unwrap_err().code(), "invalid_path");
    }

    #[test]
    fn locations() {
        assert_eq!(classify("bagit.txt").unwrap(), EntryKind::TagFile);
        assert_eq!(classify("data/x/y.csv").unwrap(), EntryKind::Payload);
        assert_eq!(classify("signatures/ab.json").unwrap(), EntryKind::Signature);
        assert!(classify("signatures/a/b.json").is_err());
        assert!(classify("evil.sh").is_err());
    }
}

//! Helpers shared by the integration tests.
//!
//! - valid signed packages built from `sample-packages/sources/` with seeded test keys;
//! - [`HostileZip`]: writes zip archives byte by byte (APPNOTE 6.3.10 §4.3), so a test controls
//!   every name, size, CRC, flag and attribute the container layer must refuse;
//! - [`PackageEntries`]: a valid package's entries in memory, changed by a test and written back
//!   as a fresh, internally consistent zip, so the zip layer passes and the bag, manifest or data
//!   layer must catch the change.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

pub mod s3;
#[macro_use]
pub mod server;

use prequal::package::{Compression, Limits, SecretKey, pack_dir, sign_package};
use sha2::{Digest as _, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

/// The sample source most tests start from.
pub const BASELINE: &str = "ndfeb-n42sh-baseline";

pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-packages")
}

pub fn sample_source(name: &str) -> PathBuf {
    samples_dir().join("sources").join(name)
}

/// Names of every sample source directory, sorted.
pub fn sample_source_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(samples_dir().join("sources"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// A deterministic test key: `SecretKey::from_seed([n; 32])`.
pub fn test_key(n: u8) -> SecretKey {
    SecretKey::from_seed([n; 32])
}

/// Packs the sample `source` into `dir/<source>.zip` and signs it with `test_key(n)` for each `n`
/// in `signers`.
pub fn signed_package_from(dir: &Path, source: &str, signers: &[u8]) -> PathBuf {
    let out = dir.join(format!("{source}.zip"));
    pack_dir(&sample_source(source), &out, Compression::Deflated, Limits::default()).unwrap();
    for &n in signers {
        sign_package(&out, &test_key(n), Limits::default()).unwrap();
    }
    out
}

/// The baseline sample, packed and signed with `test_key(1)`.
pub fn signed_package(dir: &Path) -> PathBuf {
    signed_package_from(dir, BASELINE, &[1])
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// CRC-32 (IEEE 802.3, the zip polynomial).
pub fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            *slot = c;
        }
        t
    });
    !bytes.iter().fold(!0u32, |c, &b| table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8))
}

/// Raw deflate of `content` (no zlib header), as a zip entry holds it.
pub fn deflate(content: &[u8]) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file("x", SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)).unwrap();
    writer.write_all(content).unwrap();
    let mut archive = ZipArchive::new(writer.finish().unwrap()).unwrap();
    let mut raw = Vec::new();
    archive.by_index_raw(0).unwrap().read_to_end(&mut raw).unwrap();
    raw
}

pub const METHOD_STORED: u16 = 0;
pub const METHOD_DEFLATED: u16 = 8;
pub const FLAG_ENCRYPTED: u16 = 1;
/// MS-DOS date of 1980-01-01, the timestamp prequal writes.
const DOS_DATE: u16 = (1 << 5) | 1;

/// One entry of a [`HostileZip`]. Fields are written as given, so they may lie.
#[derive(Debug, Clone)]
pub struct RawEntry {
    /// Name in the central directory.
    pub name: Vec<u8>,
    /// Name in the local file header (normally equal to `name`).
    pub local_name: Vec<u8>,
    /// The bytes stored in the archive (already compressed for deflated entries).
    pub data: Vec<u8>,
    pub method: u16,
    pub flags: u16,
    pub crc32: u32,
    pub compressed_size: u32,
    pub uncompressed_size: u32,
    pub version_made_by: u16,
    pub external_attributes: u32,
    /// Extra field bytes, written to both headers.
    pub extra: Vec<u8>,
    /// A local header and data with no central directory record.
    pub hidden: bool,
    /// Instead of its own local header and data, the central record points at those of entry
    /// `data_of` (overlapping entries).
    pub data_of: Option<usize>,
}

impl RawEntry {
    pub fn stored(name: impl AsRef<[u8]>, content: &[u8]) -> Self {
        let name = name.as_ref().to_vec();
        RawEntry {
            local_name: name.clone(),
            name,
            data: content.to_vec(),
            method: METHOD_STORED,
            flags: 0,
            crc32: crc32(content),
            compressed_size: content.len() as u32,
            uncompressed_size: content.len() as u32,
            version_made_by: 20,
            external_attributes: 0,
            extra: Vec::new(),
            hidden: false,
            data_of: None,
        }
    }

    pub fn deflated(name: impl AsRef<[u8]>, content: &[u8]) -> Self {
        let data = deflate(content);
        RawEntry {
            method: METHOD_DEFLATED,
            compressed_size: data.len() as u32,
            data,
            ..RawEntry::stored(name, content)
        }
    }

    /// The compression method number in both headers (the data is left as it is).
    pub fn method(mut self, method: u16) -> Self {
        self.method = method;
        self
    }

    pub fn flags(mut self, flags: u16) -> Self {
        self.flags = flags;
        self
    }

    pub fn crc32(mut self, crc: u32) -> Self {
        self.crc32 = crc;
        self
    }

    /// The declared uncompressed size, in both headers.
    pub fn uncompressed_size(mut self, size: u32) -> Self {
        self.uncompressed_size = size;
        self
    }

    /// Marks the entry as made on Unix with this file mode (e.g. `0o120777`, a symlink).
    pub fn unix_mode(mut self, mode: u32) -> Self {
        self.version_made_by = (3 << 8) | 20;
        self.external_attributes = mode << 16;
        self
    }

    pub fn local_name(mut self, name: impl AsRef<[u8]>) -> Self {
        self.local_name = name.as_ref().to_vec();
        self
    }

    pub fn extra(mut self, extra: &[u8]) -> Self {
        self.extra = extra.to_vec();
        self
    }

    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }
}

/// A zip archive written entry by entry, with full control over every header field.
#[derive(Debug, Clone, Default)]
pub struct HostileZip {
    pub entries: Vec<RawEntry>,
    /// Bytes written after the end-of-central-directory record.
    pub trailing: Vec<u8>,
}

impl HostileZip {
    pub fn new() -> Self {
        HostileZip::default()
    }

    /// Every entry of the package at `path`, in archive order, stored uncompressed: writing it
    /// back gives a package with the same content (and digest).
    pub fn from_package(path: &Path) -> Self {
        let mut zip = HostileZip::new();
        for (name, content) in PackageEntries::read(path).entries {
            zip.push(RawEntry::stored(name, &content));
        }
        zip
    }

    pub fn push(&mut self, entry: RawEntry) -> &mut Self {
        self.entries.push(entry);
        self
    }

    /// Index of the entry named `name` in the central directory.
    pub fn position(&self, name: &str) -> usize {
        self.entries.iter().position(|e| e.name == name.as_bytes()).unwrap_or_else(|| panic!("no entry {name}"))
    }

    pub fn entry_mut(&mut self, name: &str) -> &mut RawEntry {
        let i = self.position(name);
        &mut self.entries[i]
    }

    /// Adds a central directory record named `name` that points at entry `of`'s local header and
    /// data.
    pub fn alias(&mut self, of: usize, name: impl AsRef<[u8]>) -> &mut Self {
        let mut entry = self.entries[of].clone();
        entry.name = name.as_ref().to_vec();
        entry.data_of = Some(of);
        entry.hidden = false;
        self.push(entry)
    }

    pub fn append(&mut self, bytes: &[u8]) -> &mut Self {
        self.trailing.extend_from_slice(bytes);
        self
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut offsets = vec![0u32; self.entries.len()];
        for (i, e) in self.entries.iter().enumerate().filter(|(_, e)| e.data_of.is_none()) {
            offsets[i] = out.len() as u32;
            put32(&mut out, 0x0403_4b50);
            put16(&mut out, 20);
            put16(&mut out, e.flags);
            put16(&mut out, e.method);
            put16(&mut out, 0);
            put16(&mut out, DOS_DATE);
            put32(&mut out, e.crc32);
            put32(&mut out, e.compressed_size);
            put32(&mut out, e.uncompressed_size);
            put16(&mut out, e.local_name.len() as u16);
            put16(&mut out, e.extra.len() as u16);
            out.extend_from_slice(&e.local_name);
            out.extend_from_slice(&e.extra);
            out.extend_from_slice(&e.data);
        }
        let cd_start = out.len() as u32;
        let mut records = 0u16;
        for (i, e) in self.entries.iter().enumerate().filter(|(_, e)| !e.hidden) {
            let offset = offsets[e.data_of.unwrap_or(i)];
            records += 1;
            put32(&mut out, 0x0201_4b50);
            put16(&mut out, e.version_made_by);
            put16(&mut out, 20);
            put16(&mut out, e.flags);
            put16(&mut out, e.method);
            put16(&mut out, 0);
            put16(&mut out, DOS_DATE);
            put32(&mut out, e.crc32);
            put32(&mut out, e.compressed_size);
            put32(&mut out, e.uncompressed_size);
            put16(&mut out, e.name.len() as u16);
            put16(&mut out, e.extra.len() as u16);
            put16(&mut out, 0); // comment length
            put16(&mut out, 0); // disk number start
            put16(&mut out, 0); // internal attributes
            put32(&mut out, e.external_attributes);
            put32(&mut out, offset);
            out.extend_from_slice(&e.name);
            out.extend_from_slice(&e.extra);
        }
        let cd_size = out.len() as u32 - cd_start;
        put32(&mut out, 0x0605_4b50);
        put16(&mut out, 0);
        put16(&mut out, 0);
        put16(&mut out, records);
        put16(&mut out, records);
        put32(&mut out, cd_size);
        put32(&mut out, cd_start);
        put16(&mut out, 0);
        out.extend_from_slice(&self.trailing);
        out
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, self.to_bytes()).unwrap();
    }
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

const TAG_FILES_HASHED: [&str; 3] = ["bag-info.txt", "bagit.txt", "manifest-sha256.txt"];

/// A package's entries in memory, in archive order, to change and write back as a consistent zip.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageEntries {
    pub entries: Vec<(String, Vec<u8>)>,
}

impl PackageEntries {
    /// Reads every entry of the (trusted, test-built) zip at `path`.
    pub fn read(path: &Path) -> Self {
        let mut archive = ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
        let mut entries = Vec::new();
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            entries.push((file.name().unwrap().into_owned(), content));
        }
        PackageEntries { entries }
    }

    pub fn names(&self) -> Vec<String> {
        self.entries.iter().map(|(n, _)| n.clone()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, c)| c.as_slice())
    }

    pub fn text(&self, name: &str) -> String {
        String::from_utf8(self.get(name).unwrap_or_else(|| panic!("no entry {name}")).to_vec()).unwrap()
    }

    /// Replaces the content of `name`, or adds the entry at the end.
    pub fn set(&mut self, name: &str, content: impl Into<Vec<u8>>) -> &mut Self {
        let content = content.into();
        match self.entries.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = content,
            None => self.entries.push((name.to_owned(), content)),
        }
        self
    }

    pub fn remove(&mut self, name: &str) -> Vec<u8> {
        let i = self.entries.iter().position(|(n, _)| n == name).unwrap_or_else(|| panic!("no entry {name}"));
        self.entries.remove(i).1
    }

    /// Replaces the first occurrence of `from` in the text entry `name`, which must contain it.
    pub fn replace_text(&mut self, name: &str, from: &str, to: &str) -> &mut Self {
        let text = self.text(name);
        assert!(text.contains(from), "{name} does not contain {from:?}");
        self.set(name, text.replacen(from, to, 1))
    }

    /// Rewrites `manifest-sha256.txt` from the current `data/` entries.
    pub fn refresh_payload_manifest(&mut self) -> &mut Self {
        let listed: BTreeMap<&str, String> = self
            .entries
            .iter()
            .filter(|(n, _)| n.starts_with("data/"))
            .map(|(n, c)| (n.as_str(), sha256_hex(c)))
            .collect();
        let text: String = listed.iter().map(|(n, h)| format!("{h}  {n}\n")).collect();
        self.set("manifest-sha256.txt", text)
    }

    /// Rewrites the Payload-Oxum line of `bag-info.txt` from the current `data/` entries.
    pub fn refresh_payload_oxum(&mut self) -> &mut Self {
        let payload: Vec<&Vec<u8>> =
            self.entries.iter().filter(|(n, _)| n.starts_with("data/")).map(|(_, c)| c).collect();
        let octets: usize = payload.iter().map(|c| c.len()).sum();
        let oxum = format!("Payload-Oxum: {octets}.{}", payload.len());
        let info = self.text("bag-info.txt");
        let text: String = info
            .lines()
            .map(|l| if l.starts_with("Payload-Oxum:") { format!("{oxum}\n") } else { format!("{l}\n") })
            .collect();
        self.set("bag-info.txt", text)
    }

    /// Rewrites `tagmanifest-sha256.txt` from the tag files present.
    pub fn refresh_tag_manifest(&mut self) -> &mut Self {
        let text: String =
            TAG_FILES_HASHED.iter().filter_map(|n| self.get(n).map(|c| format!("{}  {n}\n", sha256_hex(c)))).collect();
        self.set("tagmanifest-sha256.txt", text)
    }

    /// Payload manifest, Payload-Oxum and tag manifest, in that order: the bag is consistent
    /// again (signatures are left as they are and no longer match the new digest).
    pub fn refresh_bag(&mut self) -> &mut Self {
        self.refresh_payload_manifest().refresh_payload_oxum().refresh_tag_manifest()
    }

    /// Writes a consistent zip, every entry deflated.
    pub fn write(&self, path: &Path) {
        self.write_with(path, Compression::Deflated);
    }

    pub fn write_with(&self, path: &Path, compression: Compression) {
        let method = match compression {
            Compression::Deflated => CompressionMethod::Deflated,
            Compression::Stored => CompressionMethod::Stored,
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(DateTime::default())
            .unix_permissions(0o644);
        let mut zip = ZipWriter::new(std::fs::File::create(path).unwrap());
        for (name, content) in &self.entries {
            zip.start_file(name.as_str(), options).unwrap();
            zip.write_all(content).unwrap();
        }
        zip.finish().unwrap();
    }
}

/// How many files are under `dir`, in every subdirectory (0 if it does not exist).
pub fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() { files_under(&e.path()) } else { 1 }
            })
            .sum()
        })
        .unwrap_or(0)
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Packs a copy of the sample `source` with its `prequal.json` changed by `edit`, signed by
/// `signers`, into `dir/<out_name>.zip`.
pub fn custom_package(
    dir: &Path,
    source: &str,
    out_name: &str,
    edit: impl FnOnce(&mut serde_json::Value),
    signers: &[&SecretKey],
) -> PathBuf {
    custom_package_with_files(dir, source, out_name, edit, |_| {}, signers)
}

/// `custom_package` that may also change the source's files (CSVs) before packing.
pub fn custom_package_with_files(
    dir: &Path,
    source: &str,
    out_name: &str,
    edit: impl FnOnce(&mut serde_json::Value),
    edit_files: impl FnOnce(&Path),
    signers: &[&SecretKey],
) -> PathBuf {
    let src = dir.join(format!("{out_name}-source"));
    copy_tree(&sample_source(source), &src);
    edit_files(&src);
    let manifest_path = src.join("prequal.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    edit(&mut manifest);
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    let out = dir.join(format!("{out_name}.zip"));
    pack_dir(&src, &out, Compression::Deflated, Limits::default()).unwrap();
    for key in signers {
        sign_package(&out, key, Limits::default()).unwrap();
    }
    out
}

/// A second production site's package: the N42SH source made at "Plant B", with the HcJ values
/// multiplied by `hcj_factor` (1.0: the same results, as a site that reproduces them would
/// report).
pub fn second_site_package(dir: &Path, name: &str, hcj_factor: f64, key: &SecretKey) -> PathBuf {
    custom_package_with_files(
        dir,
        BASELINE,
        name,
        |m| {
            m["name"] = name.into();
            for lot in m["material"]["lots"].as_array_mut().unwrap() {
                lot["site"] = "Plant B (fictional)".into();
            }
        },
        |src| {
            for entry in std::fs::read_dir(src.join("datasets")).unwrap() {
                let path = entry.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                let mut lines = text.lines();
                let header = lines.next().unwrap().to_owned();
                let cols: Vec<&str> = header.split(',').collect();
                let vi = cols.iter().position(|c| *c == "value").unwrap();
                let scale = if path.file_name().unwrap() == "hcj.csv" { hcj_factor } else { 1.0 };
                let mut out = vec![header.clone()];
                for line in lines.filter(|l| !l.is_empty()) {
                    let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
                    let v: f64 = cells[vi].parse().unwrap();
                    cells[vi] = format!("{:.4}", v * scale);
                    out.push(cells.join(","));
                }
                std::fs::write(&path, out.join("\n") + "\n").unwrap();
            }
        },
        &[key],
    )
}

/// `custom_package` with only the version changed.
pub fn package_version(dir: &Path, source: &str, version: &str, signers: &[&SecretKey]) -> PathBuf {
    custom_package(dir, source, &format!("{source}-{version}"), |m| m["version"] = version.into(), signers)
}

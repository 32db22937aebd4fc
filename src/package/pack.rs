//! Building a package from a lab's source directory, and adding signatures to a package.
//!
//! A source directory holds `prequal.json`, the CSV datasets and attachments it names, and
//! optionally a README.md for the lab, nothing else. Packing checks all of it with the same rules
//! verification applies and reports every problem at once; only a clean source becomes a package. The output is reproducible: entries
//! sorted by name, fixed timestamps and permissions, so the same inputs give the same bytes.
//! Files are written to a temporary file beside the target and renamed into place, so an
//! interrupted run never leaves a half-written package.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use super::bagit::{self, BagInfo, HashingReader, Progress, Sha256Hash, hash_file};
use super::curve;
use super::dataset;
use super::error::{PackageError, Rejection};
use super::manifest::{Manifest, check_relative_file};
use super::rocrate::{self, CrateFile};
use super::signing::{PackageDigest, SecretKey};
use super::verify::{self, check_json_depth};
use super::zipread::Limits;

/// How payload entries are stored in the zip. Either way the digest is the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    Deflated,
    Stored,
}

/// What `pack_dir` produced.
#[derive(Debug, Clone)]
pub struct PackSummary {
    pub digest: PackageDigest,
    pub payload_files: usize,
    pub payload_bytes: u64,
    pub datasets: usize,
    pub measurements: usize,
    pub curves: usize,
    /// Points of every curve.
    pub curve_points: usize,
}

const SOURCE_MANIFEST: &str = "prequal.json";
/// The lab's notes beside the manifest (`prequal init` writes one): packed only when the
/// manifest lists it as an attachment, never reported as unreferenced.
const SOURCE_README: &str = "README.md";

/// What reading one source CSV gives: its row count, or the problems found in it.
type ReadResult = std::io::Result<Result<usize, Vec<PackageError>>>;

/// A source directory that passed every check: what packing it needs.
#[derive(Debug, Clone)]
pub struct CheckedSource {
    manifest_bytes: Vec<u8>,
    manifest: Manifest,
    /// Files named by the manifest, relative to the source dir: (media type, name).
    referenced: BTreeMap<String, (String, String)>,
    pub datasets: usize,
    pub measurements: usize,
    pub curves: usize,
    pub curve_points: usize,
}

impl CheckedSource {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
}

/// Checks the source directory `src` as `prequal check` and `prequal pack` do: the manifest against
/// its schema and the rules beyond it, every file referenced and present, every CSV cell. Reports
/// every problem found, not just the first.
pub fn check_dir(src: &Path, limits: Limits) -> Result<CheckedSource, Rejection> {
    let shown = |p: &Path| p.display().to_string();
    let manifest_path = src.join(SOURCE_MANIFEST);
    if !manifest_path.is_file() && src.is_dir() {
        return Err(PackageError::SourceInvalid {
            path: shown(src),
            detail:
                "has no prequal.json; start a package with `prequal init --class permanent_magnet|battery_cell DIR`"
                    .into(),
        }
        .into());
    }
    let manifest_bytes = read_limited(&manifest_path, limits.max_metadata_size)?;
    check_json_depth(SOURCE_MANIFEST, &manifest_bytes, limits.max_json_depth)?;
    let (parsed, mut problems) = Manifest::parse_and_resolve(SOURCE_MANIFEST, &manifest_bytes);
    let Some((manifest, specs)) = parsed else {
        return Err(Rejection { problems });
    };

    // Every file in the source must be referenced, every reference must exist.
    let mut found_files = BTreeSet::new();
    walk(src, src, &mut found_files, &mut problems);
    let mut referenced: BTreeMap<String, (String, String)> = BTreeMap::new();
    for ds in &manifest.datasets {
        referenced.insert(
            ds.file.clone(),
            ("text/csv".into(), ds.description.clone().unwrap_or_else(|| format!("{} ({})", ds.property, ds.id))),
        );
    }
    for c in &manifest.curves {
        let name = c.description.clone().unwrap_or_else(|| {
            format!(
                "{} demagnetisation curve at {} {} ({})",
                c.kind.as_str(),
                c.temperature.value,
                c.temperature.unit,
                c.id
            )
        });
        referenced.insert(c.file.clone(), ("text/csv".into(), name));
    }
    for att in &manifest.attachments {
        referenced.insert(att.file.clone(), (att.media_type.clone(), att.description.clone()));
    }
    for file in &found_files {
        if file != SOURCE_MANIFEST && file != SOURCE_README && !referenced.contains_key(file) {
            problems.push(PackageError::UnreferencedFile { path: file.clone() });
        }
    }
    for file in referenced.keys() {
        if check_relative_file(file).is_ok() && !found_files.contains(file) {
            problems.push(PackageError::FileMissing { path: file.clone(), manifest: SOURCE_MANIFEST });
        }
    }

    // Datasets are read with the verifier's reader.
    let lots: BTreeSet<String> = manifest.material.lots.iter().map(|l| l.id.clone()).collect();
    // A listed file that is absent was reported above; the others are read, their problems kept.
    let mut read = |file: &str, reader: &dyn Fn(&mut File) -> ReadResult| -> Option<usize> {
        if !found_files.contains(file) {
            return None;
        }
        let path = src.join(file);
        match File::open(&path).and_then(|mut f| reader(&mut f)) {
            Ok(Ok(n)) => Some(n),
            Ok(Err(found)) => {
                problems.extend(found);
                None
            }
            Err(e) => {
                problems.push(PackageError::io(shown(&path), e));
                None
            }
        }
    };
    let mut measurements = 0;
    for spec in &specs.datasets {
        measurements +=
            read(&spec.file, &|f| Ok(dataset::read_csv(f, &spec.file, spec, &lots)?.map(|r| r.len()))).unwrap_or(0);
    }
    let (mut curves, mut curve_points) = (0, 0);
    for spec in &specs.curves {
        if let Some(n) = read(&spec.file, &|f| Ok(curve::read_curve_csv(f, &spec.file, spec, &lots)?.map(|p| p.len())))
        {
            curves += 1;
            curve_points += n;
        }
    }
    if !problems.is_empty() {
        return Err(Rejection { problems });
    }
    Ok(CheckedSource {
        manifest_bytes,
        manifest,
        referenced,
        datasets: specs.datasets.len(),
        measurements,
        curves,
        curve_points,
    })
}

/// Builds `out` from the source directory `src`, after [`check_dir`] found no problem.
pub fn pack_dir(src: &Path, out: &Path, compression: Compression, limits: Limits) -> Result<PackSummary, Rejection> {
    let checked = check_dir(src, limits)?;
    pack_checked(src, out, compression, &checked, &mut |_| {})
}

/// Packs a checked source; `progress` is told the bytes hashed and written as they go.
pub fn pack_checked(
    src: &Path,
    out: &Path,
    compression: Compression,
    checked: &CheckedSource,
    progress: &mut dyn FnMut(u64),
) -> Result<PackSummary, Rejection> {
    let shown = |p: &Path| p.display().to_string();
    let manifest_bytes = &checked.manifest_bytes;
    let manifest = &checked.manifest;
    let referenced = &checked.referenced;

    // Hash the payload.
    let mut payload: BTreeMap<String, (Sha256Hash, u64)> = BTreeMap::new();
    payload.insert(verify::PREQUAL_JSON.to_owned(), (Sha256Hash::of(manifest_bytes), manifest_bytes.len() as u64));
    for file in referenced.keys() {
        let path = src.join(file);
        let (hash, size) = hash_file(&path, progress).map_err(|e| PackageError::io(shown(&path), e))?;
        payload.insert(format!("data/{file}"), (hash, size));
    }
    let mut crate_files: Vec<CrateFile<'_>> = Vec::new();
    let prequal_size = manifest_bytes.len() as u64;
    crate_files.push(CrateFile {
        path: SOURCE_MANIFEST,
        size: prequal_size,
        media_type: "application/json",
        name: "prequal qualification manifest",
    });
    for (file, (media_type, name)) in referenced {
        let size = payload.get(&format!("data/{file}")).map_or(0, |(_, s)| *s);
        crate_files.push(CrateFile { path: file, size, media_type: media_type.as_str(), name });
    }
    let ro_crate = rocrate::build(manifest, &crate_files);
    payload.insert(verify::RO_CRATE_JSON.to_owned(), (Sha256Hash::of(&ro_crate), ro_crate.len() as u64));

    let payload_bytes: u64 = payload.values().map(|(_, s)| s).sum();
    let manifest_txt = bagit::write_manifest(&payload.iter().map(|(k, (h, _))| (k.clone(), *h)).collect());
    let bag_info = BagInfo {
        fields: vec![
            ("Source-Organization".into(), one_line(&manifest.lab.name)),
            ("Bagging-Date".into(), manifest.date_published.clone()),
            ("External-Identifier".into(), format!("{}@{}", manifest.name, manifest.version)),
            ("External-Description".into(), one_line(&manifest.title)),
            ("Bag-Software-Agent".into(), "prequal".into()),
            ("Payload-Oxum".into(), format!("{payload_bytes}.{}", payload.len())),
        ],
    }
    .to_text();
    let mut tags = BTreeMap::new();
    tags.insert(bagit::BAGIT_TXT.to_owned(), Sha256Hash::of(bagit::BAGIT_TXT_CONTENT.as_bytes()));
    tags.insert(bagit::BAG_INFO_TXT.to_owned(), Sha256Hash::of(bag_info.as_bytes()));
    tags.insert(bagit::MANIFEST.to_owned(), Sha256Hash::of(manifest_txt.as_bytes()));
    let tag_manifest = bagit::write_manifest(&tags);
    let digest = PackageDigest::new(Sha256Hash::of(tag_manifest.as_bytes()));

    // Write, in name order.
    let mut entries: BTreeMap<String, Source<'_>> = BTreeMap::new();
    entries.insert(bagit::BAGIT_TXT.into(), Source::Bytes(bagit::BAGIT_TXT_CONTENT.as_bytes()));
    entries.insert(bagit::BAG_INFO_TXT.into(), Source::Bytes(bag_info.as_bytes()));
    entries.insert(bagit::MANIFEST.into(), Source::Bytes(manifest_txt.as_bytes()));
    entries.insert(bagit::TAG_MANIFEST.into(), Source::Bytes(tag_manifest.as_bytes()));
    entries.insert(verify::PREQUAL_JSON.into(), Source::Bytes(manifest_bytes));
    entries.insert(verify::RO_CRATE_JSON.into(), Source::Bytes(&ro_crate));
    for file in referenced.keys() {
        let name = format!("data/{file}");
        if let Some((hash, size)) = payload.get(&name) {
            entries.insert(name, Source::File(src.join(file), *hash, *size));
        }
    }
    write_atomically(out, |writer| {
        let mut zip = ZipWriter::new(writer);
        for (name, source) in &entries {
            let method = match compression {
                Compression::Deflated => CompressionMethod::Deflated,
                Compression::Stored => CompressionMethod::Stored,
            };
            zip.start_file(name.as_str(), entry_options(method, source.len()))?;
            match source {
                Source::Bytes(b) => zip.write_all(b)?,
                Source::File(path, expected, _) => {
                    let mut reader =
                        HashingReader::new(Progress { inner: File::open(path)?, progress: &mut *progress });
                    io::copy(&mut reader, &mut zip)?;
                    if reader.finish() != *expected {
                        return Err(zip::result::ZipError::Io(io::Error::other(format!(
                            "{} changed while it was being packed",
                            path.display()
                        ))));
                    }
                }
            }
        }
        zip.finish()?;
        Ok(())
    })
    .map_err(|e| PackageError::io(shown(out), e))?;

    Ok(PackSummary {
        digest,
        payload_files: payload.len(),
        payload_bytes,
        datasets: checked.datasets,
        measurements: checked.measurements,
        curves: checked.curves,
        curve_points: checked.curve_points,
    })
}

/// Adds (or replaces) the signature of `key` in the package at `path`, after verifying it.
/// The package digest does not change.
pub fn sign_package(path: &Path, key: &SecretKey, limits: Limits) -> Result<(PackageDigest, String), Rejection> {
    let verified = verify::verify_file(path, limits)?;
    let digest = *verified.digest();
    let signature = key.sign(&digest);
    let sig_name = signature.entry_name();
    let sig_bytes = signature.to_bytes();
    let shown = path.display().to_string();
    let source = File::open(path).map_err(|e| PackageError::io(&shown, e))?;
    let mut archive = ZipArchive::new(source).map_err(|e| PackageError::TruncatedZip { detail: e.to_string() })?;
    let mut names: Vec<String> =
        archive.file_names().filter_map(|n| n.ok().map(|n| n.into_owned())).filter(|n| *n != sig_name).collect();
    names.push(sig_name.clone());
    names.sort();
    write_atomically(path, |writer| {
        let mut zip = ZipWriter::new(writer);
        for name in &names {
            if *name == sig_name {
                zip.start_file(name.as_str(), entry_options(CompressionMethod::Deflated, sig_bytes.len() as u64))?;
                zip.write_all(&sig_bytes)?;
            } else {
                let entry = archive.by_name(name)?;
                zip.raw_copy_file(entry)?;
            }
        }
        zip.finish()?;
        Ok(())
    })
    .map_err(|e| PackageError::io(&shown, e))?;
    Ok((digest, sig_name))
}

/// Fixed metadata so packing is reproducible: 1980-01-01 timestamps, mode 0644.
fn entry_options(method: CompressionMethod, size: u64) -> SimpleFileOptions {
    SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644)
        .large_file(size >= u32::MAX as u64)
}

enum Source<'a> {
    Bytes(&'a [u8]),
    /// A source file with the hash and size computed when the bag files were written.
    File(PathBuf, Sha256Hash, u64),
}

impl Source<'_> {
    fn len(&self) -> u64 {
        match self {
            Source::Bytes(b) => b.len() as u64,
            Source::File(_, _, size) => *size,
        }
    }
}

/// Writes through a temporary file in the target's directory, then syncs and renames it.
pub(crate) fn write_atomically(
    target: &Path,
    write: impl FnOnce(&mut File) -> Result<(), zip::result::ZipError>,
) -> io::Result<()> {
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "package".into());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        write(&mut file).map_err(|e| match e {
            zip::result::ZipError::Io(io) => io,
            other => io::Error::other(other.to_string()),
        })?;
        file.sync_all()?;
        fs::rename(&tmp, target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A reader that reports how many bytes went through it.
fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, PackageError> {
    let shown = path.display().to_string();
    let meta = fs::metadata(path)
        .map_err(|e| PackageError::SourceInvalid { path: shown.clone(), detail: format!("cannot read: {e}") })?;
    if meta.len() > max {
        return Err(PackageError::MetadataTooLarge { file: shown, size: meta.len(), max });
    }
    fs::read(path).map_err(|e| PackageError::io(shown, e))
}

/// Bag-info values are single lines.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Collects the regular files below `dir` as '/'-separated paths relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>, problems: &mut Vec<PackageError>) {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(PackageError::io(dir.display(), e));
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap_or(&path);
        let rel_str = match rel.to_str() {
            Some(s) => s.replace(std::path::MAIN_SEPARATOR, "/"),
            None => {
                problems.push(PackageError::SourceInvalid {
                    path: rel.display().to_string(),
                    detail: "file name is not valid UTF-8".into(),
                });
                continue;
            }
        };
        match entry.file_type() {
            Ok(t) if t.is_symlink() => problems.push(PackageError::SourceInvalid {
                path: rel_str,
                detail: "symbolic links are not packed; copy the file instead".into(),
            }),
            Ok(t) if t.is_dir() => walk(root, &path, out, problems),
            Ok(t) if t.is_file() => {
                if let Err(detail) = check_relative_file(&rel_str) {
                    problems.push(PackageError::SourceInvalid { path: rel_str, detail });
                } else {
                    out.insert(rel_str);
                }
            }
            Ok(_) => problems.push(PackageError::SourceInvalid { path: rel_str, detail: "not a regular file".into() }),
            Err(e) => problems.push(PackageError::io(rel_str, e)),
        }
    }
}

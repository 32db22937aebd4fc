//! Verification: the only way to obtain a [`VerifiedPackage`].
//!
//! The steps, in order (a failure in steps 1 and 2 stops verification; from step 3 on every
//! problem is collected so a lab sees them all at once):
//! 1. Container: [`SafeZip::open`] (limits, names, symlinks, duplicates, overlaps, encryption,
//!    header consistency).
//! 2. `bagit.txt` declares BagIt 1.0, UTF-8 (RFC 8493 §2.1.1).
//! 3. Tag manifest (RFC 8493 §2.2.1): lists every other tag file, each hash matches; the package
//!    digest is the SHA-256 of the tag manifest's bytes.
//! 4. `bag-info.txt` parses and its Payload-Oxum matches the payload (RFC 8493 §2.2.2).
//! 5. Payload manifest (RFC 8493 §2.1.3): every payload file listed, every listed file present
//!    (§3 "complete").
//! 6. `data/prequal.json`: size and nesting limits, schema, vocabulary, units, references.
//! 7. `data/ro-crate-metadata.json`: RO-Crate 1.1 structure; every payload file is a part.
//! 8. Every payload file is referenced by the manifest (a dataset, an attachment or metadata).
//! 9. Every payload file the payload manifest lists is streamed once (an unlisted one, refused in
//!    step 5, is never inflated): its SHA-256 must match (§3 "valid"); dataset and curve
//!    CSVs are parsed in the same pass (numbers, lots, columns; points per curve, B = μ0·H + J).
//! 10. Signatures: each `signatures/*.json` is checked against the digest. Whether a signer is
//!     trusted is a separate question ([`super::signing::TrustSet`], or the registry's keys).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

use super::bagit::{self, BagInfo, HashingReader, Sha256Hash};
use super::curve::{self, CurveData};
use super::dataset::{self, Measurement};
use super::error::{PackageError, Rejection};
use super::manifest::{CurveSpec, DatasetSpec, Manifest};
use super::rocrate;
use super::signing::{CheckedSignature, PackageDigest, check_signature};
use super::zipread::{EntryKind, Limits, SafeZip, TAG_FILES};

pub const PREQUAL_JSON: &str = "data/prequal.json";
pub const RO_CRATE_JSON: &str = "data/ro-crate-metadata.json";

/// A dataset with its measurements, as read from a verified package.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedDataset {
    pub spec: DatasetSpec,
    pub measurements: Vec<Measurement>,
}

/// A payload file of a verified package.
#[derive(Debug, Clone, PartialEq)]
pub struct PayloadFile {
    /// Path inside the package, `data/…`.
    pub path: String,
    pub size: u64,
    pub sha256: Sha256Hash,
}

/// A package every check of [`verify_file`] has passed. Only this module can build one, so
/// holding one proves verification ran. Signatures are checked cryptographically; whether their
/// keys are trusted is for the caller to decide.
#[derive(Debug, Clone)]
pub struct VerifiedPackage {
    digest: PackageDigest,
    manifest: Manifest,
    manifest_bytes: Vec<u8>,
    datasets: Vec<VerifiedDataset>,
    curves: Vec<CurveData>,
    files: Vec<PayloadFile>,
    signatures: Vec<CheckedSignature>,
    payload_bytes: u64,
}

impl VerifiedPackage {
    pub fn digest(&self) -> &PackageDigest {
        &self.digest
    }
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    /// The exact bytes of `data/prequal.json`.
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_bytes
    }
    pub fn datasets(&self) -> &[VerifiedDataset] {
        &self.datasets
    }
    /// The demagnetisation curves, in manifest order.
    pub fn curves(&self) -> &[CurveData] {
        &self.curves
    }
    pub fn files(&self) -> &[PayloadFile] {
        &self.files
    }
    pub fn signatures(&self) -> &[CheckedSignature] {
        &self.signatures
    }
    pub fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }
}

/// Verifies the package at `path`.
pub fn verify_file(path: &Path, limits: Limits) -> Result<VerifiedPackage, Rejection> {
    verify_file_with_progress(path, limits, &mut |_| {})
}

/// [`verify_file`], telling `progress` how many payload bytes were hashed as step 9 goes (for a
/// progress bar; the payload's size is the sum of the entries' sizes).
pub fn verify_file_with_progress(
    path: &Path,
    limits: Limits,
    progress: &mut dyn FnMut(u64),
) -> Result<VerifiedPackage, Rejection> {
    // Step 1.
    let mut zip = SafeZip::open(path, limits)?;
    let mut problems = Vec::new();

    // Step 2.
    let bagit_txt = zip
        .read_metadata(bagit::BAGIT_TXT)?
        .ok_or_else(|| PackageError::BagitTxtInvalid { detail: "missing".into() })?;
    bagit::check_bagit_txt(&bagit_txt)?;

    // Step 3.
    let tag_bytes = zip
        .read_metadata(bagit::TAG_MANIFEST)?
        .ok_or_else(|| PackageError::TagManifestInvalid { detail: "missing".into() })?;
    let digest = PackageDigest::new(Sha256Hash::of(&tag_bytes));
    let tag_manifest = bagit::parse_manifest(&tag_bytes, true)?;
    let mut tag_contents = BTreeMap::new();
    for &name in TAG_FILES.iter().filter(|n| **n != bagit::TAG_MANIFEST) {
        let Some(bytes) = zip.read_metadata(name)? else {
            if tag_manifest.contains_key(name) {
                problems.push(PackageError::FileMissing { path: name.to_owned(), manifest: bagit::TAG_MANIFEST });
            } else {
                problems.push(PackageError::TagManifestInvalid {
                    detail: format!("required tag file '{name}' is missing"),
                });
            }
            continue;
        };
        match tag_manifest.get(name) {
            None => {
                problems.push(PackageError::FileNotInManifest { path: name.to_owned(), manifest: bagit::TAG_MANIFEST })
            }
            Some(expected) => {
                let actual = Sha256Hash::of(&bytes);
                if actual != *expected {
                    problems.push(PackageError::HashMismatch {
                        path: name.to_owned(),
                        expected: expected.to_hex(),
                        actual: actual.to_hex(),
                        manifest: bagit::TAG_MANIFEST,
                    });
                }
            }
        }
        tag_contents.insert(name, bytes);
    }
    for listed in tag_manifest.keys() {
        if !TAG_FILES.contains(&listed.as_str()) || listed == bagit::TAG_MANIFEST {
            problems.push(PackageError::FileMissing { path: listed.clone(), manifest: bagit::TAG_MANIFEST });
        }
    }

    // Step 4 (Payload-Oxum is compared after hashing, in step 9).
    let oxum = match tag_contents.get(bagit::BAG_INFO_TXT).map(|b| BagInfo::parse(b).and_then(|i| i.payload_oxum())) {
        Some(Ok(oxum)) => Some(oxum),
        Some(Err(e)) => {
            problems.push(e);
            None
        }
        None => None,
    };

    // Step 5.
    let payload_manifest = match tag_contents.get(bagit::MANIFEST).map(|b| bagit::parse_manifest(b, false)) {
        Some(Ok(m)) => m,
        Some(Err(e)) => return Err(with(problems, e)),
        None => return Err(with(problems, PackageError::PayloadManifestInvalid { detail: "missing".into() })),
    };
    let payload: Vec<(String, u64)> =
        zip.entries().filter(|e| e.kind == EntryKind::Payload).map(|e| (e.name.clone(), e.size)).collect();
    let payload_names: BTreeSet<&str> = payload.iter().map(|(n, _)| n.as_str()).collect();
    for (name, _) in &payload {
        if !payload_manifest.contains_key(name) {
            problems.push(PackageError::FileNotInManifest { path: name.clone(), manifest: bagit::MANIFEST });
        }
    }
    for listed in payload_manifest.keys() {
        if !payload_names.contains(listed.as_str()) {
            problems.push(PackageError::FileMissing { path: listed.clone(), manifest: bagit::MANIFEST });
        }
    }

    // Step 6.
    let manifest_bytes = match zip.read_metadata(PREQUAL_JSON).map_err(|e| with(problems.clone(), e))? {
        Some(b) => b,
        None => {
            return Err(with(
                problems,
                PackageError::FileMissing {
                    path: PREQUAL_JSON.into(),
                    manifest: "the package (every package has data/prequal.json)",
                },
            ));
        }
    };
    check_json_depth(PREQUAL_JSON, &manifest_bytes, limits.max_json_depth).map_err(|e| with(problems.clone(), e))?;
    let (manifest, specs) = match Manifest::parse_and_resolve(PREQUAL_JSON, &manifest_bytes) {
        (Some(parsed), found) => {
            problems.extend(found);
            parsed
        }
        (None, found) => {
            problems.extend(found);
            return Err(Rejection { problems });
        }
    };

    // Step 7.
    match zip.read_metadata(RO_CRATE_JSON) {
        Err(e) => problems.push(e),
        Ok(None) => problems.push(PackageError::RoCrateInvalid { detail: "missing".into() }),
        Ok(Some(bytes)) => {
            let parts: BTreeSet<String> = payload_names
                .iter()
                .filter(|n| **n != RO_CRATE_JSON)
                .filter_map(|n| n.strip_prefix("data/"))
                .map(str::to_owned)
                .collect();
            let checked = check_json_depth(RO_CRATE_JSON, &bytes, limits.max_json_depth)
                .and_then(|()| {
                    serde_json::from_slice::<serde_json::Value>(&bytes)
                        .map_err(|e| PackageError::json(RO_CRATE_JSON, &e))
                })
                .and_then(|doc| rocrate::check(&doc, &parts));
            if let Err(e) = checked {
                problems.push(e);
            }
        }
    }

    // Step 8.
    let mut referenced: BTreeSet<String> = [PREQUAL_JSON.to_owned(), RO_CRATE_JSON.to_owned()].into();
    referenced.extend(manifest.datasets.iter().map(|d| format!("data/{}", d.file)));
    referenced.extend(manifest.curves.iter().map(|c| format!("data/{}", c.file)));
    referenced.extend(manifest.attachments.iter().map(|a| format!("data/{}", a.file)));
    for r in &referenced {
        if !payload_names.contains(r.as_str()) && r != RO_CRATE_JSON {
            problems.push(PackageError::FileMissing { path: r.clone(), manifest: "prequal.json" });
        }
    }
    for name in &payload_names {
        if !referenced.contains(*name) {
            problems.push(PackageError::UnreferencedFile { path: (*name).to_owned() });
        }
    }

    // Step 9.
    let lots: BTreeSet<String> = manifest.material.lots.iter().map(|l| l.id.clone()).collect();
    let spec_by_file: BTreeMap<String, &DatasetSpec> =
        specs.datasets.iter().map(|s| (format!("data/{}", s.file), s)).collect();
    let curve_by_file: BTreeMap<String, &CurveSpec> =
        specs.curves.iter().map(|s| (format!("data/{}", s.file), s)).collect();
    let mut datasets = Vec::new();
    let mut curves = Vec::new();
    let mut files = Vec::new();
    let mut payload_bytes = 0u64;
    let mut skipped = 0usize;
    for (name, size) in &payload {
        // An entry the payload manifest does not list was refused in step 5; it is never
        // inflated (a small upload could otherwise make the verifier inflate gigabytes).
        if !payload_manifest.contains_key(name) {
            skipped += 1;
            continue;
        }
        let spec = spec_by_file.get(name).copied();
        let curve_spec = curve_by_file.get(name).copied();
        let outcome = zip.stream(name, |reader| {
            let mut hashing = HashingReader::new(Counted { inner: reader, progress: &mut *progress });
            let parsed = match spec {
                Some(spec) => Some(dataset::read_csv(&mut hashing, name, spec, &lots)?),
                None => None,
            };
            let curve = match curve_spec {
                Some(spec) => Some(curve::read_curve_csv(&mut hashing, name, spec, &lots)?),
                None => None,
            };
            io::copy(&mut hashing, &mut io::sink())?;
            let count = hashing.count();
            Ok((hashing.finish(), count, parsed, curve))
        });
        let (actual, count, parsed, curve) = match outcome {
            Ok(v) => v,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        payload_bytes += count;
        if let Some(expected) = payload_manifest.get(name)
            && *expected != actual
        {
            problems.push(PackageError::HashMismatch {
                path: name.clone(),
                expected: expected.to_hex(),
                actual: actual.to_hex(),
                manifest: bagit::MANIFEST,
            });
        }
        match (parsed, spec) {
            (Some(Ok(measurements)), Some(spec)) => datasets.push(VerifiedDataset { spec: spec.clone(), measurements }),
            (Some(Err(found)), _) => problems.extend(found),
            _ => {}
        }
        match (curve, curve_spec) {
            (Some(Ok(points)), Some(spec)) => curves.push(CurveData { spec: spec.clone(), points }),
            (Some(Err(found)), _) => problems.extend(found),
            _ => {}
        }
        files.push(PayloadFile { path: name.clone(), size: *size, sha256: actual });
    }
    if let Some((octets, streams)) = oxum
        && skipped == 0
        && (octets != payload_bytes || streams != payload.len() as u64)
    {
        problems.push(PackageError::BagInfoInvalid {
            detail: format!(
                "Payload-Oxum says {octets}.{streams} but the payload is {payload_bytes}.{}",
                payload.len()
            ),
        });
    }
    datasets.sort_by_key(|d| specs.datasets.iter().position(|s| s.id == d.spec.id));
    curves.sort_by_key(|c| specs.curves.iter().position(|s| s.id == c.spec.id));

    // Step 10.
    let mut signatures = Vec::new();
    let sig_names: Vec<String> =
        zip.entries().filter(|e| e.kind == EntryKind::Signature).map(|e| e.name.clone()).collect();
    for name in sig_names {
        match zip.read_metadata(&name) {
            Ok(Some(bytes)) => signatures.push(check_signature(&name, &bytes, &digest)),
            Ok(None) => {}
            Err(e) => problems.push(e),
        }
    }

    if !problems.is_empty() {
        return Err(Rejection { problems });
    }
    Ok(VerifiedPackage { digest, manifest, manifest_bytes, datasets, curves, files, signatures, payload_bytes })
}

/// A reader reporting the bytes read through it.
struct Counted<'p, R> {
    inner: R,
    progress: &'p mut dyn FnMut(u64),
}

impl<R: io::Read> io::Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
}

fn with(mut problems: Vec<PackageError>, last: PackageError) -> Rejection {
    problems.push(last);
    Rejection { problems }
}

/// Refuses JSON nested deeper than `max` before any parser sees it.
pub fn check_json_depth(file: &str, bytes: &[u8], max: usize) -> Result<(), PackageError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return Err(PackageError::JsonTooDeep { file: file.to_owned(), max });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_depth() {
        assert!(check_json_depth("x", br#"{"a":[1,{"b":"[[[[["}]}"#, 3).is_ok());
        assert!(check_json_depth("x", b"[[[[1]]]]", 3).is_err());
        assert!(check_json_depth("x", br#"{"a":"\"[[[["}"#, 1).is_ok());
    }
}

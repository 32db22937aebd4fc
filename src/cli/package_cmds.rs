//! The lab's offline commands: keygen, check, pack, sign, verify.

use std::path::Path;

use serde_json::json;

use super::Outcome;
use crate::package::signing::{SignatureStatus, TrustSet, encode_public_key};
use crate::package::template;
use crate::package::vocabulary::MaterialClass;
use crate::package::{
    Compression, Limits, PackageError, Rejection, SecretKey, check_dir, pack_checked, sign_package, verify_file,
    verify_file_with_progress,
};

fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

fn problems_json(rejection: &Rejection) -> serde_json::Value {
    json!(
        rejection
            .problems
            .iter()
            .map(|p| match p.field_path() {
                Some(field) => json!({"code": p.code(), "field": field, "message": p.to_string()}),
                None => json!({"code": p.code(), "message": p.to_string()}),
            })
            .collect::<Vec<_>>()
    )
}

fn print_problems(what: &str, rejection: &Rejection) {
    eprintln!("{what}: {} problem(s)", rejection.problems.len());
    for p in &rejection.problems {
        eprintln!("  [{}] {}", p.code(), p);
    }
}

pub(super) fn keygen(out: &Path, comment: Option<&str>, json: bool) -> Outcome {
    let key = SecretKey::generate();
    if let Err(e) = key.write(out, comment) {
        eprintln!("error: {e}");
        return Outcome::Failed;
    }
    let public_key = encode_public_key(&key.public_key());
    if json {
        print_json(
            &json!({"key_id": key.key_id().as_str(), "public_key": public_key, "secret_key_file": out.display().to_string()}),
        );
    } else {
        println!("secret key written to {} (mode 0600; keep it private)", out.display());
        println!("key id:     {}", key.key_id());
        println!("public key: {public_key}");
        println!("Register the public key with your registry operator before signing packages.");
    }
    Outcome::Ok
}

/// `prequal init`: writes a template source folder.
pub(super) fn init(dir: &Path, class: Option<MaterialClass>, from: Option<&Path>, json: bool) -> Outcome {
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        eprintln!("error: {} exists and is not empty; give a new folder", dir.display());
        return Outcome::Failed;
    }
    if dir.is_file() {
        eprintln!("error: {} is a file; give a new folder", dir.display());
        return Outcome::Failed;
    }
    let today = humantime::format_rfc3339(std::time::SystemTime::now()).to_string();
    let today = today.get(..10).unwrap_or("2026-01-01");
    let t = match from {
        Some(package) => {
            let verified = match verify_file(package, Limits::default()) {
                Ok(v) => v,
                Err(rejection) => {
                    return report_refusal(&format!("cannot start from {}", package.display()), &rejection, json);
                }
            };
            if let Some(c) = class.filter(|c| *c != verified.manifest().material.class) {
                eprintln!(
                    "error: {} describes a {} material, not {}; leave out --class to keep the package's",
                    package.display(),
                    verified.manifest().material.class.as_str(),
                    c.as_str()
                );
                return Outcome::Failed;
            }
            template::from_manifest(verified.manifest(), today)
        }
        None => match class {
            Some(c) => template::for_class(c, today),
            None => {
                eprintln!("error: give --class permanent_magnet|battery_cell or --from PACKAGE");
                return Outcome::Failed;
            }
        },
    };
    let mut written = Vec::new();
    let mut write = |rel: &str, bytes: &[u8]| -> std::io::Result<()> {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, bytes)?;
        written.push(rel.to_owned());
        Ok(())
    };
    let mut manifest = serde_json::to_vec_pretty(&t.manifest).unwrap_or_default();
    manifest.push(b'\n');
    let result = write("prequal.json", &manifest)
        .and_then(|()| write("README.md", t.readme.as_bytes()))
        .and_then(|()| t.files.iter().try_for_each(|(rel, content)| write(rel, content.as_bytes())));
    if let Err(e) = result {
        eprintln!("error: writing {}: {e}", dir.display());
        return Outcome::Failed;
    }
    if json {
        print_json(&json!({"dir": dir.display().to_string(), "files": written}));
    } else {
        println!("started {}:", dir.display());
        for f in &written {
            println!("  {f}");
        }
        println!("Fill in every FILL IN value of prequal.json (README.md explains each field) and the CSV rows,");
        println!("then: prequal check {}", dir.display());
    }
    Outcome::Ok
}

/// `prequal check DIR`: every problem of a source directory, without writing anything.
pub(super) fn check(dir: &Path, json: bool, limits: Limits) -> Outcome {
    match check_dir(dir, limits) {
        Ok(checked) => {
            let m = checked.manifest();
            if json {
                print_json(&json!({
                    "ok": true,
                    "source": dir.display().to_string(),
                    "name": m.name,
                    "version": m.version,
                    "datasets": checked.datasets,
                    "measurements": checked.measurements,
                    "curves": checked.curves,
                    "curve_points": checked.curve_points,
                    "problems": [],
                }));
            } else {
                println!("{}: no problems found", dir.display());
                println!(
                    "  {} {}: {} datasets, {} measurements",
                    m.name, m.version, checked.datasets, checked.measurements
                );
                if checked.curves > 0 {
                    println!("  {} demagnetisation curves, {} points", checked.curves, checked.curve_points);
                }
                println!("Next: prequal pack {} --out {}-{}.zip", dir.display(), m.name, m.version);
            }
            Outcome::Ok
        }
        Err(rejection) => report_refusal(&format!("{} has problems", dir.display()), &rejection, json),
    }
}

pub(super) fn pack(dir: &Path, out: &Path, store: bool, key: Option<&Path>, json: bool, limits: Limits) -> Outcome {
    let compression = if store { Compression::Stored } else { Compression::Deflated };
    // The key is read first: a wrong key file fails before anything is written.
    let key = match key.map(SecretKey::read).transpose() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::Failed;
        }
    };
    if dir.is_file() {
        eprintln!(
            "error: {} is a file; `prequal pack` takes the source folder holding prequal.json (`prequal init` starts one)",
            dir.display()
        );
        return Outcome::Failed;
    }
    let checked = match check_dir(dir, limits) {
        Ok(c) => c,
        Err(rejection) => return report_refusal(&format!("cannot pack {}", dir.display()), &rejection, json),
    };
    let total = source_bytes(dir);
    // Every payload byte is read twice: hashed, then written.
    let bar = super::progress::bar(total.saturating_mul(2), "packing", json);
    let packed = pack_checked(dir, out, compression, &checked, &mut |n| bar.inc(n));
    bar.finish_and_clear();
    match packed {
        Ok(summary) => {
            let signed = match &key {
                Some(key) => match sign_package(out, key, limits) {
                    Ok((_, entry)) => Some((key.key_id().as_str().to_owned(), entry)),
                    Err(rejection) => {
                        return report_refusal(&format!("cannot sign {}", out.display()), &rejection, json);
                    }
                },
                None => None,
            };
            if json {
                print_json(&json!({
                    "package": out.display().to_string(),
                    "digest": summary.digest.to_string(),
                    "payload_files": summary.payload_files,
                    "payload_bytes": summary.payload_bytes,
                    "datasets": summary.datasets,
                    "measurements": summary.measurements,
                    "curves": summary.curves,
                    "curve_points": summary.curve_points,
                    "signature": signed.as_ref().map(|(key_id, file)| json!({"key_id": key_id, "signature_file": file})),
                }));
            } else {
                println!("packed {} -> {}", dir.display(), out.display());
                println!(
                    "  {} datasets, {} measurements, {} payload files, {} bytes",
                    summary.datasets, summary.measurements, summary.payload_files, summary.payload_bytes
                );
                if summary.curves > 0 {
                    println!("  {} demagnetisation curves, {} points", summary.curves, summary.curve_points);
                }
                println!("  digest {}", summary.digest);
                match &signed {
                    Some((key_id, file)) => {
                        println!("signed with key {key_id}: {file}");
                        println!("Next: prequal verify {} --trust KEYS.json, then prequal push", out.display());
                    }
                    None => println!("Next: prequal sign {} --key YOUR-KEY", out.display()),
                }
            }
            Outcome::Ok
        }
        Err(rejection) => report_refusal(&format!("cannot pack {}", dir.display()), &rejection, json),
    }
}

/// Bytes of the regular files below `dir`, for the progress bar's length.
fn source_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => source_bytes(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

pub(super) fn sign(package: &Path, key_path: &Path, json: bool, limits: Limits) -> Outcome {
    let key = match SecretKey::read(key_path) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::Failed;
        }
    };
    if let Some(hint) = not_a_package_hint(package) {
        eprintln!("error: {hint}");
        return Outcome::Failed;
    }
    match sign_package(package, &key, limits) {
        Ok((digest, entry)) => {
            if json {
                print_json(
                    &json!({"package": package.display().to_string(), "digest": digest.to_string(), "key_id": key.key_id().as_str(), "signature_file": entry}),
                );
            } else {
                println!("signed {} with key {}", package.display(), key.key_id());
                println!("  digest {digest} (unchanged)");
                println!("  signature {entry}");
            }
            Outcome::Ok
        }
        Err(rejection) => {
            report_refusal(&format!("cannot sign {}: it does not verify", package.display()), &rejection, json)
        }
    }
}

/// When `path` is plainly not a package file (a folder, or a file that is not a zip), what to do
/// instead.
pub(super) fn not_a_package_hint(path: &Path) -> Option<String> {
    let shown = path.display();
    if path.is_dir() {
        return Some(format!("{shown} is a folder: run `prequal pack {shown} --out PKG.zip` first, then use PKG.zip"));
    }
    let mut magic = [0u8; 4];
    let is_zip = std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic)).is_ok()
        && magic == *b"PK\x03\x04";
    (path.is_file() && !is_zip).then(|| {
        format!(
            "{shown} is not a package (.zip): build one from a source folder with `prequal pack DIR --out PKG.zip` first"
        )
    })
}

fn report_refusal(what: &str, rejection: &Rejection, json: bool) -> Outcome {
    if rejection.problems.iter().all(|p| matches!(p, PackageError::Io { .. })) {
        print_problems(what, rejection);
        return Outcome::Failed;
    }
    if json {
        print_json(&json!({"ok": false, "problems": problems_json(rejection)}));
    }
    print_problems(what, rejection);
    Outcome::Refused
}

/// The verification report groups problems by the check they belong to.
const CHECKS: &[(&str, &str)] = &[
    ("container", "zip container (paths, sizes, limits, headers)"),
    ("bag", "BagIt structure and hashes"),
    ("manifest", "prequal.json and RO-Crate metadata"),
    ("datasets", "dataset and curve CSV files"),
    ("signatures", "signatures"),
];

fn check_of(p: &PackageError) -> &'static str {
    use PackageError::*;
    match p {
        BagitTxtInvalid { .. }
        | BagInfoInvalid { .. }
        | PayloadManifestInvalid { .. }
        | TagManifestInvalid { .. }
        | FileNotInManifest { .. }
        | HashMismatch { .. } => "bag",
        FileMissing { manifest, .. } if manifest.ends_with(".txt") => "bag",
        MetadataTooLarge { .. }
        | JsonTooDeep { .. }
        | JsonInvalid { .. }
        | ManifestFieldMissing { .. }
        | ManifestFieldUnknown { .. }
        | ManifestFieldType { .. }
        | ManifestFieldInvalid { .. }
        | UnknownProperty { .. }
        | UnknownCondition { .. }
        | UnknownUnit { .. }
        | UnitIncompatible { .. }
        | RoCrateInvalid { .. }
        | UnreferencedFile { .. }
        | FileMissing { .. } => "manifest",
        CsvNotNumeric { .. }
        | CsvInvalid { .. }
        | UnknownBatch { .. }
        | CurveTooFewPoints { .. }
        | CurveInconsistent { .. } => "datasets",
        SignatureFileInvalid { .. } => "signatures",
        _ => "container",
    }
}

/// The evidence-bundle options of `prequal verify`.
pub(super) struct EvidenceArgs {
    pub log_key: Option<String>,
    pub witnesses: Vec<String>,
    pub quorum: Option<usize>,
}

pub(super) fn verify(
    package: &Path,
    evidence: &EvidenceArgs,
    trust_path: Option<&Path>,
    allow_unsigned: bool,
    json: bool,
    limits: Limits,
) -> Outcome {
    let trust = match trust_path.map(TrustSet::read).transpose() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::Failed;
        }
    };
    if crate::audit::evidence::looks_like_bundle(package) {
        return verify_bundle(package, evidence, trust.as_ref(), allow_unsigned, json, limits);
    }
    if evidence.log_key.is_some() || !evidence.witnesses.is_empty() || evidence.quorum.is_some() {
        eprintln!(
            "error: --log-key, --witness and --quorum apply to evidence bundles; {} is a package",
            package.display()
        );
        return Outcome::Failed;
    }
    if package.is_dir() {
        eprintln!(
            "error: {} is a folder: `prequal check {}` checks a source folder; `prequal verify` takes a package (.zip)",
            package.display(),
            package.display()
        );
        return Outcome::Failed;
    }
    // The bar counts payload bytes as they are hashed: its length is their uncompressed total
    // (read from the central directory; a package that does not open gets no bar).
    let size = crate::package::zipread::SafeZip::open(package, limits).map_or(0, |zip| {
        zip.entries().filter(|e| e.kind == crate::package::zipread::EntryKind::Payload).map(|e| e.size).sum()
    });
    let bar = super::progress::bar(size, "verifying", json);
    let result = verify_file_with_progress(package, limits, &mut |n| bar.inc(n));
    bar.finish_and_clear();
    let rejection = match result {
        Ok(verified) => return report_verified(package, &verified, trust.as_ref(), allow_unsigned, json, None),
        Err(r) => r,
    };
    if rejection.problems.iter().all(|p| matches!(p, PackageError::Io { .. })) {
        print_problems(&format!("cannot read {}", package.display()), &rejection);
        return Outcome::Failed;
    }
    if json {
        let checks: Vec<_> = CHECKS
            .iter()
            .map(|(name, _)| {
                let mine: Vec<_> = rejection.problems.iter().filter(|p| check_of(p) == *name).map(|p| json!({"code": p.code(), "message": p.to_string()})).collect();
                json!({"check": name, "status": if mine.is_empty() { "not_failed" } else { "failed" }, "problems": mine})
            })
            .collect();
        print_json(
            &json!({"ok": false, "package": package.display().to_string(), "checks": checks, "problems": problems_json(&rejection)}),
        );
    } else {
        println!("{}: REJECTED", package.display());
        for (name, title) in CHECKS {
            let mine: Vec<_> = rejection.problems.iter().filter(|p| check_of(p) == *name).collect();
            if mine.is_empty() {
                println!("  -  {title}: no problem found (verification stopped or continued past it)");
            } else {
                println!("  ✗  {title}");
                for p in mine {
                    println!("       [{}] {}", p.code(), p);
                }
            }
        }
    }
    Outcome::Refused
}

fn verify_bundle(
    path: &Path,
    args: &EvidenceArgs,
    trust: Option<&TrustSet>,
    allow_unsigned: bool,
    json: bool,
    limits: Limits,
) -> Outcome {
    use crate::audit::evidence::{EvidenceError, EvidencePolicy, verify_bundle};
    let Some(log_key) = args.log_key.as_deref() else {
        eprintln!("error: {} is an evidence bundle: give the log's verifier key with --log-key", path.display());
        return Outcome::Failed;
    };
    let policy = super::log_cmds::parse_log_key(log_key).and_then(|log_key| {
        let witnesses = super::log_cmds::parse_witnesses(&args.witnesses)?;
        let quorum = args.quorum.unwrap_or_else(|| crate::log::cosignature::distinct_keys(&witnesses));
        Ok(EvidencePolicy { log_key, witnesses, quorum })
    });
    let policy = match policy {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::Failed;
        }
    };
    let verified = match verify_bundle(path, &policy, limits) {
        Ok(v) => v,
        Err(e) => {
            let problems = match &e {
                EvidenceError::Package(r) => problems_json(r),
                other => json!([{"code": other.code(), "message": other.to_string()}]),
            };
            if json {
                print_json(
                    &json!({"ok": false, "bundle": path.display().to_string(), "code": e.code(), "message": e.to_string(), "problems": problems}),
                );
            } else {
                println!("{}: REJECTED", path.display());
                println!("  ✗  [{}] {e}", e.code());
                if let EvidenceError::Package(r) = &e {
                    for p in &r.problems {
                        println!("       [{}] {}", p.code(), p);
                    }
                }
            }
            return if matches!(e, EvidenceError::Unreadable { .. }) { Outcome::Failed } else { Outcome::Refused };
        }
    };
    let cp = verified.checkpoint();
    let evidence = json!({
        "origin": cp.origin,
        "tree_size": cp.size,
        "leaf_index": verified.leaf_index(),
        "sealed": verified.sealed(),
        "quorum": policy.quorum,
        "cosigners": verified.cosignatures().iter().map(|c| json!({"witness": c.witness.to_string(), "timestamp": c.timestamp})).collect::<Vec<_>>(),
    });
    // With --json the evidence goes into the package report, one document.
    if !json {
        println!("{}: evidence bundle", path.display());
        println!(
            "  ✓  logged: entry {} of {} is this package's{} (inclusion proof to the checkpoint's root)",
            verified.leaf_index(),
            cp.origin,
            if verified.sealed() { ", sealed and opened" } else { "" }
        );
        println!("  ✓  checkpoint of size {} signed by the log key", cp.size);
        println!(
            "  ✓  cosigned by {} of the named witnesses (quorum {})",
            verified.cosignatures().len(),
            policy.quorum
        );
        for c in verified.cosignatures() {
            println!("       {} at {}", c.witness, super::log_cmds::secs_to_time(c.timestamp));
        }
    }
    report_verified(path, verified.package(), trust, allow_unsigned, json, Some(evidence))
}

fn report_verified(
    package: &Path,
    v: &crate::package::VerifiedPackage,
    trust: Option<&TrustSet>,
    allow_unsigned: bool,
    json: bool,
    evidence: Option<serde_json::Value>,
) -> Outcome {
    let m = v.manifest();
    let measurements: usize = v.datasets().iter().map(|d| d.measurements.len()).sum();
    let mut sig_rows = Vec::new();
    let mut all_ok = true;
    for sig in v.signatures() {
        let (status, who) = match trust {
            Some(t) => {
                let (status, key) = t.assess(sig);
                (status, key.map(|k| (k.organisation.clone(), k.role.clone())))
            }
            None if sig.is_cryptographically_valid() => (SignatureStatus::UnknownKey, None),
            None => (SignatureStatus::Invalid, None),
        };
        // Without a trust set, a cryptographically valid signature is reported as from an
        // unknown key but does not fail verification: the signer simply was not checked.
        let ok = status == SignatureStatus::Valid || (trust.is_none() && status == SignatureStatus::UnknownKey);
        all_ok &= ok;
        sig_rows.push((sig, status, who, ok));
    }
    let unsigned = v.signatures().is_empty();
    if unsigned && !allow_unsigned {
        all_ok = false;
    }
    if json {
        let mut report = json!({
            "ok": all_ok,
            "package": package.display().to_string(),
            "digest": v.digest().to_string(),
            "name": m.name,
            "version": m.version,
            "material": {"class": m.material.class.as_str(), "designation": m.material.designation, "family": m.material.family},
            "synthetic": m.synthetic,
            "checks": CHECKS.iter().map(|(name, _)| json!({"check": name, "status": if *name == "signatures" { if all_ok {"passed"} else {"failed"} } else {"passed"}})).collect::<Vec<_>>(),
            "datasets": v.datasets().iter().map(|d| json!({"id": d.spec.id, "property": d.spec.property, "unit": d.spec.unit, "measurements": d.measurements.len()})).collect::<Vec<_>>(),
            "curves": v.curves().iter().map(|c| json!({"id": c.spec.id, "kind": c.spec.kind.as_str(), "temperature_c": c.spec.temperature_c, "points": c.points.len()})).collect::<Vec<_>>(),
            "signatures": sig_rows.iter().map(|(sig, status, who, _)| json!({
                "file": sig.file,
                "key_id": sig.key_id.as_ref().map(|k| k.as_str()),
                "status": status,
                "organisation": who.as_ref().map(|w| w.0.as_str()),
                "role": who.as_ref().map(|w| w.1.as_str()),
                "detail": sig.problem,
            })).collect::<Vec<_>>(),
            "trust_checked": trust.is_some(),
        });
        if let (Some(e), Some(obj)) = (evidence, report.as_object_mut()) {
            obj.insert("evidence".into(), e);
        }
        print_json(&report);
    } else {
        println!("{}: {}", package.display(), if all_ok { "VERIFIED" } else { "REJECTED" });
        println!("  ✓  zip container: {} payload files, {} bytes", v.files().len(), v.payload_bytes());
        println!("  ✓  BagIt structure and hashes: digest {}", v.digest());
        println!(
            "  ✓  prequal.json: {} {} — {} {} ({}){}",
            m.name,
            m.version,
            m.material.family,
            m.material.designation,
            m.material.class.as_str(),
            if m.synthetic { ", SYNTHETIC data" } else { "" }
        );
        println!("  ✓  dataset CSV files: {} datasets, {measurements} measurements", v.datasets().len());
        if !v.curves().is_empty() {
            let points: usize = v.curves().iter().map(|c| c.points.len()).sum();
            println!("  ✓  demagnetisation curve CSV files: {} curves, {points} points", v.curves().len());
        }
        if unsigned {
            println!(
                "  {}  signatures: none{}",
                if allow_unsigned { "-" } else { "✗" },
                if allow_unsigned { " (allowed by --allow-unsigned)" } else { "; sign with `prequal sign`" }
            );
        }
        for (sig, status, who, ok) in &sig_rows {
            let mark = if *ok { "✓" } else { "✗" };
            let key = sig.key_id.as_ref().map_or("?", |k| k.as_str());
            let status_text = match status {
                SignatureStatus::Valid => "valid".to_owned(),
                SignatureStatus::Invalid => {
                    format!("INVALID: {}", sig.problem.as_deref().unwrap_or("public key differs from the trust set"))
                }
                SignatureStatus::UnknownKey if trust.is_none() => {
                    "cryptographically valid; signer not checked (no --trust given)".to_owned()
                }
                SignatureStatus::UnknownKey => "UNKNOWN KEY: not in the trust set".to_owned(),
                SignatureStatus::RevokedKey => "REVOKED KEY".to_owned(),
            };
            let whom = who.as_ref().map(|(o, r)| format!(" ({o}, {r})")).unwrap_or_default();
            println!("  {mark}  signature {key}{whom}: {status_text}");
        }
    }
    if all_ok { Outcome::Ok } else { Outcome::Refused }
}

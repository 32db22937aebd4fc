#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The committed sample packages are exactly what their sources and test keys produce, and each
//! verifies with valid signatures from the organisations `samples.json` names.

use std::path::{Path, PathBuf};

use prequal::package::signing::SignatureStatus;
use prequal::package::{Compression, Limits, SecretKey, TrustSet, pack_dir, sign_package, verify_file};

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-packages")
}

#[test]
fn committed_sample_packages_rebuild_byte_identically_and_verify() {
    let dir = samples_dir();
    let catalog: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("samples.json")).unwrap()).unwrap();
    let trust = TrustSet::read(&dir.join("keys/test-trust.json")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let key_of = |org: &str| -> SecretKey {
        let orgs = catalog["organisations"].as_array().unwrap();
        let o = orgs.iter().find(|o| o["id"] == org).unwrap();
        SecretKey::read(&dir.join(o["secret_key"].as_str().unwrap())).unwrap()
    };
    let packages = catalog["packages"].as_array().unwrap();
    assert!(packages.len() >= 6);
    for p in packages {
        let source = dir.join(p["source"].as_str().unwrap());
        let committed = dir.join(p["package"].as_str().unwrap());
        let rebuilt = tmp.path().join(committed.file_name().unwrap());
        pack_dir(&source, &rebuilt, Compression::Deflated, Limits::default()).unwrap();
        let signers: Vec<&str> = p["signers"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        for signer in &signers {
            sign_package(&rebuilt, &key_of(signer), Limits::default()).unwrap();
        }
        assert!(
            std::fs::read(&rebuilt).unwrap() == std::fs::read(&committed).unwrap(),
            "{} differs from a rebuild of {}; run sample-packages/build.sh",
            committed.display(),
            source.display()
        );
        let verified = verify_file(&committed, Limits::default()).unwrap();
        assert!(verified.manifest().synthetic);
        assert_eq!(verified.signatures().len(), signers.len());
        for sig in verified.signatures() {
            let (status, key) = trust.assess(sig);
            assert_eq!(status, SignatureStatus::Valid, "{}", committed.display());
            assert!(signers.contains(&key.unwrap().organisation.as_str()));
        }
    }
}

/// The N42SH sample's demagnetisation curves survive pack → verify: every point as written in the
/// source, listed in the RO-Crate, and physically the curves of the specimens they name (J at
/// H = 0 is the specimen's Br in the remanence dataset, J = 0 at H = -HcJ, B = μ0·H + J).
#[test]
fn sample_curves_round_trip_through_pack_and_verify() {
    let source = samples_dir().join("sources/ndfeb-n42sh-baseline");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("n42sh.zip");
    let summary = pack_dir(&source, &out, Compression::Stored, Limits::default()).unwrap();
    assert_eq!((summary.curves, summary.curve_points), (3, 3 * 3 * 41));
    let verified = verify_file(&out, Limits::default()).unwrap();
    assert_eq!(*verified.digest(), summary.digest);
    let temperatures: Vec<Option<f64>> = verified.curves().iter().map(|c| c.spec.temperature_c).collect();
    assert_eq!(temperatures, [Some(20.0), Some(150.0), Some(180.0)]);

    let remanence = &verified.datasets().iter().find(|d| d.spec.id == "remanence").unwrap().measurements;
    let hcj = &verified.datasets().iter().find(|d| d.spec.id == "hcj").unwrap().measurements;
    let mu0 = 4e-7 * std::f64::consts::PI;
    for curve in verified.curves() {
        let text = std::fs::read_to_string(source.join(&curve.spec.file)).unwrap();
        assert_eq!(curve.points.len(), text.lines().count() - 1, "{}", curve.spec.id);
        let specimens: std::collections::BTreeSet<&str> = curve.points.iter().map(|p| p.specimen.as_str()).collect();
        assert_eq!(specimens.len(), 3, "one specimen per lot");
        for specimen in specimens {
            let points: Vec<_> = curve.points.iter().filter(|p| p.specimen == specimen).collect();
            let br = remanence.iter().find(|m| m.specimen == specimen).unwrap().value;
            let hc = hcj.iter().find(|m| m.specimen == specimen).unwrap().value;
            let (first, last) = (points[0], points[points.len() - 1]);
            assert_eq!((first.h, first.j), (0.0, Some(br)), "{specimen}: J(0) = Br");
            assert_eq!((last.h, last.j), (-hc, Some(0.0)), "{specimen}: J(-HcJ) = 0");
            for p in &points {
                let (j, b) = (p.j.unwrap(), p.b.unwrap());
                assert!((b - (mu0 * p.h * 1000.0 + j)).abs() < 2e-4, "{specimen} at H = {}", p.h);
                assert!(j <= br + 1e-9 && p.h <= 0.0, "second quadrant, J below Br");
            }
            assert!(points.windows(2).all(|w| w[1].h < w[0].h && w[1].j <= w[0].j), "{specimen}: monotonic");
        }
    }

    // The RO-Crate lists each curve file as a File, like a dataset.
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut doc = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("data/ro-crate-metadata.json").unwrap(), &mut doc).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let graph = doc["@graph"].as_array().unwrap();
    for file in ["curves/demag-20.csv", "curves/demag-150.csv", "curves/demag-180.csv"] {
        let entity = graph.iter().find(|e| e["@id"] == file).unwrap_or_else(|| panic!("{file} not in the crate"));
        assert_eq!(entity["@type"], "File");
        assert_eq!(entity["encodingFormat"], "text/csv");
        assert!(entity["name"].as_str().unwrap().contains("demagnetisation curves"));
        let root = graph.iter().find(|e| e["@id"] == "./").unwrap();
        assert!(root["hasPart"].as_array().unwrap().iter().any(|p| p["@id"] == file));
    }
}

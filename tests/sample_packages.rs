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

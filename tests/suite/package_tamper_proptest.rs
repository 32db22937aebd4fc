#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Any single-byte change to any entry of a signed package is detected, and every sample source
//! round-trips through pack, sign and verify reproducibly.
//!
//! The tampered packages are re-zipped consistently (fresh CRCs and sizes), so only the content
//! changes and the bag hashes and signatures are what must notice.

use crate::common;

use std::sync::OnceLock;

use common::{PackageEntries, sample_source, sample_source_names, signed_package, test_key};
use prequal::package::{Compression, Limits, PackageDigest, pack_dir, sign_package, verify_file};
use proptest::prelude::*;
use proptest::sample::Index;

struct Base {
    entries: PackageEntries,
    digest: PackageDigest,
}

/// The baseline sample signed with `test_key(1)`, read into memory once.
fn base() -> &'static Base {
    static BASE: OnceLock<Base> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = signed_package(dir.path());
        let verified = verify_file(&path, Limits::default()).unwrap();
        assert!(verified.signatures().iter().all(|s| s.is_cryptographically_valid()));
        Base { entries: PackageEntries::read(&path), digest: *verified.digest() }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_single_byte_change_is_detected(entry in any::<Index>(), offset in any::<Index>(), mask in 1u8..=255) {
        let base = base();
        let (name, content) = entry.get(&base.entries.entries).clone();
        prop_assume!(!content.is_empty());
        let at = offset.index(content.len());
        let mut changed = content.clone();
        changed[at] ^= mask;
        let mut entries = base.entries.clone();
        entries.set(&name, changed.clone());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tampered.zip");
        entries.write(&path);
        let verified = match verify_file(&path, Limits::default()) {
            // Refused: detected.
            Err(_) => return Ok(()),
            Ok(verified) => verified,
        };

        // Accepted: then some signature must no longer be valid for what the package now says.
        let broken = verified.signatures().iter().any(|s| !s.is_cryptographically_valid());
        if name.starts_with("signatures/") {
            // Signature files are outside the digest. A change that leaves the JSON value equal
            // (whitespace for whitespace) changes nothing a verifier reads; any other change
            // must invalidate the signature.
            let before: serde_json::Value = serde_json::from_slice(&content).unwrap();
            let same_meaning = serde_json::from_slice::<serde_json::Value>(&changed).is_ok_and(|after| after == before);
            prop_assert!(broken || same_meaning, "{name}[{at}] ^= {mask:#04x} went unnoticed");
            if same_meaning {
                prop_assert!(!broken);
                prop_assert_eq!(*verified.digest(), base.digest);
            }
        } else {
            // Everything else is covered by the digest: if the package still verifies, its digest
            // changed (the tag manifest's own bytes, e.g. hex case) and the signature over the
            // old digest no longer verifies.
            prop_assert!(broken, "{name}[{at}] ^= {mask:#04x} went unnoticed");
            prop_assert_ne!(*verified.digest(), base.digest);
        }
    }
}

#[test]
fn every_sample_packs_signs_and_verifies_reproducibly() {
    let names = sample_source_names();
    assert!(names.len() >= 6, "{names:?}");
    let dir = tempfile::tempdir().unwrap();
    for name in &names {
        let source = sample_source(name);
        let first = dir.path().join(format!("{name}-1.zip"));
        let second = dir.path().join(format!("{name}-2.zip"));
        let stored = dir.path().join(format!("{name}-stored.zip"));
        let packed = pack_dir(&source, &first, Compression::Deflated, Limits::default()).unwrap();
        let again = pack_dir(&source, &second, Compression::Deflated, Limits::default()).unwrap();
        assert!(
            std::fs::read(&first).unwrap() == std::fs::read(&second).unwrap(),
            "{name}: packing is not reproducible"
        );
        assert_eq!(packed.digest, again.digest);

        // The zip's own bytes may differ (compression), the digest may not.
        let stored_summary = pack_dir(&source, &stored, Compression::Stored, Limits::default()).unwrap();
        assert!(std::fs::read(&first).unwrap() != std::fs::read(&stored).unwrap());
        assert_eq!(stored_summary.digest, packed.digest, "{name}: digest depends on compression");

        let (signed, _) = sign_package(&first, &test_key(1), Limits::default()).unwrap();
        sign_package(&second, &test_key(1), Limits::default()).unwrap();
        assert!(
            std::fs::read(&first).unwrap() == std::fs::read(&second).unwrap(),
            "{name}: signing is not reproducible"
        );
        assert_eq!(signed, packed.digest);

        for path in [&first, &stored] {
            let verified = verify_file(path, Limits::default()).unwrap();
            assert_eq!(*verified.digest(), packed.digest, "{name}");
            assert_eq!(verified.datasets().len(), packed.datasets, "{name}");
            assert_eq!(
                verified.datasets().iter().map(|d| d.measurements.len()).sum::<usize>(),
                packed.measurements,
                "{name}"
            );
            assert_eq!(verified.payload_bytes(), packed.payload_bytes, "{name}");
            assert_eq!(verified.files().len(), packed.payload_files, "{name}");
        }
        let verified = verify_file(&first, Limits::default()).unwrap();
        assert_eq!(verified.signatures().len(), 1);
        assert!(
            verified.signatures()[0].is_cryptographically_valid(),
            "{name}: {:?}",
            verified.signatures()[0].problem
        );
    }
}

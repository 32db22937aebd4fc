//! The package reader on arbitrary bytes: the container checks of `SafeZip`, then every step of
//! `verify_file` (bag files, manifest, RO-Crate, streamed hashes, CSVs, signatures), and the
//! registry's curve reader for stored packages. The only acceptable outcomes are a verified
//! package or a rejection; a panic, a hang or an allocation past the RSS limit is a finding.
//!
//! The readers take a path (the registry streams uploads to disk first), so each input is written
//! to one scratch file per process.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use prequal::package::{Limits, curve, verify_file};

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| std::env::temp_dir().join(format!("prequal-fuzz-package-{}.zip", std::process::id())))
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    if std::fs::write(path, data).is_err() {
        return;
    }
    let limits = Limits::default();
    if let Err(rejection) = verify_file(path, limits) {
        // Every refusal carries problems with stable codes.
        assert!(!rejection.problems.is_empty(), "a rejection without problems");
        for problem in &rejection.problems {
            assert!(!problem.code().is_empty());
            let _ = problem.to_string();
        }
    }
    let _ = curve::read_stored(path, limits);
});

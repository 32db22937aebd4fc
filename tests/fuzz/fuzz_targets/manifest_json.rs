//! `data/prequal.json` and `data/ro-crate-metadata.json` as the verifier reads them: the depth
//! check, the manifest schema (serde), every rule of `Manifest::resolve`, and the RO-Crate
//! structure check. A manifest that parses must also survive canonical serialisation.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use prequal::package::manifest::Manifest;
use prequal::package::rocrate;
use prequal::package::verify::check_json_depth;

fuzz_target!(|data: &[u8]| {
    if check_json_depth("prequal.json", data, 64).is_err() {
        return;
    }
    if let Ok(manifest) = Manifest::from_json("prequal.json", data) {
        let (specs, problems) = manifest.resolve();
        for p in &problems {
            assert!(!p.code().is_empty());
            let _ = p.to_string();
        }
        let _ = specs;
        let canonical = manifest.to_canonical_json();
        assert!(Manifest::from_json("prequal.json", &canonical).is_ok(), "canonical JSON does not parse back");
    }
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) {
        let payload: BTreeSet<String> = ["datasets/a.csv".to_owned(), "prequal.json".to_owned()].into();
        let _ = rocrate::check(&doc, &payload);
    }
});

//! Dataset and curve CSV files as verification reads them, against the real specs of two sample
//! packages (a magnet with demagnetisation curves and a battery cell). An input is read as the
//! file of every dataset or curve whose value column its first line names, and of one more chosen
//! by its length, so every input reaches the reader without paying for all twenty specs each time.
#![no_main]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use prequal::package::manifest::{Manifest, Specs};
use prequal::package::{curve, dataset};

const MANIFESTS: [&str; 2] = [
    include_str!("../../../sample-packages/sources/ndfeb-n42sh-baseline/prequal.json"),
    include_str!("../../../sample-packages/sources/lfp-cell-prismatic/prequal.json"),
];

struct Target {
    specs: Specs,
    lots: BTreeSet<String>,
}

fn targets() -> &'static [Target] {
    static TARGETS: OnceLock<Vec<Target>> = OnceLock::new();
    TARGETS.get_or_init(|| {
        MANIFESTS
            .iter()
            .filter_map(|text| Manifest::from_json("prequal.json", text.as_bytes()).ok())
            .map(|m| Target { specs: m.resolve().0, lots: m.material.lots.iter().map(|l| l.id.clone()).collect() })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let targets = targets();
    assert_eq!(targets.len(), MANIFESTS.len(), "a sample manifest no longer parses");
    let header = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let names = |column: &str| header.windows(column.len().max(1)).any(|w| w == column.as_bytes());
    let total: usize = targets.iter().map(|t| t.specs.datasets.len() + t.specs.curves.len()).sum();
    let chosen = data.len() % total.max(1);
    let mut n = 0;
    let mut pick = |column: &str| {
        n += 1;
        n - 1 == chosen || names(column)
    };
    for t in targets {
        for spec in &t.specs.datasets {
            if !pick(&spec.columns.value) {
                continue;
            }
            let mut reader = data;
            if let Ok(Err(problems)) = dataset::read_csv(&mut reader, &spec.file, spec, &t.lots) {
                assert!(!problems.is_empty(), "a refused dataset without problems");
            }
        }
        for spec in &t.specs.curves {
            if !pick(&spec.columns.field) {
                continue;
            }
            let mut reader = data;
            if let Ok(Err(problems)) = curve::read_curve_csv(&mut reader, &spec.file, spec, &t.lots) {
                assert!(!problems.is_empty(), "a refused curve file without problems");
            }
        }
    }
});

//! The BagIt text files a package carries: `bagit.txt`, `bag-info.txt` (with Payload-Oxum) and the
//! payload and tag manifests. Each input is tried as every one of them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prequal::package::bagit::{self, BagInfo};

fuzz_target!(|data: &[u8]| {
    let _ = bagit::check_bagit_txt(data);
    if let Ok(info) = BagInfo::parse(data) {
        let _ = info.payload_oxum();
        // What prequal writes, it reads back the same.
        if info
            .fields
            .iter()
            .all(|(k, v)| !k.is_empty() && !k.contains(':') && !k.contains(['\n', '\r']) && !v.contains(['\n', '\r']))
        {
            let _ = BagInfo::parse(info.to_text().as_bytes());
        }
    }
    for tag in [false, true] {
        if let Ok(entries) = bagit::parse_manifest(data, tag) {
            let written = bagit::write_manifest(&entries);
            let again = bagit::parse_manifest(written.as_bytes(), tag);
            assert_eq!(again.as_ref().ok(), Some(&entries), "a parsed manifest does not survive writing:\n{written}");
        }
    }
});

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every hostile or malformed package is refused by `verify_file` with its own stable error code,
//! without a panic, and the message names the entry, file or line at fault. Container problems
//! come from [`common::HostileZip`] (byte-level control); bag, manifest and data problems from
//! [`common::PackageEntries`] (a valid package changed and re-zipped consistently, with the bag
//! hashes recomputed when a deeper check is the target). Signatures and trust verdicts at the end.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{
    BASELINE, FLAG_ENCRYPTED, HostileZip, METHOD_DEFLATED, PackageEntries, RawEntry, crc32, deflate, signed_package,
    signed_package_from, test_key,
};
use prequal::package::signing::{
    CheckedSignature, KeyStatus, SignatureStatus, TrustSet, TrustedKey, encode_public_key,
};
use prequal::package::{
    Compression, Limits, PackageError, Rejection, VerifiedPackage, pack_dir, sign_package, verify_file,
};
use serde_json::Value;
use tempfile::TempDir;

// --- fixtures ---

/// The baseline sample packed and signed with `test_key(1)`, built once.
fn base_bytes() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::read(signed_package(dir.path())).unwrap()
    })
}

struct Case {
    dir: TempDir,
    base: PathBuf,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.zip");
        std::fs::write(&base, base_bytes()).unwrap();
        Case { dir, base }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn entries(&self) -> PackageEntries {
        PackageEntries::read(&self.base)
    }

    fn hostile(&self) -> HostileZip {
        HostileZip::from_package(&self.base)
    }

    /// Writes `zip` and returns its path.
    fn write_zip(&self, zip: &HostileZip) -> PathBuf {
        let path = self.path("hostile.zip");
        zip.write(&path);
        path
    }

    fn write_entries(&self, entries: &PackageEntries) -> PathBuf {
        let path = self.path("changed.zip");
        entries.write(&path);
        path
    }

    fn write_bytes(&self, bytes: &[u8]) -> PathBuf {
        let path = self.path("bytes.zip");
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

fn refuse(path: &Path, limits: Limits) -> Rejection {
    match verify_file(path, limits) {
        Ok(_) => panic!("{} was accepted", path.display()),
        Err(rejection) => rejection,
    }
}

fn assert_mentions(rejection: &Rejection, mentions: &[&str]) {
    let text = rejection.to_string();
    for m in mentions {
        assert!(text.contains(m), "the message should mention {m:?}: {text}");
    }
}

/// Refused with `code` among its problems, and the message mentions each of `mentions`.
fn assert_refused(path: &Path, limits: Limits, code: &str, mentions: &[&str]) -> Rejection {
    let rejection = refuse(path, limits);
    assert!(rejection.has_code(code), "expected [{code}], got: {rejection}");
    assert_mentions(&rejection, mentions);
    rejection
}

/// Refused at the zip container: `code` is the one and only problem.
fn assert_container_refused(path: &Path, limits: Limits, code: &str, mentions: &[&str]) -> Rejection {
    let rejection = assert_refused(path, limits, code, mentions);
    assert_eq!(rejection.code(), code, "{rejection}");
    assert_eq!(rejection.problems.len(), 1, "{rejection}");
    rejection
}

/// Refused with `code` as the only problem: the intended check is the one that fired.
fn assert_only(path: &Path, code: &str, mentions: &[&str]) -> Rejection {
    let rejection = assert_refused(path, Limits::default(), code, mentions);
    assert!(rejection.problems.iter().all(|p| p.code() == code), "only [{code}] expected: {rejection}");
    rejection
}

fn limits() -> Limits {
    Limits::default()
}

// --- the fixtures themselves are sound ---

#[test]
fn the_base_package_and_its_rebuilds_verify() {
    let case = Case::new();
    let verified = verify_file(&case.base, limits()).unwrap();
    assert_eq!(verified.signatures().len(), 1);
    assert!(verified.signatures()[0].is_cryptographically_valid());

    // The byte-level builder reproduces a valid package: same content, same digest, signature
    // still valid. So every container test below differs from a valid package only by its fault.
    let rebuilt = case.write_zip(&case.hostile());
    let again = verify_file(&rebuilt, limits()).unwrap();
    assert_eq!(again.digest(), verified.digest());
    assert!(again.signatures()[0].is_cryptographically_valid());

    // The re-zipper too, including after recomputing the bag files of an unchanged payload.
    let mut entries = case.entries();
    let before = entries.clone();
    entries.refresh_bag();
    assert_eq!(entries, before, "refresh_bag must reproduce prequal's own bag files");
    let again = verify_file(&case.write_entries(&entries), limits()).unwrap();
    assert_eq!(again.digest(), verified.digest());
}

// --- the zip container ---

#[test]
fn random_bytes_are_not_a_zip() {
    let case = Case::new();
    let mut bytes = Vec::new();
    let mut x: u32 = 0x1234_5678;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes.push(x as u8);
    }
    assert_container_refused(&case.write_bytes(&bytes), limits(), "not_a_zip", &[]);
}

#[test]
fn an_empty_file_is_not_a_zip() {
    let case = Case::new();
    assert_container_refused(&case.write_bytes(&[]), limits(), "not_a_zip", &[]);
}

#[test]
fn a_package_cut_in_half_is_truncated() {
    let case = Case::new();
    let bytes = base_bytes();
    assert_container_refused(&case.write_bytes(&bytes[..bytes.len() / 2]), limits(), "truncated_zip", &[]);
}

#[test]
fn bytes_appended_after_the_end_are_refused() {
    let case = Case::new();
    let mut bytes = base_bytes().to_vec();
    bytes.extend_from_slice(b"#!/bin/sh\necho appended\n");
    assert_container_refused(&case.write_bytes(&bytes), limits(), "truncated_zip", &[]);

    // The same through the builder: a valid archive with trailing data.
    let mut zip = case.hostile();
    zip.append(&[0u8; 64]);
    assert_container_refused(&case.write_zip(&zip), limits(), "truncated_zip", &[]);
}

/// The base package with an archive comment of `comment` declared in its end record, followed by
/// `trailing` bytes.
fn with_comment(case: &Case, comment: &[u8], trailing: &[u8]) -> PathBuf {
    let mut bytes = base_bytes().to_vec();
    let end = bytes.len() - 22;
    assert_eq!(&bytes[end..end + 4], b"PK\x05\x06");
    bytes[end + 20..end + 22].copy_from_slice(&(comment.len() as u16).to_le_bytes());
    bytes.extend_from_slice(comment);
    bytes.extend_from_slice(trailing);
    case.write_bytes(&bytes)
}

#[test]
fn an_archive_comment_is_accepted_up_to_the_format_limit() {
    let case = Case::new();
    // Common zip tools write comments; a short one and the longest the format allows verify.
    verify_file(&with_comment(&case, b"lab export", b""), limits()).unwrap();
    verify_file(&with_comment(&case, &vec![b'c'; 65_535], b""), limits()).unwrap();
    // Bytes after the declared comment are still appended data.
    assert_container_refused(&with_comment(&case, b"lab export", b"#!/bin/sh\n"), limits(), "truncated_zip", &[]);
    // A comment that hides a second end record cannot make two readers see two archives.
    let mut fake_end = b"PK\x05\x06".to_vec();
    fake_end.extend_from_slice(&[0u8; 16]);
    fake_end.extend_from_slice(&0u16.to_le_bytes());
    let rejection = refuse(&with_comment(&case, &fake_end, b""), limits());
    assert!(rejection.has_code("header_mismatch") || rejection.has_code("truncated_zip"), "{rejection}");
}

#[test]
fn an_entry_the_payload_manifest_does_not_list_is_never_inflated() {
    let case = Case::new();
    // Its CRC is wrong: inflating it would report corrupt_entry. Only the listing is reported.
    let content: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let path =
        with_extra_entry(&case, RawEntry::deflated("data/raw/unlisted.bin", &content).crc32(crc32(&content) ^ 1));
    let rejection = assert_refused(&path, limits(), "file_not_in_manifest", &["data/raw/unlisted.bin"]);
    assert!(!rejection.has_code("corrupt_entry"), "the unlisted entry was inflated: {rejection}");
    assert!(!rejection.has_code("bag_info_invalid"), "Payload-Oxum is not compared over skipped entries: {rejection}");
}

fn with_extra_entry(case: &Case, entry: RawEntry) -> PathBuf {
    let mut zip = case.hostile();
    zip.push(entry);
    case.write_zip(&zip)
}

#[test]
fn a_dotdot_path_inside_data_is_path_traversal() {
    let case = Case::new();
    let path = with_extra_entry(&case, RawEntry::stored("data/../../etc/x", b"x"));
    assert_container_refused(&path, limits(), "path_traversal", &["data/../../etc/x"]);
}

#[test]
fn a_leading_dotdot_is_path_traversal() {
    let case = Case::new();
    let path = with_extra_entry(&case, RawEntry::stored("../x", b"x"));
    assert_container_refused(&path, limits(), "path_traversal", &["'../x'"]);
}

#[test]
fn an_absolute_path_is_refused() {
    let case = Case::new();
    let path = with_extra_entry(&case, RawEntry::stored("/etc/passwd", b"root:x:0:0"));
    assert_container_refused(&path, limits(), "absolute_path", &["/etc/passwd"]);
}

#[test]
fn a_drive_letter_path_is_absolute() {
    let case = Case::new();
    let path = with_extra_entry(&case, RawEntry::stored("C:/Windows/x.dll", b"x"));
    assert_container_refused(&path, limits(), "absolute_path", &["C:/Windows/x.dll"]);
}

#[test]
fn a_backslash_path_is_refused() {
    let case = Case::new();
    let path = with_extra_entry(&case, RawEntry::stored("data\\x.csv", b"x"));
    assert_container_refused(&path, limits(), "backslash_path", &["data\\x.csv"]);
}

#[test]
fn a_nul_in_a_name_is_a_control_character() {
    let case = Case::new();
    let path = with_extra_entry(&case, RawEntry::stored(b"data/a\0.csv", b"x"));
    // The name is shown escaped, so the message itself carries no control character.
    let rejection = assert_container_refused(&path, limits(), "control_character_in_path", &["data/a\\0.csv"]);
    assert!(!rejection.to_string().contains('\0'));
}

#[test]
fn a_newline_in_a_name_is_a_control_character() {
    let case = Case::new();
    let path = with_extra_entry(&case, RawEntry::stored(b"data/a\nb.csv", b"x"));
    let rejection = assert_container_refused(&path, limits(), "control_character_in_path", &["data/a\\nb.csv"]);
    assert!(!rejection.to_string().contains('\n'));
}

#[test]
fn empty_components_and_non_utf8_names_are_invalid_paths() {
    let case = Case::new();
    let path = with_extra_entry(&case, RawEntry::stored("data//a.csv", b"x"));
    assert_container_refused(&path, limits(), "invalid_path", &["data//a.csv"]);
    let path = with_extra_entry(&case, RawEntry::stored(b"data/\xff\xfe.csv", b"x"));
    assert_container_refused(&path, limits(), "invalid_path", &["data/"]);
    let path = with_extra_entry(&case, RawEntry::stored("data/./a.csv", b"x"));
    assert_container_refused(&path, limits(), "invalid_path", &["data/./a.csv"]);
}

#[test]
fn a_symlink_entry_is_refused() {
    let case = Case::new();
    let path = with_extra_entry(&case, RawEntry::stored("data/passwd", b"/etc/passwd").unix_mode(0o120777));
    assert_container_refused(&path, limits(), "symlink_entry", &["data/passwd"]);
}

#[test]
fn a_name_listed_twice_is_a_duplicate_entry() {
    let case = Case::new();
    // A second data/prequal.json with other content: which one a reader sees must not matter.
    let path = with_extra_entry(&case, RawEntry::stored("data/prequal.json", b"{}"));
    assert_container_refused(&path, limits(), "duplicate_entry", &[]);
}

#[test]
fn names_differing_only_in_case_collide() {
    let case = Case::new();
    let mut zip = case.hostile();
    zip.push(RawEntry::stored("data/A.csv", b"a"));
    zip.push(RawEntry::stored("data/a.csv", b"b"));
    assert_container_refused(&case.write_zip(&zip), limits(), "case_collision", &["data/A.csv", "data/a.csv"]);
}

#[test]
fn two_records_sharing_one_local_entry_overlap() {
    let case = Case::new();
    let mut zip = case.hostile();
    let hcj = zip.position("data/datasets/hcj.csv");
    zip.alias(hcj, "data/datasets/hcj-copy.csv");
    assert_container_refused(&case.write_zip(&zip), limits(), "overlapping_entries", &[]);
}

#[test]
fn a_local_name_differing_from_the_central_directory_is_a_header_mismatch() {
    let case = Case::new();
    let mut zip = case.hostile();
    // Tools reading local headers (streaming unzip) would see evil.sh; the central directory says
    // the entry is the test summary.
    let entry = zip.entry_mut("data/reports/test-summary.txt");
    *entry = entry.clone().local_name("evil.sh");
    assert_container_refused(&case.write_zip(&zip), limits(), "header_mismatch", &["filename"]);
}

#[test]
fn a_local_crc_differing_from_the_central_directory_is_a_header_mismatch() {
    let case = Case::new();
    // The local header of the last entry carries another CRC than its central directory record.
    let mut zip = case.hostile();
    let content = b"specimen,batch,value\nS1,L1,1\n";
    zip.push(RawEntry::deflated("data/x.csv", content));
    let mut patched = zip.to_bytes();
    // The last local file header is data/x.csv's; its CRC field is at offset 14.
    let header = find_last(&patched, b"PK\x03\x04");
    assert_eq!(&patched[header + 30..header + 40], b"data/x.csv");
    patched[header + 14..header + 18].copy_from_slice(&(crc32(content) ^ 1).to_le_bytes());
    assert_container_refused(&case.write_bytes(&patched), limits(), "header_mismatch", &["CRC"]);
}

fn find_last(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).rposition(|w| w == needle).unwrap()
}

#[test]
fn a_local_entry_missing_from_the_central_directory_is_a_header_mismatch() {
    let case = Case::new();
    let mut zip = case.hostile();
    zip.push(RawEntry::stored("evil.sh", b"#!/bin/sh\n").hidden());
    assert_container_refused(&case.write_zip(&zip), limits(), "header_mismatch", &["missing from central directory"]);
}

#[test]
fn an_encrypted_entry_is_refused() {
    let case = Case::new();
    let path = with_extra_entry(&case, RawEntry::stored("data/secret.csv", &[0u8; 40]).flags(FLAG_ENCRYPTED));
    assert_container_refused(&path, limits(), "encrypted_entry", &["data/secret.csv"]);
}

#[test]
fn bzip2_and_zstd_entries_are_unsupported() {
    let case = Case::new();
    for method in [12u16, 93, 14, 99] {
        let path = with_extra_entry(&case, RawEntry::stored("data/x.bin", b"BZh91AY&SY").method(method));
        let rejection = assert_container_refused(&path, limits(), "unsupported_compression", &["data/x.bin"]);
        assert!(rejection.to_string().contains("compression method"), "{rejection}");
    }
}

#[test]
fn more_entries_than_the_limit_are_refused() {
    let case = Case::new();
    let small = Limits { max_entries: 5, ..Limits::default() };
    assert_container_refused(&case.base, small, "too_many_entries", &["at most 5"]);
}

#[test]
fn an_entry_over_the_size_limit_is_refused() {
    let case = Case::new();
    let small = Limits { max_entry_size: 2048, ..Limits::default() };
    let rejection = assert_container_refused(&case.base, small, "entry_too_large", &["at most 2048"]);
    let PackageError::EntryTooLarge { entry, size, .. } = &rejection.problems[0] else { panic!("{rejection}") };
    assert!(*size > 2048);
    assert_mentions(&rejection, &[entry]);
}

#[test]
fn a_package_over_the_total_size_limit_is_refused() {
    let case = Case::new();
    let small = Limits { max_total_uncompressed: 10_000, ..Limits::default() };
    assert_container_refused(&case.base, small, "package_too_large", &["at most 10000"]);
}

#[test]
fn a_zip_bomb_exceeds_the_compression_ratio() {
    let case = Case::new();
    // 10 MiB of zeros deflate to about 10 KiB: a ratio near 1000, refused before inflating.
    let bomb = vec![0u8; 10 << 20];
    let path = with_extra_entry(&case, RawEntry::deflated("data/bomb.bin", &bomb));
    let rejection = assert_container_refused(&path, limits(), "compression_ratio_exceeded", &["data/bomb.bin"]);
    let PackageError::CompressionRatioExceeded { ratio, max, .. } = rejection.problems[0] else {
        panic!("{rejection}")
    };
    assert!(ratio > 500.0, "{ratio}");
    assert_eq!(max, 200);
}

#[test]
fn a_stored_entry_whose_sizes_disagree_is_a_size_mismatch() {
    let case = Case::new();
    let content = b"specimen,batch,value\nS1,L1,1\n";
    let path =
        with_extra_entry(&case, RawEntry::stored("data/x.csv", content).uncompressed_size(content.len() as u32 + 10));
    assert_container_refused(&path, limits(), "size_mismatch", &["data/x.csv"]);
}

/// The test summary as a deflated entry whose declared uncompressed size is off by `delta`, the
/// CRC matching the real content and both headers agreeing.
fn summary_with_declared_size(case: &Case, delta: i64) -> PathBuf {
    let mut zip = case.hostile();
    let entry = zip.entry_mut("data/reports/test-summary.txt");
    let content = entry.data.clone();
    let declared = (content.len() as i64 + delta) as u32;
    *entry = RawEntry::deflated("data/reports/test-summary.txt", &content).uncompressed_size(declared);
    assert_eq!(entry.method, METHOD_DEFLATED);
    case.write_zip(&zip)
}

#[test]
fn a_deflated_entry_declaring_more_than_it_holds_is_a_size_mismatch() {
    let case = Case::new();
    let path = summary_with_declared_size(&case, 100);
    assert_refused(&path, limits(), "size_mismatch", &["data/reports/test-summary.txt"]);
}

#[test]
fn a_deflated_entry_holding_more_than_it_declares_is_refused() {
    // A lying header: the entry inflates to more than declared. Refused whatever the code, and
    // no byte beyond the declared size is accepted.
    let case = Case::new();
    let path = summary_with_declared_size(&case, -100);
    let rejection = refuse(&path, limits());
    assert_mentions(&rejection, &["data/reports/test-summary.txt"]);
}

#[test]
fn a_deflated_entry_holding_more_than_it_declares_is_a_size_mismatch() {
    let case = Case::new();
    let path = summary_with_declared_size(&case, -100);
    assert_refused(&path, limits(), "size_mismatch", &["data/reports/test-summary.txt"]);
}

#[test]
fn a_bad_crc_is_a_corrupt_entry() {
    let case = Case::new();
    let mut zip = case.hostile();
    let entry = zip.entry_mut("data/datasets/hcj.csv");
    entry.crc32 ^= 0xdead_beef;
    assert_refused(&case.write_zip(&zip), limits(), "corrupt_entry", &["data/datasets/hcj.csv"]);
}

#[test]
fn a_top_level_script_is_an_unexpected_entry() {
    let case = Case::new();
    let path = with_extra_entry(&case, RawEntry::stored("evil.sh", b"#!/bin/sh\nrm -rf ~\n").unix_mode(0o100755));
    assert_container_refused(&path, limits(), "unexpected_entry", &["evil.sh"]);
}

#[test]
fn entries_outside_the_allowed_places_are_unexpected() {
    let case = Case::new();
    for name in ["signatures/nested/x.json", "signatures/x.txt", "other/x.csv"] {
        let path = with_extra_entry(&case, RawEntry::stored(name, b"{}"));
        assert_container_refused(&path, limits(), "unexpected_entry", &[name]);
    }
}

#[test]
fn a_top_level_directory_entry_is_unexpected() {
    let case = Case::new();
    let path = with_extra_entry(&case, RawEntry::stored("evil/", b""));
    assert_container_refused(&path, limits(), "unexpected_entry", &["evil/"]);
}

#[test]
fn a_directory_entry_carrying_data_is_refused() {
    // Declared uncompressed size 0 but 60 stored bytes: data smuggled inside a verified, validly
    // signed package.
    let case = Case::new();
    let path = with_extra_entry(
        &case,
        RawEntry::stored("data/empty/", b"#!/bin/sh\nbytes no manifest or signature covers\n").uncompressed_size(0),
    );
    assert_container_refused(&path, limits(), "size_mismatch", &["data/empty/"]);
}

// --- the BagIt bag ---

#[test]
fn a_payload_file_not_in_the_manifest_is_refused() {
    let case = Case::new();
    let mut entries = case.entries();
    entries.set("data/datasets/extra.csv", "specimen,batch,value\nS1,L1,1\n");
    let path = case.write_entries(&entries);
    let rejection =
        assert_refused(&path, limits(), "file_not_in_manifest", &["data/datasets/extra.csv", "manifest-sha256.txt"]);
    assert_eq!(rejection.code(), "file_not_in_manifest", "{rejection}");
}

#[test]
fn a_listed_payload_file_that_is_absent_is_refused() {
    let case = Case::new();
    let mut entries = case.entries();
    entries.remove("data/datasets/density.csv");
    let path = case.write_entries(&entries);
    let rejection =
        assert_refused(&path, limits(), "file_missing", &["data/datasets/density.csv", "manifest-sha256.txt"]);
    assert_eq!(rejection.code(), "file_missing", "{rejection}");
}

#[test]
fn one_changed_csv_byte_is_a_hash_mismatch() {
    let case = Case::new();
    let mut entries = case.entries();
    // A plausible forgery: one digit of one measurement, the file still a valid dataset.
    entries.replace_text("data/datasets/hcj.csv", "L1-S01,L1,20,1", "L1-S01,L1,20,2");
    let path = case.write_entries(&entries);
    assert_only(&path, "hash_mismatch", &["data/datasets/hcj.csv", "manifest-sha256.txt"]);
}

#[test]
fn a_changed_tag_file_is_a_hash_mismatch_in_the_tag_manifest() {
    let case = Case::new();
    let mut entries = case.entries();
    entries.replace_text("bag-info.txt", "Bag-Software-Agent: prequal", "Bag-Software-Agent: other");
    let path = case.write_entries(&entries);
    assert_only(&path, "hash_mismatch", &["bag-info.txt", "tagmanifest-sha256.txt"]);
}

#[test]
fn a_missing_bagit_txt_is_refused() {
    let case = Case::new();
    let mut entries = case.entries();
    entries.remove("bagit.txt");
    let path = case.write_entries(&entries);
    let rejection = assert_container_refused(&path, limits(), "bagit_txt_invalid", &["bagit.txt", "missing"]);
    assert_eq!(rejection.problems.len(), 1);
}

#[test]
fn a_wrong_bagit_version_is_refused() {
    let case = Case::new();
    let mut entries = case.entries();
    entries.replace_text("bagit.txt", "BagIt-Version: 1.0", "BagIt-Version: 0.97");
    entries.refresh_tag_manifest();
    let path = case.write_entries(&entries);
    assert_container_refused(&path, limits(), "bagit_txt_invalid", &["bagit.txt", "1.0"]);
}

#[test]
fn a_malformed_payload_manifest_line_is_refused() {
    let case = Case::new();
    let mut entries = case.entries();
    let mut text = entries.text("manifest-sha256.txt");
    text.push_str("not-a-hash  data/x.csv\n");
    let line = text.lines().count();
    entries.set("manifest-sha256.txt", text);
    entries.refresh_tag_manifest();
    let path = case.write_entries(&entries);
    let rejection = assert_only(&path, "payload_manifest_invalid", &["manifest-sha256.txt", &format!("line {line}")]);
    assert_eq!(rejection.code(), "payload_manifest_invalid");
}

#[test]
fn a_payload_manifest_line_without_a_path_is_refused() {
    let case = Case::new();
    let mut entries = case.entries();
    let text = format!("{}{}\n", entries.text("manifest-sha256.txt"), "0".repeat(64));
    entries.set("manifest-sha256.txt", text);
    entries.refresh_tag_manifest();
    let path = case.write_entries(&entries);
    assert_only(&path, "payload_manifest_invalid", &["manifest-sha256.txt"]);
}

#[test]
fn a_missing_tag_manifest_is_refused() {
    let case = Case::new();
    let mut entries = case.entries();
    entries.remove("tagmanifest-sha256.txt");
    let path = case.write_entries(&entries);
    assert_container_refused(&path, limits(), "tag_manifest_invalid", &["tagmanifest-sha256.txt", "missing"]);
}

#[test]
fn a_wrong_payload_oxum_is_refused() {
    let case = Case::new();
    let mut entries = case.entries();
    let info = entries.text("bag-info.txt");
    let oxum = info.lines().find(|l| l.starts_with("Payload-Oxum: ")).unwrap().to_owned();
    let (octets, streams) = oxum.trim_start_matches("Payload-Oxum: ").split_once('.').unwrap();
    let wrong = format!("Payload-Oxum: {}.{streams}", octets.parse::<u64>().unwrap() + 1);
    entries.replace_text("bag-info.txt", &oxum, &wrong);
    // The tag manifest covers bag-info.txt: re-hash it so the Oxum is the only problem.
    entries.refresh_tag_manifest();
    let path = case.write_entries(&entries);
    assert_only(&path, "bag_info_invalid", &["bag-info.txt", "Payload-Oxum"]);
}

// --- metadata files ---

/// The base package with `data/prequal.json` changed through its JSON value and the bag made
/// consistent again.
fn with_manifest(case: &Case, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut entries = case.entries();
    let mut manifest: Value = serde_json::from_slice(entries.get("data/prequal.json").unwrap()).unwrap();
    edit(&mut manifest);
    entries.set("data/prequal.json", serde_json::to_vec_pretty(&manifest).unwrap());
    entries.refresh_bag();
    case.write_entries(&entries)
}

fn with_manifest_bytes(case: &Case, bytes: Vec<u8>, compression: Compression) -> PathBuf {
    let mut entries = case.entries();
    entries.set("data/prequal.json", bytes);
    entries.refresh_bag();
    let path = case.path("changed.zip");
    entries.write_with(&path, compression);
    path
}

#[test]
fn a_metadata_file_over_the_limit_is_refused() {
    let case = Case::new();
    let small = Limits { max_metadata_size: 4096, ..Limits::default() };
    let rejection = refuse(&case.base, small);
    assert!(rejection.has_code("metadata_too_large"), "{rejection}");
    assert_mentions(&rejection, &["data/prequal.json", "at most 4096"]);
}

#[test]
fn a_prequal_json_over_the_default_limit_is_refused() {
    let case = Case::new();
    let mut bytes = case.entries().get("data/prequal.json").unwrap().to_vec();
    bytes.resize((8 << 20) + 1, b' ');
    // Stored, so the compression-ratio limit does not fire first.
    let path = with_manifest_bytes(&case, bytes, Compression::Stored);
    let rejection = assert_refused(&path, limits(), "metadata_too_large", &["data/prequal.json"]);
    assert_eq!(rejection.code(), "metadata_too_large");
}

#[test]
fn deeply_nested_json_is_refused_before_parsing() {
    let case = Case::new();
    let depth = 100_000;
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let path = with_manifest_bytes(&case, deep.into_bytes(), Compression::Stored);
    assert_container_refused(&path, limits(), "json_too_deep", &["data/prequal.json", "64"]);
}

#[test]
fn nesting_inside_a_valid_manifest_is_refused() {
    let case = Case::new();
    let path = with_manifest(&case, |m| {
        let mut nested = Value::from("deep");
        for _ in 0..70 {
            nested = Value::Array(vec![nested]);
        }
        m["keywords"] = nested;
    });
    assert_container_refused(&path, limits(), "json_too_deep", &["data/prequal.json"]);
}

#[test]
fn invalid_json_is_refused_with_its_position() {
    let case = Case::new();
    let path = with_manifest_bytes(
        &case,
        b"{\n  \"format\": \"prequal-package/1\",\n  \"name\": \n".to_vec(),
        Compression::Deflated,
    );
    let rejection = assert_refused(&path, limits(), "json_invalid", &["data/prequal.json", "line 4"]);
    assert_eq!(rejection.code(), "json_invalid");
}

#[test]
fn a_manifest_with_an_unknown_field_is_refused_with_its_path() {
    let case = Case::new();
    let path = with_manifest(&case, |m| m["evil"] = Value::from(true));
    assert_refused(&path, limits(), "manifest_field_unknown", &["prequal.json", "'evil'"]);
}

#[test]
fn an_invalid_manifest_field_is_refused() {
    let case = Case::new();
    let path = with_manifest(&case, |m| m["date_published"] = Value::from("2026-13-01"));
    assert_only(&path, "manifest_field_invalid", &["date_published", "2026-13-01"]);
}

#[test]
fn an_unknown_property_lists_the_known_ones() {
    let case = Case::new();
    let path = with_manifest(&case, |m| m["datasets"][0]["property"] = Value::from("remanance"));
    let rejection = assert_only(&path, "unknown_property", &["datasets[0].property", "remanance"]);
    let PackageError::UnknownProperty { known, .. } = &rejection.problems[0] else { panic!("{rejection}") };
    for property in ["remanence", "intrinsic_coercivity", "density"] {
        assert!(known.split(", ").any(|k| k == property), "{property} not in {known}");
    }
    assert_mentions(&rejection, &["known properties: ", "intrinsic_coercivity", "x-yourlab.remanance"]);
}

#[test]
fn an_unknown_condition_is_refused() {
    let case = Case::new();
    let path = with_manifest(&case, |m| {
        m["datasets"][4]["conditions"]["humidty"] = serde_json::json!({"unit": "%", "value": 50});
    });
    assert_only(&path, "unknown_condition", &["datasets[4].conditions.humidty", "known conditions"]);
}

#[test]
fn an_unknown_unit_is_refused() {
    let case = Case::new();
    let path = with_manifest(&case, |m| m["datasets"][0]["unit"] = Value::from("Tesla"));
    assert_only(&path, "unknown_unit", &["datasets[0].unit", "Tesla", "UCUM"]);
}

#[test]
fn remanence_in_a_field_strength_unit_is_incompatible() {
    let case = Case::new();
    let path = with_manifest(&case, |m| {
        assert_eq!(m["datasets"][0]["property"], "remanence");
        m["datasets"][0]["unit"] = Value::from("kA/m");
    });
    assert_only(&path, "unit_incompatible", &["datasets[0].unit", "kA/m", "remanence"]);
}

#[test]
fn an_invalid_ro_crate_is_refused() {
    let case = Case::new();
    let mut entries = case.entries();
    let mut crate_doc: Value = serde_json::from_slice(entries.get("data/ro-crate-metadata.json").unwrap()).unwrap();
    crate_doc["@context"] = Value::from("https://example.org/not-ro-crate");
    entries.set("data/ro-crate-metadata.json", serde_json::to_vec_pretty(&crate_doc).unwrap());
    entries.refresh_bag();
    assert_only(&case.write_entries(&entries), "ro_crate_invalid", &["ro-crate-metadata.json", "@context"]);
}

#[test]
fn an_ro_crate_missing_a_part_is_refused() {
    let case = Case::new();
    let mut entries = case.entries();
    let mut crate_doc: Value = serde_json::from_slice(entries.get("data/ro-crate-metadata.json").unwrap()).unwrap();
    let root = crate_doc["@graph"].as_array_mut().unwrap().iter_mut().find(|e| e["@id"] == "./").unwrap();
    root["hasPart"].as_array_mut().unwrap().retain(|p| p["@id"] != "datasets/hcj.csv");
    entries.set("data/ro-crate-metadata.json", serde_json::to_vec_pretty(&crate_doc).unwrap());
    entries.refresh_bag();
    assert_only(&case.write_entries(&entries), "ro_crate_invalid", &["datasets/hcj.csv", "hasPart"]);
}

#[test]
fn problems_found_before_a_metadata_limit_are_kept() {
    // verify.rs says every problem from step 3 on is collected; a too-deep RO-Crate (step 7)
    // returns alone and the lab never hears of the invalid date found in step 6.
    let case = Case::new();
    let mut entries = case.entries();
    entries.replace_text("data/prequal.json", "\"2026-11-01\"", "\"2026-13-01\"");
    entries.set("data/ro-crate-metadata.json", format!("{}{}", "[".repeat(100), "]".repeat(100)));
    entries.refresh_bag();
    let path = case.path("changed.zip");
    entries.write_with(&path, Compression::Stored);
    let rejection = assert_refused(&path, limits(), "json_too_deep", &["ro-crate-metadata.json"]);
    assert!(rejection.has_code("manifest_field_invalid"), "{rejection}");
}

// --- datasets ---

/// Changes line `line` (1-based, header = 1) of a CSV entry through its fields.
fn edit_csv_line(entries: &mut PackageEntries, file: &str, line: usize, edit: impl FnOnce(&mut Vec<String>)) {
    let text = entries.text(file);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut fields: Vec<String> = lines[line - 1].split(',').map(str::to_owned).collect();
    edit(&mut fields);
    lines[line - 1] = fields.join(",");
    entries.set(file, lines.join("\n") + "\n");
}

fn with_csv_line(case: &Case, file: &str, line: usize, edit: impl FnOnce(&mut Vec<String>)) -> PathBuf {
    let mut entries = case.entries();
    edit_csv_line(&mut entries, file, line, edit);
    entries.refresh_bag();
    case.write_entries(&entries)
}

#[test]
fn a_non_numeric_value_is_refused_with_file_line_and_column() {
    let case = Case::new();
    let path = with_csv_line(&case, "data/datasets/hcj.csv", 3, |f| *f.last_mut().unwrap() = "n/a".into());
    assert_only(&path, "csv_not_numeric", &["data/datasets/hcj.csv", "line 3", "column 'value'", "'n/a'"]);
}

#[test]
fn a_non_numeric_condition_is_refused_with_its_column() {
    let case = Case::new();
    let path = with_csv_line(&case, "data/datasets/remanence.csv", 5, |f| f[2] = "warm".into());
    assert_only(&path, "csv_not_numeric", &["data/datasets/remanence.csv", "line 5", "column 'temperature'"]);
}

#[test]
fn non_finite_numbers_are_not_numeric() {
    let case = Case::new();
    for bad in ["NaN", "inf", "-inf", "1e999"] {
        let path = with_csv_line(&case, "data/datasets/hcj.csv", 2, |f| *f.last_mut().unwrap() = bad.into());
        assert_only(&path, "csv_not_numeric", &["data/datasets/hcj.csv", "line 2"]);
    }
}

#[test]
fn a_ragged_row_is_invalid_csv() {
    let case = Case::new();
    let path = with_csv_line(&case, "data/datasets/hcj.csv", 4, |f| f.push("extra".into()));
    assert_only(&path, "csv_invalid", &["data/datasets/hcj.csv", "line 4"]);
}

#[test]
fn a_missing_column_is_invalid_csv() {
    let case = Case::new();
    let path = with_csv_line(&case, "data/datasets/hcj.csv", 1, |f| f[3] = "val".into());
    assert_only(&path, "csv_invalid", &["data/datasets/hcj.csv", "line 1", "missing column 'value'"]);
}

#[test]
fn a_dataset_with_no_rows_is_invalid_csv() {
    let case = Case::new();
    let mut entries = case.entries();
    entries.set("data/datasets/density.csv", "specimen,batch,value\n");
    entries.refresh_bag();
    assert_only(&case.write_entries(&entries), "csv_invalid", &["data/datasets/density.csv", "no rows"]);
}

#[test]
fn non_utf8_csv_is_invalid() {
    let case = Case::new();
    let mut entries = case.entries();
    let mut bytes = entries.get("data/datasets/density.csv").unwrap().to_vec();
    bytes.extend_from_slice(b"L1-S\xff\xfe,L1,7.5\n");
    entries.set("data/datasets/density.csv", bytes);
    entries.refresh_bag();
    assert_only(&case.write_entries(&entries), "csv_invalid", &["data/datasets/density.csv", "UTF-8"]);
}

#[test]
fn an_unknown_batch_is_refused_with_the_known_lots() {
    let case = Case::new();
    let path = with_csv_line(&case, "data/datasets/hcj.csv", 2, |f| f[1] = "L9".into());
    assert_only(&path, "unknown_batch", &["data/datasets/hcj.csv", "line 2", "'L9'", "L1, L2, L3"]);
}

// --- demagnetisation curves (the base package has J-H+B-H curves at 20, 150 and 180 °C) ---

#[test]
fn the_base_package_carries_its_curves() {
    let verified = verify_file(&Case::new().base, limits()).unwrap();
    let ids: Vec<&str> = verified.curves().iter().map(|c| c.spec.id.as_str()).collect();
    assert_eq!(ids, ["demag-20", "demag-150", "demag-180"]);
    assert!(verified.curves().iter().all(|c| c.points.len() == 3 * 41 && c.points[0].b.is_some()));
}

/// The registry reads a stored package's curves without verifying it all again; a curve file
/// that no longer matches the payload manifest is still refused.
#[test]
fn stored_curves_are_read_alone_and_checked_against_the_payload_manifest() {
    let case = Case::new();
    let verified = verify_file(&case.base, limits()).unwrap();
    let stored = prequal::package::curve::read_stored(&case.base, limits()).unwrap();
    assert_eq!(stored, verified.curves());
    let mut entries = case.entries();
    entries.replace_text("data/curves/demag-150.csv", "L1-S06,L1,0.0,", "L1-S06,L1,-0.0,");
    let path = case.write_entries(&entries);
    let rejection = prequal::package::curve::read_stored(&path, limits()).unwrap_err();
    assert_eq!(rejection.code(), "hash_mismatch", "{rejection}");
    assert_mentions(&rejection, &["data/curves/demag-150.csv"]);
    // A package without curves has none to read.
    let dir = tempfile::tempdir().unwrap();
    let lfp = signed_package_from(dir.path(), "lfp-cell-prismatic", &[1]);
    assert!(prequal::package::curve::read_stored(&lfp, limits()).unwrap().is_empty());
}

#[test]
fn a_non_numeric_field_cell_of_a_curve_names_file_line_and_column() {
    let case = Case::new();
    let path = with_csv_line(&case, "data/curves/demag-150.csv", 5, |f| f[2] = "-1e3kA".into());
    assert_only(&path, "csv_not_numeric", &["data/curves/demag-150.csv", "line 5", "column 'H'", "'-1e3kA'"]);
}

#[test]
fn a_non_finite_polarisation_is_not_numeric() {
    let case = Case::new();
    for bad in ["NaN", "inf", ""] {
        let path = with_csv_line(&case, "data/curves/demag-20.csv", 7, |f| f[3] = bad.into());
        assert_only(&path, "csv_not_numeric", &["data/curves/demag-20.csv", "line 7", "column 'J'"]);
    }
}

#[test]
fn a_curve_file_without_its_j_column_is_invalid_csv() {
    let case = Case::new();
    let path = with_csv_line(&case, "data/curves/demag-180.csv", 1, |f| f[3] = "Jr".into());
    assert_only(&path, "csv_invalid", &["data/curves/demag-180.csv", "line 1", "missing column 'J' (polarisation J)"]);
}

#[test]
fn a_b_value_off_mu0_h_plus_j_is_inconsistent() {
    let case = Case::new();
    // Line 3 is (H, J, B) = (-64.9, 1.3029, 1.2214): B moved by 0.1 T.
    let path = with_csv_line(&case, "data/curves/demag-20.csv", 3, |f| f[4] = "1.3214".into());
    assert_only(&path, "curve_inconsistent", &["data/curves/demag-20.csv", "line 3", "column 'B'", "B = μ0·H + J"]);
}

#[test]
fn a_specimen_with_a_single_point_is_too_short_for_a_curve() {
    let case = Case::new();
    let path = with_csv_line(&case, "data/curves/demag-20.csv", 2, |f| f[0] = "L1-S99".into());
    assert_only(&path, "curve_too_few_points", &["data/curves/demag-20.csv", "line 2", "'L1-S99'", "at least 3"]);
}

#[test]
fn a_curve_row_of_an_unknown_batch_is_refused() {
    let case = Case::new();
    let path = with_csv_line(&case, "data/curves/demag-150.csv", 9, |f| f[1] = "L7".into());
    assert_only(&path, "unknown_batch", &["data/curves/demag-150.csv", "line 9", "'L7'"]);
}

#[test]
fn a_curve_file_absent_from_the_bag_is_missing() {
    let case = Case::new();
    let mut entries = case.entries();
    entries.remove("data/curves/demag-180.csv");
    entries.refresh_bag();
    assert_only(&case.write_entries(&entries), "file_missing", &["data/curves/demag-180.csv", "prequal.json"]);
}

#[test]
fn curve_units_of_the_wrong_dimension_are_incompatible() {
    let case = Case::new();
    let path = with_manifest(&case, |m| m["curves"][0]["field_unit"] = Value::from("mT"));
    assert_only(
        &path,
        "unit_incompatible",
        &["curves[0].field_unit", "'mT'", "magnetic field strength", "kA/m, MA/m, Oe, kOe"],
    );
    let path = with_manifest(&case, |m| m["curves"][2]["flux_density_unit"] = Value::from("kOe"));
    assert_only(&path, "unit_incompatible", &["curves[2].flux_density_unit", "'kOe'", "magnetic flux density"]);
    let path = with_manifest(&case, |m| m["curves"][1]["temperature"]["unit"] = Value::from("kA/m"));
    assert_only(&path, "unit_incompatible", &["curves[1].temperature.unit", "temperature"]);
}

#[test]
fn an_unknown_curve_unit_is_refused() {
    let case = Case::new();
    let path = with_manifest(&case, |m| m["curves"][1]["flux_density_unit"] = Value::from("tesla"));
    assert_only(&path, "unknown_unit", &["curves[1].flux_density_unit", "'tesla'", "T, mT, G, kG"]);
}

#[test]
fn a_curve_names_an_existing_test_method() {
    let case = Case::new();
    let path = with_manifest(&case, |m| m["curves"][1]["method"] = Value::from("vsm"));
    assert_only(&path, "manifest_field_invalid", &["curves[1].method", "'vsm'", "hysteresigraph"]);
}

#[test]
fn curve_ids_are_unique_across_datasets_and_curves() {
    let case = Case::new();
    let path = with_manifest(&case, |m| m["curves"][0]["id"] = Value::from("hcj"));
    assert_only(&path, "manifest_field_invalid", &["curves[0].id", "'hcj'", "already used"]);
    let path = with_manifest(&case, |m| m["curves"][2]["id"] = Value::from("demag-20"));
    assert_only(&path, "manifest_field_invalid", &["curves[2].id", "'demag-20'"]);
}

#[test]
fn only_magnets_carry_demagnetisation_curves() {
    let case = Case::new();
    let path = with_manifest(&case, |m| m["material"]["class"] = Value::from("battery_cell"));
    assert_only(&path, "manifest_field_invalid", &["'curves'", "permanent magnets", "'battery_cell'"]);
}

#[test]
fn a_curve_kind_or_field_outside_the_schema_is_refused_with_its_path() {
    let case = Case::new();
    let path = with_manifest(&case, |m| m["curves"][0]["kind"] = Value::from("H-J"));
    assert_only(&path, "manifest_field_invalid", &["prequal.json", "curves[0].kind", "H-J", "J-H+B-H"]);
    let path = with_manifest(&case, |m| m["curves"][0]["temperature"]["column"] = Value::from("temperature"));
    assert_only(&path, "manifest_field_unknown", &["prequal.json", "curves[0].temperature.column"]);
}

#[test]
fn curve_problems_are_reported_together_with_dataset_problems() {
    let case = Case::new();
    let mut entries = case.entries();
    edit_csv_line(&mut entries, "data/datasets/hcj.csv", 3, |f| *f.last_mut().unwrap() = "n/a".into());
    edit_csv_line(&mut entries, "data/curves/demag-150.csv", 4, |f| f[3] = "x".into());
    edit_csv_line(&mut entries, "data/curves/demag-180.csv", 6, |f| f[4] = "0.0".into());
    let mut manifest: Value = serde_json::from_slice(entries.get("data/prequal.json").unwrap()).unwrap();
    manifest["curves"][0]["method"] = Value::from("vsm");
    entries.set("data/prequal.json", serde_json::to_vec_pretty(&manifest).unwrap());
    entries.refresh_bag();
    let rejection = refuse(&case.write_entries(&entries), limits());
    let codes: Vec<&str> = rejection.problems.iter().map(|p| p.code()).collect();
    for code in ["manifest_field_invalid", "csv_not_numeric", "curve_inconsistent"] {
        assert!(codes.contains(&code), "{code} missing: {rejection}");
    }
    assert_eq!(codes.iter().filter(|c| **c == "csv_not_numeric").count(), 2, "{rejection}");
    assert_mentions(
        &rejection,
        &["data/datasets/hcj.csv, line 3", "data/curves/demag-150.csv, line 4", "data/curves/demag-180.csv, line 6"],
    );
}

#[test]
fn a_bad_curve_source_is_refused_at_pack_with_every_problem() {
    let case = Case::new();
    let source = case.path("source");
    copy_dir(&common::sample_source(BASELINE), &source);
    let curve = source.join("curves/demag-20.csv");
    let text = std::fs::read_to_string(&curve).unwrap().replacen("L1,-64.9,1.3029,1.2214", "L1,-64.9,1.3029,x", 1);
    std::fs::write(&curve, text).unwrap();
    std::fs::remove_file(source.join("curves/demag-150.csv")).unwrap();
    let rejection = pack_dir(&source, &case.path("out.zip"), Compression::Deflated, limits()).unwrap_err();
    assert!(rejection.has_code("csv_not_numeric") && rejection.has_code("file_missing"), "{rejection}");
    assert_mentions(&rejection, &["curves/demag-20.csv, line 3, column 'B'", "curves/demag-150.csv"]);
    assert!(!case.path("out.zip").exists());
}

#[test]
fn a_payload_file_no_manifest_entry_references_is_refused() {
    let case = Case::new();
    let mut entries = case.entries();
    entries.set("data/notes.txt", "not referenced by prequal.json\n");
    // List it as an RO-Crate part so the reference check is the only one that fails.
    let mut crate_doc: Value = serde_json::from_slice(entries.get("data/ro-crate-metadata.json").unwrap()).unwrap();
    let graph = crate_doc["@graph"].as_array_mut().unwrap();
    graph.iter_mut().find(|e| e["@id"] == "./").unwrap()["hasPart"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"@id": "notes.txt"}));
    graph.push(serde_json::json!({"@id": "notes.txt", "@type": "File", "name": "notes"}));
    entries.set("data/ro-crate-metadata.json", serde_json::to_vec_pretty(&crate_doc).unwrap());
    entries.refresh_bag();
    assert_only(&case.write_entries(&entries), "unreferenced_file", &["data/notes.txt"]);
}

#[test]
fn a_source_file_no_manifest_entry_references_is_refused_at_pack() {
    let case = Case::new();
    let source = case.path("source");
    copy_dir(&common::sample_source(BASELINE), &source);
    std::fs::write(source.join("datasets/stray.csv"), "specimen,batch,value\nS1,L1,1\n").unwrap();
    let rejection = pack_dir(&source, &case.path("out.zip"), Compression::Deflated, limits()).unwrap_err();
    assert_eq!(rejection.code(), "unreferenced_file", "{rejection}");
    assert_mentions(&rejection, &["datasets/stray.csv"]);
    assert!(!case.path("out.zip").exists());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

// --- signatures ---

fn only_signature(package: &VerifiedPackage) -> &CheckedSignature {
    assert_eq!(package.signatures().len(), 1, "{:?}", package.signatures());
    &package.signatures()[0]
}

#[test]
fn a_signed_package_verifies_and_signing_keeps_the_digest() {
    let case = Case::new();
    let path = case.path("p.zip");
    let packed = pack_dir(&common::sample_source(BASELINE), &path, Compression::Deflated, limits()).unwrap();
    let unsigned = verify_file(&path, limits()).unwrap();
    assert!(unsigned.signatures().is_empty());
    let (signed_digest, entry) = sign_package(&path, &test_key(1), limits()).unwrap();
    assert_eq!(entry, format!("signatures/{}.json", test_key(1).key_id()));
    let verified = verify_file(&path, limits()).unwrap();
    assert_eq!(*verified.digest(), packed.digest);
    assert_eq!(signed_digest, packed.digest);
    assert_eq!(*unsigned.digest(), packed.digest);
    let sig = only_signature(&verified);
    assert!(sig.is_cryptographically_valid(), "{:?}", sig.problem);
    assert_eq!(sig.key_id.as_ref(), Some(test_key(1).key_id()));
    assert_eq!(sig.public_key, Some(test_key(1).public_key()));
    assert_eq!(sig.file, entry);
}

/// The signature file `test_key(1)` made for another sample package.
fn foreign_signature(case: &Case) -> (String, Vec<u8>) {
    let other = signed_package_from(case.dir.path(), "ferrite-sr-y30bh", &[1]);
    let name = format!("signatures/{}.json", test_key(1).key_id());
    let bytes = PackageEntries::read(&other).get(&name).unwrap().to_vec();
    (name, bytes)
}

#[test]
fn a_signature_over_another_packages_digest_is_not_valid() {
    let case = Case::new();
    let (name, bytes) = foreign_signature(&case);
    let mut entries = case.entries();
    entries.set(&name, bytes);
    let verified = verify_file(&case.write_entries(&entries), limits()).unwrap();
    let sig = only_signature(&verified);
    let problem = sig.problem.as_deref().expect("a foreign signature must not be valid");
    assert!(problem.contains("but the package digest is"), "{problem}");
    assert_eq!(TrustSet::default().assess(sig).0, SignatureStatus::Invalid);
}

#[test]
fn a_foreign_signature_relabelled_with_this_digest_does_not_verify() {
    // The file claims this package's digest, but the Ed25519 signature is over the other's.
    let case = Case::new();
    let (name, bytes) = foreign_signature(&case);
    let mut sig_json: Value = serde_json::from_slice(&bytes).unwrap();
    let own = verify_file(&case.base, limits()).unwrap();
    sig_json["digest"] = Value::from(own.digest().to_string());
    let mut entries = case.entries();
    entries.set(&name, serde_json::to_vec_pretty(&sig_json).unwrap());
    let verified = verify_file(&case.write_entries(&entries), limits()).unwrap();
    let problem = only_signature(&verified).problem.clone().expect("must not verify");
    assert!(problem.contains("does not verify"), "{problem}");
}

#[test]
fn a_signature_claiming_another_keys_id_is_flagged() {
    let case = Case::new();
    let lab = test_key(1);
    let other = test_key(2);
    let mut entries = case.entries();
    let own_name = format!("signatures/{}.json", lab.key_id());
    let mut sig_json: Value = serde_json::from_slice(&entries.remove(&own_name)).unwrap();
    sig_json["key_id"] = Value::from(other.key_id().to_string());
    entries.set(&format!("signatures/{}.json", other.key_id()), serde_json::to_vec_pretty(&sig_json).unwrap());
    let verified = verify_file(&case.write_entries(&entries), limits()).unwrap();
    let sig = only_signature(&verified);
    let problem = sig.problem.as_deref().expect("a swapped key id must be flagged");
    assert!(problem.contains("key_id is not derived from public_key"), "{problem}");
    // Even a trust set that trusts the claimed key does not accept it.
    let trust = trust_set(&[(&other, KeyStatus::Active)]);
    assert_eq!(trust.assess(sig).0, SignatureStatus::Invalid);

    // Swapping the public key as well makes the id consistent, but the signature no longer verifies.
    sig_json["public_key"] = Value::from(encode_public_key(&other.public_key()));
    entries.set(&format!("signatures/{}.json", other.key_id()), serde_json::to_vec_pretty(&sig_json).unwrap());
    let verified = verify_file(&case.write_entries(&entries), limits()).unwrap();
    let sig = only_signature(&verified);
    assert!(sig.problem.as_deref().unwrap().contains("does not verify"), "{:?}", sig.problem);
    assert_eq!(trust.assess(sig).0, SignatureStatus::Invalid);
}

#[test]
fn a_signature_file_under_another_name_is_flagged() {
    let case = Case::new();
    let mut entries = case.entries();
    let own_name = format!("signatures/{}.json", test_key(1).key_id());
    let bytes = entries.remove(&own_name);
    entries.set("signatures/certifier.json", bytes);
    let verified = verify_file(&case.write_entries(&entries), limits()).unwrap();
    let problem = only_signature(&verified).problem.clone().expect("must be flagged");
    assert!(problem.contains("file name should be"), "{problem}");
}

#[test]
fn a_garbage_signature_file_is_flagged_not_fatal() {
    let case = Case::new();
    let mut entries = case.entries();
    entries.set("signatures/junk.json", b"{\"type\": [[[".to_vec());
    let verified = verify_file(&case.write_entries(&entries), limits()).unwrap();
    assert_eq!(verified.signatures().len(), 2);
    let junk = verified.signatures().iter().find(|s| s.file == "signatures/junk.json").unwrap();
    assert!(junk.problem.as_deref().unwrap().contains("not a signature file"), "{:?}", junk.problem);
    assert!(junk.key_id.is_none());
}

fn trust_set(keys: &[(&prequal::package::SecretKey, KeyStatus)]) -> TrustSet {
    TrustSet {
        keys: keys
            .iter()
            .map(|(key, status)| TrustedKey {
                key_id: key.key_id().clone(),
                public_key: Some(encode_public_key(&key.public_key())),
                organisation: format!("org-{}", key.key_id()),
                role: "lab".into(),
                status: *status,
                revoked_at: None,
            })
            .collect(),
    }
}

#[test]
fn trust_set_verdicts_valid_unknown_and_revoked() {
    let case = Case::new();
    let verified = verify_file(&case.base, limits()).unwrap();
    let sig = only_signature(&verified);
    let lab = test_key(1);
    let stranger = test_key(9);

    let active = trust_set(&[(&lab, KeyStatus::Active)]);
    let (status, key) = active.assess(sig);
    assert_eq!(status, SignatureStatus::Valid);
    assert_eq!(key.unwrap().key_id, *lab.key_id());

    assert_eq!(TrustSet::default().assess(sig).0, SignatureStatus::UnknownKey);
    assert_eq!(trust_set(&[(&stranger, KeyStatus::Active)]).assess(sig).0, SignatureStatus::UnknownKey);

    let revoked = trust_set(&[(&lab, KeyStatus::Revoked)]);
    let (status, key) = revoked.assess(sig);
    assert_eq!(status, SignatureStatus::RevokedKey);
    assert_eq!(key.unwrap().status, KeyStatus::Revoked);

    // A trust entry with the right id but another public key does not vouch for this signature.
    let mut pinned = trust_set(&[(&lab, KeyStatus::Active)]);
    pinned.keys[0].public_key = Some(encode_public_key(&stranger.public_key()));
    assert_eq!(pinned.assess(sig).0, SignatureStatus::Invalid);
}

#[test]
fn lab_and_certifier_signatures_coexist() {
    let case = Case::new();
    let path = case.path("two.zip");
    std::fs::copy(&case.base, &path).unwrap();
    let digest_before = *verify_file(&path, limits()).unwrap().digest();
    let (digest, _) = sign_package(&path, &test_key(2), limits()).unwrap();
    assert_eq!(digest, digest_before);
    let verified = verify_file(&path, limits()).unwrap();
    assert_eq!(*verified.digest(), digest_before);
    assert_eq!(verified.signatures().len(), 2);
    let trust = trust_set(&[(&test_key(1), KeyStatus::Active), (&test_key(2), KeyStatus::Active)]);
    let mut signers: Vec<String> = Vec::new();
    for sig in verified.signatures() {
        assert!(sig.is_cryptographically_valid(), "{}: {:?}", sig.file, sig.problem);
        assert_eq!(trust.assess(sig).0, SignatureStatus::Valid);
        signers.push(sig.key_id.as_ref().unwrap().to_string());
    }
    signers.sort();
    let mut expected = vec![test_key(1).key_id().to_string(), test_key(2).key_id().to_string()];
    expected.sort();
    assert_eq!(signers, expected);
}

#[test]
fn re_signing_with_the_same_key_is_idempotent() {
    let case = Case::new();
    let path = case.path("again.zip");
    std::fs::copy(&case.base, &path).unwrap();
    sign_package(&path, &test_key(1), limits()).unwrap();
    assert!(std::fs::read(&path).unwrap() == base_bytes(), "re-signing changed the package bytes");
    sign_package(&path, &test_key(2), limits()).unwrap();
    let two = std::fs::read(&path).unwrap();
    sign_package(&path, &test_key(2), limits()).unwrap();
    sign_package(&path, &test_key(1), limits()).unwrap();
    assert!(std::fs::read(&path).unwrap() == two, "re-signing changed the package bytes");
}

#[test]
fn signing_a_tampered_package_is_refused() {
    let case = Case::new();
    let mut entries = case.entries();
    entries.replace_text("data/datasets/hcj.csv", "L1-S01,L1,20,1", "L1-S01,L1,20,2");
    let path = case.write_entries(&entries);
    let before = std::fs::read(&path).unwrap();
    let rejection = sign_package(&path, &test_key(2), limits()).unwrap_err();
    assert!(rejection.has_code("hash_mismatch"), "{rejection}");
    assert!(std::fs::read(&path).unwrap() == before, "a refused package must be left untouched");
}

// Keep `deflate` referenced here so a change to its signature shows up in this file too.
#[test]
fn the_deflate_helper_round_trips() {
    let case = Case::new();
    let content = b"specimen,batch,value\n".repeat(50);
    let mut zip = case.hostile();
    let entry = zip.entry_mut("data/reports/test-summary.txt");
    let summary = entry.data.clone();
    *entry = RawEntry::deflated("data/reports/test-summary.txt", &summary);
    assert!(entry.data.len() < summary.len());
    assert!(deflate(&content).len() < content.len());
    verify_file(&case.write_zip(&zip), limits()).unwrap();
}

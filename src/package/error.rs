//! Every way a package can be refused, each with a stable machine code.
//!
//! The codes are part of the contract: the registry returns them in its JSON errors, `prequal
//! verify --json` prints them, and scripts match on them. Never rename one; add new variants.

use std::fmt;

/// One problem found in a package or a package source directory.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PackageError {
    // --- the zip container ---
    #[error("not a zip archive: {detail}")]
    NotAZip { detail: String },
    #[error("zip archive is truncated or its central directory is damaged: {detail}")]
    TruncatedZip { detail: String },
    #[error("entry '{entry}': path climbs out of the package ('..' component)")]
    PathTraversal { entry: String },
    #[error("entry '{entry}': absolute paths are not allowed")]
    AbsolutePath { entry: String },
    #[error("entry '{entry}': backslashes are not allowed in paths (use '/')")]
    BackslashPath { entry: String },
    #[error("entry {entry}: path contains a NUL or control character")]
    ControlCharacterInPath { entry: String },
    #[error("entry '{entry}': path is not valid UTF-8 or is empty")]
    InvalidPath { entry: String },
    #[error("entry '{entry}' is a symbolic link; packages may contain regular files only")]
    SymlinkEntry { entry: String },
    #[error("the archive lists the same entry name more than once")]
    DuplicateEntry,
    #[error("entries '{first}' and '{second}' differ only in letter case")]
    CaseCollision { first: String, second: String },
    #[error("entries overlap inside the archive (one byte range belongs to several entries)")]
    OverlappingEntries,
    #[error("local file headers disagree with the central directory: {detail}")]
    HeaderMismatch { detail: String },
    #[error("entry '{entry}' is encrypted; packages must not be encrypted")]
    EncryptedEntry { entry: String },
    #[error("entry '{entry}' uses compression method {method}; only stored and deflated entries are accepted")]
    UnsupportedCompression { entry: String, method: String },
    #[error("the archive has {count} entries; at most {max} are allowed")]
    TooManyEntries { count: usize, max: usize },
    #[error("entry '{entry}' is {size} bytes uncompressed; at most {max} are allowed")]
    EntryTooLarge { entry: String, size: u64, max: u64 },
    #[error("the package holds {size} bytes uncompressed; at most {max} are allowed")]
    PackageTooLarge { size: u64, max: u64 },
    #[error("entry '{entry}' expands {ratio:.0} times its compressed size; at most {max} is allowed")]
    CompressionRatioExceeded { entry: String, ratio: f64, max: u64 },
    #[error("entry '{entry}': {detail}")]
    SizeMismatch { entry: String, detail: String },
    #[error("entry '{entry}' is not part of a package (allowed: bag files at the top, data/…, signatures/*.json)")]
    UnexpectedEntry { entry: String },
    #[error("entry '{entry}' could not be read: {detail}")]
    CorruptEntry { entry: String, detail: String },

    // --- the BagIt bag ---
    #[error("bagit.txt: {detail}")]
    BagitTxtInvalid { detail: String },
    #[error("bag-info.txt: {detail}")]
    BagInfoInvalid { detail: String },
    #[error("manifest-sha256.txt: {detail}")]
    PayloadManifestInvalid { detail: String },
    #[error("tagmanifest-sha256.txt: {detail}")]
    TagManifestInvalid { detail: String },
    #[error("file '{path}' is in the package but not listed in {manifest}")]
    FileNotInManifest { path: String, manifest: &'static str },
    #[error("file '{path}' is listed in {manifest} but absent from the package")]
    FileMissing { path: String, manifest: &'static str },
    #[error("file '{path}': SHA-256 is {actual}, {manifest} says {expected}")]
    HashMismatch { path: String, expected: String, actual: String, manifest: &'static str },

    // --- metadata files ---
    #[error("{file}: {size} bytes; metadata files may hold at most {max}")]
    MetadataTooLarge { file: String, size: u64, max: u64 },
    #[error("{file}: JSON nests deeper than {max} levels")]
    JsonTooDeep { file: String, max: usize },
    #[error("{file}: invalid JSON at line {line}, column {column}: {detail}")]
    JsonInvalid { file: String, line: usize, column: usize, detail: String },
    #[error("prequal.json: field '{field}' is missing: give {expected}{hint}")]
    ManifestFieldMissing { field: String, expected: String, hint: String },
    #[error("prequal.json: field '{field}' is not part of the manifest format (allowed here: {known})")]
    ManifestFieldUnknown { field: String, known: String },
    #[error("prequal.json: field '{field}': expected {expected}, found {found}")]
    ManifestFieldType { field: String, expected: String, found: String },
    #[error("prequal.json: field '{field}' is still the template's \"{text}\" (README.md explains the field)")]
    ManifestPlaceholder { field: String, text: String },
    #[error("prequal.json: field '{field}': {detail}")]
    ManifestFieldInvalid { field: String, detail: String },
    #[error(
        "prequal.json: field '{field}': unknown property '{property}'; known properties: {known}; or use an extension name like 'x-yourlab.{property}'"
    )]
    UnknownProperty { field: String, property: String, known: String },
    #[error(
        "prequal.json: field '{field}': unknown condition '{condition}'; known conditions: {known}; or use an extension name like 'x-yourlab.{condition}'"
    )]
    UnknownCondition { field: String, condition: String, known: String },
    #[error("prequal.json: field '{field}': unknown unit '{unit}'; use a UCUM code ({hint})")]
    UnknownUnit { field: String, unit: String, hint: String },
    #[error(
        "prequal.json: field '{field}': unit '{unit}' is a {found}, but {what} needs a {expected} (for example {accepted})"
    )]
    UnitIncompatible { field: String, unit: String, found: String, what: String, expected: String, accepted: String },
    #[error("data/ro-crate-metadata.json: {detail}")]
    RoCrateInvalid { detail: String },

    // --- datasets ---
    #[error("{file}, line {line}, column '{column}': '{value}' is not a number")]
    CsvNotNumeric { file: String, line: u64, column: String, value: String },
    #[error("{file}, line {line}: {detail}")]
    CsvInvalid { file: String, line: u64, detail: String },
    #[error("{file}, line {line}: batch '{batch}' is not one of the material's lots ({known})")]
    UnknownBatch { file: String, line: u64, batch: String, known: String },

    // --- demagnetisation curves ---
    #[error(
        "{file}, line {line}: specimen '{specimen}' has {points} point(s) on its curve; a curve needs at least {min}"
    )]
    CurveTooFewPoints { file: String, line: u64, specimen: String, points: usize, min: usize },
    #[error(
        "{file}, line {line}, column '{column}': B is {b:.4} T but μ0·H + J is {expected:.4} T; a point's B and J must satisfy B = μ0·H + J"
    )]
    CurveInconsistent { file: String, line: u64, column: String, b: f64, expected: f64 },

    // --- importers (prequal import) ---
    #[error("{file}: cannot derive {what}: {detail}")]
    ImportNotDerivable { file: String, what: String, detail: String },
    #[error("{path}: {detail}")]
    ImportConflict { path: String, detail: String },

    // --- signatures ---
    #[error("signature file '{file}': {detail}")]
    SignatureFileInvalid { file: String, detail: String },

    // --- package sources (prequal pack) ---
    #[error(
        "source file '{path}' is not referenced by prequal.json (list it as a dataset or an attachment, or remove it)"
    )]
    UnreferencedFile { path: String },
    #[error("source '{path}': {detail}")]
    SourceInvalid { path: String, detail: String },

    #[error("I/O error on {path}: {detail}")]
    Io { path: String, detail: String },
}

impl PackageError {
    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        use PackageError::*;
        match self {
            NotAZip { .. } => "not_a_zip",
            TruncatedZip { .. } => "truncated_zip",
            PathTraversal { .. } => "path_traversal",
            AbsolutePath { .. } => "absolute_path",
            BackslashPath { .. } => "backslash_path",
            ControlCharacterInPath { .. } => "control_character_in_path",
            InvalidPath { .. } => "invalid_path",
            SymlinkEntry { .. } => "symlink_entry",
            DuplicateEntry => "duplicate_entry",
            CaseCollision { .. } => "case_collision",
            OverlappingEntries => "overlapping_entries",
            HeaderMismatch { .. } => "header_mismatch",
            EncryptedEntry { .. } => "encrypted_entry",
            UnsupportedCompression { .. } => "unsupported_compression",
            TooManyEntries { .. } => "too_many_entries",
            EntryTooLarge { .. } => "entry_too_large",
            PackageTooLarge { .. } => "package_too_large",
            CompressionRatioExceeded { .. } => "compression_ratio_exceeded",
            SizeMismatch { .. } => "size_mismatch",
            UnexpectedEntry { .. } => "unexpected_entry",
            CorruptEntry { .. } => "corrupt_entry",
            BagitTxtInvalid { .. } => "bagit_txt_invalid",
            BagInfoInvalid { .. } => "bag_info_invalid",
            PayloadManifestInvalid { .. } => "payload_manifest_invalid",
            TagManifestInvalid { .. } => "tag_manifest_invalid",
            FileNotInManifest { .. } => "file_not_in_manifest",
            FileMissing { .. } => "file_missing",
            HashMismatch { .. } => "hash_mismatch",
            MetadataTooLarge { .. } => "metadata_too_large",
            JsonTooDeep { .. } => "json_too_deep",
            JsonInvalid { .. } => "json_invalid",
            ManifestFieldMissing { .. } => "manifest_field_missing",
            ManifestFieldUnknown { .. } => "manifest_field_unknown",
            ManifestFieldType { .. } => "manifest_field_type",
            ManifestPlaceholder { .. } => "manifest_placeholder",
            ManifestFieldInvalid { .. } => "manifest_field_invalid",
            UnknownProperty { .. } => "unknown_property",
            UnknownCondition { .. } => "unknown_condition",
            UnknownUnit { .. } => "unknown_unit",
            UnitIncompatible { .. } => "unit_incompatible",
            RoCrateInvalid { .. } => "ro_crate_invalid",
            CsvNotNumeric { .. } => "csv_not_numeric",
            CsvInvalid { .. } => "csv_invalid",
            UnknownBatch { .. } => "unknown_batch",
            CurveTooFewPoints { .. } => "curve_too_few_points",
            CurveInconsistent { .. } => "curve_inconsistent",
            ImportNotDerivable { .. } => "import_not_derivable",
            ImportConflict { .. } => "import_conflict",
            SignatureFileInvalid { .. } => "signature_file_invalid",
            UnreferencedFile { .. } => "unreferenced_file",
            SourceInvalid { .. } => "source_invalid",
            Io { .. } => "io_error",
        }
    }

    /// The JSON path of the manifest field this problem is about (`material.process_route`,
    /// `datasets[0].unit`), when it is about one.
    pub fn field_path(&self) -> Option<&str> {
        use PackageError::*;
        match self {
            ManifestFieldMissing { field, .. }
            | ManifestFieldUnknown { field, .. }
            | ManifestFieldType { field, .. }
            | ManifestPlaceholder { field, .. }
            | ManifestFieldInvalid { field, .. }
            | UnknownProperty { field, .. }
            | UnknownCondition { field, .. }
            | UnknownUnit { field, .. }
            | UnitIncompatible { field, .. } => Some(field),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl fmt::Display, err: impl fmt::Display) -> Self {
        PackageError::Io { path: path.to_string(), detail: err.to_string() }
    }

    pub(crate) fn json(file: &str, e: &serde_json::Error) -> Self {
        PackageError::JsonInvalid { file: file.to_owned(), line: e.line(), column: e.column(), detail: e.to_string() }
    }

    pub(crate) fn field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        PackageError::ManifestFieldInvalid { field: field.into(), detail: detail.into() }
    }
}

/// A package was refused: one or more problems, the first being the most fundamental.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub problems: Vec<PackageError>,
}

impl Rejection {
    pub fn one(problem: PackageError) -> Self {
        Rejection { problems: vec![problem] }
    }

    /// The code of the first (most fundamental) problem.
    pub fn code(&self) -> &'static str {
        self.problems.first().map_or("unknown", PackageError::code)
    }

    pub fn has_code(&self, code: &str) -> bool {
        self.problems.iter().any(|p| p.code() == code)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "[{}] {}", problem.code(), problem)?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejection {}

impl From<PackageError> for Rejection {
    fn from(problem: PackageError) -> Self {
        Rejection::one(problem)
    }
}

//! The package format: a zipped BagIt 1.0 bag with `data/prequal.json`, an RO-Crate description,
//! CSV datasets, demagnetisation curves and detached Ed25519 signatures under `signatures/`.
//!
//! Owns the manifest types, safe zip reading with limits, hashing, packing, signing and
//! verification. It must not touch a database or HTTP: the registry calls [`verify_file`] and
//! stores only the [`VerifiedPackage`] it returns.

pub mod bagit;
pub mod curve;
pub mod dataset;
pub mod error;
pub mod manifest;
pub mod pack;
pub mod rocrate;
pub mod schema;
pub mod signing;
pub mod template;
pub mod verify;
pub mod vocabulary;
pub mod zipread;

pub use error::{PackageError, Rejection};
pub use manifest::Manifest;
pub use pack::{CheckedSource, Compression, PackSummary, check_dir, pack_checked, pack_dir, sign_package};
pub use signing::{KeyId, PackageDigest, SecretKey, SignatureStatus, TrustSet};
pub use verify::{VerifiedPackage, verify_file, verify_file_with_progress};
pub use zipread::Limits;

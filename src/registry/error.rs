//! Every way the registry refuses a request, each with a stable machine code and an HTTP status.
//!
//! The codes are part of the API contract (clients match on them): never rename one.

use crate::package::Rejection;
use crate::store::{BlobError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("authentication required: send 'Authorization: Bearer <token>'")]
    Unauthenticated,
    #[error("the API token is not valid")]
    InvalidToken,
    #[error("the API token was revoked")]
    TokenRevoked,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the upload exceeds the limit of {max} bytes")]
    UploadTooLarge { max: u64 },
    #[error("the package failed verification: {0}")]
    PackageRejected(Rejection),
    /// A signature problem found while checking signers against registered keys.
    #[error("{file}: {detail}")]
    SignatureRejected { code: &'static str, file: String, detail: String },
    #[error("{name} {version} is already published with a different digest ({existing})")]
    VersionConflict { name: String, version: String, existing: String },
    #[error("package name '{name}' belongs to organisation '{owner}'")]
    NameOwned { name: String, owner: String },
    #[error("this package ({digest}) was published by organisation '{owner}'")]
    PublishedByOther { digest: String, owner: String },
    #[error("{0}")]
    Conflict(String),
    /// A witness cosignature refused by `POST /log/cosignature`: `malformed_checkpoint`,
    /// `checkpoint_not_ours`, `bad_cosignature` or `no_cosignature`.
    #[error("{detail}")]
    CosignatureRefused { code: &'static str, detail: String },
    /// A tlog-witness `add-checkpoint` request refused (`POST /add-checkpoint`).
    #[error("{0}")]
    WitnessRefused(crate::log::witness::WitnessError),
    #[error("too many failed authentication attempts from this address; try again in {retry_after_secs} s")]
    TooManyAuthFailures { retry_after_secs: u64 },
    #[error("this registry is a read-only mirror of {upstream}; send changes there")]
    ReadOnlyMirror { upstream: String },
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The disk (or volume) holding uploads or package files is full: nothing was stored.
    #[error("the registry's storage is full, nothing was stored: {0}")]
    StorageFull(String),
    /// The blob store failed: unreachable object store, missing blob, local disk error.
    #[error("{0}")]
    Blob(BlobError),
    #[error("internal error: {0}")]
    Internal(String),
}

impl RegistryError {
    pub fn code(&self) -> &'static str {
        use RegistryError::*;
        match self {
            Unauthenticated => "unauthenticated",
            InvalidToken => "invalid_token",
            TokenRevoked => "token_revoked",
            Forbidden(_) => "forbidden",
            NotFound(_) => "not_found",
            BadRequest(_) => "bad_request",
            UploadTooLarge { .. } => "upload_too_large",
            PackageRejected(r) => r.code(),
            SignatureRejected { code, .. } => code,
            VersionConflict { .. } => "version_conflict",
            NameOwned { .. } => "name_owned_by_other_organisation",
            PublishedByOther { .. } => "published_by_other_organisation",
            Conflict(_) => "conflict",
            CosignatureRefused { code, .. } => code,
            WitnessRefused(e) => e.code(),
            TooManyAuthFailures { .. } => "too_many_auth_failures",
            ReadOnlyMirror { .. } => "read_only_mirror",
            Unavailable(_) => "unavailable",
            StorageFull(_) => "storage_full",
            Blob(BlobError::Unavailable { .. }) => "blob_store_unavailable",
            Blob(BlobError::Missing { .. }) => "blob_missing",
            Blob(BlobError::Io { .. }) => "unavailable",
            Blob(BlobError::InvalidAddress(_) | BlobError::Config(_)) => "internal",
            Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> u16 {
        use RegistryError::*;
        match self {
            BadRequest(_) | CosignatureRefused { code: "malformed_checkpoint", .. } => 400,
            Unauthenticated | InvalidToken | TokenRevoked => 401,
            Forbidden(_) | NameOwned { .. } | ReadOnlyMirror { .. } => 403,
            NotFound(_) => 404,
            VersionConflict { .. } | PublishedByOther { .. } | Conflict(_) => 409,
            UploadTooLarge { .. } => 413,
            PackageRejected(_) | SignatureRejected { .. } | CosignatureRefused { .. } => 422,
            TooManyAuthFailures { .. } => 429,
            Unavailable(_) | Blob(BlobError::Unavailable { .. } | BlobError::Io { .. }) => 503,
            StorageFull(_) => 507,
            Blob(_) | Internal(_) => 500,
            // The statuses tlog-witness requires.
            WitnessRefused(e) => {
                use crate::log::witness::WitnessError as W;
                match e {
                    W::Malformed(_) | W::OldSizeTooLarge { .. } => 400,
                    W::NotSigned(_) => 403,
                    W::UnknownOrigin(_) => 404,
                    W::SizeMismatch { .. } | W::RootMismatch { .. } => 409,
                    W::BadProof { .. } => 422,
                }
            }
        }
    }

    /// Every problem, for the `details` of the error body: (code, message).
    pub fn details(&self) -> Vec<(String, String)> {
        match self {
            RegistryError::PackageRejected(r) => {
                r.problems.iter().map(|p| (p.code().to_owned(), p.to_string())).collect()
            }
            other => vec![(other.code().to_owned(), other.to_string())],
        }
    }

    /// A failed write or read of stored files: `storage_full` when the disk is full,
    /// `unavailable` otherwise. `what` says which file, e.g. "temporary file".
    pub fn io(what: &str, e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull || e.kind() == std::io::ErrorKind::QuotaExceeded {
            RegistryError::StorageFull(format!("{what}: {e}"))
        } else {
            RegistryError::Unavailable(format!("{what}: {e}"))
        }
    }

    pub fn forbidden(msg: impl Into<String>) -> Self {
        RegistryError::Forbidden(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        RegistryError::NotFound(msg.into())
    }
    pub fn bad_request(msg: impl Into<String>) -> Self {
        RegistryError::BadRequest(msg.into())
    }
}

impl From<StoreError> for RegistryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => RegistryError::Unavailable(m),
            StoreError::Database(diesel::result::Error::DatabaseError(_, info)) => {
                RegistryError::Internal(format!("database: {}", info.message()))
            }
            StoreError::Database(diesel::result::Error::NotFound) => RegistryError::not_found("not found"),
            StoreError::Blob(b) => RegistryError::Blob(b),
            other => RegistryError::Internal(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for RegistryError {
    fn from(e: diesel::result::Error) -> Self {
        RegistryError::from(StoreError::Database(e))
    }
}

impl From<BlobError> for RegistryError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::Io { what, source }
                if matches!(source.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded) =>
            {
                RegistryError::StorageFull(format!("{what}: {source}"))
            }
            e => RegistryError::Blob(e),
        }
    }
}

impl From<Rejection> for RegistryError {
    fn from(r: Rejection) -> Self {
        RegistryError::PackageRejected(r)
    }
}

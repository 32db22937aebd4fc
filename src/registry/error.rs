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
    /// `owner` is named only to a caller who may read one of that name's packages: a refusal
    /// reveals nothing the caller could not read already.
    #[error("package name '{name}' belongs to {}", owner_words(owner))]
    NameOwned { name: String, owner: Option<String> },
    /// `owner` as for `NameOwned`.
    #[error("this package ({digest}) was published by {}", owner_words(owner))]
    PublishedByOther { digest: String, owner: Option<String> },
    #[error("{0}")]
    Conflict(String),
    /// A write collided with a concurrent one on a unique key (the driver's typed error).
    #[error("a concurrent change collided with this one: {0}")]
    UniqueViolation(String),
    /// A profile asked about a material (or a search about a class) the profile does not apply to.
    #[error("{0}")]
    ProfileClassMismatch(crate::fit::ClassMismatch),
    /// A profile version refused (see [`crate::registry::profiles`]): `profile_owned_by_other_organisation`
    /// (403), `profile_version_exists` (409), a signature or key problem (422), or a document
    /// that is not a valid signed profile (400).
    #[error("{detail}")]
    ProfileRefused { code: &'static str, detail: String },
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

fn owner_words(owner: &Option<String>) -> String {
    match owner {
        Some(o) => format!("organisation '{o}'"),
        None => "another organisation".to_owned(),
    }
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
            Conflict(_) | UniqueViolation(_) => "conflict",
            ProfileClassMismatch(e) => e.code(),
            ProfileRefused { code, .. } => code,
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

    /// Errors whose text describes the registry's insides (database messages, file paths,
    /// object-store answers): logged, never sent to the client.
    pub fn is_internal(&self) -> bool {
        matches!(self, RegistryError::Internal(_) | RegistryError::UniqueViolation(_) | RegistryError::Blob(_))
            && !matches!(self, RegistryError::Blob(BlobError::Missing { .. }))
    }

    pub fn status(&self) -> u16 {
        use RegistryError::*;
        match self {
            BadRequest(_) | CosignatureRefused { code: "malformed_checkpoint", .. } => 400,
            Unauthenticated | InvalidToken | TokenRevoked => 401,
            Forbidden(_)
            | NameOwned { .. }
            | ReadOnlyMirror { .. }
            | ProfileRefused { code: "profile_owned_by_other_organisation", .. } => 403,
            ProfileRefused { code: "profile_version_exists", .. } => 409,
            ProfileRefused {
                code:
                    "profile_not_signed"
                    | "profile_invalid"
                    | "profile_requirement_invalid"
                    | "profile_version_invalid"
                    | "profile_not_canonical",
                ..
            } => 400,
            ProfileRefused { code: "profile_too_large", .. } => 413,
            ProfileRefused { .. } => 422,
            NotFound(_) => 404,
            VersionConflict { .. } | PublishedByOther { .. } | Conflict(_) | UniqueViolation(_) => 409,
            UploadTooLarge { .. } => 413,
            PackageRejected(_) | SignatureRejected { .. } | CosignatureRefused { .. } | ProfileClassMismatch(_) => 422,
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
            StoreError::Database(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                info,
            )) => RegistryError::UniqueViolation(info.message().to_owned()),
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

impl From<crate::fit::ClassMismatch> for RegistryError {
    fn from(e: crate::fit::ClassMismatch) -> Self {
        RegistryError::ProfileClassMismatch(e)
    }
}

impl From<Rejection> for RegistryError {
    fn from(r: Rejection) -> Self {
        RegistryError::PackageRejected(r)
    }
}

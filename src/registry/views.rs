//! What the registry returns and accepts: the JSON shapes of the API, described for OpenAPI.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{OrgKind, Role};

/// A registered organisation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Organisation {
    /// Stable id, e.g. `test-magnetics-lab`.
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// RFC 3339.
    pub created_at: String,
}

/// An organisation with its signing keys.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrganisationDetail {
    #[serde(flatten)]
    pub organisation: Organisation,
    pub keys: Vec<SigningKey>,
}

/// Request body: register an organisation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisation {
    pub id: String,
    pub name: String,
    pub kind: OrgKind,
    pub country: String,
}

/// A registered Ed25519 signing key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SigningKey {
    /// Hex id derived from the public key (as printed by `prequal keygen`).
    pub key_id: String,
    pub organisation: String,
    /// Base64 Ed25519 public key.
    pub public_key: String,
    pub added_at: String,
    /// `active`, or `revoked` once the revocation's effective time has passed.
    pub status: String,
    /// Effective time of the revocation, if any (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    /// The key was compromised: packages registered since `revoked_at` are suspect.
    pub compromised: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revocation_reason: Option<String>,
}

/// Request body: register a signing key for an organisation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// Base64 Ed25519 public key.
    pub public_key: String,
}

/// Request body: revoke a key.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRevocation {
    /// When the revocation takes effect (RFC 3339); now if absent. May lie in the past, not
    /// before the key was registered (refused with `bad_request`).
    #[serde(default)]
    pub effective_at: Option<String>,
    /// The key was compromised since `effective_at`: packages registered since then are marked
    /// suspect wherever they are shown.
    #[serde(default)]
    pub compromised: bool,
    pub reason: String,
}

/// Request body: issue an API token.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub organisation: String,
    pub role: Role,
    /// What the token is for, e.g. `ci upload`.
    #[serde(default)]
    pub label: String,
}

/// An API token's record (never the token itself).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    pub id: String,
    pub organisation: String,
    pub role: Role,
    pub label: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

/// A newly issued token: `token` is shown this once and cannot be recovered.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: TokenInfo,
    pub token: String,
}

/// The caller, as the registry sees it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Whoami {
    pub token_id: String,
    pub organisation: String,
    pub country: String,
    pub role: Role,
}

/// A package's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PackageStatus {
    /// The current version; counts as evidence unless suspect.
    Active,
    /// A newer version of the same package exists.
    Superseded,
    /// Withdrawn by its lab or the operator; still downloadable, no longer evidence.
    Withdrawn,
}

/// Why and when a package was withdrawn.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Withdrawal {
    pub at: String,
    pub reason: String,
}

/// One package in a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PackageSummary {
    /// `sha256:<hex>` of the package's tag manifest.
    pub digest: String,
    pub name: String,
    pub version: String,
    pub title: String,
    pub material_class: String,
    pub designation: String,
    /// The publishing organisation.
    pub organisation: String,
    /// `public`, `allied` or `restricted`.
    pub releasability: String,
    pub synthetic: bool,
    /// Size of the package file in bytes.
    pub size_bytes: i64,
    pub registered_at: String,
    pub status: PackageStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<Withdrawal>,
    /// Signed with a key reported compromised before this package was registered.
    pub suspect: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suspect_reasons: Vec<String>,
    /// At least one certifier countersigned it.
    pub countersigned: bool,
    /// Active and not suspect: fit reports may cite it.
    pub counts_as_evidence: bool,
}

/// A dataset of a package, summarised.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DatasetView {
    pub id: String,
    pub property: String,
    /// UCUM code.
    pub unit: String,
    pub file: String,
    pub measurements: i32,
    pub specimens: i32,
    pub batches: i32,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// Test conditions: `{name: {unit, value?, tolerance?, min?, max?}}`.
    #[schema(value_type = Object)]
    pub conditions: serde_json::Value,
}

/// A signature the registry accepted, with its key's standing now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SignatureView {
    pub key_id: String,
    pub organisation: String,
    /// `author` (the publishing lab) or `countersignature` (a certifier).
    pub kind: String,
    /// `package` (inside the file) or `api` (added after publication).
    pub source: String,
    pub added_at: String,
    /// Base64 Ed25519 signature over `prequal-package-v1\n<digest>\n`.
    pub signature: String,
    pub key_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_revoked_at: Option<String>,
    pub key_compromised: bool,
}

/// Everything the registry knows about one package.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PackageDetail {
    #[serde(flatten)]
    pub summary: PackageSummary,
    /// SHA-256 of the exact bytes stored (the download).
    pub file_sha256: String,
    /// `data/prequal.json` as published.
    #[schema(value_type = Object)]
    pub manifest: serde_json::Value,
    pub datasets: Vec<DatasetView>,
    /// What the registry checked at upload, and when.
    #[schema(value_type = Object)]
    pub verification: serde_json::Value,
    pub signatures: Vec<SignatureView>,
    pub download_url: String,
}

/// A page of packages.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PackageList {
    /// Matching packages the caller may see, across all pages.
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
    pub packages: Vec<PackageSummary>,
}

/// Filters for listing packages.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PackageQuery {
    /// Exact package name.
    pub name: Option<String>,
    /// Publishing organisation id.
    pub organisation: Option<String>,
    /// Material class, e.g. `permanent_magnet`.
    pub material_class: Option<String>,
    /// `active`, `superseded` or `withdrawn`.
    pub status: Option<PackageStatus>,
    /// Page size (default 50, at most 500).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Request body: withdraw a package.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    pub reason: String,
}

/// The JSON error envelope of every refusal.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorInfo {
    /// Stable machine code, e.g. `hash_mismatch`, `version_conflict`.
    pub code: String,
    pub message: String,
    /// Every problem found (a package can fail several checks at once).
    pub details: Vec<ErrorDetail>,
    /// The request's id (also in the `X-Request-Id` header): the registry's log holds the
    /// cause of an internal error under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    /// Names the file, line, field or check.
    pub message: String,
}

/// An RFC 9162 inclusion proof of a package's `package_published` log entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    /// The entry's index in the log.
    pub leaf_index: u64,
    /// The size of the tree the proof is for (a checkpoint's size).
    pub tree_size: u64,
    /// SHA-256(0x00 ‖ entry), hex.
    pub leaf_hash: String,
    /// The audit path, hex, from the leaf upwards.
    pub hashes: Vec<String>,
}

/// A sealed log entry opened for a reader who may see its package: the full entry and the salt
/// of the commitment, so that SHA-256(salt ‖ full entry) can be checked against the `sealed`
/// line of the public entry (see `log::entry`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SealedEntry {
    /// The entry's index in the log.
    pub index: u64,
    /// The public (sealed) entry, as in the tiles.
    pub entry: String,
    /// The entry it commits to.
    pub full_entry: String,
    /// The 32-byte salt, hex.
    pub salt: String,
}

/// What `POST /log/cosignature` did with the cosignatures it was sent.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CosignaturesAccepted {
    /// The tree size of the cosigned checkpoint.
    pub tree_size: u64,
    /// The verifier keys of the witnesses whose cosignature was stored now.
    pub stored: Vec<String>,
    /// The verifier keys of the witnesses that had already cosigned this size (kept as it was).
    pub already_stored: Vec<String>,
}

/// An RFC 9162 consistency proof between two sizes of the log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    /// Hex hashes.
    pub hashes: Vec<String>,
}

/// Log entries, as text (format `prequal-log-entry-v1`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogEntries {
    /// The index of the first entry.
    pub start: u64,
    pub entries: Vec<String>,
}

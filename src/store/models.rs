//! Rows as diesel reads and writes them.

use diesel::prelude::*;

use super::schema::{
    api_tokens, dataset_points, datasets, organisations, package_documents, package_materials, package_readers,
    packages, profiles, search_index, signatures, signing_keys,
};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = organisations)]
pub struct OrganisationRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub country: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct KeyRow {
    pub key_id: String,
    pub organisation_id: String,
    pub public_key: String,
    pub added_at: i64,
    pub revoked_at: Option<i64>,
    pub compromised: bool,
    pub revocation_reason: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_tokens)]
pub struct TokenRow {
    pub id: String,
    pub organisation_id: String,
    pub role: String,
    pub label: String,
    pub token_hash: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = packages)]
pub struct PackageRow {
    pub digest: String,
    pub name: String,
    pub version: String,
    pub title: String,
    pub material_class: String,
    pub designation: String,
    pub organisation_id: String,
    pub releasability: String,
    pub synthetic: bool,
    pub blob_sha256: String,
    pub size_bytes: i64,
    pub registered_at: i64,
    pub withdrawn_at: Option<i64>,
    pub withdrawn_reason: Option<String>,
    pub superseded_by: Option<String>,
    pub material_id: String,
    pub producer: String,
}

/// A package's manifest (as uploaded) and verification record, kept apart from the small
/// columns that lists and rankings read.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = package_documents)]
pub struct DocumentRow {
    pub digest: String,
    pub manifest: String,
    pub verification: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = package_readers)]
pub struct ReaderRow {
    pub digest: String,
    pub reader: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = datasets)]
pub struct DatasetRow {
    pub digest: String,
    pub dataset_id: String,
    pub property: String,
    pub unit: String,
    pub file: String,
    pub measurements: i32,
    pub specimens: i32,
    pub batches: i32,
    pub min_value: f64,
    pub max_value: f64,
    pub mean_value: f64,
    pub conditions: String,
    pub standard: String,
    pub rows: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = profiles)]
pub struct ProfileRow {
    pub id: String,
    pub version: String,
    pub title: String,
    pub material_class: String,
    pub illustrative: bool,
    pub organisation_id: String,
    pub body: String,
    pub created_at: i64,
    pub body_sha256: Option<String>,
    pub key_id: Option<String>,
    pub signature: Option<String>,
    pub log_index: Option<i64>,
}

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = signatures)]
pub struct SignatureRow {
    pub digest: String,
    pub key_id: String,
    pub organisation_id: String,
    pub kind: String,
    pub signature: String,
    pub source: String,
    pub added_at: i64,
}

/// What search filters on about a package's material (from its manifest).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = package_materials)]
pub struct PackageMaterialRow {
    pub digest: String,
    pub producer_country: String,
    /// `material.composition` of the manifest, as JSON.
    pub composition: String,
    /// Where the material was made ([`crate::fit::Source`] as JSON; empty: not yet filled).
    pub source: String,
}

/// A package as search sees it (derived; see `registry::search_index`). Its integer `key`
/// is assigned by the database on insert and kept by every later refresh.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = search_index, treat_none_as_null = true)]
pub struct SearchIndexRow {
    pub digest: String,
    pub material_id: String,
    pub material_class: String,
    pub organisation_id: String,
    pub releasability: String,
    pub producer_country: String,
    pub designation: String,
    pub producer: String,
    /// Lowercase designation, producer, package name and title, one per line.
    pub text: String,
    pub evidence: bool,
    pub countersigned: bool,
    pub rare_earth_free: Option<bool>,
    pub cobalt_free: Option<bool>,
    pub dy_tb: Option<f64>,
    pub supply_hhi: Option<f64>,
    pub registered_at: i64,
    /// `search_generation.value` of the transaction that last wrote the row.
    pub generation: i64,
}

/// The mean of one dataset's rows at one tested temperature, in the property's canonical unit.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = dataset_points)]
pub struct DatasetPointRow {
    /// `search_index.key` of the package.
    pub package_key: i64,
    pub dataset_id: String,
    pub point: i32,
    pub property: String,
    pub temperature_c: Option<f64>,
    pub value: f64,
    pub measurements: i32,
    pub batches: i32,
}

//! Profiles, materials and fit reports in the registry: evidence is every active, unsuspected
//! package the reader may see, read from the database (never from the client).

use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Reader;
use super::error::RegistryError;
use super::queries::{Db, SignatureMap, Sql, SqlValue, load_signatures, summary, visible, visible_sql};
use super::{Registry, Result};
use crate::fit::{self, Evidence, EvidenceDataset, FitReport, MaterialRef, RankEntry, Signer};
use crate::profile::Profile;
use crate::store::models::{PackageRow, SignatureRow};
use crate::store::schema::{datasets, packages};

/// Which measurements a fit needs: a property, and a temperature window in °C unless a
/// requirement on it accepts interpolation or names no temperature.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyFilter {
    pub property: String,
    pub temperature_c: Option<(f64, f64)>,
}

/// The filters for a profile: per property, the union of its requirements' windows (merged
/// where they overlap, so no row is loaded twice).
pub fn profile_filters(profile: &Profile) -> Vec<PropertyFilter> {
    let mut by_property: BTreeMap<&str, Option<Vec<(f64, f64)>>> = BTreeMap::new();
    for r in &profile.requirements {
        let window = match r.conditions.get("temperature") {
            Some(c) if !r.interpolation => {
                match (
                    crate::units::Unit::to_celsius(c.value - c.tolerance, &c.unit),
                    crate::units::Unit::to_celsius(c.value + c.tolerance, &c.unit),
                ) {
                    (Some(a), Some(b)) => Some((a.min(b) - 1e-6, a.max(b) + 1e-6)),
                    _ => None,
                }
            }
            _ => None,
        };
        let entry = by_property.entry(r.property.as_str()).or_insert_with(|| Some(Vec::new()));
        match (entry.as_mut(), window) {
            (Some(list), Some(w)) => list.push(w),
            _ => *entry = None,
        }
    }
    let mut out = Vec::new();
    for (property, windows) in by_property {
        match windows {
            None => out.push(PropertyFilter { property: property.to_owned(), temperature_c: None }),
            Some(mut list) => {
                list.sort_by(|a, b| a.0.total_cmp(&b.0));
                let mut merged: Vec<(f64, f64)> = Vec::new();
                for (lo, hi) in list {
                    match merged.last_mut() {
                        Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                        _ => merged.push((lo, hi)),
                    }
                }
                out.extend(
                    merged
                        .into_iter()
                        .map(|w| PropertyFilter { property: property.to_owned(), temperature_c: Some(w) }),
                );
            }
        }
    }
    out
}

/// A profile in a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProfileSummary {
    pub id: String,
    pub version: String,
    pub title: String,
    pub material_class: String,
    pub illustrative: bool,
    /// The issuer: the organisation that owns the profile id and issued this version
    /// (`registry`: the registry operator, issuer of the built-in profiles).
    pub organisation: String,
    pub requirements: usize,
    /// The highest semantic version of this id: what a fit without `version` uses.
    pub latest: bool,
    /// SHA-256 (hex) of the canonical profile bytes, which the signature covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The issuer's signing key (absent for built-in profiles, which are not signed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Base64 Ed25519 signature over `prequal-profile-v1\nsha256:<sha256>\n`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Index of the version's `profile_version_added` entry in the transparency log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
}

/// A material and the packages about it that the caller may see.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MaterialSummary {
    pub id: String,
    pub designation: String,
    pub producer: String,
    pub material_class: String,
    /// Packages that count as evidence (active, not suspect).
    pub evidence_packages: usize,
    pub packages: usize,
    pub labs: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FitQuery {
    /// Profile id.
    pub profile: String,
    /// Profile version, to reproduce a report (default: the latest, i.e. the highest semantic
    /// version issued by the profile's owner).
    pub version: Option<String>,
    /// Material id (from `/v1/materials`).
    pub material: Option<String>,
}

/// Request body: test a new source against a material's qualified data.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EquivalencyRequest {
    /// Material id of the qualified base (every package about it that counts as evidence).
    pub material: String,
    /// Digest of the new source's package.
    pub sample: String,
    /// Significance level (default 0.05).
    #[serde(default)]
    pub alpha: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Ranking {
    pub profile: fit::ProfileRef,
    pub materials: Vec<RankEntry>,
}

impl Registry {
    /// Packages the reader may see, optionally of one class or material, with their summaries
    /// and the signatures those were computed from.
    fn visible_packages(
        &self,
        conn: &mut crate::store::AnyConnection,
        reader: &Reader,
        class: Option<&str>,
        material: Option<&str>,
    ) -> Result<(Vec<(PackageRow, crate::registry::views::PackageSummary)>, SignatureMap)> {
        let rows: Vec<PackageRow> = visible_of(reader, class, material)
            .order(packages::registered_at)
            .select(PackageRow::as_select())
            .load(conn)?;
        let sigs = load_signatures(conn, rows.iter().map(|r| r.digest.clone()).collect())?;
        let summarised = rows.into_iter().map(|r| (r.clone(), summary(r, &sigs))).collect();
        Ok((summarised, sigs))
    }

    pub fn list_materials(&self, reader: &Reader) -> Result<Vec<MaterialSummary>> {
        let mut conn = self.store.conn()?;
        let (rows, _) = self.visible_packages(&mut conn, reader, None, None)?;
        let mut out: BTreeMap<String, MaterialSummary> = BTreeMap::new();
        for (row, s) in rows {
            let m = out.entry(row.material_id.clone()).or_insert_with(|| MaterialSummary {
                id: row.material_id.clone(),
                designation: row.designation.clone(),
                producer: row.producer.clone(),
                material_class: row.material_class.clone(),
                evidence_packages: 0,
                packages: 0,
                labs: Vec::new(),
            });
            m.packages += 1;
            if s.counts_as_evidence {
                m.evidence_packages += 1;
            }
            if !m.labs.contains(&row.organisation_id) {
                m.labs.push(row.organisation_id.clone());
            }
        }
        Ok(out.into_values().collect())
    }

    /// Evidence per material: only packages that count (active, not suspect), with only the
    /// datasets of `properties` (all when None).
    pub fn evidence(
        &self,
        reader: &Reader,
        class: Option<&str>,
        material: Option<&str>,
        properties: Option<&[PropertyFilter]>,
    ) -> Result<Vec<(MaterialRef, Vec<Evidence>)>> {
        self.stored_evidence(reader, class, material, properties)?.into_iter().map(|m| m.decode(properties)).collect()
    }

    /// [`Registry::evidence`] before the stored rows are decoded.
    fn stored_evidence(
        &self,
        reader: &Reader,
        class: Option<&str>,
        material: Option<&str>,
        properties: Option<&[PropertyFilter]>,
    ) -> Result<Vec<StoredMaterial>> {
        let names: Option<Vec<String>> = properties.map(|props| {
            let mut names: Vec<String> = props.iter().map(|p| p.property.clone()).collect();
            names.sort();
            names.dedup();
            names
        });
        // The counting packages are those whose search_index row says so (kept current with
        // the rule of the package summary); each read below is one statement joined to it.
        let counting = |sql: &mut Sql| {
            sql.push(" WHERE s.evidence");
            if let Some(c) = class {
                sql.push(" AND s.material_class = ").bind(SqlValue::Text(c.to_owned()));
            }
            if let Some(m) = material {
                sql.push(" AND s.material_id = ").bind(SqlValue::Text(m.to_owned()));
            }
            visible_sql(reader, "s", sql);
        };
        let mut conn = self.store.conn()?;
        let mut q = Sql::default();
        q.push(
            "SELECT p.digest, p.name, p.version, p.organisation_id, p.material_id, p.designation, p.producer, \
             p.material_class, COALESCE(m.source, '') AS source FROM search_index s \
             JOIN packages p ON p.digest = s.digest LEFT JOIN package_materials m ON m.digest = p.digest",
        );
        counting(&mut q);
        q.push(" ORDER BY p.registered_at, p.digest");
        let counted: Vec<CountedPackage> = q.query().load(&mut conn)?;

        let mut q = Sql::default();
        q.push("SELECT g.* FROM search_index s JOIN signatures g ON g.digest = s.digest");
        counting(&mut q);
        q.push(" ORDER BY g.digest, g.added_at, g.key_id");
        let mut signers: HashMap<String, Vec<Signer>> = HashMap::new();
        for g in q.query().load::<SignatureRow>(&mut conn)? {
            let digest = g.digest.clone();
            signers.entry(digest).or_default().push(g.into());
        }

        let mut q = Sql::default();
        q.push(
            "SELECT d.digest, d.dataset_id, d.property, d.unit, d.standard, d.rows \
             FROM search_index s JOIN datasets d ON d.digest = s.digest",
        );
        counting(&mut q);
        if let Some(names) = names {
            if names.is_empty() {
                q.push(" AND 1 = 0");
            } else {
                q.push(" AND d.property IN (").bind_list(names.into_iter().map(SqlValue::Text)).push(")");
            }
        }
        let dataset_rows: Vec<EvidenceDatasetRow> = q.query().load(&mut conn)?;
        drop(conn);
        Ok(group_evidence(counted, signers, dataset_rows))
    }

    /// The fit report of one material against a profile.
    pub fn fit_material(&self, reader: &Reader, query: &FitQuery) -> Result<FitReport> {
        let issued = self.get_issued_profile(&query.profile, query.version.as_deref())?;
        let profile = &issued.profile;
        let Some(material) = query.material.as_deref() else {
            return Err(RegistryError::bad_request("material is required (see /v1/materials)"));
        };
        // One material: load every temperature, so the report can say what was tested instead.
        let mut filters = profile_filters(profile);
        filters.iter_mut().for_each(|f| f.temperature_c = None);
        filters.dedup();
        let mut found = self.evidence(reader, None, Some(material), Some(&filters))?;
        let (m, evidence) = match found.pop() {
            Some(x) => x,
            None => {
                // A material with no counting evidence still gets a report (everything untested),
                // if the reader may see it at all.
                let mut conn = self.store.conn()?;
                let (rows, _) = self.visible_packages(&mut conn, reader, None, Some(material))?;
                let Some((r, _)) = rows.into_iter().next() else {
                    return Err(RegistryError::not_found(format!("no material '{material}' that you may see")));
                };
                (
                    MaterialRef {
                        id: r.material_id,
                        designation: r.designation,
                        producer: r.producer,
                        material_class: r.material_class,
                    },
                    Vec::new(),
                )
            }
        };
        fit::check_applies(profile, &m)?;
        let mut report = fit::fit(profile, m, &evidence);
        report.profile = issued.reference();
        Ok(report)
    }

    /// Every material of the profile's class the reader may see, best first.
    pub fn rank(&self, reader: &Reader, query: &FitQuery) -> Result<(Ranking, Vec<FitReport>)> {
        let issued = self.get_issued_profile(&query.profile, query.version.as_deref())?;
        let profile = &issued.profile;
        let filters = profile_filters(profile);
        let stored = self.stored_evidence(reader, Some(profile.material_class.as_str()), None, Some(&filters))?;
        // Stored rows are decoded on the cores that fit them.
        let ranked = fit::rank_with(profile, stored, |m| m.decode(Some(&filters)))?;
        let (entries, mut reports): (Vec<RankEntry>, Vec<FitReport>) = ranked.into_iter().unzip();
        for r in &mut reports {
            r.profile = issued.reference();
        }
        Ok((Ranking { profile: issued.reference(), materials: entries }, reports))
    }

    /// Equivalency of a published package (a new site or lot) against a material's qualified
    /// data; the sample itself is left out of the base.
    pub fn equivalency(&self, reader: &Reader, req: &EquivalencyRequest) -> Result<fit::EquivalencyReport> {
        let alpha = req.alpha.unwrap_or(0.05);
        if !(alpha > 0.0 && alpha < 0.5) {
            return Err(RegistryError::bad_request("alpha must be between 0 and 0.5"));
        }
        let digest = crate::package::PackageDigest::parse(&req.sample)
            .ok_or_else(|| RegistryError::bad_request(format!("sample '{}' is not a package digest", req.sample)))?
            .to_string();
        let mut conn = self.store.conn()?;
        let sample_row: PackageRow = visible(reader)
            .filter(packages::digest.eq(digest.clone()))
            .select(PackageRow::as_select())
            .first(&mut conn)
            .optional()?
            .ok_or_else(|| RegistryError::not_found(format!("no package {digest} that you may see")))?;
        let sample_sigs = load_signatures(&mut conn, vec![digest.clone()])?;
        let sample_datasets: Vec<EvidenceDatasetRow> = datasets::table
            .filter(datasets::digest.eq(digest.clone()))
            .select(EvidenceDatasetRow::as_select())
            .load(&mut conn)?;
        let signers: HashMap<String, Vec<Signer>> =
            sample_sigs.into_iter().map(|(d, list)| (d, list.into_iter().map(|(s, _)| s.into()).collect())).collect();
        let sample = group_evidence(vec![sample_row.into()], signers, sample_datasets)
            .pop()
            .map(|m| m.decode(None))
            .transpose()?
            .and_then(|(_, mut e)| e.pop())
            .ok_or_else(|| RegistryError::Internal("sample evidence missing".into()))?;
        drop(conn);
        let base: Vec<Evidence> = self
            .evidence(reader, None, Some(&req.material), None)?
            .into_iter()
            .flat_map(|(_, e)| e)
            .filter(|e| e.digest != digest)
            .collect();
        if base.is_empty() {
            return Err(RegistryError::not_found(format!(
                "no qualified evidence for material '{}' that you may see (besides the sample)",
                req.material
            )));
        }
        Ok(fit::equivalency(&base, &sample, alpha))
    }
}

/// Packages the reader may see, optionally of one class or one material.
fn visible_of(reader: &Reader, class: Option<&str>, material: Option<&str>) -> packages::BoxedQuery<'static, Db> {
    let mut q = visible(reader);
    if let Some(c) = class {
        q = q.filter(packages::material_class.eq(c.to_owned()));
    }
    if let Some(m) = material {
        q = q.filter(packages::material_id.eq(m.to_owned()));
    }
    q
}

/// A package that counts as evidence: the columns a fit report cites.
#[derive(Debug, QueryableByName)]
#[diesel(table_name = packages)]
struct CountedPackage {
    digest: String,
    name: String,
    version: String,
    organisation_id: String,
    material_id: String,
    designation: String,
    producer: String,
    material_class: String,
    /// [`fit::Source`] as JSON (empty: unknown).
    #[diesel(sql_type = diesel::sql_types::Text)]
    source: String,
}

impl From<PackageRow> for CountedPackage {
    fn from(r: PackageRow) -> Self {
        CountedPackage {
            digest: r.digest,
            name: r.name,
            version: r.version,
            organisation_id: r.organisation_id,
            material_id: r.material_id,
            designation: r.designation,
            producer: r.producer,
            material_class: r.material_class,
            source: String::new(),
        }
    }
}

impl From<SignatureRow> for Signer {
    fn from(s: SignatureRow) -> Self {
        Signer { key_id: s.key_id, organisation: Some(s.organisation_id), kind: s.kind }
    }
}

/// The columns of a dataset that the fit engine reads.
#[derive(Debug, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = datasets)]
struct EvidenceDatasetRow {
    digest: String,
    dataset_id: String,
    property: String,
    unit: String,
    standard: String,
    rows: String,
}

/// One material's counting packages as stored: rows still in their compact form.
struct StoredMaterial {
    material: MaterialRef,
    packages: Vec<(Evidence, Vec<EvidenceDatasetRow>)>,
}

impl StoredMaterial {
    /// Decodes each dataset's rows, keeping those inside the temperature windows of
    /// `properties` (every row of every dataset when None).
    fn decode(self, properties: Option<&[PropertyFilter]>) -> Result<(MaterialRef, Vec<Evidence>)> {
        let mut evidence = Vec::with_capacity(self.packages.len());
        for (mut ev, stored) in self.packages {
            for d in stored {
                // The windows of this property's filters (none: every row), decoded in one pass.
                let windows: Option<Vec<(f64, f64)>> = match properties {
                    Some(props) => props.iter().filter(|p| p.property == d.property).map(|p| p.temperature_c).collect(),
                    None => None,
                };
                let rows = fit::decode_rows(&d.rows, windows.as_deref().unwrap_or_default())
                    .map_err(RegistryError::Internal)?;
                ev.datasets.push(EvidenceDataset {
                    id: d.dataset_id,
                    property: d.property,
                    unit: d.unit,
                    standard: d.standard,
                    rows,
                });
            }
            evidence.push(ev);
        }
        Ok((self.material, evidence))
    }
}

/// The `counted` packages with their signers and stored datasets, grouped by material.
fn group_evidence(
    counted: Vec<CountedPackage>,
    mut signers: HashMap<String, Vec<Signer>>,
    dataset_rows: Vec<EvidenceDatasetRow>,
) -> Vec<StoredMaterial> {
    let mut datasets_by_digest: HashMap<String, Vec<EvidenceDatasetRow>> = HashMap::new();
    for d in dataset_rows {
        datasets_by_digest.entry(d.digest.clone()).or_default().push(d);
    }
    let mut by_material: BTreeMap<String, StoredMaterial> = BTreeMap::new();
    for r in counted {
        let signers = signers.remove(&r.digest).unwrap_or_default();
        let entry = by_material.entry(r.material_id.clone()).or_insert_with(|| StoredMaterial {
            material: MaterialRef {
                id: r.material_id.clone(),
                designation: r.designation.clone(),
                producer: r.producer.clone(),
                material_class: r.material_class.clone(),
            },
            packages: Vec::new(),
        });
        let stored = datasets_by_digest.remove(&r.digest).unwrap_or_default();
        entry.packages.push((
            Evidence {
                datasets: Vec::with_capacity(stored.len()),
                digest: r.digest,
                name: r.name,
                version: r.version,
                organisation: r.organisation_id,
                signers,
                source: serde_json::from_str(&r.source).unwrap_or_default(),
            },
            stored,
        ));
    }
    by_material.into_values().collect()
}

//! What the web pages show about a material (every package about it the reader may see, its
//! counting evidence, its critical content, the demagnetisation curves of its counting packages)
//! and the candidates of an Ashby-style chart for a profile. Releasability and the
//! counts-as-evidence rule are those of the read API.
//!
//! Curves are not indexed in the database: a counting package's stored manifest says whether it
//! carries any, and only then are its curve files read from the stored package.

use diesel::prelude::*;

use super::auth::Reader;
use super::evidence::PropertyFilter;
use super::queries::{load_signatures, summary, visible};
use super::search::{CriticalContent, content_of};
use super::supply::SupplyTable;
use super::views::PackageSummary;
use super::{Registry, RegistryError, Result};
use crate::fit::Evidence;
use crate::package::Manifest;
use crate::package::curve;
use crate::package::manifest::{CurveKind, ElementFraction};
use crate::profile::Profile;
use crate::store::models::{PackageMaterialRow, PackageRow};
use crate::store::schema::{package_documents, package_materials, packages};
use crate::units::Unit;

impl Registry {
    /// Fills the evidence source of packages stored before sources were recorded, from their
    /// stored manifests: a one-time pass after the migration that added the column, 1 000 rows
    /// to a transaction. Returns how many rows it filled.
    pub fn backfill_sources(&self) -> Result<usize> {
        let mut filled = 0;
        loop {
            let done = self.store.write(|conn| -> Result<usize> {
                let batch: Vec<(String, String)> = package_materials::table
                    .inner_join(package_documents::table.on(package_documents::digest.eq(package_materials::digest)))
                    .filter(package_materials::source.eq(""))
                    .select((package_materials::digest, package_documents::manifest))
                    .limit(1000)
                    .load(conn)?;
                for (digest, manifest) in &batch {
                    // A stored manifest that no longer parses gets the unknown source (so the
                    // pass does not retry it forever); `prequal admin check` reports such rows.
                    let source = match serde_json::from_str::<Manifest>(manifest) {
                        Ok(m) => crate::fit::Source::of_material(&m.material),
                        Err(e) => {
                            log::warn!(
                                "stored manifest of {digest} does not parse ({e}): its evidence source is unknown"
                            );
                            crate::fit::Source::default()
                        }
                    };
                    let text = serde_json::to_string(&source).map_err(|e| RegistryError::Internal(e.to_string()))?;
                    diesel::update(package_materials::table.find(digest))
                        .set(package_materials::source.eq(text))
                        .execute(conn)?;
                }
                Ok(batch.len())
            })?;
            filled += done;
            if done < 1000 {
                return Ok(filled);
            }
        }
    }
}

/// A material and everything about it the reader may see.
#[derive(Debug, Clone)]
pub struct MaterialOverview {
    pub id: String,
    pub designation: String,
    pub producer: String,
    pub producer_country: String,
    pub material_class: String,
    /// Every visible package about it, newest first (withdrawn and superseded ones too).
    pub packages: Vec<PackageSummary>,
    pub content: CriticalContent,
    /// The packages that count as evidence, with their datasets and rows.
    pub evidence: Vec<Evidence>,
    /// The demagnetisation curves of those packages, in package then manifest order.
    pub curves: Vec<MaterialCurve>,
}

/// A demagnetisation curve of a counting package, in kA/m and T.
#[derive(Debug, Clone)]
pub struct MaterialCurve {
    /// The package it came from: name, version and digest.
    pub package: String,
    pub version: String,
    pub digest: String,
    pub id: String,
    pub kind: CurveKind,
    pub description: Option<String>,
    /// None when the package's temperature unit is not one prequal converts.
    pub temperature_c: Option<f64>,
    /// One curve per specimen, in file order.
    pub specimens: Vec<SpecimenCurve>,
}

#[derive(Debug, Clone)]
pub struct SpecimenCurve {
    pub specimen: String,
    pub batch: String,
    /// (H in kA/m, J in T, B in T), in measurement order.
    pub points: Vec<(f64, Option<f64>, Option<f64>)>,
}

/// One material on a Br–HcJ chart at a profile's temperature.
#[derive(Debug, Clone)]
pub struct AshbyPoint {
    pub material: String,
    pub designation: String,
    /// Mean intrinsic coercivity in kA/m and remanence in T of the rows in the window.
    pub hcj: f64,
    pub br: f64,
}

/// The chart's frame: the temperature and the profile's minimum HcJ (kA/m) and Br (T).
#[derive(Debug, Clone)]
pub struct AshbyChart {
    pub temperature_c: f64,
    pub hcj_min: Option<f64>,
    pub br_min: Option<f64>,
    pub points: Vec<AshbyPoint>,
}

fn mean_in(ev: &[Evidence], property: &str, target: &str) -> Option<f64> {
    let target = Unit::parse(target).ok()?;
    let mut values = Vec::new();
    for d in ev.iter().flat_map(|e| &e.datasets).filter(|d| d.property == property) {
        let Ok(unit) = Unit::parse(&d.unit) else { continue };
        values.extend(d.rows.iter().filter_map(|r| unit.convert(r.value, &target).ok()));
    }
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

fn unit(code: &str) -> Result<Unit> {
    Unit::parse(code).map_err(|e| RegistryError::Internal(e.to_string()))
}

impl Registry {
    pub fn material_overview(&self, reader: &Reader, id: &str) -> Result<MaterialOverview> {
        let mut conn = self.store.conn()?;
        let rows: Vec<PackageRow> = visible(reader)
            .filter(packages::material_id.eq(id.to_owned()))
            .order(packages::registered_at.desc())
            .select(PackageRow::as_select())
            .load(&mut conn)?;
        let Some(first) = rows.first().cloned() else {
            return Err(RegistryError::not_found(format!("no material '{id}' that you may see")));
        };
        let sigs = load_signatures(&mut conn, rows.iter().map(|r| r.digest.clone()).collect())?;
        let facts: Option<PackageMaterialRow> = package_materials::table
            .find(&first.digest)
            .select(PackageMaterialRow::as_select())
            .first(&mut conn)
            .optional()?;
        drop(conn);
        let composition: Vec<ElementFraction> =
            facts.as_ref().and_then(|f| serde_json::from_str(&f.composition).ok()).unwrap_or_default();
        let table = SupplyTable::builtin().map_err(RegistryError::Internal)?;
        let evidence: Vec<Evidence> =
            self.evidence(reader, None, Some(id), None)?.into_iter().flat_map(|(_, e)| e).collect();
        let curves = self.curves_of(&evidence)?;
        Ok(MaterialOverview {
            id: first.material_id.clone(),
            designation: first.designation.clone(),
            producer: first.producer.clone(),
            producer_country: facts.map(|f| f.producer_country).unwrap_or_default(),
            material_class: first.material_class.clone(),
            packages: rows.into_iter().map(|r| summary(r, &sigs)).collect(),
            content: content_of(table, &composition),
            evidence,
            curves,
        })
    }

    /// The demagnetisation curves of `packages` (already filtered to what the reader may see).
    /// A stored package that cannot be read is an internal error, never an empty list.
    fn curves_of(&self, packages: &[Evidence]) -> Result<Vec<MaterialCurve>> {
        if packages.is_empty() {
            return Ok(Vec::new());
        }
        let digests: Vec<String> = packages.iter().map(|e| e.digest.clone()).collect();
        let mut conn = self.store.conn()?;
        let documents: Vec<(String, String, String)> = package_documents::table
            .inner_join(packages::table)
            .filter(package_documents::digest.eq_any(&digests))
            .select((package_documents::digest, package_documents::manifest, packages::blob_sha256))
            .load(&mut conn)?;
        drop(conn);
        let (kam, tesla) = (unit("kA/m")?, unit("T")?);
        let mut out = Vec::new();
        for ev in packages {
            let Some((_, manifest, blob)) = documents.iter().find(|(d, _, _)| *d == ev.digest) else {
                continue;
            };
            let manifest = Manifest::from_json("prequal.json", manifest.as_bytes())
                .map_err(|e| RegistryError::Internal(format!("stored manifest of {}: {e}", ev.digest)))?;
            if manifest.curves.is_empty() {
                continue;
            }
            // A temporary local copy when the blob is an object.
            let local = self.store.blobs.local(blob)?;
            let curves = curve::read_stored(local.path(), self.policy.limits)
                .map_err(|r| RegistryError::Internal(format!("curves of stored package {}: {r}", ev.digest)))?;
            for c in curves {
                let (Some(h_unit), Some(jb_unit)) = (c.spec.field_unit, c.spec.flux_density_unit) else { continue };
                let description =
                    manifest.curves.iter().find(|m| m.id == c.spec.id).and_then(|m| m.description.clone());
                let mut specimens: Vec<SpecimenCurve> = Vec::new();
                for p in c.points {
                    let internal = |e: crate::units::UnitError| RegistryError::Internal(e.to_string());
                    let t = |v: Option<f64>| v.map(|v| jb_unit.convert(v, &tesla)).transpose().map_err(internal);
                    let point = (h_unit.convert(p.h, &kam).map_err(internal)?, t(p.j)?, t(p.b)?);
                    match specimens.iter_mut().find(|s| s.specimen == p.specimen) {
                        Some(s) => s.points.push(point),
                        None => {
                            specimens.push(SpecimenCurve { specimen: p.specimen, batch: p.batch, points: vec![point] })
                        }
                    }
                }
                out.push(MaterialCurve {
                    package: ev.name.clone(),
                    version: ev.version.clone(),
                    digest: ev.digest.clone(),
                    id: c.spec.id,
                    kind: c.spec.kind,
                    description,
                    temperature_c: c.spec.temperature_c,
                    specimens,
                });
            }
        }
        Ok(out)
    }

    /// Br against HcJ at the temperature of the profile's HcJ requirement, for every magnet the
    /// reader may see with counting evidence of both in the window; None for a profile without
    /// such a requirement.
    pub fn ashby_chart(&self, reader: &Reader, profile: &Profile) -> Result<Option<AshbyChart>> {
        let Some(hcj_req) = profile.requirements.iter().find(|r| r.property == "intrinsic_coercivity") else {
            return Ok(None);
        };
        let Some(t) = hcj_req.conditions.get("temperature") else { return Ok(None) };
        let (Some(t_c), Some(hi_c)) =
            (Unit::to_celsius(t.value, &t.unit), Unit::to_celsius(t.value + t.tolerance, &t.unit))
        else {
            return Ok(None);
        };
        let tol_c = (hi_c - t_c).abs();
        let window = Some((t_c - tol_c - 1e-6, t_c + tol_c + 1e-6));
        // The minimum of a requirement on `property` at the same temperature (or at any).
        let threshold = |property: &str, target: &str| {
            let same_temperature = |r: &&crate::profile::Requirement| {
                r.conditions.get("temperature").is_none_or(|c| Unit::to_celsius(c.value, &c.unit) == Some(t_c))
            };
            let r = profile.requirements.iter().filter(|r| r.property == property).find(same_temperature)?;
            Unit::parse(&r.unit).ok()?.convert(r.threshold, &Unit::parse(target).ok()?).ok()
        };
        let filters = [
            PropertyFilter { property: "intrinsic_coercivity".into(), temperature_c: window },
            PropertyFilter { property: "remanence".into(), temperature_c: window },
        ];
        let mut points = Vec::new();
        for (m, ev) in self.evidence(reader, Some(profile.material_class.as_str()), None, Some(&filters))? {
            if let (Some(hcj), Some(br)) =
                (mean_in(&ev, "intrinsic_coercivity", "kA/m"), mean_in(&ev, "remanence", "T"))
            {
                points.push(AshbyPoint { material: m.id, designation: m.designation, hcj, br });
            }
        }
        Ok(Some(AshbyChart {
            temperature_c: t_c,
            hcj_min: threshold("intrinsic_coercivity", "kA/m"),
            br_min: threshold("remanence", "T"),
            points,
        }))
    }
}

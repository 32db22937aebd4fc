//! Search for OEM engineers: materials by property at a condition, by fit to an application
//! profile, by critical-mineral content and supply concentration, by origin, lab and text.
//!
//! What is searched: the packages the reader may see ([`visible`], as on every read path) that
//! count as evidence (active, not withdrawn, not superseded, not suspect: the rule of
//! [`summary`]), grouped by material. A material's packages are narrowed first by `lab`,
//! `countersigned` and `country`; the other filters then look at what is left.
//!
//! The property filter, precisely: the request names a property (name or symbol), a range
//! `[min, max]` in `unit` (either bound may be absent) and optionally a temperature `T ± tol`.
//! For every dataset of that property in the material's remaining packages, the rows measured
//! within `[T − tol, T + tol]` (compared in °C, bounds included) form one group; without a
//! temperature, the rows of each distinct temperature form a group. A group's **mean**,
//! converted to `unit`, is its value. The material matches when at least one group's value lies
//! in the range; the hit reports the highest matching value with the dataset it came from.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Reader;
use super::error::RegistryError;
use super::evidence::profile_filters;
use super::packages::{load_signatures, summary, visible};
use super::supply::{CriticalElement, RARE_EARTHS, SupplyTable, supply_index};
use super::{Registry, Result};
use crate::fit::{self, Status, Verdict};
use crate::package::manifest::ElementFraction;
use crate::package::vocabulary::{self, MaterialClass, PropertyDef};
use crate::store::models::{PackageMaterialRow, PackageRow};
use crate::store::schema::{datasets, package_materials, packages};
use crate::units::Unit;

/// The largest page.
pub const MAX_PER_PAGE: usize = 100;
const DEFAULT_PER_PAGE: usize = 20;

/// Query parameters of `GET /v1/search`, as sent (every one is checked by [`SearchRequest::parse`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Free text over designations, producers, package names and titles (case-insensitive).
    pub q: Option<String>,
    /// Property name or symbol, e.g. `intrinsic_coercivity` or `HcJ`.
    pub property: Option<String>,
    /// Lower bound of the property's value (in `unit`).
    pub min: Option<String>,
    /// Upper bound of the property's value (in `unit`).
    pub max: Option<String>,
    /// UCUM unit of `min`, `max` and the values returned (default: the property's canonical unit).
    pub unit: Option<String>,
    /// Test temperature (in `temperature_unit`).
    pub temperature: Option<String>,
    /// UCUM unit of `temperature` and `tolerance`: `Cel` (default), `K` or `[degF]`.
    pub temperature_unit: Option<String>,
    /// Half-width of the temperature window (default 5).
    pub tolerance: Option<String>,
    /// `permanent_magnet` or `battery_cell`.
    pub material_class: Option<String>,
    /// Application profile id: each hit gets its fit verdict.
    pub profile: Option<String>,
    /// With `profile`: `met` (every requirement met) or `partly` (at least one met, none failed).
    pub fit: Option<String>,
    /// `true`: no rare-earth element (Sc, Y, La–Lu) in the composition.
    pub rare_earth_free: Option<String>,
    /// `true`: no cobalt in the composition.
    pub cobalt_free: Option<String>,
    /// Largest Dy + Tb mass fraction (0 to 1).
    pub max_dy_tb: Option<String>,
    /// Largest supply-concentration index (0 to 10 000).
    pub max_supply_hhi: Option<String>,
    /// Producer country (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// Publishing lab (organisation id): only its packages are considered.
    pub lab: Option<String>,
    /// `true`: only packages a certifier countersigned are considered.
    pub countersigned: Option<String>,
    /// `relevance` (default), `name`, `hhi` (least concentrated first) or `value` (highest first).
    pub sort: Option<String>,
    /// Page number, from 1.
    pub page: Option<String>,
    /// Hits per page (default 20, at most 100).
    pub per_page: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitFilter {
    Met,
    Partly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Relevance,
    Name,
    Hhi,
    Value,
}

/// A property range at a condition, units checked.
#[derive(Debug, Clone)]
pub struct PropertyRange {
    pub property: &'static PropertyDef,
    pub unit: Unit,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Inclusive window in °C.
    pub window_c: Option<(f64, f64)>,
}

/// A search request whose every parameter has been checked.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub text: Option<String>,
    pub range: Option<PropertyRange>,
    pub class: Option<MaterialClass>,
    pub profile: Option<String>,
    pub fit: Option<FitFilter>,
    pub rare_earth_free: Option<bool>,
    pub cobalt_free: Option<bool>,
    pub max_dy_tb: Option<f64>,
    pub max_supply_hhi: Option<f64>,
    pub country: Option<String>,
    pub lab: Option<String>,
    pub countersigned_only: bool,
    pub sort: Option<SortKey>,
    pub page: usize,
    pub per_page: usize,
}

fn bad(parameter: &str, message: impl std::fmt::Display) -> RegistryError {
    RegistryError::bad_request(format!("parameter '{parameter}': {message}"))
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn number(parameter: &str, v: &Option<String>) -> Result<Option<f64>> {
    match present(v) {
        None => Ok(None),
        Some(s) => match s.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(bad(parameter, format!("'{s}' is not a number"))),
        },
    }
}

fn flag(parameter: &str, v: &Option<String>) -> Result<Option<bool>> {
    match present(v) {
        None => Ok(None),
        Some("true") | Some("1") | Some("yes") | Some("on") => Ok(Some(true)),
        Some("false") | Some("0") | Some("no") | Some("off") => Ok(Some(false)),
        Some(s) => Err(bad(parameter, format!("'{s}' is not true or false"))),
    }
}

fn count(parameter: &str, v: &Option<String>, default: usize) -> Result<usize> {
    match present(v) {
        None => Ok(default),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(bad(parameter, format!("'{s}' is not a whole number of at least 1"))),
        },
    }
}

/// A property by name (`intrinsic_coercivity`) or symbol (`HcJ`).
pub fn find_property(s: &str) -> Option<&'static PropertyDef> {
    vocabulary::PROPERTIES.iter().find(|p| p.name == s || p.symbol == s)
}

impl SearchRequest {
    pub fn parse(p: &SearchParams) -> Result<SearchRequest> {
        let range = match present(&p.property) {
            None => {
                for (name, v) in [("min", &p.min), ("max", &p.max), ("unit", &p.unit), ("temperature", &p.temperature)]
                {
                    if present(v).is_some() {
                        return Err(bad("property", format!("required when {name} is given")));
                    }
                }
                None
            }
            Some(name) => {
                let property = find_property(name).ok_or_else(|| {
                    bad("property", format!("unknown property '{name}' (use a name such as intrinsic_coercivity or a symbol such as HcJ)"))
                })?;
                let canonical = Unit::parse(property.canonical_unit)
                    .map_err(|e| RegistryError::Internal(format!("vocabulary: {e}")))?;
                let unit = match present(&p.unit) {
                    None => canonical,
                    Some(code) => {
                        let unit = Unit::parse(code).map_err(|e| bad("unit", e))?;
                        if !unit.is_compatible_with(&canonical) {
                            return Err(bad(
                                "unit",
                                format!(
                                    "'{code}' is a unit of {}; {} is a {} (e.g. {})",
                                    unit.dimension().describe(),
                                    property.name,
                                    canonical.dimension().describe(),
                                    Unit::codes_for(canonical.dimension()).join(", ")
                                ),
                            ));
                        }
                        unit
                    }
                };
                let (min, max) = (number("min", &p.min)?, number("max", &p.max)?);
                if let (Some(a), Some(b)) = (min, max)
                    && a > b
                {
                    return Err(bad("max", format!("{b} is below min {a}")));
                }
                let window_c = match number("temperature", &p.temperature)? {
                    None => None,
                    Some(t) => {
                        let tu = present(&p.temperature_unit).unwrap_or("Cel");
                        let Some(t_c) = Unit::to_celsius(t, tu) else {
                            return Err(bad(
                                "temperature_unit",
                                format!("'{tu}' is not a temperature unit (Cel, K, [degF])"),
                            ));
                        };
                        let tol = number("tolerance", &p.tolerance)?.unwrap_or(5.0);
                        if tol < 0.0 {
                            return Err(bad("tolerance", "must not be negative"));
                        }
                        // A difference of temperatures: scale only (°F degrees are 5/9 of °C ones).
                        let tol_c = (Unit::to_celsius(t + tol, tu).unwrap_or(t_c) - t_c).abs();
                        Some((t_c - tol_c - 1e-9, t_c + tol_c + 1e-9))
                    }
                };
                Some(PropertyRange { property, unit, min, max, window_c })
            }
        };
        let class = match present(&p.material_class) {
            None => None,
            Some("permanent_magnet") => Some(MaterialClass::PermanentMagnet),
            Some("battery_cell") => Some(MaterialClass::BatteryCell),
            Some(s) => return Err(bad("material_class", format!("'{s}' is not permanent_magnet or battery_cell"))),
        };
        let fit = match present(&p.fit) {
            None => None,
            Some("met") => Some(FitFilter::Met),
            Some("partly") => Some(FitFilter::Partly),
            Some(s) => return Err(bad("fit", format!("'{s}' is not met or partly"))),
        };
        let profile = present(&p.profile).map(str::to_owned);
        if fit.is_some() && profile.is_none() {
            return Err(bad("profile", "required when fit is given"));
        }
        let max_dy_tb = number("max_dy_tb", &p.max_dy_tb)?;
        if max_dy_tb.is_some_and(|x| !(0.0..=1.0).contains(&x)) {
            return Err(bad("max_dy_tb", "a mass fraction between 0 and 1"));
        }
        let max_supply_hhi = number("max_supply_hhi", &p.max_supply_hhi)?;
        if max_supply_hhi.is_some_and(|x| !(0.0..=10_000.0).contains(&x)) {
            return Err(bad("max_supply_hhi", "an index between 0 and 10000"));
        }
        let country = match present(&p.country) {
            None => None,
            Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => Some(c.to_ascii_uppercase()),
            Some(c) => return Err(bad("country", format!("'{c}' is not an ISO 3166-1 alpha-2 code"))),
        };
        let sort = match present(&p.sort) {
            None => None,
            Some("relevance") => Some(SortKey::Relevance),
            Some("name") => Some(SortKey::Name),
            Some("hhi") => Some(SortKey::Hhi),
            Some("value") if range.is_some() => Some(SortKey::Value),
            Some("value") => return Err(bad("sort", "value needs a property")),
            Some(s) => return Err(bad("sort", format!("'{s}' is not relevance, name, hhi or value"))),
        };
        let text = present(&p.q).map(str::to_lowercase);
        if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
            return Err(bad("q", "at most 200 characters"));
        }
        Ok(SearchRequest {
            text,
            range,
            class,
            profile,
            fit,
            rare_earth_free: flag("rare_earth_free", &p.rare_earth_free)?,
            cobalt_free: flag("cobalt_free", &p.cobalt_free)?,
            max_dy_tb,
            max_supply_hhi,
            country,
            lab: present(&p.lab).map(str::to_owned),
            countersigned_only: flag("countersigned", &p.countersigned)?.unwrap_or(false),
            sort,
            page: count("page", &p.page, 1)?,
            per_page: count("per_page", &p.per_page, DEFAULT_PER_PAGE)?.min(MAX_PER_PAGE),
        })
    }
}

/// What a material holds of the elements search cares about.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CriticalContent {
    /// None: the composition is unknown.
    pub rare_earth_free: Option<bool>,
    pub cobalt_free: Option<bool>,
    /// Dy + Tb mass fraction.
    pub dy_tb_mass_fraction: Option<f64>,
    /// Elements of the supply table in the composition, largest first.
    pub critical_elements: Vec<CriticalElement>,
    /// Supply-concentration index (0 to 10 000): the mass-fraction-weighted mean of the critical
    /// elements' Herfindahl–Hirschman indices of producing-country shares.
    pub supply_hhi: Option<f64>,
}

/// The group of measurements that matched a property filter.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PropertyMatch {
    /// Property name from the vocabulary.
    pub property: String,
    /// Mean of the group's rows, in `unit`.
    pub value: f64,
    pub unit: String,
    /// Mean test temperature of the group (°C), when the rows state one.
    pub temperature_c: Option<f64>,
    /// Rows (specimen measurements) in the group.
    pub measurements: usize,
    pub batches: usize,
    /// Package digest and dataset id the value came from.
    pub digest: String,
    pub dataset: String,
}

/// A hit's fit to the requested profile (as `GET /v1/fit` reports it).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FitSummary {
    pub profile: String,
    pub verdict: Verdict,
    pub met: usize,
    pub not_met: usize,
    pub total: usize,
}

/// One material found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    /// Material id (as in `/v1/materials` and `/v1/fit`).
    pub id: String,
    pub designation: String,
    pub producer: String,
    /// ISO 3166-1 alpha-2 of the producer.
    pub producer_country: String,
    pub material_class: String,
    /// Labs whose packages were considered.
    pub labs: Vec<String>,
    /// Digests of the packages considered (count as evidence, passed the package filters).
    pub packages: Vec<String>,
    /// At least one of them is countersigned by a certifier.
    pub countersigned: bool,
    pub content: CriticalContent,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<PropertyMatch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit: Option<FitSummary>,
    /// Text relevance (higher first); 0 without `q`.
    pub relevance: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FacetCount {
    pub value: String,
    pub count: usize,
}

/// Counts over every hit of the search (all pages), most frequent first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Facets {
    pub material_class: Vec<FacetCount>,
    pub country: Vec<FacetCount>,
    pub lab: Vec<FacetCount>,
    /// `true`, `false` or `unknown`.
    pub rare_earth_free: Vec<FacetCount>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResults {
    /// Hits across all pages.
    pub total: usize,
    pub page: usize,
    pub per_page: usize,
    pub hits: Vec<SearchHit>,
    pub facets: Facets,
    /// Where the supply-concentration figures come from.
    pub supply_source: String,
}

struct Candidate {
    id: String,
    designation: String,
    producer: String,
    country: String,
    class: String,
    /// Newest first.
    packages: Vec<PackageRow>,
    countersigned: bool,
    composition: Vec<ElementFraction>,
}

/// A composition's critical content and supply-concentration index.
pub fn content_of(table: &SupplyTable, composition: &[ElementFraction]) -> CriticalContent {
    let known = !composition.is_empty();
    let holds = |e: &str| composition.iter().any(|f| f.element == e && f.mass_fraction > 0.0);
    let critical = table.critical_elements(composition);
    let dy_tb: f64 =
        composition.iter().filter(|f| f.element == "Dy" || f.element == "Tb").map(|f| f.mass_fraction).sum();
    CriticalContent {
        rare_earth_free: known.then(|| !RARE_EARTHS.iter().any(|e| holds(e))),
        cobalt_free: known.then(|| !holds("Co")),
        dy_tb_mass_fraction: known.then_some(dy_tb),
        supply_hhi: supply_index(composition, &critical),
        critical_elements: critical,
    }
}

fn relevance(text: &str, c: &Candidate) -> f64 {
    let designation = c.designation.to_lowercase();
    let mut score = 0.0;
    if designation == text {
        score += 4.0;
    } else if designation.contains(text) {
        score += 2.0;
    }
    if c.producer.to_lowercase().contains(text) {
        score += 1.0;
    }
    if c.packages.iter().any(|p| p.name.to_lowercase().contains(text) || p.title.to_lowercase().contains(text)) {
        score += 1.0;
    }
    score
}

/// The best group of a dataset's rows in the range (see the module docs).
fn best_group(
    range: &PropertyRange,
    unit: &str,
    rows: &[fit::EvidenceRow],
) -> Option<(f64, Option<f64>, usize, usize)> {
    let from = Unit::parse(unit).ok()?;
    let mut groups: BTreeMap<i64, Vec<&fit::EvidenceRow>> = BTreeMap::new();
    for r in rows {
        let t = r.conditions.get("temperature").map(|(t, _)| *t);
        let key = match (range.window_c, t) {
            (Some(_), _) => 0,
            // Distinct temperatures, to the hundredth of a degree; rows without one together.
            (None, Some(t)) => (t * 100.0).round() as i64,
            (None, None) => i64::MIN,
        };
        groups.entry(key).or_default().push(r);
    }
    groups
        .into_values()
        .filter_map(|g| {
            let n = g.len() as f64;
            let mean = from.convert(g.iter().map(|r| r.value).sum::<f64>() / n, &range.unit).ok()?;
            let temps: Vec<f64> = g.iter().filter_map(|r| r.conditions.get("temperature").map(|(t, _)| *t)).collect();
            let t = (!temps.is_empty()).then(|| temps.iter().sum::<f64>() / temps.len() as f64);
            let batches = g.iter().map(|r| &*r.batch).collect::<BTreeSet<&str>>().len();
            let inside = range.min.is_none_or(|lo| mean >= lo) && range.max.is_none_or(|hi| mean <= hi);
            inside.then_some((mean, t, g.len(), batches))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

fn facet(counts: BTreeMap<String, usize>) -> Vec<FacetCount> {
    let mut v: Vec<FacetCount> = counts.into_iter().map(|(value, count)| FacetCount { value, count }).collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
    v
}

impl Registry {
    /// Materials matching `req` among what `reader` may see (see the module docs).
    pub fn search(&self, reader: &Reader, req: &SearchRequest) -> Result<SearchResults> {
        let table = SupplyTable::builtin().map_err(RegistryError::Internal)?;
        let profile = match &req.profile {
            None => None,
            Some(id) => Some(self.get_profile(id, None).map_err(|e| match e {
                RegistryError::NotFound(m) => bad("profile", m),
                other => other,
            })?),
        };
        let mut conn = self.store.conn()?;

        // Packages the reader may see, narrowed in the database where a column says enough.
        let mut q = visible(reader);
        if let Some(c) = req.class {
            q = q.filter(packages::material_class.eq(c.as_str().to_owned()));
        }
        if let Some(lab) = &req.lab {
            q = q.filter(packages::organisation_id.eq(lab.clone()));
        }
        let rows: Vec<PackageRow> =
            q.order(packages::registered_at.desc()).select(PackageRow::as_select()).load(&mut conn)?;
        let sigs = load_signatures(&mut conn, rows.iter().map(|r| r.digest.clone()).collect())?;
        let mut materials_of: HashMap<String, PackageMaterialRow> = HashMap::new();
        let digests: Vec<String> = rows.iter().map(|r| r.digest.clone()).collect();
        for chunk in digests.chunks(2000) {
            let found: Vec<PackageMaterialRow> = package_materials::table
                .filter(package_materials::digest.eq_any(chunk))
                .select(PackageMaterialRow::as_select())
                .load(&mut conn)?;
            materials_of.extend(found.into_iter().map(|m| (m.digest.clone(), m)));
        }

        // Group by material the packages that count as evidence and pass the package filters.
        let mut candidates: BTreeMap<String, Candidate> = BTreeMap::new();
        for row in rows {
            let s = summary(row.clone(), &sigs);
            if !s.counts_as_evidence || (req.countersigned_only && !s.countersigned) {
                continue;
            }
            let facts = materials_of.get(&row.digest);
            let country = facts.map(|f| f.producer_country.clone()).unwrap_or_default();
            if req.country.as_ref().is_some_and(|c| *c != country) {
                continue;
            }
            let c = candidates.entry(row.material_id.clone()).or_insert_with(|| Candidate {
                id: row.material_id.clone(),
                designation: row.designation.clone(),
                producer: row.producer.clone(),
                country,
                class: row.material_class.clone(),
                packages: Vec::new(),
                countersigned: false,
                // Rows come newest first: the newest package's composition describes the material.
                composition: facts
                    .and_then(|f| serde_json::from_str::<Vec<ElementFraction>>(&f.composition).ok())
                    .unwrap_or_default(),
            });
            c.countersigned |= s.countersigned;
            c.packages.push(row);
        }

        let mut hits: Vec<SearchHit> = Vec::new();
        let mut kept: Vec<Candidate> = Vec::new();
        for c in candidates.into_values() {
            let relevance = match &req.text {
                Some(t) => relevance(t, &c),
                None => 0.0,
            };
            if req.text.is_some() && relevance <= 0.0 {
                continue;
            }
            let content = content_of(table, &c.composition);
            if req.rare_earth_free.is_some_and(|want| content.rare_earth_free != Some(want))
                || req.cobalt_free.is_some_and(|want| content.cobalt_free != Some(want))
                || req.max_dy_tb.is_some_and(|max| !content.dy_tb_mass_fraction.is_some_and(|x| x <= max + 1e-12))
                || req.max_supply_hhi.is_some_and(|max| !content.supply_hhi.is_some_and(|x| x <= max))
            {
                continue;
            }
            hits.push(SearchHit {
                id: c.id.clone(),
                designation: c.designation.clone(),
                producer: c.producer.clone(),
                producer_country: c.country.clone(),
                material_class: c.class.clone(),
                labs: c
                    .packages
                    .iter()
                    .map(|p| p.organisation_id.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
                packages: c.packages.iter().map(|p| p.digest.clone()).collect(),
                countersigned: c.countersigned,
                content,
                property: None,
                fit: None,
                relevance,
            });
            kept.push(c);
        }

        if let Some(range) = &req.range {
            let digests: Vec<String> = kept.iter().flat_map(|c| c.packages.iter().map(|p| p.digest.clone())).collect();
            let mut found: Vec<(String, String, String, String)> = Vec::new();
            for chunk in digests.chunks(2000) {
                found.extend(
                    datasets::table
                        .filter(datasets::digest.eq_any(chunk))
                        .filter(datasets::property.eq(range.property.name))
                        .select((datasets::digest, datasets::dataset_id, datasets::unit, datasets::rows))
                        .load::<(String, String, String, String)>(&mut conn)?,
                );
            }
            let mut best: HashMap<String, PropertyMatch> = HashMap::new();
            let material_of: HashMap<&str, &str> =
                kept.iter().flat_map(|c| c.packages.iter().map(move |p| (p.digest.as_str(), c.id.as_str()))).collect();
            for (digest, dataset, unit, rows) in &found {
                let decoded = fit::decode_rows(rows, range.window_c.as_slice()).map_err(RegistryError::Internal)?;
                let Some((value, t, n, batches)) = best_group(range, unit, &decoded) else { continue };
                let Some(material) = material_of.get(digest.as_str()) else { continue };
                let better = best.get(*material).is_none_or(|m| value > m.value);
                if better {
                    best.insert(
                        (*material).to_owned(),
                        PropertyMatch {
                            property: range.property.name.to_owned(),
                            value,
                            unit: range.unit.code().to_owned(),
                            temperature_c: t,
                            measurements: n,
                            batches,
                            digest: digest.clone(),
                            dataset: dataset.clone(),
                        },
                    );
                }
            }
            hits.retain_mut(|h| match best.remove(&h.id) {
                Some(m) => {
                    h.property = Some(m);
                    true
                }
                None => false,
            });
        }
        drop(conn);

        if let Some(profile) = &profile {
            let class = profile.material_class.as_str();
            let wanted: BTreeSet<String> =
                hits.iter().filter(|h| h.material_class == class).map(|h| h.id.clone()).collect();
            let filters = profile_filters(profile);
            let evidence = self.evidence(reader, Some(class), None, Some(&filters))?;
            let mut verdicts: HashMap<String, FitSummary> = HashMap::new();
            for (m, ev) in evidence {
                if !wanted.contains(&m.id) {
                    continue;
                }
                let id = m.id.clone();
                let report = fit::fit(profile, m, &ev);
                let met = report.requirements.iter().filter(|r| r.status == Status::Met).count();
                let not_met = report.requirements.iter().filter(|r| r.status == Status::NotMet).count();
                verdicts.insert(
                    id,
                    FitSummary {
                        profile: profile.id.clone(),
                        verdict: report.verdict,
                        met,
                        not_met,
                        total: report.requirements.len(),
                    },
                );
            }
            for h in &mut hits {
                h.fit = verdicts.remove(&h.id);
            }
            if let Some(f) = req.fit {
                hits.retain(|h| {
                    h.fit.as_ref().is_some_and(|s| match f {
                        FitFilter::Met => s.verdict == Verdict::Qualified,
                        FitFilter::Partly => s.met > 0 && s.not_met == 0,
                    })
                });
            }
        }

        let mut facets: [BTreeMap<String, usize>; 4] = Default::default();
        for h in &hits {
            *facets[0].entry(h.material_class.clone()).or_default() += 1;
            *facets[1].entry(h.producer_country.clone()).or_default() += 1;
            for lab in &h.labs {
                *facets[2].entry(lab.clone()).or_default() += 1;
            }
            let ref_free = match h.content.rare_earth_free {
                Some(true) => "true",
                Some(false) => "false",
                None => "unknown",
            };
            *facets[3].entry(ref_free.to_owned()).or_default() += 1;
        }
        let [class_f, country_f, lab_f, ref_f] = facets;

        let by_name = |a: &SearchHit, b: &SearchHit| {
            a.designation.to_lowercase().cmp(&b.designation.to_lowercase()).then(a.id.cmp(&b.id))
        };
        let sort = req.sort.unwrap_or(if req.text.is_some() { SortKey::Relevance } else { SortKey::Name });
        match sort {
            SortKey::Relevance => hits.sort_by(|a, b| b.relevance.total_cmp(&a.relevance).then_with(|| by_name(a, b))),
            SortKey::Name => hits.sort_by(by_name),
            SortKey::Hhi => hits.sort_by(|a, b| {
                let k = |h: &SearchHit| h.content.supply_hhi.unwrap_or(f64::INFINITY);
                k(a).total_cmp(&k(b)).then_with(|| by_name(a, b))
            }),
            SortKey::Value => hits.sort_by(|a, b| {
                let k = |h: &SearchHit| h.property.as_ref().map_or(f64::NEG_INFINITY, |m| m.value);
                k(b).total_cmp(&k(a)).then_with(|| by_name(a, b))
            }),
        }
        let total = hits.len();
        let start = (req.page - 1).saturating_mul(req.per_page).min(total);
        let page: Vec<SearchHit> = hits.into_iter().skip(start).take(req.per_page).collect();
        Ok(SearchResults {
            total,
            page: req.page,
            per_page: req.per_page,
            hits: page,
            facets: Facets {
                material_class: facet(class_f),
                country: facet(country_f),
                lab: facet(lab_f),
                rare_earth_free: facet(ref_f),
            },
            supply_source: table.source.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> SearchParams {
        let map: serde_json::Map<String, serde_json::Value> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).into())).collect();
        serde_json::from_value(serde_json::Value::Object(map)).unwrap()
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        SearchRequest::parse(&params(pairs)).unwrap_err().to_string()
    }

    #[test]
    fn parses_a_property_range_in_any_compatible_unit() {
        let r = SearchRequest::parse(&params(&[
            ("property", "HcJ"),
            ("min", "12.5"),
            ("unit", "kOe"),
            ("temperature", "302"),
            ("temperature_unit", "[degF]"),
            ("tolerance", "9"),
        ]))
        .unwrap();
        let range = r.range.unwrap();
        assert_eq!(range.property.name, "intrinsic_coercivity");
        assert_eq!(range.unit.code(), "kOe");
        let (lo, hi) = range.window_c.unwrap();
        assert!((lo - 145.0).abs() < 1e-6 && (hi - 155.0).abs() < 1e-6, "{lo} {hi}");
        assert_eq!(r.per_page, DEFAULT_PER_PAGE);
    }

    #[test]
    fn refusals_name_the_parameter() {
        assert!(error(&[("property", "HcJ"), ("unit", "furlong")]).starts_with("parameter 'unit'"));
        assert!(error(&[("property", "HcJ"), ("unit", "T")]).starts_with("parameter 'unit'"));
        assert!(error(&[("property", "HcJ"), ("min", "lots")]).starts_with("parameter 'min'"));
        assert!(error(&[("property", "Hc")]).starts_with("parameter 'property'"));
        assert!(error(&[("min", "3")]).starts_with("parameter 'property'"));
        assert!(
            error(&[("property", "HcJ"), ("temperature", "20"), ("temperature_unit", "kA/m")])
                .starts_with("parameter 'temperature_unit'")
        );
        assert!(error(&[("fit", "met")]).starts_with("parameter 'profile'"));
        assert!(error(&[("country", "Germany")]).starts_with("parameter 'country'"));
        assert!(error(&[("page", "0")]).starts_with("parameter 'page'"));
        assert!(error(&[("sort", "value")]).starts_with("parameter 'sort'"));
        assert!(error(&[("max_dy_tb", "2")]).starts_with("parameter 'max_dy_tb'"));
        assert_eq!(SearchRequest::parse(&params(&[("per_page", "5000")])).unwrap().per_page, MAX_PER_PAGE);
    }
}

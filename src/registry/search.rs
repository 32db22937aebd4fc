//! Search for OEM engineers: materials by property at a condition, by fit to an application
//! profile, by critical-mineral content and supply concentration, by origin, lab and text.
//!
//! What is searched: the packages the reader may see ([`visible_sql`], the same rule as every
//! read path) that count as evidence (active, not withdrawn, not superseded, not suspect: the
//! rule of the package summary), grouped by material. Every filter except `profile`/`fit` is a
//! condition on a package, checked against this process's in-memory copy of `search_index`
//! (see [`super::search_index::Mirror`]); a property filter first reads the matching points
//! with one range over the `dataset_points` index. A material is a hit when at least one of its
//! packages passes every filter, and the hit lists those packages. Its designation, country,
//! composition and supply index are those of the newest of them.
//!
//! The property filter, precisely: the request names a property (name or symbol), a range
//! `[min, max]` in `unit` (either bound may be absent) and optionally a temperature `T ± tol`.
//! Each dataset of the property has one point per tested temperature: the **mean** of the rows
//! measured at that temperature (rows stating none form a point of their own). A package passes
//! when one of its points lies inside `[T − tol, T + tol]` (°C, bounds included; any temperature
//! without `temperature`) with its mean, converted to `unit`, inside the range; the hit reports
//! the highest such mean with the dataset and temperature it came from.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Reader;
use super::error::RegistryError;
use super::evidence::profile_filters;
use super::queries::{Sql, SqlValue};
use super::search_index::Indexed;
use super::supply::SupplyTable;
pub use super::supply::{CriticalContent, content_of};
use super::{Registry, Result};
use crate::fit::{self, Status, Verdict};
use crate::package::manifest::ElementFraction;
use crate::package::vocabulary::{self, MaterialClass, PropertyDef};
use crate::store::models::DatasetPointRow;
use crate::store::schema::{dataset_points, package_materials};
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
    /// The property's canonical unit, in which `dataset_points` hold their means.
    pub canonical: Unit,
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
                Some(PropertyRange { property, unit, canonical, min, max, window_c })
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
    /// The profile version fitted (the latest): `GET /v1/fit?…&version=` reproduces the report.
    pub profile_version: String,
    /// The profile's issuer (`registry`: the registry operator).
    pub profile_issuer: String,
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

/// A dataset point that passed the property filter: only what choosing a material's best
/// point needs (its dataset and counts are read for the page's hits alone).
#[derive(QueryableByName)]
struct PointRow {
    #[diesel(sql_type = BigInt)]
    package_key: i64,
    #[diesel(sql_type = Double)]
    value: f64,
    #[diesel(sql_type = Nullable<Double>)]
    temperature_c: Option<f64>,
}

/// A material found, before paging; borrows from the search mirror.
struct Found<'a> {
    id: &'a str,
    class: &'a str,
    /// The newest matching package (its designation, country, composition and supply index
    /// are the material's).
    newest: &'a Indexed,
    /// Distinct, in the order met; sorted for the page.
    labs: Vec<&'a str>,
    /// Every matching package; newest first once on the page.
    packages: Vec<&'a Indexed>,
    countersigned: bool,
    relevance: f64,
    /// The best point (highest value, in the canonical unit) and its package.
    best: Option<(&'a Indexed, PointRow)>,
}

/// Text relevance of one package: 4 when the designation is the text, 2 when it contains it;
/// 1 more when the producer contains it, 1 more when the package name or title does.
fn relevance(text: &str, indexed: &str) -> f64 {
    let mut parts = indexed.split('\n');
    let (designation, producer) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut score = 0.0;
    if designation == text {
        score += 4.0;
    } else if designation.contains(text) {
        score += 2.0;
    }
    if producer.contains(text) {
        score += 1.0;
    }
    if parts.any(|p| p.contains(text)) {
        score += 1.0;
    }
    score
}

/// Whether a package passes every package filter of `req` (property aside) for `reader`, who
/// holds `grants`.
fn passes(req: &SearchRequest, reader: &Reader, grants: &[String], p: &Indexed) -> bool {
    let r = &p.row;
    r.evidence
        && req.class.is_none_or(|c| r.material_class == c.as_str())
        && req.lab.as_ref().is_none_or(|lab| r.organisation_id == *lab)
        && (!req.countersigned_only || r.countersigned)
        && req.country.as_ref().is_none_or(|c| r.producer_country == *c)
        && req.rare_earth_free.is_none_or(|want| r.rare_earth_free == Some(want))
        && req.cobalt_free.is_none_or(|want| r.cobalt_free == Some(want))
        && req.max_dy_tb.is_none_or(|max| r.dy_tb.is_some_and(|x| x <= max + 1e-12))
        && req.max_supply_hhi.is_none_or(|max| r.supply_hhi.is_some_and(|x| x <= max))
        && req.text.as_ref().is_none_or(|t| r.text.contains(t.as_str()))
        && p.visible_to(reader, grants)
}

/// The points statement of a property filter: one index range over `dataset_points`.
fn points_statement(range: &PropertyRange) -> Result<Sql> {
    let to_canonical = |x: f64| range.unit.convert(x, &range.canonical).map_err(|e| bad("unit", e));
    let mut sql = Sql::default();
    sql.push("SELECT p.package_key, p.value, p.temperature_c FROM dataset_points p WHERE p.property = ")
        .bind(SqlValue::Text(range.property.name.to_owned()));
    if let Some((lo, hi)) = range.window_c {
        sql.push(" AND p.temperature_c >= ").bind(SqlValue::Double(lo));
        sql.push(" AND p.temperature_c <= ").bind(SqlValue::Double(hi));
    }
    // Conversions between the units of one property keep order (positive factors).
    if let Some(min) = range.min {
        sql.push(" AND p.value >= ").bind(SqlValue::Double(to_canonical(min)? - 1e-9 * min.abs().max(1.0)));
    }
    if let Some(max) = range.max {
        sql.push(" AND p.value <= ").bind(SqlValue::Double(to_canonical(max)? + 1e-9 * max.abs().max(1.0)));
    }
    Ok(sql)
}

/// Groups the matching packages (with their matching point, if any) by material.
fn group<'a>(
    materials: usize,
    matches: impl Iterator<Item = (&'a Indexed, Option<PointRow>)>,
    text: Option<&str>,
) -> Vec<Found<'a>> {
    // Material number to its place in `found`.
    let mut at: Vec<usize> = vec![usize::MAX; materials];
    let mut found: Vec<Found<'a>> = Vec::new();
    let order = |p: &Indexed| (p.row.registered_at, p.key);
    for (p, point) in matches {
        let r = &p.row;
        let Some(slot) = at.get_mut(p.material) else { continue };
        if *slot == usize::MAX {
            *slot = found.len();
            found.push(Found {
                id: &r.material_id,
                class: &r.material_class,
                newest: p,
                labs: Vec::new(),
                packages: Vec::new(),
                countersigned: false,
                relevance: 0.0,
                best: None,
            });
        }
        let f = &mut found[*slot];
        if order(p) > order(f.newest) {
            f.newest = p;
        }
        if let Some(t) = text {
            f.relevance = f.relevance.max(relevance(t, &r.text));
        }
        f.countersigned |= r.countersigned;
        if !f.labs.contains(&r.organisation_id.as_str()) {
            f.labs.push(&r.organisation_id);
        }
        if !f.packages.iter().any(|q| q.key == p.key) {
            f.packages.push(p);
        }
        if let Some(point) = point
            && f.best.as_ref().is_none_or(|(_, b)| point.value > b.value)
        {
            f.best = Some((p, point));
        }
    }
    found
}

fn facet(counts: Vec<(&str, usize)>) -> Vec<FacetCount> {
    let mut v: Vec<FacetCount> =
        counts.into_iter().map(|(value, count)| FacetCount { value: value.to_owned(), count }).collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
    v
}

impl Registry {
    /// Materials matching `req` among what `reader` may see (see the module docs).
    pub fn search(&self, reader: &Reader, req: &SearchRequest) -> Result<SearchResults> {
        let table = SupplyTable::builtin().map_err(RegistryError::Internal)?;
        let profile = match &req.profile {
            None => None,
            Some(id) => Some(self.get_issued_profile(id, None).map_err(|e| match e {
                RegistryError::NotFound(m) => bad("profile", m),
                other => other,
            })?),
        };
        // A profile applies to its material class only: asking for another class is refused,
        // and without `material_class` the hits are those of the profile's class.
        let class_filter = match (&profile, req.class) {
            (Some(p), Some(c)) => {
                fit::check_class(&p.profile, "the search's material_class", c.as_str())?;
                Some(c)
            }
            (Some(p), None) => Some(p.profile.material_class),
            (None, c) => c,
        };
        let owned;
        let req = if class_filter == req.class {
            req
        } else {
            owned = SearchRequest { class: class_filter, ..req.clone() };
            &owned
        };
        // The points first, then the mirror: brought up to date after the points were read, it
        // knows every package they name.
        let points: Option<Vec<PointRow>> = match &req.range {
            None => None,
            Some(range) => {
                let mut conn = self.store.conn()?;
                Some(points_statement(range)?.query().load(&mut conn)?)
            }
        };
        let mirror = self.mirrored()?;
        let grants = reader.grants();
        let mut found = match points {
            Some(points) => group(
                mirror.materials.len(),
                points.into_iter().filter_map(|point| {
                    mirror.get(point.package_key).filter(|p| passes(req, reader, &grants, p)).map(|p| (p, Some(point)))
                }),
                req.text.as_deref(),
            ),
            None => group(
                mirror.materials.len(),
                mirror.all().filter(|p| passes(req, reader, &grants, p)).map(|p| (p, None)),
                req.text.as_deref(),
            ),
        };
        if req.text.is_some() {
            found.retain(|f| f.relevance > 0.0);
        }

        let mut verdicts: HashMap<String, FitSummary> = HashMap::new();
        if let Some(issued) = &profile {
            let profile = &issued.profile;
            let class = profile.material_class.as_str();
            let wanted: BTreeSet<&str> = found.iter().filter(|f| f.class == class).map(|f| f.id).collect();
            if !wanted.is_empty() {
                let filters = profile_filters(profile);
                for (m, ev) in self.evidence(reader, Some(class), None, Some(&filters))? {
                    if !wanted.contains(m.id.as_str()) {
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
                            profile_version: profile.version.clone(),
                            profile_issuer: issued.issuer.clone(),
                            verdict: report.verdict,
                            met,
                            not_met,
                            total: report.requirements.len(),
                        },
                    );
                }
            }
            if let Some(want) = req.fit {
                found.retain(|f| {
                    verdicts.get(f.id).is_some_and(|s| match want {
                        FitFilter::Met => s.verdict == Verdict::Qualified,
                        FitFilter::Partly => s.met > 0 && s.not_met == 0,
                    })
                });
            }
        }

        // Few distinct values each: counted in short lists.
        let mut facets: [Vec<(&str, usize)>; 4] = Default::default();
        fn count<'s>(counts: &mut Vec<(&'s str, usize)>, value: &'s str) {
            match counts.iter_mut().find(|(v, _)| *v == value) {
                Some((_, n)) => *n += 1,
                None => counts.push((value, 1)),
            }
        }
        for f in &found {
            count(&mut facets[0], f.class);
            count(&mut facets[1], &f.newest.row.producer_country);
            for lab in &f.labs {
                count(&mut facets[2], lab);
            }
            let ref_free = match f.newest.row.rare_earth_free {
                Some(true) => "true",
                Some(false) => "false",
                None => "unknown",
            };
            count(&mut facets[3], ref_free);
        }
        let [class_f, country_f, lab_f, ref_f] = facets.map(facet);

        let sort = req.sort.unwrap_or(if req.text.is_some() { SortKey::Relevance } else { SortKey::Name });
        let by_name =
            |a: &Found<'_>, b: &Found<'_>| a.newest.sort_name.cmp(&b.newest.sort_name).then_with(|| a.id.cmp(b.id));
        let hhi = |f: &Found<'_>| f.newest.row.supply_hhi.unwrap_or(f64::INFINITY);
        let value = |f: &Found<'_>| f.best.as_ref().map_or(f64::NEG_INFINITY, |(_, b)| b.value);
        let order = |a: &Found<'_>, b: &Found<'_>| match sort {
            SortKey::Relevance => b.relevance.total_cmp(&a.relevance).then_with(|| by_name(a, b)),
            SortKey::Name => by_name(a, b),
            SortKey::Hhi => hhi(a).total_cmp(&hhi(b)).then_with(|| by_name(a, b)),
            SortKey::Value => value(b).total_cmp(&value(a)).then_with(|| by_name(a, b)),
        };
        // Only the hits up to the page's end are put in order.
        let total = found.len();
        let start = (req.page - 1).saturating_mul(req.per_page).min(total);
        let end = start.saturating_add(req.per_page).min(total);
        if end < total {
            found.select_nth_unstable_by(end, order);
            found.truncate(end);
        }
        found.sort_by(order);
        let page: Vec<Found> = found.into_iter().skip(start).collect();

        // The compositions of the page's materials, from each one's newest matching package,
        // and the datasets of their best points.
        let newest: Vec<&str> = page.iter().map(|f| f.newest.row.digest.as_str()).collect();
        let mut compositions: HashMap<String, String> = HashMap::new();
        let mut details: Vec<DatasetPointRow> = Vec::new();
        if !newest.is_empty() {
            let mut conn = self.store.conn()?;
            compositions = package_materials::table
                .filter(package_materials::digest.eq_any(newest))
                .select((package_materials::digest, package_materials::composition))
                .load::<(String, String)>(&mut conn)?
                .into_iter()
                .collect();
            let best: Vec<i64> = page.iter().filter_map(|f| f.best.as_ref()).map(|(p, _)| p.key).collect();
            if let (Some(range), false) = (&req.range, best.is_empty()) {
                // By key alone (the primary key's prefix): with the property in the statement,
                // SQLite walks the property's whole value index instead.
                details = dataset_points::table
                    .filter(dataset_points::package_key.eq_any(&best))
                    .order((dataset_points::package_key, dataset_points::dataset_id, dataset_points::point))
                    .select(DatasetPointRow::as_select())
                    .load(&mut conn)?;
                details.retain(|d| d.property == range.property.name);
            }
        }
        let mut hits = Vec::with_capacity(page.len());
        for mut f in page {
            f.packages.sort_by_key(|p| std::cmp::Reverse((p.row.registered_at, p.key)));
            f.labs.sort_unstable();
            let newest = &f.newest.row;
            let composition: Vec<ElementFraction> =
                compositions.get(&newest.digest).and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default();
            let property = match (&req.range, f.best) {
                (Some(range), Some((package, p))) => {
                    // The first of the package's points with that very value and temperature.
                    let d = details
                        .iter()
                        .find(|d| {
                            d.package_key == package.key && d.value == p.value && d.temperature_c == p.temperature_c
                        })
                        .ok_or_else(|| {
                            RegistryError::Internal(format!(
                                "search: point of package {} not found",
                                package.row.digest
                            ))
                        })?;
                    Some(PropertyMatch {
                        property: range.property.name.to_owned(),
                        value: range.canonical.convert(p.value, &range.unit).map_err(|e| bad("unit", e))?,
                        unit: range.unit.code().to_owned(),
                        temperature_c: p.temperature_c,
                        measurements: usize::try_from(d.measurements).unwrap_or(0),
                        batches: usize::try_from(d.batches).unwrap_or(0),
                        digest: package.row.digest.clone(),
                        dataset: d.dataset_id.clone(),
                    })
                }
                _ => None,
            };
            hits.push(SearchHit {
                fit: verdicts.remove(f.id),
                id: f.id.to_owned(),
                designation: newest.designation.clone(),
                producer: newest.producer.clone(),
                producer_country: newest.producer_country.clone(),
                material_class: f.class.to_owned(),
                labs: f.labs.iter().map(|l| (*l).to_owned()).collect(),
                packages: f.packages.iter().map(|p| p.row.digest.clone()).collect(),
                countersigned: f.countersigned,
                content: content_of(table, &composition),
                property,
                relevance: f.relevance,
            });
        }
        Ok(SearchResults {
            total,
            page: req.page,
            per_page: req.per_page,
            hits,
            facets: Facets { material_class: class_f, country: country_f, lab: lab_f, rare_earth_free: ref_f },
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
    fn text_is_matched_literally_and_scored() {
        let indexed = "n42sh\nningbo magnet works\nndfeb-n42sh\nsintered ndfeb n42sh";
        assert_eq!(relevance("n42sh", indexed), 4.0 + 1.0);
        assert_eq!(relevance("42", indexed), 2.0 + 1.0);
        assert_eq!(relevance("ningbo", indexed), 1.0);
        assert_eq!(relevance("sintered", indexed), 1.0);
        assert_eq!(relevance("ferrite", indexed), 0.0);
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

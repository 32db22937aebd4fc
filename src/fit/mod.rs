//! The fit engine: for one material, every requirement of a profile against every piece of
//! verified evidence about it — which requirements are met, at what statistical basis, which
//! tests remain — and the ranking of many materials against one profile.
//!
//! Pure computation: evidence comes in as [`Evidence`] (built from verified packages, offline or
//! from the registry's database), reports go out as data. Every number in a report names the
//! datasets it came from.

mod applies;
mod equivalency;
mod evidence;
mod report;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use applies::{ClassMismatch, check_applies, check_class};
pub use equivalency::{EquivalencyReport, PropertyEquivalency, better_side, equivalency};
pub use evidence::{
    Evidence, EvidenceDataset, EvidenceRow, Signer, Source, decode_rows, encode_rows, evidence_from_verified,
    material_id,
};
pub use report::{render_ranking, render_text};

use crate::profile::{Basis, Comparator, Criticality, Profile, Requirement};
use crate::stats::{self, Side};
use crate::units::Unit;

/// Where a requirement stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Met,
    NotMet,
    InsufficientEvidence,
    NotTested,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::NotMet => "not met",
            Status::InsufficientEvidence => "insufficient evidence",
            Status::NotTested => "not tested",
        }
    }
}

/// The overall answer for a material against a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every requirement is met by evidence.
    Qualified,
    /// Nothing fails, but some requirements need more or new tests.
    Incomplete,
    /// At least one requirement is not met.
    NotQualified,
}

impl Verdict {
    /// The verdict as the report prints it: `qualified`, `not qualified`, `incomplete`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Qualified => "qualified",
            Verdict::Incomplete => "incomplete",
            Verdict::NotQualified => "not qualified",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// A dataset a number came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Citation {
    /// Package digest.
    pub digest: String,
    pub package: String,
    pub version: String,
    pub dataset: String,
    /// The publishing lab.
    pub organisation: String,
    /// Specimens of this dataset used.
    pub specimens: usize,
    /// Key ids and organisations that signed the package (authors and countersigners).
    pub signed_by: Vec<String>,
    pub countersigned_by: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RequirementResult {
    pub id: String,
    pub property: String,
    pub comparator: Comparator,
    pub threshold: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_high: Option<f64>,
    /// UCUM code of `threshold`, `value` and `margin`.
    pub unit: String,
    /// The condition asked for, e.g. `temperature 180 Cel ± 5`.
    pub condition: String,
    pub basis: Basis,
    pub criticality: Criticality,
    pub status: Status,
    /// The basis value in `unit` (absent when nothing was tested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// How far the value clears the threshold (negative: short of it), in `unit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub margin_percent: Option<f64>,
    pub specimens: usize,
    pub batches: usize,
    /// The statistical model used for a basis value, and why.
    /// `normal`, `lognormal`, `weibull` or `non_parametric`, for B- and A-basis values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The branch of the CMH-17-1G 8.3 decision tree: `single_batch`, `pooled` or `anova`
    /// (B- and A-basis values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// Every step of that decision tree, each naming its handbook section.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub statistics: String,
    /// How the evidence was matched to the condition: `measured`, `interpolated`, or `none`.
    pub matching: String,
    /// In words: what was matched, computed and decided.
    pub explanation: String,
    pub citations: Vec<Citation>,
}

/// A test still needed to close a gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RemainingTest {
    pub requirement: String,
    pub property: String,
    pub condition: String,
    pub standards: Vec<String>,
    pub specimens_needed: usize,
    pub batches_needed: usize,
    pub criticality: Criticality,
    pub reason: String,
}

/// What prior testing saves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReuseSummary {
    pub requirements_total: usize,
    pub requirements_met: usize,
    /// Specimens whose results count towards met requirements.
    pub specimens_reused: usize,
    /// Datasets cited by met requirements.
    pub datasets_reused: usize,
    /// Labs whose results count.
    pub labs: Vec<String>,
    pub specimens_remaining: usize,
    pub tests_remaining: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MaterialRef {
    pub id: String,
    pub designation: String,
    pub producer: String,
    pub material_class: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProfileRef {
    pub id: String,
    pub version: String,
    pub title: String,
    /// The body that issued the profile, as the profile names it.
    #[serde(default)]
    pub issuing_body: String,
    pub illustrative: bool,
    /// Who issued this version: in a registry, the organisation that owns the profile id
    /// (`registry` for the registry operator); offline, the profile's `issuing_body`.
    #[serde(default)]
    pub issuer: String,
}

impl ProfileRef {
    pub fn of(profile: &Profile) -> ProfileRef {
        ProfileRef {
            id: profile.id.clone(),
            version: profile.version.clone(),
            title: profile.title.clone(),
            issuing_body: profile.issuing_body.clone(),
            illustrative: profile.illustrative,
            issuer: profile.issuing_body.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FitReport {
    pub profile: ProfileRef,
    pub material: MaterialRef,
    pub verdict: Verdict,
    pub summary: String,
    pub requirements: Vec<RequirementResult>,
    pub remaining_tests: Vec<RemainingTest>,
    pub reuse: ReuseSummary,
    /// The packages pooled into this report's evidence: the baseline source's and those of
    /// sources shown equivalent to it.
    pub packages: Vec<String>,
    /// Every source of evidence for the material, how it was used and why.
    pub sources: Vec<SourceUse>,
    /// Datasets left out, and why (a standard the profile does not accept, an incompatible unit).
    pub ignored: Vec<String>,
}

/// How one source's evidence was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceRole {
    /// The first source published for the material: the qualified base others are compared with.
    Baseline,
    /// Another source whose every package passed equivalency against the baseline: pooled.
    Equivalent,
    /// Another source not shown equivalent: its results are not used.
    KeptApart,
}

/// A source of evidence (production sites and process route) and how it entered the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SourceUse {
    /// The source in words: process route and sites.
    pub source: String,
    pub role: SourceRole,
    /// Its packages, `name version (digest)`.
    pub packages: Vec<String>,
    pub reason: String,
    /// The equivalency test of each of its packages against the baseline (other sources only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub equivalency: Vec<EquivalencyReport>,
}

/// Significance of the equivalency tests that admit another source (CMH-17-1G 8.4.4).
pub const EQUIVALENCY_ALPHA: f64 = 0.05;

fn package_label(e: &Evidence) -> String {
    format!("{} {} ({})", e.name, e.version, e.digest)
}

/// Splits a material's evidence by source. The first source (in the order given: publication
/// order in the registry, argument order offline) is the baseline; another source is pooled only
/// when every one of its packages passes equivalency against the baseline's evidence, as
/// CMH-17-1G 8.4 admits a new producer, site or process; otherwise it is kept apart.
/// The evidence a material's figures may rest on: the baseline source and every other source
/// that passes equivalency against it, with how each source was used. Fit reports and the
/// material page's datasheet both take their numbers from here, so the two never disagree on
/// what was pooled.
pub fn admit(evidence: &[Evidence]) -> (Vec<&Evidence>, Vec<SourceUse>) {
    let mut groups: Vec<(&Source, Vec<&Evidence>)> = Vec::new();
    for e in evidence {
        match groups.iter_mut().find(|(s, _)| s.same_as(&e.source)) {
            Some((_, members)) => members.push(e),
            None => groups.push((&e.source, vec![e])),
        }
    }
    let mut groups = groups.into_iter();
    let Some((base_source, base)) = groups.next() else { return (Vec::new(), Vec::new()) };
    let mut uses = vec![SourceUse {
        source: base_source.describe(),
        role: SourceRole::Baseline,
        packages: base.iter().map(|e| package_label(e)).collect(),
        reason: "the first source published for this material: the qualified base".into(),
        equivalency: Vec::new(),
    }];
    let mut admitted = base.clone();
    let rest: Vec<(&Source, Vec<&Evidence>)> = groups.collect();
    if rest.is_empty() {
        return (admitted, uses);
    }
    let qualified: Vec<Evidence> = base.iter().map(|e| (*e).clone()).collect();
    for (source, members) in rest {
        let reports: Vec<EquivalencyReport> =
            members.iter().map(|e| equivalency(&qualified, e, EQUIVALENCY_ALPHA)).collect();
        let pass = reports.iter().all(|r| r.pass);
        let reason = if pass {
            let tested: usize = reports.iter().map(|r| r.properties.iter().filter(|p| p.pass.is_some()).count()).sum();
            format!(
                "equivalent to the baseline (CMH-17-1G 8.4.4, mean and minimum individual, α = {EQUIVALENCY_ALPHA}): {tested} property test(s) passed"
            )
        } else {
            let failed: Vec<String> = reports
                .iter()
                .flat_map(|r| r.properties.iter())
                .filter(|p| p.pass == Some(false))
                .map(|p| match p.temperature_c {
                    Some(t) => format!("{} at {} °C", p.property, fmt_num(t)),
                    None => p.property.clone(),
                })
                .collect();
            if failed.is_empty() {
                "no property could be tested for equivalency against the baseline: kept apart until an equivalency test set is published".to_string()
            } else {
                format!(
                    "not equivalent to the baseline (CMH-17-1G 8.4.4, α = {EQUIVALENCY_ALPHA}): {} failed: kept apart",
                    failed.join(", ")
                )
            }
        };
        if pass {
            admitted.extend(members.iter().copied());
        }
        uses.push(SourceUse {
            source: source.describe(),
            role: if pass { SourceRole::Equivalent } else { SourceRole::KeptApart },
            packages: members.iter().map(|e| package_label(e)).collect(),
            reason,
            equivalency: reports,
        });
    }
    (admitted, uses)
}

/// One material's place in a ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RankEntry {
    pub rank: usize,
    pub material: MaterialRef,
    pub verdict: Verdict,
    pub met: usize,
    pub not_met: usize,
    pub open: usize,
    pub total: usize,
    /// Higher is better: criticality-weighted met requirements, then margin.
    pub score: f64,
    pub specimens_remaining: usize,
}

/// Does a dataset's test standard match one the requirement accepts? `IEC 60404-5:2015`
/// matches `IEC 60404-5`; `UN Manual of Tests and Criteria, Rev. 8, Section 38.3` matches
/// `UN 38.3` (every token of the accepted name, edition years ignored).
pub fn standard_accepted(used: &str, accepted: &[String]) -> bool {
    let tokens = |s: &str| -> BTreeSet<String> {
        s.split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '(' || c == ')')
            .map(|t| {
                let t = t.to_lowercase();
                match t.split_once(':') {
                    Some((head, year)) if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) => {
                        head.to_owned()
                    }
                    _ => t,
                }
            })
            .filter(|t| !t.is_empty())
            .collect()
    };
    let have = tokens(used);
    accepted.is_empty() || accepted.iter().any(|a| tokens(a).is_subset(&have))
}

/// A measurement in the coherent SI unit of its property, and its test temperature in kelvin.
///
/// Basis values are computed in SI, so the same data give the same answer whatever unit a
/// requirement is written in: every unit prequal accepts is a scale of its SI unit except the
/// temperatures, and for those SI is the absolute (kelvin) scale on which the multiplicative
/// models (Weibull, lognormal, Hanson–Koopmans) are defined. Results are converted back to the
/// requirement's unit only for display.
#[derive(Debug, Clone)]
struct Point<'a> {
    value: f64,
    batch: &'a str,
    temperature: Option<f64>,
    citation: usize,
}

fn condition_text(req: &Requirement) -> String {
    if req.conditions.is_empty() {
        return "any condition".into();
    }
    req.conditions
        .iter()
        .map(|(n, c)| {
            let unit = crate::units::symbol(&c.unit);
            format!("{n} {} {unit} ± {} {unit}", fmt_num(c.value), fmt_num(c.tolerance))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Collects every row that can speak to `req`, in SI; conditions the requirement does not name
/// are ignored; the temperature is kept (in kelvin) for matching.
fn gather<'a>(
    req: &Requirement,
    evidence: &[&'a Evidence],
    citations: &mut Vec<Citation>,
    ignored: &mut BTreeSet<String>,
) -> Vec<Point<'a>> {
    let mut points = Vec::new();
    let target = match Unit::parse(&req.unit) {
        Ok(u) => u,
        Err(e) => {
            ignored.insert(format!("requirement '{}': {e}", req.id));
            return points;
        }
    };
    // Rows repeat a handful of unit codes: parse each once.
    let mut units: Vec<(&str, Option<Unit>)> = Vec::new();
    let mut unit = |code: &'a str| -> Option<Unit> {
        if let Some((_, u)) = units.iter().find(|(c, _)| *c == code) {
            return *u;
        }
        let u = Unit::parse(code).ok();
        units.push((code, u));
        u
    };
    let wanted: Vec<(&String, &crate::profile::RequiredCondition, Option<Unit>)> =
        req.conditions.iter().map(|(n, c)| (n, c, Unit::parse(&c.unit).ok())).collect();
    for ev in evidence {
        for ds in ev.datasets.iter().filter(|d| d.property == req.property) {
            let where_ = || format!("{}@{} dataset '{}'", ev.name, ev.version, ds.id);
            if !standard_accepted(&ds.standard, &req.standards) {
                ignored.insert(format!(
                    "{}: standard '{}' is not accepted for requirement '{}' ({})",
                    where_(),
                    ds.standard,
                    req.id,
                    req.standards.join(", ")
                ));
                continue;
            }
            let Ok(from) = Unit::parse(&ds.unit) else {
                ignored.insert(format!("{}: unknown unit '{}'", where_(), ds.unit));
                continue;
            };
            if !from.is_compatible_with(&target) {
                ignored.insert(format!("{}: unit '{}' cannot be converted to '{}'", where_(), ds.unit, req.unit));
                continue;
            }
            let citation = citations.len();
            let mut used = 0;
            'rows: for row in &ds.rows {
                let value = from.to_si(row.value);
                let mut temperature = None;
                for (name, want, want_unit) in &wanted {
                    let Some((v, u)) = row.conditions.get(*name) else {
                        ignored.insert(format!("{}: does not state condition '{name}'", where_()));
                        continue 'rows;
                    };
                    let (Some(have), Some(to)) = (unit(u), want_unit) else { continue 'rows };
                    let Ok(v) = have.convert(*v, to) else {
                        ignored.insert(format!(
                            "{}: condition '{name}' in '{u}' cannot be compared with '{}'",
                            where_(),
                            want.unit
                        ));
                        continue 'rows;
                    };
                    if *name == "temperature" {
                        temperature = Some(to.to_si(v));
                    } else if (v - want.value).abs() > want.tolerance + 1e-9 {
                        continue 'rows;
                    }
                }
                points.push(Point { value, batch: &row.batch, temperature, citation });
                used += 1;
            }
            if used > 0 {
                citations.push(Citation {
                    digest: ev.digest.clone(),
                    package: ev.name.clone(),
                    version: ev.version.clone(),
                    dataset: ds.id.clone(),
                    organisation: ev.organisation.clone(),
                    specimens: 0,
                    signed_by: ev.signers.iter().filter(|s| s.kind != "countersignature").map(Signer::label).collect(),
                    countersigned_by: ev
                        .signers
                        .iter()
                        .filter(|s| s.kind == "countersignature")
                        .map(Signer::label)
                        .collect(),
                });
            }
        }
    }
    points
}

/// Groups temperatures (kelvin) that lie within `gap` kelvin of each other; returns (mean,
/// indices) per group.
fn temperature_groups(points: &[Point<'_>], gap: f64) -> Vec<(f64, Vec<usize>)> {
    let mut idx: Vec<usize> = (0..points.len()).filter(|&i| points[i].temperature.is_some()).collect();
    idx.sort_by(|&a, &b| {
        points[a].temperature.partial_cmp(&points[b].temperature).unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut groups: Vec<(f64, Vec<usize>)> = Vec::new();
    let mut last = f64::NEG_INFINITY;
    for i in idx {
        let t = points[i].temperature.unwrap_or(f64::NAN);
        match groups.last_mut() {
            Some((_, members)) if t - last <= gap => members.push(i),
            _ => groups.push((t, vec![i])),
        }
        last = t;
    }
    for (mean, members) in &mut groups {
        *mean = members.iter().filter_map(|&i| points[i].temperature).sum::<f64>() / members.len() as f64;
    }
    groups
}

/// The basis value of a set of points, in the requirement's direction.
struct Computed {
    value: f64,
    high: Option<f64>,
    mean: f64,
    n: usize,
    batches: usize,
    model: Option<String>,
    route: Option<String>,
    statistics: String,
}

fn compute(req: &Requirement, points: &[&Point<'_>]) -> Result<Computed, String> {
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    let batches: Vec<&str> = points.iter().map(|p| p.batch).collect();
    let n = values.len();
    let distinct: BTreeSet<&str> = batches.iter().copied().collect();
    if n == 0 {
        return Err("no specimens".into());
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let base = Computed {
        value: mean,
        high: None,
        mean,
        n,
        batches: distinct.len(),
        model: None,
        route: None,
        statistics: String::new(),
    };
    let tolerance = |content: f64, side: Side| stats::tolerance_bound(&values, &batches, content, 0.95, side);
    let content = match req.basis {
        Basis::Typical => return Ok(Computed { high: Some(mean), ..base }),
        Basis::Minimum => {
            return Ok(match req.comparator {
                Comparator::AtLeast => Computed { value: lo, ..base },
                Comparator::AtMost => Computed { value: hi, ..base },
                Comparator::Between => Computed { value: lo, high: Some(hi), ..base },
            });
        }
        Basis::BBasis => 0.90,
        Basis::ABasis => 0.99,
    };
    let lower = || tolerance(content, Side::Lower).map_err(|e| e.to_string());
    let upper = || tolerance(content, Side::Upper).map_err(|e| e.to_string());
    Ok(match req.comparator {
        Comparator::AtLeast => {
            let b = lower()?;
            Computed {
                value: b.value,
                model: Some(model_name(b.model)),
                route: Some(b.route.as_str().to_owned()),
                statistics: b.reason,
                ..base
            }
        }
        Comparator::AtMost => {
            let b = upper()?;
            Computed {
                value: b.value,
                model: Some(model_name(b.model)),
                route: Some(b.route.as_str().to_owned()),
                statistics: b.reason,
                ..base
            }
        }
        Comparator::Between => {
            let (l, u) = (lower()?, upper()?);
            Computed {
                value: l.value,
                high: Some(u.value),
                model: Some(model_name(l.model)),
                route: Some(l.route.as_str().to_owned()),
                statistics: format!("lower: {}; upper: {}", l.reason, u.reason),
                ..base
            }
        }
    })
}

fn model_name(m: stats::Model) -> String {
    serde_json::to_value(m).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// A requirement's thresholds in SI.
#[derive(Clone, Copy)]
struct Thresholds {
    comparator: Comparator,
    low: f64,
    high: Option<f64>,
}

impl Thresholds {
    fn of(req: &Requirement, unit: &Unit) -> Thresholds {
        Thresholds {
            comparator: req.comparator,
            low: unit.to_si(req.threshold),
            high: req.threshold_high.map(|h| unit.to_si(h)),
        }
    }

    fn passes(&self, value: f64, high: Option<f64>) -> bool {
        match self.comparator {
            Comparator::AtLeast => value >= self.low,
            Comparator::AtMost => value <= self.low,
            Comparator::Between => value >= self.low && high.unwrap_or(value) <= self.high.unwrap_or(f64::INFINITY),
        }
    }

    /// How far the value clears the threshold (negative: short of it), in SI.
    fn margin(&self, value: f64, high: Option<f64>) -> f64 {
        match self.comparator {
            Comparator::AtLeast => value - self.low,
            Comparator::AtMost => self.low - value,
            Comparator::Between => (value - self.low).min(self.high.unwrap_or(f64::INFINITY) - high.unwrap_or(value)),
        }
    }
}

/// A number as a datasheet prints it: four significant digits, no trailing zeros, no `-0`.
/// Reports in JSON keep full precision; this is for text and pages.
pub fn fmt_num(v: f64) -> String {
    crate::display::sig(v, 4)
}

/// Evaluates one requirement.
fn evaluate(req: &Requirement, evidence: &[&Evidence], ignored: &mut BTreeSet<String>) -> RequirementResult {
    let mut result = RequirementResult {
        id: req.id.clone(),
        property: req.property.clone(),
        comparator: req.comparator,
        threshold: req.threshold,
        threshold_high: req.threshold_high,
        unit: req.unit.clone(),
        condition: condition_text(req),
        basis: req.basis,
        criticality: req.criticality,
        status: Status::NotTested,
        value: None,
        margin: None,
        margin_percent: None,
        specimens: 0,
        batches: 0,
        model: None,
        route: None,
        statistics: String::new(),
        matching: "none".into(),
        explanation: String::new(),
        citations: Vec::new(),
    };
    let unit = match Unit::parse(&req.unit) {
        Ok(u) => u,
        Err(e) => {
            result.explanation = format!("the requirement's unit cannot be used: {e}");
            return result;
        }
    };
    let mut citations = Vec::new();
    let points = gather(req, evidence, &mut citations, ignored);
    let shown = |si: f64| unit.from_si(si);
    // The temperature asked for, in kelvin, with the unit it was written in for display.
    let temp_req = req.conditions.get("temperature").and_then(|c| {
        let u = Unit::parse(&c.unit).ok()?;
        Some((u.to_si(c.value), u.difference_to_si(c.tolerance), u, c))
    });
    let temp_text = |k: f64| match &temp_req {
        Some((_, _, u, c)) => format!("{} {}", fmt_num(u.from_si(k)), crate::units::symbol(&c.unit)),
        None => format!("{} K", fmt_num(k)),
    };
    // Points at the condition, or a bracket to interpolate in.
    let groups = temperature_groups(&points, 2.0);
    let tested: Vec<String> = groups.iter().map(|(t, _)| temp_text(*t)).collect();
    let matched: Vec<&Point<'_>> = match &temp_req {
        None => points.iter().collect(),
        Some((want, tol, _, _)) => {
            points.iter().filter(|p| p.temperature.is_some_and(|t| (t - want).abs() <= tol + 1e-9)).collect()
        }
    };
    let computed: Result<(Computed, Vec<&Point<'_>>), String> = if !matched.is_empty() {
        result.matching = "measured".into();
        let c = compute(req, &matched);
        if let Some((_, _, _, c)) = &temp_req {
            let unit = crate::units::symbol(&c.unit);
            result.explanation = format!("measured at {} {unit} ± {} {unit}; ", fmt_num(c.value), fmt_num(c.tolerance));
        }
        c.map(|c| (c, matched))
    } else if points.is_empty() {
        result.explanation = format!("no dataset of {} that this profile accepts", req.property);
        Err(String::new())
    } else if let (Some((want, _, _, c)), true) = (&temp_req, req.interpolation) {
        let below = groups.iter().rfind(|(t, _)| t < want);
        let above = groups.iter().find(|(t, _)| t > want);
        match (below, above) {
            (Some((t1, i1)), Some((t2, i2))) => {
                let p1: Vec<&Point<'_>> = i1.iter().map(|&i| &points[i]).collect();
                let p2: Vec<&Point<'_>> = i2.iter().map(|&i| &points[i]).collect();
                match (compute(req, &p1), compute(req, &p2)) {
                    (Ok(c1), Ok(c2)) => {
                        let f = (want - t1) / (t2 - t1);
                        let lerp = |a: f64, b: f64| a + (b - a) * f;
                        result.matching = "interpolated".into();
                        result.explanation = format!(
                            "interpolated linearly between {} ({} = {} {u}) and {} ({} = {} {u}); ",
                            temp_text(*t1),
                            req.basis.label(),
                            fmt_num(shown(c1.value)),
                            temp_text(*t2),
                            req.basis.label(),
                            fmt_num(shown(c2.value)),
                            u = unit.symbol()
                        );
                        let both: Vec<&Point<'_>> = p1.iter().chain(p2.iter()).copied().collect();
                        let merged = Computed {
                            value: lerp(c1.value, c2.value),
                            high: match (c1.high, c2.high) {
                                (Some(a), Some(b)) => Some(lerp(a, b)),
                                _ => None,
                            },
                            mean: lerp(c1.mean, c2.mean),
                            n: c1.n.min(c2.n),
                            batches: c1.batches.min(c2.batches),
                            model: c1.model.or(c2.model),
                            route: c1.route.or(c2.route),
                            statistics: [c1.statistics, c2.statistics]
                                .into_iter()
                                .filter(|s| !s.is_empty())
                                .collect::<Vec<_>>()
                                .join(" | "),
                        };
                        Ok((merged, both))
                    }
                    (Err(e), _) | (_, Err(e)) => Err(e),
                }
            }
            _ => {
                result.explanation = format!(
                    "tested at {} only; interpolation needs data on both sides of {} {} and prequal never extrapolates",
                    tested.join(", "),
                    fmt_num(c.value),
                    crate::units::symbol(&c.unit)
                );
                Err(String::new())
            }
        }
    } else {
        result.explanation = format!(
            "tested at {} only, not at {}{}",
            tested.join(", "),
            condition_text(req),
            if req.interpolation { "" } else { " (this requirement does not accept interpolation)" }
        );
        Err(String::new())
    };
    let (c, used) = match computed {
        Ok(x) => x,
        Err(e) => {
            if !e.is_empty() {
                result.status = Status::InsufficientEvidence;
                result.explanation.push_str(&format!("the basis value could not be computed: {e}"));
            }
            return result;
        }
    };
    // Cite only datasets that contributed.
    let mut per_citation: BTreeMap<usize, usize> = BTreeMap::new();
    for p in &used {
        *per_citation.entry(p.citation).or_default() += 1;
    }
    result.citations = per_citation
        .into_iter()
        .filter_map(|(i, n)| {
            citations.get(i).cloned().map(|mut c| {
                c.specimens = n;
                c
            })
        })
        .collect();
    let thresholds = Thresholds::of(req, &unit);
    result.specimens = c.n;
    result.batches = c.batches;
    result.value = Some(shown(c.value));
    result.model = c.model;
    result.route = c.route;
    result.statistics = c.statistics.clone();
    let m = thresholds.margin(c.value, c.high);
    result.margin = Some(unit.difference_from_si(m));
    // Relative to the threshold on the SI (absolute) scale, so it does not depend on the unit.
    result.margin_percent = (thresholds.low != 0.0).then(|| 100.0 * m / thresholds.low.abs());
    let enough = c.n >= req.min_specimens as usize && c.batches >= req.min_batches as usize;
    let ok = thresholds.passes(c.value, c.high);
    let mean_ok = thresholds.passes(c.mean, Some(c.mean));
    let counts = format!(
        "{} specimen(s) from {} batch(es) (needs {} from {})",
        c.n, c.batches, req.min_specimens, req.min_batches
    );
    let value_text = format!("{} = {} {}", req.basis.label(), fmt_num(shown(c.value)), unit.symbol());
    result.status = match (enough, ok, mean_ok) {
        (true, true, _) => Status::Met,
        (true, false, _) => Status::NotMet,
        (false, _, false) => Status::NotMet,
        (false, _, true) => Status::InsufficientEvidence,
    };
    let decision = match result.status {
        Status::Met => format!("{value_text} clears the threshold; {counts}"),
        Status::NotMet if enough => format!("{value_text} is short of the threshold; {counts}"),
        Status::NotMet => {
            format!(
                "even the mean ({} {}) is short of the threshold, so more tests will not close the gap; {counts}",
                fmt_num(shown(c.mean)),
                unit.symbol()
            )
        }
        _ if !ok => {
            format!("{value_text} (provisional: too few specimens or batches) is short of the threshold; {counts}")
        }
        _ => format!("{value_text} (provisional: too few specimens or batches, counts for nothing yet); {counts}"),
    };
    result.explanation.push_str(&decision);
    result
}

/// Fits one material's evidence against a profile.
pub fn fit(profile: &Profile, material: MaterialRef, evidence: &[Evidence]) -> FitReport {
    let mut ignored = BTreeSet::new();
    let (admitted, sources) = admit(evidence);
    for s in sources.iter().filter(|s| s.role == SourceRole::KeptApart) {
        for p in &s.packages {
            ignored.insert(format!("{p}: kept apart, another source ({}) not shown equivalent", s.source));
        }
    }
    let requirements: Vec<RequirementResult> =
        profile.requirements.iter().map(|r| evaluate(r, &admitted, &mut ignored)).collect();
    let mut remaining_tests = Vec::new();
    for (req, res) in profile.requirements.iter().zip(&requirements) {
        let (specimens_needed, batches_needed, reason) = match res.status {
            Status::Met | Status::NotMet => continue,
            Status::NotTested => {
                (req.min_specimens as usize, req.min_batches as usize, format!("not tested at {}", res.condition))
            }
            Status::InsufficientEvidence => {
                let batches = (req.min_batches as usize).saturating_sub(res.batches);
                let specimens = (req.min_specimens as usize).saturating_sub(res.specimens).max(batches);
                (specimens, batches, format!("{} specimen(s) from {} batch(es) so far", res.specimens, res.batches))
            }
        };
        remaining_tests.push(RemainingTest {
            requirement: req.id.clone(),
            property: req.property.clone(),
            condition: res.condition.clone(),
            standards: req.standards.clone(),
            specimens_needed,
            batches_needed,
            criticality: req.criticality,
            reason,
        });
    }
    let met: Vec<&RequirementResult> = requirements.iter().filter(|r| r.status == Status::Met).collect();
    let cited: BTreeSet<(&str, &str)> =
        met.iter().flat_map(|r| r.citations.iter().map(|c| (c.digest.as_str(), c.dataset.as_str()))).collect();
    let labs: BTreeSet<String> = met.iter().flat_map(|r| r.citations.iter().map(|c| c.organisation.clone())).collect();
    let reuse = ReuseSummary {
        requirements_total: requirements.len(),
        requirements_met: met.len(),
        specimens_reused: met.iter().map(|r| r.specimens).sum(),
        datasets_reused: cited.len(),
        labs: labs.into_iter().collect(),
        specimens_remaining: remaining_tests.iter().map(|t| t.specimens_needed).sum(),
        tests_remaining: remaining_tests.len(),
    };
    let verdict = if requirements.iter().any(|r| r.status == Status::NotMet) {
        Verdict::NotQualified
    } else if requirements.iter().all(|r| r.status == Status::Met) {
        Verdict::Qualified
    } else {
        Verdict::Incomplete
    };
    let failing: Vec<&str> =
        requirements.iter().filter(|r| r.status == Status::NotMet).map(|r| r.id.as_str()).collect();
    let mut summary = match verdict {
        Verdict::Qualified => format!(
            "All {} requirements met by existing evidence ({} specimens reused from {} lab(s)); no further tests.",
            reuse.requirements_total,
            reuse.specimens_reused,
            reuse.labs.len()
        ),
        Verdict::Incomplete => format!(
            "{} of {} requirements met by existing evidence ({} specimens reused); {} test(s) with {} specimen(s) remain.",
            reuse.requirements_met,
            reuse.requirements_total,
            reuse.specimens_reused,
            reuse.tests_remaining,
            reuse.specimens_remaining
        ),
        Verdict::NotQualified => format!(
            "Not met: {}. {} of {} requirements met.",
            failing.join(", "),
            reuse.requirements_met,
            reuse.requirements_total
        ),
    };
    let apart = sources.iter().filter(|s| s.role == SourceRole::KeptApart).count();
    if apart > 0 {
        summary.push_str(&format!(
            " Evidence from {apart} other source(s) kept apart: not shown equivalent to the baseline."
        ));
    }
    FitReport {
        profile: ProfileRef::of(profile),
        material,
        verdict,
        summary,
        requirements,
        remaining_tests,
        reuse,
        packages: admitted.iter().map(|e| package_label(e)).collect(),
        sources,
        ignored: ignored.into_iter().collect(),
    }
}

fn weight(c: Criticality) -> f64 {
    match c {
        Criticality::Critical => 3.0,
        Criticality::Major => 2.0,
        Criticality::Minor => 1.0,
    }
}

/// Ranks materials against one profile, best first: verdict, then criticality-weighted met
/// requirements, then the mean relative margin of what is met.
pub fn rank(profile: &Profile, materials: Vec<(MaterialRef, Vec<Evidence>)>) -> Vec<(RankEntry, FitReport)> {
    match rank_with(profile, materials, Ok::<_, std::convert::Infallible>) {
        Ok(ranked) => ranked,
        Err(never) => match never {},
    }
}

/// [`rank`] over items that still have to be turned into evidence (decoding stored rows, say):
/// `prepare` runs on the same cores as the fits. The first error stops the ranking.
pub fn rank_with<T, E, F>(profile: &Profile, items: Vec<T>, prepare: F) -> Result<Vec<(RankEntry, FitReport)>, E>
where
    T: Send,
    E: Send,
    F: Fn(T) -> Result<(MaterialRef, Vec<Evidence>), E> + Sync,
{
    let one = |item: T| -> Result<(RankEntry, FitReport), E> {
        let (m, ev) = prepare(item)?;
        let report = fit(profile, m.clone(), &ev);
        let met: Vec<&RequirementResult> = report.requirements.iter().filter(|r| r.status == Status::Met).collect();
        let margins: Vec<f64> = met.iter().filter_map(|r| r.margin_percent).collect();
        let mean_margin = if margins.is_empty() { 0.0 } else { margins.iter().sum::<f64>() / margins.len() as f64 };
        let score = met.iter().map(|r| weight(r.criticality)).sum::<f64>() + mean_margin.clamp(-100.0, 100.0) / 1000.0;
        let entry = RankEntry {
            rank: 0,
            material: m,
            verdict: report.verdict,
            met: met.len(),
            not_met: report.requirements.iter().filter(|r| r.status == Status::NotMet).count(),
            open: report.remaining_tests.len(),
            total: report.requirements.len(),
            score,
            specimens_remaining: report.reuse.specimens_remaining,
        };
        Ok((entry, report))
    };
    // Materials are independent: fit them on every core.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len().max(1));
    let mut out: Vec<(RankEntry, FitReport)> = if threads <= 1 || items.len() < 64 {
        items.into_iter().map(one).collect::<Result<_, E>>()?
    } else {
        let per = items.len().div_ceil(threads);
        let mut chunks: Vec<Vec<T>> = Vec::new();
        let mut rest = items;
        while !rest.is_empty() {
            let tail = rest.split_off(per.min(rest.len()));
            chunks.push(rest);
            rest = tail;
        }
        let one = &one;
        std::thread::scope(|s| {
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|c| s.spawn(move || c.into_iter().map(one).collect::<Result<Vec<_>, E>>()))
                .collect();
            let mut all = Vec::new();
            for h in handles {
                all.extend(h.join().unwrap_or_else(|panicked| std::panic::resume_unwind(panicked))?);
            }
            Ok::<_, E>(all)
        })?
    };
    out.sort_by(|(a, _), (b, _)| {
        a.verdict
            .cmp(&b.verdict)
            .then(b.score.partial_cmp(&a.score).unwrap_or(std::cmp::Ordering::Equal))
            .then(a.material.id.cmp(&b.material.id))
    });
    for (i, (e, _)) in out.iter_mut().enumerate() {
        e.rank = i + 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standards_match_by_tokens_ignoring_editions() {
        let acc = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert!(standard_accepted("IEC 60404-5:2015", &acc(&["IEC 60404-5", "ASTM A977"])));
        assert!(standard_accepted("UN Manual of Tests and Criteria, Rev. 8, Section 38.3", &acc(&["UN 38.3"])));
        assert!(!standard_accepted("IEC 60404-4:2008", &acc(&["IEC 60404-5"])));
        assert!(!standard_accepted("IEC 62660-2:2018", &acc(&["IEC 62660-1"])));
    }
}

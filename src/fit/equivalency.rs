//! Equivalency of a new source (a second production site, a new lot) against a material's
//! qualified data, property by property at matching temperatures, so the new source can reuse
//! the qualified base instead of requalifying (CMH-17-1G 8.4.4: tests on the mean and on the
//! minimum individual).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Evidence, fmt_num};
use crate::stats::{self, Side};
use crate::units::Unit;

/// Properties where a lower value is better; for these the tests look at the maximum
/// individual and a mean that must not be higher.
const LOWER_IS_BETTER: [&str; 5] = [
    "irreversible_flux_loss",
    "corrosion_weight_loss",
    "dc_internal_resistance",
    "calendar_fade",
    "remanence_temperature_coefficient",
];

pub fn better_side(property: &str) -> Side {
    if LOWER_IS_BETTER.contains(&property) { Side::Upper } else { Side::Lower }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PropertyEquivalency {
    pub property: String,
    /// The sample's dataset.
    pub dataset: String,
    /// Temperature of the compared specimens, in °C (absent when the datasets state none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_c: Option<f64>,
    /// Unit of every value below (the sample dataset's).
    pub unit: String,
    pub qualified_specimens: usize,
    pub sample_specimens: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_mean: Option<f64>,
    /// The sample's minimum individual (maximum for lower-is-better properties).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_extreme: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_limit: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub individual_limit: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_pass: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub individual_pass: Option<bool>,
    /// None: could not be tested (no qualified data at that condition, too few values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass: Option<bool>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EquivalencyReport {
    pub alpha: f64,
    /// The new source's package.
    pub sample: String,
    /// Packages forming the qualified base.
    pub qualified: Vec<String>,
    pub properties: Vec<PropertyEquivalency>,
    /// Every tested property passed (and at least one was tested).
    pub pass: bool,
}

fn temperature_c(row: &super::EvidenceRow) -> Option<f64> {
    let (v, u) = row.conditions.get("temperature")?;
    Unit::to_celsius(*v, u)
}

/// Runs the equivalency tests for every dataset and temperature of `sample` that the qualified
/// base also covers (within 2 °C).
pub fn equivalency(qualified: &[Evidence], sample: &Evidence, alpha: f64) -> EquivalencyReport {
    let mut properties = Vec::new();
    // The factors depend only on the sample size and alpha: compute each once.
    let mut factors: std::collections::HashMap<usize, Result<(f64, f64), stats::StatsError>> =
        std::collections::HashMap::new();
    for ds in &sample.datasets {
        let Ok(unit) = Unit::parse(&ds.unit) else { continue };
        // Temperatures present in the sample dataset.
        let mut temps: Vec<Option<f64>> = Vec::new();
        for r in &ds.rows {
            let t = temperature_c(r);
            if !temps.iter().any(|x| match (x, t) {
                (Some(a), Some(b)) => (a - b).abs() <= 2.0,
                (None, None) => true,
                _ => false,
            }) {
                temps.push(t);
            }
        }
        for t in temps {
            let near = |x: Option<f64>| match (x, t) {
                (Some(a), Some(b)) => (a - b).abs() <= 2.0,
                (None, None) => true,
                _ => false,
            };
            let s: Vec<f64> = ds.rows.iter().filter(|r| near(temperature_c(r))).map(|r| r.value).collect();
            let mut q = Vec::new();
            for ev in qualified {
                for qd in ev.datasets.iter().filter(|d| d.property == ds.property) {
                    let Ok(qu) = Unit::parse(&qd.unit) else { continue };
                    for r in qd.rows.iter().filter(|r| near(temperature_c(r))) {
                        if let Ok(v) = qu.convert(r.value, &unit) {
                            q.push(v);
                        }
                    }
                }
            }
            let side = better_side(&ds.property);
            let mut item = PropertyEquivalency {
                property: ds.property.clone(),
                dataset: ds.id.clone(),
                temperature_c: t,
                unit: ds.unit.clone(),
                qualified_specimens: q.len(),
                sample_specimens: s.len(),
                sample_mean: None,
                sample_extreme: None,
                mean_limit: None,
                individual_limit: None,
                mean_pass: None,
                individual_pass: None,
                pass: None,
                note: String::new(),
            };
            if q.is_empty() {
                item.note = "no qualified data for this property at this temperature".into();
            } else {
                let k = factors.entry(s.len()).or_insert_with(|| stats::k_factors_equivalency(s.len(), alpha)).clone();
                match k.and_then(|k| stats::equivalency_with_factors(&q, &s, alpha, k, side)) {
                    Ok(r) => {
                        item.sample_mean = Some(r.sample_mean);
                        item.sample_extreme = Some(r.sample_min);
                        item.mean_limit = Some(r.mean_threshold);
                        item.individual_limit = Some(r.min_individual_threshold);
                        item.mean_pass = Some(r.mean_pass);
                        item.individual_pass = Some(r.min_individual_pass);
                        item.pass = Some(r.pass);
                        let (mean_word, ext_word) = match side {
                            Side::Lower => ("≥", "minimum individual"),
                            Side::Upper => ("≤", "maximum individual"),
                        };
                        item.note = format!(
                            "mean {} {mean_word} {} ({}), {ext_word} {} {mean_word} {} ({}); n = {} against {} qualified",
                            fmt_num(r.sample_mean),
                            fmt_num(r.mean_threshold),
                            if r.mean_pass { "pass" } else { "fail" },
                            fmt_num(r.sample_min),
                            fmt_num(r.min_individual_threshold),
                            if r.min_individual_pass { "pass" } else { "fail" },
                            s.len(),
                            q.len()
                        );
                    }
                    Err(e) => item.note = format!("not tested: {e}"),
                }
            }
            properties.push(item);
        }
    }
    let tested: Vec<bool> = properties.iter().filter_map(|p| p.pass).collect();
    EquivalencyReport {
        alpha,
        sample: format!("{} {} ({})", sample.name, sample.version, sample.digest),
        qualified: qualified.iter().map(|e| format!("{} {} ({})", e.name, e.version, e.digest)).collect(),
        pass: !tested.is_empty() && tested.iter().all(|p| *p),
        properties,
    }
}

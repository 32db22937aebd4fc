//! Statistics for qualification evidence: basis values (typical, B-basis, A-basis) under normal,
//! lognormal, Weibull and non-parametric models, goodness of fit, outlier screening, batch
//! pooling and equivalency. Distributions and special functions come from statrs.
//!
//! Knows nothing about packages or profiles: it takes numbers and returns numbers with the
//! reasons behind them.
//!
//! Procedures follow CMH-17-1G Volume 1 chapter 8 (the composite-materials handbook) and the
//! papers it cites; each function names its source. Numeric integration and root finding are
//! the only hand-written numerics (`numeric`).

mod adk;
mod anova;
mod basis;
mod equivalency;
mod gof;
mod levene;
mod nonparametric;
mod normal;
mod numeric;
mod outliers;

pub use adk::k_sample_anderson_darling;
pub use anova::{AnovaResult, anova_bound};
pub use basis::{WEIBULL_MIN_N, model_bound, tolerance_bound};
pub use equivalency::{equivalency, equivalency_with_factors, k_factors_equivalency};
pub use gof::{WeibullFit, anderson_darling, weibull_mle};
pub use levene::{LeveneResult, levene_test};
pub use nonparametric::{NonParametricBound, hanson_koopmans_factor, nonparametric_bound, nonparametric_rank};
pub use normal::{k_factor_normal, noncentral_t_cdf, noncentral_t_quantile};
pub use outliers::{max_normed_residual, mnr_critical};

use statrs::distribution::Normal;

/// Which way a requirement points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The requirement is "at least": the basis is a lower tolerance bound.
    Lower,
    /// The requirement is "at most": the basis is an upper tolerance bound.
    Upper,
}

/// Statistical model behind a basis value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    Normal,
    Lognormal,
    Weibull,
    NonParametric,
    /// The ANOVA method for batches that may not be pooled.
    Anova,
}

/// The branch of the CMH-17-1G 8.3 decision tree a basis value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// One batch: a distribution fitted to its values.
    SingleBatch,
    /// Batches the k-sample Anderson–Darling test lets pool: a distribution fitted to all values.
    Pooled,
    /// Batches that may not be pooled: the ANOVA method.
    Anova,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::SingleBatch => "single_batch",
            Route::Pooled => "pooled",
            Route::Anova => "anova",
        }
    }
}

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Model::Normal => "normal",
            Model::Lognormal => "lognormal",
            Model::Weibull => "Weibull",
            Model::NonParametric => "non-parametric",
            Model::Anova => "ANOVA",
        })
    }
}

/// Anderson–Darling goodness of fit (CMH-17-1G 8.3.4).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GofResult {
    pub model: Model,
    /// The Anderson–Darling statistic AD of CMH-17-1G 8.3.4 (parameters estimated from the data).
    pub statistic: f64,
    /// Observed significance level from the small-sample modified statistic AD*.
    pub osl: f64,
    /// `osl > 0.05`: the model is not rejected.
    pub fits: bool,
    /// The modified statistic AD* the OSL is computed from.
    pub modified: f64,
}

/// Maximum normed residual outlier screen (CMH-17-1G 8.3.3).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MnrResult {
    /// MNR of the full input (first pass).
    pub statistic: f64,
    /// Critical value for the full input (first pass).
    pub critical: f64,
    /// Indices into the input of every value flagged, in the order they were removed.
    pub outliers: Vec<usize>,
}

/// k-sample Anderson–Darling test (Scholz & Stephens 1987; CMH-17-1G 8.3.2.2).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AdkResult {
    /// ADK = A²_akN/(k−1), the normalised statistic CMH-17 and ASAP report.
    pub statistic: f64,
    /// Critical value of ADK at `alpha`.
    pub critical: f64,
    pub alpha: f64,
    /// `statistic < critical`: the groups may be pooled.
    pub same_population: bool,
}

/// A one-sided tolerance bound and how it was obtained.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BasisResult {
    /// The tolerance bound.
    pub value: f64,
    /// The model used.
    pub model: Model,
    /// The branch of the decision tree taken.
    pub route: Route,
    /// Every step of the decision tree, each naming its handbook section, in words an engineer
    /// reads.
    pub steps: Vec<String>,
    /// The steps joined into one sentence.
    pub reason: String,
    pub n: usize,
    pub batches: usize,
    pub mean: f64,
    pub sd: f64,
    /// Tolerance factor when the model has one (normal/lognormal k, Hanson–Koopmans k).
    pub k: Option<f64>,
    /// Every model tried.
    pub gof: Vec<GofResult>,
    /// Batch-to-batch test when there are at least 2 batches.
    pub adk: Option<AdkResult>,
    /// Levene's test of equal batch variances, on the ANOVA route.
    pub levene: Option<LeveneResult>,
    /// The ANOVA computation, on the ANOVA route.
    pub anova: Option<AnovaResult>,
    /// Outlier screen of the pooled data (reported, not removed).
    pub outliers: MnrResult,
    /// Indices flagged by the same screen run within each batch of at least 3 values.
    pub batch_outliers: Vec<usize>,
    /// False when the batches may not be pooled (the ANOVA route).
    pub pooled: bool,
}

/// Result of an equivalency test of a new sample against qualified data (CMH-17-1G 8.4.4).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EquivalencyResult {
    pub alpha: f64,
    /// Size of the new sample.
    pub n: usize,
    pub mean_threshold: f64,
    /// Minimum-individual threshold (maximum-individual for `Side::Upper`).
    pub min_individual_threshold: f64,
    pub sample_mean: f64,
    /// Sample minimum (sample maximum for `Side::Upper`).
    pub sample_min: f64,
    pub mean_pass: bool,
    pub min_individual_pass: bool,
    pub pass: bool,
    /// Vangel's factor for the mean.
    pub k_mean: f64,
    /// Vangel's factor for the extremum.
    pub k_min: f64,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum StatsError {
    #[error("too few values: needed at least {needed}, got {got}")]
    TooFewValues { needed: usize, got: usize },
    #[error("value {index} is not finite ({value})")]
    NonFinite { index: usize, value: f64 },
    #[error("all {n} values are equal: zero variance")]
    ZeroVariance { n: usize },
    #[error("value {index} is {value}; the {model} model needs positive values")]
    NonPositive { index: usize, value: f64, model: Model },
    #[error("{values} values but {batches} batch labels")]
    LengthMismatch { values: usize, batches: usize },
    #[error("{name} must lie strictly between 0 and 1, got {value}")]
    InvalidProbability { name: &'static str, value: f64 },
    #[error("invalid {name}: {value}")]
    InvalidParameter { name: &'static str, value: f64 },
    #[error("too few groups: needed at least {needed}, got {got}")]
    TooFewGroups { needed: usize, got: usize },
    #[error("group {group} is empty")]
    EmptyGroup { group: usize },
    #[error("no tolerance bound exists for n = {n}, content {content}, confidence {confidence} with {method}")]
    NoBound { n: usize, content: f64, confidence: f64, method: &'static str },
    #[error("numerical method did not converge: {what}")]
    NoConvergence { what: &'static str },
    #[error("the {model} method needs the batch of every value; use tolerance_bound")]
    NeedsBatches { model: Model },
    #[error("the {model} model is not available for {side:?} bounds")]
    UnsupportedSide { model: Model, side: Side },
}

/// Factors that depend only on their arguments and take a numerical root or integral to compute
/// (tolerance factors, critical values): remembered for the life of the process and shared by
/// every thread, since a ranking asks for the same few values thousands of times.
pub(crate) fn remembered(
    kind: &'static str,
    key: (usize, usize, u64, u64),
    compute: impl FnOnce() -> Result<f64, StatsError>,
) -> Result<f64, StatsError> {
    type Known = std::collections::HashMap<(&'static str, (usize, usize, u64, u64)), f64>;
    static KNOWN: std::sync::LazyLock<std::sync::RwLock<Known>> = std::sync::LazyLock::new(Default::default);
    if let Some(v) = KNOWN.read().ok().and_then(|m| m.get(&(kind, key)).copied()) {
        return Ok(v);
    }
    let v = compute()?;
    if let Ok(mut m) = KNOWN.write() {
        // Keys are sample sizes and probability levels: a few hundred in practice. The bound
        // only guards against a caller sweeping arbitrary levels.
        if m.len() >= 100_000 {
            m.clear();
        }
        m.insert((kind, key), v);
    }
    Ok(v)
}

pub(crate) fn check_probability(name: &'static str, value: f64) -> Result<(), StatsError> {
    if value > 0.0 && value < 1.0 { Ok(()) } else { Err(StatsError::InvalidProbability { name, value }) }
}

pub(crate) fn check_values(values: &[f64], needed: usize) -> Result<(), StatsError> {
    if values.len() < needed {
        return Err(StatsError::TooFewValues { needed, got: values.len() });
    }
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(StatsError::NonFinite { index, value: values[index] }),
        None => Ok(()),
    }
}

/// At least two groups (batches), none empty, every value finite; returns the number of groups.
pub(crate) fn check_groups(groups: &[Vec<f64>]) -> Result<usize, StatsError> {
    if groups.len() < 2 {
        return Err(StatsError::TooFewGroups { needed: 2, got: groups.len() });
    }
    for (g, values) in groups.iter().enumerate() {
        if values.is_empty() {
            return Err(StatsError::EmptyGroup { group: g });
        }
        check_values(values, 1)?;
    }
    Ok(groups.len())
}

pub(crate) fn check_positive(values: &[f64], model: Model) -> Result<(), StatsError> {
    match values.iter().position(|v| *v <= 0.0) {
        Some(index) => Err(StatsError::NonPositive { index, value: values[index], model }),
        None => Ok(()),
    }
}

pub(crate) fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample standard deviation (n − 1 denominator).
pub(crate) fn sd(values: &[f64]) -> f64 {
    let m = mean(values);
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (values.len() as f64 - 1.0)).sqrt()
}

/// Treat a spread this small relative to the values as no spread at all (rounding noise).
pub(crate) fn is_zero_spread(values: &[f64]) -> bool {
    let scale = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    sd(values) <= 1e-12 * scale.max(f64::MIN_POSITIVE)
}

pub(crate) fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

pub(crate) fn standard_normal() -> Result<Normal, StatsError> {
    Normal::new(0.0, 1.0).map_err(|_| StatsError::InvalidParameter { name: "normal sd", value: 1.0 })
}

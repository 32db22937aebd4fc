//! The ANOVA method for basis values when batches may not be pooled (CMH-17-1G 8.3, worked
//! example 8.3.11.2.2): the population variance is split into a between-batch and a
//! within-batch part, and the tolerance factor is interpolated between the factor for `n`
//! specimens and the one for `r` batches by the effective batch size.
//!
//! When the between-batch mean square does not exceed the within-batch one the data show no
//! batch effect and the factor for all `n` specimens is used (Vangel 1992; the rule STAT-17
//! and CMH17-STATS apply).

use super::normal::k_factor_normal;
use super::{Side, StatsError, check_groups, check_probability, mean};

/// A basis value from the ANOVA method.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AnovaResult {
    pub value: f64,
    /// Tolerance factor T applied to the population standard deviation.
    pub k: f64,
    pub grand_mean: f64,
    /// Estimated population standard deviation √(MSB/n′ + (n′−1)/n′·MSE).
    pub population_sd: f64,
    /// Between-batch mean square.
    pub msb: f64,
    /// Within-batch mean square.
    pub mse: f64,
    /// Effective batch size n′ = (n − Σnᵢ²/n)/(r − 1).
    pub effective_batch_size: f64,
    pub batches: usize,
    pub n: usize,
}

/// The ANOVA basis of `groups` (one vector per batch), lower or upper.
pub fn anova_bound(groups: &[Vec<f64>], content: f64, confidence: f64, side: Side) -> Result<AnovaResult, StatsError> {
    check_probability("content", content)?;
    check_probability("confidence", confidence)?;
    let r = check_groups(groups)?;
    let all: Vec<f64> = groups.iter().flatten().copied().collect();
    let n = all.len();
    // The within-batch mean square needs n − r > 0 degrees of freedom.
    if n <= r {
        return Err(StatsError::TooFewValues { needed: r + 1, got: n });
    }
    let (nf, rf) = (n as f64, r as f64);
    let grand_mean = mean(&all);
    // Sums of squares about the means (not the textbook Σx² − n·x̄² form, which cancels
    // catastrophically for values like 1e8 ± 1).
    let ssb: f64 = groups.iter().map(|g| g.len() as f64 * (mean(g) - grand_mean).powi(2)).sum();
    let sse: f64 = groups
        .iter()
        .map(|g| {
            let m = mean(g);
            g.iter().map(|v| (v - m).powi(2)).sum::<f64>()
        })
        .sum();
    let msb = ssb / (rf - 1.0);
    let mse = sse / (nf - rf);
    if msb <= 0.0 && mse <= 0.0 {
        return Err(StatsError::ZeroVariance { n });
    }
    let n_star: f64 = groups.iter().map(|g| (g.len() as f64).powi(2) / nf).sum();
    let effective = (nf - n_star) / (rf - 1.0);
    let population_sd = (msb / effective + (effective - 1.0) / effective * mse).sqrt();
    let k0 = k_factor_normal(n, content, confidence)?;
    let k = if msb <= mse {
        k0
    } else {
        let k1 = k_factor_normal(r, content, confidence)?;
        let w = (msb / (msb + effective * mse - mse)).sqrt();
        (k0 - k1 / effective.sqrt() + (k1 - k0) * w) / (1.0 - 1.0 / effective.sqrt())
    };
    if !k.is_finite() || !population_sd.is_finite() {
        return Err(StatsError::NoConvergence { what: "ANOVA tolerance factor" });
    }
    let value = match side {
        Side::Lower => grand_mean - k * population_sd,
        Side::Upper => grand_mean + k * population_sd,
    };
    Ok(AnovaResult { value, k, grand_mean, population_sd, msb, mse, effective_batch_size: effective, batches: r, n })
}

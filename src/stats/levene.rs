//! Levene's test for equality of variances between groups, in the form CMH-17-1G uses
//! (absolute deviations from each group's median, then a one-way ANOVA F test on them;
//! Brown & Forsythe's variant). The ANOVA method assumes batches share one within-batch
//! variance; this is its check.

use statrs::distribution::{ContinuousCDF, FisherSnedecor};

use super::{StatsError, check_groups, check_probability, mean};

/// Outcome of Levene's test.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LeveneResult {
    /// The F statistic.
    pub f: f64,
    /// Its observed significance level (upper tail of F(k − 1, n − k)).
    pub p: f64,
    pub alpha: f64,
    /// `p < alpha`: the variances differ.
    pub reject_equal_variance: bool,
}

fn median(values: &[f64]) -> f64 {
    let s = super::sorted(values);
    let n = s.len();
    if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 }
}

/// Levene's test of `groups` at significance `alpha`.
pub fn levene_test(groups: &[Vec<f64>], alpha: f64) -> Result<LeveneResult, StatsError> {
    check_probability("alpha", alpha)?;
    let k = check_groups(groups)?;
    let deviations: Vec<Vec<f64>> = groups
        .iter()
        .map(|g| {
            let m = median(g);
            g.iter().map(|v| (v - m).abs()).collect()
        })
        .collect();
    let n: usize = deviations.iter().map(Vec::len).sum();
    if n <= k {
        return Err(StatsError::TooFewValues { needed: k + 1, got: n });
    }
    let (nf, kf) = (n as f64, k as f64);
    let grand = mean(&deviations.iter().flatten().copied().collect::<Vec<_>>());
    let between: f64 = deviations.iter().map(|z| z.len() as f64 * (mean(z) - grand).powi(2)).sum::<f64>() / (kf - 1.0);
    let within: f64 = deviations
        .iter()
        .map(|z| {
            let m = mean(z);
            z.iter().map(|v| (v - m).powi(2)).sum::<f64>()
        })
        .sum::<f64>()
        / (nf - kf);
    if within <= 0.0 {
        return Err(StatsError::ZeroVariance { n });
    }
    let f = between / within;
    let dist = FisherSnedecor::new(kf - 1.0, nf - kf)
        .map_err(|_| StatsError::InvalidParameter { name: "F degrees of freedom", value: nf - kf })?;
    let p = 1.0 - dist.cdf(f);
    Ok(LeveneResult { f, p, alpha, reject_equal_variance: p < alpha })
}

//! Anderson–Darling goodness of fit for the normal, lognormal and two-parameter Weibull models
//! with parameters estimated from the data (CMH-17-1G 8.3.4.1–8.3.4.3), and the Weibull
//! maximum-likelihood fit it needs (CMH-17-1G 8.3.4.1.1).

use statrs::distribution::{ContinuousCDF, Normal};

use super::numeric::brent;
use super::{
    GofResult, Model, StatsError, check_positive, check_values, is_zero_spread, mean, sd, sorted, standard_normal,
};

/// Maximum-likelihood estimates of the two-parameter Weibull distribution.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct WeibullFit {
    /// Scale α.
    pub scale: f64,
    /// Shape β.
    pub shape: f64,
}

/// Weibull MLE (CMH-17-1G 8.3.4.1.1): β solves Σxᵝ ln x / Σxᵝ − 1/β − mean(ln x) = 0,
/// then α = (mean xᵝ)^{1/β}.
pub fn weibull_mle(values: &[f64]) -> Result<WeibullFit, StatsError> {
    check_values(values, 2)?;
    check_positive(values, Model::Weibull)?;
    if is_zero_spread(values) {
        return Err(StatsError::ZeroVariance { n: values.len() });
    }
    // Scaling by the maximum keeps xᵝ in (0, 1] for any β; the score equation is scale-free.
    let xmax = values.iter().fold(0.0_f64, |m, v| m.max(*v));
    let logs: Vec<f64> = values.iter().map(|v| (v / xmax).ln()).collect();
    let mean_log = mean(&logs);
    let score = |beta: f64| {
        let (mut s0, mut s1) = (0.0, 0.0);
        for l in &logs {
            let w = (beta * l).exp();
            s0 += w;
            s1 += w * l;
        }
        s1 / s0 - 1.0 / beta - mean_log
    };
    // The score increases in β; bracket it geometrically.
    let (mut lo, mut hi) = (0.5, 2.0);
    while score(lo) > 0.0 && lo > 1e-6 {
        lo /= 4.0;
    }
    while score(hi) < 0.0 && hi < 1e7 {
        hi *= 4.0;
    }
    let shape = brent(score, lo, hi, 1e-12, "Weibull shape MLE")?;
    let m: f64 = logs.iter().map(|l| (shape * l).exp()).sum::<f64>() / logs.len() as f64;
    Ok(WeibullFit { scale: xmax * m.powf(1.0 / shape), shape })
}

/// Anderson–Darling test of `values` against `model` with estimated parameters.
///
/// AD = Σᵢ (1−2i)/n [ln F(x₍ᵢ₎) + ln(1 − F(x₍ₙ₊₁₋ᵢ₎))] − n (CMH-17-1G 8.3.4). The OSL uses
/// the modified statistic and the logistic approximations of CMH-17-1G: normal/lognormal
/// (8.3.4.2–8.3.4.3) AD* = (1 + 4/n − 25/n²)·AD, OSL = 1/(1 + exp(−0.48 + 0.78 ln AD* + 4.58 AD*));
/// Weibull (8.3.4.1) AD* = (1 + 0.2/√n)·AD, OSL = 1/(1 + exp(−0.10 + 1.24 ln AD* + 4.48 AD*)).
pub fn anderson_darling(values: &[f64], model: Model) -> Result<GofResult, StatsError> {
    check_values(values, 3)?;
    if is_zero_spread(values) {
        return Err(StatsError::ZeroVariance { n: values.len() });
    }
    let n = values.len();
    let nf = n as f64;
    // ln F and ln(1 − F) at each sorted value, computed in the tail-accurate form per model.
    let (ln_cdf, ln_sf): (Vec<f64>, Vec<f64>) = match model {
        Model::Normal | Model::Lognormal => {
            let data = if model == Model::Lognormal {
                check_positive(values, model)?;
                values.iter().map(|v| v.ln()).collect::<Vec<_>>()
            } else {
                values.to_vec()
            };
            if is_zero_spread(&data) {
                return Err(StatsError::ZeroVariance { n });
            }
            let (m, s) = (mean(&data), sd(&data));
            let phi: Normal = standard_normal()?;
            sorted(&data)
                .iter()
                .map(|x| {
                    let z = (x - m) / s;
                    (phi.cdf(z).ln(), phi.sf(z).ln())
                })
                .unzip()
        }
        Model::Weibull => {
            let fit = weibull_mle(values)?;
            sorted(values)
                .iter()
                .map(|x| {
                    let u = (x / fit.scale).powf(fit.shape);
                    // F = 1 − e^{−u}: ln F = ln(−expm1(−u)), ln(1 − F) = −u.
                    ((-(-u).exp_m1()).ln(), -u)
                })
                .unzip()
        }
        Model::NonParametric => {
            return Err(StatsError::InvalidParameter { name: "goodness-of-fit model (non-parametric)", value: 0.0 });
        }
        Model::Anova => return Err(StatsError::NeedsBatches { model }),
    };
    let sum: f64 = (0..n).map(|i| (1.0 - 2.0 * (i as f64 + 1.0)) / nf * (ln_cdf[i] + ln_sf[n - 1 - i])).sum();
    let statistic = sum - nf;
    let (modified, osl) = match model {
        Model::Weibull => {
            let a = (1.0 + 0.2 / nf.sqrt()) * statistic;
            (a, 1.0 / (1.0 + (-0.10 + 1.24 * a.ln() + 4.48 * a).exp()))
        }
        _ => {
            let a = (1.0 + 4.0 / nf - 25.0 / (nf * nf)) * statistic;
            (a, 1.0 / (1.0 + (-0.48 + 0.78 * a.ln() + 4.58 * a).exp()))
        }
    };
    // A non-positive AD* (possible only for tiny n) means a perfect fit.
    let osl = if modified > 0.0 { osl } else { 1.0 };
    Ok(GofResult { model, statistic, osl, fits: osl > 0.05, modified })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn weibull_mle_satisfies_score_equations() {
        let x = [1.2, 2.3, 0.7, 1.9, 3.1, 2.2, 1.4];
        let f = weibull_mle(&x).unwrap();
        let n = x.len() as f64;
        let s0: f64 = x.iter().map(|v| v.powf(f.shape)).sum();
        let s1: f64 = x.iter().map(|v| v.powf(f.shape) * v.ln()).sum();
        let ml: f64 = x.iter().map(|v| v.ln()).sum::<f64>() / n;
        assert!((s1 / s0 - 1.0 / f.shape - ml).abs() < 1e-10);
        assert!(((s0 / n).powf(1.0 / f.shape) - f.scale).abs() < 1e-10);
    }

    #[test]
    fn rejects_non_positive_for_lognormal() {
        let r = anderson_darling(&[1.0, -2.0, 3.0, 4.0], Model::Lognormal);
        assert_eq!(r, Err(StatsError::NonPositive { index: 1, value: -2.0, model: Model::Lognormal }));
    }
}

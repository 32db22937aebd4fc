//! Normal one-sided tolerance factor (exact, through the non-central t distribution) and the
//! normal / lognormal basis values of CMH-17-1G 8.3.6.5 built on it.

use statrs::distribution::ContinuousCDF;
use statrs::function::gamma::ln_gamma;

use super::numeric::{brent_expanding, integrate};
use super::{StatsError, check_probability, standard_normal};

/// CDF of the non-central t distribution with `df` degrees of freedom and non-centrality `delta`.
///
/// T = (Z + δ)/W with W = √(V/ν), V ~ χ²(ν), so P(T ≤ t) = E[Φ(t·W − δ)]: a one-dimensional
/// integral of the normal CDF against the density of the scaled chi variable W.
pub fn noncentral_t_cdf(t: f64, df: f64, delta: f64) -> Result<f64, StatsError> {
    if !(df > 0.0 && df.is_finite() && t.is_finite() && delta.is_finite()) {
        return Err(StatsError::InvalidParameter { name: "noncentral t arguments", value: df });
    }
    let phi = standard_normal()?;
    let half = df / 2.0;
    // ln of the density of W = √(V/ν): 2 (ν/2)^{ν/2} w^{ν−1} e^{−ν w²/2} / Γ(ν/2).
    let ln_norm = std::f64::consts::LN_2 + half * half.ln() - ln_gamma(half);
    let density = |w: f64| {
        if w <= 0.0 {
            if df == 1.0 && w == 0.0 { ln_norm.exp() } else { 0.0 }
        } else {
            (ln_norm + (df - 1.0) * w.ln() - half * w * w).exp()
        }
    };
    // W concentrates around 1 with spread ≈ 1/√(2ν); beyond 12 spreads the density is < 1e-30.
    let spread = (1.0 / (2.0 * df)).sqrt();
    let lo = (1.0 - 12.0 * spread).max(0.0);
    let hi = 1.0 + 14.0 * spread.max(0.1);
    let integrand = |w: f64| phi.cdf(t * w - delta) * density(w);
    let p = integrate(&integrand, lo, hi, 32, 1e-12);
    Ok(p.clamp(0.0, 1.0))
}

/// Quantile of the non-central t distribution, by Brent's method on [`noncentral_t_cdf`].
pub fn noncentral_t_quantile(prob: f64, df: f64, delta: f64) -> Result<f64, StatsError> {
    check_probability("probability", prob)?;
    // Start left of any plausible quantile: the median sits near δ, the lower tail within a few
    // units of it for the ν ≥ 1 used here.
    let mut lo = delta - 10.0;
    while noncentral_t_cdf(lo, df, delta)? > prob {
        lo -= 10.0 + lo.abs();
        if lo < -1e12 {
            return Err(StatsError::NoConvergence { what: "non-central t quantile" });
        }
    }
    brent_expanding(
        |t| noncentral_t_cdf(t, df, delta).map_or(f64::NAN, |p| p - prob),
        lo,
        10.0,
        1e-11,
        "non-central t quantile",
    )
}

/// Exact one-sided normal tolerance factor k = t'_{confidence}(n−1, z_content·√n)/√n
/// (CMH-17-1G 8.3.6.5.1, Tables 8.5.10/8.5.11; Owen 1963).
pub fn k_factor_normal(n: usize, content: f64, confidence: f64) -> Result<f64, StatsError> {
    // A root of a numerical integral, milliseconds each: remembered.
    super::remembered("k_factor_normal", (n, 0, content.to_bits(), confidence.to_bits()), || {
        compute_k_factor_normal(n, content, confidence)
    })
}

fn compute_k_factor_normal(n: usize, content: f64, confidence: f64) -> Result<f64, StatsError> {
    if n < 2 {
        return Err(StatsError::TooFewValues { needed: 2, got: n });
    }
    check_probability("content", content)?;
    check_probability("confidence", confidence)?;
    let z = standard_normal()?.inverse_cdf(content);
    let root_n = (n as f64).sqrt();
    let t = noncentral_t_quantile(confidence, (n - 1) as f64, z * root_n)?;
    Ok(t / root_n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn zero_noncentrality_matches_students_t() {
        use statrs::distribution::StudentsT;
        for df in [1.0, 3.0, 9.0, 40.0] {
            let t = StudentsT::new(0.0, 1.0, df).unwrap();
            for x in [-2.5, -0.3, 0.0, 1.1, 4.0] {
                let ours = noncentral_t_cdf(x, df, 0.0).unwrap();
                assert!((ours - t.cdf(x)).abs() < 1e-9, "df {df} x {x}: {ours} vs {}", t.cdf(x));
            }
        }
    }

    #[test]
    fn k_factors_match_domain_table() {
        // (n, kB, kA) from domain.md / CMH-17-1G Tables 8.5.10 and 8.5.11.
        for (n, kb, ka) in [(5, 3.407, 5.741), (10, 2.355, 3.981), (20, 1.926, 3.295)] {
            let b = k_factor_normal(n, 0.90, 0.95).unwrap();
            let a = k_factor_normal(n, 0.99, 0.95).unwrap();
            assert!((b - kb).abs() < 1.5e-3, "n {n}: kB {b}");
            assert!((a - ka).abs() < 1.5e-3, "n {n}: kA {a}");
        }
    }

    #[test]
    fn rejects_bad_arguments() {
        assert_eq!(k_factor_normal(1, 0.9, 0.95), Err(StatsError::TooFewValues { needed: 2, got: 1 }));
        assert!(matches!(k_factor_normal(5, 1.0, 0.95), Err(StatsError::InvalidProbability { .. })));
    }
}

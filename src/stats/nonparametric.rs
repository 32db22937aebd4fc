//! Distribution-free tolerance bounds: the binomial rank method for larger samples
//! (CMH-17-1G 8.3.6.6.1, Tables 8.5.12/8.5.13) and the Hanson–Koopmans method for small ones
//! (CMH-17-1G 8.3.6.6.2; Hanson & Koopmans 1964, extended to non-consecutive order statistics
//! by Vangel 1994).

use statrs::distribution::{Beta, Continuous};
use statrs::function::beta::beta_reg;

use super::numeric::{brent_expanding, integrate};
use super::{Model, Side, StatsError, check_positive, check_probability, check_values, sorted};

/// A non-parametric tolerance bound and the order statistics behind it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NonParametricBound {
    pub value: f64,
    /// "rank" or "Hanson–Koopmans".
    pub method: &'static str,
    /// 1-based rank of the order statistic used (counted from the bound's side).
    pub rank: usize,
    /// Hanson–Koopmans factor k (CMH-17 notation; Vangel's z), when that method was used.
    pub k: Option<f64>,
}

/// CMH-17-1G Table 8.5.14: the order statistic r used with x₍₁₎ for Hanson–Koopmans B-basis
/// values (content 0.90, confidence 0.95), n = 2..=28 (Vangel 1994 optimum order statistics).
const HK_B_RANK: [usize; 27] =
    [2, 3, 4, 4, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8, 8, 9, 9, 10, 10, 10, 11, 11, 11, 11, 11, 12];

/// Rank r of the order statistic x₍ᵣ₎ that is a lower tolerance bound: the largest r with
/// P(Binomial(n, 1 − content) ≥ r) ≥ confidence (CMH-17-1G 8.3.6.6.1; Guenther 1969).
pub fn nonparametric_rank(n: usize, content: f64, confidence: f64) -> Result<usize, StatsError> {
    check_probability("content", content)?;
    check_probability("confidence", confidence)?;
    let q = 1.0 - content;
    // P(Bin(n, q) ≥ r) = I_q(r, n − r + 1), decreasing in r.
    let at_least = |r: usize| beta_reg(r as f64, (n - r + 1) as f64, q);
    if n == 0 || at_least(1) < confidence {
        return Err(StatsError::NoBound { n, content, confidence, method: "the rank method" });
    }
    let (mut good, mut bad) = (1usize, n + 1);
    while bad - good > 1 {
        let mid = (good + bad) / 2;
        if at_least(mid) >= confidence {
            good = mid;
        } else {
            bad = mid;
        }
    }
    Ok(good)
}

/// Hanson–Koopmans factor k for the bound x₍ⱼ₎·(x₍₁₎/x₍ⱼ₎)^k (CMH-17-1G 8.3.6.6.2, Tables
/// 8.5.14/8.5.15). Confidence as a function of k follows Vangel (1994) with i = 1:
/// C(k) = I_q(j, n−j+1) + ∫_q^1 [1 − (1 − (q/t)^{1/k})^{j−1}] · beta(t; j, n−j+1) dt, q = 1 − content;
/// k solves C(k) = confidence.
pub fn hanson_koopmans_factor(n: usize, j: usize, content: f64, confidence: f64) -> Result<f64, StatsError> {
    super::remembered("hanson_koopmans", (n, j, content.to_bits(), confidence.to_bits()), || {
        compute_hanson_koopmans_factor(n, j, content, confidence)
    })
}

fn compute_hanson_koopmans_factor(n: usize, j: usize, content: f64, confidence: f64) -> Result<f64, StatsError> {
    check_probability("content", content)?;
    check_probability("confidence", confidence)?;
    if !(2..=n).contains(&j) {
        return Err(StatsError::InvalidParameter { name: "Hanson–Koopmans order statistic j", value: j as f64 });
    }
    let q = 1.0 - content;
    let (jf, rest) = (j as f64, (n - j + 1) as f64);
    let beta = Beta::new(jf, rest).map_err(|_| StatsError::InvalidParameter { name: "beta shape", value: jf })?;
    let base = beta_reg(jf, rest, q);
    let coverage = |k: f64| {
        let integrand = |t: f64| {
            let u = (q / t).powf(1.0 / k);
            (1.0 - (1.0 - u).powf(jf - 1.0)) * beta.pdf(t)
        };
        base + integrate(&integrand, q, 1.0, 256, 1e-12)
    };
    if coverage(1.0) >= confidence {
        // Already enough confidence at x₍₁₎ itself.
        return Ok(1.0);
    }
    brent_expanding(|k| coverage(k) - confidence, 1.0, 1.0, 1e-10, "Hanson–Koopmans factor")
}

/// Non-parametric one-sided bound: rank method when the sample is large enough for it,
/// otherwise Hanson–Koopmans (which needs positive values: it extrapolates geometrically).
/// For B-basis (0.90/0.95) the Hanson–Koopmans order statistic is CMH-17-1G Table 8.5.14's;
/// otherwise x₍ₙ₎ is used with x₍₁₎ (CMH-17-1G 8.3.6.6.2 for A-basis).
/// `Side::Upper` mirrors the order statistics (x₍ₙ₊₁₋ᵣ₎, and x₍ₙ₎ for x₍₁₎).
pub fn nonparametric_bound(
    values: &[f64],
    content: f64,
    confidence: f64,
    side: Side,
) -> Result<NonParametricBound, StatsError> {
    check_values(values, 2)?;
    let n = values.len();
    let x = sorted(values);
    // Order statistic counted from the bound's side (1-based).
    let from_side = |r: usize| match side {
        Side::Lower => x[r - 1],
        Side::Upper => x[n - r],
    };
    if let Ok(rank) = nonparametric_rank(n, content, confidence) {
        return Ok(NonParametricBound { value: from_side(rank), method: "rank", rank, k: None });
    }
    check_positive(values, Model::NonParametric)?;
    let is_b_basis = (content - 0.90).abs() < 1e-9 && (confidence - 0.95).abs() < 1e-9;
    let j = if is_b_basis && n <= 28 { HK_B_RANK[n - 2] } else { n };
    let k = hanson_koopmans_factor(n, j, content, confidence)?;
    let (x1, xj) = (from_side(1), from_side(j));
    Ok(NonParametricBound { value: xj * (x1 / xj).powf(k), method: "Hanson–Koopmans", rank: j, k: Some(k) })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn ranks_match_cmh17_tables_8_5_12_and_8_5_13() {
        // (n, r) first sample size for each rank, CMH-17-1G Tables 8.5.12 (B) and 8.5.13 (A),
        // as transcribed in cmstatr's tests/testthat/test-basis-factors-nonpara*.R.
        for (n, r) in [(29, 1), (46, 2), (61, 3), (76, 4), (89, 5), (103, 6), (275, 20), (1053, 90)] {
            assert_eq!(nonparametric_rank(n, 0.90, 0.95).unwrap(), r, "B n={n}");
            assert_eq!(nonparametric_rank(n - 1, 0.90, 0.95).unwrap_or(0), r - 1, "B n={}", n - 1);
        }
        for (n, r) in [(299, 1), (473, 2), (628, 3), (773, 4)] {
            assert_eq!(nonparametric_rank(n, 0.99, 0.95).unwrap(), r, "A n={n}");
        }
        assert!(matches!(nonparametric_rank(28, 0.90, 0.95), Err(StatsError::NoBound { .. })));
    }
}

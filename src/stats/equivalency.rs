//! Equivalency of a new sample against qualified data by the sample mean and the sample extremum
//! (CMH-17-1G 8.4.4; Vangel 2002, "Lot acceptance and compliance testing using the sample mean
//! and an extremum", Technometrics 44(3)).
//!
//! Vangel's factors (k₁ for the extremum, k₂ for the mean) make the two tests equally likely to
//! reject a sample from the qualified population and the joint false-rejection probability α.
//! They are computed here, not read from a table: the joint probability
//! P(X₍₁₎ > −k₁, X̄ > −k₂) for n standard normal values is evaluated by discretised convolution
//! of n normals truncated at −k₁ (step h, Richardson-extrapolated from h and 2h), and the common
//! marginal probability is found by Brent's method.

use statrs::distribution::{ContinuousCDF, Normal};

use super::numeric::brent;
use super::{
    EquivalencyResult, Side, StatsError, check_probability, check_values, is_zero_spread, mean, sd, standard_normal,
};

/// Grid step of the convolution; halving it changes the factors by less than 1e-5.
const STEP: f64 = 0.02;

/// P(all n values > a and their sum > s) for standard normal values, discretising each value
/// into cells [a + jh, a + (j+1)h) carrying their exact probability at the cell midpoint. The
/// step is adjusted so that s falls halfway between attainable sums (continuity correction).
fn joint_accept_on_grid(phi: &Normal, n: usize, a: f64, s: f64, step: f64) -> f64 {
    let nf = n as f64;
    let q_a = phi.sf(a);
    let span = s - nf * a;
    if span <= 0.0 {
        // Every sample whose minimum exceeds a has a sum above s.
        return q_a.powi(n as i32);
    }
    let half_n1 = (nf + 1.0) / 2.0;
    let j0 = ((span / step - half_n1).round()).max(1.0);
    let h = span / (j0 + half_n1);
    let top = a.max(0.0) + 9.0;
    let cells = ((top - a) / h).ceil().max(1.0) as usize;
    let single: Vec<f64> =
        (0..cells).map(|j| (phi.sf(a + j as f64 * h) - phi.sf(a + (j + 1) as f64 * h)) / q_a).collect();
    // pmf of the sum of cell indices, stored from index `offset`.
    let mut pmf = single.clone();
    let mut offset = 0usize;
    for _ in 1..n {
        let mut next = vec![0.0; pmf.len() + cells - 1];
        for (i, p) in pmf.iter().enumerate() {
            if *p == 0.0 {
                continue;
            }
            for (dst, m) in next[i..i + cells].iter_mut().zip(&single) {
                *dst += p * m;
            }
        }
        // Drop negligible mass at both ends to keep the convolution short.
        let first = next.iter().position(|p| *p > 1e-18).unwrap_or(0);
        let last = next.iter().rposition(|p| *p > 1e-18).unwrap_or(next.len().saturating_sub(1));
        offset += first;
        pmf = next[first..=last.max(first)].to_vec();
    }
    // Sum index J sits at n·a + (J + n/2)·h; s sits at J₀ + 1/2, so S > s ⇔ J ≥ J₀ + 1.
    let threshold = j0 as usize + 1;
    let tail: f64 =
        pmf.iter().enumerate().filter(|(i, _)| offset + i >= threshold).map(|(_, p)| p).sum::<f64>().min(1.0);
    q_a.powi(n as i32) * tail
}

/// P(X₍₁₎ > a, X̄ > b) for n standard normal values, Richardson-extrapolated from steps h and 2h.
fn joint_accept(phi: &Normal, n: usize, a: f64, b: f64) -> f64 {
    let s = n as f64 * b;
    let fine = joint_accept_on_grid(phi, n, a, s, STEP);
    let coarse = joint_accept_on_grid(phi, n, a, s, 2.0 * STEP);
    fine + (fine - coarse) / 3.0
}

/// Vangel's (2002) factors `(k_min, k_mean)` for a sample of `n` and false-rejection
/// probability `alpha`: reject when min < x̄_q − k_min·s_q or mean < x̄_q − k_mean·s_q.
pub fn k_factors_equivalency(n: usize, alpha: f64) -> Result<(f64, f64), StatsError> {
    if n < 2 {
        return Err(StatsError::TooFewValues { needed: 2, got: n });
    }
    check_probability("alpha", alpha)?;
    let phi = standard_normal()?;
    let nf = n as f64;
    // Both tests reject with the same marginal probability p.
    let limits = |p: f64| {
        let a = phi.inverse_cdf(-((-p).ln_1p() / nf).exp_m1());
        let b = phi.inverse_cdf(p) / nf.sqrt();
        (a, b)
    };
    let excess = |p: f64| {
        let (a, b) = limits(p);
        1.0 - joint_accept(&phi, n, a, b) - alpha
    };
    // The common marginal lies between α/2 (disjoint rejections) and α (nested ones).
    let p = brent(excess, 0.45 * alpha, (1.05 * alpha).min(0.999_999), 1e-12, "equivalency factors")?;
    let (a, b) = limits(p);
    Ok((-a, -b))
}

/// CMH-17-1G 8.4.4 equivalency of `sample` against `qualified` data with false-rejection
/// probability `alpha`. `Side::Lower`: the sample passes when its mean ≥ x̄_q − k_mean·s_q and its
/// minimum ≥ x̄_q − k_min·s_q. `Side::Upper` mirrors it with the maximum and `+`.
pub fn equivalency(qualified: &[f64], sample: &[f64], alpha: f64, side: Side) -> Result<EquivalencyResult, StatsError> {
    check_values(sample, 2)?;
    check_probability("alpha", alpha)?;
    let factors = k_factors_equivalency(sample.len(), alpha)?;
    equivalency_with_factors(qualified, sample, alpha, factors, side)
}

/// [`equivalency`] with factors `(k_min, k_mean)` already computed by [`k_factors_equivalency`]
/// for this sample size and alpha (they depend on nothing else, and computing them is the slow
/// part, so callers testing many properties compute them once per sample size).
pub fn equivalency_with_factors(
    qualified: &[f64],
    sample: &[f64],
    alpha: f64,
    (k_min, k_mean): (f64, f64),
    side: Side,
) -> Result<EquivalencyResult, StatsError> {
    check_values(qualified, 2)?;
    check_values(sample, 2)?;
    if is_zero_spread(qualified) {
        return Err(StatsError::ZeroVariance { n: qualified.len() });
    }
    let (q_mean, q_sd) = (mean(qualified), sd(qualified));
    let sample_mean = mean(sample);
    let (mean_threshold, min_individual_threshold, extremum, mean_pass, min_individual_pass);
    match side {
        Side::Lower => {
            mean_threshold = q_mean - k_mean * q_sd;
            min_individual_threshold = q_mean - k_min * q_sd;
            extremum = sample.iter().copied().fold(f64::INFINITY, f64::min);
            mean_pass = sample_mean >= mean_threshold;
            min_individual_pass = extremum >= min_individual_threshold;
        }
        Side::Upper => {
            mean_threshold = q_mean + k_mean * q_sd;
            min_individual_threshold = q_mean + k_min * q_sd;
            extremum = sample.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            mean_pass = sample_mean <= mean_threshold;
            min_individual_pass = extremum <= min_individual_threshold;
        }
    }
    Ok(EquivalencyResult {
        alpha,
        n: sample.len(),
        mean_threshold,
        min_individual_threshold,
        sample_mean,
        sample_min: extremum,
        mean_pass,
        min_individual_pass,
        pass: mean_pass && min_individual_pass,
        k_mean,
        k_min,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn joint_probability_matches_closed_forms() {
        let phi = standard_normal().unwrap();
        // b far below a: only the minimum matters, P = Q(a)^n.
        let p = joint_accept(&phi, 4, -1.0, -10.0);
        assert!((p - phi.sf(-1.0).powi(4)).abs() < 1e-12);
        // a far below: only the mean matters, P = Φ(−b√n).
        let p = joint_accept(&phi, 4, -9.0, -0.3);
        assert!((p - phi.sf(-0.3 * 2.0)).abs() < 1e-6, "{p} vs {}", phi.sf(-0.6));
    }
}

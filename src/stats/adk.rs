//! k-sample Anderson–Darling test for whether batches come from one population
//! (Scholz & Stephens 1987, the midrank statistic A²_akN for data with ties, as CMH-17-1G
//! 8.3.2.2 applies it to batches).

use super::{AdkResult, StatsError, check_groups, check_probability, sorted};

/// ADK = A²_akN/(k−1) and its critical value ADC = 1 + σ_N·(t₀ + t₁/√(k−1) + t₂/(k−1)).
///
/// σ_N is the standard deviation of A²_akN under the null (Scholz & Stephens 1987, eq. for
/// Var(A²_kN)) divided by k−1. The coefficients t₀..t₂ of the standardised critical point are
/// Scholz & Stephens' Table 1 interpolation at α = 0.025 (1.96, 1.149, −0.391), the level
/// CMH-17-1G uses; other α values are rejected rather than guessed.
pub fn k_sample_anderson_darling(groups: &[Vec<f64>], alpha: f64) -> Result<AdkResult, StatsError> {
    check_probability("alpha", alpha)?;
    let k = check_groups(groups)?;
    let pooled: Vec<f64> = sorted(&groups.iter().flatten().copied().collect::<Vec<_>>());
    let big_n = pooled.len();
    if big_n < 4 {
        return Err(StatsError::TooFewValues { needed: 4, got: big_n });
    }
    let nf = big_n as f64;
    // Distinct values z_j with multiplicities h_j.
    let mut distinct: Vec<(f64, f64)> = Vec::new();
    for &v in &pooled {
        match distinct.last_mut() {
            Some((z, h)) if *z == v => *h += 1.0,
            _ => distinct.push((v, 1.0)),
        }
    }
    let mut total = 0.0;
    for values in groups {
        let ni = values.len() as f64;
        let group_sorted = sorted(values);
        let mut inner = 0.0;
        let mut below_all = 0.0; // pooled count strictly below z_j
        let mut below_i = 0usize; // group count strictly below z_j
        for &(z, h) in &distinct {
            while below_i < group_sorted.len() && group_sorted[below_i] < z {
                below_i += 1;
            }
            let equal_i = group_sorted[below_i..].iter().take_while(|v| **v == z).count() as f64;
            let f_ij = below_i as f64 + equal_i / 2.0;
            let h_j = below_all + h / 2.0;
            let denom = h_j * (nf - h_j) - nf * h / 4.0;
            if denom > 0.0 {
                inner += h * (nf * f_ij - ni * h_j).powi(2) / denom;
            }
            below_all += h;
        }
        total += inner / ni;
    }
    let km1 = (k - 1) as f64;
    let a2akn = (nf - 1.0) / (nf * nf) * total;
    let statistic = a2akn / km1;

    let sigma = variance_a2kn(groups, big_n).sqrt();
    let (t0, t1, t2) = critical_coefficients(alpha)?;
    let critical = 1.0 + sigma / km1 * (t0 + t1 / km1.sqrt() + t2 / km1);
    Ok(AdkResult { statistic, critical, alpha, same_population: statistic < critical })
}

/// Var(A²_kN) under the null hypothesis (Scholz & Stephens 1987, section 3).
fn variance_a2kn(groups: &[Vec<f64>], big_n: usize) -> f64 {
    let nf = big_n as f64;
    let k = groups.len() as f64;
    let cap_h: f64 = groups.iter().map(|g| 1.0 / g.len() as f64).sum();
    let h: f64 = (1..big_n).map(|i| 1.0 / i as f64).sum();
    // g = Σ_{i=1}^{N−2} Σ_{j=i+1}^{N−1} 1/((N−i)·j), accumulated with a running tail sum of 1/j.
    let mut g = 0.0;
    let mut tail = 0.0; // Σ_{j=i+1}^{N−1} 1/j
    for i in (1..big_n.saturating_sub(1)).rev() {
        tail += 1.0 / (i + 1) as f64;
        g += tail / (nf - i as f64);
    }
    let a = (4.0 * g - 6.0) * (k - 1.0) + (10.0 - 6.0 * g) * cap_h;
    let b = (2.0 * g - 4.0) * k * k + 8.0 * h * k + (2.0 * g - 14.0 * h - 4.0) * cap_h - 8.0 * h + 4.0 * g - 6.0;
    let c = (6.0 * h + 2.0 * g - 2.0) * k * k + (4.0 * h - 4.0 * g + 6.0) * k + (2.0 * h - 6.0) * cap_h + 4.0 * h;
    let d = (2.0 * h + 6.0) * k * k - 4.0 * h * k;
    (a * nf.powi(3) + b * nf * nf + c * nf + d) / ((nf - 1.0) * (nf - 2.0) * (nf - 3.0))
}

/// Scholz & Stephens (1987) Table 1 fit t_m(α) = b₀ + b₁/√m + b₂/m, at the α = 0.025 that
/// CMH-17-1G 8.3.2.2 uses (the only row this module relies on).
fn critical_coefficients(alpha: f64) -> Result<(f64, f64, f64), StatsError> {
    if (alpha - 0.025).abs() < 1e-12 {
        Ok((1.960, 1.149, -0.391))
    } else {
        Err(StatsError::InvalidParameter { name: "ADK alpha (only 0.025 is supported)", value: alpha })
    }
}

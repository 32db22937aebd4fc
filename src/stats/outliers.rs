//! Maximum normed residual outlier screen (CMH-17-1G 8.3.3; Grubbs' test, two-sided).

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::{MnrResult, StatsError, check_probability, check_values, is_zero_spread, mean, sd};

/// Critical MNR for `n` values at significance `alpha` (CMH-17-1G 8.3.3, Table 8.5.7):
/// C = (n−1)/√n · √(t²/(n−2+t²)), t the 1 − α/(2n) quantile of Student's t with n−2 d.o.f.
pub fn mnr_critical(n: usize, alpha: f64) -> Result<f64, StatsError> {
    if n < 3 {
        return Err(StatsError::TooFewValues { needed: 3, got: n });
    }
    check_probability("alpha", alpha)?;
    // A Student t quantile (a numerical inversion) per sample size: remembered.
    super::remembered("mnr_critical", (n, 0, alpha.to_bits(), 0), || compute_mnr_critical(n, alpha))
}

fn compute_mnr_critical(n: usize, alpha: f64) -> Result<f64, StatsError> {
    let nf = n as f64;
    let t_dist = StudentsT::new(0.0, 1.0, nf - 2.0)
        .map_err(|_| StatsError::InvalidParameter { name: "Student t degrees of freedom", value: nf - 2.0 })?;
    let t = t_dist.inverse_cdf(1.0 - alpha / (2.0 * nf));
    Ok((nf - 1.0) / nf.sqrt() * (t * t / (nf - 2.0 + t * t)).sqrt())
}

/// Screens `values` for outliers with the maximum normed residual MNR = max|xᵢ − x̄|/s.
///
/// As CMH-17-1G 8.3.3 does, a flagged value is removed and the test repeated on the rest until
/// nothing more is flagged or fewer than 3 values remain; every flagged index is reported.
/// `statistic` and `critical` describe the first pass over all values. Values with no spread
/// have no outliers.
pub fn max_normed_residual(values: &[f64], alpha: f64) -> Result<MnrResult, StatsError> {
    check_values(values, 3)?;
    check_probability("alpha", alpha)?;
    let mut remaining: Vec<usize> = (0..values.len()).collect();
    let mut outliers = Vec::new();
    let mut first: Option<(f64, f64)> = None;
    while remaining.len() >= 3 {
        let data: Vec<f64> = remaining.iter().map(|&i| values[i]).collect();
        let critical = mnr_critical(data.len(), alpha)?;
        if is_zero_spread(&data) {
            first.get_or_insert((0.0, critical));
            break;
        }
        let (m, s) = (mean(&data), sd(&data));
        // The first of equally extreme values is taken, so ties are removed in input order.
        let (pos, statistic) = data
            .iter()
            .enumerate()
            .map(|(p, v)| (p, (v - m).abs() / s))
            .fold((0, f64::NEG_INFINITY), |best, cur| if cur.1 > best.1 { cur } else { best });
        first.get_or_insert((statistic, critical));
        if statistic <= critical {
            break;
        }
        outliers.push(remaining.remove(pos));
    }
    let (statistic, critical) = first.unwrap_or((0.0, f64::NAN));
    Ok(MnrResult { statistic, critical, outliers })
}

//! Basis values: the CMH-17-1G 8.3 procedure for a one-sided tolerance bound from (possibly
//! multi-batch) data — outlier screen, batch pooling test, model choice by goodness of fit, and
//! the bound under the chosen model.

use super::gof::{anderson_darling, weibull_mle};
use super::nonparametric::nonparametric_bound;
use super::normal::k_factor_normal;
use super::outliers::max_normed_residual;
use super::{
    AdkResult, BasisResult, GofResult, Model, Side, StatsError, check_positive, check_probability, check_values,
    is_zero_spread, k_sample_anderson_darling, mean, sd,
};

/// Significance of the outlier screen (CMH-17-1G 8.3.3).
const MNR_ALPHA: f64 = 0.05;
/// Significance of the batch pooling test (CMH-17-1G 8.3.2.2).
const ADK_ALPHA: f64 = 0.025;

/// One-sided tolerance bound covering `content` (0.90 for B-basis, 0.99 for A-basis) of the
/// population with `confidence` (0.95). `values[i]` belongs to batch `batches[i]`.
///
/// Follows CMH-17-1G 8.3 (Figure 8.3.1): outliers are screened by the maximum normed residual
/// on the pooled data and within each batch (reported, not removed); with two or more batches
/// the k-sample Anderson–Darling test decides whether batches may be pooled — if not, the
/// reason says so and the bound is still computed on the pooled data (`pooled = false`). Models
/// are then tried in CMH-17 order — Weibull, normal, lognormal — and the first whose
/// Anderson–Darling OSL exceeds 0.05 is used (Weibull 8.3.6.5.2, normal 8.3.6.5.1, lognormal
/// 8.3.6.5.3); if none fits, the non-parametric bound (8.3.6.6). `Side::Upper` mirrors the
/// procedure; the Weibull model is skipped for it (the distribution is not symmetric), and
/// Weibull is only used at the B- and A-basis levels CMH-17's approximation covers.
pub fn tolerance_bound(
    values: &[f64],
    batches: &[&str],
    content: f64,
    confidence: f64,
    side: Side,
) -> Result<BasisResult, StatsError> {
    if values.len() != batches.len() {
        return Err(StatsError::LengthMismatch { values: values.len(), batches: batches.len() });
    }
    check_values(values, 3)?;
    check_probability("content", content)?;
    check_probability("confidence", confidence)?;
    let n = values.len();
    if is_zero_spread(values) {
        return Err(StatsError::ZeroVariance { n });
    }
    let (m, s) = (mean(values), sd(values));

    // Batches in order of first appearance.
    let mut labels: Vec<&str> = Vec::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (i, b) in batches.iter().enumerate() {
        match labels.iter().position(|l| l == b) {
            Some(p) => members[p].push(i),
            None => {
                labels.push(b);
                members.push(vec![i]);
            }
        }
    }

    let outliers = max_normed_residual(values, MNR_ALPHA)?;
    let mut batch_outliers = Vec::new();
    for idx in &members {
        if idx.len() >= 3 {
            let data: Vec<f64> = idx.iter().map(|&i| values[i]).collect();
            let r = max_normed_residual(&data, MNR_ALPHA)?;
            batch_outliers.extend(r.outliers.iter().map(|&p| idx[p]));
        }
    }

    let adk: Option<AdkResult> = if members.len() >= 2 {
        let groups: Vec<Vec<f64>> = members.iter().map(|idx| idx.iter().map(|&i| values[i]).collect()).collect();
        Some(k_sample_anderson_darling(&groups, ADK_ALPHA)?)
    } else {
        None
    };
    let pooled = adk.as_ref().is_none_or(|a| a.same_population);

    let all_positive = values.iter().all(|v| *v > 0.0);
    let weibull_level = weibull_v(n, content, confidence).is_some();
    let mut gof: Vec<GofResult> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut chosen: Option<(Model, f64, Option<f64>)> = None;
    for model in [Model::Weibull, Model::Normal, Model::Lognormal] {
        if model == Model::Weibull && side == Side::Upper {
            notes.push("Weibull not used for upper bounds".into());
            continue;
        }
        if model == Model::Weibull && !weibull_level {
            notes.push("Weibull only used at B/A-basis levels".into());
            continue;
        }
        if matches!(model, Model::Weibull | Model::Lognormal) && !all_positive {
            notes.push(format!("{model} needs positive values"));
            continue;
        }
        let g = anderson_darling(values, model)?;
        let fits = g.fits;
        gof.push(g);
        if fits && chosen.is_none() {
            chosen = Some(model_bound(model, values, content, confidence, side)?);
        }
    }

    let gof_words = |skip: Option<Model>| -> Vec<String> {
        gof.iter()
            .filter(|g| Some(g.model) != skip)
            .map(|g| format!("{} OSL {:.3} {} 0.05", g.model, g.osl, if g.fits { ">" } else { "≤" }))
            .collect()
    };
    let (value, model, k, mut reason) = match chosen {
        Some((model, value, k)) => {
            let (own, others) = match gof.iter().find(|g| g.model == model) {
                Some(g) => (format!("Anderson–Darling OSL {:.3} > 0.05", g.osl), gof_words(Some(model))),
                None => (String::new(), gof_words(Some(model))),
            };
            let mut r = format!("{model}: {own}");
            if !others.is_empty() {
                r.push_str(&format!(" ({})", others.join(", ")));
            }
            (value, model, k, r)
        }
        None => {
            let np = nonparametric_bound(values, content, confidence, side)?;
            let words = gof_words(None);
            let why = if words.is_empty() { "no parametric model applies".to_string() } else { words.join(", ") };
            let detail = match np.k {
                Some(k) => format!("Hanson–Koopmans, order statistic {} with k = {k:.3}", np.rank),
                None => format!("rank method, order statistic {}", np.rank),
            };
            (np.value, Model::NonParametric, np.k, format!("non-parametric ({detail}): no model fits ({why})"))
        }
    };
    if !notes.is_empty() {
        reason.push_str(&format!("; {}", notes.join(", ")));
    }
    match &adk {
        Some(a) if a.same_population => {
            reason.push_str(&format!("; batches pool (ADK {:.3} < {:.3})", a.statistic, a.critical));
        }
        Some(a) => reason.push_str(&format!(
            "; batches differ (ADK {:.3} ≥ {:.3}): pooling not justified, bound computed on pooled data anyway",
            a.statistic, a.critical
        )),
        None => reason.push_str("; single batch"),
    }
    if !outliers.outliers.is_empty() || !batch_outliers.is_empty() {
        reason.push_str(&format!(
            "; {} outlier(s) overall and {} within batches flagged by MNR, kept",
            outliers.outliers.len(),
            batch_outliers.len()
        ));
    }

    Ok(BasisResult {
        value,
        model,
        reason,
        n,
        batches: members.len(),
        mean: m,
        sd: s,
        k,
        gof,
        adk,
        outliers,
        batch_outliers,
        pooled,
    })
}

/// The bound under one given model, without any model selection: (model, value, tolerance
/// factor). Normal CMH-17-1G 8.3.6.5.1, lognormal 8.3.6.5.3, Weibull 8.3.6.5.2 (B/A-basis and
/// lower bounds only), non-parametric 8.3.6.6.
pub fn model_bound(
    model: Model,
    values: &[f64],
    content: f64,
    confidence: f64,
    side: Side,
) -> Result<(Model, f64, Option<f64>), StatsError> {
    check_values(values, 3)?;
    check_probability("content", content)?;
    check_probability("confidence", confidence)?;
    if is_zero_spread(values) {
        return Err(StatsError::ZeroVariance { n: values.len() });
    }
    if matches!(model, Model::Lognormal | Model::Weibull) {
        check_positive(values, model)?;
    }
    let n = values.len();
    let sign = match side {
        Side::Lower => -1.0,
        Side::Upper => 1.0,
    };
    match model {
        // CMH-17-1G 8.3.6.5.1: x̄ ∓ k·s.
        Model::Normal => {
            let k = k_factor_normal(n, content, confidence)?;
            Ok((model, mean(values) + sign * k * sd(values), Some(k)))
        }
        // CMH-17-1G 8.3.6.5.3: the normal bound of ln x, transformed back.
        Model::Lognormal => {
            let logs: Vec<f64> = values.iter().map(|v| v.ln()).collect();
            let k = k_factor_normal(n, content, confidence)?;
            Ok((model, (mean(&logs) + sign * k * sd(&logs)).exp(), Some(k)))
        }
        // CMH-17-1G 8.3.6.5.2: B = Q̂·exp(−V/(β̂√n)), Q̂ = α̂·(−ln content)^{1/β̂}.
        Model::Weibull => {
            if side == Side::Upper {
                return Err(StatsError::UnsupportedSide { model, side });
            }
            let v = weibull_v(n, content, confidence)
                .ok_or(StatsError::InvalidParameter { name: "Weibull basis content", value: content })?;
            let fit = weibull_mle(values)?;
            let q = fit.scale * (-content.ln()).powf(1.0 / fit.shape);
            Ok((model, q * (-v / (fit.shape * (n as f64).sqrt())).exp(), None))
        }
        Model::NonParametric => {
            let np = nonparametric_bound(values, content, confidence, side)?;
            Ok((model, np.value, np.k))
        }
    }
}

/// CMH-17-1G 8.3.6.5.2 approximation of the Weibull tolerance factor V, defined only for
/// B-basis (0.90/0.95) and A-basis (0.99/0.95).
fn weibull_v(n: usize, content: f64, confidence: f64) -> Option<f64> {
    let nf = n as f64;
    if (confidence - 0.95).abs() > 1e-9 || n < 3 {
        return None;
    }
    if (content - 0.90).abs() < 1e-9 {
        Some(3.803 + (1.79 - 0.516 * nf.ln() + 5.1 / (nf - 1.0)).exp())
    } else if (content - 0.99).abs() < 1e-9 {
        Some(6.649 + (2.55 - 0.526 * nf.ln() + 4.76 / nf).exp())
    } else {
        None
    }
}

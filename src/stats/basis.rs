//! Basis values: the CMH-17-1G 8.3 procedure for a one-sided tolerance bound from (possibly
//! multi-batch) data — outlier screen, batch pooling test, model choice by goodness of fit, and
//! the bound under the chosen model.

use super::anova::anova_bound;
use super::gof::{anderson_darling, weibull_mle};
use super::levene::levene_test;
use super::nonparametric::nonparametric_bound;
use super::normal::k_factor_normal;
use super::outliers::max_normed_residual;
use super::{
    AdkResult, BasisResult, GofResult, Model, Route, Side, StatsError, check_positive, check_probability, check_values,
    is_zero_spread, k_sample_anderson_darling, mean, sd,
};

/// Significance of the outlier screen (CMH-17-1G 8.3.3).
const MNR_ALPHA: f64 = 0.05;
/// Significance of the batch pooling test (CMH-17-1G 8.3.2.2).
const ADK_ALPHA: f64 = 0.025;
/// Significance of Levene's test of equal batch variances.
const LEVENE_ALPHA: f64 = 0.05;

/// Fewest specimens for which the Weibull model is used. CMH-17's approximation of the Weibull
/// tolerance factor V puts the A-basis above the B-basis at n = 3; prequal starts at 5.
pub const WEIBULL_MIN_N: usize = 5;
/// Batches below which the handbook's ANOVA value is flagged as very conservative.
const ANOVA_FEW_BATCHES: usize = 5;

/// One-sided tolerance bound covering `content` (0.90 for B-basis, 0.99 for A-basis) of the
/// population with `confidence` (0.95). `values[i]` belongs to batch `batches[i]`.
///
/// Follows the decision tree of CMH-17-1G 8.3 (Figure 8.3.1), each step recorded in
/// [`BasisResult::steps`] with its section:
/// 1. outliers are screened by the maximum normed residual within each batch and on all values
///    (8.3.3); they are reported and kept, as the handbook keeps values with no assignable cause;
/// 2. with two or more batches the k-sample Anderson–Darling test (8.3.2.2, α = 0.025) decides
///    whether they may be pooled;
/// 3. if they may not, the ANOVA method gives the bound (worked example 8.3.11.2.2), with
///    Levene's test of equal variances and the batch count as diagnostics;
/// 4. otherwise models are tried in CMH-17 order — Weibull, normal, lognormal — and the first
///    whose Anderson–Darling OSL exceeds 0.05 is used (8.3.4; Weibull 8.3.6.5.2, normal
///    8.3.6.5.1, lognormal 8.3.6.5.3); a model whose fit cannot be computed is passed over; if
///    none fits, the non-parametric bound (8.3.6.6).
///
/// `Side::Upper` mirrors the procedure; the Weibull model is skipped for it (the distribution
/// is not symmetric), and Weibull is only used at the B- and A-basis levels CMH-17's
/// approximation covers and from [`WEIBULL_MIN_N`] values on.
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
    let groups: Vec<Vec<f64>> = members.iter().map(|idx| idx.iter().map(|&i| values[i]).collect()).collect();
    let mut steps: Vec<String> = Vec::new();

    // Step 1: outliers.
    let outliers = max_normed_residual(values, MNR_ALPHA)?;
    let mut batch_outliers = Vec::new();
    for idx in &members {
        if idx.len() >= 3 {
            let data: Vec<f64> = idx.iter().map(|&i| values[i]).collect();
            let r = max_normed_residual(&data, MNR_ALPHA)?;
            batch_outliers.extend(r.outliers.iter().map(|&p| idx[p]));
        }
    }
    steps.push(if outliers.outliers.is_empty() && batch_outliers.is_empty() {
        "outliers (MNR, CMH-17-1G 8.3.3): none".to_string()
    } else {
        format!(
            "outliers (MNR, CMH-17-1G 8.3.3): {} overall, {} within batches, kept (no assignable cause is recorded; the lab should disposition them)",
            outliers.outliers.len(),
            batch_outliers.len()
        )
    });

    // Step 2: may the batches be pooled?
    let adk: Option<AdkResult> = if groups.len() >= 2 {
        match k_sample_anderson_darling(&groups, ADK_ALPHA) {
            Ok(a) => Some(a),
            Err(e) => {
                steps.push(format!(
                    "batch pooling (k-sample Anderson–Darling, 8.3.2.2) cannot be tested ({e}): batches not pooled"
                ));
                None
            }
        }
    } else {
        None
    };
    let pooled = match (&adk, groups.len()) {
        (_, 1) => {
            steps.push("single batch: no pooling test; the value reflects one batch's variability only".into());
            true
        }
        (Some(a), _) if a.same_population => {
            steps.push(format!(
                "batches pool (k-sample Anderson–Darling, 8.3.2.2: ADK {:.3} < {:.3} at α = 0.025)",
                a.statistic, a.critical
            ));
            true
        }
        (Some(a), _) => {
            steps.push(format!(
                "batches differ (k-sample Anderson–Darling, 8.3.2.2: ADK {:.3} ≥ {:.3} at α = 0.025): not pooled",
                a.statistic, a.critical
            ));
            false
        }
        (None, _) => false,
    };

    // Step 3: ANOVA when batches may not be pooled.
    if !pooled {
        let a = anova_bound(&groups, content, confidence, side)?;
        let levene = levene_test(&groups, LEVENE_ALPHA).ok();
        let mut words = format!(
            "ANOVA method (CMH-17-1G 8.3, example 8.3.11.2.2): between-batch MS {}, within-batch MS {}, effective batch size {:.2}, population sd {}, tolerance factor {:.3}",
            short(a.msb),
            short(a.mse),
            a.effective_batch_size,
            short(a.population_sd),
            a.k
        );
        if a.msb <= a.mse {
            words.push_str(" (no between-batch variance: the factor for all specimens)");
        }
        steps.push(words);
        if let Some(l) = &levene {
            steps.push(if l.reject_equal_variance {
                format!("Levene's test: batch variances differ (F {:.3}, p {:.3} < 0.05): the ANOVA value assumes equal within-batch variances, review the data", l.f, l.p)
            } else {
                format!("Levene's test: batch variances equal (F {:.3}, p {:.3})", l.f, l.p)
            });
        }
        if groups.len() < ANOVA_FEW_BATCHES {
            steps.push(format!(
                "{} batches: with fewer than {ANOVA_FEW_BATCHES} the ANOVA value is very conservative; more batches raise it",
                groups.len()
            ));
        }
        return Ok(BasisResult {
            value: a.value,
            model: Model::Anova,
            route: Route::Anova,
            reason: steps.join("; "),
            steps,
            n,
            batches: groups.len(),
            mean: m,
            sd: s,
            k: Some(a.k),
            gof: Vec::new(),
            adk,
            levene,
            anova: Some(a),
            outliers,
            batch_outliers,
            pooled,
        });
    }

    // Step 4: a model by goodness of fit, on the pooled data.
    let all_positive = values.iter().all(|v| *v > 0.0);
    let mut gof: Vec<GofResult> = Vec::new();
    let mut passed_over: Vec<String> = Vec::new();
    let mut chosen: Option<(Model, f64, Option<f64>)> = None;
    for model in [Model::Weibull, Model::Normal, Model::Lognormal] {
        if model == Model::Weibull {
            if side == Side::Upper {
                passed_over.push("Weibull not used for upper bounds".into());
                continue;
            }
            if weibull_v(n, content, confidence).is_none() {
                passed_over.push("Weibull only used at B/A-basis levels".into());
                continue;
            }
            if n < WEIBULL_MIN_N {
                passed_over.push(format!("Weibull not used below {WEIBULL_MIN_N} specimens"));
                continue;
            }
        }
        if matches!(model, Model::Weibull | Model::Lognormal) && !all_positive {
            passed_over.push(format!("{model} needs positive values"));
            continue;
        }
        let g = match anderson_darling(values, model) {
            Ok(g) => g,
            Err(e) => {
                passed_over.push(format!("{model} fit failed ({e})"));
                continue;
            }
        };
        let fits = g.fits;
        gof.push(g);
        if fits && chosen.is_none() {
            match model_bound(model, values, content, confidence, side) {
                Ok(c) => chosen = Some(c),
                Err(e) => passed_over.push(format!("{model} bound failed ({e})")),
            }
        }
    }
    let gof_words: Vec<String> =
        gof.iter().map(|g| format!("{} OSL {:.3} {} 0.05", g.model, g.osl, if g.fits { ">" } else { "≤" })).collect();
    let tried = gof_words.iter().chain(passed_over.iter()).cloned().collect::<Vec<_>>().join(", ");
    let (value, model, k) = match chosen {
        Some((model, value, k)) => {
            steps.push(format!("distribution (Anderson–Darling, 8.3.4): {model} ({tried})"));
            (value, model, k)
        }
        None => {
            let np = nonparametric_bound(values, content, confidence, side)?;
            let detail = match np.k {
                Some(k) => format!("Hanson–Koopmans (8.3.6.6.2), order statistic {} with k = {k:.3}", np.rank),
                None => format!("rank method (8.3.6.6.1), order statistic {}", np.rank),
            };
            let why = if tried.is_empty() { "no parametric model applies".to_string() } else { tried };
            steps.push(format!("distribution (Anderson–Darling, 8.3.4): none fits ({why}): non-parametric, {detail}"));
            (np.value, Model::NonParametric, np.k)
        }
    };

    Ok(BasisResult {
        value,
        model,
        route: if groups.len() == 1 { Route::SingleBatch } else { Route::Pooled },
        reason: steps.join("; "),
        steps,
        n,
        batches: members.len(),
        mean: m,
        sd: s,
        k,
        gof,
        adk,
        levene: None,
        anova: None,
        outliers,
        batch_outliers,
        pooled,
    })
}

/// A number in a sentence: four significant digits.
fn short(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let digits = (3 - v.abs().log10().floor() as i32).max(0) as usize;
    format!("{v:.digits$}")
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
        Model::Anova => Err(StatsError::NeedsBatches { model }),
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

//! Micro-benchmark of the statistics behind a fit report: how long one basis value takes, so a
//! ranking over thousands of materials stays fast. `cargo bench --bench stats_speed`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use prequal::stats::{self, Model, Side};

fn time(label: &str, runs: usize, mut f: impl FnMut()) {
    let t = Instant::now();
    for _ in 0..runs {
        f();
    }
    println!("{label:<40} {:>10.1} µs", t.elapsed().as_secs_f64() * 1e6 / runs as f64);
}

fn main() {
    let values: Vec<f64> = (0..15).map(|i| 1000.0 + ((i * 37) % 15) as f64 * 3.1 + (i / 5) as f64 * 2.0).collect();
    let batches: Vec<&str> = (0..15).map(|i| ["A", "B", "C"][i / 5]).collect();
    time("k_factor_normal(15, 0.90, 0.95)", 200, || {
        stats::k_factor_normal(15, 0.90, 0.95).unwrap();
    });
    time("hanson_koopmans_factor(15, 15, 0.90, 0.95)", 20, || {
        stats::hanson_koopmans_factor(15, 15, 0.90, 0.95).unwrap();
    });
    time("equivalency factors n = 8", 3, || {
        stats::k_factors_equivalency(8, 0.05).unwrap();
    });
    time("anderson_darling normal", 2000, || {
        stats::anderson_darling(&values, Model::Normal).unwrap();
    });
    time("anderson_darling weibull", 200, || {
        stats::anderson_darling(&values, Model::Weibull).unwrap();
    });
    time("max_normed_residual", 2000, || {
        stats::max_normed_residual(&values, 0.05).unwrap();
    });
    let groups: Vec<Vec<f64>> = values.chunks(5).map(<[f64]>::to_vec).collect();
    time("k_sample_anderson_darling", 2000, || {
        stats::k_sample_anderson_darling(&groups, 0.025).unwrap();
    });
    time("tolerance_bound B lower", 200, || {
        stats::tolerance_bound(&values, &batches, 0.90, 0.95, Side::Lower).unwrap();
    });
    time("tolerance_bound B upper", 200, || {
        stats::tolerance_bound(&values, &batches, 0.90, 0.95, Side::Upper).unwrap();
    });
}

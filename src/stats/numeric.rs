//! Hand-written numerics the statistics need and statrs does not offer: adaptive quadrature and
//! bracketed root finding. Distributions and special functions stay in statrs.

use super::StatsError;

/// Adaptive Simpson quadrature of `f` over `[a, b]`, split first into `panels` equal parts so a
/// narrow peak cannot hide between the first few sample points.
pub(crate) fn integrate<F: Fn(f64) -> f64>(f: &F, a: f64, b: f64, panels: usize, tol: f64) -> f64 {
    if b <= a {
        return 0.0;
    }
    let panels = panels.max(1);
    let width = (b - a) / panels as f64;
    let per_panel_tol = tol / panels as f64;
    (0..panels)
        .map(|i| {
            let lo = a + width * i as f64;
            let hi = if i + 1 == panels { b } else { lo + width };
            let (flo, fmid, fhi) = (f(lo), f(0.5 * (lo + hi)), f(hi));
            let whole = (hi - lo) / 6.0 * (flo + 4.0 * fmid + fhi);
            simpson_step(f, lo, hi, flo, fmid, fhi, whole, per_panel_tol, 40)
        })
        .sum()
}

#[allow(clippy::too_many_arguments)]
fn simpson_step<F: Fn(f64) -> f64>(
    f: &F,
    a: f64,
    b: f64,
    fa: f64,
    fm: f64,
    fb: f64,
    whole: f64,
    tol: f64,
    depth: u32,
) -> f64 {
    let m = 0.5 * (a + b);
    let (lm, rm) = (0.5 * (a + m), 0.5 * (m + b));
    let (flm, frm) = (f(lm), f(rm));
    let left = (m - a) / 6.0 * (fa + 4.0 * flm + fm);
    let right = (b - m) / 6.0 * (fm + 4.0 * frm + fb);
    let delta = left + right - whole;
    if depth == 0 || delta.abs() <= 15.0 * tol {
        // Richardson correction of the two-panel estimate.
        return left + right + delta / 15.0;
    }
    simpson_step(f, a, m, fa, flm, fm, left, tol / 2.0, depth - 1)
        + simpson_step(f, m, b, fm, frm, fb, right, tol / 2.0, depth - 1)
}

/// Brent's method for a root of `f` in `[a, b]`; `f(a)` and `f(b)` must differ in sign.
pub(crate) fn brent<F: FnMut(f64) -> f64>(
    mut f: F,
    mut a: f64,
    mut b: f64,
    tol: f64,
    what: &'static str,
) -> Result<f64, StatsError> {
    let mut fa = f(a);
    let mut fb = f(b);
    if !(fa.is_finite() && fb.is_finite()) || fa * fb > 0.0 {
        return Err(StatsError::NoConvergence { what });
    }
    if fa == 0.0 {
        return Ok(a);
    }
    if fb == 0.0 {
        return Ok(b);
    }
    let (mut c, mut fc) = (a, fa);
    let mut d = b - a;
    let mut e = d;
    for _ in 0..200 {
        if fb * fc > 0.0 {
            c = a;
            fc = fa;
            d = b - a;
            e = d;
        }
        if fc.abs() < fb.abs() {
            a = b;
            b = c;
            c = a;
            fa = fb;
            fb = fc;
            fc = fa;
        }
        let tol1 = 2.0 * f64::EPSILON * b.abs() + 0.5 * tol;
        let xm = 0.5 * (c - b);
        if xm.abs() <= tol1 || fb == 0.0 {
            return Ok(b);
        }
        if e.abs() >= tol1 && fa.abs() > fb.abs() {
            // Inverse quadratic interpolation or secant step.
            let s = fb / fa;
            let (mut p, mut q);
            if a == c {
                p = 2.0 * xm * s;
                q = 1.0 - s;
            } else {
                let qq = fa / fc;
                let r = fb / fc;
                p = s * (2.0 * xm * qq * (qq - r) - (b - a) * (r - 1.0));
                q = (qq - 1.0) * (r - 1.0) * (s - 1.0);
            }
            if p > 0.0 {
                q = -q;
            }
            p = p.abs();
            let min1 = 3.0 * xm * q - (tol1 * q).abs();
            let min2 = (e * q).abs();
            if 2.0 * p < min1.min(min2) {
                e = d;
                d = p / q;
            } else {
                d = xm;
                e = d;
            }
        } else {
            d = xm;
            e = d;
        }
        a = b;
        fa = fb;
        b += if d.abs() > tol1 { d } else { tol1.copysign(xm) };
        fb = f(b);
        if !fb.is_finite() {
            return Err(StatsError::NoConvergence { what });
        }
    }
    Err(StatsError::NoConvergence { what })
}

/// Widen `[lo, hi]` upwards (doubling the step above `lo`) until `f` changes sign, then solve.
pub(crate) fn brent_expanding<F: FnMut(f64) -> f64>(
    mut f: F,
    lo: f64,
    first_step: f64,
    tol: f64,
    what: &'static str,
) -> Result<f64, StatsError> {
    let flo = f(lo);
    let mut step = first_step;
    let mut hi = lo + step;
    let mut fhi = f(hi);
    let mut tries = 0;
    while flo * fhi > 0.0 {
        tries += 1;
        if tries > 60 || !fhi.is_finite() {
            return Err(StatsError::NoConvergence { what });
        }
        step *= 2.0;
        hi = lo + step;
        fhi = f(hi);
    }
    brent(f, lo, hi, tol, what)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn simpson_integrates_gaussian_and_polynomial() {
        let v = integrate(&|x: f64| (-x * x / 2.0).exp(), -12.0, 12.0, 8, 1e-12);
        assert!((v - (2.0 * std::f64::consts::PI).sqrt()).abs() < 1e-10, "{v}");
        let p = integrate(&|x: f64| x.powi(5), 0.0, 2.0, 1, 1e-12);
        assert!((p - 64.0 / 6.0).abs() < 1e-10, "{p}");
    }

    #[test]
    fn brent_finds_cube_root_and_rejects_unbracketed() {
        let r = brent(|x| x * x * x - 2.0, 0.0, 2.0, 1e-14, "test").unwrap();
        assert!((r - 2f64.cbrt()).abs() < 1e-12);
        assert!(brent(|x| x * x + 1.0, -1.0, 1.0, 1e-12, "test").is_err());
        let e = brent_expanding(|x| x - 100.0, 0.0, 1.0, 1e-12, "test").unwrap();
        assert!((e - 100.0).abs() < 1e-9);
    }
}

//! Helpers shared by the integration tests.
#![allow(dead_code, unused_macros)]

/// Eigenvalues of a small symmetric n×n matrix (row-major) by cyclic Jacobi
/// rotations (test oracle, independent of the library's own solvers).
pub fn eigenvalues(a: &[f64], n: usize) -> Vec<f64> {
    let mut m = a.to_vec();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * n + j].powi(2))
            .sum();
        let scale: f64 = m.iter().map(|v| v * v).sum();
        if off <= 1e-30 * scale.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (m[k * n + p], m[k * n + q]);
                    m[k * n + p] = c * akp - s * akq;
                    m[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (m[p * n + k], m[q * n + k]);
                    m[p * n + k] = c * apk - s * aqk;
                    m[q * n + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..n).map(|i| m[i * n + i]).collect()
}

/// Smallest eigenvalue of a symmetric matrix, by [`eigenvalues`].
pub fn min_eigenvalue<const N: usize>(a: &[[f64; N]; N]) -> f64 {
    eigenvalues(a.as_flattened(), N)
        .into_iter()
        .fold(f64::INFINITY, f64::min)
}

/// Largest |v|.
pub fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Largest |a − b| relative to the largest |b| (`f32` values of `a` are
/// widened exactly).
pub fn rel_err<T: ntk::Real>(a: &[T], b: &[f64]) -> f64 {
    let d = a
        .iter()
        .zip(b)
        .fold(0.0_f64, |m, (x, y)| m.max((x.to_f64() - y).abs()));
    d / max_abs(b).max(f64::MIN_POSITIVE)
}

/// Asserts |a − b| ≤ tol, naming `what` and both values when it fails.
macro_rules! assert_close {
    ($a:expr, $b:expr, $tol:expr, $what:expr $(,)?) => {{
        let (a, b, tol, what): (f64, f64, f64, &str) = ($a, $b, $tol, $what);
        assert!((a - b).abs() <= tol, "{what}: {a} vs {b} (tol {tol})");
    }};
}
#[allow(unused_imports)]
pub(crate) use assert_close;

/// Cases per property: `NTK_PROPTEST_CASES` if set (the release-mode CI step
/// raises it to 10 000), else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("NTK_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

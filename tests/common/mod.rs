//! Helpers shared by the integration tests.
#![allow(dead_code, unused_macros)]

pub mod convergence;
pub mod oracle;
pub mod reference;
pub use oracle::eigenvalues;

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

pub mod catalogue;

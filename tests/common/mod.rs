//! Helpers shared by the integration tests.
#![allow(dead_code)]

/// Smallest eigenvalue of a symmetric matrix by cyclic Jacobi (test oracle,
/// independent of the library's own solvers).
pub fn min_eigenvalue<const N: usize>(a: &[[f64; N]; N]) -> f64 {
    let mut m = a.to_vec();
    for _sweep in 0..100 {
        let mut off = 0.0;
        for i in 0..N {
            for j in 0..i {
                off += m[i][j] * m[i][j];
            }
        }
        if off < 1e-30 {
            break;
        }
        for p in 0..N {
            for q in p + 1..N {
                if m[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (m[q][q] - m[p][p]) / (2.0 * m[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..N {
                    let (mkp, mkq) = (m[k][p], m[k][q]);
                    m[k][p] = c * mkp - s * mkq;
                    m[k][q] = s * mkp + c * mkq;
                }
                for k in 0..N {
                    let (mpk, mqk) = (m[p][k], m[q][k]);
                    m[p][k] = c * mpk - s * mqk;
                    m[q][k] = s * mpk + c * mqk;
                }
            }
        }
    }
    (0..N).map(|i| m[i][i]).fold(f64::INFINITY, f64::min)
}

/// Largest |a − b| relative to the largest |b|.
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0_f64, |m, v| m.max(v.abs())).max(1e-300);
    a.iter()
        .zip(b)
        .fold(0.0_f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

/// Asserts `a ≈ b` to `tol` relative to the largest entry of `b`.
#[macro_export]
macro_rules! assert_close {
    ($a:expr, $b:expr, $tol:expr) => {{
        let (a, b): (&[f64], &[f64]) = ($a, $b);
        let e = $crate::common::rel_err(a, b);
        assert!(e <= $tol, "relative error {e:e} > {:e}", $tol);
    }};
}

/// Cases per property: `NTK_PROPTEST_CASES` if set (the release-mode CI step
/// raises it to 10 000), else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("NTK_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

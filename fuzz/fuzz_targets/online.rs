//! `OnlineGp` under arbitrary sequences of pushes, pops, clears and
//! predictions, in `f64` and `f32`, against a batch recompute.
//!
//! Points are either feature vectors under the kernel `k(a, b) = a·b + 1`
//! (consistent: positive semidefinite Gram matrices) or raw kernel rows.
//! The target keeps its own record of what was pushed and checks:
//!
//! - errors are typed and documented: `BufferTooSmall` exactly when full,
//!   `InvalidArgument` for a bad noise or popping an empty model,
//!   `NonFinite` for NaN/∞ in a row, diagonal or target,
//!   `NotPositiveDefinite { index: len }`, `Overflow`; a failed push leaves
//!   the model unchanged (bitwise), a failed pop empties it;
//! - the Gram matrix and targets held are exactly what was pushed, oldest
//!   first, with zeros beyond;
//! - every `Ok` number is finite, and a failed prediction zeroes the mean;
//! - predictions equal a batch solve of `(G + noise·I)·w = k` by Gaussian
//!   elimination in `f64` (the oracle) within a bound set by the condition
//!   number, when the values are moderate;
//! - a push of a point whose enlarged Gram matrix is clearly positive
//!   definite (the oracle's smallest pivot of a pivoted elimination far
//!   above rounding) succeeds, and a duplicate of a held point is refused
//!   when the noise is 0 and the factor was built by appends alone (each
//!   removal's rotations leave rounding of a few ε in the factor held,
//!   which for two or three points is the width of the rank tolerance
//!   `n·ε·‖K‖` itself).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ntk::predict::OnlineGp;
use ntk::{Error, Real};
use ntk_fuzz::{max_abs, Num};

const CAP: usize = 4;
const D: usize = 3;
const K: usize = 2;

#[derive(Arbitrary, Debug)]
enum Op {
    /// A point with features `x` under `k(a, b) = a·b + 1`.
    Push {
        x: [Num; D],
        y: [Num; K],
    },
    /// A copy of the held point `i mod len`, with new targets.
    Duplicate {
        i: u8,
        y: [Num; K],
    },
    /// A raw kernel row (its first `len` entries) and diagonal.
    PushRaw {
        row: [Num; CAP],
        diag: Num,
        y: [Num; K],
    },
    Pop,
    Clear,
    /// Predicts at features `x`.
    Predict {
        x: [Num; D],
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    noise: Num,
    ops: Vec<Op>,
    single: bool,
}

/// What was pushed, in `f64` (the values the library saw, converted back).
struct Held {
    /// Features, when the point came with them.
    x: Vec<Option<[f64; D]>>,
    /// Gram rows: `gram[i][j]` for `j ≤ i`.
    gram: Vec<Vec<f64>>,
    y: Vec<[f64; K]>,
}

fn kernel(a: &[f64; D], b: &[f64; D]) -> f64 {
    a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>() + 1.0
}

/// Solves `A·X = B` by Gaussian elimination with partial pivoting; returns
/// the solution and the smallest pivot magnitude.
fn solve(a: &[Vec<f64>], b: &[Vec<f64>]) -> (Vec<Vec<f64>>, f64) {
    let n = a.len();
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    let cols = b.first().map_or(0, |r| r.len());
    let mut smallest = f64::INFINITY;
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .unwrap();
        a.swap(c, p);
        b.swap(c, p);
        smallest = smallest.min(a[c][c].abs());
        for r in c + 1..n {
            let f = a[r][c] / a[c][c];
            for k in c..n {
                a[r][k] -= f * a[c][k];
            }
            for k in 0..cols {
                b[r][k] -= f * b[c][k];
            }
        }
    }
    let mut x = vec![vec![0.0; cols]; n];
    for r in (0..n).rev() {
        for k in 0..cols {
            let s: f64 = (r + 1..n).map(|j| a[r][j] * x[j][k]).sum();
            x[r][k] = (b[r][k] - s) / a[r][r];
        }
    }
    (x, smallest)
}

fn full(held: &Held, noise: f64) -> Vec<Vec<f64>> {
    let n = held.gram.len();
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| {
                    let v = if j <= i {
                        held.gram[i][j]
                    } else {
                        held.gram[j][i]
                    };
                    if i == j {
                        v + noise
                    } else {
                        v
                    }
                })
                .collect()
        })
        .collect()
}

fn run<T: Real>(input: &Input) {
    let c = |n: &Num| T::from_f64(n.get());
    let back = |v: T| v.to_f64();
    let noise = c(&input.noise);
    let noise_ok = noise.is_finite() && noise >= T::ZERO;
    let u = T::EPSILON.to_f64();
    // Moderate values: the oracle's bound holds away from overflow and underflow.
    let (lo, hi) = if u > 1e-10 {
        (1e-12, 1e12)
    } else {
        (1e-100, 1e100)
    };
    let moderate = |v: f64| v == 0.0 || (v.abs() >= lo && v.abs() <= hi);

    let mut gp = OnlineGp::<T, CAP, K>::new(noise);
    // Whether the factor held went through a removal since the last clear.
    let mut removed = false;
    let mut held = Held {
        x: Vec::new(),
        gram: Vec::new(),
        y: Vec::new(),
    };
    for op in input.ops.iter().take(32) {
        let n = held.gram.len();
        assert_eq!(gp.len(), n);
        let push = match op {
            Op::Push { x, y } => {
                let xf = x.map(|v| back(c(&v)));
                let row: Vec<T> = held
                    .x
                    .iter()
                    .zip(&held.gram)
                    .map(|(h, _)| match h {
                        Some(h) => T::from_f64(kernel(&xf, h)),
                        // A raw point has no features: an arbitrary 0.
                        None => T::ZERO,
                    })
                    .collect();
                Some((
                    Some(xf),
                    row,
                    T::from_f64(kernel(&xf, &xf)),
                    y.map(|v| c(&v)),
                ))
            }
            Op::Duplicate { i, y } if n > 0 => {
                let i = usize::from(*i) % n;
                let row: Vec<T> = (0..n)
                    .map(|j| {
                        T::from_f64(if j <= i {
                            held.gram[i][j]
                        } else {
                            held.gram[j][i]
                        })
                    })
                    .collect();
                Some((
                    held.x[i],
                    row,
                    T::from_f64(held.gram[i][i]),
                    y.map(|v| c(&v)),
                ))
            }
            Op::PushRaw { row, diag, y } => Some((
                None,
                row[..n.min(CAP)].iter().map(&c).collect(),
                c(diag),
                y.map(|v| c(&v)),
            )),
            _ => None,
        };
        if let Some((xf, row, diag, y)) = push {
            let before = gp.clone();
            let r = gp.push(&row, diag, y);
            let finite = row.iter().chain(&[diag]).chain(&y).all(|v| v.is_finite());
            match r {
                Ok(()) => {
                    assert!(noise_ok && n < CAP && finite);
                    let mut g: Vec<f64> = row.iter().map(|v| back(*v)).collect();
                    g.push(back(diag));
                    held.gram.push(g);
                    held.x.push(xf);
                    held.y.push(y.map(back));
                }
                Err(e) => {
                    // (Field by field: a NaN noise is not equal to itself.)
                    let same = |a: &OnlineGp<T, CAP, K>, b: &OnlineGp<T, CAP, K>| {
                        let bits =
                            |m: &[T]| m.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>();
                        a.len() == b.len()
                            && bits(a.gram().as_flattened()) == bits(b.gram().as_flattened())
                            && bits(a.factor().as_flattened()) == bits(b.factor().as_flattened())
                            && bits(a.targets().as_flattened()) == bits(b.targets().as_flattened())
                    };
                    assert!(
                        same(&gp, &before),
                        "a failed push ({e:?}) changed the model"
                    );
                    match e {
                        Error::InvalidArgument { .. } => assert!(!noise_ok, "{e:?}"),
                        Error::BufferTooSmall { needed, given } => {
                            assert!(noise_ok && n == CAP && needed == CAP + 1 && given == CAP)
                        }
                        Error::NonFinite { .. } => assert!(noise_ok && n < CAP && !finite),
                        Error::NotPositiveDefinite { index } => {
                            assert!(noise_ok && n < CAP && finite && index == n, "{e:?}")
                        }
                        Error::Overflow { .. } => assert!(noise_ok && n < CAP && finite),
                        _ => panic!("push: unexpected {e:?}"),
                    }
                    if noise_ok && n < CAP && finite {
                        check_refusal_is_warranted(&held, &row, diag, noise, u, &moderate, e);
                    }
                }
            }
            // A duplicate of a held point, noise 0: singular, refused.
            let plain = held.gram.iter().flatten().all(|v| moderate(*v));
            if matches!(op, Op::Duplicate { .. })
                && noise == T::ZERO
                && n < CAP
                && plain
                && finite
                && !removed
            {
                assert!(
                    matches!(
                        r,
                        Err(Error::NotPositiveDefinite { .. }) | Err(Error::Overflow { .. })
                    ),
                    "a duplicate point was accepted with noise 0: {r:?}, Gram {:?}",
                    held.gram
                );
            }
        }
        match op {
            Op::Pop => {
                removed = true;
                let r = gp.pop_oldest();
                match r {
                    Ok(()) => {
                        assert!(n > 0);
                        held.gram.remove(0);
                        for g in held.gram.iter_mut() {
                            g.remove(0);
                        }
                        held.x.remove(0);
                        held.y.remove(0);
                    }
                    Err(Error::InvalidArgument { .. }) => assert_eq!(n, 0),
                    Err(Error::Overflow { .. }) => {
                        assert!(gp.is_empty());
                        held.gram.clear();
                        held.x.clear();
                        held.y.clear();
                    }
                    Err(e) => panic!("pop: unexpected {e:?}"),
                }
            }
            Op::Clear => {
                removed = false;
                gp.clear();
                held.gram.clear();
                held.x.clear();
                held.y.clear();
            }
            Op::Predict { x } => predict(&gp, &held, x, noise, u, &moderate),
            _ => {}
        }
        // The Gram matrix and targets held, bitwise, zeros beyond.
        let n = held.gram.len();
        if n == 0 {
            removed = false;
        }
        assert_eq!(gp.len(), n);
        for i in 0..CAP {
            for j in 0..CAP {
                let want = if i < n && j < n {
                    if j <= i {
                        held.gram[i][j]
                    } else {
                        held.gram[j][i]
                    }
                } else {
                    0.0
                };
                assert_eq!(
                    back(gp.gram()[i][j]).to_bits(),
                    want.to_bits(),
                    "Gram ({i}, {j})"
                );
            }
            for k in 0..K {
                let want = if i < n { held.y[i][k] } else { 0.0 };
                assert_eq!(back(gp.targets()[i][k]).to_bits(), want.to_bits());
            }
        }
    }
}

/// A push refused as not positive definite must not be of a clearly
/// positive definite enlarged matrix (the oracle's smallest pivot far above
/// rounding, relative to the largest entry).
fn check_refusal_is_warranted<T: Real>(
    held: &Held,
    row: &[T],
    diag: T,
    noise: T,
    u: f64,
    moderate: &dyn Fn(f64) -> bool,
    e: Error,
) {
    if !matches!(e, Error::NotPositiveDefinite { .. }) {
        return;
    }
    let mut h = Held {
        x: held.x.clone(),
        gram: held.gram.clone(),
        y: held.y.clone(),
    };
    let mut g: Vec<f64> = row.iter().map(|v| v.to_f64()).collect();
    g.push(diag.to_f64());
    h.gram.push(g);
    let a = full(&h, noise.to_f64());
    let n = a.len();
    if !a.iter().flatten().all(|v| moderate(*v)) {
        return;
    }
    let top = max_abs(a.iter().flatten());
    let eye: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    let (inv, _) = solve(&a, &eye);
    // For a symmetric positive definite A, ‖A⁻¹‖₂ ≤ ‖A⁻¹‖₁, so 1/‖A⁻¹‖₁
    // bounds λ_min from below.
    let inv_norm = (0..n)
        .map(|j| inv.iter().map(|r| r[j].abs()).sum::<f64>())
        .fold(0.0, f64::max);
    let positive = (0..n).all(|i| {
        // Positive definite: every leading minor's pivot positive (the
        // oracle's unpivoted elimination).
        let sub: Vec<Vec<f64>> = a[..=i].iter().map(|r| r[..=i].to_vec()).collect();
        let mut m = sub.clone();
        for c in 0..=i {
            if m[c][c] <= 0.0 {
                return false;
            }
            for r in c + 1..=i {
                let f = m[r][c] / m[c][c];
                for k in c..=i {
                    m[r][k] -= f * m[c][k];
                }
            }
        }
        true
    });
    // The oracle's elimination overflows on a huge range of entries.
    if !(inv.iter().flatten().all(|v| v.is_finite()) && inv_norm > 0.0) {
        return;
    }
    let lambda_floor = 1.0 / inv_norm;
    assert!(
        !(positive && lambda_floor > 1e3 * (n * n) as f64 * u * top),
        "a clearly positive definite point was refused: λ_min ≥ {lambda_floor:e}, ‖A‖ {top:e}"
    );
}

fn predict<T: Real>(
    gp: &OnlineGp<T, CAP, K>,
    held: &Held,
    x: &[Num; D],
    noise: T,
    u: f64,
    moderate: &dyn Fn(f64) -> bool,
) {
    let n = held.gram.len();
    let xf = x.map(|v| T::from_f64(v.get()).to_f64());
    let row: Vec<T> = held
        .x
        .iter()
        .zip(&held.gram)
        .map(|(h, _)| match h {
            Some(h) => T::from_f64(kernel(&xf, h)),
            None => T::ZERO,
        })
        .collect();
    let diag = T::from_f64(kernel(&xf, &xf));
    let mut mean = [T::from_f64(3.0); K];
    let r = gp.predict_with_variance(&row, diag, &mut mean);
    let finite = row.iter().chain(&[diag]).all(|v| v.is_finite());
    let var = match r {
        Ok(v) => {
            assert!(finite && v.is_finite() && mean.iter().all(|m| m.is_finite()));
            v.to_f64()
        }
        Err(e) => {
            assert!(mean.iter().all(|m| *m == T::ZERO), "{e:?} left the mean");
            match e {
                Error::NonFinite { .. } => assert!(!finite),
                Error::Overflow { .. } => assert!(finite),
                _ => panic!("predict: unexpected {e:?}"),
            }
            return;
        }
    };
    if n == 0 {
        assert!(mean.iter().all(|m| *m == T::ZERO));
        assert_eq!(var, diag.to_f64());
        return;
    }
    // Batch recompute.
    let a = full(held, noise.to_f64());
    let kf: Vec<f64> = row.iter().map(|v| v.to_f64()).collect();
    let diag_f = [diag.to_f64()];
    let mut all = a
        .iter()
        .flatten()
        .chain(&kf)
        .chain(held.y.iter().flatten())
        .chain(&diag_f);
    if !all.all(|v| moderate(*v)) {
        return;
    }
    let top = max_abs(a.iter().flatten());
    let eye: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    let (inv, smallest) = solve(&a, &eye);
    if smallest == 0.0 {
        return;
    }
    let inv_norm = (0..n)
        .map(|j| inv.iter().map(|r| r[j].abs()).sum::<f64>())
        .fold(0.0, f64::max);
    if !(inv.iter().flatten().all(|v| v.is_finite()) && inv_norm > 0.0) {
        return;
    }
    let cond = top * n as f64 * inv_norm;
    if !(cond.is_finite() && cond < 1e-3 / u) {
        return;
    }
    let rhs: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let mut r = held.y[i].to_vec();
            r.push(kf[i]);
            r
        })
        .collect();
    let (w, _) = solve(&a, &rhs);
    let kmax = max_abs(&kf);
    let ymax = max_abs(held.y.iter().flatten());
    for k in 0..K {
        let want: f64 = (0..n).map(|i| kf[i] * w[i][k]).sum();
        let tol =
            64.0 * (n * n) as f64 * u * cond * (kmax * inv_norm * ymax * n as f64 + want.abs())
                + 1e-300;
        let got = mean[k].to_f64();
        assert!(
            (got - want).abs() <= tol,
            "mean {k}: {got:e} vs {want:e} (tol {tol:e})"
        );
    }
    let want_var = diag.to_f64() - (0..n).map(|i| kf[i] * w[i][K]).sum::<f64>();
    let tol = 64.0
        * (n * n) as f64
        * u
        * cond
        * (kmax * kmax * inv_norm * n as f64 + diag.to_f64().abs())
        + 1e-300;
    assert!(
        (var - want_var).abs() <= tol,
        "variance {var:e} vs {want_var:e} (tol {tol:e})"
    );
}

fuzz_target!(|input: Input| {
    if input.single {
        run::<f32>(&input);
    } else {
        run::<f64>(&input);
    }
});

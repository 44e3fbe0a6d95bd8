//! An oracle for the NNGP and NTK of convolutional architectures (the CNTK),
//! written from the recursion's definition in plain `f64`, independently of
//! the library's `analytic` module: per pair of inputs it keeps the
//! position-pair tables Σ_aa, Σ_bb, Σ_ab and Θ_ab as vectors and applies
//!
//! - inputs: Σ⁰[s, s′] = Σ_c x[s, c]·x′[s′, c]/C, Θ⁰ = 0;
//! - `dense(w, b)` per position: Σ ← w²Σ + b², Θ ← Σ + w²Θ;
//! - `conv(Q, w, b)`: with A(M)[s, s′] = Q⁻ᵏ·Σ_δ M[s+δ, s′+δ] over the Q
//!   (k = 1, sequences) or Q² (k = 2, images) filter offsets δ, the terms
//!   outside the grid dropped (`SAME`) or wrapped (`CIRCULAR`):
//!   Σ ← w²A(Σ) + b², Θ ← Σ + w²A(Θ);
//! - `avg_pool(P)`: the mean over the window pairs (P or P×P positions);
//! - `gap`: the mean over all position pairs; `flatten`: the mean over the
//!   diagonal s = s′; both leave one flat entry;
//! - nonlinearities entry by entry with the variances q_a[s] = Σ_aa[s, s],
//!   q_b[s′] = Σ_bb[s′, s′]: the piecewise-linear φ(u) = a·u (u < 0), b·u
//!   (u ≥ 0), which covers ReLU, leaky ReLU, abs and the identity, by the
//!   arc-cosine kernels, and erf by its arcsine kernel.
//!
//! No clamping subtleties beyond ρ ∈ [−1, 1] and ρ = 0 for a zero variance:
//! the oracle is meant for moderate architectures and inputs, where the
//! library and it agree to rounding.

use ntk::analytic::{Layer, Shape};

/// One step of the recursion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    /// Affine layer acting per position, NTK parameterization.
    Dense {
        /// σw.
        w: f64,
        /// σb.
        b: f64,
    },
    /// Convolution with an odd filter width `q`.
    Conv {
        /// Filter width Q.
        q: usize,
        /// σw.
        w: f64,
        /// σb.
        b: f64,
        /// Periodic padding instead of zeros.
        circular: bool,
    },
    /// Average pooling with window and stride `P`.
    AvgPool(usize),
    /// Global average pooling.
    Gap,
    /// Flatten.
    Flatten,
    /// φ(u) = a·u for u < 0, b·u for u ≥ 0.
    Piecewise {
        /// Slope for negative arguments.
        a: f64,
        /// Slope for positive arguments.
        b: f64,
    },
    /// erf.
    Erf,
}

/// The oracle's step for a library layer, or `None` for layers it does not
/// cover (GELU, sin, tanh, custom activations, standard-parameterized dense).
pub fn op(l: &Layer<f64>) -> Option<Op> {
    Some(match *l {
        Layer::Dense {
            weight_std,
            bias_std,
        } => Op::Dense {
            w: weight_std,
            b: bias_std,
        },
        Layer::Conv {
            size,
            weight_std,
            bias_std,
            circular,
        } => Op::Conv {
            q: size as usize,
            w: weight_std,
            b: bias_std,
            circular,
        },
        Layer::AvgPool { size } => Op::AvgPool(size as usize),
        Layer::GlobalAvgPool => Op::Gap,
        Layer::Flatten => Op::Flatten,
        Layer::Relu => Op::Piecewise { a: 0.0, b: 1.0 },
        Layer::LeakyRelu { alpha } => Op::Piecewise { a: alpha, b: 1.0 },
        Layer::Abs => Op::Piecewise { a: -1.0, b: 1.0 },
        Layer::AbRelu { a, b } => Op::Piecewise { a, b },
        Layer::Identity => Op::Piecewise { a: 1.0, b: 1.0 },
        Layer::Erf => Op::Erf,
        _ => return None,
    })
}

/// The oracle's steps for a list of library layers, if it covers them all.
pub fn ops(layers: &[Layer<f64>]) -> Option<Vec<Op>> {
    layers.iter().map(op).collect()
}

/// Positions as a grid: `rows × cols`, with 2-D filters and windows if
/// `planar`; `flat` once `gap` or `flatten` has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Grid {
    rows: usize,
    cols: usize,
    planar: bool,
    flat: bool,
}

impl Grid {
    fn positions(&self) -> usize {
        self.rows * self.cols
    }
}

/// The grid and channels of an input shape.
fn grid(shape: Shape) -> Option<(Grid, usize)> {
    let (rows, cols, channels, planar, flat) = match shape {
        Shape::Flat { dim } => (1, 1, dim, false, true),
        Shape::Sequence { length, channels } => (1, length, channels, false, false),
        Shape::Image {
            height,
            width,
            channels,
        } => (height, width, channels, true, false),
        _ => return None,
    };
    (rows > 0 && cols > 0 && channels > 0).then_some((
        Grid {
            rows,
            cols,
            planar,
            flat,
        },
        channels,
    ))
}

/// The four tables of a pair of inputs.
struct Tables {
    aa: Vec<f64>,
    bb: Vec<f64>,
    ab: Vec<f64>,
    tab: Vec<f64>,
}

/// Position `i + d` along an axis of `n` positions, wrapped or dropped.
fn shift(i: usize, d: isize, n: usize, circular: bool) -> Option<usize> {
    let j = i as isize + d;
    if circular {
        Some(j.rem_euclid(n as isize) as usize)
    } else {
        (0..n as isize).contains(&j).then_some(j as usize)
    }
}

/// A(M) of a convolution of width `q` on grid `g`.
fn conv_average(m: &[f64], g: Grid, q: usize, circular: bool) -> Vec<f64> {
    let p = g.positions();
    let h = (q / 2) as isize;
    let row_offsets: Vec<isize> = if g.planar {
        (-h..=h).collect()
    } else {
        vec![0]
    };
    let taps = (row_offsets.len() * q) as f64;
    let mut out = vec![0.0; p * p];
    for s in 0..p {
        let (r, c) = (s / g.cols, s % g.cols);
        for t in 0..p {
            let (r2, c2) = (t / g.cols, t % g.cols);
            let mut sum = 0.0;
            for &dr in &row_offsets {
                for dc in -h..=h {
                    let a = shift(r, dr, g.rows, circular)
                        .zip(shift(c, dc, g.cols, circular))
                        .map(|(x, y)| x * g.cols + y);
                    let b = shift(r2, dr, g.rows, circular)
                        .zip(shift(c2, dc, g.cols, circular))
                        .map(|(x, y)| x * g.cols + y);
                    if let (Some(a), Some(b)) = (a, b) {
                        sum += m[a * p + b];
                    }
                }
            }
            out[s * p + t] = sum / taps;
        }
    }
    out
}

/// The mean of `m` over the window pairs of an average pooling of size `k`.
fn pool(m: &[f64], g: Grid, k: usize, next: Grid) -> Vec<f64> {
    let p = g.positions();
    let np = next.positions();
    let rk = if g.planar { k } else { 1 };
    let window = |s: usize| {
        let (r, c) = (s / next.cols, s % next.cols);
        (0..rk).flat_map(move |u| (0..k).map(move |v| (r * rk + u) * g.cols + c * k + v))
    };
    let size = (rk * k) as f64;
    let mut out = vec![0.0; np * np];
    for s in 0..np {
        for t in 0..np {
            let sum: f64 = window(s)
                .flat_map(|a| window(t).map(move |b| m[a * p + b]))
                .sum();
            out[s * np + t] = sum / (size * size);
        }
    }
    out
}

/// Σ′ and E[φ′(u)φ′(v)] of φ for (u, v) ~ N(0, [[q1, k], [k, q2]]).
fn dual(op: Op, q1: f64, k: f64, q2: f64) -> (f64, f64) {
    use std::f64::consts::PI;
    match op {
        Op::Piecewise { a, b } => {
            let norm = q1.sqrt() * q2.sqrt();
            let rho = if norm > 0.0 {
                (k / norm).clamp(-1.0, 1.0)
            } else {
                0.0
            };
            let angle = rho.acos();
            let sin = (1.0 - rho * rho).max(0.0).sqrt();
            // E[relu(u)relu(v)] and E[relu(u)relu(−v)], per unit variance.
            let same = (sin + (PI - angle) * rho) / (2.0 * PI);
            let opposite = (sin - angle * rho) / (2.0 * PI);
            let sigma = norm * ((a * a + b * b) * same - 2.0 * a * b * opposite);
            let deriv = ((a * a + b * b) * (PI - angle) + 2.0 * a * b * angle) / (2.0 * PI);
            (sigma, deriv)
        }
        Op::Erf => {
            let (d1, d2) = (1.0 + 2.0 * q1, 1.0 + 2.0 * q2);
            let r = (2.0 * k / (d1.sqrt() * d2.sqrt())).clamp(-1.0, 1.0);
            let sigma = 2.0 / PI * r.asin();
            let deriv = 4.0 / PI / (d1 * d2 - 4.0 * k * k).max(0.0).sqrt();
            (sigma, deriv)
        }
        _ => unreachable!("not a nonlinearity"),
    }
}

/// NNGP and NTK of one pair of inputs `xa`, `xb` of `shape` (each
/// `positions × channels` numbers, channels innermost); `None` if the
/// architecture does not fit the shape (a pooling window that does not
/// divide the grid, a spatial layer on flat data, an even filter, or an
/// architecture that does not end flat).
pub fn kernel(ops: &[Op], shape: Shape, xa: &[f64], xb: &[f64]) -> Option<(f64, f64)> {
    let (mut g, channels) = grid(shape)?;
    let p = g.positions();
    if xa.len() != p * channels || xb.len() != p * channels {
        return None;
    }
    let dot = |u: &[f64], s: usize, v: &[f64], t: usize| -> f64 {
        (0..channels)
            .map(|c| u[s * channels + c] * v[t * channels + c])
            .sum::<f64>()
            / channels as f64
    };
    let table = |u: &[f64], v: &[f64]| -> Vec<f64> {
        (0..p * p).map(|e| dot(u, e / p, v, e % p)).collect()
    };
    let mut t = Tables {
        aa: table(xa, xa),
        bb: table(xb, xb),
        ab: table(xa, xb),
        tab: vec![0.0; p * p],
    };
    for &op in ops {
        let p = g.positions();
        match op {
            Op::Dense { w, b } => {
                for m in [&mut t.aa, &mut t.bb, &mut t.ab] {
                    m.iter_mut().for_each(|v| *v = w * w * *v + b * b);
                }
                for (th, s) in t.tab.iter_mut().zip(&t.ab) {
                    *th = s + w * w * *th;
                }
            }
            Op::Conv { q, w, b, circular } => {
                if g.flat || q % 2 == 0 {
                    return None;
                }
                for m in [&mut t.aa, &mut t.bb, &mut t.ab] {
                    *m = conv_average(m, g, q, circular)
                        .into_iter()
                        .map(|v| w * w * v + b * b)
                        .collect();
                }
                let avg = conv_average(&t.tab, g, q, circular);
                t.tab = t.ab.iter().zip(avg).map(|(s, a)| s + w * w * a).collect();
            }
            Op::AvgPool(k) => {
                let rk = if g.planar { k } else { 1 };
                if g.flat || k == 0 || !g.cols.is_multiple_of(k) || !g.rows.is_multiple_of(rk) {
                    return None;
                }
                let next = Grid {
                    rows: g.rows / rk,
                    cols: g.cols / k,
                    ..g
                };
                for m in [&mut t.aa, &mut t.bb, &mut t.ab, &mut t.tab] {
                    *m = pool(m, g, k, next);
                }
                g = next;
            }
            Op::Gap | Op::Flatten => {
                if g.flat {
                    return None;
                }
                for m in [&mut t.aa, &mut t.bb, &mut t.ab, &mut t.tab] {
                    let v = if op == Op::Gap {
                        m.iter().sum::<f64>() / (p * p) as f64
                    } else {
                        (0..p).map(|s| m[s * p + s]).sum::<f64>() / p as f64
                    };
                    *m = vec![v];
                }
                g = Grid {
                    rows: 1,
                    cols: 1,
                    planar: false,
                    flat: true,
                };
            }
            Op::Piecewise { .. } | Op::Erf => {
                let qa: Vec<f64> = (0..p).map(|s| t.aa[s * p + s]).collect();
                let qb: Vec<f64> = (0..p).map(|s| t.bb[s * p + s]).collect();
                for e in 0..p * p {
                    let (s, u) = (e / p, e % p);
                    let (sab, d) = dual(op, qa[s], t.ab[e], qb[u]);
                    t.ab[e] = sab;
                    t.tab[e] *= d;
                    t.aa[e] = dual(op, qa[s], t.aa[e], qa[u]).0;
                    t.bb[e] = dual(op, qb[s], t.bb[e], qb[u]).0;
                }
            }
        }
    }
    g.flat.then(|| (t.ab[0], t.tab[0]))
}

/// NNGP and NTK between the `m` inputs `x1` and the `n` inputs `x2` of
/// `shape`, row-major `m × n`; `None` as [`kernel`].
pub fn cross(ops: &[Op], shape: Shape, x1: &[f64], x2: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {
    let (g, channels) = grid(shape)?;
    let d = g.positions() * channels;
    if !x1.len().is_multiple_of(d) || !x2.len().is_multiple_of(d) {
        return None;
    }
    let (mut k, mut t) = (Vec::new(), Vec::new());
    for a in x1.chunks(d) {
        for b in x2.chunks(d) {
            let (s, th) = kernel(ops, shape, a, b)?;
            k.push(s);
            t.push(th);
        }
    }
    Some((k, t))
}

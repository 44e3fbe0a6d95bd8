//! An oracle for the NNGP and NTK of structured architectures (sequences and
//! images: the CNTK, self-attention, layer norm, residual blocks; flat inputs
//! too), written from the recursion's definition in `reference/FORMAT.md`
//! (version 2) in plain `f64`, independently of the library's `analytic`
//! module: per pair of inputs it keeps the full position-pair tables Σ_aa,
//! Σ_bb, Σ_ab and Θ_ab as vectors (no bands, no error bounds) and applies
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
//!   arc-cosine kernels, erf by its arcsine kernel, sin by
//!   E[sin u sin v] = e^{−(q_a+q_b)/2}·sinh Σ_ab, E[cos u cos v] = e^{−(q_a+q_b)/2}·cosh Σ_ab;
//! - `attn(WQ,WK,WV,WO)`: per input, G_a[s, s′] = softmax over s′ of
//!   WQ·WK·Σ_aa[s, s′] (`attn_id`: G_a = WQ·WK·Σ_aa), then
//!   Σ_ab ← (WV·WO)²·G_a Σ_ab G_bᵀ, Θ_ab ← (WV·WO)²·G_a Θ_ab G_bᵀ + 2Σ_ab(new);
//! - `layernorm`: Σ_ab[s, s′] and Θ_ab[s, s′] divided by
//!   √((q_a[s] + ε)(q_b[s′] + ε)), ε = 10⁻¹²;
//! - a residual block `[ … ]`: the block's output tables added to its input
//!   tables.
//!
//! [`parse`] reads the text form (exactly the tokens of the format), and
//! [`check`] applies the format's validity rules (balanced brackets and the
//! Gaussianity rules of neural-tangents); [`kernel`] and [`cross`] compute
//! whatever fits the shape, valid or not, so that they also serve
//! architectures that those rules would refuse. [`cross_perturbed`]
//! repeats the computation with every table entry perturbed by a relative
//! amount after every step, an estimate of how far rounding can move the
//! kernels.
//!
//! No clamping subtleties beyond ρ ∈ [−1, 1], ρ = 0 for a zero variance and
//! a variance that rounding leaves below 0 taken as 0:
//! the oracle is meant for moderate architectures and inputs, where the
//! library and it agree to rounding.

use ntk::analytic::{Layer, Shape};

/// The ε of `layernorm` (neural-tangents' `LayerNorm(eps=1e-12)`).
pub const LAYERNORM_EPS: f64 = 1e-12;

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
    /// sin.
    Sin,
    /// Global self-attention (`attn`, `attn_id`): only the products WQ·WK
    /// and WV·WO enter.
    Attention {
        /// WQ·WK, the scale of the logits (or of the raw weights).
        qk: f64,
        /// WV·WO.
        vo: f64,
        /// Softmax weights (`attn`) rather than raw ones (`attn_id`).
        softmax: bool,
    },
    /// Layer norm over the channels of each position.
    LayerNorm,
    /// `[`: the start of a residual block.
    Open,
    /// `]`: the end of a residual block, whose output is added to its input.
    Close,
}

/// The oracle's step for a library layer, or `None` for layers it does not
/// cover (GELU, tanh, custom activations, standard-parameterized dense,
/// recurrent layers).
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
        Layer::Sin => Op::Sin,
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
    // A variance that cancels to a rounding error below 0 is 0.
    let (q1, q2) = (q1.max(0.0), q2.max(0.0));
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
        Op::Sin => {
            // E[sin u sin v] = (E[cos(u − v)] − E[cos(u + v)])/2 and
            // E[cos u cos v] = (E[cos(u − v)] + E[cos(u + v)])/2, with
            // E[cos w] = e^{−var(w)/2}.
            let minus = (-(q1 + q2 - 2.0 * k) / 2.0).exp();
            let plus = (-(q1 + q2 + 2.0 * k) / 2.0).exp();
            ((minus - plus) / 2.0, (minus + plus) / 2.0)
        }
        _ => unreachable!("not a nonlinearity"),
    }
}

/// The attention weights G[s, s′] of one input from its own table `m`
/// (`p × p`): the softmax over s′ of `qk·m[s, s′]`, or `qk·m` itself.
fn attention_weights(m: &[f64], p: usize, qk: f64, softmax: bool) -> Vec<f64> {
    let mut g: Vec<f64> = m.iter().map(|v| qk * v).collect();
    if softmax {
        for row in g.chunks_mut(p) {
            let top = row.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            row.iter_mut().for_each(|v| *v = (*v - top).exp());
            let sum: f64 = row.iter().sum();
            row.iter_mut().for_each(|v| *v /= sum);
        }
    }
    g
}

/// `c·G1 M G2ᵀ` for `p × p` matrices.
fn sandwich(g1: &[f64], m: &[f64], g2: &[f64], p: usize, c: f64) -> Vec<f64> {
    // h[u, t] = Σ_v m[u, v]·g2[t, v]
    let mut h = vec![0.0; p * p];
    for u in 0..p {
        for t in 0..p {
            h[u * p + t] = (0..p).map(|v| m[u * p + v] * g2[t * p + v]).sum();
        }
    }
    let mut out = vec![0.0; p * p];
    for s in 0..p {
        for t in 0..p {
            out[s * p + t] = c * (0..p).map(|u| g1[s * p + u] * h[u * p + t]).sum::<f64>();
        }
    }
    out
}

/// A relative perturbation of every table entry after every step: entries
/// are multiplied by 1 + `delta`·r with r ∈ [−1, 1] drawn from `seed`, the
/// step and the entry (the same r for [s, s′] and [s′, s] of a table of one
/// input, which stays symmetric).
#[derive(Debug, Clone, Copy)]
struct Perturbation {
    delta: f64,
    seed: u64,
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Perturbation {
    fn apply(&self, t: &mut Tables, p: usize, step: u64) {
        let r = |table: u64, e: u64| -> f64 {
            let h = mix(self.seed ^ mix(step ^ mix(table ^ mix(e))));
            (h >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        };
        let symmetric = |e: usize| {
            let (s, u) = (e / p, e % p);
            (s.min(u) * p + s.max(u)) as u64
        };
        for (id, m) in [(1, &mut t.aa), (2, &mut t.bb)] {
            for (e, v) in m.iter_mut().enumerate() {
                *v *= 1.0 + self.delta * r(id, symmetric(e));
            }
        }
        for (id, m) in [(3, &mut t.ab), (4, &mut t.tab)] {
            for (e, v) in m.iter_mut().enumerate() {
                *v *= 1.0 + self.delta * r(id, e as u64);
            }
        }
    }
}

/// NNGP and NTK of one pair of inputs `xa`, `xb` of `shape` (each
/// `positions × channels` numbers, channels innermost); `None` if the
/// architecture does not fit the shape (a pooling window that does not
/// divide the grid, a spatial layer — convolution, pooling, `gap`,
/// `flatten`, attention — on flat data, an even filter, unbalanced brackets,
/// a residual block whose body changes the grid, or an architecture that
/// does not end flat). The validity rules of [`check`] are not applied.
pub fn kernel(ops: &[Op], shape: Shape, xa: &[f64], xb: &[f64]) -> Option<(f64, f64)> {
    kernel_with(ops, shape, xa, xb, None)
}

fn kernel_with(
    ops: &[Op],
    shape: Shape,
    xa: &[f64],
    xb: &[f64],
    perturb: Option<Perturbation>,
) -> Option<(f64, f64)> {
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
    if let Some(pert) = perturb {
        pert.apply(&mut t, p, 0);
    }
    // The tables and grid at the start of each open residual block.
    let mut saved: Vec<(Tables, Grid)> = Vec::new();
    for (step, &op) in ops.iter().enumerate() {
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
            Op::Piecewise { .. } | Op::Erf | Op::Sin => {
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
            Op::Attention { qk, vo, softmax } => {
                if g.flat {
                    return None;
                }
                let ga = attention_weights(&t.aa, p, qk, softmax);
                let gb = attention_weights(&t.bb, p, qk, softmax);
                let c = vo * vo;
                t.aa = sandwich(&ga, &t.aa, &ga, p, c);
                t.bb = sandwich(&gb, &t.bb, &gb, p, c);
                t.ab = sandwich(&ga, &t.ab, &gb, p, c);
                t.tab = sandwich(&ga, &t.tab, &gb, p, c)
                    .into_iter()
                    .zip(&t.ab)
                    .map(|(th, s)| th + 2.0 * s)
                    .collect();
            }
            Op::LayerNorm => {
                let norm = |q: f64| q.max(0.0) + LAYERNORM_EPS;
                let qa: Vec<f64> = (0..p).map(|s| norm(t.aa[s * p + s])).collect();
                let qb: Vec<f64> = (0..p).map(|s| norm(t.bb[s * p + s])).collect();
                for e in 0..p * p {
                    let (s, u) = (e / p, e % p);
                    t.aa[e] /= (qa[s] * qa[u]).sqrt();
                    t.bb[e] /= (qb[s] * qb[u]).sqrt();
                    let r = (qa[s] * qb[u]).sqrt();
                    t.ab[e] /= r;
                    t.tab[e] /= r;
                }
            }
            Op::Open => saved.push((
                Tables {
                    aa: t.aa.clone(),
                    bb: t.bb.clone(),
                    ab: t.ab.clone(),
                    tab: t.tab.clone(),
                },
                g,
            )),
            Op::Close => {
                let (skip, at) = saved.pop()?;
                if at != g {
                    return None;
                }
                for (m, s) in [
                    (&mut t.aa, &skip.aa),
                    (&mut t.bb, &skip.bb),
                    (&mut t.ab, &skip.ab),
                    (&mut t.tab, &skip.tab),
                ] {
                    m.iter_mut().zip(s).for_each(|(v, w)| *v += w);
                }
            }
        }
        if let Some(pert) = perturb {
            pert.apply(&mut t, g.positions(), step as u64 + 1);
        }
    }
    (g.flat && saved.is_empty()).then(|| (t.ab[0], t.tab[0]))
}

/// NNGP and NTK between the `m` inputs `x1` and the `n` inputs `x2` of
/// `shape`, row-major `m × n`; `None` as [`kernel`].
pub fn cross(ops: &[Op], shape: Shape, x1: &[f64], x2: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {
    cross_with(ops, shape, x1, x2, None)
}

/// [`cross`] with every table entry multiplied by 1 + `delta`·r after
/// every step (and at the start), r ∈ [−1, 1] pseudo-random from `seed`:
/// relative perturbations of the size of rounding errors show how far
/// rounding can move the kernels of a given architecture and inputs (a
/// cancellation before a layer norm, a variance that attention nearly
/// cancels, a correlation at a kink).
pub fn cross_perturbed(
    ops: &[Op],
    shape: Shape,
    x1: &[f64],
    x2: &[f64],
    delta: f64,
    seed: u64,
) -> Option<(Vec<f64>, Vec<f64>)> {
    cross_with(ops, shape, x1, x2, Some(Perturbation { delta, seed }))
}

fn cross_with(
    ops: &[Op],
    shape: Shape,
    x1: &[f64],
    x2: &[f64],
    perturb: Option<Perturbation>,
) -> Option<(Vec<f64>, Vec<f64>)> {
    let (g, channels) = grid(shape)?;
    let d = g.positions() * channels;
    if !x1.len().is_multiple_of(d) || !x2.len().is_multiple_of(d) {
        return None;
    }
    let (mut k, mut t) = (Vec::new(), Vec::new());
    for (i, a) in x1.chunks(d).enumerate() {
        for (j, b) in x2.chunks(d).enumerate() {
            // Each pair its own perturbation.
            let perturb = perturb.map(|p| Perturbation {
                seed: mix(p.seed ^ mix((i as u64) << 32 | j as u64)),
                ..p
            });
            let (s, th) = kernel_with(ops, shape, a, b, perturb)?;
            k.push(s);
            t.push(th);
        }
    }
    Some((k, t))
}

/// The diagonal scale of entry (i, j) of an `n × n` kernel matrix `m`:
/// √|m_ii|·√|m_jj| + |m_ij|, the scale that kernel errors are measured in.
pub fn diagonal_scale(m: &[f64], n: usize, i: usize, j: usize) -> f64 {
    m[i * n + i].abs().sqrt() * m[j * n + j].abs().sqrt() + m[i * n + j].abs()
}

/// How far relative perturbations of `delta` after every step move the
/// Gram matrices of the inputs `x` (NNGP and NTK), in units of each entry's
/// [`diagonal_scale`]: the largest move over a few perturbations. `None`
/// as [`kernel`]; ∞ if a perturbed result is not finite.
pub fn sensitivity(ops: &[Op], shape: Shape, x: &[f64], delta: f64) -> Option<f64> {
    let (k, t) = cross(ops, shape, x, x)?;
    let n = (k.len() as f64).sqrt().round() as usize;
    let mut worst = 0.0_f64;
    for seed in 1..=3 {
        let (kp, tp) = cross_perturbed(ops, shape, x, x, delta, seed)?;
        for (m, mp) in [(&k, &kp), (&t, &tp)] {
            for i in 0..n {
                for j in 0..n {
                    let moved = (mp[i * n + j] - m[i * n + j]).abs();
                    let d = if moved == 0.0 {
                        0.0
                    } else {
                        moved / diagonal_scale(m, n, i, j)
                    };
                    worst = if d.is_nan() {
                        f64::INFINITY
                    } else {
                        worst.max(d)
                    };
                }
            }
        }
    }
    Some(worst)
}

/// The arguments of `token` if it reads `name(a,b,…)` with `count`
/// arguments.
fn arguments<'t>(token: &'t str, name: &str, count: usize) -> Option<Vec<&'t str>> {
    let inner = token
        .strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')?;
    let args: Vec<&str> = inner.split(',').collect();
    (args.len() == count).then_some(args)
}

/// A finite number.
fn number(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("not a finite number: {s:?}")),
    }
}

/// A positive integer.
fn count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(format!("not a positive integer: {s:?}")),
    }
}

/// The steps of an architecture in the text form of `reference/FORMAT.md`
/// (layers separated by spaces: `dense(W,B)`, `relu`, `leaky_relu(A)`,
/// `abs`, `erf`, `sin`, `identity`, `conv(Q,W,B)`, `conv_circ(Q,W,B)`,
/// `avg_pool(P)`, `gap`, `flatten`, `attn(WQ,WK,WV,WO)`,
/// `attn_id(WQ,WK,WV,WO)`, `layernorm`, `[` and `]`). An error names the
/// token for an unknown or malformed layer (and for `gelu`, which the
/// oracle does not cover), a number that is not finite, an even or zero
/// filter width, a zero window, unbalanced brackets or an empty text.
pub fn parse(text: &str) -> Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    let mut depth = 0usize;
    for token in text.split_whitespace() {
        let op = if let Some(a) = arguments(token, "dense", 2) {
            Op::Dense {
                w: number(a[0])?,
                b: number(a[1])?,
            }
        } else if let Some(a) = arguments(token, "leaky_relu", 1) {
            Op::Piecewise {
                a: number(a[0])?,
                b: 1.0,
            }
        } else if let Some((a, circular)) = arguments(token, "conv", 3)
            .map(|a| (a, false))
            .or_else(|| arguments(token, "conv_circ", 3).map(|a| (a, true)))
        {
            let q = count(a[0])?;
            if q % 2 == 0 {
                return Err(format!("{token}: even filter width"));
            }
            Op::Conv {
                q,
                w: number(a[1])?,
                b: number(a[2])?,
                circular,
            }
        } else if let Some(a) = arguments(token, "avg_pool", 1) {
            Op::AvgPool(count(a[0])?)
        } else if let Some((a, softmax)) = arguments(token, "attn", 4)
            .map(|a| (a, true))
            .or_else(|| arguments(token, "attn_id", 4).map(|a| (a, false)))
        {
            let v: Vec<f64> = a.iter().map(|s| number(s)).collect::<Result<_, _>>()?;
            Op::Attention {
                qk: v[0] * v[1],
                vo: v[2] * v[3],
                softmax,
            }
        } else {
            match token {
                "relu" => Op::Piecewise { a: 0.0, b: 1.0 },
                "abs" => Op::Piecewise { a: -1.0, b: 1.0 },
                "identity" => Op::Piecewise { a: 1.0, b: 1.0 },
                "erf" => Op::Erf,
                "sin" => Op::Sin,
                "gap" => Op::Gap,
                "flatten" => Op::Flatten,
                "layernorm" => Op::LayerNorm,
                "[" => {
                    depth += 1;
                    Op::Open
                }
                "]" => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| "`]` without `[`".to_string())?;
                    Op::Close
                }
                _ => return Err(format!("unknown or malformed layer {token:?}")),
            }
        };
        ops.push(op);
    }
    if ops.is_empty() {
        return Err("no layer".into());
    }
    if depth > 0 {
        return Err(format!("{depth} unclosed `[`"));
    }
    Ok(ops)
}

/// The validity rules of the format (neural-tangents' Gaussianity rules):
/// the stream is Gaussian after `dense`, `conv`, `conv_circ`, attention and
/// a residual block; the identity, `avg_pool`, `gap` and `layernorm` keep
/// the flag; the other nonlinearities and `flatten` clear it; raw inputs
/// are not Gaussian. A nonlinearity other than the identity and `layernorm`
/// need a Gaussian input; a residual block needs a Gaussian input and a
/// body that ends Gaussian. Brackets must balance. Whether the
/// architecture fits a shape is [`kernel`]'s business.
pub fn check(ops: &[Op]) -> Result<(), String> {
    let mut gaussian = false;
    // The flag at the start of each open block.
    let mut blocks = Vec::new();
    for (i, &op) in ops.iter().enumerate() {
        match op {
            Op::Dense { .. } | Op::Conv { .. } | Op::Attention { .. } => gaussian = true,
            Op::Piecewise { a, b } if a == 1.0 && b == 1.0 => {}
            Op::AvgPool(_) | Op::Gap => {}
            Op::Flatten => gaussian = false,
            Op::Piecewise { .. } | Op::Erf | Op::Sin | Op::LayerNorm => {
                if !gaussian {
                    return Err(format!("step {i} ({op:?}) needs a Gaussian input"));
                }
                if op != Op::LayerNorm {
                    gaussian = false;
                }
            }
            Op::Open => {
                if !gaussian {
                    return Err(format!(
                        "the residual block at step {i} needs a Gaussian input"
                    ));
                }
                blocks.push(i);
            }
            Op::Close => {
                let open = blocks
                    .pop()
                    .ok_or_else(|| format!("step {i}: `]` without `[`"))?;
                if !gaussian {
                    return Err(format!(
                        "the residual block of steps {open}..={i} does not end Gaussian"
                    ));
                }
            }
        }
    }
    match blocks.last() {
        Some(open) => Err(format!("the residual block at step {open} is not closed")),
        None => Ok(()),
    }
}

/// The NNGP and NTK Gram matrices (row-major N × N) of the inputs `x` of
/// `shape` under the architecture `text`: [`parse`], [`check`], then
/// [`cross`]. An error says why the architecture is refused.
pub fn gram(text: &str, shape: Shape, x: &[f64]) -> Result<(Vec<f64>, Vec<f64>), String> {
    let ops = parse(text)?;
    check(&ops)?;
    cross(&ops, shape, x, x).ok_or_else(|| format!("{text}: does not fit {shape:?}"))
}

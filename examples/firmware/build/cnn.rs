//! The CNN program's references: the problem of `src/bin/cnn/problem.rs`,
//! solved on the host in plain `f64` by the code of this file, which shares
//! nothing with the library code the device runs but the network's
//! parameters (drawn by the library's generator from the problem's seed):
//!
//! - the empirical NTK as the dot product of explicit parameter gradients of
//!   the written-out network `f(x) = ws₂·v·relu(conv(x)) + bs₂·c`;
//! - the flatten-readout CNTK by the recursion over the position diagonal:
//!   Σ⁰[s] = x[s]·x′[s]/C, conv Σ¹[s] = σw²/Q·Σ_δ Σ⁰[s+δ] + σb² (zero
//!   padding drops the terms outside), Θ¹ = Σ¹, ReLU by the arc-cosine
//!   kernels, flatten the mean over s, dense Σ ← σw²Σ + σb², Θ ← Σ + σw²Θ;
//! - kernel regression by a Cholesky factorisation written here.

use std::fmt::Write as _;

use super::vector;

#[path = "../src/bin/cnn/problem.rs"]
mod problem;

use problem::{Cnn, Window, BIAS_STD, C, CH, D, FLAT, L, N_TEST, N_TRAIN, PACKED, Q, WEIGHT_STD};

/// Smallest |pre-activation| of a convolution output, relative to the
/// largest one, that the problem must keep: f32 moves a pre-activation by
/// about 10⁻⁶ of that scale, and `micromath`'s approximate draws the weights
/// by about 10⁻⁵, so no ReLU can switch sides between the device and the
/// host and the comparison measures rounding only.
const MIN_KINK_MARGIN: f64 = 1e-4;

/// Largest condition number (1-norm, an upper bound of the 2-norm one) of a
/// regularised train kernel that the prediction tolerance of
/// `src/bin/cnn/main.rs` is designed for.
const MAX_CONDITION: f64 = 1e3;

/// Parameters of the network, `f(x) = ws₂·Σ_j v[j]·h[j] + bs₂·c` (the
/// readout bias `c` enters the kernel only through its gradient bs₂) with
/// `h = relu(z)` flattened position-major and
/// `z[p][o] = ws₁·Σ_{δ,a} w[o][δ][a]·x[p+δ−1][a] + bs₁·b[o]`.
struct Net {
    w: [[[f64; C]; Q]; CH],
    b: [f64; CH],
    v: [f64; FLAT],
    ws1: f64,
    bs1: f64,
    ws2: f64,
    bs2: f64,
}

/// Number of parameters: the filters, their biases, the readout and its bias.
const P: usize = CH * Q * C + CH + FLAT + 1;

impl Net {
    /// Pre-activations `z[p][o]` of a window.
    fn pre(&self, x: &[f64; D]) -> [[f64; CH]; L] {
        let mut z = [[0.0; CH]; L];
        for p in 0..L {
            for o in 0..CH {
                let mut acc = 0.0;
                for d in 0..Q {
                    // Tap d reads position p + d − (Q − 1)/2, zeros outside.
                    let Some(s) = (p + d).checked_sub((Q - 1) / 2).filter(|&s| s < L) else {
                        continue;
                    };
                    for a in 0..C {
                        acc += self.w[o][d][a] * x[s * C + a];
                    }
                }
                z[p][o] = self.ws1 * acc + self.bs1 * self.b[o];
            }
        }
        z
    }

    /// ∇θ f(x), in the order filters, filter biases, readout, readout bias.
    fn gradient(&self, x: &[f64; D]) -> [f64; P] {
        let z = self.pre(x);
        let mut g = [0.0; P];
        let (gw, rest) = g.split_at_mut(CH * Q * C);
        let (gb, rest) = rest.split_at_mut(CH);
        let (gv, gc) = rest.split_at_mut(FLAT);
        gc[0] = self.bs2;
        for p in 0..L {
            for o in 0..CH {
                gv[p * CH + o] = self.ws2 * z[p][o].max(0.0);
                if z[p][o] <= 0.0 {
                    continue;
                }
                // ∂f/∂z[p][o]
                let dz = self.ws2 * self.v[p * CH + o];
                gb[o] += dz * self.bs1;
                for d in 0..Q {
                    let Some(s) = (p + d).checked_sub((Q - 1) / 2).filter(|&s| s < L) else {
                        continue;
                    };
                    for a in 0..C {
                        gw[(o * Q + d) * C + a] += dz * self.ws1 * x[s * C + a];
                    }
                }
            }
        }
        g
    }
}

/// Checks that the device's CNTK workspace, [`problem::CNTK_WORKSPACE`]
/// numbers, is the library's exact workspace of the architecture on these
/// windows (the device would otherwise stop with `BufferTooSmall`, or hold
/// RAM it never uses).
fn check_cntk_workspace() {
    let arch = problem::architecture::<f32>().expect("the architecture is valid");
    let shape = ntk::analytic::Shape::Sequence {
        length: L,
        channels: C,
    };
    let needed = arch
        .workspace_len(shape)
        .expect("the architecture fits the windows");
    assert_eq!(
        needed,
        problem::CNTK_WORKSPACE,
        "CNTK_WORKSPACE of src/bin/cnn/problem.rs must be the architecture's workspace_len"
    );
}

/// The Rust source of the references, for `src/bin/cnn/main.rs` to
/// `include!`.
pub fn reference() -> String {
    let lib: Cnn<f64> = problem::network();
    let fan_in = (Q * C) as f64;
    let net = Net {
        w: lib.1.weight,
        b: lib.1.bias,
        v: lib.4.weight[0],
        ws1: WEIGHT_STD / fan_in.sqrt(),
        bs1: BIAS_STD,
        ws2: WEIGHT_STD / (FLAT as f64).sqrt(),
        bs2: BIAS_STD,
    };
    let x_train = inputs(&problem::TRAIN);
    let x_test = inputs(&problem::TEST);
    let y: [[f64; 1]; N_TRAIN] = problem::targets();

    check_kink_margin(&net, x_train.iter().chain(&x_test));
    check_cntk_workspace();

    // Finite width.
    let g_train = x_train.map(|x| net.gradient(&x));
    let g_test = x_test.map(|x| net.gradient(&x));
    let ntk_train = gram(&g_train, &g_train);
    let ntk_test = gram(&g_test, &g_train);
    let pred = regression(&ntk_train, &ntk_test, &y);

    // Infinite width.
    let mut nngp_train = [[0.0; N_TRAIN]; N_TRAIN];
    let mut cntk_train = [[0.0; N_TRAIN]; N_TRAIN];
    for i in 0..N_TRAIN {
        for j in 0..N_TRAIN {
            (nngp_train[i][j], cntk_train[i][j]) = cntk(&x_train[i], &x_train[j]);
        }
    }
    let mut nngp_test = [[0.0; N_TRAIN]; N_TEST];
    let mut cntk_test = [[0.0; N_TRAIN]; N_TEST];
    for i in 0..N_TEST {
        for j in 0..N_TRAIN {
            (nngp_test[i][j], cntk_test[i][j]) = cntk(&x_test[i], &x_train[j]);
        }
    }
    let apred = regression(&cntk_train, &cntk_test, &y);

    let mut src = String::from(
        "// Reference values of the problem in `src/bin/cnn/problem.rs`, computed on\n\
         // the host by `build/cnn.rs` in plain f64 and rounded to the nearest f32.\n\n",
    );
    kernel(
        &mut src,
        "Empirical NTK Θ(X_train, X_train) and Θ(X_test, X_train).",
        "NTK",
        (&ntk_train, &ntk_test),
    );
    vector(
        &mut src,
        "Kernel regression with the empirical NTK on the test windows.",
        "PREDICTION",
        &pred,
    );
    kernel(
        &mut src,
        "CNTK's NNGP K(X_train, X_train) and K(X_test, X_train).",
        "NNGP",
        (&nngp_train, &nngp_test),
    );
    kernel(
        &mut src,
        "CNTK Θ(X_train, X_train) and Θ(X_test, X_train).",
        "CNTK",
        (&cntk_train, &cntk_test),
    );
    vector(
        &mut src,
        "Kernel regression with the CNTK on the test windows.",
        "CNTK_PREDICTION",
        &apred,
    );
    src
}

/// Writes a kernel's train × train block `train` (symmetric: its lower
/// triangle, row by row) and test × train block `test` (row by row) as one
/// `pub const NAME: [f32; PACKED]`, each value the `f64` result rounded to
/// the nearest `f32`: 68 numbers instead of 96.
fn kernel(
    src: &mut String,
    doc: &str,
    name: &str,
    (train, test): (&[[f64; N_TRAIN]; N_TRAIN], &[[f64; N_TRAIN]; N_TEST]),
) {
    let scale = train
        .as_flattened()
        .iter()
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    for i in 0..N_TRAIN {
        for j in 0..i {
            assert!(
                (train[i][j] - train[j][i]).abs() <= 1e-12 * scale,
                "{name}: the train kernel is not symmetric at ({i}, {j})"
            );
        }
    }
    let lower = (0..N_TRAIN).flat_map(|i| train[i][..=i].iter());
    let values: Vec<f64> = lower.chain(test.as_flattened()).copied().collect();
    assert_eq!(values.len(), PACKED);
    writeln!(src, "/// {doc}\npub const {name}: [f32; {PACKED}] = [").unwrap();
    for v in values {
        writeln!(src, "    {:e},", v as f32).unwrap();
    }
    src.push_str("];\n\n");
}

/// The windows in g, flat, from their counts.
fn inputs<const N: usize>(ws: &[Window; N]) -> [[f64; D]; N] {
    ws.map(|w| {
        let c = problem::counts(&w);
        let mut x = [0.0; D];
        for (v, &n) in x.iter_mut().zip(c.as_flattened()) {
            *v = f64::from(n) / f64::from(problem::COUNTS_PER_G);
        }
        x
    })
}

/// `out[i][j] = a[i]·b[j]`.
fn gram<const M: usize, const N: usize>(a: &[[f64; P]; M], b: &[[f64; P]; N]) -> [[f64; N]; M] {
    let mut out = [[0.0; N]; M];
    for i in 0..M {
        for j in 0..N {
            out[i][j] = a[i].iter().zip(&b[j]).map(|(u, v)| u * v).sum();
        }
    }
    out
}

/// NNGP and NTK of `conv(Q,σw,σb) relu flatten dense(σw,σb)` (zero padding)
/// for one pair of windows.
fn cntk(x: &[f64; D], y: &[f64; D]) -> (f64, f64) {
    let (w2, b2) = (WEIGHT_STD * WEIGHT_STD, BIAS_STD * BIAS_STD);
    // Σ⁰ on the position diagonal.
    let dot = |u: &[f64; D], v: &[f64; D], s: usize| -> f64 {
        (0..C).map(|a| u[s * C + a] * v[s * C + a]).sum::<f64>() / C as f64
    };
    // The convolution's average over the window, zeros outside.
    let conv = |u: &[f64; D], v: &[f64; D], s: usize| -> f64 {
        let h = (Q - 1) / 2;
        let sum: f64 = (0..Q)
            .filter_map(|d| (s + d).checked_sub(h).filter(|&t| t < L))
            .map(|t| dot(u, v, t))
            .sum();
        w2 * sum / Q as f64 + b2
    };
    let (mut sigma, mut theta) = (0.0, 0.0);
    for s in 0..L {
        let (qx, qy, k) = (conv(x, x, s), conv(y, y, s), conv(x, y, s));
        // Θ¹ = Σ¹ (Θ⁰ = 0); ReLU: arc-cosine kernels of degree 1 and 0.
        let norm = (qx * qy).sqrt();
        let rho = (k / norm).clamp(-1.0, 1.0);
        let angle = rho.acos();
        let pi = std::f64::consts::PI;
        sigma += norm / (2.0 * pi) * ((1.0 - rho * rho).sqrt() + (pi - angle) * rho);
        theta += k * (pi - angle) / (2.0 * pi);
    }
    // Flatten: the mean over the diagonal; then the dense readout.
    let (sigma, theta) = (sigma / L as f64, theta / L as f64);
    let sigma = w2 * sigma + b2;
    (sigma, sigma + w2 * theta)
}

/// Kernel regression at t = ∞, `K(x, X)·(K + εI)⁻¹·Y` with
/// ε = RIDGE·mean diagonal, after checking that `K + εI` is as well
/// conditioned as the device's tolerance assumes.
fn regression(
    k_train: &[[f64; N_TRAIN]; N_TRAIN],
    k_test: &[[f64; N_TRAIN]; N_TEST],
    y: &[[f64; 1]; N_TRAIN],
) -> [[f64; 1]; N_TEST] {
    let eps = problem::RIDGE * (0..N_TRAIN).map(|i| k_train[i][i]).sum::<f64>() / N_TRAIN as f64;
    let mut k = *k_train;
    for (i, row) in k.iter_mut().enumerate() {
        row[i] += eps;
    }
    let l = cholesky(&k);
    // κ₁ = ‖K‖₁·‖K⁻¹‖₁, the inverse column by column.
    let mut inv_norm: f64 = 0.0;
    for j in 0..N_TRAIN {
        let mut e = [0.0; N_TRAIN];
        e[j] = 1.0;
        let col = solve(&l, &e);
        inv_norm = inv_norm.max(col.iter().map(|v| v.abs()).sum());
    }
    let norm = (0..N_TRAIN)
        .map(|j| (0..N_TRAIN).map(|i| k[i][j].abs()).sum::<f64>())
        .fold(0.0, f64::max);
    let kappa = norm * inv_norm;
    assert!(
        kappa <= MAX_CONDITION,
        "condition number {kappa:e} of the regularised kernel exceeds {MAX_CONDITION:e}"
    );
    let alpha = solve(&l, &y.map(|[v]| v));
    k_test.map(|row| [row.iter().zip(&alpha).map(|(a, b)| a * b).sum()])
}

/// The lower Cholesky factor of a symmetric positive definite `k`.
fn cholesky<const N: usize>(k: &[[f64; N]; N]) -> [[f64; N]; N] {
    let mut l = [[0.0; N]; N];
    for i in 0..N {
        for j in 0..=i {
            let s: f64 = k[i][j] - (0..j).map(|m| l[i][m] * l[j][m]).sum::<f64>();
            if i == j {
                assert!(s > 0.0, "kernel not positive definite");
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    l
}

/// `(L·Lᵀ)⁻¹·b`.
fn solve<const N: usize>(l: &[[f64; N]; N], b: &[f64; N]) -> [f64; N] {
    let mut y = [0.0; N];
    for i in 0..N {
        y[i] = (b[i] - (0..i).map(|m| l[i][m] * y[m]).sum::<f64>()) / l[i][i];
    }
    let mut x = [0.0; N];
    for i in (0..N).rev() {
        x[i] = (y[i] - (i + 1..N).map(|m| l[m][i] * x[m]).sum::<f64>()) / l[i][i];
    }
    x
}

/// Panics unless every pre-activation stays clear of the ReLU kink.
fn check_kink_margin<'a>(net: &Net, xs: impl Iterator<Item = &'a [f64; D]>) {
    let z: Vec<f64> = xs.flat_map(|x| net.pre(x).into_iter().flatten()).collect();
    let scale = z.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let margin = z.iter().fold(f64::INFINITY, |m, v| m.min(v.abs())) / scale;
    assert!(
        margin >= MIN_KINK_MARGIN,
        "a pre-activation lies within {margin:e} (relative) of the ReLU kink; choose another \
         SEED or other windows"
    );
}

//! Monte Carlo kernels of finite self-attention networks against the
//! infinite-width kernel of the same architecture (the maps of
//! `reference/FORMAT.md`, `attn` and `attn_id`, written out below).

use crate::common::convergence::{frob_rel, log_log_slope, on_big_stack};
use ntk::empirical::{monte_carlo, MonteCarlo};
use ntk::nn::{
    AttentionMechanism, Conv1d, Dense, GlobalAvgPool, Module, Parameterization, Params, Relu,
    SelfAttention, Unflatten,
};
use ntk::Rng;

const N: usize = 4;
const L: usize = 4;
const C_IN: usize = 2;
const D: usize = L * C_IN;

/// The architecture `conv(1,SW,SB) relu attn(WQ,WK,WV,WO) relu gap
/// dense(VW,VB)` (or `attn_id`) in numbers.
#[derive(Clone, Copy)]
struct Arch {
    sw: f64,
    sb: f64,
    wq: f64,
    wk: f64,
    wv: f64,
    wo: f64,
    softmax: bool,
    vw: f64,
    vb: f64,
}

const ARCH: Arch = Arch {
    sw: 1.5,
    sb: 0.1,
    wq: 1.0,
    wk: 1.5,
    wv: 1.2,
    wo: 1.0,
    softmax: true,
    vw: 1.0,
    vb: 0.0,
};

/// Four sequences of 4 positions × 2 channels; the last is the first turned
/// by a small angle.
fn inputs() -> [[f64; D]; N] {
    let mut rng = Rng::new(41);
    let mut x: [[f64; D]; N] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
    for i in 0..D {
        x[3][i] = x[0][i] + 0.05 * rng.normal::<f64>();
    }
    x
}

/// `[i][j][s][s']` tensors of the kernel maps.
type Pairs = Vec<Vec<[[f64; L]; L]>>;

/// ReLU's `E[φ(u)φ(v)]` and `E[φ'(u)φ'(v)]` for variances `q1`, `q2` and
/// covariance `c` (the arc-cosine kernels).
fn relu_expectations(q1: f64, q2: f64, c: f64) -> (f64, f64) {
    let n = (q1 * q2).sqrt();
    let cos = (c / n).clamp(-1.0, 1.0);
    let t = cos.acos();
    let pi = std::f64::consts::PI;
    (
        n / (2.0 * pi) * (t.sin() + (pi - t) * cos),
        (pi - t) / (2.0 * pi),
    )
}

fn relu(s: &mut Pairs, t: &mut Pairs) {
    let diag: Vec<[f64; L]> = (0..N)
        .map(|i| core::array::from_fn(|p| s[i][i][p][p]))
        .collect();
    for i in 0..N {
        for j in 0..N {
            for p in 0..L {
                for q in 0..L {
                    let (e, ed) = relu_expectations(diag[i][p], diag[j][q], s[i][j][p][q]);
                    s[i][j][p][q] = e;
                    t[i][j][p][q] *= ed;
                }
            }
        }
    }
}

/// `G_i Σ_ij G_jᵀ`.
fn sandwich(gi: &[[f64; L]; L], m: &[[f64; L]; L], gj: &[[f64; L]; L]) -> [[f64; L]; L] {
    let mut out = [[0.0; L]; L];
    for p in 0..L {
        for q in 0..L {
            for a in 0..L {
                for b in 0..L {
                    out[p][q] += gi[p][a] * m[a][b] * gj[q][b];
                }
            }
        }
    }
    out
}

/// The infinite-width NNGP and NTK of `arch` on flat inputs of L positions
/// × C_IN channels, plain loops over the maps of `reference/FORMAT.md`.
fn infinite_width(x: &[[f64; D]; N], arch: Arch) -> ([[f64; N]; N], [[f64; N]; N]) {
    let zero = vec![vec![[[0.0; L]; L]; N]; N];
    let (mut s, mut t) = (zero.clone(), zero);
    // input covariance, then conv(1, SW, SB): Σ ← SW²·Σ + SB², Θ ← Σ
    for i in 0..N {
        for j in 0..N {
            for p in 0..L {
                for q in 0..L {
                    let dot: f64 = (0..C_IN)
                        .map(|c| x[i][p * C_IN + c] * x[j][q * C_IN + c])
                        .sum();
                    s[i][j][p][q] = arch.sw * arch.sw * dot / C_IN as f64 + arch.sb * arch.sb;
                    t[i][j][p][q] = s[i][j][p][q];
                }
            }
        }
    }
    relu(&mut s, &mut t);
    // attention: G_i = softmax(WQ·WK·Σ_ii) over the key positions
    let g: Vec<[[f64; L]; L]> = (0..N)
        .map(|i| {
            let mut gi = s[i][i];
            for row in gi.iter_mut() {
                for v in row.iter_mut() {
                    *v *= arch.wq * arch.wk;
                }
                if arch.softmax {
                    let z: f64 = row.iter().map(|v| v.exp()).sum();
                    for v in row.iter_mut() {
                        *v = v.exp() / z;
                    }
                }
            }
            gi
        })
        .collect();
    let ov2 = (arch.wv * arch.wo).powi(2);
    for i in 0..N {
        for j in 0..N {
            let sn = sandwich(&g[i], &s[i][j], &g[j]);
            let tn = sandwich(&g[i], &t[i][j], &g[j]);
            for p in 0..L {
                for q in 0..L {
                    s[i][j][p][q] = ov2 * sn[p][q];
                    t[i][j][p][q] = ov2 * tn[p][q] + 2.0 * s[i][j][p][q];
                }
            }
        }
    }
    relu(&mut s, &mut t);
    // gap, then dense(VW, VB)
    let (mut k, mut th) = ([[0.0; N]; N], [[0.0; N]; N]);
    let mean = |m: &[[f64; L]; L]| m.iter().flatten().sum::<f64>() / (L * L) as f64;
    for i in 0..N {
        for j in 0..N {
            k[i][j] = arch.vw * arch.vw * mean(&s[i][j]) + arch.vb * arch.vb;
            th[i][j] = k[i][j] + arch.vw * arch.vw * mean(&t[i][j]);
        }
    }
    (k, th)
}

type Net<const C: usize> = (
    Unflatten<C_IN, L>,
    Conv1d<f64, C_IN, C, 1, L>,
    Relu,
    SelfAttention<f64, C, C, L, C, C, 1>,
    Relu,
    GlobalAvgPool,
    Dense<f64, C, 1>,
);

fn net<const C: usize>(arch: Arch) -> Box<Net<C>> {
    let mut net: Box<Net<C>> = ntk::boxed::zeroed();
    net.1.set_scales(arch.sw, arch.sb, Parameterization::Ntk);
    net.3
        .set_attention_scales(arch.wq, arch.wk, arch.wv, arch.wo);
    net.3.mechanism = if arch.softmax {
        AttentionMechanism::Softmax
    } else {
        AttentionMechanism::Identity
    };
    net.6.set_scales(arch.vw, arch.vb, Parameterization::Ntk);
    net
}

fn estimate<Net>(net: &mut Net, samples: usize, seed: u64) -> ([[f64; N]; N], [[f64; N]; N])
where
    Net: Module<f64, [f64; D], Output = [f64; 1]> + Params<f64>,
{
    let mut mc = MonteCarlo::new(samples, seed).unwrap();
    let mut work = vec![0.0; monte_carlo::workspace_len::<f64, Net>(N, 1)];
    let (mut s, mut k, mut t) = ([[0.0; N]; N], [[0.0; N]; N], [[0.0; N]; N]);
    mc.gram(net, &inputs(), &mut work, &mut s, &mut k, &mut t)
        .unwrap();
    (k, t)
}

/// Estimates of S = 2 initialisations each, repeated R = 16 times.
const S: usize = 2;
const R: usize = 16;

/// At width C: the root mean square over the R estimates of the NTK's
/// relative Frobenius error.
fn ntk_error<const C: usize>(t0: &[[f64; N]; N]) -> f64 {
    let mut net = net::<C>(ARCH);
    let mut sq = 0.0;
    for r in 0..R {
        let (_, t) = estimate(&mut *net, S, 1000 * C as u64 + r as u64);
        sq += frob_rel(&t, t0).powi(2) / R as f64;
    }
    let rms = sq.sqrt();
    eprintln!("C = {C}: NTK error of {S} samples (rms) {rms:.4}");
    rms
}

#[test]
fn attention_ntk_approaches_the_infinite_width_one_as_width_grows() {
    on_big_stack(|| {
        let (_, t0) = infinite_width(&inputs(), ARCH);
        let widths = [32.0, 128.0, 512.0];
        let rms = [
            ntk_error::<32>(&t0),
            ntk_error::<128>(&t0),
            ntk_error::<512>(&t0),
        ];
        // One initialisation's NTK fluctuates about its limit by O(1/√C) and
        // its mean is off by O(1/C): with two samples per estimate the
        // fluctuation dominates and the error falls as C^(-1/2).
        let slope = log_log_slope(&widths, &rms);
        eprintln!("log-log slope {slope:.3}");
        assert!(
            (-0.7..=-0.3).contains(&slope),
            "slope {slope}, errors {rms:?}"
        );
    });
}

#[test]
fn identity_attention_ntk_is_close_to_the_infinite_width_one() {
    on_big_stack(|| {
        let arch = Arch {
            softmax: false,
            wq: 0.5,
            ..ARCH
        };
        let (_, t0) = infinite_width(&inputs(), arch);
        let (_, t) = estimate(&mut *net::<512>(arch), 32, 77);
        // Unnormalised weights carry their finite-width fluctuation into the
        // mean of the kernel (a bias of O(1/C): about 0.15 at C = 128, 0.03
        // at C = 512); 32 samples add a fluctuation of about 0.02.
        let et = frob_rel(&t, &t0);
        eprintln!("identity, C = 512: NTK error {et:.4} of 32 samples");
        assert!(et < 0.07, "NTK error {et}");
    });
}

/// The infinite-width reference of the Monte Carlo tests above is the
/// library's own kernel: the plain-loop maps and `ntk::analytic` agree on
/// the same architecture and inputs (softmax and identity weights).
#[cfg(feature = "attention")]
#[test]
fn the_reference_is_the_analytic_kernel() {
    use ntk::analytic::{Architecture, Shape};
    let x = inputs();
    for arch in [
        ARCH,
        Arch {
            softmax: false,
            wq: 0.5,
            ..ARCH
        },
    ] {
        let text = format!(
            "conv(1,{},{}) relu {}({},{},{},{}) relu gap dense({},{})",
            arch.sw,
            arch.sb,
            if arch.softmax { "attn" } else { "attn_id" },
            arch.wq,
            arch.wk,
            arch.wv,
            arch.wo,
            arch.vw,
            arch.vb
        );
        let a: Architecture<f64> = text.parse().unwrap();
        let shape = Shape::Sequence {
            length: L,
            channels: C_IN,
        };
        let mut ws = vec![0.0; a.workspace_len(shape).unwrap()];
        let (mut k, mut t) = ([[0.0; N]; N], [[0.0; N]; N]);
        a.gram_spatial(
            x.as_flattened(),
            shape,
            &mut ws,
            k.as_flattened_mut(),
            t.as_flattened_mut(),
        )
        .unwrap();
        let (kr, tr) = infinite_width(&x, arch);
        for (got, want) in [(k, kr), (t, tr)] {
            let scale = want
                .as_flattened()
                .iter()
                .fold(0.0_f64, |m, v| m.max(v.abs()));
            for (g, w) in got.as_flattened().iter().zip(want.as_flattened()) {
                assert!((g - w).abs() <= 1e-10 * scale, "{text}: {g} vs {w}");
            }
        }
    }
}

//! The empirical NTK: structured against Jacobian contraction, symmetry and
//! positive semidefiniteness, the infinite-width limit, typed errors; Monte
//! Carlo kernels (`monte_carlo`), range checks (`range`) and the error
//! catalogue (`errors`).
mod attention;
mod attention_monte_carlo;
mod attention_nt;
#[path = "../common/mod.rs"]
mod common;
mod conv;
mod conv_monte_carlo;
mod drift;
mod errors;
mod fluctuations;
mod monte_carlo;
mod range;
mod rnn;
mod rnn_monte_carlo;

use common::{cases, min_eigenvalue, rel_err};
use ntk::empirical::{jacobian, structured, JacobianModel};
use ntk::nn::{Abs, Dense, Erf, Gelu, Identity, LeakyRelu, Module, Params, Relu, Sin, Tanh};
use ntk::{Error, Rng};
use proptest::prelude::*;

fn inputs<const D: usize, const N: usize>(seed: u64, scale: f64) -> [[f64; D]; N] {
    let mut rng = Rng::new(seed);
    core::array::from_fn(|_| core::array::from_fn(|_| scale * rng.normal::<f64>()))
}

/// Structured and Jacobian kernels agree (trace, blocks, cross), and the
/// train×train ones are bitwise symmetric.
fn compare_methods<Net, const D: usize, const K: usize, const N: usize, const M: usize>(
    net: &Net,
    xs: &[[f64; D]; N],
    xt: &[[f64; D]; M],
    tol: f64,
) where
    Net: Module<f64, [f64; D], Output = [f64; K]> + Params<f64>,
{
    let mut ws = vec![0.0; structured::workspace_len::<f64, Net>(2 * N + M, K)];
    let mut wj = vec![0.0; jacobian::workspace_len::<f64, [f64; D], Net>(N + M)];

    let mut s = [[0.0; N]; N];
    let mut j = [[0.0; N]; N];
    structured::ntk(net, xs, &mut ws, &mut s).unwrap();
    jacobian::ntk(net, xs, &mut wj, &mut j).unwrap();
    assert!(rel_err(s.as_flattened(), j.as_flattened()) <= tol);
    for a in 0..N {
        for b in 0..N {
            assert_eq!(s[a][b].to_bits(), s[b][a].to_bits());
            assert_eq!(j[a][b].to_bits(), j[b][a].to_bits());
        }
    }

    let mut sb = [[[[0.0; K]; K]; N]; N];
    let mut jb = [[[[0.0; K]; K]; N]; N];
    structured::ntk_blocks(net, xs, &mut ws, &mut sb).unwrap();
    jacobian::ntk_blocks(net, xs, &mut wj, &mut jb).unwrap();
    let flat =
        |b: &[[[[f64; K]; K]; N]; N]| b.as_flattened().as_flattened().as_flattened().to_vec();
    assert!(rel_err(&flat(&sb), &flat(&jb)) <= tol);
    for a in 0..N {
        for b in 0..N {
            let mean = (0..K).map(|k| sb[a][b][k][k]).sum::<f64>() / K as f64;
            assert!((mean - s[a][b]).abs() <= 1e-12 * s[a][a].abs().max(1.0));
            for k in 0..K {
                for k2 in 0..K {
                    assert_eq!(sb[a][b][k][k2].to_bits(), sb[b][a][k2][k].to_bits());
                }
            }
        }
    }

    let mut sc = [[0.0; N]; M];
    let mut jc = [[0.0; N]; M];
    structured::ntk_cross(net, xt, xs, &mut ws, &mut sc).unwrap();
    jacobian::ntk_cross(net, xt, xs, &mut wj, &mut jc).unwrap();
    assert!(rel_err(sc.as_flattened(), jc.as_flattened()) <= tol);
    let mut sbc = [[[[0.0; K]; K]; N]; M];
    let mut jbc = [[[[0.0; K]; K]; N]; M];
    structured::ntk_blocks_cross(net, xt, xs, &mut ws, &mut sbc).unwrap();
    jacobian::ntk_blocks_cross(net, xt, xs, &mut wj, &mut jbc).unwrap();
    let fl = |b: &[[[[f64; K]; K]; N]; M]| b.as_flattened().as_flattened().as_flattened().to_vec();
    assert!(rel_err(&fl(&sbc), &fl(&jbc)) <= tol);

    // The cross kernel of a set with itself is the train kernel.
    let mut self_cross = [[0.0; N]; N];
    structured::ntk_cross(net, xs, xs, &mut ws, &mut self_cross).unwrap();
    assert!(rel_err(self_cross.as_flattened(), s.as_flattened()) <= 1e-13);
}

#[test]
fn structured_equals_jacobian_across_architectures() {
    let mut rng = Rng::new(1);
    let xs = inputs::<3, 7>(2, 1.0);
    let xt = inputs::<3, 4>(3, 1.0);

    let shallow: (Dense<f64, 3, 5>, Relu, Dense<f64, 5, 1>) = (
        Dense::ntk(1.5, 0.1, &mut rng),
        Relu,
        Dense::ntk(1.5, 0.1, &mut rng),
    );
    compare_methods(&shallow, &xs, &xt, 1e-10);

    let two_out: (
        Dense<f64, 3, 33>,
        Erf,
        Dense<f64, 33, 17>,
        Gelu,
        Dense<f64, 17, 2>,
    ) = (
        Dense::ntk(1.2, 0.3, &mut rng),
        Erf,
        Dense::standard(1.1, 0.2, &mut rng),
        Gelu,
        Dense::ntk(0.9, 0.0, &mut rng),
    );
    compare_methods(&two_out, &xs, &xt, 1e-10);

    let deep: Deep = (
        Dense::ntk(1.0, 0.1, &mut rng),
        Tanh,
        Dense::ntk(1.3, 0.1, &mut rng),
        Sin,
        Dense::ntk(1.0, 0.5, &mut rng),
        LeakyRelu { alpha: 0.1 },
        Dense::standard(1.4, 0.2, &mut rng),
        Abs,
        Dense::ntk(1.0, 0.0, &mut rng),
        Identity,
        Dense::ntk(1.0, 1.0, &mut rng),
    );
    compare_methods(&deep, &xs, &xt, 1e-10);

    // Wider than one Jacobian contraction block (1024 parameters).
    let wide: (
        Dense<f64, 3, 64>,
        Relu,
        Dense<f64, 64, 40>,
        Relu,
        Dense<f64, 40, 1>,
    ) = (
        Dense::ntk(1.5, 0.1, &mut rng),
        Relu,
        Dense::ntk(1.5, 0.1, &mut rng),
        Relu,
        Dense::ntk(1.5, 0.1, &mut rng),
    );
    compare_methods(&wide, &xs, &xt, 1e-10);
}

#[test]
fn f32_tracks_f64() {
    let mut rng = Rng::new(4);
    let net64: (Dense<f64, 3, 32>, Relu, Dense<f64, 32, 1>) = (
        Dense::ntk(1.5, 0.1, &mut rng),
        Relu,
        Dense::ntk(1.5, 0.1, &mut rng),
    );
    let net32: (Dense<f32, 3, 32>, Relu, Dense<f32, 32, 1>) = (
        Dense {
            weight: net64.0.weight.map(|r| r.map(|v| v as f32)),
            bias: net64.0.bias.map(|v| v as f32),
            weight_std: 1.5,
            bias_std: 0.1,
            parameterization: net64.0.parameterization,
        },
        Relu,
        Dense {
            weight: net64.2.weight.map(|r| r.map(|v| v as f32)),
            bias: net64.2.bias.map(|v| v as f32),
            weight_std: 1.5,
            bias_std: 0.1,
            parameterization: net64.2.parameterization,
        },
    );
    let xs = inputs::<3, 5>(5, 1.0);
    let xs32 = xs.map(|r| r.map(|v| v as f32));
    let mut k64 = [[0.0; 5]; 5];
    let mut k32 = [[0.0_f32; 5]; 5];
    structured::ntk(&net64, &xs, &mut [0.0; 5 * 70], &mut k64).unwrap();
    structured::ntk(&net32, &xs32, &mut [0.0; 5 * 70], &mut k32).unwrap();
    let k32w: Vec<f64> = k32.as_flattened().iter().map(|&v| v as f64).collect();
    assert!(rel_err(&k32w, k64.as_flattened()) < 1e-5);
}

/// A model outside the crate: f(x; a, w) = a·tanh(w·x) with two outputs.
struct TwoHeads {
    a: [f64; 2],
    w: [f64; 3],
}

impl JacobianModel<f64, [f64; 3]> for TwoHeads {
    const OUTPUTS: usize = 2;
    const PARAMS: usize = 5;
    fn jacobian(&self, x: &[f64; 3], out: &mut [f64]) -> Result<(), Error> {
        let z: f64 = self.w.iter().zip(x).map(|(w, x)| w * x).sum();
        let t = z.tanh();
        for k in 0..2 {
            let row = &mut out[k * 5..(k + 1) * 5];
            row.fill(0.0);
            row[k] = t;
            for i in 0..3 {
                row[2 + i] = self.a[k] * (1.0 - t * t) * x[i];
            }
        }
        Ok(())
    }
}

#[test]
fn user_models_get_their_ntk() {
    let model = TwoHeads {
        a: [1.5, -0.5],
        w: [0.3, -0.2, 0.8],
    };
    let xs = inputs::<3, 4>(6, 1.0);
    let mut ws = [0.0; jacobian::workspace_len::<f64, [f64; 3], TwoHeads>(4)];
    let mut blocks = [[[[0.0; 2]; 2]; 4]; 4];
    jacobian::ntk_blocks(&model, &xs, &mut ws, &mut blocks).unwrap();
    let mut j = [0.0; 10];
    let mut j2 = [0.0; 10];
    model.jacobian(&xs[1], &mut j).unwrap();
    model.jacobian(&xs[3], &mut j2).unwrap();
    let expect: f64 = (0..5).map(|p| j[p] * j2[5 + p]).sum();
    assert!((blocks[1][3][0][1] - expect).abs() < 1e-14);
    let mut trace = [[0.0; 4]; 4];
    jacobian::ntk(&model, &xs, &mut ws, &mut trace).unwrap();
    assert!((trace[1][3] - 0.5 * (blocks[1][3][0][0] + blocks[1][3][1][1])).abs() < 1e-14);
}

/// Infinite-width NTK of `dense(σw, σb) relu dense(σw, σb)` (NTK
/// parameterization) by the arc-cosine recursion.
fn relu_ntk_infinite(x: &[f64], y: &[f64], sw: f64, sb: f64) -> f64 {
    let d = x.len() as f64;
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>() / d;
    let (s11, s22, s12) = (
        sw * sw * dot(x, x) + sb * sb,
        sw * sw * dot(y, y) + sb * sb,
        sw * sw * dot(x, y) + sb * sb,
    );
    let theta1 = s12;
    let c = (s12 / (s11 * s22).sqrt()).clamp(-1.0, 1.0);
    let t = c.acos();
    let pi = std::f64::consts::PI;
    let sigma2 = (s11 * s22).sqrt() * (t.sin() + (pi - t) * c) / (2.0 * pi);
    let dsigma = (pi - t) / (2.0 * pi);
    let s3 = sw * sw * sigma2 + sb * sb;
    s3 + sw * sw * theta1 * dsigma
}

#[test]
fn wide_relu_network_approaches_the_infinite_width_ntk() {
    const W: usize = 4096;
    const N: usize = 6;
    let (sw, sb) = (1.5, 0.1);
    let xs = inputs::<3, N>(7, 1.0);
    let mut mean = [[0.0; N]; N];
    let seeds = 4;
    let mut ws =
        vec![
            0.0;
            structured::workspace_len::<f64, (Dense<f64, 3, W>, Relu, Dense<f64, W, 1>)>(N, 1)
        ];
    for seed in 0..seeds {
        let mut rng = Rng::new(1000 + seed);
        let net: Box<(Dense<f64, 3, W>, Relu, Dense<f64, W, 1>)> = Box::new((
            Dense::ntk(sw, sb, &mut rng),
            Relu,
            Dense::ntk(sw, sb, &mut rng),
        ));
        let mut k = [[0.0; N]; N];
        structured::ntk(&*net, &xs, &mut ws, &mut k).unwrap();
        for i in 0..N {
            for j in 0..N {
                mean[i][j] += k[i][j] / seeds as f64;
            }
        }
    }
    let exact: Vec<f64> = (0..N * N)
        .map(|q| relu_ntk_infinite(&xs[q / N], &xs[q % N], sw, sb))
        .collect();
    // Each entry is an average of W i.i.d. terms: its relative standard
    // deviation is O(1/√W) ≈ 0.016 at W = 4096, halved again by averaging
    // four seeds; 0.03 leaves a margin of about four standard deviations.
    let err = rel_err(mean.as_flattened(), &exact);
    eprintln!("width {W}: relative error {err:.4}");
    assert!(err < 0.03, "relative error {err}");
}

#[test]
fn bad_input_gets_typed_errors_and_no_partial_output() {
    let mut rng = Rng::new(8);
    let net: (Dense<f64, 2, 4>, Relu, Dense<f64, 4, 1>) = (
        Dense::ntk(1.0, 0.1, &mut rng),
        Relu,
        Dense::ntk(1.0, 0.1, &mut rng),
    );
    let mut out = [[7.0; 2]; 2];
    let mut ws = [0.0; 2 * 13];

    let bad = [[f64::NAN, 0.0], [1.0, 1.0]];
    assert_eq!(
        structured::ntk(&net, &bad, &mut ws, &mut out),
        Err(Error::NonFinite { what: "inputs" })
    );
    assert_eq!(out, [[0.0; 2]; 2], "zeroed on error");
    let inf = [[f64::INFINITY, 0.0], [1.0, 1.0]];
    assert!(matches!(
        structured::ntk_cross(&net, &inf, &[[0.0, 1.0]; 2], &mut [0.0; 52], &mut out),
        Err(Error::NonFinite { .. })
    ));

    out = [[7.0; 2]; 2];
    assert_eq!(
        structured::ntk(&net, &[[1.0, 0.0], [0.0, 1.0]], &mut [0.0; 25], &mut out),
        Err(Error::BufferTooSmall {
            needed: 26,
            given: 25
        })
    );
    assert_eq!(
        jacobian::ntk(&net, &[[1.0, 0.0], [0.0, 1.0]], &mut [0.0; 65], &mut out),
        Err(Error::BufferTooSmall {
            needed: 66,
            given: 65
        })
    );
    assert_eq!(out, [[0.0; 2]; 2], "zeroed on error");

    out = [[7.0; 2]; 2];
    let mut broken = net.clone();
    broken.2.bias[0] = f64::NAN;
    assert_eq!(
        structured::ntk(&broken, &[[1.0, 0.0], [0.0, 1.0]], &mut ws, &mut out),
        Err(Error::NonFinite {
            what: "network parameters"
        })
    );
    assert_eq!(
        jacobian::ntk(&broken, &[[1.0, 0.0], [0.0, 1.0]], &mut [0.0; 66], &mut out),
        Err(Error::NonFinite {
            what: "network parameters"
        })
    );
    assert_eq!(out, [[0.0; 2]; 2], "zeroed on error");

    // Finite parameters whose kernel overflows: an error, and no partial kernel.
    let mut huge = net.clone();
    huge.0.weight_std = 1e200;
    huge.2.weight_std = 1e200;
    out = [[7.0; 2]; 2];
    let r = structured::ntk(&huge, &[[1.0, 0.5], [0.5, 1.0]], &mut ws, &mut out);
    assert!(matches!(r, Err(Error::Overflow { .. })), "{r:?}");
    assert_eq!(out, [[0.0; 2]; 2], "zeroed on error");
    out = [[7.0; 2]; 2];
    let r = jacobian::ntk(&huge, &[[1.0, 0.5], [0.5, 1.0]], &mut [0.0; 66], &mut out);
    assert!(matches!(r, Err(Error::Overflow { .. })), "{r:?}");
    assert_eq!(out, [[0.0; 2]; 2], "zeroed on error");
}

#[test]
fn repeated_inputs_give_identical_rows() {
    let mut rng = Rng::new(10);
    let net: (Dense<f64, 2, 16>, Gelu, Dense<f64, 16, 1>) = (
        Dense::ntk(1.0, 0.1, &mut rng),
        Gelu,
        Dense::ntk(1.0, 0.1, &mut rng),
    );
    let xs = [[0.3, -0.4], [1.0, 2.0], [0.3, -0.4]];
    let mut k = [[0.0; 3]; 3];
    structured::ntk(
        &net,
        &xs,
        &mut vec![
            0.0;
            structured::workspace_len::<f64, (Dense<f64, 2, 16>, Gelu, Dense<f64, 16, 1>)>(
                3, 1
            )
        ],
        &mut k,
    )
    .unwrap();
    for j in 0..3 {
        assert_eq!(k[0][j].to_bits(), k[2][j].to_bits());
    }
}

type Deep = (
    Dense<f64, 3, 8>,
    Tanh,
    Dense<f64, 8, 8>,
    Sin,
    Dense<f64, 8, 8>,
    LeakyRelu<f64>,
    Dense<f64, 8, 8>,
    Abs,
    Dense<f64, 8, 8>,
    Identity,
    Dense<f64, 8, 3>,
);

type Small = (
    Dense<f64, 3, 6>,
    Tanh,
    Dense<f64, 6, 5>,
    Relu,
    Dense<f64, 5, 2>,
);

fn small_net(seed: u64, sw: f64, sb: f64) -> Small {
    let mut rng = Rng::new(seed);
    (
        Dense::ntk(sw, sb, &mut rng),
        Tanh,
        Dense::ntk(sw, sb, &mut rng),
        Relu,
        Dense::ntk(sw, sb, &mut rng),
    )
}

fn arb_inputs() -> impl Strategy<Value = [[f64; 3]; 6]> {
    proptest::array::uniform6(proptest::array::uniform3(-3.0..=3.0_f64))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(1000)))]

    #[test]
    fn ntk_is_bitwise_symmetric(seed in 0u64..1_000_000, sw in 0.5..=2.0_f64, sb in 0.0..=1.0_f64, xs in arb_inputs()) {
        let net = small_net(seed, sw, sb);
        let mut k = [[0.0; 6]; 6];
        structured::ntk(&net, &xs, &mut vec![0.0; structured::workspace_len::<f64, Small>(6, 2)], &mut k).unwrap();
        for i in 0..6 {
            for j in 0..6 {
                prop_assert_eq!(k[i][j].to_bits(), k[j][i].to_bits());
            }
        }
    }

    #[test]
    fn ntk_is_positive_semidefinite(seed in 0u64..1_000_000, sw in 0.5..=2.0_f64, sb in 0.0..=1.0_f64, xs in arb_inputs()) {
        let net = small_net(seed, sw, sb);
        let mut k = [[0.0; 6]; 6];
        structured::ntk(&net, &xs, &mut vec![0.0; structured::workspace_len::<f64, Small>(6, 2)], &mut k).unwrap();
        let trace: f64 = (0..6).map(|i| k[i][i]).sum();
        prop_assert!(min_eigenvalue(&k) >= -1e-10 * trace);
    }

    #[test]
    fn structured_matches_jacobian(seed in 0u64..1_000_000, sw in 0.5..=2.0_f64, sb in 0.0..=1.0_f64, xs in arb_inputs()) {
        let net = small_net(seed, sw, sb);
        let mut s = [[[[0.0; 2]; 2]; 6]; 6];
        let mut j = [[[[0.0; 2]; 2]; 6]; 6];
        structured::ntk_blocks(&net, &xs, &mut vec![0.0; structured::workspace_len::<f64, Small>(6, 2)], &mut s).unwrap();
        jacobian::ntk_blocks(&net, &xs, &mut vec![0.0; jacobian::workspace_len::<f64, [f64; 3], Small>(6)], &mut j).unwrap();
        let (s, j) = (s.as_flattened().as_flattened().as_flattened(), j.as_flattened().as_flattened().as_flattened());
        prop_assert!(rel_err(s, j) <= 1e-10);
    }
}

//! Self-attention, layer norm and residual blocks: the text tokens and
//! their rules, the workspace, a plain evaluation of the maps of
//! `reference/FORMAT.md` written out here, and properties of the kernels.

use crate::recurrent::seq;
use crate::spatial::{gram, inputs};
use ntk::analytic::{Architecture, Layer, Shape};
use ntk::error::ParseErrorKind;
use ntk::Error;

#[test]
fn tokens_read_back() {
    let text = "dense(1.5,0.1) [ relu attn(0.5,1.25,1,2) ] attn_id(1,1,0.3,1e-6) layernorm \
                [ [ erf dense(1,0) ] layernorm ] gap dense(1,0)";
    let a: Architecture<f64> = text.parse().unwrap();
    assert_eq!(a.to_string(), text);
    assert_eq!(
        a.layers()[3],
        Layer::Attention {
            query_std: 0.5,
            key_std: 1.25,
            value_std: 1.0,
            out_std: 2.0,
            softmax: true
        }
    );
    assert_eq!(a.layers()[1], Layer::ResidualBegin);
    assert_eq!(a.layers()[4], Layer::ResidualEnd);
    assert_eq!(a.layers()[6], Layer::LayerNorm);
    let a32: Architecture<f32> = text.parse().unwrap();
    assert_eq!(a32.to_string().parse::<Architecture<f32>>().unwrap(), a32);
    assert!(Layer::<f64>::LayerNorm.is_structured() && !Layer::<f64>::LayerNorm.is_spatial());
}

#[test]
fn misplaced_tokens_are_parse_errors() {
    use ParseErrorKind::*;
    for (text, kind, token) in [
        ("dense(1,0) ]", Unexpected, "]"),
        ("dense(1,0) [ relu dense(1,0) ] ]", Unexpected, "]"),
        ("dense(1,0) [ relu dense(1,0)", Missing, ""),
        ("dense(1,0) [ [ relu dense(1,0) ]", Missing, ""),
        ("dense(1,0) relu layernorm", Unexpected, "layernorm"),
        ("layernorm dense(1,0)", Unexpected, "layernorm"),
        ("relu dense(1,0) layernorm", Unexpected, "relu"),
        ("dense(1,0) flatten layernorm", Unexpected, "layernorm"),
        ("dense(1,0) [ ]", Unexpected, "]"),
        ("dense(1,0) [ relu ]", Unexpected, "]"),
        ("dense(1,0) [ dense(1,0) flatten ]", Unexpected, "flatten"),
        ("conv(3,1,0) [ avg_pool(2) ] gap", Unexpected, "avg_pool(2)"),
        ("dense(1,0) relu [ dense(1,0) ]", Unexpected, "["),
        ("[ dense(1,0) ]", Unexpected, "["),
        ("attn(1,1,1,1) relu relu", Unexpected, "relu"),
        ("attn(1,1,1)", WrongArity, "attn(1,1,1)"),
        ("attn_id(1,1,1,1,1)", WrongArity, "attn_id(1,1,1,1,1)"),
        ("attn(1,-1,1,1)", OutOfRange, "-1"),
        ("attn(1,1,x,1)", BadNumber, "x"),
        ("layernorm(1)", WrongArity, "layernorm(1)"),
        ("[(1)", WrongArity, "[(1)"),
    ] {
        let e = Architecture::<f64>::parse(text).unwrap_err();
        assert_eq!((e.kind, e.token()), (kind, token), "{text}");
        if kind == Unexpected {
            // The position is that of the token named.
            assert_eq!(
                text.get(e.position..e.position + token.len()),
                Some(token),
                "{text}"
            );
        }
    }
    // The rules hold only where the structured layers are: older
    // architectures read as before.
    assert!(Architecture::<f64>::parse("erf erf").is_ok());
    assert!(Architecture::<f64>::parse("attn(1,1,1,1) relu gap dense(1,0)").is_ok());
}

#[test]
fn architectures_built_by_hand_are_checked_by_the_routines() {
    let d = Layer::dense(1.0, 0.0);
    let shape = seq(3, 1);
    let x = [1.0, 0.5, -1.0, 0.0, 1.0, 2.0];
    let mut ws = vec![0.0; Architecture::<f64>::workspace_bound(3)];
    for layers in [
        vec![d, Layer::ResidualEnd, Layer::GlobalAvgPool],
        vec![d, Layer::ResidualBegin, d, Layer::GlobalAvgPool],
        vec![d, Layer::Relu, Layer::LayerNorm, Layer::GlobalAvgPool],
        vec![
            d,
            Layer::ResidualBegin,
            Layer::Relu,
            Layer::ResidualEnd,
            Layer::GlobalAvgPool,
        ],
    ] {
        let a = Architecture::<f64>::from_layers(&layers).unwrap();
        assert!(matches!(
            a.workspace_len(shape),
            Err(Error::InvalidArgument { .. })
        ));
        let (mut k, mut t) = ([7.0; 4], [7.0; 4]);
        let r = a.gram_spatial(&x, shape, &mut ws, &mut k, &mut t);
        assert!(
            matches!(r, Err(Error::InvalidArgument { .. })),
            "{layers:?}"
        );
        assert_eq!((k, t), ([0.0; 4], [0.0; 4]));
    }
}

#[test]
fn attention_needs_positions() {
    let mut ws = vec![0.0; 4096];
    for (arch, shape) in [
        (
            "dense(1,0) attn(1,1,1,1) dense(1,0)",
            Shape::Flat { dim: 3 },
        ),
        ("conv(1,1,0) gap attn(1,1,1,1) dense(1,0)", seq(3, 1)),
        ("conv(1,1,0) flatten attn_id(1,1,1,1) dense(1,0)", seq(3, 1)),
    ] {
        let a: Architecture<f64> = arch.parse().unwrap();
        let (mut k, mut t) = ([7.0; 4], [7.0; 4]);
        let r = a.gram_spatial(
            &[1.0, 2.0, 3.0, 0.0, 1.0, 0.0],
            shape,
            &mut ws,
            &mut k,
            &mut t,
        );
        assert!(
            matches!(r, Err(Error::InvalidArgument { .. })),
            "{arch}: {r:?}"
        );
        assert_eq!((k, t), ([0.0; 4], [0.0; 4]));
    }
}

#[test]
fn flat_routines_leave_layer_norm_and_residual_blocks_to_the_table_path() {
    let a: Architecture<f64> = "dense(1,0.1) [ relu dense(1.2,0) ] layernorm dense(1,0)"
        .parse()
        .unwrap();
    let x = [[1.0, 0.5], [0.0, -2.0]];
    let (mut k, mut t) = ([[7.0; 2]; 2], [[7.0; 2]; 2]);
    assert!(matches!(
        a.gram(&x, &mut k, &mut t),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(k, [[0.0; 2]; 2]);
    assert!(a.kernel(&x[0], &x[1]).is_err());
    // Flat data through the position-pair routines: one position.
    let (k, t) = gram(&a.to_string(), x.as_flattened(), Shape::Flat { dim: 2 }).unwrap();
    // By hand: Σ⁰ = x·x′/2, dense, residual relu + dense, layer norm, dense.
    let relu = |q1: f64, q2: f64, c: f64| {
        let r = (c / (q1 * q2).sqrt()).clamp(-1.0, 1.0);
        let th = r.acos();
        let pi = core::f64::consts::PI;
        (
            (q1 * q2).sqrt() * (th.sin() + (pi - th) * r) / (2.0 * pi),
            (pi - th) / (2.0 * pi),
        )
    };
    let dot = |u: &[f64; 2], v: &[f64; 2]| (u[0] * v[0] + u[1] * v[1]) / 2.0;
    let state = |i: usize, j: usize| {
        let (mut s, mut th) = (dot(&x[i], &x[j]), 0.0);
        let (mut qi, mut qj) = (dot(&x[i], &x[i]), dot(&x[j], &x[j]));
        // dense(1,0.1)
        let b2 = 0.01;
        (s, qi, qj) = (s + b2, qi + b2, qj + b2);
        th += s; // w² = 1
                 // [ relu dense(1.2,0) ]
        let (k1, d1) = relu(qi, qj, s);
        let (ki, _) = relu(qi, qi, qi);
        let (kj, _) = relu(qj, qj, qj);
        let w2 = 1.44;
        let (bs, bt) = (w2 * k1, w2 * k1 + w2 * th * d1);
        let (bqi, bqj) = (w2 * ki, w2 * kj);
        (s, th, qi, qj) = (s + bs, th + bt, qi + bqi, qj + bqj);
        // layernorm
        let dv = ((qi + 1e-12) * (qj + 1e-12)).sqrt();
        (s, th) = (s / dv, th / dv);
        // dense(1,0)
        (s, s + th)
    };
    for i in 0..2 {
        for j in 0..2 {
            let (ks, ts) = state(i, j);
            assert!(
                (k[i * 2 + j] - ks).abs() < 1e-14 * ks.abs().max(1.0),
                "{i}{j}"
            );
            assert!(
                (t[i * 2 + j] - ts).abs() < 1e-14 * ts.abs().max(1.0),
                "{i}{j}"
            );
        }
    }
}

/// Matrices as nested vectors for the plain evaluation below.
type M = Vec<Vec<f64>>;

fn mul(a: &M, b: &M) -> M {
    let n = a.len();
    (0..n)
        .map(|i| {
            (0..n)
                .map(|j| (0..n).map(|k| a[i][k] * b[k][j]).sum())
                .collect()
        })
        .collect()
}

fn transpose(a: &M) -> M {
    let n = a.len();
    (0..n).map(|i| (0..n).map(|j| a[j][i]).collect()).collect()
}

fn weights(s: &M, wqk: f64, softmax: bool) -> M {
    s.iter()
        .map(|row| {
            let z: Vec<f64> = row.iter().map(|v| wqk * v).collect();
            if softmax {
                let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
                let sum: f64 = e.iter().sum();
                e.iter().map(|v| v / sum).collect()
            } else {
                z
            }
        })
        .collect()
}

/// `dense(1.1,0.2) attn(0.7,1.3,0.9,1.2) [ layernorm attn_id(0.6,0.5,1.1,0.8) ]
/// identity gap dense(1,0)` written out on whole matrices, against the crate.
#[test]
fn plain_evaluation_of_the_maps() {
    let (l, c, n) = (4, 3, 3);
    let x = inputs(n * l * c, 7);
    let arch = "dense(1.1,0.2) attn(0.7,1.3,0.9,1.2) [ layernorm attn_id(0.6,0.5,1.1,0.8) ] \
                identity gap dense(1,0)";
    let (k, t) = gram(arch, &x, seq(l, c)).unwrap();
    let sigma0 = |i: usize, j: usize| -> M {
        (0..l)
            .map(|s| {
                (0..l)
                    .map(|u| {
                        (0..c)
                            .map(|ch| x[i * l * c + s * c + ch] * x[j * l * c + u * c + ch])
                            .sum::<f64>()
                            / c as f64
                    })
                    .collect()
            })
            .collect()
    };
    // The state of (i, j) and of (i, i), (j, j) after each layer.
    let run = |i: usize, j: usize| -> (f64, f64) {
        let (mut s, mut si, mut sj) = (sigma0(i, j), sigma0(i, i), sigma0(j, j));
        let mut th = vec![vec![0.0; l]; l];
        let affine = |m: &M, w2: f64, b2: f64| -> M {
            m.iter()
                .map(|r| r.iter().map(|v| w2 * v + b2).collect())
                .collect()
        };
        let add = |a: &M, b: &M, f: f64| -> M {
            a.iter()
                .zip(b)
                .map(|(r, q)| r.iter().zip(q).map(|(u, v)| u + f * v).collect())
                .collect()
        };
        // dense(1.1,0.2)
        let (w2, b2) = (1.21, 0.04);
        s = affine(&s, w2, b2);
        si = affine(&si, w2, b2);
        sj = affine(&sj, w2, b2);
        th = add(&s, &th, w2);
        // attention: Σ′ = c²·Gi Σ Gjᵀ, Θ′ = c²·Gi Θ Gjᵀ + 2Σ′
        let attend = |s: &M, th: &M, si: &M, sj: &M, wqk: f64, c2: f64, soft: bool| {
            let (gi, gj) = (weights(si, wqk, soft), weights(sj, wqk, soft));
            let f = |a: &M, b: &M, m: &M| affine(&mul(&mul(a, m), &transpose(b)), c2, 0.0);
            let s2 = f(&gi, &gj, s);
            let t2 = add(&f(&gi, &gj, th), &s2, 2.0);
            (s2, t2, f(&gi, &gi, si), f(&gj, &gj, sj))
        };
        let c2 = (0.9_f64 * 1.2).powi(2);
        (s, th, si, sj) = attend(&s, &th, &si, &sj, 0.7 * 1.3, c2, true);
        // [ layernorm attn_id ]
        let (s0, t0, si0, sj0) = (s.clone(), th.clone(), si.clone(), sj.clone());
        let norm = |m: &M, a: &M, b: &M| -> M {
            (0..l)
                .map(|p| {
                    (0..l)
                        .map(|q| m[p][q] / ((a[p][p] + 1e-12) * (b[q][q] + 1e-12)).sqrt())
                        .collect()
                })
                .collect()
        };
        let (bs, bt) = (norm(&s, &si, &sj), norm(&th, &si, &sj));
        let (bsi, bsj) = (norm(&si, &si, &si), norm(&sj, &sj, &sj));
        let c2 = (1.1_f64 * 0.8).powi(2);
        let (bs, bt, bsi, bsj) = attend(&bs, &bt, &bsi, &bsj, 0.6 * 0.5, c2, false);
        (s, th) = (add(&s0, &bs, 1.0), add(&t0, &bt, 1.0));
        let _ = (add(&si0, &bsi, 1.0), add(&sj0, &bsj, 1.0));
        // gap dense(1,0)
        let mean = |m: &M| m.iter().flatten().sum::<f64>() / (l * l) as f64;
        let (ks, ts) = (mean(&s), mean(&th));
        (ks, ks + ts)
    };
    for i in 0..n {
        for j in 0..n {
            let (ks, ts) = run(i, j);
            assert!(
                (k[i * n + j] - ks).abs() <= 1e-13 * ks.abs().max(1.0),
                "nngp {i}{j}"
            );
            assert!(
                (t[i * n + j] - ts).abs() <= 1e-13 * ts.abs().max(1.0),
                "ntk {i}{j}"
            );
        }
    }
}

#[test]
fn workspace_is_exact_and_within_the_bound() {
    let shape = seq(8, 2);
    let len = |s: &str| {
        s.parse::<Architecture<f64>>()
            .unwrap()
            .workspace_len(shape)
            .unwrap()
    };
    let (p, p2) = (8, 64);
    // Whole tables (attention), three attention matrices.
    assert_eq!(
        len("attn(1,1,1,1) relu flatten dense(1,0)"),
        5 * p2 + 12 * p + 3 * p2
    );
    // A residual block keeps four tables, four vectors and three bounds;
    // offset 0 only for flatten.
    assert_eq!(
        len("conv(3,1,0) [ relu conv(3,1,0) ] flatten dense(1,0)"),
        5 * p + 12 * p + (4 * p + 4 * p + 3)
    );
    // Two levels of nesting, whole tables.
    let deep = "dense(1,0) [ relu dense(1,0) [ attn(1,1,1,1) ] ] gap dense(1,0)";
    let whole = 5 * p2 + 12 * p + 3 * p2;
    assert_eq!(len(deep), whole + 2 * (4 * p2 + 4 * p + 3));
    assert!(len(deep) <= Architecture::<f64>::workspace_bound(p));
    // The deepest nesting that nine layers hold, against the bound.
    let a: Architecture<f64, 9> = "dense(1,0) [ [ [ attn(1,1,1,1) ] ] ] gap".parse().unwrap();
    let need = a.workspace_len(shape).unwrap();
    assert_eq!(need, whole + 3 * (4 * p2 + 4 * p + 3));
    assert!(need <= Architecture::<f64, 9>::workspace_bound(p));
    // A short workspace.
    let a: Architecture<f64> = deep.parse().unwrap();
    let x = inputs(2 * 16, 3);
    let mut ws = vec![0.0; len(deep) - 1];
    let (mut k, mut t) = ([7.0; 4], [7.0; 4]);
    assert_eq!(
        a.gram_spatial(&x, shape, &mut ws, &mut k, &mut t),
        Err(Error::BufferTooSmall {
            needed: len(deep),
            given: len(deep) - 1
        })
    );
    assert_eq!((k, t), ([0.0; 4], [0.0; 4]));
}

/// Images: the softmax runs jointly over all H·W positions; the kernels
/// are those of the same image read as a sequence of H·W positions when
/// nothing else looks at the rows.
#[test]
fn image_attention_is_sequence_attention_over_all_positions() {
    let x = inputs(3 * 6 * 2, 11);
    let arch = "dense(1.2,0.1) attn(0.8,1.1,1,1.3) [ relu dense(1,0.1) ] [ attn_id(0.4,0.5,1,1) ] \
                layernorm gap dense(1,0)";
    let img = Shape::Image {
        height: 2,
        width: 3,
        channels: 2,
    };
    let (ki, ti) = gram(arch, &x, img).unwrap();
    let (ks, ts) = gram(arch, &x, seq(6, 2)).unwrap();
    for (u, v) in ki.iter().zip(&ks).chain(ti.iter().zip(&ts)) {
        assert!((u - v).abs() <= 1e-13 * v.abs().max(1.0));
    }
}

#[cfg(feature = "error-bounds")]
mod properties {
    use super::*;
    use ntk::analytic::PRECISION_LIMIT;
    use proptest::prelude::*;

    /// A unit that takes a Gaussian stream to a Gaussian stream.
    fn unit() -> impl Strategy<Value = String> {
        let act = prop_oneof![
            Just("relu"),
            Just("abs"),
            Just("erf"),
            Just("leaky_relu(0.1)"),
            Just("identity")
        ];
        (
            0..7_usize,
            act,
            0.3..1.6_f64,
            0.0..0.4_f64,
            prop::collection::vec(0.2..1.4_f64, 4),
        )
            .prop_map(|(kind, act, w, b, q)| {
                let attn = format!("attn({},{},{},{})", q[0], q[1], q[2], q[3]);
                let attn_id = format!("attn_id({},{},{},{})", q[0] / 2.0, q[1] / 2.0, q[2], q[3]);
                match kind {
                    0 => format!("{act} dense({w},{b})"),
                    1 => format!("[ {act} dense({w},{b}) ]"),
                    2 => attn,
                    3 => attn_id,
                    4 => "layernorm".to_string(),
                    5 => format!("[ {attn} ] layernorm"),
                    _ => format!("[ {act} conv(3,{w},{b}) [ {attn_id} ] ]"),
                }
            })
    }

    fn is_psd(m: &[f64], n: usize) -> bool {
        let top = (0..n).map(|i| m[i * n + i]).fold(0.0, f64::max);
        let eps = 1e-10 * top;
        let mut l = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let mut s = m[i * n + j] + if i == j { eps } else { 0.0 };
                for p in 0..j {
                    s -= l[i * n + p] * l[j * n + p];
                }
                if i == j {
                    if s <= 0.0 {
                        return false;
                    }
                    l[i * n + i] = s.sqrt();
                } else {
                    l[i * n + j] = s / l[j * n + j];
                }
            }
        }
        true
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::common::cases(48)))]

        /// Symmetric bit for bit, with identical rows for a repeated
        /// input, and positive semi-definite; f32, when accepted, within
        /// the limit of f64 relative to the diagonal scale.
        #[test]
        fn gram_is_symmetric_psd_and_f32_agrees(
            units in prop::collection::vec(unit(), 1..=4),
            readout in prop_oneof![Just("gap"), Just("flatten")],
            x in prop::collection::vec(-1.0..1.0_f64, 3 * 5 * 2),
        ) {
            let arch = format!("dense(1,0.1) {} {readout} dense(1,0)", units.join(" "));
            let x: Vec<f64> = x.iter().map(|&v| f64::from(v as f32)).collect();
            // Input 1 repeats input 0.
            let xs: Vec<f64> = [&x[..10], &x[..10], &x[10..]].concat();
            let n = 4;
            let shape = seq(5, 2);
            let (k, t) = match gram::<f64>(&arch, &xs, shape) {
                Ok(kt) => kt,
                // A refusal is allowed ("Ok means correct"): on degenerate
                // inputs (all zero) tiny variances meet layer norm's ε
                // behind small attention weights, and the bound gives up.
                Err(Error::PrecisionLoss { .. }) => return Ok(()),
                Err(e) => panic!("{arch}: {e}"),
            };
            for m in [&k, &t] {
                for i in 0..n {
                    for j in 0..n {
                        prop_assert_eq!(m[i * n + j].to_bits(), m[j * n + i].to_bits());
                    }
                }
                prop_assert_eq!(&m[..n], &m[n..2 * n]);
                prop_assert!(is_psd(m, n), "{}: not PSD", arch);
            }
            let x32: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
            match gram::<f32>(&arch, &x32, shape) {
                Ok((k32, t32)) => {
                    for (m32, m) in [(&k32, &k), (&t32, &t)] {
                        for i in 0..n {
                            for j in 0..n {
                                let scale = (m[i * n + i] * m[j * n + j]).sqrt();
                                let e = (f64::from(m32[i * n + j]) - m[i * n + j]).abs();
                                prop_assert!(e <= PRECISION_LIMIT * scale + 1e-30, "{}: ({},{}) off by {:e}", arch, i, j, e / scale);
                            }
                        }
                    }
                }
                Err(e) => prop_assert_eq!(e, Error::PrecisionLoss { what: "kernel" }),
            }
        }
    }
}

//! Sequence and image kernels: "Ok means correct" (the rounding-error bound
//! carried through the position-pair tables, held against f64), refusals
//! with zeroed outputs, and the banded tables against the whole ones.

use crate::common::reference::F32_REFUSED;
use crate::recurrent::seq;
use ntk::analytic::{Architecture, Shape};
use ntk::Error;

const STRUCTURED: &str = include_str!("../data/structured_public.txt");

/// The Gram matrices (NNGP, NTK; row-major) of `arch` on `x` of shape
/// `shape` in precision `T`, with the exact workspace; an error must leave
/// both zeroed.
pub(crate) fn gram<T: ntk::Real>(
    arch: &str,
    x: &[T],
    shape: Shape,
) -> Result<(Vec<T>, Vec<T>), Error> {
    let a: Architecture<T> = arch.parse().unwrap();
    let n = x.len() / shape.len();
    let mut ws = vec![T::ZERO; a.workspace_len(shape)?];
    let (mut k, mut t) = (vec![T::from_f64(7.0); n * n], vec![T::from_f64(7.0); n * n]);
    let r = a.gram_spatial(x, shape, &mut ws, &mut k, &mut t);
    if r.is_err() {
        assert!(
            k.iter().chain(&t).all(|&v| v == T::ZERO),
            "{arch}: not zeroed"
        );
    }
    r.map(|()| (k, t))
}

/// The Gram matrices (NNGP then NTK, row-major) of `arch` on `x` in f64 and
/// in f32 (read back as f64), with the exact workspace.
type Both = (Result<Vec<f64>, Error>, Result<Vec<f64>, Error>);
fn both_precisions(arch: &str, x: &[f64], shape: Shape) -> Both {
    let r64 = gram(arch, x, shape).map(|(k, t)| [k, t].concat());
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let r32 =
        gram(arch, &x32, shape).map(|(k, t)| k.iter().chain(&t).map(|&v| f64::from(v)).collect());
    (r64, r32)
}

/// Deterministic inputs in [−1, 1].
pub(crate) fn inputs(count: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..count)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

/// Every case of the file the build compiles (without the `attention`
/// feature, the 14 pure convolutional ones).
#[test]
fn reference_cases_are_accepted_in_both_precisions() {
    let mut count = 0;
    for case in ntk::analytic::text::cases(STRUCTURED) {
        let Ok(a) = case.architecture::<f64, 32>() else {
            continue;
        };
        let shape = case.shape().unwrap();
        a.workspace_len(shape).unwrap();
        let (n, d) = case.dims().unwrap();
        let mut x = vec![0.0; n * d];
        case.read_inputs(&mut x).unwrap();
        let (r64, r32) = both_precisions(case.arch().unwrap(), &x, shape);
        r64.unwrap_or_else(|e| panic!("{}: f64 {e}", case.name()));
        if cfg!(feature = "error-bounds") && F32_REFUSED.contains(&case.name()) {
            // See `F32_REFUSED`: the bound passes the limit (outputs zeroed,
            // checked by `both_precisions`).
            assert_eq!(
                r32,
                Err(Error::PrecisionLoss { what: "kernel" }),
                "{}",
                case.name()
            );
        } else {
            r32.unwrap_or_else(|e| panic!("{}: f32 {e}", case.name()));
        }
        count += 1;
    }
    assert_eq!(count, if cfg!(feature = "attention") { 48 } else { 14 });
}

/// On one position a convolution of size 1 is a dense layer and `flatten`
/// the identity: the spatial routines refuse what the flat ones refuse.
#[cfg(feature = "error-bounds")]
#[test]
fn near_collinear_inputs_behind_huge_variances_are_refused_as_in_the_flat_path() {
    let x = [1.0_f32, 0.0, 0.5, 1.0, 0.0, 0.5001];
    let flat: Architecture<f32> = "dense(1e4,0) erf dense(1e4,0) erf dense(1,0)"
        .parse()
        .unwrap();
    let (mut k, mut t) = ([0.0; 4], [0.0; 4]);
    assert_eq!(
        flat.gram_flat(&x, 3, &mut k, &mut t),
        Err(Error::PrecisionLoss { what: "kernel" })
    );
    let conv: Architecture<f32> = "conv(1,1e4,0) erf conv(1,1e4,0) erf flatten dense(1,0)"
        .parse()
        .unwrap();
    let mut ws = vec![0.0; conv.workspace_len(seq(1, 3)).unwrap()];
    let (mut k, mut t) = ([7.0; 4], [7.0; 4]);
    assert_eq!(
        conv.gram_spatial(&x, seq(1, 3), &mut ws, &mut k, &mut t),
        Err(Error::PrecisionLoss { what: "kernel" })
    );
    assert_eq!((k, t), ([0.0; 4], [0.0; 4]));
    // The same refusal on sequences, with each readout, and from cross.
    let x: Vec<f32> = [1.0, 0.0, 0.5, 0.2, 1.0, 0.0, 0.5001, 0.2].to_vec();
    for readout in ["flatten", "gap"] {
        let a: Architecture<f32> =
            format!("conv(3,1e4,0) erf conv(1,1e4,0) erf {readout} dense(1,0)")
                .parse()
                .unwrap();
        let shape = seq(4, 2);
        let mut ws = vec![0.0; a.workspace_len(shape).unwrap()];
        let (mut k, mut t) = ([7.0; 1], [7.0; 1]);
        let r = a.cross_spatial(&x[..8], &x[..8], shape, &mut ws, &mut k, &mut t);
        assert!(r.is_ok(), "{readout}: a repeated input is exact: {r:?}");
        let y: Vec<f32> = [1.0, 0.0, 0.5, 0.2, 1.0, 0.0, 0.5001, 0.2001].to_vec();
        let (mut k, mut t) = ([7.0; 2], [7.0; 2]);
        let r = a.cross_spatial(&x, &y, shape, &mut ws, &mut k, &mut t);
        assert_eq!(r, Err(Error::PrecisionLoss { what: "kernel" }), "{readout}");
        assert_eq!((k, t), ([0.0; 2], [0.0; 2]));
    }
    // f64 carries the same networks.
    let conv: Architecture<f64> = "conv(1,1e4,0) erf conv(1,1e4,0) erf flatten dense(1,0)"
        .parse()
        .unwrap();
    let x = [1.0, 0.0, 0.5, 1.0, 0.0, 0.5001];
    let mut ws = vec![0.0; conv.workspace_len(seq(1, 3)).unwrap()];
    let (mut k, mut t) = ([0.0; 4], [0.0; 4]);
    conv.gram_spatial(&x, seq(1, 3), &mut ws, &mut k, &mut t)
        .unwrap();
}

#[cfg(feature = "error-bounds")]
#[test]
fn huge_variances_in_f32_are_refused_or_accurate() {
    use ntk::analytic::PRECISION_LIMIT;
    // Three sequences, the last two nearly equal.
    let mut x = inputs(2 * 6 * 2, 5);
    x.extend(
        x[12..]
            .iter()
            .enumerate()
            .map(|(i, &v)| if i == 3 { v + 1e-4 } else { v })
            .collect::<Vec<_>>(),
    );
    let x: Vec<f64> = x.iter().map(|&v| f64::from(v as f32)).collect();
    let shape = seq(6, 2);
    let mut refused = 0;
    for arch in [
        "conv(3,100,0) sin conv(3,100,0) sin gap dense(1,0)",
        "conv(1,100,0) sin conv(1,100,0) sin flatten dense(1,0)",
        "conv(3,1e4,0) erf conv(3,1e4,0) erf flatten dense(1,0)",
        "conv_circ(3,1e3,0.1) gelu avg_pool(2) conv(3,1e3,0) gelu flatten dense(1,0)",
        "conv(3,300,0) erf conv(3,300,0) erf conv(3,300,0) erf gap dense(1,0)",
    ] {
        let (r64, r32) = both_precisions(arch, &x, shape);
        let g64 = r64.unwrap_or_else(|e| panic!("{arch}: f64 {e}"));
        match r32 {
            Err(Error::PrecisionLoss { .. }) => refused += 1,
            Err(e) => panic!("{arch}: {e}"),
            Ok(g32) => {
                let n = 3;
                for block in [0, n * n] {
                    let d = |i: usize| g64[block + i * n + i].abs();
                    for i in 0..n {
                        for j in 0..n {
                            let e = (g32[block + i * n + j] - g64[block + i * n + j]).abs();
                            assert!(
                                e <= PRECISION_LIMIT * (d(i) * d(j)).sqrt(),
                                "{arch} ({i},{j})"
                            );
                        }
                    }
                }
            }
        }
    }
    assert!(refused >= 2, "{refused} refused");
}

#[cfg(feature = "quadrature")]
#[test]
fn quadrature_estimate_of_every_entry_is_held_against_the_limit() {
    // tanh needs its quadrature: beyond input variances of 1e20 the rule
    // stops refining and the estimate refuses it, as in the flat routines.
    let x = inputs(2 * 4, 9);
    let shape = seq(4, 1);
    for readout in ["flatten", "gap"] {
        let arch = format!("conv(3,1e11,0) tanh {readout} dense(1,0)");
        let (r64, _) = both_precisions(&arch, &x, shape);
        assert_eq!(r64, Err(Error::PrecisionLoss { what: "kernel" }), "{arch}");
        let arch = format!("conv(3,2,0.1) tanh {readout} dense(1,0)");
        let (r64, r32) = both_precisions(&arch, &x, shape);
        assert!(r64.is_ok() && r32.is_ok(), "{arch}");
    }
}

#[test]
fn flatten_readouts_keep_a_band_of_offsets() {
    let shape = seq(64, 2);
    let bound = Architecture::<f64>::workspace_bound(64);
    let len = |s: &str| {
        let a: Architecture<f64> = s.parse().unwrap();
        a.workspace_len(shape).unwrap()
    };
    // Offset 0 only: five tables of 64 entries and twelve vectors.
    assert_eq!(
        len("conv(3,1,0) relu conv(3,1,0) relu flatten dense(1,0)"),
        17 * 64
    );
    // avg_pool(2) reads offsets ±1 (2·0 + 1), avg_pool(4) after it ±(2·3 + 1)...
    assert_eq!(
        len("conv(3,1,0) relu avg_pool(2) flatten dense(1,0)"),
        5 * 3 * 64 + 12 * 64
    );
    assert_eq!(
        len("conv(3,1,0) avg_pool(2) relu avg_pool(2) flatten dense(1,0)"),
        5 * 7 * 64 + 12 * 64
    );
    // gap reads every offset.
    assert_eq!(
        len("conv(3,1,0) relu gap dense(1,0)"),
        3 * 64 * 64 + 2 * 64 + 12 * 64
    );
    assert_eq!(
        len("conv(3,1,0) relu gap dense(1,0) relu dense(1,0)"),
        5 * 64 * 64 + 12 * 64
    );
    assert!(5 * 64 * 64 + 12 * 64 < bound);
    // Images: a band in both directions.
    let image = Shape::Image {
        height: 8,
        width: 8,
        channels: 1,
    };
    let a: Architecture<f64> = "conv(3,1,0) relu avg_pool(2) flatten dense(1,0)"
        .parse()
        .unwrap();
    assert_eq!(a.workspace_len(image).unwrap(), 5 * 9 * 64 + 12 * 64);
}

/// The banded kernels against a plain evaluation of the whole recursion
/// (every position pair, O(L²) per table) written out here.
#[test]
fn banded_kernels_match_the_whole_tables() {
    let archs = [
        "conv(3,1.5,0.1) relu conv(3,1.2,0.2) erf flatten dense(1.1,0.1)",
        "conv_circ(3,1.5,0.1) abs avg_pool(2) conv(3,1.3,0) erf flatten dense(1,0)",
        "conv(5,1.4,0.3) leaky_relu(0.2) avg_pool(2) relu avg_pool(2) flatten dense(1,0.2) relu dense(1,0)",
        "conv(3,1.5,0.1) relu conv_circ(3,1.5,0.1) relu gap dense(1.5,0.1)",
    ];
    let (l, c, n) = (8, 2, 3);
    let x = inputs(n * l * c, 3);
    for arch in archs {
        let a: Architecture<f64> = arch.parse().unwrap();
        let shape = seq(l, c);
        let mut ws = vec![0.0; a.workspace_len(shape).unwrap()];
        let (mut k, mut t) = (vec![0.0; n * n], vec![0.0; n * n]);
        a.gram_spatial(&x, shape, &mut ws, &mut k, &mut t).unwrap();
        for i in 0..n {
            for j in 0..n {
                let (kr, tr) = whole(
                    arch,
                    &x[i * l * c..][..l * c],
                    &x[j * l * c..][..l * c],
                    l,
                    c,
                );
                let tol = 1e-12 * kr.abs().max(tr.abs()).max(1.0);
                assert!(
                    (k[i * n + j] - kr).abs() <= tol,
                    "{arch} ({i},{j}) nngp {} vs {kr}",
                    k[i * n + j]
                );
                assert!(
                    (t[i * n + j] - tr).abs() <= tol,
                    "{arch} ({i},{j}) ntk {} vs {tr}",
                    t[i * n + j]
                );
            }
        }
    }
}

/// The whole-table recursion of a sequence pair, for the layers that
/// [`banded_kernels_match_the_whole_tables`] uses, with the dual maps in
/// plain f64 (the ReLU family by the arc-cosine formula, erf by its closed form).
fn whole(arch: &str, xa: &[f64], xb: &[f64], l: usize, c: usize) -> (f64, f64) {
    use std::f64::consts::PI;
    type M = Vec<Vec<f64>>;
    let cov = |u: &[f64], v: &[f64]| -> M {
        (0..l)
            .map(|s| {
                (0..l)
                    .map(|t| (0..c).map(|h| u[s * c + h] * v[t * c + h]).sum::<f64>() / c as f64)
                    .collect()
            })
            .collect()
    };
    let (mut saa, mut sbb, mut sab) = (cov(xa, xa), cov(xb, xb), cov(xa, xb));
    let mut tab: M = vec![vec![0.0; l]; l];
    let mut len = l;
    // (Σ′, Σ̇) of a pair with variances q1, q2 and covariance k.
    let dual = |act: &str, q1: f64, q2: f64, k: f64| -> (f64, f64) {
        let rho = (k / (q1 * q2).sqrt()).clamp(-1.0, 1.0);
        let arc = |a: f64, b: f64| {
            let th = rho.acos();
            let f = (a - b).powi(2) / (2.0 * PI);
            let h = (a * a + b * b) / 2.0;
            (
                f * (q1 * q2).sqrt() * th.sin() + (h - f * th) * k,
                h - f * th,
            )
        };
        match act {
            "relu" => arc(0.0, 1.0),
            "abs" => arc(-1.0, 1.0),
            "leaky_relu(0.2)" => arc(0.2, 1.0),
            "erf" => {
                let d = (1.0 + 2.0 * q1) * (1.0 + 2.0 * q2);
                let s = 2.0 / PI * (2.0 * k / d.sqrt()).asin();
                (s, 4.0 / PI / (d - 4.0 * k * k).sqrt())
            }
            _ => panic!("{act}"),
        }
    };
    let mut tokens: Vec<&str> = arch.split_whitespace().collect();
    tokens.retain(|t| !t.is_empty());
    let params = |t: &str| -> Vec<f64> {
        t[t.find('(').unwrap() + 1..t.len() - 1]
            .split(',')
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let mut flat = false;
    for tok in tokens {
        if tok.starts_with("conv") {
            let p = params(tok);
            let (q, w2, b2) = (p[0] as usize, p[1] * p[1], p[2] * p[2]);
            let circ = tok.starts_with("conv_circ");
            let r = (q / 2) as isize;
            let shift = |m: &M| -> M {
                let mut o = vec![vec![0.0; len]; len];
                for s in 0..len {
                    for t in 0..len {
                        for d in -r..=r {
                            let (a, b) = (s as isize + d, t as isize + d);
                            let n = len as isize;
                            let (a, b) = if circ {
                                (a.rem_euclid(n), b.rem_euclid(n))
                            } else if (0..n).contains(&a) && (0..n).contains(&b) {
                                (a, b)
                            } else {
                                continue;
                            };
                            o[s][t] += m[a as usize][b as usize];
                        }
                    }
                }
                o
            };
            let aff = |m: &M| -> M {
                shift(m)
                    .iter()
                    .map(|r| r.iter().map(|v| w2 / q as f64 * v + b2).collect())
                    .collect()
            };
            let th = shift(&tab);
            saa = aff(&saa);
            sbb = aff(&sbb);
            sab = aff(&sab);
            for s in 0..len {
                for t in 0..len {
                    tab[s][t] = sab[s][t] + w2 / q as f64 * th[s][t];
                }
            }
        } else if tok.starts_with("avg_pool") {
            let p = params(tok)[0] as usize;
            let pool = |m: &M| -> M {
                (0..len / p)
                    .map(|a| {
                        (0..len / p)
                            .map(|b| {
                                (0..p)
                                    .flat_map(|i| (0..p).map(move |j| (i, j)))
                                    .map(|(i, j)| m[a * p + i][b * p + j])
                                    .sum::<f64>()
                                    / (p * p) as f64
                            })
                            .collect()
                    })
                    .collect()
            };
            saa = pool(&saa);
            sbb = pool(&sbb);
            sab = pool(&sab);
            tab = pool(&tab);
            len /= p;
        } else if tok == "flatten" || tok == "gap" {
            let read = |m: &M| -> M {
                let v = if tok == "flatten" {
                    (0..len).map(|s| m[s][s]).sum::<f64>() / len as f64
                } else {
                    m.iter().flatten().sum::<f64>() / (len * len) as f64
                };
                vec![vec![v]]
            };
            saa = read(&saa);
            sbb = read(&sbb);
            sab = read(&sab);
            tab = read(&tab);
            len = 1;
            flat = true;
        } else if tok.starts_with("dense") {
            let p = params(tok);
            let (w2, b2) = (p[0] * p[0], p[1] * p[1]);
            for m in [&mut saa, &mut sbb] {
                for v in m.iter_mut().flatten() {
                    *v = w2 * *v + b2;
                }
            }
            for s in 0..len {
                for t in 0..len {
                    sab[s][t] = w2 * sab[s][t] + b2;
                    tab[s][t] = sab[s][t] + w2 * tab[s][t];
                }
            }
        } else {
            let (qa, qb): (Vec<f64>, Vec<f64>) = (
                (0..len).map(|s| saa[s][s]).collect(),
                (0..len).map(|s| sbb[s][s]).collect(),
            );
            let map = |m: &mut M, q1: &[f64], q2: &[f64], th: Option<&mut M>| {
                let mut th = th;
                for s in 0..len {
                    for t in 0..len {
                        let (k2, dot) = dual(tok, q1[s], q2[t], m[s][t]);
                        m[s][t] = k2;
                        if let Some(th) = th.as_deref_mut() {
                            th[s][t] *= dot;
                        }
                    }
                }
            };
            map(&mut sab, &qa, &qb, Some(&mut tab));
            map(&mut saa, &qa, &qa, None);
            map(&mut sbb, &qb, &qb, None);
        }
    }
    assert!(flat);
    (sab[0][0], tab[0][0])
}

#[cfg(feature = "error-bounds")]
mod properties {
    use super::*;
    use ntk::analytic::PRECISION_LIMIT;
    use proptest::prelude::*;

    fn layer() -> impl Strategy<Value = String> {
        (
            prop_oneof![Just("conv"), Just("conv_circ")],
            prop_oneof![Just(1_usize), Just(3), Just(5)],
            prop_oneof![
                Just("relu"),
                Just("abs"),
                Just("leaky_relu(0.1)"),
                Just("erf"),
                Just("gelu"),
                Just("sin"),
                Just("identity")
            ],
            -0.3..2.5_f64,
            0.0..0.5_f64,
            prop_oneof![3 => Just(""), 1 => Just(" avg_pool(2)")],
        )
            .prop_map(|(conv, q, act, lw, b, pool)| {
                format!("{conv}({q},{},{b}) {act}{pool}", 10f64.powf(lw))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::common::cases(64)))]

        /// Every kernel accepted in f32 is within the limit of f64 (relative
        /// to the diagonal scale), on sequences where two inputs nearly
        /// coincide and one repeats.
        #[test]
        fn accepted_f32_kernels_are_accurate(
            layers in prop::collection::vec(layer(), 1..=4),
            readout in prop_oneof![Just("flatten"), Just("gap")],
            x in prop::collection::vec(-1.0..1.0_f64, 8 * 2),
            eps in prop_oneof![Just(0.0), Just(1e-6), Just(1e-4)],
        ) {
            // Pooling twice halves L = 8 twice; more would not divide it.
            let mut pools = 0;
            let layers: Vec<String> = layers
                .into_iter()
                .map(|l| {
                    if l.ends_with("avg_pool(2)") {
                        pools += 1;
                        if pools > 2 {
                            return l.replace(" avg_pool(2)", "");
                        }
                    }
                    l
                })
                .collect();
            let arch = format!("{} {readout} dense(1,0)", layers.join(" "));
            let mut xs = x.clone();
            xs.extend(x.iter().enumerate().map(|(i, &v)| if i % 3 == 0 { v + eps } else { v }));
            xs.extend_from_slice(&x);
            let xs: Vec<f64> = xs.iter().map(|&v| f64::from(v as f32)).collect();
            let (r64, r32) = both_precisions(&arch, &xs, seq(8, 2));
            if let (Ok(g64), Ok(g32)) = (r64, r32) {
                let n = 3;
                let diag = |g: &[f64], i: usize| g[i * n + i].abs();
                for block in [0, n * n] {
                    for i in 0..n {
                        for j in 0..n {
                            let scale = (diag(&g64[block..], i) * diag(&g64[block..], j)).sqrt();
                            let e = (g32[block + i * n + j] - g64[block + i * n + j]).abs();
                            prop_assert!(
                                e <= PRECISION_LIMIT * scale + 1e-30,
                                "{arch}, eps {eps:e}: entry ({i},{j}) of block {block} off by {:e}",
                                e / scale
                            );
                        }
                    }
                }
            }
        }
    }
}

/// `gram_grid` and `cross_grid` give what `gram_spatial` and
/// `cross_spatial` give, bit for bit and error for error, on architectures
/// without a recurrent layer, and refuse a recurrent one with zeroed
/// outputs where the spatial entries hand it to the recurrent routines.
#[test]
fn grid_entries_match_the_spatial_ones_and_refuse_recurrent_architectures() {
    let img = Shape::Image {
        height: 4,
        width: 4,
        channels: 2,
    };
    let cases = [
        ("conv(3,1.5,0.1) relu flatten dense(1.5,0.1)", seq(8, 3)),
        ("conv_circ(3,1.2,0.2) erf gap dense(1,0.1)", seq(6, 2)),
        ("conv(3,1.4,0.1) relu avg_pool(2) flatten dense(1,0)", img),
        ("dense(1.3,0.2) gelu flatten dense(1,0)", seq(3, 2)),
    ];
    for (arch, shape) in cases {
        let a = Architecture::<f64>::parse(arch).unwrap();
        let (n, m) = (4, 3);
        let x = inputs(n * shape.len(), 11);
        let xt = inputs(m * shape.len(), 12);
        let need = a.workspace_len(shape).unwrap();
        // The exact workspace, then one number short (BufferTooSmall).
        for len in [need, need - 1] {
            let mut ws = vec![0.0; len];
            let (mut k1, mut t1) = (vec![7.0; n * n], vec![7.0; n * n]);
            let (mut k2, mut t2) = (vec![5.0; n * n], vec![5.0; n * n]);
            let r1 = a.gram_spatial(&x, shape, &mut ws, &mut k1, &mut t1);
            let r2 = a.gram_grid(&x, shape, &mut ws, &mut k2, &mut t2);
            assert_eq!(r1, r2, "{arch}");
            assert_eq!((k1, t1), (k2, t2), "{arch}");
            assert_eq!(r1.is_ok(), len == need, "{arch}");
            let (mut k1, mut t1) = (vec![7.0; m * n], vec![7.0; m * n]);
            let (mut k2, mut t2) = (vec![5.0; m * n], vec![5.0; m * n]);
            let r1 = a.cross_spatial(&xt, &x, shape, &mut ws, &mut k1, &mut t1);
            let r2 = a.cross_grid(&xt, &x, shape, &mut ws, &mut k2, &mut t2);
            assert_eq!(r1, r2, "{arch}");
            assert_eq!((k1, t1), (k2, t2), "{arch}");
        }
    }

    let shape = seq(5, 2);
    let a = Architecture::<f32>::parse("rnn(1.2,0.8,0.1,relu) last dense(1,0.1)").unwrap();
    let x: Vec<f32> = inputs(3 * shape.len(), 13)
        .iter()
        .map(|&v| v as f32)
        .collect();
    let mut ws = vec![0.0_f32; a.workspace_len(shape).unwrap()];
    let (mut k, mut t) = (vec![7.0_f32; 9], vec![7.0_f32; 9]);
    a.gram_spatial(&x, shape, &mut ws, &mut k, &mut t).unwrap();
    assert!(k[0] > 0.0 && t[0] > 0.0);
    let r = a.gram_grid(&x, shape, &mut ws, &mut k, &mut t);
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
    assert!(k.iter().chain(&t).all(|&v| v == 0.0), "not zeroed");
    let (mut k, mut t) = (vec![7.0_f32; 6], vec![7.0_f32; 6]);
    let r = a.cross_grid(&x[..2 * shape.len()], &x, shape, &mut ws, &mut k, &mut t);
    assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
    assert!(k.iter().chain(&t).all(|&v| v == 0.0), "not zeroed");
}

//! The structured-kernel oracle of the fuzz target (`fuzz/src/cntk.rs`,
//! written independently of `src/analytic`) against the neural-tangents
//! reference kernels of `tests/data/structured_public.txt` (all 48 cases:
//! convolutions, pooling, attention, layer norm, residual blocks, on
//! sequences, images and flat inputs): the oracle that checks the library
//! is itself checked against the reference.

#[allow(dead_code)]
#[path = "../fuzz/src/cntk.rs"]
mod cntk;
mod common;

use common::reference::{CONV1D, CONV2D};

use ntk::analytic::text::{self, Matrix};
use ntk::analytic::{Architecture, Shape};

const STRUCTURED: &str = include_str!("data/structured_public.txt");

/// The cases of the file built only from layers the oracle covers: the pure
/// convolutional ones.
fn cases() -> impl Iterator<Item = &'static str> {
    CONV1D.into_iter().chain(CONV2D)
}

/// Largest |a − b| over the largest |b|.
fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

#[test]
fn oracle_matches_the_reference_kernels() {
    let mut seen = Vec::new();
    for case in text::cases(STRUCTURED) {
        let name = case.name();
        if !cases().any(|c| c == name) {
            continue;
        }
        let (n, d) = case.dims().unwrap();
        let shape = case.shape().unwrap();
        let mut x = vec![0.0; n * d];
        case.read_inputs(&mut x).unwrap();
        let (mut kr, mut tr) = (vec![0.0; n * n], vec![0.0; n * n]);
        assert!(case.read_reference(Matrix::Nngp, &mut kr).unwrap());
        assert!(case.read_reference(Matrix::Ntk, &mut tr).unwrap());
        let arch: Architecture<f64, 32> = case.architecture().unwrap();
        let ops = cntk::ops(arch.layers()).unwrap_or_else(|| panic!("{name}: not covered"));
        let (k, t) = cntk::cross(&ops, shape, &x, &x).unwrap_or_else(|| panic!("{name}: refused"));
        let (ek, et) = (rel_err(&k, &kr), rel_err(&t, &tr));
        // Measured: NNGP within 1.5e-15, NTK within 6.4e-9 (the arc-cosine's
        // derivative kernel at correlations that round near 1).
        assert!(ek <= 1e-12, "{name}: NNGP error {ek:e}");
        assert!(et <= 1e-7, "{name}: NTK error {et:e}");
        seen.push(name);
    }
    assert_eq!(seen, cases().collect::<Vec<_>>());
}

/// One case of a reference file, read by plain string splitting (not by
/// the library's reader).
struct RefCase {
    name: String,
    arch: String,
    shape: Shape,
    n: usize,
    x: Vec<f64>,
    nngp: Vec<f64>,
    ntk: Vec<f64>,
}

/// The cases of a file in the format of `reference/FORMAT.md`.
fn read_cases(text: &str) -> Vec<RefCase> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mut cases = Vec::new();
    let rows = |lines: &mut dyn Iterator<Item = &str>, n: usize| -> Vec<f64> {
        (0..n)
            .flat_map(|_| {
                lines
                    .next()
                    .expect("a row")
                    .split_whitespace()
                    .map(|v| v.parse::<f64>().expect("a number"))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    while let Some(line) = lines.next() {
        let name = line.strip_prefix("case ").expect("case NAME").to_string();
        let arch = lines.next().unwrap().strip_prefix("arch ").expect("arch");
        let dims: Vec<usize> = lines
            .next()
            .unwrap()
            .strip_prefix("inputs ")
            .expect("inputs")
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        let shape = match dims[1..] {
            [dim] => Shape::Flat { dim },
            [length, channels] => Shape::Sequence { length, channels },
            [height, width, channels] => Shape::Image {
                height,
                width,
                channels,
            },
            _ => panic!("{name}: inputs {dims:?}"),
        };
        let n = dims[0];
        let x = rows(&mut lines, n);
        assert_eq!(x.len(), n * shape.len(), "{name}: inputs");
        assert_eq!(lines.next(), Some("nngp"));
        let nngp = rows(&mut lines, n);
        assert_eq!(lines.next(), Some("ntk"));
        let ntk = rows(&mut lines, n);
        assert_eq!(lines.next(), Some("end"));
        assert_eq!((nngp.len(), ntk.len()), (n * n, n * n), "{name}");
        cases.push(RefCase {
            name,
            arch: arch.to_string(),
            shape,
            n,
            x,
            nngp,
            ntk,
        });
    }
    cases
}

#[test]
fn oracle_matches_every_structured_case() {
    let file = read_cases(STRUCTURED);
    let mut seen = Vec::new();
    let (mut worst_k, mut worst_t) = (0.0_f64, 0.0_f64);
    for c in &file {
        let (k, t) = cntk::gram(&c.arch, c.shape, &c.x)
            .unwrap_or_else(|e| panic!("{}: refused: {e}", c.name));
        assert_eq!(k.len(), c.n * c.n);
        let (ek, et) = (rel_err(&k, &c.nngp), rel_err(&t, &c.ntk));
        assert!(ek <= 1e-6, "{}: NNGP error {ek:e}", c.name);
        assert!(et <= 1e-6, "{}: NTK error {et:e}", c.name);
        (worst_k, worst_t) = (worst_k.max(ek), worst_t.max(et));
        seen.push(c.name.as_str());
    }
    // Measured: NNGP within WORST_K, NTK within WORST_T.
    // Measured: NNGP within 1.6e-15, NTK within 6.5e-9 (relu's E[φ′φ′] at
    // correlations that round near 1), as the format's own numpy check.
    assert!(
        worst_k <= 1e-12 && worst_t <= 1e-7,
        "{worst_k:e} {worst_t:e}"
    );
    // Every case of the file, 12 per family, each once.
    assert_eq!(seen.len(), 48);
    assert_eq!(STRUCTURED.matches("\ncase ").count() + 1, 48);
    for family in ["conv1d_", "conv2d_", "attn_", "resmlp_"] {
        for i in 0..12 {
            let name = format!("{family}{i:02}");
            assert_eq!(seen.iter().filter(|s| **s == name).count(), 1, "{name}");
        }
    }
    // The pure convolutional cases agree with the oracle's steps for the
    // library's parsed layers too (`oracle_matches_the_reference_kernels`).
    assert!(cases().all(|c| seen.contains(&c)));
}

#[test]
fn oracle_refuses_what_does_not_fit() {
    use cntk::Op;
    let seq = Shape::Sequence {
        length: 4,
        channels: 1,
    };
    let x = [1.0, 0.5, -1.0, 2.0];
    let dense = Op::Dense { w: 1.0, b: 0.0 };
    // Not ending flat; a window that does not divide the length; a
    // convolution after flatten; an even filter.
    assert_eq!(cntk::kernel(&[dense], seq, &x, &x), None);
    assert_eq!(cntk::kernel(&[Op::AvgPool(3), Op::Gap], seq, &x, &x), None);
    let conv = |q| Op::Conv {
        q,
        w: 1.0,
        b: 0.0,
        circular: false,
    };
    assert_eq!(cntk::kernel(&[Op::Flatten, conv(3)], seq, &x, &x), None);
    assert_eq!(cntk::kernel(&[conv(2), Op::Flatten], seq, &x, &x), None);
    // A width-1 identity convolution and flatten: the mean over positions
    // of x[s]·x′[s] (NNGP), with Θ = Σ for the one layer.
    let (k, t) = cntk::kernel(&[conv(1), Op::Flatten], seq, &x, &x).unwrap();
    let want = x.iter().map(|v| v * v).sum::<f64>() / 4.0;
    assert!((k - want).abs() <= 1e-15 && (t - want).abs() <= 1e-15);
}

#[test]
fn oracle_refuses_invalid_text() {
    for bad in [
        "",
        "dense(1,0) [ relu dense(1,0)",
        "dense(1,0) ] dense(1,0)",
        "dense(1,0) ] [ dense(1,0)",
        "dense(1)",
        "dense(1,0,0)",
        "dense(1,inf)",
        "dense(1,nan)",
        "conv(2,1,0) gap",
        "conv(0,1,0) gap",
        "avg_pool(0) gap",
        "attn(1,1,1) gap",
        "relu2",
        "dense(1,0)x",
        "gelu",
        "tanh",
    ] {
        assert!(cntk::parse(bad).is_err(), "{bad:?} parses");
    }
    let ops = cntk::parse("dense(1,0) [ relu [ dense(2,0.5) ] ] layernorm").unwrap();
    assert_eq!(ops.len(), 8);
    // The inner block follows relu: not Gaussian.
    let e = cntk::check(&ops).unwrap_err();
    assert!(e.contains("step 3") && e.contains("Gaussian"), "{e}");
    // The Gaussianity rules: an activation, layer norm or residual block on
    // raw inputs; an activation after another; a block that ends
    // non-Gaussian; flatten then an activation.
    for invalid in [
        "relu dense(1,0)",
        "layernorm dense(1,0)",
        "[ dense(1,0) ] dense(1,0)",
        "dense(1,0) relu erf dense(1,0)",
        "dense(1,0) relu layernorm dense(1,0)",
        "dense(1,0) [ dense(1,0) relu ] dense(1,0)",
        "conv(3,1,0) flatten relu dense(1,0)",
    ] {
        let ops = cntk::parse(invalid).unwrap();
        assert!(cntk::check(&ops).is_err(), "{invalid} passes");
    }
    for valid in [
        "identity dense(1,0)",
        "avg_pool(2) gap dense(1,0) relu dense(1,0)",
        "attn(1,1,1,1) [ relu dense(1,0) ] layernorm identity relu gap dense(1,0)",
        "conv(3,1,0) [ ] erf flatten dense(1,0)",
        "dense(1,0) [ [ abs dense(1,0) ] layernorm ] sin dense(1,0)",
    ] {
        let ops = cntk::parse(valid).unwrap();
        assert_eq!(cntk::check(&ops), Ok(()), "{valid}");
    }
    // Residual blocks must keep the grid; attention needs positions.
    let seq = Shape::Sequence {
        length: 4,
        channels: 1,
    };
    let x = [1.0, 0.5, -1.0, 2.0];
    for misfit in [
        "conv(3,1,0) [ avg_pool(2) conv(1,1,0) ] gap dense(1,0)",
        "conv(3,1,0) [ gap dense(1,0) ] dense(1,0)",
        "dense(1,0) attn(1,1,1,1) dense(1,0)",
    ] {
        let ops = cntk::parse(misfit).unwrap();
        let shape = if misfit.starts_with("conv") {
            seq
        } else {
            Shape::Flat { dim: 4 }
        };
        assert_eq!(cntk::kernel(&ops, shape, &x, &x), None, "{misfit}");
    }
}

/// Closed forms of small architectures, worked by hand from the format's
/// rules.
#[test]
fn oracle_follows_the_rules_on_small_cases() {
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-14 * b.abs().max(1.0);
    let flat = Shape::Flat { dim: 2 };
    let (xa, xb) = ([1.0, 2.0], [3.0, -1.0]);
    let s0 = (1.0 * 3.0 - 2.0) / 2.0;
    // A residual dense block: Σ = Σ¹ + Σ¹ = 2Σ⁰, Θ = Θ¹ + (Σ¹ + Θ¹) = 3Σ⁰.
    let ops = cntk::parse("dense(1,0) [ dense(1,0) ]").unwrap();
    let (k, t) = cntk::kernel(&ops, flat, &xa, &xb).unwrap();
    assert!(close(k, 2.0 * s0) && close(t, 3.0 * s0), "{k} {t}");
    // Layer norm after a dense layer: the cosine of the inputs (ε aside),
    // for Σ and Θ alike.
    let ops = cntk::parse("dense(1,0) layernorm").unwrap();
    let (k, t) = cntk::kernel(&ops, flat, &xa, &xb).unwrap();
    let cos = s0 / ((5.0_f64 / 2.0).sqrt() * (10.0_f64 / 2.0).sqrt());
    assert!(
        (k - cos).abs() <= 1e-11 && (t - cos).abs() <= 1e-11,
        "{k} {t}"
    );
    // Softmax attention with WQ·WK = 0 weighs every key equally: Σ′ is the
    // mean of Σ over all position pairs (times (WV·WO)²) at every [s, s′],
    // and Θ′ = 2Σ′.
    let seq = Shape::Sequence {
        length: 3,
        channels: 1,
    };
    let (ya, yb) = ([1.0, -2.0, 0.5], [0.25, 1.0, 3.0]);
    let ops = cntk::parse("attn(0,1.5,2,0.5) flatten").unwrap();
    let (k, t) = cntk::kernel(&ops, seq, &ya, &yb).unwrap();
    let mean = ya.iter().sum::<f64>() * yb.iter().sum::<f64>() / 9.0;
    assert!(close(k, mean) && close(t, 2.0 * mean), "{k} {t}");
    // Raw attention weights on one position of one channel: G = WQ·WK·x²,
    // Σ′ = (WV·WO)²·G_a·x_a·x_b·G_b.
    let one = Shape::Sequence {
        length: 1,
        channels: 1,
    };
    let ops = cntk::parse("attn_id(2,0.5,1,3) gap").unwrap();
    let (k, t) = cntk::kernel(&ops, one, &[2.0], &[-1.0]).unwrap();
    let (qk, vo, ua, ub) = (2.0 * 0.5, 1.0 * 3.0, 2.0, -1.0);
    let want = vo * vo * (qk * ua * ua) * (ua * ub) * (qk * ub * ub);
    assert!(close(k, want) && close(t, 2.0 * want), "{k} {t}");
    // sin: E[sin u sin v] = e^{−(q_a+q_b)/2} sinh Σ_ab.
    let ops = cntk::parse("dense(1,0) sin").unwrap();
    let (k, _) = cntk::kernel(&ops, flat, &xa, &xb).unwrap();
    assert!(close(k, (-(2.5 + 5.0) / 2.0_f64).exp() * s0.sinh()), "{k}");
}

/// Perturbations of the size of rounding move well-conditioned kernels by
/// about as much, and show the cancellation a layer norm amplifies.
#[test]
fn perturbations_measure_conditioning() {
    let seq = Shape::Sequence {
        length: 2,
        channels: 1,
    };
    let x = [1.0, 0.5, -0.5, 2.0, 0.25, 1.0];
    let ops = cntk::parse("conv(1,1,0.5) erf attn(1,1,1,1) gap dense(1,0)").unwrap();
    assert_eq!(cntk::sensitivity(&ops, seq, &x, 0.0), Some(0.0));
    let s = cntk::sensitivity(&ops, seq, &x, 1e-13).unwrap();
    assert!(s > 0.0 && s < 1e-11, "{s:e}");
    // relu's E[φ′φ′] = (π − arccos ρ)/2π moves by √δ where ρ = 1 (every
    // diagonal entry s = s′ of a pair's own table).
    let ops = cntk::parse("conv(1,1,0.5) relu attn(1,1,1,1) gap dense(1,0)").unwrap();
    let s = cntk::sensitivity(&ops, seq, &x, 1e-13).unwrap();
    assert!(s > 1e-10 && s < 1e-7, "{s:e}");
    // Pooling [1, −1] leaves a variance of 0 up to rounding; the layer norm
    // after it divides that rounding by ε.
    let cancel = [1.0, -1.0, 1.0, -1.0];
    let ops = cntk::parse("avg_pool(2) dense(1,0) layernorm gap dense(1,0)").unwrap();
    let (k, _) = cntk::cross(&ops, seq, &cancel, &cancel).unwrap();
    assert_eq!(k, [0.0; 4]);
    let s = cntk::sensitivity(&ops, seq, &cancel, 1e-13).unwrap();
    assert!(s > 1e-3, "{s:e}");
}

/// The library's sequence and image kernels against the oracle on random
/// architectures of the convolutional layers (conv, conv_circ, avg_pool,
/// gap, flatten, dense and the activations), valid by the format's rules:
/// every activation follows a convolution or a dense layer.
#[cfg(feature = "error-bounds")]
mod library_against_the_oracle {
    use super::cntk;
    use ntk::analytic::{Architecture, Shape, PRECISION_LIMIT};
    use ntk::Error;
    use proptest::prelude::*;

    /// Sensitivity to relative perturbations of 1e-13 below which the
    /// library must compute the kernels and agree to 1e-6 (see the `analytic`
    /// fuzz target's structured arm).
    const WELL_CONDITIONED: f64 = 1e-6;

    fn activation() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            Just("relu"),
            Just("abs"),
            Just("leaky_relu(0.1)"),
            Just("erf"),
            Just("sin"),
            Just("identity")
        ]
    }

    /// A convolution (or a dense layer) and an activation, maybe pooled.
    fn unit() -> impl Strategy<Value = (String, bool)> {
        (
            prop_oneof![Just("conv"), Just("conv_circ"), Just("dense")],
            prop_oneof![Just(1_usize), Just(3), Just(5)],
            -0.3..0.4_f64,
            prop_oneof![Just(0.0), 0.0..0.5_f64],
            activation(),
            prop_oneof![3 => Just(false), 1 => Just(true)],
        )
            .prop_map(|(layer, q, lw, b, act, pool)| {
                let w = 10f64.powf(lw);
                let head = if layer == "dense" {
                    format!("dense({w},{b})")
                } else {
                    format!("{layer}({q},{w},{b})")
                };
                (format!("{head} {act}"), pool)
            })
    }

    fn shape() -> impl Strategy<Value = Shape> {
        prop_oneof![
            (1..=6_usize, 1..=3_usize)
                .prop_map(|(length, channels)| Shape::Sequence { length, channels }),
            (1..=3_usize, 1..=3_usize, 1..=2_usize).prop_map(|(height, width, channels)| {
                Shape::Image {
                    height,
                    width,
                    channels,
                }
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::common::cases(64)))]

        /// `gram_spatial` of three inputs is refused (`PrecisionLoss`, zeroed)
        /// only where the oracle's perturbations show ill conditioning, and
        /// otherwise agrees with the oracle within 1e-6 of the diagonal
        /// scale (well conditioned) or within the precision limit.
        #[test]
        fn gram_spatial_matches_the_oracle(
            units in prop::collection::vec(unit(), 1..=4),
            shape in shape(),
            gap in any::<bool>(),
            head in prop::option::of(activation()),
            x in prop::collection::vec(-2.0..2.0_f64, 3 * 18),
        ) {
            let (mut rows, mut cols, planar) = match shape {
                Shape::Sequence { length, .. } => (1, length, false),
                Shape::Image { height, width, .. } => (height, width, true),
                _ => unreachable!(),
            };
            let mut layers = Vec::new();
            for (unit, pool) in units {
                layers.push(unit);
                if pool && cols % 2 == 0 && (!planar || rows % 2 == 0) {
                    layers.push("avg_pool(2)".to_string());
                    cols /= 2;
                    if planar {
                        rows /= 2;
                    }
                }
            }
            layers.push(if gap { "gap" } else { "flatten" }.to_string());
            layers.push("dense(1.2,0.1)".to_string());
            if let Some(act) = head {
                layers.push(format!("{act} dense(0.8,0)"));
            }
            let text = layers.join(" ");
            let n = 3;
            let x = &x[..n * shape.len()];
            let ops = cntk::parse(&text).unwrap();
            prop_assert_eq!(cntk::check(&ops), Ok(()));
            let (ko, to) = cntk::cross(&ops, shape, x, x).unwrap();
            let sensitivity = cntk::sensitivity(&ops, shape, x, 1e-13).unwrap();
            let arch = Architecture::<f64>::parse(&text).unwrap();
            let mut ws = vec![0.0; arch.workspace_len(shape).unwrap()];
            let (mut k, mut t) = (vec![7.0; n * n], vec![7.0; n * n]);
            match arch.gram_spatial(x, shape, &mut ws, &mut k, &mut t) {
                Ok(()) => {
                    let tol = if sensitivity <= WELL_CONDITIONED {
                        1e-6
                    } else {
                        PRECISION_LIMIT + 10.0 * sensitivity
                    };
                    for (name, got, want) in [("NNGP", &k, &ko), ("NTK", &t, &to)] {
                        for i in 0..n {
                            for j in 0..n {
                                let scale = cntk::diagonal_scale(want, n, i, j);
                                let (g, w) = (got[i * n + j], want[i * n + j]);
                                prop_assert!(
                                    (g - w).abs() <= tol * scale + 1e-300,
                                    "{} on {:?}: {}[{}][{}] = {:e}, oracle {:e} (sensitivity {:e})",
                                    text, shape, name, i, j, g, w, sensitivity
                                );
                            }
                        }
                    }
                }
                Err(e) => {
                    prop_assert_eq!(e, Error::PrecisionLoss { what: "kernel" });
                    prop_assert!(k.iter().chain(&t).all(|v| *v == 0.0));
                    prop_assert!(
                        sensitivity > WELL_CONDITIONED,
                        "{} on {:?}: refused, sensitivity {:e}",
                        text, shape, sensitivity
                    );
                }
            }
        }
    }
}

//! The recurrent kernels with the activations beyond RNN.md's five (abs,
//! sin, leaky ReLU, ABReLU, custom ones): the L = 1 reduction to the MLP,
//! Monte Carlo of wide finite RNNs written out here with plain loops (NNGP
//! and NTK, both readouts), the stream against the batch routine, the text
//! round trip and the typed errors.

use crate::recurrent::{gram, seq};
use ntk::analytic::{Architecture, Layer, RecurrentStream, RnnActivation, RnnNonlinearity};
use ntk::error::ParseErrorKind;
use ntk::Error;
use proptest::prelude::*;

#[cfg(feature = "quadrature")]
use ntk::analytic::CustomActivation;

#[cfg(feature = "quadrature")]
fn softsign(x: f64) -> f64 {
    x / (1.0 + x.abs())
}
#[cfg(feature = "quadrature")]
fn dsoftsign(x: f64) -> f64 {
    1.0 / ((1.0 + x.abs()) * (1.0 + x.abs()))
}

/// The new activations as fully connected layers, with φ and φ′ written
/// out for the finite networks.
type Phi = Box<dyn Fn(f64) -> f64>;
fn activations() -> Vec<(Layer<f64>, Phi, Phi)> {
    let slopes = |a: f64, b: f64| -> (Phi, Phi) {
        (
            Box::new(move |x: f64| if x > 0.0 { b * x } else { a * x }),
            Box::new(move |x: f64| if x > 0.0 { b } else { a }),
        )
    };
    let mut v: Vec<(Layer<f64>, Phi, Phi)> = Vec::new();
    let (f, df) = slopes(0.2, 1.0);
    v.push((Layer::LeakyRelu { alpha: 0.2 }, f, df));
    let (f, df) = slopes(-1.0, 1.0);
    v.push((Layer::Abs, f, df));
    let (f, df) = slopes(-0.5, 1.5);
    v.push((Layer::AbRelu { a: -0.5, b: 1.5 }, f, df));
    v.push((Layer::Sin, Box::new(f64::sin), Box::new(f64::cos)));
    #[cfg(feature = "quadrature")]
    v.push((
        Layer::Custom(CustomActivation::new("softsign", softsign, dsoftsign)),
        Box::new(softsign),
        Box::new(dsoftsign),
    ));
    v
}

fn rnn(
    act: Layer<f64>,
    (w, u, b, v, bv): (f64, f64, f64, f64, f64),
    readout: Layer<f64>,
) -> Architecture<f64> {
    let cell = Layer::rnn(w, u, b, act).unwrap();
    Architecture::from_layers(&[cell, readout, Layer::dense(v, bv)]).unwrap()
}

/// For L = 1 both readouts are the MLP `dense(U,B) ACT dense(V,BV)` on x₁
/// (the check of the issue), whatever σw.
#[test]
fn one_step_is_the_mlp() {
    let x = [0.3, -1.2, 0.8, 1.5, 0.1, -0.4, 0.0, 2.0, 1.0];
    for (act, _, _) in activations() {
        let mlp = Architecture::<f64>::from_layers(&[
            Layer::dense(1.3, 0.4),
            act,
            Layer::dense(0.9, 0.2),
        ])
        .unwrap();
        let (mut km, mut tm) = ([0.0; 9], [0.0; 9]);
        mlp.gram_flat(&x, 3, &mut km, &mut tm).unwrap();
        for readout in [Layer::Last, Layer::GlobalAvgPool] {
            let a = rnn(act, (7.0, 1.3, 0.4, 0.9, 0.2), readout);
            let (k, t) = gram(&a, &x, seq(1, 3)).unwrap();
            assert_eq!(k, km, "{a}");
            assert_eq!(t, tm, "{a}");
        }
    }
}

/// SplitMix64 with Box–Muller: standard normal numbers.
struct Normal(u64, Option<f64>);

impl Normal {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn next(&mut self) -> f64 {
        if let Some(v) = self.1.take() {
            return v;
        }
        let (a, b) = (self.uniform(), self.uniform());
        let r = (-2.0 * a.ln()).sqrt();
        let t = 2.0 * std::f64::consts::PI * b;
        self.1 = Some(r * t.sin());
        r * t.cos()
    }
    fn fill(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// One finite RNN of width `h` with weights drawn from `rng`: for every
/// sequence (L steps of D numbers) the NNGP conditional on the recurrent
/// weights (the expectation over V, c taken exactly) and the empirical NTK,
/// Σ over all parameters of ∂f/∂θ(x)·∂f/∂θ(x′), by backpropagation through
/// time; `gap` reads out the mean over time.
#[allow(clippy::too_many_arguments)]
fn finite_kernels(
    phi: &dyn Fn(f64) -> f64,
    dphi: &dyn Fn(f64) -> f64,
    (sw, su, sb, sv, sbv): (f64, f64, f64, f64, f64),
    gap: bool,
    xs: &[Vec<f64>],
    (l, d, h): (usize, usize, usize),
    rng: &mut Normal,
) -> (Vec<f64>, Vec<f64>) {
    let w = rng.fill(h * h);
    let u = rng.fill(h * d);
    let b = rng.fill(h);
    let v = rng.fill(h);
    let rh = 1.0 / (h as f64).sqrt();
    let rd = 1.0 / (d as f64).sqrt();
    // Readout weight of step t.
    let a = |t: usize| {
        if gap {
            1.0 / l as f64
        } else if t == l - 1 {
            1.0
        } else {
            0.0
        }
    };
    // Forward: hidden states h_0..h_L (h_0 = 0) and pre-activations g_1..g_L.
    // Backward: δ_t = ∂f/∂g_t.
    let mut states = Vec::new();
    for x in xs {
        let mut hs = vec![vec![0.0; h]];
        let mut gs = Vec::new();
        for t in 0..l {
            let prev = &hs[t];
            let g: Vec<f64> = (0..h)
                .map(|i| {
                    let rec: f64 = (0..h).map(|j| w[i * h + j] * prev[j]).sum();
                    let inp: f64 = (0..d).map(|c| u[i * d + c] * x[t * d + c]).sum();
                    sw * rh * rec + su * rd * inp + sb * b[i]
                })
                .collect();
            hs.push(g.iter().map(|&z| phi(z)).collect());
            gs.push(g);
        }
        let mut deltas = vec![vec![0.0; h]; l];
        let mut back = vec![0.0; h]; // ∂f/∂h_t from step t + 1
        for t in (0..l).rev() {
            let e: Vec<f64> = (0..h).map(|i| a(t) * sv * rh * v[i] + back[i]).collect();
            deltas[t] = (0..h).map(|i| e[i] * dphi(gs[t][i])).collect();
            back = (0..h)
                .map(|j| sw * rh * (0..h).map(|i| w[i * h + j] * deltas[t][i]).sum::<f64>())
                .collect();
        }
        let read: Vec<f64> = (0..h)
            .map(|i| (0..l).map(|t| a(t) * hs[t + 1][i]).sum())
            .collect();
        states.push((hs, deltas, read));
    }
    let dot = |p: &[f64], q: &[f64]| p.iter().zip(q).map(|(a, b)| a * b).sum::<f64>();
    let n = xs.len();
    let (mut k, mut th) = (vec![0.0; n * n], vec![0.0; n * n]);
    for i in 0..n {
        for j in 0..n {
            let ((hi, di, ri), (hj, dj, rj)) = (&states[i], &states[j]);
            let readout = sv * sv * dot(ri, rj) / h as f64 + sbv * sbv;
            let mut cell = 0.0;
            for t in 0..l {
                for s in 0..l {
                    let xd = dot(&xs[i][t * d..(t + 1) * d], &xs[j][s * d..(s + 1) * d]);
                    let per = sw * sw * dot(&hi[t], &hj[s]) / h as f64
                        + su * su * xd / d as f64
                        + sb * sb;
                    cell += dot(&di[t], &dj[s]) * per;
                }
            }
            k[i * n + j] = readout;
            th[i * n + j] = readout + cell;
        }
    }
    (k, th)
}

/// L = 3: the analytic NNGP and NTK against the means over `DRAWS` wide
/// finite RNNs (H = 512). An entry's Monte Carlo mean has the standard
/// error `se` estimated from the draws and a finite-width bias of order
/// 1/H; the test allows 5·se plus 3/H of the diagonal scale.
#[test]
fn monte_carlo_of_wide_rnns() {
    const DRAWS: usize = 24;
    let (l, d, h) = (3, 2, 512);
    let params = (1.1, 0.9, 0.3, 1.2, 0.5);
    let x = [
        0.5, -1.0, 1.2, 0.3, 0.0, 0.8, //
        0.9, -0.2, -0.7, 1.1, 1.5, 0.4, //
        -1.3, 0.6, 0.2, -0.9, 1.0, 1.0,
    ];
    let xs: Vec<Vec<f64>> = x.chunks(l * d).map(<[f64]>::to_vec).collect();
    let n = xs.len();
    let mut rng = Normal(20261203, None);
    let mut worst = 0.0_f64;
    for (act, phi, dphi) in activations() {
        for readout in [Layer::Last, Layer::GlobalAvgPool] {
            let a = rnn(act, params, readout);
            let (ka, ta) = gram(&a, &x, seq(l, d)).unwrap();
            let gap = readout == Layer::GlobalAvgPool;
            let (mut sum, mut sq) = (vec![0.0; 2 * n * n], vec![0.0; 2 * n * n]);
            for _ in 0..DRAWS {
                let (k, t) = finite_kernels(&*phi, &*dphi, params, gap, &xs, (l, d, h), &mut rng);
                for (e, v) in k.iter().chain(&t).enumerate() {
                    sum[e] += v;
                    sq[e] += v * v;
                }
            }
            let m = DRAWS as f64;
            for (e, want) in ka.iter().chain(&ta).enumerate() {
                let mean = sum[e] / m;
                let se = ((sq[e] / m - mean * mean).max(0.0) / (m - 1.0)).sqrt();
                let (ntk, pos) = (e / (n * n), e % (n * n));
                let (i, j) = (pos / n, pos % n);
                let diag = if ntk == 0 { &ka } else { &ta };
                let scale = (diag[i * n + i] * diag[j * n + j]).sqrt();
                let tol = 5.0 * se + 3.0 / h as f64 * scale;
                worst = worst.max((mean - want).abs() / tol);
                assert!(
                    (mean - want).abs() <= tol,
                    "{a} {} [{i}][{j}]: Monte Carlo {mean} ± {se}, analytic {want}",
                    ["nngp", "ntk"][ntk]
                );
            }
        }
    }
    println!("worst |Monte Carlo − analytic| / tolerance: {worst:.3}");
}

/// After every step the stream equals the batch routine bit for bit.
#[test]
fn stream_equals_batch_bitwise() {
    const N: usize = 3;
    let steps: [[[f64; 2]; N]; 4] = core::array::from_fn(|t| {
        core::array::from_fn(|i| {
            [
                ((t * 5 + i * 3) as f64 * 0.41).sin() * 1.4,
                ((t + 3 * i) as f64 * 0.77).cos(),
            ]
        })
    });
    for (act, _, _) in activations() {
        let a = rnn(act, (1.2, 1.0, 0.2, 1.0, 0.3), Layer::Last);
        let mut stream = RecurrentStream::<f64, N>::new(&a).unwrap();
        for l in 1..=steps.len() {
            stream.push(&steps[l - 1]).unwrap();
            let (mut k, mut t) = ([[0.0; N]; N], [[0.0; N]; N]);
            stream.gram(&mut k, &mut t).unwrap();
            let x: Vec<f64> = (0..N)
                .flat_map(|i| (0..l).flat_map(move |s| steps[s][i]))
                .collect();
            let (kb, tb) = gram(&a, &x, seq(l, 2)).unwrap();
            let bits = |m: &[f64]| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(k.as_flattened()), bits(&kb), "{a} step {l}");
            assert_eq!(bits(t.as_flattened()), bits(&tb), "{a} step {l}");
        }
    }
}

#[test]
fn text_round_trips() {
    for text in [
        "rnn(1.5,1,0.1,leaky_relu(0.2)) last dense(1,0)",
        "rnn(1.5,1,0.1,leaky_relu(-0.5)) gap dense(1,0.5)",
        "rnn(1,2,0,abrelu(-1,1)) gap dense(1.5,0.25)",
        "rnn(0.5,1,1e-7,abrelu(0.25,2)) last dense(1,0)",
        "rnn(1,1,0,abs) last dense(1,0)",
        "rnn(1.2,1,0.3,sin) gap dense(1,0)",
    ] {
        let a: Architecture<f64> = text.parse().unwrap();
        assert_eq!(a.to_string(), text);
        assert_eq!(Architecture::<f64>::parse(&a.to_string()).unwrap(), a);
        let f: Architecture<f32> = text.parse().unwrap();
        assert_eq!(f.to_string(), text);
        assert_eq!(f.to_string().parse::<Architecture<f32>>().unwrap(), f);
        // The layer the parser builds is the one `Layer::rnn` builds.
        let act = a.layers()[0].rnn_activation().unwrap();
        assert_eq!(
            Layer::rnn(1.0, 1.0, 0.0, act).unwrap().rnn_activation(),
            Some(act)
        );
    }
    let a: Architecture<f64> = "rnn(1.5,1,0.1,leaky_relu(0.2)) last dense(1,0)"
        .parse()
        .unwrap();
    assert_eq!(
        a.layers()[0],
        Layer::RnnWith {
            weight_std: 1.5,
            input_std: 1.0,
            bias_std: 0.1,
            activation: RnnNonlinearity::LeakyRelu { alpha: 0.2 },
        }
    );
    let a: Architecture<f64> = "rnn(1,1,0,sin) last dense(1,0)".parse().unwrap();
    assert_eq!(
        a.layers()[0],
        Layer::Rnn {
            weight_std: 1.0,
            input_std: 1.0,
            bias_std: 0.0,
            activation: RnnActivation::Sin,
        }
    );
    // Odd f32 values print and read back bit for bit.
    let cell = Layer::rnn(
        1.0_f32,
        1.0,
        0.0,
        Layer::AbRelu {
            a: 0.1,
            b: 1.0 / 3.0,
        },
    )
    .unwrap();
    let a = Architecture::<f32>::from_layers(&[cell, Layer::Last, Layer::dense(1.0, 0.0)]).unwrap();
    assert_eq!(a.to_string().parse::<Architecture<f32>>().unwrap(), a);
}

#[cfg(feature = "quadrature")]
#[test]
fn custom_activations_through_parse_with() {
    let acts = [CustomActivation::new("softsign", softsign, dsoftsign)];
    let text = "rnn(1.1,0.9,0.3,softsign) gap dense(1.2,0.5)";
    let a = Architecture::<f64>::parse_with(text, &acts).unwrap();
    assert_eq!(a.to_string(), text);
    assert_eq!(Architecture::parse_with(&a.to_string(), &acts).unwrap(), a);
    assert_eq!(a.layers()[0].rnn_activation(), Some(Layer::Custom(acts[0])));
    // Without the activation the name is not one `rnn` takes.
    let e = Architecture::<f64>::parse(text).unwrap_err();
    assert_eq!(
        (e.kind, e.position, e.token()),
        (ParseErrorKind::OutOfRange, 16, "softsign")
    );
}

#[test]
fn bad_activations_are_typed_errors() {
    let kind = |s: &str| {
        Architecture::<f64>::parse(s)
            .map(|_| ())
            .map_err(|e| (e.kind, e.position, e.token().to_string()))
    };
    assert_eq!(
        kind("rnn(1,1,0,leaky_relu(x)) last dense(1,0)"),
        Err((ParseErrorKind::BadNumber, 21, "x".into()))
    );
    assert_eq!(
        kind("rnn(1,1,0,leaky_relu(inf)) last dense(1,0)"),
        Err((ParseErrorKind::BadNumber, 21, "inf".into()))
    );
    assert_eq!(
        kind("rnn(1,1,0,abrelu(1)) last dense(1,0)"),
        Err((ParseErrorKind::WrongArity, 10, "abrelu(1)".into()))
    );
    assert_eq!(
        kind("rnn(1,1,0,leaky_relu(0.2,1)) last dense(1,0)"),
        Err((ParseErrorKind::WrongArity, 10, "leaky_relu(0.2,1)".into()))
    );
    assert_eq!(
        kind("rnn(1,1,0,dense(1,0)) last dense(1,0)"),
        Err((ParseErrorKind::OutOfRange, 10, "dense(1,0)".into()))
    );
    assert_eq!(
        kind("rnn(1,1,0,rnn(1,1,0,relu)) last dense(1,0)"),
        Err((ParseErrorKind::OutOfRange, 10, "rnn(1,1,0,relu)".into()))
    );
    assert_eq!(
        kind("rnn(1,1,0,swish) last dense(1,0)"),
        Err((ParseErrorKind::OutOfRange, 10, "swish".into()))
    );
    assert_eq!(
        kind("rnn(1,1,0,leaky_relu(0.2)) last dense(1,0)").map(|_| ()),
        Ok(())
    );
    assert_eq!(
        kind("rnn(1,1,0,leaky_relu(0.2))) last dense(1,0)")
            .unwrap_err()
            .0,
        ParseErrorKind::Syntax
    );
    assert_eq!(
        kind("rnn(1,(1),0,relu) last dense(1,0)").unwrap_err().0,
        ParseErrorKind::Syntax
    );
    assert_eq!(
        kind("rnn(1,1,0,leaky_relu()) last dense(1,0)")
            .unwrap_err()
            .0,
        ParseErrorKind::Syntax
    );
    // Through the API: a non-nonlinearity is refused by `Layer::rnn`, a
    // non-finite slope when the architecture is built.
    assert!(matches!(
        Layer::rnn(1.0, 1.0, 0.0, Layer::<f64>::Flatten),
        Err(Error::InvalidArgument { .. })
    ));
    for act in [
        RnnNonlinearity::LeakyRelu { alpha: f64::NAN },
        RnnNonlinearity::AbRelu {
            a: 0.0,
            b: f64::INFINITY,
        },
    ] {
        let cell = Layer::RnnWith {
            weight_std: 1.0,
            input_std: 1.0,
            bias_std: 0.0,
            activation: act,
        };
        assert!(matches!(cell.validate(), Err(Error::NonFinite { .. })));
        let r = Architecture::<f64>::from_layers(&[cell, Layer::Last, Layer::dense(1.0, 0.0)]);
        assert!(matches!(r, Err(Error::NonFinite { .. })), "{r:?}");
    }
}

#[cfg(feature = "quadrature")]
fn softsign32(x: f32) -> f32 {
    x / (1.0 + x.abs())
}
#[cfg(feature = "quadrature")]
fn dsoftsign32(x: f32) -> f32 {
    1.0 / ((1.0 + x.abs()) * (1.0 + x.abs()))
}

/// The `last` kernels of `text` in both precisions, the f32 ones widened.
fn both(text: &str, x: &[f64], l: usize, d: usize) -> [Result<Vec<f64>, Error>; 2] {
    #[cfg(feature = "quadrature")]
    let (a64, a32) = (
        Architecture::<f64>::parse_with(
            text,
            &[CustomActivation::new("softsign", softsign, dsoftsign)],
        ),
        Architecture::<f32>::parse_with(
            text,
            &[CustomActivation::new("softsign", softsign32, dsoftsign32)],
        ),
    );
    #[cfg(not(feature = "quadrature"))]
    let (a64, a32) = (
        Architecture::<f64>::parse(text),
        Architecture::<f32>::parse(text),
    );
    let (a64, a32) = (a64.unwrap(), a32.unwrap());
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let r64 = gram(&a64, x, seq(l, d)).map(|(k, t)| [k, t].concat());
    let r32 = gram(&a32, &x32, seq(l, d))
        .map(|(k, t)| k.iter().chain(&t).map(|&v| f64::from(v)).collect());
    [r64, r32]
}

fn activation_token() -> impl Strategy<Value = &'static str> {
    let mut names = vec!["leaky_relu(0.1)", "abs", "abrelu(-0.5,1.5)", "sin"];
    if cfg!(feature = "quadrature") {
        names.push("softsign");
    }
    prop::sample::select(names)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases(64)))]

    /// Ok in f32 means within [`PRECISION_LIMIT`] of f64, relative to the
    /// diagonal scale, with σw up to 10 and σu up to 30 (sin's variance
    /// sensitivity then exceeds the fixed factor of the other activations),
    /// inputs rounded to f32 first, the third sequence nearly equal to the
    /// first. A refusal is always allowed.
    #[test]
    fn accepted_f32_kernels_are_accurate(
        act in activation_token(),
        (lw, lu, b) in (-0.3..1.0_f64, -0.3..1.5_f64, 0.0..0.5_f64),
        l in 1..=5usize,
        x in prop::collection::vec(-1.0..1.0_f64, 20),
        eps in prop_oneof![Just(0.0), Just(1e-6), Just(1e-3)],
    ) {
        let text = format!("rnn({},{},{b},{act}) last dense(1,0.1)", 10f64.powf(lw), 10f64.powf(lu));
        let d = 2;
        let x: Vec<f64> = x[..2 * l * d].to_vec();
        let mut xs = x.clone();
        xs.extend(x[..l * d].iter().map(|v| v + eps));
        let xs: Vec<f64> = xs.iter().map(|&v| f64::from(v as f32)).collect();
        let n = 3;
        if let [Ok(g64), Ok(g32)] = both(&text, &xs, l, d) {
            for block in [0, n * n] {
                let diag = |i: usize| g64[block + i * n + i].abs();
                for i in 0..n {
                    for j in 0..n {
                        let scale = (diag(i) * diag(j)).sqrt();
                        let e = (g32[block + i * n + j] - g64[block + i * n + j]).abs();
                        prop_assert!(
                            e <= ntk::analytic::PRECISION_LIMIT * scale + 1e-30,
                            "{text}, eps {eps:e}: entry ({i},{j}) of block {block} off by {:e}",
                            e / scale
                        );
                    }
                }
            }
        }
    }

    /// Symmetric bit for bit and positive semi-definite, both readouts.
    #[test]
    fn gram_is_symmetric_and_psd(
        act in activation_token(),
        (w, u, b) in (0.0..2.0_f64, 0.0..2.0_f64, 0.0..1.0_f64),
        gap in any::<bool>(),
        l in 1..=4usize,
        x in prop::collection::vec(-2.0..2.0_f64, 16),
    ) {
        let readout = if gap { "gap" } else { "last" };
        let text = format!("rnn({w},{u},{b},{act}) {readout} dense(1,0.1)");
        let d = 1;
        let xs = &x[..4 * l * d];
        let [r64, _] = both(&text, xs, l, d);
        let g = r64.unwrap();
        let n = 4;
        for m in [&g[..n * n], &g[n * n..]] {
            for i in 0..n {
                for j in 0..n {
                    prop_assert_eq!(m[i * n + j].to_bits(), m[j * n + i].to_bits());
                }
            }
            let low = crate::common::eigenvalues(m, n).into_iter().fold(f64::INFINITY, f64::min);
            prop_assert!(low >= -1e-10 * crate::common::max_abs(m), "{} λ_min {:e}", text, low);
        }
    }
}

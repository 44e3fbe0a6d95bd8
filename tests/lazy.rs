//! Lazy versus rich training: μP against the table of exponents it
//! implements (scales, empirical initial variances, the per-layer learning
//! rates of its multiplier-1 form by a hand-written SGD step, the output at
//! initialisation and the feature change of one step across widths, its
//! NTK at initialisation against the analytic NTK); the Chizat–Bach output
//! scaling approaching the kernel prediction as α grows; the linearised
//! network against finite differences of the network and against the
//! kernel prediction of its gradient descent.

use ntk::analytic::{Architecture, Layer};
use ntk::empirical::structured;
use ntk::nn::{
    Dense, Linearized, Module, OutputScaled, Parameterization, Params, Relu, Tanh, Zeroed,
};
use ntk::predict::{max_learning_rate, GradientDescentMse, Spectrum};
use ntk::train::{mse_loss, outputs, step, train};
use ntk::{Error, Rng};

const SW: f64 = 1.3;
const SB: f64 = 0.7;

/// Sample variance of `v` about zero (the parameters have mean 0).
fn var(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64
}

/// The table of Yang & Hu (2021), (a, b) per role, written out here:
/// multiplier ∝ n^(−a), std of the stored weight ∝ n^(−b).
fn table(p: Parameterization) -> (f64, f64) {
    match p {
        Parameterization::MuPInput => (-0.5, 0.5),
        Parameterization::MuPHidden => (0.0, 0.5),
        Parameterization::MuPOutput => (0.5, 0.5),
        _ => unreachable!(),
    }
}

/// `(ws, bs, var W, var b)` of a freshly drawn layer of the given shape.
fn drawn<const I: usize, const O: usize>(p: Parameterization, seed: u64) -> [f64; 4] {
    let mut l: Box<Dense<f64, I, O>> = ntk::boxed::zeroed();
    l.init(SW, SB, p, &mut Rng::new(seed));
    let (ws, bs) = l.scales();
    [ws, bs, var(l.weight.as_flattened()), var(&l.bias)]
}

/// Width exponent of `f` between widths `n1 < n2`.
fn slope(f1: f64, f2: f64, n1: usize, n2: usize) -> f64 {
    (f2 / f1).ln() / (n2 as f64 / n1 as f64).ln()
}

#[test]
fn mup_scales_and_initial_variances_follow_the_table() {
    const D: usize = 3;
    const K: usize = 2;
    // Input layer d → n: the width is OUT.
    let (i1, i2) = (
        drawn::<D, 64>(Parameterization::MuPInput, 1),
        drawn::<D, 1024>(Parameterization::MuPInput, 2),
    );
    // Hidden n → n and output n → k: the width is IN.
    let (h1, h2) = (
        drawn::<64, 64>(Parameterization::MuPHidden, 3),
        drawn::<1024, 1024>(Parameterization::MuPHidden, 4),
    );
    let (o1, o2) = (
        drawn::<64, K>(Parameterization::MuPOutput, 5),
        drawn::<1024, K>(Parameterization::MuPOutput, 6),
    );
    for (p, a1, a2) in [
        (Parameterization::MuPInput, i1, i2),
        (Parameterization::MuPHidden, h1, h2),
        (Parameterization::MuPOutput, o1, o2),
    ] {
        let (a, b) = table(p);
        let got_a = -slope(a1[0], a2[0], 64, 1024);
        assert!((got_a - a).abs() < 1e-12, "{p:?}: a = {got_a}, table {a}");
        // Monte Carlo: at least 64·2 samples per variance; 2 % of the
        // exponent over a factor 16 of width is a 6 % variance error.
        let got_b = -0.5 * slope(a1[2], a2[2], 64, 1024);
        assert!((got_b - b).abs() < 0.06, "{p:?}: b = {got_b}, table {b}");
    }
    // The constants: σw·n^(−a) times the fan-in constant 1/√d of the input
    // layer, and unit-variance weights at n = 1 (b·ln n).
    let n = 1024.0_f64;
    assert!((i2[0] - SW * n.sqrt() / (D as f64).sqrt()).abs() < 1e-12 * i2[0]);
    assert!((h2[0] - SW).abs() < 1e-15);
    assert!((o2[0] - SW / n.sqrt()).abs() < 1e-15);
    for (v, want) in [(i2[2], 1.0 / n), (h2[2], 1.0 / n), (o2[2], 1.0 / n)] {
        assert!(
            (v * n - want * n).abs() < 0.1,
            "weight variance {v} vs {want}"
        );
    }
    // Biases: fan-in 1, length n in the input and hidden layers; the output
    // bias is not scaled.
    assert!((i2[1] - SB * n.sqrt()).abs() < 1e-12 * i2[1]);
    assert!((h2[1] - SB * n.sqrt()).abs() < 1e-12 * h2[1]);
    assert_eq!(o2[1], SB);
    for v in [i2[3], h2[3]] {
        assert!(
            (v * n - 1.0).abs() < 5.0 * (2.0 / n).sqrt(),
            "bias variance {v}"
        );
    }
    // The output bias has unit variance: K = 2 draws per layer, over seeds.
    let ob: Vec<f64> = (0..400)
        .flat_map(|s| {
            let mut l: Dense<f64, 4, K> = Dense::ZEROED;
            l.init(SW, SB, Parameterization::MuPOutput, &mut Rng::new(100 + s));
            l.bias
        })
        .collect();
    assert!((var(&ob) - 1.0).abs() < 5.0 * (2.0 / ob.len() as f64).sqrt());
    // The effective weight ws·W: variance σw²/IN except μP's output layer,
    // σw²/IN².
    let eff = |s: [f64; 4]| s[0] * s[0] * s[2];
    assert!((eff(i2) * D as f64 / (SW * SW) - 1.0).abs() < 0.05);
    assert!((eff(h2) * n / (SW * SW) - 1.0).abs() < 0.05);
    assert!((eff(o2) * n * n / (SW * SW) - 1.0).abs() < 0.1);
}

#[test]
fn ntk_and_standard_are_points_of_the_same_family() {
    // NTK parameterisation hidden layer (a, b) = (½, 0), standard (0, ½).
    let (n1, n2) = (
        drawn::<64, 64>(Parameterization::Ntk, 7),
        drawn::<1024, 1024>(Parameterization::Ntk, 8),
    );
    assert!((-slope(n1[0], n2[0], 64, 1024) - 0.5).abs() < 1e-12);
    assert!((-0.5 * slope(n1[2], n2[2], 64, 1024)).abs() < 0.06);
    let (s1, s2) = (
        drawn::<64, 64>(Parameterization::Standard, 9),
        drawn::<1024, 1024>(Parameterization::Standard, 10),
    );
    assert_eq!((s1[0], s2[0]), (1.0, 1.0));
    assert!((-0.5 * slope(s1[2], s2[2], 64, 1024) - 0.5).abs() < 0.06);
}

/// One SGD step of μP in the multiplier-1 form with per-layer learning
/// rates, written out by hand for a network `d → n → 1` (tanh): the
/// table's learning rates `η·fan_out` for the input weights and the hidden
/// bias, `η/fan_in` for the output weights, `η` for the output bias (with
/// the constants σw², σb² of the crate's multipliers), against
/// [`step`] on the crate's μP layers with one learning rate.
#[test]
fn mup_with_one_learning_rate_is_the_table_with_per_layer_learning_rates() {
    const D: usize = 3;
    const W: usize = 50;
    const N: usize = 4;
    type Net = (Dense<f64, D, W>, Tanh, Dense<f64, W, 1>);
    let mut rng = Rng::new(11);
    let mut net: Net = (
        Dense::mup_input(SW, SB, &mut rng),
        Tanh,
        Dense::mup_output(SW, SB, &mut rng),
    );
    let xs: [[f64; D]; N] =
        core::array::from_fn(|i| core::array::from_fn(|j| ((i * D + j) as f64 * 0.7).sin()));
    let y: [[f64; 1]; N] = core::array::from_fn(|i| [(i as f64 - 1.5) * 0.4]);
    let eta = 0.3;
    let (n, d) = (W as f64, D as f64);

    // The multiplier-1 weights of the same function: U = ws·U', etc.
    let (ws1, bs1) = net.0.scales();
    let (ws2, bs2) = net.2.scales();
    let mut u: Vec<Vec<f64>> = net
        .0
        .weight
        .iter()
        .map(|r| r.map(|w| ws1 * w).to_vec())
        .collect();
    let mut bu: Vec<f64> = net.0.bias.iter().map(|b| bs1 * b).collect();
    let mut v: Vec<f64> = net.2.weight[0].iter().map(|w| ws2 * w).collect();
    let mut bv = bs2 * net.2.bias[0];
    // Their initial variances are the table's: 1/fan_in (σw²/d) for the
    // input weights, 1/fan_in² (σw²/n²) for the output weights.
    let uu: Vec<f64> = u.iter().flatten().copied().collect();
    assert!((var(&uu) * d / (SW * SW) - 1.0).abs() < 5.0 * (2.0 / uu.len() as f64).sqrt());
    assert!((var(&v) * n * n / (SW * SW) - 1.0).abs() < 5.0 * (2.0 / n).sqrt());
    // Per-layer learning rates of the multiplier-1 form.
    let (lr_u, lr_bu, lr_v, lr_bv) = (
        eta * SW * SW * n / d,
        eta * SB * SB * n,
        eta * SW * SW / n,
        eta * SB * SB,
    );
    let (mut gu, mut gbu, mut gv, mut gbv) =
        (vec![vec![0.0; D]; W], vec![0.0; W], vec![0.0; W], 0.0);
    for (x, t) in xs.iter().zip(&y) {
        let h: Vec<f64> = (0..W)
            .map(|i| (0..D).map(|j| u[i][j] * x[j]).sum::<f64>() + bu[i])
            .collect();
        let a: Vec<f64> = h.iter().map(|h| h.tanh()).collect();
        let f = (0..W).map(|i| v[i] * a[i]).sum::<f64>() + bv;
        let r = (f - t[0]) / N as f64; // ∂L/∂f for L = Σ(f − y)²/(2N)
        gbv += r;
        for i in 0..W {
            gv[i] += r * a[i];
            let dh = r * v[i] * (1.0 - a[i] * a[i]);
            gbu[i] += dh;
            for j in 0..D {
                gu[i][j] += dh * x[j];
            }
        }
    }
    for i in 0..W {
        for j in 0..D {
            u[i][j] -= lr_u * gu[i][j];
        }
        bu[i] -= lr_bu * gbu[i];
        v[i] -= lr_v * gv[i];
    }
    bv -= lr_bv * gbv;

    let mut grad = net.clone();
    step(&mut net, &xs, &y, eta, &mut grad).unwrap();
    let probe = [0.2, -0.4, 0.9];
    let by_hand = (0..W)
        .map(|i| v[i] * ((0..D).map(|j| u[i][j] * probe[j]).sum::<f64>() + bu[i]).tanh())
        .sum::<f64>()
        + bv;
    let crate_f = net.eval(&probe)[0];
    assert!(
        (crate_f - by_hand).abs() < 1e-12 * (1.0 + by_hand.abs()),
        "{crate_f} vs {by_hand}"
    );
    // The step did move the function (the comparison is not vacuous).
    let mut rng = Rng::new(11);
    let before: Net = (
        Dense::mup_input(SW, SB, &mut rng),
        Tanh,
        Dense::mup_output(SW, SB, &mut rng),
    );
    assert!((before.eval(&probe)[0] - crate_f).abs() > 1e-3);
}

type Deep<const W: usize> = (
    Dense<f64, 2, W>,
    Relu,
    Dense<f64, W, W>,
    Relu,
    Dense<f64, W, 1>,
);

fn deep<const W: usize>(p: [Parameterization; 3], sb: f64, seed: u64) -> Box<Deep<W>> {
    let mut net: Box<Deep<W>> = ntk::boxed::zeroed();
    let mut rng = Rng::new(seed);
    net.0.init(SW, sb, p[0], &mut rng);
    net.2.init(SW, sb, p[1], &mut rng);
    net.4.init(SW, sb, p[2], &mut rng);
    net
}

const MUP: [Parameterization; 3] = [
    Parameterization::MuPInput,
    Parameterization::MuPHidden,
    Parameterization::MuPOutput,
];
const NTK: [Parameterization; 3] = [Parameterization::Ntk; 3];

fn inputs() -> [[f64; 2]; 4] {
    [[1.0, 0.0], [0.6, -0.8], [-0.3, 0.5], [0.2, 1.1]]
}

/// Root mean square output at initialisation over seeds and inputs.
fn rms_output<const W: usize>(p: [Parameterization; 3]) -> f64 {
    let mut s = 0.0;
    let mut m = 0;
    for seed in 0..16 {
        let net = deep::<W>(p, 0.0, 300 + seed);
        for x in inputs() {
            s += net.eval(&x)[0].powi(2);
            m += 1;
        }
    }
    (s / m as f64).sqrt()
}

#[test]
fn mup_output_at_initialisation_vanishes_like_one_over_root_width() {
    // σb = 0: the output bias, not scaled with the width, would stay.
    let (a, b) = (rms_output::<64>(MUP), rms_output::<1024>(MUP));
    let rate = slope(a, b, 64, 1024);
    assert!(
        (rate + 0.5).abs() < 0.15,
        "μP output ∝ n^{rate}, table n^(−1/2)"
    );
    let (a, b) = (rms_output::<64>(NTK), rms_output::<1024>(NTK));
    let rate = slope(a, b, 64, 1024);
    assert!(rate.abs() < 0.15, "NTK output ∝ n^{rate}, O(1)");
}

/// RMS change of the second hidden layer's pre-activations on test inputs
/// after one gradient-descent step with a width-independent learning rate,
/// averaged over seeds.
fn feature_change<const W: usize>(p: [Parameterization; 3]) -> f64 {
    let xs = inputs();
    let y = [[1.0], [-1.0], [0.5], [-0.5]];
    let probe = [[0.3, 0.3], [-0.7, 0.2]];
    let mut s = 0.0;
    let mut m = 0;
    for seed in 0..8 {
        let mut net = deep::<W>(p, 0.1, 500 + seed);
        let features = |net: &Deep<W>, x: &[f64; 2]| net.2.eval(&net.1.eval(&net.0.eval(x)));
        let before: Vec<[f64; W]> = probe.iter().map(|x| features(&net, x)).collect();
        let mut grad: Box<Deep<W>> = ntk::boxed::zeroed();
        step(&mut *net, &xs, &y, 0.5, &mut *grad).unwrap();
        for (x, h0) in probe.iter().zip(&before) {
            let h1 = features(&net, x);
            for (a, b) in h1.iter().zip(h0) {
                s += (a - b).powi(2);
                m += 1;
            }
        }
    }
    (s / m as f64).sqrt()
}

#[test]
fn one_step_moves_mup_features_by_order_one_and_ntk_features_by_one_over_root_width() {
    let mup = [
        feature_change::<64>(MUP),
        feature_change::<256>(MUP),
        feature_change::<1024>(MUP),
    ];
    let ntk = [
        feature_change::<64>(NTK),
        feature_change::<256>(NTK),
        feature_change::<1024>(NTK),
    ];
    let widths = [64, 256, 1024];
    // Over the whole range, and loosely between neighbours (Monte Carlo).
    let r_mup = slope(mup[0], mup[2], 64, 1024);
    let r_ntk = slope(ntk[0], ntk[2], 64, 1024);
    assert!(r_mup.abs() < 0.1, "μP Δh ∝ n^{r_mup} ({mup:?})");
    assert!((r_ntk + 0.5).abs() < 0.1, "NTK Δh ∝ n^{r_ntk} ({ntk:?})");
    for i in 0..2 {
        let r_mup = slope(mup[i], mup[i + 1], widths[i], widths[i + 1]);
        let r_ntk = slope(ntk[i], ntk[i + 1], widths[i], widths[i + 1]);
        assert!(r_mup.abs() < 0.25, "μP Δh ∝ n^{r_mup} ({mup:?})");
        assert!((r_ntk + 0.5).abs() < 0.3, "NTK Δh ∝ n^{r_ntk} ({ntk:?})");
    }
    // At the same learning rate, μP's features move far more at width 1024.
    assert!(mup[2] > 8.0 * ntk[2], "μP {mup:?} vs NTK {ntk:?}");
    eprintln!("RMS Δh at widths {widths:?}: μP {mup:?}, NTK {ntk:?}");
}

/// One hidden layer, the analytic NTK of the NTK parameterisation with the
/// same σw, σb: μP's empirical NTK at initialisation tends to it.
#[test]
fn mup_ntk_at_initialisation_tends_to_the_ntk_parameterisation_kernel() {
    const N: usize = 4;
    type One<const W: usize> = (Dense<f64, 2, W>, Relu, Dense<f64, W, 1>);
    let xs = inputs();
    let arch: Architecture<f64> = Architecture::from_layers(&[
        Layer::Dense {
            weight_std: SW,
            bias_std: SB,
        },
        Layer::Relu,
        Layer::Dense {
            weight_std: SW,
            bias_std: SB,
        },
    ])
    .unwrap();
    let (mut nngp, mut theta) = ([[0.0; N]; N], [[0.0; N]; N]);
    arch.gram(&xs, &mut nngp, &mut theta).unwrap();
    fn gap<const W: usize>(xs: &[[f64; 2]; N], theta: &[[f64; N]; N]) -> f64 {
        let mut g = 0.0;
        for seed in 0..8 {
            let mut rng = Rng::new(700 + seed);
            let net: Box<One<W>> = Box::new((
                Dense::mup_input(SW, SB, &mut rng),
                Relu,
                Dense::mup_output(SW, SB, &mut rng),
            ));
            let mut ws = vec![0.0; structured::workspace_len::<f64, One<W>>(N, 1)];
            let mut k = [[0.0; N]; N];
            structured::ntk(&*net, xs, &mut ws, &mut k).unwrap();
            let scale = theta.iter().flatten().fold(0.0_f64, |m, v| m.max(v.abs()));
            g += k
                .iter()
                .flatten()
                .zip(theta.iter().flatten())
                .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()))
                / scale;
        }
        g / 8.0
    }
    let (g1, g2) = (gap::<256>(&xs, &theta), gap::<4096>(&xs, &theta));
    eprintln!("μP NTK at init vs analytic NTK, widths 256, 4096: {g1}, {g2}");
    assert!(g2 < 0.1, "μP NTK vs analytic NTK: {g2}");
    assert!(g2 < 0.5 * g1, "no convergence: {g1} → {g2}");
    // The NNGP (output covariance) of μP, by contrast, tends to σb² alone.
    let mut rng = Rng::new(9);
    let wide: Box<One<4096>> = Box::new((
        Dense::mup_input(SW, 0.0, &mut rng),
        Relu,
        Dense::mup_output(SW, 0.0, &mut rng),
    ));
    let f = wide.eval(&xs[0])[0];
    assert!(f.abs() < 5.0 * (nngp[0][0] / 4096.0).sqrt(), "{f}");
}

#[test]
fn kernel_layer_is_refused_where_no_fixed_kernel_exists() {
    let mut rng = Rng::new(1);
    for p in MUP {
        let l: Dense<f64, 8, 8> = Dense::new(1.0, 0.1, p, &mut rng);
        assert!(matches!(l.kernel_layer(), Err(Error::NoFixedKernel { .. })));
    }
    let l: Dense<f64, 8, 8> = Dense::ntk(1.2, 0.1, &mut rng);
    assert_eq!(
        l.kernel_layer().unwrap(),
        Layer::Dense {
            weight_std: 1.2,
            bias_std: 0.1
        }
    );
    let l: Dense<f64, 8, 8> = Dense::standard(1.2, 1.0, &mut rng);
    assert_eq!(
        l.kernel_layer().unwrap(),
        Layer::DenseStandard {
            weight_std: 1.2,
            bias_std: 1.0,
            fan_in: 8
        }
    );
    let l: Dense<f64, 8, 8> = Dense::standard(1.2, 0.5, &mut rng);
    assert!(matches!(
        l.kernel_layer(),
        Err(Error::InvalidArgument { .. })
    ));
    let mut l: Dense<f64, 8, 8> = Dense::ntk(1.2, 0.1, &mut rng);
    l.weight_std = f64::NAN;
    assert!(matches!(l.kernel_layer(), Err(Error::NonFinite { .. })));
    let e = Error::NoFixedKernel { what: "μP" };
    assert_eq!(format!("{e}"), "no fixed infinite-width kernel: μP");
}

// The linearised network and the Chizat–Bach scaling.

const NT: usize = 6;
const MT: usize = 3;
/// One output: the kernel prediction of a network with K outputs uses the
/// output-averaged kernel, exact for K = 1 only.
type Small = (
    Dense<f64, 2, 8>,
    Tanh,
    Dense<f64, 8, 8>,
    Tanh,
    Dense<f64, 8, 1>,
);

fn small(seed: u64) -> Small {
    let mut rng = Rng::new(seed);
    (
        Dense::ntk(1.4, 0.3, &mut rng),
        Tanh,
        Dense::ntk(1.4, 0.3, &mut rng),
        Tanh,
        Dense::ntk(1.4, 0.3, &mut rng),
    )
}

/// Training inputs, targets and test inputs.
type Data = ([[f64; 2]; NT], [[f64; 1]; NT], [[f64; 2]; MT]);

fn train_data() -> Data {
    let xs: [[f64; 2]; NT] = core::array::from_fn(|i| {
        let t = i as f64 * 1.1;
        [t.cos(), t.sin() * 0.8]
    });
    let y = xs.map(|x| [(2.0 * x[0]).sin() + x[1] * x[0]]);
    let xt = [[0.1, 0.2], [-0.5, 0.4], [0.7, -0.6]];
    (xs, y, xt)
}

#[test]
fn linearized_equals_the_network_at_theta0_and_its_gradient_is_the_jacobian() {
    let net = small(21);
    let mut lin = Linearized::new(net.clone()).unwrap();
    let x = [0.4, -0.3];
    assert_eq!(lin.eval(&x), net.eval(&x));

    // A displacement δ: the gradient of f_lin does not depend on it and is
    // the network's Jacobian at θ₀, by central differences of the network.
    let p = <Small as Params<f64>>::NUM_PARAMS;
    let delta: Vec<f64> = (0..p).map(|i| 0.05 * ((i as f64) * 0.37).sin()).collect();
    lin.read_flat(&delta).unwrap();
    let mut theta0 = vec![0.0; p];
    net.write_flat(&mut theta0).unwrap();
    for k in 0..1 {
        let mut grad: Linearized<Small> = Linearized::ZEROED;
        let mut cache = Zeroed::zeroed();
        lin.forward(&x, &mut cache);
        let mut dy = [0.0; 1];
        dy[k] = 1.0;
        lin.backward(&cache, &dy, &mut grad);
        let mut g = vec![0.0; p];
        grad.write_flat(&mut g).unwrap();
        let h = 1e-5;
        let mut worst = 0.0_f64;
        for i in 0..p {
            let mut plus = net.clone();
            let mut minus = net.clone();
            let mut t = theta0.clone();
            t[i] += h;
            plus.read_flat(&t).unwrap();
            t[i] -= 2.0 * h;
            minus.read_flat(&t).unwrap();
            let fd = (plus.eval(&x)[k] - minus.eval(&x)[k]) / (2.0 * h);
            worst = worst.max((fd - g[i]).abs());
        }
        assert!(
            worst < 1e-8,
            "output {k}: |J − finite differences| = {worst}"
        );
    }

    // f_lin is f(θ₀) + J·δ: by central differences of the network along δ.
    let mut flin = lin.eval(&x);
    let f0 = net.eval(&x);
    let eps = 1e-4;
    let along = |s: f64| {
        let mut n = net.clone();
        let t: Vec<f64> = theta0.iter().zip(&delta).map(|(a, d)| a + s * d).collect();
        n.read_flat(&t).unwrap();
        n.eval(&x)
    };
    let (fp, fm) = (along(eps), along(-eps));
    for k in 0..1 {
        flin[k] -= f0[k];
        let jvp = (fp[k] - fm[k]) / (2.0 * eps);
        assert!((flin[k] - jvp).abs() < 1e-8, "J·δ {} vs {jvp}", flin[k]);
        assert!(flin[k].abs() > 1e-3, "δ moved nothing");
    }

    // The input cotangent of f_lin, by central differences in x.
    let mut cache = Zeroed::zeroed();
    lin.forward(&x, &mut cache);
    let mut grad = lin.clone();
    let dx = lin.backward(&cache, &[-0.5], &mut grad);
    for j in 0..2 {
        let mut xp = x;
        let mut xm = x;
        xp[j] += 1e-5;
        xm[j] -= 1e-5;
        let (a, b) = (lin.eval(&xp), lin.eval(&xm));
        let fd = -0.5 * (a[0] - b[0]) / 2e-5;
        assert!((fd - dx[j]).abs() < 1e-8, "∂f_lin/∂x {} vs {fd}", dx[j]);
    }
}

#[test]
fn linearized_training_is_the_kernel_prediction() {
    let (xs, y, xt) = train_data();
    let net = small(31);
    let mut lin = Linearized::new(net.clone()).unwrap();
    let mut ws = vec![0.0; structured::workspace_len::<f64, Small>(NT + MT, 1)];
    let (mut k0, mut kt0) = ([[0.0; NT]; NT], [[0.0; NT]; MT]);
    structured::ntk(&net, &xs, &mut ws, &mut k0).unwrap();
    structured::ntk_cross(&net, &xt, &xs, &mut ws, &mut kt0).unwrap();
    // The linearised model's kernel is the network's at θ₀.
    let mut kl = [[0.0; NT]; NT];
    structured::ntk(&lin, &xs, &mut ws, &mut kl).unwrap();
    for (a, b) in kl.iter().flatten().zip(k0.iter().flatten()) {
        assert!((a - b).abs() < 1e-12 * (1.0 + b.abs()));
    }
    let (mut f0, mut f0t) = ([[0.0; 1]; NT], [[0.0; 1]; MT]);
    outputs(&net, &xs, &mut f0).unwrap();
    outputs(&net, &xt, &mut f0t).unwrap();
    let mut work = [[0.0; NT]; NT];
    let eta = 0.5 * max_learning_rate(&k0, 1, &mut work).unwrap();
    let steps = 150;
    let gd = GradientDescentMse::new(&y, eta)
        .unwrap()
        .with_initial_outputs(&f0)
        .unwrap();
    let mut spectrum = Spectrum::new();
    gd.spectrum(&k0, &mut spectrum).unwrap();
    let (mut pred, mut pred_t) = ([[0.0; 1]; NT], [[0.0; 1]; MT]);
    gd.train_outputs_after_steps(&spectrum, steps, &mut pred)
        .unwrap();
    gd.test_outputs_after_steps(&spectrum, &kt0, Some(&f0t), steps, &mut pred_t)
        .unwrap();

    let mut grad = lin.clone();
    let l0 = mse_loss(&lin, &xs, &y).unwrap();
    let loss = train(&mut lin, &xs, &y, eta, steps, &mut grad).unwrap();
    assert!(
        loss < 0.5 * l0,
        "linearised training did not learn: {l0} → {loss}"
    );
    let (mut got, mut got_t) = ([[0.0; 1]; NT], [[0.0; 1]; MT]);
    outputs(&lin, &xs, &mut got).unwrap();
    outputs(&lin, &xt, &mut got_t).unwrap();
    let scale = 1.0 + y.iter().flatten().fold(0.0_f64, |m, v| m.max(v.abs()));
    for (a, b) in got.iter().flatten().zip(pred.iter().flatten()) {
        assert!((a - b).abs() < 1e-10 * scale, "train: {a} vs {b}");
    }
    for (a, b) in got_t.iter().flatten().zip(pred_t.iter().flatten()) {
        assert!((a - b).abs() < 1e-10 * scale, "test: {a} vs {b}");
    }
    // θ = θ₀ + δ, and the network at that θ is not the linearised one.
    let mut theta = net.clone();
    lin.theta(&mut theta);
    let moved = theta.eval(&xt[0]);
    assert_ne!(moved, net.eval(&xt[0]));
}

#[test]
fn linearized_refuses_a_network_without_a_tangent_pass() {
    use ntk::nn::{Conv1d, GlobalAvgPool, Unflatten};
    type Cnn = (
        Unflatten<1, 4>,
        Conv1d<f64, 1, 2, 3, 4>,
        GlobalAvgPool,
        Dense<f64, 2, 1>,
    );
    let mut net = Cnn::ZEROED;
    net.init_ntk(1.0, 0.1, &mut Rng::new(0));
    assert!(matches!(
        Linearized::new::<f64, 4, 1>(net),
        Err(Error::InvalidArgument { .. })
    ));
}

/// Largest |trained g − kernel prediction| on the test inputs after
/// training the Chizat–Bach model with scale α, relative to how far the
/// prediction moved.
fn chizat_bach_gap(alpha: f64) -> f64 {
    let (xs, y, xt) = train_data();
    let net = small(41);
    let mut ws = vec![0.0; structured::workspace_len::<f64, Small>(NT + MT, 1)];
    let (mut k0, mut kt0) = ([[0.0; NT]; NT], [[0.0; NT]; MT]);
    structured::ntk(&net, &xs, &mut ws, &mut k0).unwrap();
    structured::ntk_cross(&net, &xt, &xs, &mut ws, &mut kt0).unwrap();
    let mut work = [[0.0; NT]; NT];
    let eta = 0.5 * max_learning_rate(&k0, 1, &mut work).unwrap();
    let steps = 100;
    // g(θ₀) = 0: no initial outputs.
    let gd = GradientDescentMse::new(&y, eta).unwrap();
    let mut spectrum = Spectrum::new();
    gd.spectrum(&k0, &mut spectrum).unwrap();
    let mut pred = [[0.0; 1]; MT];
    gd.test_outputs_after_steps(&spectrum, &kt0, None, steps, &mut pred)
        .unwrap();

    let mut model = OutputScaled::new(net, alpha).unwrap();
    let mut grad = model.clone();
    let lr = model.learning_rate(eta).unwrap();
    train(&mut model, &xs, &y, lr, steps, &mut grad).unwrap();
    let mut got = [[0.0; 1]; MT];
    outputs(&model, &xt, &mut got).unwrap();
    let gap = got
        .iter()
        .flatten()
        .zip(pred.iter().flatten())
        .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
    let moved = pred.iter().flatten().fold(0.0_f64, |m, v| m.max(v.abs()));
    gap / moved
}

#[test]
fn chizat_bach_scaling_approaches_the_kernel_prediction_as_alpha_grows() {
    let gaps = [1.0, 10.0, 100.0, 1000.0].map(chizat_bach_gap);
    eprintln!("α = 1, 10, 100, 1000: |g − kernel prediction| / |prediction| = {gaps:?}");
    assert!(gaps[0] > 1e-3, "α = 1 is already lazy: {gaps:?}");
    for w in gaps.windows(2) {
        // The gap is O(1/α): at least a factor 4 per factor 10.
        assert!(w[1] < 0.25 * w[0], "not decreasing with α: {gaps:?}");
    }
    assert!(gaps[3] < 1e-3, "{gaps:?}");
}

#[test]
fn chizat_bach_is_centred_and_refuses_bad_scales() {
    let net = small(51);
    let model = OutputScaled::new(net.clone(), 7.0).unwrap();
    assert_eq!(model.eval(&[0.3, 0.1]), [0.0]);
    for a in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            OutputScaled::new(net.clone(), a),
            Err(Error::InvalidArgument { .. })
        ));
    }
    assert!(matches!(
        model.learning_rate(-1.0),
        Err(Error::InvalidArgument { .. })
    ));
    assert_eq!(model.learning_rate(4.9).unwrap(), 4.9 / 49.0);
    // Its gradient is α times the network's, its input cotangent
    // α·(∂f(θ)/∂x − ∂f(θ₀)/∂x): zero at θ = θ₀.
    let mut cache = Zeroed::zeroed();
    model.forward(&[0.3, 0.1], &mut cache);
    let mut grad = model.clone();
    grad.fill(0.0);
    let dx = model.backward(&cache, &[1.0], &mut grad);
    assert_eq!(dx, [0.0, 0.0]);
    let mut gnet = net.clone();
    gnet.fill(0.0);
    let mut c = Zeroed::zeroed();
    net.forward(&[0.3, 0.1], &mut c);
    net.backward(&c, &[1.0], &mut gnet);
    let (mut a, mut b) = (vec![0.0; Small::NUM_PARAMS], vec![0.0; Small::NUM_PARAMS]);
    grad.write_flat(&mut a).unwrap();
    gnet.write_flat(&mut b).unwrap();
    for (a, b) in a.iter().zip(&b) {
        assert!((a - 7.0 * b).abs() < 1e-12 * (1.0 + b.abs()));
    }
}

//! Gradients of every layer against central finite differences, and the flat
//! parameter view.
#[path = "nn/attention.rs"]
mod attention;
mod common;
#[path = "nn/norm_residual.rs"]
mod norm_residual;
#[path = "nn/rnn.rs"]
mod rnn;
#[path = "nn/tangent.rs"]
mod tangent;

use ntk::nn::{
    Abs, Dense, Erf, FlatGradient, Gelu, Identity, LeakyRelu, Module, Params, Relu, Sin, Tanh,
    Zeroed,
};
use ntk::{Error, Rng};

/// Every parameterisation, for the layers that take them all.
const ALL_PARAMETERIZATIONS: [ntk::nn::Parameterization; 5] = [
    ntk::nn::Parameterization::Ntk,
    ntk::nn::Parameterization::Standard,
    ntk::nn::Parameterization::MuPInput,
    ntk::nn::Parameterization::MuPHidden,
    ntk::nn::Parameterization::MuPOutput,
];

/// Checks `backward` (gradient of the network's own type), `backward_with`
/// (flat gradient) and the input cotangent against central differences of
/// `c · f(x; θ)` for a random cotangent `c`.
fn check_gradients<Net, const D: usize, const K: usize>(net: &Net, seed: u64)
where
    Net: Module<f64, [f64; D], Output = [f64; K]> + Params<f64> + Clone,
{
    let mut rng = Rng::new(seed);
    let mut x = [0.0; D];
    rng.fill_normal(&mut x);
    let mut c = [0.0; K];
    rng.fill_normal(&mut c);
    let objective =
        |n: &Net, x: &[f64; D]| -> f64 { n.eval(x).iter().zip(&c).map(|(y, c)| y * c).sum() };

    let mut cache = Net::Cache::zeroed();
    net.forward(&x, &mut cache);
    let mut grad = net.clone();
    grad.fill(0.0);
    let dx = net.backward(&cache, &c, &mut grad);
    let mut flat_grad = vec![0.0; Net::NUM_PARAMS];
    grad.write_flat(&mut flat_grad).unwrap();

    let mut flat_sink = vec![0.0; Net::NUM_PARAMS];
    let mut sink = FlatGradient::new(&mut flat_sink);
    let dx2 = net.backward_with(&cache, &c, &mut sink);
    assert!(sink.is_complete());
    assert_eq!(dx, dx2);
    for (a, b) in flat_grad.iter().zip(&flat_sink) {
        assert!((a - b).abs() <= 1e-14 * (1.0 + a.abs()), "{a} vs {b}");
    }
    // the pass for the parameter gradient alone hands the sink the same
    // values, bitwise
    let mut flat_params = vec![0.0; Net::NUM_PARAMS];
    let mut sink = FlatGradient::new(&mut flat_params);
    net.backward_params(&cache, &c, &mut sink);
    assert!(sink.is_complete());
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&flat_params), bits(&flat_sink));

    let mut theta = vec![0.0; Net::NUM_PARAMS];
    net.write_flat(&mut theta).unwrap();
    let h = 1e-6;
    let mut fd = vec![0.0; Net::NUM_PARAMS];
    let mut probe = net.clone();
    for p in 0..Net::NUM_PARAMS {
        let mut t = theta.clone();
        t[p] += h;
        probe.read_flat(&t).unwrap();
        let up = objective(&probe, &x);
        t[p] -= 2.0 * h;
        probe.read_flat(&t).unwrap();
        let down = objective(&probe, &x);
        fd[p] = (up - down) / (2.0 * h);
    }
    let scale = fd.iter().fold(1e-3_f64, |m, v| m.max(v.abs()));
    for p in 0..Net::NUM_PARAMS {
        assert!(
            (fd[p] - flat_grad[p]).abs() <= 1e-6 * scale,
            "parameter {p}: finite difference {} vs gradient {}",
            fd[p],
            flat_grad[p]
        );
    }
    for i in 0..D {
        let mut xp = x;
        xp[i] += h;
        let mut xm = x;
        xm[i] -= h;
        let d = (objective(net, &xp) - objective(net, &xm)) / (2.0 * h);
        let s = d.abs().max(dx[i].abs()).max(1e-3);
        assert!((d - dx[i]).abs() <= 1e-6 * s, "input {i}: {d} vs {}", dx[i]);
    }
}

macro_rules! activation_gradient_tests {
    ($($name:ident: $act:expr;)*) => {$(
        #[test]
        fn $name() {
            for seed in 0..4 {
                let mut rng = Rng::new(100 + seed);
                let net: (Dense<f64, 3, 7>, _, Dense<f64, 7, 2>) =
                    (Dense::ntk(1.3, 0.2, &mut rng), $act, Dense::ntk(0.9, 0.3, &mut rng));
                check_gradients(&net, seed);
            }
        }
    )*};
}

activation_gradient_tests! {
    gradient_relu: Relu;
    gradient_leaky_relu: LeakyRelu { alpha: 0.2 };
    gradient_abs: Abs;
    gradient_erf: Erf;
    gradient_gelu: Gelu;
    gradient_sin: Sin;
    gradient_tanh: Tanh;
    gradient_identity: Identity;
}

#[test]
fn gradient_dense_both_parameterizations() {
    let mut rng = Rng::new(9);
    let ntk_layer: Dense<f64, 5, 3> = Dense::ntk(1.7, 0.4, &mut rng);
    check_gradients(&ntk_layer, 1);
    let std_layer: Dense<f64, 5, 3> = Dense::standard(1.7, 0.4, &mut rng);
    check_gradients(&std_layer, 2);
}

type DeepNet = (
    Dense<f64, 4, 9>,
    Tanh,
    Dense<f64, 9, 6>,
    Gelu,
    Dense<f64, 6, 5>,
    Erf,
    Dense<f64, 5, 3>,
);

#[test]
fn gradient_deep_network() {
    let mut rng = Rng::new(11);
    let net: DeepNet = (
        Dense::ntk(1.2, 0.1, &mut rng),
        Tanh,
        Dense::standard(1.4, 0.2, &mut rng),
        Gelu,
        Dense::ntk(1.1, 0.0, &mut rng),
        Erf,
        Dense::ntk(1.0, 0.5, &mut rng),
    );
    check_gradients(&net, 3);
}

#[test]
fn nested_tuples_compose() {
    let mut rng = Rng::new(12);
    let block = |rng: &mut Rng| -> (Dense<f64, 4, 4>, Sin) { (Dense::ntk(1.0, 0.1, rng), Sin) };
    let net = (
        block(&mut rng),
        block(&mut rng),
        Dense::<f64, 4, 1>::ntk(1.0, 0.1, &mut rng),
    );
    fn count<N: Params<f64>>(_: &N) -> usize {
        N::NUM_PARAMS
    }
    assert_eq!(count(&net), 2 * 20 + 5);
    check_gradients(&net, 4);
}

/// `Module::PARAMETER_FREE` holds for the layers and networks without
/// trainable parameters, and only for them.
#[test]
fn parameter_free_exactly_without_parameters() {
    use ntk::nn::{
        AvgPool, Conv1d, Flatten, GlobalAvgPool, Last, LayerNorm, Residual, Sum, Unflatten,
    };
    type Seq = [[f64; 3]; 4];
    fn flags<X, M: Module<f64, X> + Params<f64>>() -> (bool, bool) {
        (M::PARAMETER_FREE, M::NUM_PARAMS == 0)
    }
    let cases = [
        ("Dense", flags::<[f64; 3], Dense<f64, 3, 2>>()),
        ("Relu", flags::<[f64; 3], Relu>()),
        ("Tanh on sequences", flags::<Seq, Tanh>()),
        ("Conv1d", flags::<Seq, Conv1d<f64, 3, 2, 3, 4>>()),
        ("Unflatten", flags::<[f64; 12], Unflatten<3, 4>>()),
        ("Flatten", flags::<Seq, Flatten<12>>()),
        ("GlobalAvgPool", flags::<Seq, GlobalAvgPool>()),
        ("AvgPool", flags::<Seq, AvgPool<2, 2>>()),
        ("LayerNorm", flags::<Seq, LayerNorm>()),
        ("Last", flags::<Seq, Last>()),
        (
            "free tuple",
            flags::<[f64; 12], (Unflatten<3, 4>, Relu, Flatten<12>)>(),
        ),
        (
            "tuple with a layer",
            flags::<[f64; 12], (Unflatten<3, 4>, Conv1d<f64, 3, 2, 3, 4>, Relu)>(),
        ),
        ("free residual", flags::<Seq, Residual<(Relu, LayerNorm)>>()),
        (
            "residual",
            flags::<Seq, Residual<(Conv1d<f64, 3, 3, 1, 4>,)>>(),
        ),
        ("free sum", flags::<Seq, Sum<Relu, LayerNorm>>()),
        ("sum", flags::<Seq, Sum<Relu, Conv1d<f64, 3, 3, 3, 4>>>()),
    ];
    for (what, (free, no_params)) in cases {
        assert_eq!(free, no_params, "{what}");
    }
}

#[test]
fn initialisation_is_deterministic_and_scaled() {
    let a: Dense<f64, 400, 50> = Dense::standard(2.0, 0.5, &mut Rng::new(1));
    let b: Dense<f64, 400, 50> = Dense::standard(2.0, 0.5, &mut Rng::new(1));
    assert_eq!(a, b);
    let var = a.weight.as_flattened().iter().map(|w| w * w).sum::<f64>() / 20_000.0;
    // W ~ N(0, σw²/IN) = N(0, 0.01): sampling error of the variance ≈ 0.01·√(2/20000)
    assert!((var - 0.01).abs() < 5e-4, "{var}");
    let n: Dense<f64, 400, 50> = Dense::ntk(2.0, 0.5, &mut Rng::new(2));
    let var = n.weight.as_flattened().iter().map(|w| w * w).sum::<f64>() / 20_000.0;
    assert!((var - 1.0).abs() < 0.05, "{var}");
}

#[test]
fn flat_view_round_trips_and_rejects_bad_buffers() {
    let mut rng = Rng::new(3);
    let mut net: (Dense<f32, 2, 3>, Relu, Dense<f32, 3, 1>) = (
        Dense::ntk(1.0, 1.0, &mut rng),
        Relu,
        Dense::ntk(1.0, 1.0, &mut rng),
    );
    let mut flat = [0.0_f32; 13];
    net.write_flat(&mut flat).unwrap();
    assert_eq!(flat[0], net.0.weight[0][0]);
    assert_eq!(flat[6], net.0.bias[0]);
    assert_eq!(flat[12], net.2.bias[0]);
    let before = net.clone();
    assert_eq!(
        net.write_flat(&mut [0.0; 12]),
        Err(Error::BufferTooSmall {
            needed: 13,
            given: 12
        })
    );
    let mut bad = flat;
    bad[4] = f32::NAN;
    assert_eq!(
        net.read_flat(&bad),
        Err(Error::NonFinite {
            what: "flat parameters"
        })
    );
    assert_eq!(net, before, "a rejected read leaves the network as it was");
    assert!(net.read_flat(&[0.0; 14]).is_err());
    let mut doubled = net.clone();
    doubled.axpy(1.0, &net);
    assert!((doubled.dot(&doubled) - 4.0 * net.dot(&net)).abs() < 1e-4 * net.dot(&net));
}

#[test]
fn batched_passes_equal_single_passes_bitwise() {
    let mut rng = Rng::new(21);
    let net: (
        Dense<f32, 5, 19>,
        Gelu,
        Dense<f32, 19, 6>,
        Relu,
        Dense<f32, 6, 3>,
    ) = (
        Dense::ntk(1.3, 0.2, &mut rng),
        Gelu,
        Dense::standard(1.1, 0.1, &mut rng),
        Relu,
        Dense::ntk(0.9, 0.3, &mut rng),
    );
    type Net = (
        Dense<f32, 5, 19>,
        Gelu,
        Dense<f32, 19, 6>,
        Relu,
        Dense<f32, 6, 3>,
    );
    let xs: [[f32; 5]; 3] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
    let dys: [[f32; 3]; 3] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
    let mut batch_cache = <Net as Module<f32, [f32; 5]>>::BatchCache::<3>::zeroed();
    let ys = net.forward_batch(&xs, &mut batch_cache);
    let mut grads = vec![vec![0.0_f32; Net::NUM_PARAMS]; 3];
    let dxs = {
        let mut it = grads.iter_mut();
        let mut sinks: [FlatGradient<'_, f32>; 3] =
            core::array::from_fn(|_| FlatGradient::new(it.next().unwrap()));
        let dxs = net.backward_with_batch(&batch_cache, &dys, &mut sinks);
        assert!(sinks.iter().all(FlatGradient::is_complete));
        dxs
    };
    for b in 0..3 {
        let mut cache = Zeroed::zeroed();
        let y = net.forward(&xs[b], &mut cache);
        assert_eq!(y.map(f32::to_bits), ys[b].map(f32::to_bits));
        let mut g = vec![0.0_f32; Net::NUM_PARAMS];
        let dx = net.backward_with(&cache, &dys[b], &mut FlatGradient::new(&mut g));
        assert_eq!(dx.map(f32::to_bits), dxs[b].map(f32::to_bits));
        assert_eq!(g, grads[b]);
    }
}

mod conv {
    use super::check_gradients;
    use ntk::nn::{
        AvgPool, Conv1d, Dense, FlatGradient, Flatten, GlobalAvgPool, Module, Padding,
        Parameterization, Params, Relu, Tanh, Unflatten, Zeroed,
    };
    use ntk::Rng;

    /// The convolution by its definition, for any padding.
    fn conv_by_hand<const CI: usize, const CO: usize, const Q: usize, const L: usize>(
        c: &Conv1d<f64, CI, CO, Q, L>,
        x: &[[f64; CI]; L],
    ) -> [[f64; CO]; L] {
        let (fan_in, fan_out) = (((Q * CI) as f64).sqrt(), (CO as f64).sqrt());
        let (ws, bs) = match c.parameterization {
            Parameterization::Ntk => (c.weight_std / fan_in, c.bias_std),
            Parameterization::Standard => (1.0, c.bias_std),
            Parameterization::MuPInput => (c.weight_std * fan_out / fan_in, c.bias_std * fan_out),
            Parameterization::MuPHidden => (c.weight_std, c.bias_std * fan_out),
            Parameterization::MuPOutput => (c.weight_std / fan_in, c.bias_std),
        };
        let h = (Q as isize - 1) / 2;
        core::array::from_fn(|p| {
            core::array::from_fn(|o| {
                let mut acc = 0.0;
                for d in 0..Q {
                    let s = p as isize + d as isize - h;
                    let s = match c.padding {
                        Padding::Same if s < 0 || s >= L as isize => continue,
                        Padding::Same => s as usize,
                        Padding::Circular => s.rem_euclid(L as isize) as usize,
                    };
                    for ch in 0..CI {
                        acc += c.weight[o][d][ch] * x[s][ch];
                    }
                }
                ws * acc + bs * c.bias[o]
            })
        })
    }

    /// The input position tap `d` reads at output `p`, by the definition.
    fn tap_source(padding: Padding, q: usize, l: usize, p: usize, d: usize) -> Option<usize> {
        let s = p as isize + d as isize - (q as isize - 1) / 2;
        match padding {
            Padding::Same if s < 0 || s >= l as isize => None,
            Padding::Same => Some(s as usize),
            Padding::Circular => Some(s.rem_euclid(l as isize) as usize),
        }
    }

    /// Forward pass, weight and bias gradient and input cotangent of
    /// `dy · f(x)` by plain loops over the definition, in f64 whatever the
    /// layer's scalar type.
    #[allow(clippy::type_complexity)]
    fn passes_by_hand<
        T: ntk::Real,
        const CI: usize,
        const CO: usize,
        const Q: usize,
        const L: usize,
    >(
        c: &Conv1d<T, CI, CO, Q, L>,
        x: &[[T; CI]; L],
        dy: &[[T; CO]; L],
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let f = |v: T| v.to_f64();
        let (fan_in, fan_out) = (((Q * CI) as f64).sqrt(), (CO as f64).sqrt());
        let (ws, bs) = match c.parameterization {
            Parameterization::Ntk => (f(c.weight_std) / fan_in, f(c.bias_std)),
            Parameterization::Standard => (1.0, f(c.bias_std)),
            Parameterization::MuPInput => {
                (f(c.weight_std) * fan_out / fan_in, f(c.bias_std) * fan_out)
            }
            Parameterization::MuPHidden => (f(c.weight_std), f(c.bias_std) * fan_out),
            Parameterization::MuPOutput => (f(c.weight_std) / fan_in, f(c.bias_std)),
        };
        let mut y = vec![0.0; L * CO];
        let mut gw = vec![0.0; CO * Q * CI];
        let mut gb = vec![0.0; CO];
        let mut dx = vec![0.0; L * CI];
        for p in 0..L {
            for o in 0..CO {
                let mut acc = 0.0;
                let g = f(dy[p][o]);
                for d in 0..Q {
                    let Some(s) = tap_source(c.padding, Q, L, p, d) else {
                        continue;
                    };
                    for ch in 0..CI {
                        let w = f(c.weight[o][d][ch]);
                        acc += w * f(x[s][ch]);
                        gw[(o * Q + d) * CI + ch] += ws * g * f(x[s][ch]);
                        dx[s * CI + ch] += ws * g * w;
                    }
                }
                y[p * CO + o] = ws * acc + bs * f(c.bias[o]);
                gb[o] += bs * g;
            }
        }
        (y, gw, gb, dx)
    }

    fn assert_close_to(what: &str, got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        let scale = want.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= tol * scale, "{what}[{i}]: {g} against {w}");
        }
    }

    /// A sink with only the required method: the cotangents it is handed.
    struct Recording<T>(Vec<Vec<T>>);

    impl<T: ntk::Real> ntk::nn::GradSink<T> for Recording<T> {
        fn dense(&mut self, a: &[T], _ws: T, dy: &[T], _bs: T) {
            assert!(a.is_empty());
            self.0.push(dy.to_vec());
        }
    }

    /// Every pass of one layer shape against [`passes_by_hand`], both
    /// paddings and parameterisations, in `T` with tolerance `tol`.
    fn check_passes<
        T: ntk::Real,
        const CI: usize,
        const CO: usize,
        const Q: usize,
        const L: usize,
    >(
        seed: u64,
        tol: f64,
    ) {
        let mut rng = Rng::new(seed);
        for p in super::ALL_PARAMETERIZATIONS {
            for padding in [Padding::Same, Padding::Circular] {
                let mut c = Conv1d::<T, CI, CO, Q, L>::ZEROED;
                c.init(T::from_f64(1.3), T::from_f64(0.4), p, &mut rng);
                c.padding = padding;
                let mut x = [[T::ZERO; CI]; L];
                let mut dy = [[T::ZERO; CO]; L];
                rng.fill_normal(x.as_flattened_mut());
                rng.fill_normal(dy.as_flattened_mut());
                // ReLU-like zeros in the cotangent
                for v in dy.as_flattened_mut().iter_mut().step_by(3) {
                    *v = T::ZERO;
                }
                let (y, gw, gb, dx) = passes_by_hand(&c, &x, &dy);
                let to64 = |s: &[T]| s.iter().map(|v| v.to_f64()).collect::<Vec<_>>();
                let mut cache = Zeroed::zeroed();
                let got = c.forward(&x, &mut cache);
                assert_close_to("y", &to64(got.as_flattened()), &y, tol);
                let mut grad = Conv1d::<T, CI, CO, Q, L>::ZEROED;
                let got_dx = c.backward(&cache, &dy, &mut grad);
                assert_close_to("dx", &to64(got_dx.as_flattened()), &dx, tol);
                assert_close_to(
                    "gw",
                    &to64(grad.weight.as_flattened().as_flattened()),
                    &gw,
                    tol,
                );
                assert_close_to("gb", &to64(&grad.bias), &gb, tol);
                // the sink path reports the same gradient and cotangent bitwise
                let mut flat = vec![T::ZERO; CO * Q * CI + CO];
                let mut sink = FlatGradient::new(&mut flat);
                let dx2 = c.backward_with(&cache, &dy, &mut sink);
                assert!(sink.is_complete());
                let bits = |s: &[T]| s.iter().map(|v| v.to_f64().to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(dx2.as_flattened()), bits(got_dx.as_flattened()));
                let mut want = vec![T::ZERO; CO * Q * CI + CO];
                grad.write_flat(&mut want).unwrap();
                assert_eq!(bits(&flat), bits(&want));
                // a sink that only implements `dense` gets the layer's own
                // buffer through the default `conv`, a discarding sink none
                let mut rec = Recording(Vec::new());
                let dx3 = c.backward_with(&cache, &dy, &mut rec);
                assert_eq!(bits(dx3.as_flattened()), bits(got_dx.as_flattened()));
                let (gb_got, gw_got) = (&rec.0[0], &rec.0[1]);
                assert_eq!(bits(gw_got), bits(&want[..CO * Q * CI]));
                assert_eq!(bits(gb_got), bits(&want[CO * Q * CI..]));
                let dx4 = c.backward_with(&cache, &dy, &mut ());
                assert_eq!(bits(dx4.as_flattened()), bits(got_dx.as_flattened()));
                // without the input cotangent: the same gradient through
                // every kind of sink
                let mut flat2 = vec![T::ZERO; CO * Q * CI + CO];
                let mut sink = FlatGradient::new(&mut flat2);
                c.backward_params(&cache, &dy, &mut sink);
                assert!(sink.is_complete());
                assert_eq!(bits(&flat2), bits(&want));
                let mut rec2 = Recording(Vec::new());
                c.backward_params(&cache, &dy, &mut rec2);
                assert_eq!(rec2.0.len(), 2);
                assert_eq!(bits(&rec2.0[1]), bits(&want[..CO * Q * CI]));
                assert_eq!(bits(&rec2.0[0]), bits(&want[CO * Q * CI..]));
                c.backward_params(&cache, &dy, &mut ());
            }
        }
    }

    #[test]
    fn passes_match_plain_loops_for_odd_shapes() {
        // shapes off the kernels' block sizes: channels not a multiple of
        // the tile, filter lengths Q·C_IN below, between and above the
        // vector chunks, more positions than one block, C_IN = 1, L = 1,
        // Q = 1 and Q > L
        check_passes::<f64, 5, 7, 3, 37>(1, 1e-12);
        check_passes::<f64, 23, 13, 3, 9>(2, 1e-12);
        check_passes::<f64, 7, 6, 5, 70>(3, 1e-12);
        check_passes::<f64, 1, 9, 3, 33>(4, 1e-12);
        check_passes::<f64, 3, 4, 1, 1>(5, 1e-12);
        check_passes::<f64, 2, 8, 7, 3>(6, 1e-12);
        check_passes::<f64, 4, 3, 9, 1>(7, 1e-12);
        check_passes::<f64, 40, 12, 3, 16>(8, 1e-12);
        check_passes::<f32, 5, 7, 3, 37>(11, 1e-5);
        check_passes::<f32, 23, 13, 3, 9>(12, 1e-5);
        check_passes::<f32, 70, 6, 3, 34>(13, 1e-5);
        check_passes::<f32, 1, 64, 5, 32>(14, 1e-5);
        check_passes::<f32, 2, 8, 7, 3>(15, 1e-5);
        check_passes::<f32, 64, 64, 3, 32>(16, 1e-5);
    }

    #[test]
    fn forward_matches_the_definition() {
        let mut rng = Rng::new(3);
        for padding in [Padding::Same, Padding::Circular] {
            let c: Conv1d<f64, 2, 3, 5, 4> = Conv1d::ntk(1.3, 0.4, &mut rng).with_padding(padding);
            let s: Conv1d<f64, 2, 3, 3, 4> =
                Conv1d::standard(1.3, 0.4, &mut rng).with_padding(padding);
            // Q = 7 > L: the circular filter wraps more than once.
            let w: Conv1d<f64, 1, 2, 7, 3> = Conv1d::ntk(0.9, 0.1, &mut rng).with_padding(padding);
            let x: [[f64; 2]; 4] = core::array::from_fn(|_| [rng.normal(), rng.normal()]);
            let x1: [[f64; 1]; 3] = core::array::from_fn(|_| [rng.normal()]);
            for (a, b) in [
                (c.eval(&x), conv_by_hand(&c, &x)),
                (s.eval(&x), conv_by_hand(&s, &x)),
            ] {
                for (u, v) in a.as_flattened().iter().zip(b.as_flattened()) {
                    assert!((u - v).abs() <= 1e-14 * (1.0 + v.abs()));
                }
            }
            let (a, b) = (w.eval(&x1), conv_by_hand(&w, &x1));
            for (u, v) in a.as_flattened().iter().zip(b.as_flattened()) {
                assert!((u - v).abs() <= 1e-14 * (1.0 + v.abs()));
            }
        }
    }

    #[test]
    fn pooling_and_reshaping_by_hand() {
        let x = [[1.0, -2.0], [3.0, 4.0], [5.0, 0.5], [7.0, 1.5]];
        assert_eq!(GlobalAvgPool.eval(&x), [4.0, 1.0]);
        assert_eq!(AvgPool::<2, 2>.eval(&x), [[2.0, 1.0], [6.0, 1.0]]);
        assert_eq!(AvgPool::<4, 1>.eval(&x), [[4.0, 1.0]]);
        assert_eq!(
            Flatten::<8>.eval(&x),
            [1.0, -2.0, 3.0, 4.0, 5.0, 0.5, 7.0, 1.5]
        );
        let back: [[f64; 2]; 4] = Unflatten::<2, 4>.eval(&Flatten::<8>.eval(&x));
        assert_eq!(back, x);
    }

    type GapNet = (
        Unflatten<2, 5>,
        Conv1d<f64, 2, 4, 3, 5>,
        Relu,
        Conv1d<f64, 4, 3, 3, 5>,
        Relu,
        GlobalAvgPool,
        Dense<f64, 3, 2>,
    );

    fn gap_net(seed: u64, p: Parameterization, padding: Padding) -> GapNet {
        let mut net = GapNet::ZEROED;
        net.init(1.4, 0.3, p, &mut Rng::new(seed));
        net.1.padding = padding;
        net.3.padding = padding;
        net
    }

    #[test]
    fn gradients_of_convolutional_networks() {
        for seed in 0..3 {
            for p in super::ALL_PARAMETERIZATIONS {
                for padding in [Padding::Same, Padding::Circular] {
                    check_gradients::<_, 10, 2>(&gap_net(seed, p, padding), seed);
                }
            }
            let mut rng = Rng::new(50 + seed);
            let flat: (
                Unflatten<3, 4>,
                Conv1d<f64, 3, 2, 5, 4>,
                Tanh,
                AvgPool<2, 2>,
                Conv1d<f64, 2, 2, 1, 2>,
                Flatten<4>,
                Dense<f64, 4, 1>,
            ) = (
                Unflatten,
                Conv1d::ntk(1.2, 0.2, &mut rng).with_padding(Padding::Circular),
                Tanh,
                AvgPool,
                Conv1d::standard(1.0, 0.5, &mut rng),
                Flatten,
                Dense::ntk(1.0, 0.1, &mut rng),
            );
            check_gradients::<_, 12, 1>(&flat, seed);
            // Short and wide: the layers take the factored form in the
            // structured NTK; their gradients are the same.
            let mut wide = <(
                Unflatten<8, 2>,
                Conv1d<f64, 8, 8, 3, 2>,
                Relu,
                Conv1d<f64, 8, 6, 3, 2>,
                GlobalAvgPool,
                Dense<f64, 6, 2>,
            )>::ZEROED;
            wide.init_ntk(1.1, 0.2, &mut rng);
            wide.3.padding = Padding::Circular;
            check_gradients::<_, 16, 2>(&wide, seed);
        }
    }

    #[test]
    fn in_place_initialisation_equals_by_value() {
        let mut rng = Rng::new(7);
        let by_value: (Conv1d<f32, 2, 3, 3, 6>, Relu, Dense<f32, 3, 1>) = (
            Conv1d::standard(1.1, 0.2, &mut rng),
            Relu,
            Dense::standard(1.1, 0.2, &mut rng),
        );
        let mut net = <(Conv1d<f32, 2, 3, 3, 6>, Relu, Dense<f32, 3, 1>)>::ZEROED;
        net.init_standard(1.1, 0.2, &mut Rng::new(7));
        assert_eq!(net, by_value);
        assert_eq!(
            <Conv1d<f32, 2, 3, 3, 6> as Params<f32>>::NUM_PARAMS,
            3 * 3 * 2 + 3
        );
    }

    #[test]
    fn batched_passes_equal_single_passes_bitwise() {
        let net = gap_net(9, Parameterization::Ntk, Padding::Circular);
        let mut rng = Rng::new(10);
        let xs: [[f64; 10]; 3] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
        let dys: [[f64; 2]; 3] = core::array::from_fn(|_| [rng.normal(), rng.normal()]);
        let mut bc = <GapNet as Module<f64, [f64; 10]>>::BatchCache::<3>::zeroed();
        let ys = net.forward_batch(&xs, &mut bc);
        let mut grads = vec![vec![0.0; GapNet::NUM_PARAMS]; 3];
        let dxs: [[f64; 10]; 3] = {
            let mut it = grads.iter_mut();
            let mut sinks: [FlatGradient<'_, f64>; 3] =
                core::array::from_fn(|_| FlatGradient::new(it.next().unwrap()));
            net.backward_with_batch(&bc, &dys, &mut sinks)
        };
        // the batched pass for the parameter gradient alone (which stops at
        // the first convolution) hands every sink the same values, bitwise
        let mut alone = vec![vec![0.0; GapNet::NUM_PARAMS]; 3];
        {
            let mut it = alone.iter_mut();
            let mut sinks: [FlatGradient<'_, f64>; 3] =
                core::array::from_fn(|_| FlatGradient::new(it.next().unwrap()));
            <GapNet as Module<f64, [f64; 10]>>::backward_params_batch(&net, &bc, &dys, &mut sinks);
            assert!(sinks.iter().all(FlatGradient::is_complete));
        }
        let bits = |g: &[Vec<f64>]| g.iter().flatten().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&alone), bits(&grads));
        for b in 0..3 {
            let mut cache = Zeroed::zeroed();
            assert_eq!(net.forward(&xs[b], &mut cache), ys[b]);
            let mut g = vec![0.0; GapNet::NUM_PARAMS];
            let mut sink = FlatGradient::new(&mut g);
            assert_eq!(net.backward_with(&cache, &dys[b], &mut sink), dxs[b]);
            assert!(sink.is_complete());
            assert_eq!(g, grads[b]);
        }
    }
}

mod conv2d {
    use super::check_gradients;
    use ntk::nn::{
        AvgPool2d, Conv2d, Dense, Erf, Flatten, GlobalAvgPool, Module, Padding, Params, Relu, Tanh,
        Unflatten2d, Zeroed,
    };
    use ntk::Rng;

    #[test]
    fn forward_matches_the_definition() {
        let mut rng = Rng::new(8);
        for padding in [Padding::Same, Padding::Circular] {
            let c: Conv2d<f64, 2, 3, 3, 5, 4, 3> =
                Conv2d::ntk(1.2, 0.3, &mut rng).with_padding(padding);
            let x: [[[f64; 2]; 3]; 4] =
                core::array::from_fn(|_| core::array::from_fn(|_| [rng.normal(), rng.normal()]));
            let y = c.eval(&x);
            let ws = 1.2 / 30f64.sqrt();
            for r in 0..4 {
                for s in 0..3 {
                    for o in 0..3 {
                        let mut acc = 0.0;
                        for i in 0..3 {
                            for j in 0..5 {
                                let (rr, ss) =
                                    (r as isize + i as isize - 1, s as isize + j as isize - 2);
                                let (rr, ss) = match padding {
                                    Padding::Same
                                        if !(0..4).contains(&rr) || !(0..3).contains(&ss) =>
                                    {
                                        continue
                                    }
                                    Padding::Same => (rr as usize, ss as usize),
                                    Padding::Circular => {
                                        (rr.rem_euclid(4) as usize, ss.rem_euclid(3) as usize)
                                    }
                                };
                                for ch in 0..2 {
                                    acc += c.weight[o][i][j][ch] * x[rr][ss][ch];
                                }
                            }
                        }
                        let want = ws * acc + 0.3 * c.bias[o];
                        assert!((y[r][s][o] - want).abs() <= 1e-14 * (1.0 + want.abs()));
                    }
                }
            }
        }
    }

    #[test]
    fn image_pooling_by_hand() {
        // a 4×6 image (rows × columns) of two channels: x[r][s] = [10·r + s, −s]
        let x: [[[f64; 2]; 6]; 4] = core::array::from_fn(|r| {
            core::array::from_fn(|s| [10.0 * r as f64 + s as f64, -(s as f64)])
        });
        // 2×2 windows: rows 2r, 2r + 1 and columns 2s, 2s + 1
        let y = AvgPool2d::<2, 3, 2>.eval(&x);
        for (r, yr) in y.iter().enumerate() {
            for (s, ys) in yr.iter().enumerate() {
                let want = [
                    20.0 * r as f64 + 5.0 + 2.0 * s as f64 + 0.5,
                    -(2.0 * s as f64 + 0.5),
                ];
                assert_eq!(*ys, want);
            }
        }
        // a 1×1 window copies
        assert_eq!(AvgPool2d::<1, 6, 4>.eval(&x), x);
        // the backward pass spreads each cotangent evenly over its window
        let dy = [
            [[4.0, 8.0], [0.0, 4.0], [-4.0, 0.0]],
            [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
        ];
        let dx: [[[f64; 2]; 6]; 4] = AvgPool2d::<2, 3, 2>.backward(&(), &dy, &mut AvgPool2d);
        for (r, row) in dx.iter().enumerate() {
            for (s, px) in row.iter().enumerate() {
                let d = dy[r / 2][s / 2];
                assert_eq!(*px, [d[0] / 4.0, d[1] / 4.0]);
            }
        }
    }

    #[test]
    fn gradients_of_two_dimensional_networks() {
        type Net = (
            Unflatten2d<2, 3, 4>,
            Conv2d<f64, 2, 3, 3, 3, 4, 3>,
            Relu,
            Conv2d<f64, 3, 2, 1, 3, 4, 3>,
            Tanh,
            GlobalAvgPool,
            Dense<f64, 2, 2>,
        );
        type FlatNet = (
            Unflatten2d<1, 3, 2>,
            Conv2d<f64, 1, 2, 3, 3, 2, 3>,
            Tanh,
            Flatten<12>,
            Dense<f64, 12, 1>,
        );
        type PoolNet = (
            Unflatten2d<2, 4, 6>,
            Conv2d<f64, 2, 3, 3, 3, 6, 4>,
            Erf,
            AvgPool2d<2, 2, 3>,
            Conv2d<f64, 3, 2, 3, 1, 3, 2>,
            Relu,
            Flatten<12>,
            Dense<f64, 12, 2>,
        );
        for seed in 0..3 {
            for p in super::ALL_PARAMETERIZATIONS {
                let mut pool = PoolNet::ZEROED;
                pool.init(1.2, 0.3, p, &mut Rng::new(seed + 20));
                pool.4.padding = Padding::Circular;
                check_gradients::<_, 48, 2>(&pool, seed);
                let mut net = Net::ZEROED;
                net.init(1.3, 0.2, p, &mut Rng::new(seed));
                net.3.padding = Padding::Circular;
                check_gradients::<_, 24, 2>(&net, seed);
                let mut flat = FlatNet::ZEROED;
                flat.init(1.1, 0.4, p, &mut Rng::new(seed + 10));
                check_gradients::<_, 6, 1>(&flat, seed);
            }
        }
    }
}

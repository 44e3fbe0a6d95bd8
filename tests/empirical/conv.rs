//! Convolutional networks: structured against Jacobian contraction for both
//! paddings and both readouts, positive semidefiniteness and range checks.

use super::{compare_methods, inputs};
use crate::common::{min_eigenvalue, rel_err};
use ntk::empirical::{jacobian, structured};
use ntk::nn::{
    AvgPool, Conv1d, Dense, Erf, Flatten, Gelu, GlobalAvgPool, Padding, Parameterization, Params,
    Relu, Tanh, Unflatten, Zeroed,
};
use ntk::{Error, Rng};

type Gap<const K: usize, T = f64> = (
    Unflatten<2, 6>,
    Conv1d<T, 2, 5, 3, 6>,
    Relu,
    Conv1d<T, 5, 4, 5, 6>,
    Erf,
    GlobalAvgPool,
    Dense<T, 4, K>,
);

type Flat<const K: usize, T = f64> = (
    Unflatten<3, 4>,
    Conv1d<T, 3, 4, 3, 4>,
    Tanh,
    AvgPool<2, 2>,
    Conv1d<T, 4, 3, 1, 2>,
    Relu,
    Flatten<6>,
    Dense<T, 6, K>,
);

/// Short sequences of many channels: both convolutions take the factored
/// form.
type Wide<const K: usize, T = f64> = (
    Unflatten<8, 2>,
    Conv1d<T, 8, 8, 3, 2>,
    Relu,
    Conv1d<T, 8, 6, 3, 2>,
    Gelu,
    GlobalAvgPool,
    Dense<T, 6, K>,
);

fn wide<const K: usize>(seed: u64, padding: Padding, p: Parameterization) -> Wide<K> {
    let mut net = Wide::<K>::ZEROED;
    net.init(1.2, 0.3, p, &mut Rng::new(seed));
    net.1.padding = padding;
    net.3.padding = padding;
    net
}

fn gap<const K: usize>(seed: u64, padding: Padding, p: Parameterization) -> Gap<K> {
    let mut net = Gap::<K>::ZEROED;
    net.init(1.3, 0.2, p, &mut Rng::new(seed));
    net.1.padding = padding;
    net.3.padding = padding;
    net
}

fn flat<const K: usize>(seed: u64, padding: Padding, p: Parameterization) -> Flat<K> {
    let mut net = Flat::<K>::ZEROED;
    net.init(1.1, 0.4, p, &mut Rng::new(seed));
    net.1.padding = padding;
    net
}

#[test]
fn structured_equals_jacobian_for_convolutional_networks() {
    let xs = inputs::<12, 5>(11, 1.0);
    let xt = inputs::<12, 3>(12, 1.0);
    for (seed, padding) in [(1, Padding::Same), (2, Padding::Circular)] {
        for p in [Parameterization::Ntk, Parameterization::Standard] {
            compare_methods(&gap::<1>(seed, padding, p), &xs, &xt, 1e-12);
            compare_methods(&gap::<2>(seed, padding, p), &xs, &xt, 1e-12);
            compare_methods(&flat::<1>(seed, padding, p), &xs, &xt, 1e-12);
            compare_methods(&flat::<2>(seed, padding, p), &xs, &xt, 1e-12);
        }
    }
    const { assert!(Conv1d::<f64, 8, 8, 3, 2>::FACTORED && Conv1d::<f64, 8, 6, 3, 2>::FACTORED) };
    const { assert!(!Conv1d::<f64, 2, 5, 3, 6>::FACTORED) };
    let xs = inputs::<16, 5>(16, 1.0);
    let xt = inputs::<16, 3>(17, 1.0);
    for (seed, padding) in [(3, Padding::Same), (4, Padding::Circular)] {
        for p in [Parameterization::Ntk, Parameterization::Standard] {
            compare_methods(&wide::<1>(seed, padding, p), &xs, &xt, 1e-12);
            compare_methods(&wide::<2>(seed, padding, p), &xs, &xt, 1e-12);
        }
    }
}

#[test]
fn convolutional_grams_are_positive_semidefinite() {
    let xs = inputs::<12, 6>(13, 1.0);
    let net = gap::<2>(3, Padding::Circular, Parameterization::Ntk);
    let mut ws = vec![0.0; structured::workspace_len::<f64, Gap<2>>(6, 2)];
    let mut theta = [[0.0; 6]; 6];
    structured::ntk(&net, &xs, &mut ws, &mut theta).unwrap();
    let scale = (0..6).fold(0.0_f64, |m, i| m.max(theta[i][i]));
    assert!(min_eigenvalue(&theta) >= -1e-12 * scale);

    let xs = inputs::<16, 6>(18, 1.0);
    let net = wide::<1>(5, Padding::Same, Parameterization::Ntk);
    let mut ws = vec![0.0; structured::workspace_len::<f64, Wide<1>>(6, 1)];
    structured::ntk(&net, &xs, &mut ws, &mut theta).unwrap();
    let scale = (0..6).fold(0.0_f64, |m, i| m.max(theta[i][i]));
    assert!(min_eigenvalue(&theta) >= -1e-12 * scale);
}

#[test]
fn the_kernel_is_the_sum_of_gradient_products() {
    // Θ(x, x') = ∇θ f(x) · ∇θ f(x'), with the gradients from `write_flat` of
    // the network-typed backward pass.
    use ntk::nn::Module;
    let xs = inputs::<12, 2>(14, 1.0);
    let net = flat::<1>(4, Padding::Same, Parameterization::Ntk);
    let grad = |x: &[f64; 12]| {
        let mut cache = <Flat<1> as Module<f64, [f64; 12]>>::Cache::zeroed();
        net.forward(x, &mut cache);
        let mut g = Flat::<1>::ZEROED;
        let _: [f64; 12] = net.backward(&cache, &[1.0], &mut g);
        let mut v = vec![0.0; Flat::<1>::NUM_PARAMS];
        g.write_flat(&mut v).unwrap();
        v
    };
    let (g0, g1) = (grad(&xs[0]), grad(&xs[1]));
    let want: f64 = g0.iter().zip(&g1).map(|(a, b)| a * b).sum();
    let mut ws = vec![0.0; structured::workspace_len::<f64, Flat<1>>(2, 1)];
    let mut theta = [[0.0; 2]; 2];
    structured::ntk(&net, &xs, &mut ws, &mut theta).unwrap();
    assert!((theta[0][1] - want).abs() <= 1e-12 * theta[0][0].max(theta[1][1]));
}

#[test]
fn a_convolution_whose_gradient_overflows_is_refused_by_both_methods() {
    type Net = (
        Unflatten<2, 6>,
        Conv1d<f64, 2, 3, 3, 6>,
        GlobalAvgPool,
        Dense<f64, 3, 1>,
    );
    let mut net = Net::ZEROED;
    net.init_ntk(1.0, 0.1, &mut Rng::new(5));
    let mut ws = vec![0.0; structured::workspace_len::<f64, Net>(3, 1)];
    let mut wj = vec![0.0; jacobian::workspace_len::<f64, [f64; 12], Net>(3)];
    for (scale, overflows) in [(1e100, false), (1e155, true)] {
        let xs = inputs::<12, 3>(15, scale);
        let (mut s, mut j) = ([[1.0; 3]; 3], [[1.0; 3]; 3]);
        let rs = structured::ntk(&net, &xs, &mut ws, &mut s);
        let rj = jacobian::ntk(&net, &xs, &mut wj, &mut j);
        assert_eq!(rs, rj);
        if overflows {
            assert!(matches!(rs, Err(Error::Overflow { .. })), "{rs:?}");
            assert!(s.iter().chain(&j).flatten().all(|&v| v == 0.0));
        } else {
            rs.unwrap();
            let top = (0..3).fold(0.0_f64, |m, i| m.max(s[i][i]));
            for (a, b) in s.as_flattened().iter().zip(j.as_flattened()) {
                assert!((a - b).abs() <= 1e-12 * top);
            }
        }
    }
}

#[test]
fn a_factored_convolution_that_overflows_is_refused_by_both_methods() {
    type Net = (
        Unflatten<8, 2>,
        Conv1d<f64, 8, 8, 3, 2>,
        GlobalAvgPool,
        Dense<f64, 8, 1>,
    );
    const { assert!(Conv1d::<f64, 8, 8, 3, 2>::FACTORED) };
    let mut net = Net::ZEROED;
    net.init_ntk(1.0, 0.1, &mut Rng::new(6));
    let mut ws = vec![0.0; structured::workspace_len::<f64, Net>(3, 1)];
    let mut wj = vec![0.0; jacobian::workspace_len::<f64, [f64; 16], Net>(3)];
    for (scale, overflows) in [(1e100, false), (1e155, true)] {
        let xs = inputs::<16, 3>(19, scale);
        let (mut s, mut j) = ([[1.0; 3]; 3], [[1.0; 3]; 3]);
        let rs = structured::ntk(&net, &xs, &mut ws, &mut s);
        let rj = jacobian::ntk(&net, &xs, &mut wj, &mut j);
        assert_eq!(rs, rj);
        if overflows {
            assert!(matches!(rs, Err(Error::Overflow { .. })), "{rs:?}");
            assert!(s.iter().chain(&j).flatten().all(|&v| v == 0.0));
        } else {
            rs.unwrap();
            let top = (0..3).fold(0.0_f64, |m, i| m.max(s[i][i]));
            for (a, b) in s.as_flattened().iter().zip(j.as_flattened()) {
                assert!((a - b).abs() <= 1e-12 * top);
            }
        }
    }
}

#[test]
fn structured_equals_jacobian_for_two_dimensional_networks() {
    use ntk::nn::{Conv2d, Unflatten2d};
    type Net<const K: usize> = (
        Unflatten2d<2, 3, 3>,
        Conv2d<f64, 2, 4, 3, 3, 3, 3>,
        Relu,
        Conv2d<f64, 4, 3, 3, 1, 3, 3>,
        Erf,
        GlobalAvgPool,
        Dense<f64, 3, K>,
    );
    type FlatNet = (
        Unflatten2d<1, 3, 2>,
        Conv2d<f64, 1, 2, 3, 3, 2, 3>,
        Tanh,
        Flatten<12>,
        Dense<f64, 12, 2>,
    );
    let xs = inputs::<18, 5>(21, 1.0);
    let xt = inputs::<18, 3>(22, 1.0);
    for (seed, padding) in [(1, Padding::Same), (2, Padding::Circular)] {
        let mut one = Net::<1>::ZEROED;
        one.init_ntk(1.3, 0.2, &mut Rng::new(seed));
        one.1.padding = padding;
        compare_methods(&one, &xs, &xt, 1e-12);
        let mut two = Net::<2>::ZEROED;
        two.init_standard(1.3, 0.2, &mut Rng::new(seed));
        two.3.padding = padding;
        compare_methods(&two, &xs, &xt, 1e-12);
    }
    let mut flat = FlatNet::ZEROED;
    flat.init_ntk(1.0, 0.3, &mut Rng::new(23));
    flat.1.padding = Padding::Circular;
    compare_methods(
        &flat,
        &inputs::<6, 4>(24, 1.0),
        &inputs::<6, 2>(25, 1.0),
        1e-12,
    );
}

/// Copies the parameters of an `f64` network into an `f32` network of the
/// same architecture (whose scales, parameterisation and paddings the caller
/// has set), rounding each to the nearest `f32`.
fn to_f32<N64: Params<f64>, N32: Params<f32>>(net: &N64, into: &mut N32) {
    let mut flat = vec![0.0; N64::NUM_PARAMS];
    net.write_flat(&mut flat).unwrap();
    let flat32: Vec<f32> = flat.iter().map(|&v| v as f32).collect();
    into.read_flat(&flat32).unwrap();
}

/// The `f32` kernels of a network whose `f64` twin is given, both methods,
/// against the `f64` Jacobian contraction.
fn f32_tracks_f64<N64, N32, const D: usize, const K: usize, const N: usize>(
    net: &N64,
    net32: &N32,
    xs: &[[f64; D]; N],
    tol: f64,
) where
    N64: ntk::nn::Module<f64, [f64; D], Output = [f64; K]> + Params<f64>,
    N32: ntk::nn::Module<f32, [f32; D], Output = [f32; K]> + Params<f32>,
{
    let xs32 = xs.map(|r| r.map(|v| v as f32));
    let mut want = [[0.0; N]; N];
    jacobian::ntk(
        net,
        xs,
        &mut vec![0.0; jacobian::workspace_len::<f64, [f64; D], N64>(N)],
        &mut want,
    )
    .unwrap();
    let mut s = [[0.0_f32; N]; N];
    structured::ntk(
        net32,
        &xs32,
        &mut vec![0.0; structured::workspace_len::<f32, N32>(N, K)],
        &mut s,
    )
    .unwrap();
    let mut j = [[0.0_f32; N]; N];
    jacobian::ntk(
        net32,
        &xs32,
        &mut vec![0.0; jacobian::workspace_len::<f32, [f32; D], N32>(N)],
        &mut j,
    )
    .unwrap();
    // The f32 inputs and parameters are rounded: the kernels differ by a
    // few units of f32 rounding times the number of terms, not more.
    let (es, ej) = (
        rel_err(s.as_flattened(), want.as_flattened()),
        rel_err(j.as_flattened(), want.as_flattened()),
    );
    assert!(es <= tol && ej <= tol, "structured {es:e}, Jacobian {ej:e}");
    for a in 0..N {
        for b in 0..N {
            assert_eq!(s[a][b].to_bits(), s[b][a].to_bits());
        }
    }
}

#[test]
fn f32_convolutional_kernels_track_f64() {
    use ntk::nn::{AvgPool2d, Conv2d, Unflatten2d};
    let xs = inputs::<12, 5>(31, 1.0);
    for (seed, padding) in [(7, Padding::Same), (8, Padding::Circular)] {
        for p in [Parameterization::Ntk, Parameterization::Standard] {
            let net = gap::<2>(seed, padding, p);
            let mut net32 = Gap::<2, f32>::ZEROED;
            net32.set_scales(1.3, 0.2, p);
            (net32.1.padding, net32.3.padding) = (padding, padding);
            to_f32(&net, &mut net32);
            f32_tracks_f64(&net, &net32, &xs, 1e-5);

            let net = flat::<1>(seed, padding, p);
            let mut net32 = Flat::<1, f32>::ZEROED;
            net32.set_scales(1.1, 0.4, p);
            net32.1.padding = padding;
            to_f32(&net, &mut net32);
            f32_tracks_f64(&net, &net32, &xs, 1e-5);
        }
    }
    // the factored form
    let xw = inputs::<16, 5>(32, 1.0);
    let net = wide::<1>(9, Padding::Circular, Parameterization::Ntk);
    let mut net32 = Wide::<1, f32>::ZEROED;
    net32.set_scales(1.2, 0.3, Parameterization::Ntk);
    (net32.1.padding, net32.3.padding) = (Padding::Circular, Padding::Circular);
    to_f32(&net, &mut net32);
    f32_tracks_f64(&net, &net32, &xw, 1e-5);

    // images, with pooling
    type Img<T> = (
        Unflatten2d<2, 4, 4>,
        Conv2d<T, 2, 3, 3, 3, 4, 4>,
        Relu,
        AvgPool2d<2, 2, 2>,
        Conv2d<T, 3, 4, 3, 3, 2, 2>,
        Erf,
        GlobalAvgPool,
        Dense<T, 4, 1>,
    );
    let mut net = Img::<f64>::ZEROED;
    net.init_ntk(1.4, 0.1, &mut Rng::new(33));
    net.4.padding = Padding::Circular;
    let mut net32 = Img::<f32>::ZEROED;
    net32.set_scales(1.4, 0.1, Parameterization::Ntk);
    net32.4.padding = Padding::Circular;
    to_f32(&net, &mut net32);
    f32_tracks_f64(&net, &net32, &inputs::<32, 5>(34, 1.0), 1e-5);
}

mod properties {
    //! Random networks of each family: structured = Jacobian contraction
    //! (f64, 1e-12 relative; trace, blocks and cross kernels), bitwise
    //! symmetric, positive semidefinite. `NTK_PROPTEST_CASES` raises the
    //! number of cases (10 000 in the volume run).
    use super::super::compare_methods;
    use crate::common::{cases, min_eigenvalue};
    use ntk::empirical::structured;
    use ntk::nn::{
        AvgPool, AvgPool2d, Conv1d, Conv2d, Dense, Erf, Flatten, GlobalAvgPool, Module, Padding,
        Parameterization, Params, Relu, Tanh, Unflatten, Unflatten2d, Zeroed,
    };
    use ntk::Rng;
    use proptest::prelude::*;

    /// Sequences: two convolutions (the first one pooled), a flatten or a
    /// global-average readout chosen by the network's type.
    type Seq = (
        Unflatten<2, 6>,
        Conv1d<f64, 2, 4, 3, 6>,
        Relu,
        AvgPool<2, 3>,
        Conv1d<f64, 4, 3, 3, 3>,
        Tanh,
        Flatten<9>,
        Dense<f64, 9, 2>,
    );

    /// Short sequences of many channels: factored convolutions.
    type Factored = (
        Unflatten<6, 2>,
        Conv1d<f64, 6, 7, 3, 2>,
        Erf,
        Conv1d<f64, 7, 6, 3, 2>,
        Relu,
        GlobalAvgPool,
        Dense<f64, 6, 1>,
    );

    /// Images: a convolution, 2×2 pooling, a second convolution, a global
    /// average.
    type Image = (
        Unflatten2d<2, 4, 4>,
        Conv2d<f64, 2, 3, 3, 3, 4, 4>,
        Relu,
        AvgPool2d<2, 2, 2>,
        Conv2d<f64, 3, 3, 3, 1, 2, 2>,
        Erf,
        GlobalAvgPool,
        Dense<f64, 3, 2>,
    );

    /// Draws a network with σw, σb and a parameterisation, then sets every
    /// padding by `set_padding`.
    fn net<Net: Params<f64> + Zeroed>(
        seed: u64,
        sw: f64,
        sb: f64,
        standard: bool,
        set_padding: impl FnOnce(&mut Net),
    ) -> Net {
        let mut n = Net::ZEROED;
        let p = if standard {
            Parameterization::Standard
        } else {
            Parameterization::Ntk
        };
        n.init(sw, sb, p, &mut Rng::new(seed));
        set_padding(&mut n);
        n
    }

    fn padding(circular: bool) -> Padding {
        if circular {
            Padding::Circular
        } else {
            Padding::Same
        }
    }

    /// The train kernel is positive semidefinite.
    fn psd<Net, const D: usize, const K: usize, const N: usize>(net: &Net, xs: &[[f64; D]; N])
    where
        Net: Module<f64, [f64; D], Output = [f64; K]> + Params<f64>,
    {
        let mut theta = [[0.0; N]; N];
        let mut ws = vec![0.0; structured::workspace_len::<f64, Net>(N, K)];
        structured::ntk(net, xs, &mut ws, &mut theta).unwrap();
        let trace: f64 = (0..N).map(|i| theta[i][i]).sum();
        assert!(min_eigenvalue(&theta) >= -1e-12 * trace);
    }

    fn seq_inputs<const D: usize, const N: usize>() -> impl Strategy<Value = [[f64; D]; N]> {
        proptest::array::uniform::<_, N>(proptest::array::uniform::<_, D>(-3.0..=3.0_f64))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases(64)))]

        #[test]
        fn sequence_networks(
            seed in 0u64..1_000_000, sw in 0.5..=2.0_f64, sb in 0.0..=1.0_f64,
            standard: bool, circular: bool,
            xs in seq_inputs::<12, 4>(), xt in seq_inputs::<12, 2>(),
        ) {
            let n: Seq = net(seed, sw, sb, standard, |n: &mut Seq| {
                n.1.padding = padding(circular);
                n.4.padding = padding(!circular);
            });
            compare_methods(&n, &xs, &xt, 1e-12);
            psd(&n, &xs);
        }

        #[test]
        fn factored_sequence_networks(
            seed in 0u64..1_000_000, sw in 0.5..=2.0_f64, sb in 0.0..=1.0_f64,
            standard: bool, circular: bool,
            xs in seq_inputs::<12, 4>(), xt in seq_inputs::<12, 2>(),
        ) {
            const { assert!(Conv1d::<f64, 6, 7, 3, 2>::FACTORED && Conv1d::<f64, 7, 6, 3, 2>::FACTORED) };
            let n: Factored = net(seed, sw, sb, standard, |n: &mut Factored| {
                n.1.padding = padding(circular);
                n.3.padding = padding(!circular);
            });
            compare_methods(&n, &xs, &xt, 1e-12);
            psd(&n, &xs);
        }

        #[test]
        fn image_networks(
            seed in 0u64..1_000_000, sw in 0.5..=2.0_f64, sb in 0.0..=1.0_f64,
            standard: bool, circular: bool,
            xs in seq_inputs::<32, 4>(), xt in seq_inputs::<32, 2>(),
        ) {
            let n: Image = net(seed, sw, sb, standard, |n: &mut Image| {
                n.1.padding = padding(circular);
                n.4.padding = padding(!circular);
            });
            compare_methods(&n, &xs, &xt, 1e-12);
            psd(&n, &xs);
        }
    }
}

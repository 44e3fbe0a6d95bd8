//! Convolutional networks: structured against Jacobian contraction for both
//! paddings and both readouts, positive semidefiniteness and range checks.

use super::{compare_methods, inputs};
use crate::common::min_eigenvalue;
use ntk::empirical::{jacobian, structured};
use ntk::nn::{
    AvgPool, Conv1d, Dense, Erf, Flatten, Gelu, GlobalAvgPool, Padding, Parameterization, Params,
    Relu, Tanh, Unflatten, Zeroed,
};
use ntk::{Error, Rng};

type Gap<const K: usize> = (
    Unflatten<2, 6>,
    Conv1d<f64, 2, 5, 3, 6>,
    Relu,
    Conv1d<f64, 5, 4, 5, 6>,
    Erf,
    GlobalAvgPool,
    Dense<f64, 4, K>,
);

type Flat<const K: usize> = (
    Unflatten<3, 4>,
    Conv1d<f64, 3, 4, 3, 4>,
    Tanh,
    AvgPool<2, 2>,
    Conv1d<f64, 4, 3, 1, 2>,
    Relu,
    Flatten<6>,
    Dense<f64, 6, K>,
);

/// Short sequences of many channels: both convolutions take the factored
/// form.
type Wide<const K: usize> = (
    Unflatten<8, 2>,
    Conv1d<f64, 8, 8, 3, 2>,
    Relu,
    Conv1d<f64, 8, 6, 3, 2>,
    Gelu,
    GlobalAvgPool,
    Dense<f64, 6, K>,
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

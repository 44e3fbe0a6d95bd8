//! Recurrent networks: structured against Jacobian contraction for both
//! readouts and both forms of the recurrent factor, positive
//! semidefiniteness, the one-step network as an MLP, range checks.

use super::{compare_methods, inputs};
use crate::common::{min_eigenvalue, rel_err};
use ntk::empirical::{jacobian, structured};
use ntk::nn::{
    Dense, Erf, Gelu, GlobalAvgPool, Identity, Last, Module, Parameterization, Params, Relu, Rnn,
    Tanh, Unflatten, Zeroed,
};
use ntk::{Error, Rng};

/// Long sequences: the recurrent factor is the time-summed gradient.
type LastNet<A, const K: usize> = (
    Unflatten<3, 5>,
    Rnn<f64, 3, 6, 5, A>,
    Last,
    Dense<f64, 6, K>,
);
type GapNet<A, const K: usize> = (
    Unflatten<3, 5>,
    Rnn<f64, 3, 6, 5, A>,
    GlobalAvgPool,
    Dense<f64, 6, K>,
);
/// Two steps of a wide layer: the recurrent factor is factored over steps.
type FactoredLast<A, const K: usize> = (
    Unflatten<3, 2>,
    Rnn<f64, 3, 16, 2, A>,
    Last,
    Dense<f64, 16, K>,
);
type FactoredGap<A, const K: usize> = (
    Unflatten<3, 2>,
    Rnn<f64, 3, 16, 2, A>,
    GlobalAvgPool,
    Dense<f64, 16, K>,
);

/// A network of type `Net` with σw = `sw`, σu = `su`, σb = `sb` in its
/// recurrent layer (the tuple's second element) and a readout drawn with
/// σv = 1.1, σbv = 0.2.
fn build<Net: Params<f64> + Zeroed>(
    seed: u64,
    p: Parameterization,
    set: impl FnOnce(&mut Net, f64, f64, f64, Parameterization),
) -> Net {
    let mut net = Net::ZEROED;
    net.init(1.1, 0.2, p, &mut Rng::new(seed));
    set(&mut net, 1.4, 0.9, 0.3, p);
    net.reinit(&mut Rng::new(seed + 1));
    net
}

macro_rules! rnn_scales {
    () => {
        |n: &mut _, sw, su, sb, p| {
            let n: &mut (_, Rnn<f64, _, _, _, _>, _, _) = n;
            n.1.set_rnn_scales(sw, su, sb, p);
        }
    };
}

fn compare_all<A>(seed: u64)
where
    A: ntk::nn::Activation<f64> + Params<f64> + Zeroed,
{
    const { assert!(!Rnn::<f64, 3, 6, 5>::FACTORED && Rnn::<f64, 3, 16, 2>::FACTORED) };
    let xs = inputs::<15, 5>(seed + 10, 1.0);
    let xt = inputs::<15, 3>(seed + 11, 1.0);
    let fs = inputs::<6, 5>(seed + 12, 1.0);
    let ft = inputs::<6, 3>(seed + 13, 1.0);
    for p in [Parameterization::Ntk, Parameterization::Standard] {
        compare_methods(
            &build::<LastNet<A, 1>>(seed, p, rnn_scales!()),
            &xs,
            &xt,
            1e-12,
        );
        compare_methods(
            &build::<LastNet<A, 2>>(seed, p, rnn_scales!()),
            &xs,
            &xt,
            1e-12,
        );
        compare_methods(
            &build::<GapNet<A, 1>>(seed, p, rnn_scales!()),
            &xs,
            &xt,
            1e-12,
        );
        compare_methods(
            &build::<GapNet<A, 3>>(seed, p, rnn_scales!()),
            &xs,
            &xt,
            1e-12,
        );
        compare_methods(
            &build::<FactoredLast<A, 1>>(seed, p, rnn_scales!()),
            &fs,
            &ft,
            1e-12,
        );
        compare_methods(
            &build::<FactoredLast<A, 2>>(seed, p, rnn_scales!()),
            &fs,
            &ft,
            1e-12,
        );
        compare_methods(
            &build::<FactoredGap<A, 1>>(seed, p, rnn_scales!()),
            &fs,
            &ft,
            1e-12,
        );
        compare_methods(
            &build::<FactoredGap<A, 2>>(seed, p, rnn_scales!()),
            &fs,
            &ft,
            1e-12,
        );
    }
}

#[test]
fn structured_equals_jacobian_for_recurrent_networks() {
    compare_all::<Relu>(1);
    compare_all::<Tanh>(2);
    compare_all::<Erf>(3);
    compare_all::<Gelu>(4);
    compare_all::<Identity>(5);
}

#[test]
fn recurrent_grams_are_positive_semidefinite() {
    let xs = inputs::<15, 7>(30, 1.0);
    let net = build::<GapNet<Tanh, 2>>(31, Parameterization::Ntk, rnn_scales!());
    let mut ws = vec![0.0; structured::workspace_len::<f64, GapNet<Tanh, 2>>(7, 2)];
    let mut theta = [[0.0; 7]; 7];
    structured::ntk(&net, &xs, &mut ws, &mut theta).unwrap();
    let trace: f64 = (0..7).map(|i| theta[i][i]).sum();
    assert!(min_eigenvalue(&theta) >= -1e-12 * trace);

    let xs = inputs::<6, 7>(32, 1.0);
    let net = build::<FactoredLast<Relu, 1>>(33, Parameterization::Ntk, rnn_scales!());
    let mut ws = vec![0.0; structured::workspace_len::<f64, FactoredLast<Relu, 1>>(7, 1)];
    structured::ntk(&net, &xs, &mut ws, &mut theta).unwrap();
    let trace: f64 = (0..7).map(|i| theta[i][i]).sum();
    assert!(min_eigenvalue(&theta) >= -1e-12 * trace);
}

#[test]
fn the_kernel_is_the_sum_of_gradient_products() {
    // Θ(x, x') = ∇θ f(x) · ∇θ f(x'), the gradients from the network-typed
    // backward pass (backward through time into an `Rnn`), for both forms.
    fn check<
        Net: Module<f64, [f64; D], Output = [f64; 1]> + Params<f64> + Zeroed,
        const D: usize,
    >(
        net: &Net,
    ) {
        let xs = inputs::<D, 2>(40, 1.0);
        let grad = |x: &[f64; D]| {
            let mut cache = Net::Cache::zeroed();
            net.forward(x, &mut cache);
            let mut g = Net::ZEROED;
            let _: [f64; D] = net.backward(&cache, &[1.0], &mut g);
            let mut v = vec![0.0; Net::NUM_PARAMS];
            g.write_flat(&mut v).unwrap();
            v
        };
        let (g0, g1) = (grad(&xs[0]), grad(&xs[1]));
        let want: f64 = g0.iter().zip(&g1).map(|(a, b)| a * b).sum();
        let mut ws = vec![0.0; structured::workspace_len::<f64, Net>(2, 1)];
        let mut theta = [[0.0; 2]; 2];
        structured::ntk(net, &xs, &mut ws, &mut theta).unwrap();
        assert!((theta[0][1] - want).abs() <= 1e-12 * theta[0][0].max(theta[1][1]));
    }
    check::<_, 15>(&build::<GapNet<Tanh, 1>>(
        41,
        Parameterization::Ntk,
        rnn_scales!(),
    ));
    check::<_, 6>(&build::<FactoredGap<Erf, 1>>(
        42,
        Parameterization::Standard,
        rnn_scales!(),
    ));
}

/// One step: `h_1 = φ(us·U·x_1 + bs·b)`, the hidden layer of an MLP.
fn one_step_is_an_mlp<A, const K: usize>(seed: u64, p: Parameterization, act: A)
where
    A: ntk::nn::Activation<f64> + Module<f64, [f64; 8], Output = [f64; 8]> + Params<f64> + Clone,
    A: Zeroed,
{
    let mut rng = Rng::new(seed);
    let r: Rnn<f64, 3, 8, 1, A> = Rnn::new(1.7, 1.3, 0.4, p, &mut rng);
    let v: Dense<f64, 8, K> = Dense::new(1.1, 0.3, p, &mut rng);
    let rnn = (Unflatten::<3, 1>, r.clone(), Last, v.clone());
    let mut first: Dense<f64, 3, 8> = Dense::zeros(1.3, 0.4, p);
    first.weight = r.u;
    first.bias = r.bias;
    let mlp = (first, act, v);
    let xs = inputs::<3, 6>(seed + 1, 1.0);
    let xt = inputs::<3, 2>(seed + 2, 1.0);
    for (a, b) in xs.iter().map(|x| (rnn.eval(x), mlp.eval(x))) {
        for (u, w) in a.iter().zip(&b) {
            assert!((u - w).abs() <= 1e-14 * (1.0 + w.abs()));
        }
    }
    let mut ws = vec![
        0.0;
        structured::workspace_len::<
            f64,
            (
                Unflatten<3, 1>,
                Rnn<f64, 3, 8, 1, A>,
                Last,
                Dense<f64, 8, K>
            ),
        >(8, K)
    ];
    let mut wm =
        vec![
            0.0;
            jacobian::workspace_len::<f64, [f64; 3], (Dense<f64, 3, 8>, A, Dense<f64, 8, K>)>(8)
        ];
    let (mut a, mut b) = ([[0.0; 6]; 6], [[0.0; 6]; 6]);
    structured::ntk(&rnn, &xs, &mut ws, &mut a).unwrap();
    jacobian::ntk(&mlp, &xs, &mut wm, &mut b).unwrap();
    assert!(rel_err(a.as_flattened(), b.as_flattened()) <= 1e-12);
    // the other way round: the RNN by Jacobian, the MLP structured
    let mut wr = vec![
        0.0;
        jacobian::workspace_len::<
            f64,
            [f64; 3],
            (
                Unflatten<3, 1>,
                Rnn<f64, 3, 8, 1, A>,
                Last,
                Dense<f64, 8, K>
            ),
        >(8)
    ];
    let mut wn =
        vec![0.0; structured::workspace_len::<f64, (Dense<f64, 3, 8>, A, Dense<f64, 8, K>)>(8, K)];
    let (mut a, mut b) = ([[0.0; 6]; 2], [[0.0; 6]; 2]);
    jacobian::ntk_cross(&rnn, &xt, &xs, &mut wr, &mut a).unwrap();
    structured::ntk_cross(&mlp, &xt, &xs, &mut wn, &mut b).unwrap();
    assert!(rel_err(a.as_flattened(), b.as_flattened()) <= 1e-12);
}

#[test]
fn one_step_equals_the_mlp_of_its_input_weights() {
    for p in [Parameterization::Ntk, Parameterization::Standard] {
        one_step_is_an_mlp::<Relu, 1>(50, p, Relu);
        one_step_is_an_mlp::<Tanh, 2>(51, p, Tanh);
        one_step_is_an_mlp::<Erf, 1>(52, p, Erf);
    }
}

#[test]
fn a_recurrent_layer_that_overflows_is_refused_by_both_methods() {
    // Identity activation, σw large: the states grow geometrically in time.
    fn refuse<Net: Module<f64, [f64; D], Output = [f64; 1]> + Params<f64>, const D: usize>(
        net: &Net,
        scale: f64,
    ) {
        let xs = inputs::<D, 3>(60, scale);
        let mut ws = vec![0.0; structured::workspace_len::<f64, Net>(3, 1)];
        let mut wj = vec![0.0; jacobian::workspace_len::<f64, [f64; D], Net>(3)];
        let (mut s, mut j) = ([[1.0; 3]; 3], [[1.0; 3]; 3]);
        let rs = structured::ntk(net, &xs, &mut ws, &mut s);
        let rj = jacobian::ntk(net, &xs, &mut wj, &mut j);
        assert!(matches!(rs, Err(Error::Overflow { .. })), "{rs:?}");
        assert!(matches!(rj, Err(Error::Overflow { .. })), "{rj:?}");
        assert!(s
            .iter()
            .flatten()
            .chain(j.iter().flatten())
            .all(|&v| v == 0.0));
    }
    let mut a = build::<GapNet<Identity, 1>>(61, Parameterization::Ntk, rnn_scales!());
    a.1.w_std = 1e60;
    refuse::<_, 15>(&a, 1.0);
    let mut b = build::<FactoredLast<Identity, 1>>(62, Parameterization::Ntk, rnn_scales!());
    b.1.u_std = 1e150;
    refuse::<_, 6>(&b, 1.0);
    // and a moderate network is accepted by both
    let mut wj = vec![0.0; jacobian::workspace_len::<f64, [f64; 6], FactoredLast<Identity, 1>>(3)];
    let mut j = [[0.0; 3]; 3];
    b.1.u_std = 1.0;
    jacobian::ntk(&b, &inputs::<6, 3>(63, 1.0), &mut wj, &mut j).unwrap();
}

mod properties {
    //! Random recurrent networks: structured = Jacobian contraction (f64,
    //! 1e-12 relative; trace, blocks and cross kernels), bitwise symmetric,
    //! positive semidefinite. `NTK_PROPTEST_CASES` raises the number of
    //! cases.
    use super::super::compare_methods;
    use super::{FactoredGap, LastNet};
    use crate::common::{cases, min_eigenvalue};
    use ntk::empirical::structured;
    use ntk::nn::{Erf, Module, Parameterization, Params, Relu, Tanh, Zeroed};
    use ntk::Rng;
    use proptest::prelude::*;

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

    fn seqs<const D: usize, const N: usize>() -> impl Strategy<Value = [[f64; D]; N]> {
        proptest::array::uniform::<_, N>(proptest::array::uniform::<_, D>(-3.0..=3.0_f64))
    }

    fn param(standard: bool) -> Parameterization {
        if standard {
            Parameterization::Standard
        } else {
            Parameterization::Ntk
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases(64)))]

        #[test]
        fn recurrent_networks(
            seed in 0u64..1_000_000, sw in 0.0..=2.0_f64, su in 0.1..=2.0_f64,
            sb in 0.0..=1.0_f64, standard: bool, tanh: bool,
            xs in seqs::<15, 4>(), xt in seqs::<15, 2>(),
        ) {
            let mut rng = Rng::new(seed);
            if tanh {
                let mut n = LastNet::<Tanh, 2>::ZEROED;
                n.init(1.0, 0.1, param(standard), &mut rng);
                n.1.set_rnn_scales(sw, su, sb, param(standard));
                n.reinit(&mut rng);
                compare_methods(&n, &xs, &xt, 1e-12);
                psd(&n, &xs);
            } else {
                let mut n = LastNet::<Relu, 1>::ZEROED;
                n.init(1.0, 0.1, param(standard), &mut rng);
                n.1.set_rnn_scales(sw, su, sb, param(standard));
                n.reinit(&mut rng);
                compare_methods(&n, &xs, &xt, 1e-12);
                psd(&n, &xs);
            }
        }

        #[test]
        fn factored_recurrent_networks(
            seed in 0u64..1_000_000, sw in 0.0..=2.0_f64, su in 0.1..=2.0_f64,
            sb in 0.0..=1.0_f64, standard: bool,
            xs in seqs::<6, 4>(), xt in seqs::<6, 2>(),
        ) {
            let mut rng = Rng::new(seed);
            let mut n = FactoredGap::<Erf, 2>::ZEROED;
            n.init(1.0, 0.1, param(standard), &mut rng);
            n.1.set_rnn_scales(sw, su, sb, param(standard));
            n.reinit(&mut rng);
            compare_methods(&n, &xs, &xt, 1e-12);
            psd(&n, &xs);
        }
    }
}

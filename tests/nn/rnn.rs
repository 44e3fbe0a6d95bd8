//! The recurrent layer: its forward pass against the definition, backward
//! through time against central finite differences, in-place
//! initialisation, batched passes, the readouts.

use super::{check_gradients, ALL_PARAMETERIZATIONS};
use ntk::nn::{
    Dense, Erf, GlobalAvgPool, Last, LeakyRelu, Module, Parameterization, Params, Relu, Rnn, Tanh,
    Unflatten, Zeroed,
};
use ntk::Rng;

/// The definition, plain loops: `g_t = ws·W·h_{t−1} + us·U·x_t + bs·b`.
fn rnn_by_hand<const D: usize, const H: usize, const L: usize>(
    r: &Rnn<f64, D, H, L, Tanh>,
    x: &[[f64; D]; L],
) -> [[f64; H]; L] {
    let (h, d) = (H as f64, D as f64);
    // μP: the rule of each role with fan-in and fan-out of W (H, H) and U (D, H).
    let (ws, us, bs) = match r.parameterization {
        Parameterization::Ntk => (r.w_std / h.sqrt(), r.u_std / d.sqrt(), r.bias_std),
        Parameterization::Standard => (1.0, 1.0, r.bias_std),
        Parameterization::MuPInput => (r.w_std, r.u_std * (h / d).sqrt(), r.bias_std * h.sqrt()),
        Parameterization::MuPHidden => (r.w_std, r.u_std, r.bias_std * h.sqrt()),
        Parameterization::MuPOutput => (r.w_std / h.sqrt(), r.u_std / d.sqrt(), r.bias_std),
    };
    let mut h = [[0.0; H]; L];
    let mut prev = [0.0; H];
    for t in 0..L {
        for o in 0..H {
            let mut g = bs * r.bias[o];
            for i in 0..H {
                g += ws * r.w[o][i] * prev[i];
            }
            for c in 0..D {
                g += us * r.u[o][c] * x[t][c];
            }
            h[t][o] = g.tanh();
        }
        prev = h[t];
    }
    h
}

#[test]
fn forward_matches_the_definition() {
    let mut rng = Rng::new(3);
    let mut x = [[0.0; 3]; 5];
    for xt in &mut x {
        rng.fill_normal(xt);
    }
    for p in ALL_PARAMETERIZATIONS {
        // H = 6: a block of four rows and two single rows
        let r: Rnn<f64, 3, 6, 5, Tanh> = Rnn::new(1.4, 0.8, 0.3, p, &mut rng);
        let want = rnn_by_hand(&r, &x);
        let got = r.eval(&x);
        for (g, w) in got.as_flattened().iter().zip(want.as_flattened()) {
            assert!((g - w).abs() <= 1e-14, "{g} vs {w}");
        }
        assert_eq!(<Last as Module<f64, _>>::eval(&Last, &got), got[4]);
    }
}

#[test]
fn standard_parameterization_draws_scaled_weights() {
    let ntk: Rnn<f64, 4, 64, 2, Relu> = Rnn::ntk(1.5, 0.5, 0.2, &mut Rng::new(9));
    let std: Rnn<f64, 4, 64, 2, Relu> = Rnn::standard(1.5, 0.5, 0.2, &mut Rng::new(9));
    for (a, b) in ntk.w.as_flattened().iter().zip(std.w.as_flattened()) {
        assert!((a * 1.5 / 8.0 - b).abs() <= 1e-15);
    }
    for (a, b) in ntk.u.as_flattened().iter().zip(std.u.as_flattened()) {
        assert!((a * 0.5 / 2.0 - b).abs() <= 1e-15);
    }
    assert_eq!(ntk.bias, std.bias);
    // the same function either way
    let x = [[0.3, -0.1, 0.7, 1.0], [0.2, 0.0, -0.5, 0.4]];
    let (a, b) = (ntk.eval(&x), std.eval(&x));
    for (u, v) in a.as_flattened().iter().zip(b.as_flattened()) {
        assert!((u - v).abs() <= 1e-13);
    }
}

type LastNet<A> = (
    Unflatten<2, 4>,
    Rnn<f64, 2, 5, 4, A>,
    Last,
    Dense<f64, 5, 2>,
);
type GapNet<A> = (
    Unflatten<3, 3>,
    Rnn<f64, 3, 4, 3, A>,
    GlobalAvgPool,
    Dense<f64, 4, 1>,
);

#[test]
fn gradients_through_time() {
    for seed in 0..3 {
        for p in ALL_PARAMETERIZATIONS {
            let mut rng = Rng::new(40 + seed);
            let net: LastNet<Tanh> = (
                Unflatten,
                Rnn::new(1.3, 0.9, 0.2, p, &mut rng),
                Last,
                Dense::ntk(1.0, 0.1, &mut rng),
            );
            check_gradients::<_, 8, 2>(&net, seed);
            let net: LastNet<Erf> = (
                Unflatten,
                Rnn::new(1.1, 1.2, 0.4, p, &mut rng),
                Last,
                Dense::ntk(1.0, 0.1, &mut rng),
            );
            check_gradients::<_, 8, 2>(&net, seed);
            let mut net: GapNet<LeakyRelu<f64>> = (
                Unflatten,
                Rnn::new(1.5, 1.0, 0.1, p, &mut rng),
                GlobalAvgPool,
                Dense::standard(1.0, 0.3, &mut rng),
            );
            net.1.activation = LeakyRelu { alpha: 0.3 };
            check_gradients::<_, 9, 1>(&net, seed);
        }
    }
}

#[test]
fn in_place_initialisation_equals_by_value() {
    let mut net = LastNet::<Relu>::ZEROED;
    net.init_ntk(1.2, 0.3, &mut Rng::new(11));
    let mut rng = Rng::new(11);
    let by_value: LastNet<Relu> = (
        Unflatten,
        Rnn::ntk(1.2, 1.2, 0.3, &mut rng),
        Last,
        Dense::ntk(1.2, 0.3, &mut rng),
    );
    assert_eq!(net, by_value);
    assert_eq!(LastNet::<Relu>::NUM_PARAMS, 25 + 10 + 5 + 12);
    // the flat order is W row-major, U row-major, b
    let mut flat = vec![0.0; Rnn::<f64, 2, 5, 4>::NUM_PARAMS];
    net.1.write_flat(&mut flat).unwrap();
    assert_eq!(flat[7], net.1.w[1][2]);
    assert_eq!(flat[25 + 3], net.1.u[1][1]);
    assert_eq!(flat[35 + 4], net.1.bias[4]);
}

#[test]
fn batched_passes_equal_single_passes_bitwise() {
    use ntk::nn::FlatGradient;
    let mut net = GapNet::<Tanh>::ZEROED;
    net.init_standard(1.3, 0.2, &mut Rng::new(5));
    let mut rng = Rng::new(6);
    let xs: [[f64; 9]; 3] = core::array::from_fn(|_| {
        let mut x = [0.0; 9];
        rng.fill_normal(&mut x);
        x
    });
    let mut bc = <GapNet<Tanh> as Module<f64, [f64; 9]>>::BatchCache::<3>::zeroed();
    let ys = net.forward_batch(&xs, &mut bc);
    let n = GapNet::<Tanh>::NUM_PARAMS;
    let mut bufs = vec![vec![0.0; n]; 3];
    let [b0, b1, b2] = &mut bufs[..] else {
        unreachable!()
    };
    let mut sinks = [
        FlatGradient::new(b0),
        FlatGradient::new(b1),
        FlatGradient::new(b2),
    ];
    let dxs: [[f64; 9]; 3] = net.backward_with_batch(&bc, &[[1.0]; 3], &mut sinks);
    for (b, x) in xs.iter().enumerate() {
        let mut cache = <GapNet<Tanh> as Module<f64, [f64; 9]>>::Cache::zeroed();
        assert_eq!(net.forward(x, &mut cache), ys[b]);
        let mut g = vec![0.0; n];
        let mut sink = FlatGradient::new(&mut g);
        assert_eq!(net.backward_with(&cache, &[1.0], &mut sink), dxs[b]);
        assert_eq!(g, bufs[b]);
    }
}

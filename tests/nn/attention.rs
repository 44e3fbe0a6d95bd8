//! Self-attention: the forward pass against the definition written out in
//! plain loops, every parameter gradient and the input cotangent against
//! central finite differences (one and two heads, softmax and identity
//! weights), in-place initialisation, batched passes.

use super::check_gradients;
use ntk::nn::{
    AttentionMechanism, Conv1d, Dense, FlatGradient, Flatten, GlobalAvgPool, LayerNorm, Module,
    Params, Relu, SelfAttention, Unflatten, Zeroed,
};
use ntk::Rng;

/// The definition (neural-tangents' `GlobalSelfAttention` apply function
/// with linear scaling), plain loops in a different order from the layer's.
fn attention_by_hand<
    const C_IN: usize,
    const C_OUT: usize,
    const L: usize,
    const C_K: usize,
    const C_V: usize,
    const HEADS: usize,
>(
    a: &SelfAttention<f64, C_IN, C_OUT, L, C_K, C_V, HEADS>,
    x: &[[f64; C_IN]; L],
) -> [[f64; C_OUT]; L] {
    let qk = a.query_std * a.key_std;
    let ov = a.value_std * a.out_std;
    let mut y = [[0.0; C_OUT]; L];
    for h in 0..HEADS {
        let mut keys = [[0.0; C_K]; L];
        let mut vals = [[0.0; C_V]; L];
        for s in 0..L {
            for c in 0..C_IN {
                for k in 0..C_K {
                    keys[s][k] += x[s][c] * a.key[h][k][c];
                }
                for v in 0..C_V {
                    vals[s][v] += x[s][c] * a.value[h][v][c];
                }
            }
        }
        for s in 0..L {
            let mut g = [0.0; L];
            for t in 0..L {
                let mut d = 0.0;
                for k in 0..C_K {
                    d += keys[s][k] * keys[t][k];
                }
                g[t] = qk / (C_IN * C_K) as f64 * d;
            }
            if a.mechanism == AttentionMechanism::Softmax {
                let z: f64 = g.iter().map(|v| v.exp()).sum();
                for v in g.iter_mut() {
                    *v = v.exp() / z;
                }
            }
            for o in 0..C_OUT {
                for v in 0..C_V {
                    let head: f64 = (0..L).map(|t| g[t] * vals[t][v]).sum();
                    y[s][o] += ov / ((C_V * HEADS * C_IN) as f64).sqrt() * a.out[o][h][v] * head;
                }
            }
        }
    }
    y
}

type Att<const H: usize> = SelfAttention<f64, 3, 2, 4, 3, 2, H>;
type AttNet<const H: usize> = (Unflatten<3, 4>, Att<H>, Flatten<8>);

const MECHANISMS: [AttentionMechanism; 2] =
    [AttentionMechanism::Softmax, AttentionMechanism::Identity];

#[test]
fn forward_matches_the_definition() {
    let mut rng = Rng::new(1);
    let x: [[f64; 3]; 4] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
    for m in MECHANISMS {
        let a: Att<2> = SelfAttention::ntk(1.3, 0.7, 1.1, 0.9, m, &mut rng);
        let (got, want) = (a.eval(&x), attention_by_hand(&a, &x));
        for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
            assert!((g - w).abs() <= 1e-14 * (1.0 + w.abs()), "{g} vs {w}");
        }
        let a: SelfAttention<f64, 5, 3, 6, 7, 4, 3> =
            SelfAttention::ntk(1.0, 2.0, 0.5, 1.5, m, &mut rng);
        let x: [[f64; 5]; 6] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
        let (got, want) = (a.eval(&x), attention_by_hand(&a, &x));
        for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
            assert!((g - w).abs() <= 1e-14 * (1.0 + w.abs()), "{g} vs {w}");
        }
    }
}

#[test]
fn softmax_weights_are_a_distribution_over_keys() {
    let mut rng = Rng::new(2);
    let a: Att<2> = SelfAttention::ntk(3.0, 2.0, 1.0, 1.0, AttentionMechanism::Softmax, &mut rng);
    let x: [[f64; 3]; 4] =
        core::array::from_fn(|_| core::array::from_fn(|_| 2.0 * rng.normal::<f64>()));
    let mut cache = Zeroed::zeroed();
    a.forward(&x, &mut cache);
    let cache: &ntk::nn::AttentionCache<f64, 3, 4, 3, 2, 2> = &cache;
    for g in cache.weights.iter().flatten() {
        assert!((g.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!(g.iter().all(|&w| w > 0.0));
    }
    // Equal inputs at every position: every weight 1/L, every output the same.
    let y = a.eval(&[[0.3, -0.2, 1.0]; 4]);
    assert!(y.iter().all(|ys| ys == &y[0]));
}

#[test]
fn gradients_one_and_two_heads_softmax_and_identity() {
    for seed in 0..3 {
        for m in MECHANISMS {
            let mut rng = Rng::new(10 + seed);
            let net: AttNet<1> = (
                Unflatten,
                SelfAttention::ntk(1.4, 0.8, 1.2, 0.9, m, &mut rng),
                Flatten,
            );
            check_gradients::<_, 12, 8>(&net, seed);
            let net: AttNet<2> = (
                Unflatten,
                SelfAttention::ntk(1.1, 1.3, 0.7, 1.0, m, &mut rng),
                Flatten,
            );
            check_gradients::<_, 12, 8>(&net, seed);
        }
    }
}

type Stack = (
    Unflatten<2, 5>,
    Conv1d<f64, 2, 6, 3, 5>,
    Relu,
    SelfAttention<f64, 6, 4, 5, 3, 5, 2>,
    LayerNorm,
    GlobalAvgPool,
    Dense<f64, 4, 2>,
);

#[test]
fn gradients_of_an_attention_network() {
    for m in MECHANISMS {
        for seed in 0..2 {
            let mut net = Stack::ZEROED;
            net.init_ntk(1.2, 0.2, &mut Rng::new(20 + seed));
            net.3.mechanism = m;
            check_gradients::<_, 10, 2>(&net, seed);
        }
    }
}

#[test]
fn in_place_initialisation_equals_by_value() {
    let mut net = AttNet::<2>::ZEROED;
    net.init_ntk(1.2, 0.3, &mut Rng::new(11));
    let by_value: AttNet<2> = (
        Unflatten,
        SelfAttention::ntk(
            1.2,
            1.2,
            1.2,
            1.2,
            AttentionMechanism::Softmax,
            &mut Rng::new(11),
        ),
        Flatten,
    );
    assert_eq!(net, by_value);
    assert_eq!(Att::<2>::NUM_PARAMS, 2 * 3 * 3 + 2 * 2 * 3 + 2 * 2 * 2);
    // the flat order is key[h][k][c], value[h][v][c], out[o][h][v]
    let mut flat = vec![0.0; Att::<2>::NUM_PARAMS];
    net.1.write_flat(&mut flat).unwrap();
    assert_eq!(flat[9 + 3 + 2], net.1.key[1][1][2]);
    assert_eq!(flat[18 + 6 + 1], net.1.value[1][0][1]);
    assert_eq!(flat[30 + 4 + 3], net.1.out[1][1][1]);
}

#[test]
fn batched_passes_equal_single_passes_bitwise() {
    let mut net = Stack::ZEROED;
    net.init_ntk(1.3, 0.2, &mut Rng::new(5));
    let mut rng = Rng::new(6);
    let xs: [[f64; 10]; 3] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
    let mut bc = <Stack as Module<f64, [f64; 10]>>::BatchCache::<3>::zeroed();
    let ys = net.forward_batch(&xs, &mut bc);
    let n = Stack::NUM_PARAMS;
    let mut bufs = vec![vec![0.0; n]; 3];
    let [b0, b1, b2] = &mut bufs[..] else {
        unreachable!()
    };
    let mut sinks = [
        FlatGradient::new(b0),
        FlatGradient::new(b1),
        FlatGradient::new(b2),
    ];
    let dys = [[1.0, -0.5]; 3];
    let dxs: [[f64; 10]; 3] = net.backward_with_batch(&bc, &dys, &mut sinks);
    assert!(sinks.iter().all(FlatGradient::is_complete));
    for (b, x) in xs.iter().enumerate() {
        let mut cache = <Stack as Module<f64, [f64; 10]>>::Cache::zeroed();
        assert_eq!(net.forward(x, &mut cache), ys[b]);
        let mut g = vec![0.0; n];
        let mut sink = FlatGradient::new(&mut g);
        assert_eq!(net.backward_with(&cache, &dys[b], &mut sink), dxs[b]);
        assert_eq!(g, bufs[b]);
    }
}

#[test]
fn non_finite_inputs_do_not_panic() {
    let mut net = Stack::ZEROED;
    net.init_ntk(1.0, 0.1, &mut Rng::new(7));
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300] {
        let mut x = [0.5; 10];
        x[3] = bad;
        let mut cache = Zeroed::zeroed();
        let _ = net.forward(&x, &mut cache);
        let mut g = net.clone();
        g.fill(0.0);
        let _: [f64; 10] = net.backward(&cache, &[1.0, 1.0], &mut g);
    }
}

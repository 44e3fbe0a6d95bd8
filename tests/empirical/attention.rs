//! Transformer-style networks (self-attention, layer norm, residual and sum
//! blocks): structured against Jacobian contraction, the Jacobian kernel
//! against one built from finite-difference gradients, symmetry and
//! positive semidefiniteness.

use super::{compare_methods, inputs};
use crate::common::{cases, min_eigenvalue, rel_err};
use ntk::empirical::{jacobian, structured};
use ntk::nn::{
    AttentionMechanism, Conv1d, Dense, Erf, GlobalAvgPool, LayerNorm, Module, Params, Relu,
    Residual, SelfAttention, Sum, Tanh, Unflatten, Zeroed,
};
use ntk::Rng;
use proptest::prelude::*;

/// Sequences of 4 positions × 2 channels through a convolution, a residual
/// convolution block, layer norm and `HEADS`-head attention.
type Transformer<const HEADS: usize, const K: usize> = (
    Unflatten<2, 4>,
    Conv1d<f64, 2, 6, 3, 4>,
    Relu,
    Residual<(Conv1d<f64, 6, 6, 3, 4>, Relu, Conv1d<f64, 6, 6, 1, 4>)>,
    LayerNorm,
    SelfAttention<f64, 6, 5, 4, 4, 3, HEADS>,
    Relu,
    GlobalAvgPool,
    Dense<f64, 5, K>,
);

/// A flat residual MLP with layer norm and a two-branch sum.
type ResMlp<const K: usize> = (
    Dense<f64, 3, 8>,
    Residual<(Dense<f64, 8, 8>, Relu, Dense<f64, 8, 8>)>,
    LayerNorm,
    Residual<(Dense<f64, 8, 8>, Tanh, Dense<f64, 8, 8>)>,
    Sum<Dense<f64, 8, 6>, (Dense<f64, 8, 6>, Erf)>,
    Dense<f64, 6, K>,
);

fn transformer<const HEADS: usize, const K: usize>(
    seed: u64,
    mechanism: AttentionMechanism,
) -> Transformer<HEADS, K> {
    let mut net = Transformer::<HEADS, K>::ZEROED;
    net.init_ntk(1.3, 0.2, &mut Rng::new(seed));
    net.5.set_attention_scales(1.2, 0.9, 1.1, 1.0);
    net.5.mechanism = mechanism;
    net
}

fn res_mlp<const K: usize>(seed: u64) -> ResMlp<K> {
    let mut net = ResMlp::<K>::ZEROED;
    net.init_ntk(1.2, 0.3, &mut Rng::new(seed));
    net
}

const MECHANISMS: [AttentionMechanism; 2] =
    [AttentionMechanism::Softmax, AttentionMechanism::Identity];

#[test]
fn structured_equals_jacobian_for_attention_networks() {
    let xs = inputs::<8, 6>(1, 1.0);
    let xt = inputs::<8, 3>(2, 1.0);
    for (i, m) in MECHANISMS.into_iter().enumerate() {
        let seed = 10 * i as u64;
        compare_methods(&transformer::<1, 1>(seed + 1, m), &xs, &xt, 1e-12);
        compare_methods(&transformer::<2, 1>(seed + 2, m), &xs, &xt, 1e-12);
        compare_methods(&transformer::<2, 3>(seed + 3, m), &xs, &xt, 1e-12);
    }
}

#[test]
fn structured_equals_jacobian_for_residual_mlps() {
    let xs = inputs::<3, 7>(3, 1.0);
    let xt = inputs::<3, 4>(4, 1.0);
    compare_methods(&res_mlp::<1>(5), &xs, &xt, 1e-12);
    compare_methods(&res_mlp::<2>(6), &xs, &xt, 1e-12);
}

/// `Θ(x, x') = Σ_p ∂f/∂θ_p(x)·∂f/∂θ_p(x')` from central differences of the
/// flat parameters.
fn fd_ntk<Net, const D: usize, const N: usize>(net: &Net, xs: &[[f64; D]; N]) -> [[f64; N]; N]
where
    Net: Module<f64, [f64; D], Output = [f64; 1]> + Params<f64> + Clone,
{
    let p = Net::NUM_PARAMS;
    let mut theta = vec![0.0; p];
    net.write_flat(&mut theta).unwrap();
    let mut probe = net.clone();
    let h = 1e-6;
    let mut jac = vec![[0.0; N]; p];
    for (q, row) in jac.iter_mut().enumerate() {
        let mut t = theta.clone();
        t[q] += h;
        probe.read_flat(&t).unwrap();
        let up: [f64; N] = core::array::from_fn(|i| probe.eval(&xs[i])[0]);
        t[q] -= 2.0 * h;
        probe.read_flat(&t).unwrap();
        for (r, (u, x)) in row.iter_mut().zip(up.iter().zip(xs)) {
            *r = (u - probe.eval(x)[0]) / (2.0 * h);
        }
    }
    let mut k = [[0.0; N]; N];
    for row in &jac {
        for i in 0..N {
            for j in 0..N {
                k[i][j] += row[i] * row[j];
            }
        }
    }
    k
}

#[test]
fn jacobian_ntk_equals_the_finite_difference_ntk() {
    let xs = inputs::<8, 4>(7, 1.0);
    for (i, m) in MECHANISMS.into_iter().enumerate() {
        let net = transformer::<2, 1>(20 + i as u64, m);
        let want = fd_ntk(&net, &xs);
        let mut got = [[0.0; 4]; 4];
        let mut wj = vec![0.0; jacobian::workspace_len::<f64, [f64; 8], Transformer<2, 1>>(4)];
        jacobian::ntk(&net, &xs, &mut wj, &mut got).unwrap();
        let e = rel_err(got.as_flattened(), want.as_flattened());
        assert!(e <= 1e-7, "{m:?}: relative error {e}");
    }
    let xs = inputs::<3, 4>(8, 1.0);
    let net = res_mlp::<1>(9);
    let want = fd_ntk(&net, &xs);
    let mut got = [[0.0; 4]; 4];
    let mut wj = vec![0.0; jacobian::workspace_len::<f64, [f64; 3], ResMlp<1>>(4)];
    jacobian::ntk(&net, &xs, &mut wj, &mut got).unwrap();
    let e = rel_err(got.as_flattened(), want.as_flattened());
    assert!(e <= 1e-7, "relative error {e}");
}

/// The attention layer's share of the kernel is its own gradient's: a
/// network made of the attention layer alone has the Jacobian kernel of its
/// three weight blocks.
#[test]
fn attention_alone_lists_its_flat_rows() {
    type Alone = (
        Unflatten<3, 4>,
        SelfAttention<f64, 3, 1, 4, 2, 2, 2>,
        GlobalAvgPool,
    );
    let mut net = Alone::ZEROED;
    net.init_ntk(1.0, 0.0, &mut Rng::new(12));
    let xs = inputs::<12, 5>(13, 1.0);
    let xt = inputs::<12, 2>(14, 1.0);
    compare_methods(&net, &xs, &xt, 1e-12);
    let mut ws = vec![0.0; structured::workspace_len::<f64, Alone>(5, 1)];
    // per input: 2·HEADS + 1 bias slots and one cotangent per parameter
    assert_eq!(ws.len(), 5 * (5 + Alone::NUM_PARAMS));
    let mut k = [[0.0; 5]; 5];
    structured::ntk(&net, &xs, &mut ws, &mut k).unwrap();
    let want = fd_ntk(&net, &xs);
    assert!(rel_err(k.as_flattened(), want.as_flattened()) <= 1e-7);
}

fn arb_sequences() -> impl Strategy<Value = [[f64; 8]; 6]> {
    proptest::array::uniform6(proptest::array::uniform8(-3.0..=3.0_f64))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(64)))]

    #[test]
    fn attention_ntk_is_symmetric_and_positive_semidefinite(
        seed in 0u64..1_000_000,
        identity in any::<bool>(),
        xs in arb_sequences(),
    ) {
        let m = if identity { AttentionMechanism::Identity } else { AttentionMechanism::Softmax };
        let net = transformer::<2, 2>(seed, m);
        let mut k = [[0.0; 6]; 6];
        let mut ws = vec![0.0; structured::workspace_len::<f64, Transformer<2, 2>>(6, 2)];
        structured::ntk(&net, &xs, &mut ws, &mut k).unwrap();
        for i in 0..6 {
            for j in 0..6 {
                prop_assert_eq!(k[i][j].to_bits(), k[j][i].to_bits());
            }
        }
        let trace: f64 = (0..6).map(|i| k[i][i]).sum();
        prop_assert!(min_eigenvalue(&k) >= -1e-10 * trace);
    }

    #[test]
    fn residual_mlp_ntk_is_positive_semidefinite(
        seed in 0u64..1_000_000,
        xs in proptest::array::uniform6(proptest::array::uniform3(-3.0..=3.0_f64)),
    ) {
        let net = res_mlp::<1>(seed);
        let mut k = [[0.0; 6]; 6];
        let mut ws = vec![0.0; structured::workspace_len::<f64, ResMlp<1>>(6, 1)];
        structured::ntk(&net, &xs, &mut ws, &mut k).unwrap();
        let trace: f64 = (0..6).map(|i| k[i][i]).sum();
        prop_assert!(min_eigenvalue(&k) >= -1e-10 * trace);
    }
}

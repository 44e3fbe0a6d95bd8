//! Layer normalisation and the residual and sum combinators: the forward
//! passes against their definitions, gradients against central finite
//! differences on vectors, sequences and images.

use super::check_gradients;
use ntk::nn::{
    Conv1d, Conv2d, Dense, Erf, Flatten, GlobalAvgPool, Identity, LayerNorm, Module, Params, Relu,
    Residual, Sum, Tanh, Unflatten, Unflatten2d, Zeroed,
};
use ntk::Rng;

#[test]
fn layer_norm_matches_the_definition() {
    let mut rng = Rng::new(1);
    let x: [[f64; 5]; 3] =
        core::array::from_fn(|_| core::array::from_fn(|_| 3.0 * rng.normal::<f64>()));
    let y = LayerNorm.eval(&x);
    for (xs, ys) in x.iter().zip(&y) {
        let mean = xs.iter().sum::<f64>() / 5.0;
        let var = xs.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 5.0;
        for (a, b) in xs.iter().zip(ys) {
            let want = (a - mean) / (1e-12 + var).sqrt();
            assert!((b - want).abs() <= 1e-14, "{b} vs {want}");
        }
        // zero mean, unit variance
        assert!(ys.iter().sum::<f64>().abs() < 1e-13);
        assert!((ys.iter().map(|v| v * v).sum::<f64>() / 5.0 - 1.0).abs() < 1e-10);
    }
    // a flat vector is one position, an image every pixel apart
    let flat: [f64; 15] = *x.as_flattened().first_chunk().unwrap();
    let yf = LayerNorm.eval(&flat);
    let mean = flat.iter().sum::<f64>() / 15.0;
    let var = flat.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 15.0;
    assert!((yf[7] - (flat[7] - mean) / (1e-12 + var).sqrt()).abs() < 1e-14);
    let img = [[x[0], x[1]], [x[2], x[0]]];
    let yi = LayerNorm.eval(&img);
    assert_eq!(yi[0][1], y[1]);
    assert_eq!(yi[1][1], y[0]);
}

#[test]
fn layer_norm_gradients_on_vectors_sequences_images() {
    for seed in 0..3 {
        let mut rng = Rng::new(30 + seed);
        let flat: (Dense<f64, 3, 5>, LayerNorm, Tanh, Dense<f64, 5, 2>) = (
            Dense::ntk(1.3, 0.2, &mut rng),
            LayerNorm,
            Tanh,
            Dense::ntk(1.0, 0.1, &mut rng),
        );
        check_gradients::<_, 3, 2>(&flat, seed);

        let mut seq = <(
            Unflatten<2, 4>,
            Conv1d<f64, 2, 3, 3, 4>,
            LayerNorm,
            Flatten<12>,
            Dense<f64, 12, 2>,
        )>::ZEROED;
        seq.init_ntk(1.4, 0.3, &mut rng);
        check_gradients::<_, 8, 2>(&seq, seed);

        let mut img = <(
            Unflatten2d<2, 3, 2>,
            Conv2d<f64, 2, 4, 3, 3, 2, 3>,
            LayerNorm,
            Erf,
            GlobalAvgPool,
            Dense<f64, 4, 1>,
        )>::ZEROED;
        img.init_ntk(1.2, 0.1, &mut rng);
        check_gradients::<_, 12, 1>(&img, seed);
    }
}

#[test]
fn layer_norm_of_constant_positions_has_finite_gradients() {
    // var = 0: y = 0 and the cotangent is dy − mean(dy) scaled by 1/√ε
    let x = [[2.0; 4]; 2];
    let mut cache = Zeroed::zeroed();
    let y = LayerNorm.forward(&x, &mut cache);
    assert_eq!(y, [[0.0; 4]; 2]);
    let dx: [[f64; 4]; 2] = LayerNorm.backward(&cache, &[[1.0, 0.0, 0.0, 1.0]; 2], &mut LayerNorm);
    assert!(dx.iter().flatten().all(|v: &f64| v.is_finite()));
    assert!((dx[0][0] - 0.5e6).abs() < 1e-3);
}

type Block = (Dense<f64, 4, 4>, Tanh, Dense<f64, 4, 4>);

#[test]
fn residual_and_sum_match_their_definitions() {
    let mut rng = Rng::new(3);
    let mut r = Residual::<Block>::ZEROED;
    r.init_ntk(1.1, 0.2, &mut rng);
    let x = [0.3, -1.0, 0.5, 2.0];
    let (y, b) = (r.eval(&x), r.0.eval(&x));
    assert!((0..4).all(|i| y[i] == x[i] + b[i]));
    assert_eq!(Residual::<Block>::NUM_PARAMS, Block::NUM_PARAMS);

    let s: Sum<Identity, Block> = Sum(Identity, r.0.clone());
    assert_eq!(s.eval(&x), y);
    assert_eq!(<Sum<Identity, Block> as Params<f64>>::NUM_PARAMS, 40);
}

#[test]
fn residual_and_sum_gradients() {
    for seed in 0..3 {
        let mut rng = Rng::new(40 + seed);
        let mut flat = <(
            Dense<f64, 3, 4>,
            Residual<Block>,
            LayerNorm,
            Residual<(Residual<Block>, Relu, Dense<f64, 4, 4>)>,
            Dense<f64, 4, 2>,
        )>::ZEROED;
        flat.init_ntk(1.3, 0.2, &mut rng);
        check_gradients::<_, 3, 2>(&flat, seed);

        let mut sum = <(
            Sum<Dense<f64, 3, 5>, (Dense<f64, 3, 4>, Erf, Dense<f64, 4, 5>)>,
            Tanh,
            Dense<f64, 5, 1>,
        )>::ZEROED;
        sum.init_ntk(1.1, 0.3, &mut rng);
        check_gradients::<_, 3, 1>(&sum, seed);

        let mut seq = <(
            Unflatten<2, 5>,
            Conv1d<f64, 2, 3, 1, 5>,
            Residual<(Conv1d<f64, 3, 3, 3, 5>, Relu, Conv1d<f64, 3, 3, 3, 5>)>,
            GlobalAvgPool,
            Dense<f64, 3, 2>,
        )>::ZEROED;
        seq.init_ntk(1.2, 0.1, &mut rng);
        check_gradients::<_, 10, 2>(&seq, seed);
    }
}

#[test]
fn sum_hands_its_branches_factors_in_params_order() {
    use ntk::nn::FlatGradient;
    let mut net = <Sum<(Dense<f64, 2, 3>, Tanh), Dense<f64, 2, 3>>>::ZEROED;
    net.init_ntk(1.0, 0.5, &mut Rng::new(9));
    let x = [0.4, -0.7];
    let mut cache = Zeroed::zeroed();
    net.forward(&x, &mut cache);
    let mut g = net.clone();
    g.fill(0.0);
    let dy = [1.0, 2.0, -1.0];
    net.backward(&cache, &dy, &mut g);
    let mut from_grad = vec![0.0; 18];
    g.write_flat(&mut from_grad).unwrap();
    let mut flat = vec![0.0; 18];
    let mut sink = FlatGradient::new(&mut flat);
    net.backward_with(&cache, &dy, &mut sink);
    assert!(sink.is_complete());
    assert_eq!(from_grad, flat);
    // the second branch's bias gradient is dy·σb
    assert_eq!(&flat[15..], &[0.5, 1.0, -0.5]);
}

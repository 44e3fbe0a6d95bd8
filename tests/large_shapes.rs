//! Wide networks and large Gram matrices on a 2 MiB thread, the default stack
//! of a test thread, at any optimisation level: values larger than the stack
//! live in a `static` or are allocated zeroed (`ntk::boxed`) and are filled in
//! place, and the entry points need a stack independent of the network's
//! width. CI runs this file at opt-level 0 as well, what a dev build gets:
//! `CARGO_PROFILE_TEST_OPT_LEVEL=0 cargo test --test large_shapes`.

use std::sync::Mutex;

use ntk::analytic::Architecture;
use ntk::empirical::{jacobian, structured};
use ntk::linalg::Regularizer;
use ntk::nn::{
    Conv1d, Conv2d, Dense, FlatGradient, GlobalAvgPool, Module, Params, Relu, Unflatten,
    Unflatten2d, Zeroed,
};
use ntk::predict::{OnlineGp, Spectrum};
use ntk::{boxed, train, Rng};

/// A 2-1024-1024-1 ReLU network in `f64`: 8.4 MiB.
type Wide = (
    Dense<f64, 2, 1024>,
    Relu,
    Dense<f64, 1024, 1024>,
    Relu,
    Dense<f64, 1024, 1>,
);
const SPEC: &str = "dense(1.5,0.1) relu dense(1.5,0.1) relu dense(1.5,0.1)";

/// Runs `f` on a thread with exactly the 2 MiB stack libtest gives its
/// threads by default (whatever `RUST_MIN_STACK` says).
fn on_2_mib(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("thread")
        .join()
        .expect("the test body passed");
}

/// Points on the unit circle and off it, from a generator unrelated to the
/// networks'.
fn inputs<const N: usize>(seed: u64) -> Box<[[f64; 2]; N]> {
    let mut rng = Rng::new(seed);
    let mut x: Box<[[f64; 2]; N]> = boxed::zeroed();
    for p in x.iter_mut() {
        *p = [rng.normal(), rng.normal()];
    }
    x
}

/// The infinite-width NNGP and NTK of `dense relu dense relu dense` (σw, σb)
/// between two points, from the arc-cosine formulas (Cho & Saul; Jacot et
/// al.), written out here independently of the crate.
fn relu_oracle(x: [f64; 2], y: [f64; 2], w: f64, b: f64) -> (f64, f64) {
    let dense = |k: [f64; 3]| k.map(|v| w * w * v + b * b);
    // [k(x,x), k(y,y), k(x,y)]
    let mut k = dense([
        (x[0] * x[0] + x[1] * x[1]) / 2.0,
        (y[0] * y[0] + y[1] * y[1]) / 2.0,
        (x[0] * y[0] + x[1] * y[1]) / 2.0,
    ]);
    let mut t = k[2];
    for _ in 0..2 {
        let norm = (k[0] * k[1]).sqrt();
        let cos = (k[2] / norm).clamp(-1.0, 1.0);
        let theta = cos.acos();
        let pi = std::f64::consts::PI;
        let relu = [
            k[0] / 2.0,
            k[1] / 2.0,
            norm * (theta.sin() + (pi - theta) * cos) / (2.0 * pi),
        ];
        let dot = (pi - theta) / (2.0 * pi);
        k = dense(relu);
        t = k[2] + w * w * dot * t;
    }
    (k[2], t)
}

/// The checks every wide network gets: it is the network built by value (on
/// a thread with room for it), its empirical NTK by the structured method
/// equals the Jacobian contraction, is near the infinite-width NTK, and one
/// training step lowers the loss.
fn exercise_wide(net: &mut Wide, seed: u64) {
    let xs = [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-0.8, 0.3]];
    let mut ws = vec![0.0; structured::workspace_len::<f64, Wide>(4, 1)];
    let mut theta = [[0.0; 4]; 4];
    structured::ntk(&*net, &xs, &mut ws, &mut theta).expect("finite");

    let mut wj = vec![0.0; jacobian::workspace_len::<f64, [f64; 2], Wide>(4)];
    let mut reference = [[0.0; 4]; 4];
    jacobian::ntk(&*net, &xs, &mut wj, &mut reference).expect("finite");
    for i in 0..4 {
        for j in 0..4 {
            let err = (theta[i][j] - reference[i][j]).abs();
            assert!(
                err <= 1e-10 * theta[i][i],
                "structured vs Jacobian at {i},{j}"
            );
        }
    }

    let arch: Architecture<f64> = SPEC.parse().expect("valid");
    let (mut k0, mut t0) = ([[0.0; 4]; 4], [[0.0; 4]; 4]);
    arch.gram(&xs, &mut k0, &mut t0).expect("finite");
    // One draw at width 1024: entries fluctuate by about 1/√1024 of the scale.
    for i in 0..4 {
        for j in 0..4 {
            let err = (theta[i][j] - t0[i][j]).abs();
            assert!(
                err < 0.3 * t0[i][i],
                "empirical vs analytic at {i},{j}: {err}"
            );
        }
    }

    let y = [[0.5], [-0.5], [0.2], [0.1]];
    let mut grad: Box<Wide> = boxed::zeroed();
    let before = train::mse_loss(&*net, &xs, &y).expect("finite");
    let stepped = train::step(net, &xs, &y, 0.1, &mut grad).expect("finite");
    assert_eq!(stepped, before);
    let after = train::mse_loss(&*net, &xs, &y).expect("finite");
    assert!(after < before, "{after} ≥ {before}");

    // The same network built by value, on a thread large enough for it.
    let reference = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let mut rng = Rng::new(seed);
            let a = Dense::ntk(1.5, 0.1, &mut rng);
            let b = Dense::ntk(1.5, 0.1, &mut rng);
            let by_value: Wide = (a, Relu, b, Relu, Dense::ntk(1.5, 0.1, &mut rng));
            by_value.eval(&[0.3, -0.4])
        })
        .expect("thread")
        .join()
        .expect("built by value");
    let mut fresh: Box<Wide> = boxed::ntk(1.5, 0.1, &mut Rng::new(seed));
    assert_eq!(
        fresh.eval(&[0.3, -0.4])[0].to_bits(),
        reference[0].to_bits()
    );
    fresh.reinit(&mut Rng::new(seed));
    assert_eq!(
        fresh.eval(&[0.3, -0.4])[0].to_bits(),
        reference[0].to_bits()
    );
}

static WIDE: Mutex<Wide> = Mutex::new(Wide::ZEROED);

#[test]
fn width_1024_network_in_a_static() {
    on_2_mib(|| {
        let mut net = WIDE.lock().expect("not poisoned");
        net.init_ntk(1.5, 0.1, &mut Rng::new(7));
        exercise_wide(&mut net, 7);
    });
}

#[test]
fn width_1024_network_on_the_heap() {
    on_2_mib(|| {
        let mut net: Box<Wide> = boxed::ntk(1.5, 0.1, &mut Rng::new(8));
        // Every weight was drawn: N(0, 1) to within the sampling error of
        // about a million draws.
        let (mut n, mut sum, mut sq) = (0.0, 0.0, 0.0);
        net.visit(&mut |s| {
            for &v in s {
                n += 1.0;
                sum += v;
                sq += v * v;
            }
        });
        assert_eq!(n as usize, <Wide as Params<f64>>::NUM_PARAMS);
        assert!((sum / n).abs() < 5.0 / n.sqrt());
        assert!((sq / n - 1.0).abs() < 10.0 / n.sqrt());
        exercise_wide(&mut net, 8);
    });
}

const N: usize = 512;

static NNGP: Mutex<[[f64; N]; N]> = Mutex::new([[0.0; N]; N]);

#[test]
fn gram_of_512_points_and_its_spectrum() {
    on_2_mib(|| {
        let x = inputs::<N>(11);
        let arch: Architecture<f64> = "dense(1.2,0.3) relu dense(1.2,0.3) relu dense(1.2,0.3)"
            .parse()
            .expect("valid");
        // One output in a `static`, one on the heap.
        let mut nngp = NNGP.lock().expect("not poisoned");
        let mut ntk: Box<[[f64; N]; N]> = boxed::zeroed();
        arch.gram(&x, &mut nngp, &mut ntk).expect("finite");
        let mut worst: f64 = 0.0;
        for i in 0..N {
            for j in 0..N {
                let (k, t) = relu_oracle(x[i], x[j], 1.2, 0.3);
                let scale = (nngp[i][i] * nngp[j][j]).sqrt();
                worst = worst.max((nngp[i][j] - k).abs() / scale);
                let scale = (ntk[i][i] * ntk[j][j]).sqrt();
                worst = worst.max((ntk[i][j] - t).abs() / scale);
            }
        }
        // The oracle loses digits in acos for nearly parallel points.
        assert!(worst < 1e-7, "Gram vs the arc-cosine formulas: {worst}");

        // Its eigendecomposition, 2 MiB of state, rebuilds the matrix.
        let mut s: Box<Spectrum<f64, N>> = boxed::zeroed();
        s.compute(&ntk, Regularizer::None).expect("symmetric");
        let (v, l) = (s.vectors(), s.values());
        let top = l[N - 1];
        for (i, j) in [(0, 0), (3, 200), (511, 17), (256, 256), (100, 511)] {
            let rebuilt: f64 = (0..N).map(|m| v[m][i] * l[m] * v[m][j]).sum();
            assert!(
                (rebuilt - ntk[i][j]).abs() < 1e-10 * top,
                "V·Λ·Vᵀ at {i},{j}"
            );
        }
    });
}

#[test]
fn online_gp_of_capacity_256() {
    on_2_mib(|| {
        const CAP: usize = 256;
        let x = inputs::<CAP>(12);
        let k = |a: [f64; 2], b: [f64; 2]| relu_oracle(a, b, 1.0, 0.5).0;
        let mut gp: Box<OnlineGp<f64, CAP>> = boxed::online_gp(1e-6).expect("valid noise");
        let target = |p: [f64; 2]| p[0] - 0.5 * p[1];
        for i in 0..CAP {
            let row: Vec<f64> = (0..i).map(|j| k(x[i], x[j])).collect();
            gp.push(&row, k(x[i], x[i]), [target(x[i])])
                .expect("positive definite");
        }
        assert_eq!(gp.len(), CAP);
        // The posterior mean interpolates the points held.
        for i in [0, 100, 255] {
            let row: Vec<f64> = (0..CAP).map(|j| k(x[i], x[j])).collect();
            let mut mean = [0.0];
            gp.predict(&row, &mut mean).expect("finite");
            assert!((mean[0] - target(x[i])).abs() < 1e-3, "{i}: {mean:?}");
        }
    });
}

/// A convolutional network of 256 channels in `f64` (4.5 MiB): sequences of
/// length 4 with 4 channels, two convolutions, global average pooling.
type WideConv = (
    Unflatten<4, 4>,
    Conv1d<f64, 4, 256, 3, 4>,
    Relu,
    Conv1d<f64, 256, 256, 9, 4>,
    Relu,
    GlobalAvgPool,
    Dense<f64, 256, 1>,
);

static WIDE_CONV: Mutex<WideConv> = Mutex::new(WideConv::ZEROED);

/// The checks a wide convolutional network gets: it runs, and filled in
/// place (in a `static` or on the heap) it is the network built by value on
/// a thread with room for it.
fn exercise_wide_conv(net: &WideConv, seed: u64) {
    let mut rng = Rng::new(99);
    let xs: [[f64; 16]; 3] = core::array::from_fn(|_| core::array::from_fn(|_| rng.normal()));
    for x in &xs {
        assert!(net.eval(x)[0].is_finite());
    }
    let x = xs[0];
    let by_value = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let mut rng = Rng::new(seed);
            let a = Conv1d::ntk(1.4, 0.1, &mut rng);
            let b = Conv1d::ntk(1.4, 0.1, &mut rng);
            let c = Dense::ntk(1.4, 0.1, &mut rng);
            let net: WideConv = (Unflatten, a, Relu, b, Relu, GlobalAvgPool, c);
            net.eval(&x)
        })
        .expect("thread")
        .join()
        .expect("built by value");
    assert_eq!(net.eval(&x)[0].to_bits(), by_value[0].to_bits());
}

#[test]
fn wide_convolutional_network_in_a_static_and_on_the_heap() {
    on_2_mib(|| {
        let mut net = WIDE_CONV.lock().expect("not poisoned");
        net.init_ntk(1.4, 0.1, &mut Rng::new(13));
        exercise_wide_conv(&net, 13);
        let boxed: Box<WideConv> = boxed::ntk(1.4, 0.1, &mut Rng::new(14));
        exercise_wide_conv(&boxed, 14);
    });
}

/// A two-dimensional convolution of 128 to 256 channels in `f64` (2.3 MiB)
/// on 2 × 2 images.
type WideImage = (
    Unflatten2d<128, 2, 2>,
    Conv2d<f64, 128, 256, 3, 3, 2, 2>,
    Relu,
    GlobalAvgPool,
    Dense<f64, 256, 1>,
);

#[test]
fn wide_image_network_on_the_heap_is_the_one_built_by_value() {
    on_2_mib(|| {
        let mut rng = Rng::new(98);
        let x: [f64; 512] = core::array::from_fn(|_| rng.normal());
        let net: Box<WideImage> = boxed::standard(1.3, 0.2, &mut Rng::new(15));
        let y = net.eval(&x)[0];
        let by_value = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(move || {
                let mut rng = Rng::new(15);
                let a = Conv2d::standard(1.3, 0.2, &mut rng);
                let b = Dense::standard(1.3, 0.2, &mut rng);
                let net: WideImage = (Unflatten2d, a, Relu, GlobalAvgPool, b);
                net.eval(&x)
            })
            .expect("thread")
            .join()
            .expect("built by value");
        assert!(y.is_finite());
        assert_eq!(y.to_bits(), by_value[0].to_bits());
    });
}

/// The 256 → 256 channel convolution of [`WideConv`] alone.
type WideLayer = Conv1d<f64, 256, 256, 9, 4>;

static WIDE_LAYER: Mutex<WideLayer> = Mutex::new(WideLayer::ZEROED);

#[test]
fn wide_convolution_writes_its_gradient_into_the_sinks_buffer() {
    // The weight gradient (256·9·256 elements, 4.5 MiB) does not fit the
    // thread's 2 MiB stack: the flat sink lends the layer its own buffer.
    on_2_mib(|| {
        let mut conv = WIDE_LAYER.lock().expect("not poisoned");
        conv.init_ntk(1.4, 0.1, &mut Rng::new(21));
        let mut rng = Rng::new(22);
        let mut x = [[0.0; 256]; 4];
        let mut dy = [[0.0; 256]; 4];
        rng.fill_normal(x.as_flattened_mut());
        rng.fill_normal(dy.as_flattened_mut());
        let mut cache = [[0.0; 256]; 4];
        conv.forward(&x, &mut cache);
        let mut grad: Box<WideLayer> = boxed::zeroed();
        let dx = conv.backward(&cache, &dy, &mut grad);
        let mut flat = vec![0.0; WideLayer::NUM_PARAMS];
        let mut sink = FlatGradient::new(&mut flat);
        let dx2 = conv.backward_with(&cache, &dy, &mut sink);
        assert!(sink.is_complete());
        let mut want = vec![0.0; WideLayer::NUM_PARAMS];
        grad.write_flat(&mut want).expect("length");
        let bits = |s: &[f64]| s.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&flat), bits(&want));
        assert_eq!(bits(dx2.as_flattened()), bits(dx.as_flattened()));
        assert!(want.iter().any(|&v| v != 0.0));
    });
}

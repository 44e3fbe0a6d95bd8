//! The `_parallel` Gram routines (feature `rayon`) against their
//! single-thread counterparts, bit for bit, on pools of 1 to 4 threads:
//! empirical NTK of an MLP and of a CNN (structured method; trace and block
//! forms, train × train and test × train), the analytic Gram of an MLP and
//! the CNTK of a convolutional architecture (with and without the tapes of
//! each input's own state, one to three workers).
#![cfg(feature = "rayon")]

use ntk::analytic::{Architecture, Shape};
use ntk::empirical::structured;
use ntk::nn::{Conv1d, Dense, GlobalAvgPool, Relu, Tanh, Unflatten};
use ntk::{Error, Rng};

fn pools() -> Vec<rayon::ThreadPool> {
    [1, 2, 3, 4]
        .iter()
        .map(|&t| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .expect("thread pool")
        })
        .collect()
}

fn normal<const D: usize, const N: usize>(seed: u64) -> Box<[[f32; D]; N]> {
    let mut rng = Rng::new(seed);
    let mut xs = Box::new([[0.0; D]; N]);
    for row in xs.iter_mut() {
        rng.fill_normal(row);
    }
    xs
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn bits64(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Two outputs, so that the block forms have 2 × 2 blocks.
type Mlp = (
    Dense<f32, 8, 48>,
    Relu,
    Dense<f32, 48, 40>,
    Tanh,
    Dense<f32, 40, 2>,
);

fn mlp() -> Mlp {
    let mut rng = Rng::new(3);
    (
        Dense::ntk(1.5, 0.1, &mut rng),
        Relu,
        Dense::ntk(1.2, 0.2, &mut rng),
        Tanh,
        Dense::ntk(1.0, 0.1, &mut rng),
    )
}

// N = 70: four bands of 16 rows, whole 4 × 4 tiles to row 68, then a
// pair of rows; M = 13: one band with a single leftover row.
const N: usize = 70;
const M: usize = 13;

#[test]
fn empirical_mlp_train_and_test() {
    let net = mlp();
    let (xs, xt) = (normal::<8, N>(1), normal::<8, M>(2));
    let mut ws = vec![0.0_f32; structured::workspace_len::<f32, Mlp>(M + N, 2)];
    let mut one = Box::new([[0.0_f32; N]; N]);
    structured::ntk(&net, &xs, &mut ws, &mut one).expect("finite");
    let mut cross = Box::new([[0.0_f32; N]; M]);
    structured::ntk_cross(&net, &xt, &xs, &mut ws, &mut cross).expect("finite");
    let mut blocks = Box::new([[[[0.0_f32; 2]; 2]; N]; N]);
    structured::ntk_blocks(&net, &xs, &mut ws, &mut blocks).expect("finite");
    let mut blocks_x = Box::new([[[[0.0_f32; 2]; 2]; N]; M]);
    structured::ntk_blocks_cross(&net, &xt, &xs, &mut ws, &mut blocks_x).expect("finite");
    assert!(one[5][3] != 0.0 && cross[2][7] != 0.0);
    for pool in pools() {
        let mut many = Box::new([[f32::NAN; N]; N]);
        pool.install(|| structured::ntk_parallel(&net, &xs, &mut ws, &mut many))
            .expect("finite");
        assert_eq!(bits(one.as_flattened()), bits(many.as_flattened()));
        let mut many = Box::new([[f32::NAN; N]; M]);
        pool.install(|| structured::ntk_cross_parallel(&net, &xt, &xs, &mut ws, &mut many))
            .expect("finite");
        assert_eq!(bits(cross.as_flattened()), bits(many.as_flattened()));
        let mut many = Box::new([[[[f32::NAN; 2]; 2]; N]; N]);
        pool.install(|| structured::ntk_blocks_parallel(&net, &xs, &mut ws, &mut many))
            .expect("finite");
        let flat = |b: &[[[[f32; 2]; 2]; N]]| bits(b.as_flattened().as_flattened().as_flattened());
        assert_eq!(flat(&blocks[..]), flat(&many[..]));
        let mut many = Box::new([[[[f32::NAN; 2]; 2]; N]; M]);
        pool.install(|| structured::ntk_blocks_cross_parallel(&net, &xt, &xs, &mut ws, &mut many))
            .expect("finite");
        assert_eq!(flat(&blocks_x[..]), flat(&many[..]));
    }
}

#[test]
fn empirical_errors_as_single_thread() {
    let net = mlp();
    let mut xs = normal::<8, N>(1);
    xs[40][3] = f32::NAN;
    let mut ws = vec![0.0_f32; structured::workspace_len::<f32, Mlp>(N, 2)];
    let mut one = Box::new([[1.0_f32; N]; N]);
    let e1 = structured::ntk(&net, &xs, &mut ws, &mut one);
    let mut many = Box::new([[1.0_f32; N]; N]);
    let e2 = structured::ntk_parallel(&net, &xs, &mut ws, &mut many);
    assert!(matches!(e1, Err(Error::NonFinite { .. })));
    assert_eq!(e1, e2);
    assert!(many.as_flattened().iter().all(|&v| v == 0.0));
    // A short workspace.
    let e = structured::ntk_parallel(&net, &normal::<8, N>(1), &mut ws[..10], &mut many);
    assert!(matches!(e, Err(Error::BufferTooSmall { .. })));
}

/// A CNN on flat inputs of L = 16 positions × 3 channels.
type Cnn = (
    Unflatten<3, 16>,
    Conv1d<f32, 3, 8, 3, 16>,
    Relu,
    Conv1d<f32, 8, 8, 3, 16>,
    Relu,
    GlobalAvgPool,
    Dense<f32, 8, 1>,
);

#[test]
fn empirical_cnn_train_and_test() {
    let mut rng = Rng::new(9);
    let net: Cnn = (
        Unflatten,
        Conv1d::ntk(1.5, 0.1, &mut rng),
        Relu,
        Conv1d::ntk(1.5, 0.1, &mut rng),
        Relu,
        GlobalAvgPool,
        Dense::ntk(1.5, 0.1, &mut rng),
    );
    const NC: usize = 37;
    let (xs, xt) = (normal::<48, NC>(4), normal::<48, M>(5));
    let mut ws = vec![0.0_f32; structured::workspace_len::<f32, Cnn>(M + NC, 1)];
    let mut one = Box::new([[0.0_f32; NC]; NC]);
    structured::ntk(&net, &xs, &mut ws, &mut one).expect("finite");
    let mut cross = Box::new([[0.0_f32; NC]; M]);
    structured::ntk_cross(&net, &xt, &xs, &mut ws, &mut cross).expect("finite");
    assert!(one[30][2] != 0.0);
    for pool in pools() {
        let mut many = Box::new([[f32::NAN; NC]; NC]);
        pool.install(|| structured::ntk_parallel(&net, &xs, &mut ws, &mut many))
            .expect("finite");
        assert_eq!(bits(one.as_flattened()), bits(many.as_flattened()));
        let mut many = Box::new([[f32::NAN; NC]; M]);
        pool.install(|| structured::ntk_cross_parallel(&net, &xt, &xs, &mut ws, &mut many))
            .expect("finite");
        assert_eq!(bits(cross.as_flattened()), bits(many.as_flattened()));
    }
}

fn normal64<const D: usize, const K: usize>(seed: u64) -> Box<[[f64; D]; K]> {
    let mut rng = Rng::new(seed);
    let mut xs = Box::new([[0.0; D]; K]);
    for row in xs.iter_mut() {
        rng.fill_normal(row);
    }
    xs
}

#[test]
fn analytic_mlp_train_and_test() {
    // 100 inputs: four tile rows, the last of 4 rows; 45 test rows.
    const NA: usize = 100;
    const MA: usize = 45;
    let arch: Architecture<f64> =
        "dense(1.5,0.1) relu dense(1.5,0.1) erf dense(1.2,0.1) relu dense(1,0)"
            .parse()
            .expect("valid");
    let (x, xt) = (normal64::<6, NA>(11), normal64::<6, MA>(12));
    let (mut k, mut t) = (Box::new([[0.0; NA]; NA]), Box::new([[0.0; NA]; NA]));
    arch.gram(&x, &mut k, &mut t).expect("finite");
    let (mut kx, mut tx) = (Box::new([[0.0; NA]; MA]), Box::new([[0.0; NA]; MA]));
    arch.cross(&xt, &x, &mut kx, &mut tx).expect("finite");
    for pool in pools() {
        let (mut kp, mut tp) = (
            Box::new([[f64::NAN; NA]; NA]),
            Box::new([[f64::NAN; NA]; NA]),
        );
        pool.install(|| arch.gram_parallel(&x, &mut kp, &mut tp))
            .expect("finite");
        assert_eq!(bits64(k.as_flattened()), bits64(kp.as_flattened()));
        assert_eq!(bits64(t.as_flattened()), bits64(tp.as_flattened()));
        let (mut kp, mut tp) = (
            Box::new([[f64::NAN; NA]; MA]),
            Box::new([[f64::NAN; NA]; MA]),
        );
        pool.install(|| arch.cross_parallel(&xt, &x, &mut kp, &mut tp))
            .expect("finite");
        assert_eq!(bits64(kx.as_flattened()), bits64(kp.as_flattened()));
        assert_eq!(bits64(tx.as_flattened()), bits64(tp.as_flattened()));
    }
    // f32, and an error: the same refusal, both outputs zeroed.
    let arch32: Architecture<f32> = "dense(1.5,0.1) relu dense(1,0)".parse().expect("valid");
    let x32 = normal::<5, 67>(13);
    let (mut k, mut t) = (Box::new([[0.0_f32; 67]; 67]), Box::new([[0.0_f32; 67]; 67]));
    arch32.gram(&x32, &mut k, &mut t).expect("finite");
    let (mut kp, mut tp) = (Box::new([[0.0_f32; 67]; 67]), Box::new([[0.0_f32; 67]; 67]));
    arch32
        .gram_parallel(&x32, &mut kp, &mut tp)
        .expect("finite");
    assert_eq!(bits(k.as_flattened()), bits(kp.as_flattened()));
    assert_eq!(bits(t.as_flattened()), bits(tp.as_flattened()));
    let mut bad = x32.clone();
    bad[50][1] = f32::INFINITY;
    let e1 = arch32.gram(&bad, &mut k, &mut t);
    let e2 = arch32.gram_parallel(&bad, &mut kp, &mut tp);
    assert!(e1.is_err());
    assert_eq!(e1, e2);
    assert!(kp
        .as_flattened()
        .iter()
        .chain(tp.as_flattened())
        .all(|&v| v == 0.0));
}

#[test]
fn cntk_train_and_test() {
    const NS: usize = 19;
    const MS: usize = 7;
    const L: usize = 8;
    const C: usize = 3;
    let arch: Architecture<f64> = "conv(3,1.5,0.1) relu conv(3,1.5,0.1) relu gap dense(1.5,0.1)"
        .parse()
        .expect("valid");
    let shape = Shape::Sequence {
        length: L,
        channels: C,
    };
    let mut rng = Rng::new(21);
    let mut draw = |count: usize| {
        let mut v = vec![0.0_f64; count * L * C];
        rng.fill_normal(&mut v);
        v
    };
    let (mut x, xt) = (draw(NS), draw(MS));
    // A repeated input (the `same` path of a pair).
    let d = L * C;
    x.copy_within(0..d, 5 * d);
    let mut ws = vec![0.0; arch.gram_workspace_len(shape, NS + 1).expect("shape")];
    let (mut k, mut t) = (vec![0.0; NS * NS], vec![0.0; NS * NS]);
    arch.gram_grid(&x, shape, &mut ws, &mut k, &mut t)
        .expect("finite");
    let (mut kx, mut tx) = (vec![0.0; MS * NS], vec![0.0; MS * NS]);
    arch.cross_grid(&xt, &x, shape, &mut ws, &mut kx, &mut tx)
        .expect("finite");
    let base = arch.workspace_len(shape).expect("shape");
    for pool in pools() {
        for workers in 1..=3 {
            let with_tapes = arch
                .gram_parallel_workspace_len(shape, NS, workers)
                .expect("shape");
            // Without tapes: the diagonal and `workers` pair workspaces.
            let without = 2 * NS + workers * base;
            for len in [with_tapes, without] {
                let mut ws = vec![0.0; len];
                let (mut kp, mut tp) = (vec![f64::NAN; NS * NS], vec![f64::NAN; NS * NS]);
                pool.install(|| arch.gram_spatial_parallel(&x, shape, &mut ws, &mut kp, &mut tp))
                    .expect("finite");
                assert_eq!(bits64(&k), bits64(&kp));
                assert_eq!(bits64(&t), bits64(&tp));
                let (mut kp, mut tp) = (vec![f64::NAN; MS * NS], vec![f64::NAN; MS * NS]);
                pool.install(|| {
                    arch.cross_spatial_parallel(&xt, &x, shape, &mut ws, &mut kp, &mut tp)
                })
                .expect("finite");
                assert_eq!(bits64(&kx), bits64(&kp));
                assert_eq!(bits64(&tx), bits64(&tp));
            }
        }
    }
    // The sequence form, and a workspace too short for the diagonal.
    let seqs: Vec<[[f64; C]; L]> = x
        .chunks_exact(d)
        .map(|s| core::array::from_fn(|p| core::array::from_fn(|c| s[p * C + c])))
        .collect();
    let seqs: &[[[f64; C]; L]; NS] = seqs.as_slice().try_into().expect("NS inputs");
    let (mut ka, mut ta) = ([[0.0; NS]; NS], [[0.0; NS]; NS]);
    let mut ws = vec![
        0.0;
        arch.gram_parallel_workspace_len(shape, NS, 2)
            .expect("shape")
    ];
    arch.gram_sequence_parallel(seqs, &mut ws, &mut ka, &mut ta)
        .expect("finite");
    assert_eq!(bits64(&k), bits64(ka.as_flattened()));
    assert_eq!(bits64(&t), bits64(ta.as_flattened()));
    let mut short = vec![0.0; base + 2 * NS - 1];
    let (mut kp, mut tp) = (vec![1.0; NS * NS], vec![1.0; NS * NS]);
    let e = arch.gram_spatial_parallel(&x, shape, &mut short, &mut kp, &mut tp);
    assert!(matches!(e, Err(Error::BufferTooSmall { .. })));
    assert!(kp.iter().chain(&tp).all(|&v| v == 0.0));
}

/// The `A1` workload of the benchmarks (N = 512, f64, four layers): whole
/// tile rows, and the bands split several times.
#[test]
fn analytic_a1_workload() {
    const NA: usize = 512;
    let arch: Architecture<f64> =
        "dense(1.5,0.1) relu dense(1.5,0.1) relu dense(1.5,0.1) relu dense(1.5,0.1)"
            .parse()
            .expect("valid");
    let x = normal64::<16, NA>(0xA1);
    let (mut k, mut t) = (square::<NA>(0.0), square::<NA>(0.0));
    arch.gram(&x, &mut k, &mut t).expect("finite");
    let (mut kp, mut tp) = (square::<NA>(f64::NAN), square::<NA>(f64::NAN));
    arch.gram_parallel(&x, &mut kp, &mut tp).expect("finite");
    assert_eq!(bits64(k.as_flattened()), bits64(kp.as_flattened()));
    assert_eq!(bits64(t.as_flattened()), bits64(tp.as_flattened()));
    let s = arch.kernel(&x[3], &x[400]).expect("finite");
    assert!((kp[3][400] - s.sigma12).abs() <= 1e-12 * s.sigma12.abs().max(1.0));
}

/// An N × N matrix on the heap, built there (too large for a test's stack).
fn square<const NA: usize>(v: f64) -> Box<[[f64; NA]; NA]> {
    match vec![[v; NA]; NA].into_boxed_slice().try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("NA rows by construction"),
    }
}

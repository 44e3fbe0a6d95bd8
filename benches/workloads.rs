//! Criterion benchmarks with the ids of DESIGN.md: E1, E2, E1J, E2J, A1, R1,
//! C1, C2, S1, T1, and `PEAK`, the core's fused multiply-add peak. With the
//! feature `rayon`, `E2P`, `A1P` and `C1P` time the workloads of E2, A1 and
//! C1 by the `_parallel` routines on rayon's global pool (all cores).
//!
//! `cargo bench --bench workloads -- ID` runs one; inputs are standard normal
//! from a fixed seed and the timed region is the whole computation.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ntk::empirical::{jacobian, structured};
use ntk::nn::{Conv1d, Dense, GlobalAvgPool, Last, Relu, Rnn, Unflatten};
use ntk::Rng;
use std::hint::black_box;

/// A boxed N×N matrix (too large for the stack at N = 512 in f64).
fn boxed_matrix<T: Copy + Default, const N: usize, const M: usize>() -> Box<[[T; N]; M]> {
    let v = vec![[T::default(); N]; M].into_boxed_slice();
    match v.try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("length is M by construction"),
    }
}

fn inputs<const D: usize, const N: usize>(seed: u64) -> Box<[[f32; D]; N]> {
    let mut rng = Rng::new(seed);
    let mut xs = boxed_matrix::<f32, D, N>();
    for row in xs.iter_mut() {
        rng.fill_normal(row);
    }
    xs
}

type Mlp<const W: usize> = (
    Dense<f32, 16, W>,
    Relu,
    Dense<f32, W, W>,
    Relu,
    Dense<f32, W, 1>,
);

fn mlp<const W: usize>(seed: u64) -> Box<Mlp<W>> {
    let mut rng = Rng::new(seed);
    Box::new((
        Dense::ntk(1.5, 0.1, &mut rng),
        Relu,
        Dense::ntk(1.5, 0.1, &mut rng),
        Relu,
        Dense::ntk(1.5, 0.1, &mut rng),
    ))
}

fn empirical_structured<const W: usize, const N: usize>(c: &mut Criterion, id: &str) {
    let net = mlp::<W>(1);
    let xs = inputs::<16, N>(2);
    let mut out = boxed_matrix::<f32, N, N>();
    let mut ws = vec![0.0_f32; structured::workspace_len::<f32, Mlp<W>>(N, 1)];
    c.bench_function(id, |b| {
        b.iter(|| {
            structured::ntk(black_box(&*net), black_box(&*xs), &mut ws, &mut out).expect("finite");
            black_box(out[N - 1][0])
        })
    });
}

fn empirical_jacobian<const W: usize, const N: usize>(c: &mut Criterion, id: &str) {
    let net = mlp::<W>(1);
    let xs = inputs::<16, N>(2);
    let mut out = boxed_matrix::<f32, N, N>();
    let mut wj = vec![0.0_f32; jacobian::workspace_len::<f32, [f32; 16], Mlp<W>>(N)];
    c.bench_function(id, |b| {
        b.iter(|| {
            jacobian::ntk(black_box(&*net), black_box(&*xs), &mut wj, &mut out).expect("finite");
            black_box(out[N - 1][0])
        })
    });
}

fn empirical(c: &mut Criterion) {
    empirical_structured::<128, 128>(c, "E1");
    empirical_structured::<512, 256>(c, "E2");
}

/// `E2P`: the `E2` workload by `structured::ntk_parallel`.
#[cfg(feature = "rayon")]
fn e2p(c: &mut Criterion) {
    const W: usize = 512;
    const N: usize = 256;
    let net = mlp::<W>(1);
    let xs = inputs::<16, N>(2);
    let mut out = boxed_matrix::<f32, N, N>();
    let mut ws = vec![0.0_f32; structured::workspace_len::<f32, Mlp<W>>(N, 1)];
    c.bench_function("E2P", |b| {
        b.iter(|| {
            structured::ntk_parallel(black_box(&*net), black_box(&*xs), &mut ws, &mut out)
                .expect("finite");
            black_box(out[N - 1][0])
        })
    });
}

fn empirical_reference(c: &mut Criterion) {
    empirical_jacobian::<128, 128>(c, "E1J");
    empirical_jacobian::<512, 256>(c, "E2J");
}

/// The `A1` architecture: `dense(1.5,0.1) relu` ×3 then `dense(1.5,0.1)`.
fn a1_architecture() -> ntk::analytic::Architecture<f64> {
    "dense(1.5,0.1) relu dense(1.5,0.1) relu dense(1.5,0.1) relu dense(1.5,0.1)"
        .parse()
        .expect("A1 architecture")
}

/// `R1`: gradient-flow prediction of 256 test outputs at t = 10 (η = 1,
/// f₀ = 0, y = sin(x₀), regulariser 1e-6 relative) from the given A1 NTK on
/// 256 training inputs; the eigen-solve (tridiagonalisation and QL rotations
/// applied to the residual) is inside the timed region.
fn r1(c: &mut Criterion) {
    use ntk::linalg::Regularizer;
    use ntk::predict::{GradientDescentMse, Scratch};
    const N: usize = 256;
    const D: usize = 16;
    let mut rng = Rng::new(11);
    let mut draw = || -> Vec<[f64; D]> {
        (0..N)
            .map(|_| {
                let mut x = [0.0; D];
                rng.fill_normal(&mut x);
                x
            })
            .collect()
    };
    let (train, test) = (draw(), draw());
    let train: Box<[[f64; D]; N]> = train.into_boxed_slice().try_into().expect("N rows");
    let test: Box<[[f64; D]; N]> = test.into_boxed_slice().try_into().expect("N rows");
    let mut k_train = boxed_matrix::<f64, N, N>();
    let mut k_test = boxed_matrix::<f64, N, N>();
    let mut nngp = boxed_matrix::<f64, N, N>();
    let arch = a1_architecture();
    arch.gram(&train, &mut nngp, &mut k_train).expect("finite");
    arch.cross(&test, &train, &mut nngp, &mut k_test)
        .expect("finite");
    let y: Box<[[f64; 1]; N]> = Box::new(core::array::from_fn(|i| [train[i][0].sin()]));
    let gd = GradientDescentMse::new(&y, 1.0)
        .and_then(|g| g.with_regularizer(Regularizer::Relative(1e-6)))
        .expect("valid settings");
    let mut work = boxed_matrix::<f64, N, N>();
    let mut rotations = vec![0.0; 3 * N * N];
    let mut out = boxed_matrix::<f64, 1, N>();
    c.bench_function("R1", |b| {
        b.iter(|| {
            let scratch = Scratch {
                matrix: &mut work,
                rotations: &mut rotations,
            };
            gd.direct_test_outputs(black_box(&*k_train), &k_test, None, 10.0, scratch, &mut out)
                .expect("converges");
            black_box(out[0][0])
        })
    });
}

/// `A1`: analytic NNGP + NTK Gram, f64, `dense(1.5,0.1) relu` ×3 then
/// `dense(1.5,0.1)`, N = 512 standard normal inputs of dimension 16.
fn a1(c: &mut Criterion) {
    const N: usize = 512;
    const D: usize = 16;
    let arch = a1_architecture();
    let mut rng = Rng::new(0xA1);
    let mut x = boxed_matrix::<f64, D, N>();
    for row in x.iter_mut() {
        rng.fill_normal(row);
    }
    let mut nngp = boxed_matrix::<f64, N, N>();
    let mut ntk = boxed_matrix::<f64, N, N>();
    c.bench_function("A1", |b| {
        b.iter(|| {
            arch.gram(black_box(&*x), &mut nngp, &mut ntk)
                .expect("finite");
            black_box((nngp[N - 1][0], ntk[N - 1][0]))
        })
    });
}

/// `A1P`: the `A1` workload by `Architecture::gram_parallel`.
#[cfg(feature = "rayon")]
fn a1p(c: &mut Criterion) {
    const N: usize = 512;
    const D: usize = 16;
    let arch = a1_architecture();
    let mut rng = Rng::new(0xA1);
    let mut x = boxed_matrix::<f64, D, N>();
    for row in x.iter_mut() {
        rng.fill_normal(row);
    }
    let mut nngp = boxed_matrix::<f64, N, N>();
    let mut ntk = boxed_matrix::<f64, N, N>();
    c.bench_function("A1P", |b| {
        b.iter(|| {
            arch.gram_parallel(black_box(&*x), &mut nngp, &mut ntk)
                .expect("finite");
            black_box((nngp[N - 1][0], ntk[N - 1][0]))
        })
    });
}

/// `C1P`: the `C1` workload by `Architecture::gram_sequence_parallel`, with
/// the workspace of `gram_parallel_workspace_len` for four workers per
/// thread of rayon's global pool (bands small enough for rayon to balance
/// them when a core is busy with other work).
#[cfg(feature = "rayon")]
fn c1p(c: &mut Criterion) {
    const N: usize = 64;
    const L: usize = 32;
    const C: usize = 4;
    let arch: ntk::analytic::Architecture<f64> =
        "conv(3,1.5,0.1) relu conv(3,1.5,0.1) relu conv(3,1.5,0.1) relu gap dense(1.5,0.1)"
            .parse()
            .expect("C1 architecture");
    let mut rng = Rng::new(0xC1);
    let mut x = boxed_matrix::<[f64; C], L, N>();
    for seq in x.iter_mut() {
        rng.fill_normal(seq.as_flattened_mut());
    }
    let shape = ntk::analytic::Shape::Sequence {
        length: L,
        channels: C,
    };
    let workers = 4 * rayon::current_num_threads();
    let len = arch
        .gram_parallel_workspace_len(shape, N, workers)
        .expect("C1 shape");
    let mut ws = vec![0.0_f64; len];
    let mut nngp = boxed_matrix::<f64, N, N>();
    let mut ntk = boxed_matrix::<f64, N, N>();
    c.bench_function("C1P", |b| {
        b.iter(|| {
            arch.gram_sequence_parallel(black_box(&*x), &mut ws, &mut nngp, &mut ntk)
                .expect("finite");
            black_box((nngp[N - 1][0], ntk[N - 1][0]))
        })
    });
}

/// `C1`: analytic NNGP + NTK Gram, f64, `conv(3,1.5,0.1) relu` ×3 then
/// `gap dense(1.5,0.1)` ('SAME' padding), N = 64 standard normal sequences
/// of L = 32 positions × C = 4 channels (10 samples: about 2 s each).
fn c1(c: &mut Criterion) {
    const N: usize = 64;
    const L: usize = 32;
    const C: usize = 4;
    let arch: ntk::analytic::Architecture<f64> =
        "conv(3,1.5,0.1) relu conv(3,1.5,0.1) relu conv(3,1.5,0.1) relu gap dense(1.5,0.1)"
            .parse()
            .expect("C1 architecture");
    let mut rng = Rng::new(0xC1);
    let mut x = boxed_matrix::<[f64; C], L, N>();
    for seq in x.iter_mut() {
        rng.fill_normal(seq.as_flattened_mut());
    }
    let shape = ntk::analytic::Shape::Sequence {
        length: L,
        channels: C,
    };
    let mut ws = vec![0.0_f64; arch.gram_workspace_len(shape, N).expect("C1 shape")];
    let mut nngp = boxed_matrix::<f64, N, N>();
    let mut ntk = boxed_matrix::<f64, N, N>();
    c.bench_function("C1", |b| {
        b.iter(|| {
            arch.gram_sequence(black_box(&*x), &mut ws, &mut nngp, &mut ntk)
                .expect("finite");
            black_box((nngp[N - 1][0], ntk[N - 1][0]))
        })
    });
}

/// The `C2` network on flat inputs of L = 32 positions × 4 channels.
type Cnn = (
    Unflatten<4, 32>,
    Conv1d<f32, 4, 64, 3, 32>,
    Relu,
    Conv1d<f32, 64, 64, 3, 32>,
    Relu,
    GlobalAvgPool,
    Dense<f32, 64, 1>,
);

/// `C2`: empirical NTK Gram, f32, Unflatten → Conv1d(4→64, Q = 3, SAME) relu
/// Conv1d(64→64) relu GlobalAvgPool Dense(64→1), NTK parameterisation,
/// N = 64 standard normal inputs of L = 32 × C = 4, structured method.
fn c2(c: &mut Criterion) {
    const N: usize = 64;
    let mut rng = Rng::new(1);
    let net: Box<Cnn> = Box::new((
        Unflatten,
        Conv1d::ntk(1.5, 0.1, &mut rng),
        Relu,
        Conv1d::ntk(1.5, 0.1, &mut rng),
        Relu,
        GlobalAvgPool,
        Dense::ntk(1.5, 0.1, &mut rng),
    ));
    let xs = inputs::<128, N>(2);
    let mut out = boxed_matrix::<f32, N, N>();
    let mut ws = vec![0.0_f32; structured::workspace_len::<f32, Cnn>(N, 1)];
    c.bench_function("C2", |b| {
        b.iter(|| {
            structured::ntk(black_box(&*net), black_box(&*xs), &mut ws, &mut out).expect("finite");
            black_box(out[N - 1][0])
        })
    });
}

/// The `S1` network on flat inputs of L = 16 steps × D = 4 channels.
type Elman = (
    Unflatten<4, 16>,
    Rnn<f32, 4, 128, 16, Relu>,
    Last,
    Dense<f32, 128, 1>,
);

/// `S1`: empirical NTK Gram, f32, Elman RNN
/// `h_t = relu(1.5·W·h_{t−1}/√H + U·x_t/√D + 0.1·b)`, `f = V·h_L/√H`,
/// H = 128, D = 4, L = 16, N = 64 standard normal sequences, structured
/// method (which takes the time-summed gradient at L = 16).
fn s1(c: &mut Criterion) {
    const N: usize = 64;
    let mut rng = Rng::new(7);
    let net: Box<Elman> = Box::new((
        Unflatten,
        Rnn::ntk(1.5, 1.0, 0.1, &mut rng),
        Last,
        Dense::ntk(1.0, 0.0, &mut rng),
    ));
    let xs = inputs::<64, N>(8);
    let mut out = boxed_matrix::<f32, N, N>();
    let mut ws = vec![0.0_f32; structured::workspace_len::<f32, Elman>(N, 1)];
    c.bench_function("S1", |b| {
        b.iter(|| {
            structured::ntk(black_box(&*net), black_box(&*xs), &mut ws, &mut out).expect("finite");
            black_box(out[N - 1][0])
        })
    });
}

/// `T1`: analytic NNGP + NTK Gram, f64, `dense(1,0) relu attn(1,1,1,1)
/// relu gap dense(1,0)` (softmax self-attention), N = 32 standard normal
/// sequences of L = 16 positions × C = 8 channels.
fn t1(c: &mut Criterion) {
    const N: usize = 32;
    const L: usize = 16;
    const C: usize = 8;
    let arch: ntk::analytic::Architecture<f64> =
        "dense(1,0) relu attn(1,1,1,1) relu gap dense(1,0)"
            .parse()
            .expect("T1 architecture");
    let mut rng = Rng::new(0x71);
    let mut x = boxed_matrix::<[f64; C], L, N>();
    for seq in x.iter_mut() {
        rng.fill_normal(seq.as_flattened_mut());
    }
    let shape = ntk::analytic::Shape::Sequence {
        length: L,
        channels: C,
    };
    let mut ws = vec![0.0_f64; arch.gram_workspace_len(shape, N).expect("T1 shape")];
    let mut nngp = boxed_matrix::<f64, N, N>();
    let mut ntk = boxed_matrix::<f64, N, N>();
    c.bench_function("T1", |b| {
        b.iter(|| {
            arch.gram_sequence(black_box(&*x), &mut ws, &mut nngp, &mut ntk)
                .expect("finite");
            black_box((nngp[N - 1][0], ntk[N - 1][0]))
        })
    });
}

/// Independent accumulator chains of the `PEAK` probe: enough to cover the
/// FMA latency (4 cycles) times the FMA units (2) of today's cores, and few
/// enough to stay in 32 vector registers.
const PEAK_CHAINS: usize = 16;
/// Multiply-add rounds per probe call.
const PEAK_ROUNDS: usize = 4096;

/// `PEAK_CHAINS` independent chains of `LANES`-wide fused multiply-adds, each
/// lane `v ← v·a + b`; with `a` just below one and `b` small the values stay
/// normal. Each chain is one vector register at the widest vectors the build
/// has (`LANES` = 64 bytes over the element size), so the loop issues
/// `PEAK_CHAINS` independent vector FMAs per round and nothing else.
macro_rules! peak_probe {
    ($name:ident, $t:ty) => {
        #[inline(never)]
        fn $name(a: $t, b: $t) -> $t {
            const LANES: usize = 64 / core::mem::size_of::<$t>();
            let mut acc = [0.0 as $t; PEAK_CHAINS * LANES];
            for (i, v) in acc.iter_mut().enumerate() {
                *v = (i as $t) * 1e-3;
            }
            for _ in 0..PEAK_ROUNDS {
                for v in acc.iter_mut() {
                    *v = v.mul_add(a, b);
                }
            }
            acc.iter().sum()
        }
    };
}
peak_probe!(peak_f32, f32);
peak_probe!(peak_f64, f64);

/// `PEAK`: the fused multiply-add throughput of one core, f32 and f64, in
/// multiply-adds per second (criterion's elements/s). Compare with lanes ×
/// FMA units × clock; every other id can then be stated as a fraction of it.
fn peak(c: &mut Criterion) {
    let mut g = c.benchmark_group("PEAK");
    g.throughput(Throughput::Elements(
        (PEAK_ROUNDS * PEAK_CHAINS * 16) as u64,
    ));
    g.bench_function("f32", |b| {
        b.iter(|| peak_f32(black_box(0.999_999), black_box(1e-7)))
    });
    g.throughput(Throughput::Elements((PEAK_ROUNDS * PEAK_CHAINS * 8) as u64));
    g.bench_function("f64", |b| {
        b.iter(|| peak_f64(black_box(0.999_999_999), black_box(1e-12)))
    });
    g.finish();
}

criterion_group!(benches, empirical, r1, a1, c2, s1);
criterion_group!(attention, t1);
criterion_group!(probe, peak);
criterion_group! {
    name = slow;
    config = Criterion::default().sample_size(10);
    targets = empirical_reference, c1
}
#[cfg(feature = "rayon")]
criterion_group!(parallel, e2p, a1p);
#[cfg(feature = "rayon")]
criterion_group! {
    name = parallel_slow;
    config = Criterion::default().sample_size(10);
    targets = c1p
}
#[cfg(feature = "rayon")]
criterion_main!(benches, slow, attention, probe, parallel, parallel_slow);
#[cfg(not(feature = "rayon"))]
criterion_main!(benches, slow, attention, probe);

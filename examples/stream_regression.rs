//! Kernel regression on streams: the infinite-width RNN kernel refitted as
//! each time step arrives.
//!
//! `cargo run --release --example stream_regression`
//!
//! Sixteen noisy sine waves x_t = sin(ω·t) + 0.1·noise, all starting at
//! t = 0, arrive one sample at a time: twelve for training, labelled with
//! their frequency ω, and four whose frequency is to be predicted. A
//! [`RecurrentStream`] over all sixteen takes each time step in O(N²)
//! (N = 16) and keeps the NNGP and NTK of
//! `rnn(1.2,1,0.1,erf) last dense(1,0.5)` on the sequences so far. After
//! every step the example refits kernel regression of the frequency on the
//! twelve training sequences — the mean of infinitely wide RNNs trained to
//! convergence on the squared loss, Θ(x, X)·(Θ(X, X) + εI)⁻¹·Y — by a
//! Cholesky factorisation of the 12 × 12 train block: O(N³) per step, cheap
//! at N ≤ 16, and prints the four predictions and their error. The error
//! falls as the waves run long enough to tell their frequencies apart.
//!
//! It checks itself: after the last step the streamed Gram matrices equal,
//! bit for bit, [`Architecture::gram_recurrent`] on the whole sequences,
//! and the streamed predictions equal those of the batch kernels (the
//! train block of that Gram matrix and [`Architecture::cross_recurrent`]
//! of the test sequences against the training ones; the test sequences
//! come first in the stream, so both evaluate every test–train pair in the
//! same order). A mismatch panics, and the run fails.

use ntk::analytic::{Architecture, RecurrentStream, Shape};
use ntk::linalg::{Cholesky, Regularizer};
use ntk::predict::posterior_mean;
use ntk::{Error, Rng};

/// Test sequences (the first in the stream).
const TEST: usize = 4;
/// Training sequences.
const TRAIN: usize = 12;
/// All sequences, advanced together.
const N: usize = TEST + TRAIN;
/// Time steps.
const STEPS: usize = 12;
/// The ridge added to the train kernel's diagonal, relative to its mean.
const RIDGE: f64 = 1e-3;

/// The test × train and train × train blocks of a kernel of all sequences.
type Blocks = ([[f64; TRAIN]; TEST], [[f64; TRAIN]; TRAIN]);

fn blocks(m: &[f64]) -> Blocks {
    let at = |i: usize, j: usize| m[i * N + j];
    (
        core::array::from_fn(|i| core::array::from_fn(|j| at(i, TEST + j))),
        core::array::from_fn(|i| core::array::from_fn(|j| at(TEST + i, TEST + j))),
    )
}

/// Kernel regression: predictions of the test sequences for the centred
/// targets `y` of the training ones, plus `offset`.
fn predict(
    (cross, train): &Blocks,
    y: &[[f64; 1]; TRAIN],
    offset: f64,
) -> Result<[f64; TEST], Error> {
    let mut factor = Cholesky::new();
    factor.compute(train, Regularizer::Relative(RIDGE))?;
    let mut out = [[0.0; 1]; TEST];
    posterior_mean(&factor, y, cross, &mut out)?;
    Ok(out.map(|[v]| v + offset))
}

fn main() -> Result<(), Error> {
    let arch: Architecture<f64> = "rnn(1.2,1,0.1,erf) last dense(1,0.5)"
        .parse()
        .map_err(|_| Error::InvalidArgument {
            what: "the architecture does not parse",
        })?;
    let mut rng = Rng::new(13);
    // Frequencies: the test ones drawn in [0.3, 1.2], the training ones
    // spread over it.
    let omega: [f64; N] = core::array::from_fn(|i| {
        if i < TEST {
            0.3 + 0.9 * rng.uniform::<f64>()
        } else {
            0.3 + 0.9 * (i - TEST) as f64 / (TRAIN - 1) as f64
        }
    });
    let mut x = [[[0.0; 1]; N]; STEPS]; // [t][sequence][channel]
    for (t, step) in x.iter_mut().enumerate() {
        for (i, v) in step.iter_mut().enumerate() {
            v[0] = (omega[i] * t as f64).sin() + 0.1 * rng.normal::<f64>();
        }
    }
    let offset = omega[TEST..].iter().sum::<f64>() / TRAIN as f64;
    let y: [[f64; 1]; TRAIN] = core::array::from_fn(|i| [omega[TEST + i] - offset]);

    println!("{arch}: NTK regression of the frequency of noisy sine waves,");
    println!("{TRAIN} train and {TEST} test sequences, one time step at a time\n");
    let shown = |v: &[f64]| {
        v.iter()
            .map(|p| format!("{p:6.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("step  predicted ω               rms error");
    println!("true  {}", shown(&omega[..TEST]));

    let mut stream = RecurrentStream::<f64, N>::new(&arch)?;
    let (mut k, mut theta) = ([[0.0; N]; N], [[0.0; N]; N]);
    let mut last = [0.0; TEST];
    for step in &x {
        // O(N²): one more step of every pair's recursion.
        stream.push(step)?;
        stream.gram(&mut k, &mut theta)?;
        // O(N³): the refit.
        last = predict(&blocks(theta.as_flattened()), &y, offset)?;
        let rms = (last
            .iter()
            .zip(&omega)
            .map(|(p, w)| (p - w) * (p - w))
            .sum::<f64>()
            / TEST as f64)
            .sqrt();
        println!("{:4}  {}   {rms:.4}", stream.steps(), shown(&last));
    }

    // The batch routines on the whole sequences, laid out sequence by
    // sequence (steps outer, channels inner).
    let shape = Shape::Sequence {
        length: STEPS,
        channels: 1,
    };
    let seqs: Vec<f64> = (0..N)
        .flat_map(|i| x.iter().map(move |s| s[i][0]))
        .collect();
    let (mut kb, mut tb) = (vec![0.0; N * N], vec![0.0; N * N]);
    arch.gram_recurrent(&seqs, shape, &mut [], &mut kb, &mut tb)?;
    let bits = |m: &[f64]| m.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(k.as_flattened()), bits(&kb), "streamed NNGP ≠ batch");
    assert_eq!(
        bits(theta.as_flattened()),
        bits(&tb),
        "streamed NTK ≠ batch"
    );
    let (test_x, train_x) = seqs.split_at(TEST * STEPS);
    let (mut kc, mut tc) = ([[0.0; TRAIN]; TEST], [[0.0; TRAIN]; TEST]);
    arch.cross_recurrent(
        test_x,
        train_x,
        shape,
        &mut [],
        kc.as_flattened_mut(),
        tc.as_flattened_mut(),
    )?;
    let batch = predict(&(tc, blocks(&tb).1), &y, offset)?;
    assert_eq!(
        batch.map(f64::to_bits),
        last.map(f64::to_bits),
        "streamed prediction ≠ batch"
    );
    println!("\nafter step {STEPS}: the streamed Gram matrices equal gram_recurrent bit for bit,");
    println!("and so do the predictions of the batch kernels (gram_recurrent, cross_recurrent).");
    Ok(())
}

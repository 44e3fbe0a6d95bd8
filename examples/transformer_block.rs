//! The empirical NTK of a tiny transformer block next to its infinite-width
//! kernel.
//!
//! ```text
//! cargo run --release --example transformer_block
//! ```
//!
//! Six windows of a synthetic 3-axis sensor signal, 8 time steps each, go
//! through a position-wise embedding, a residual self-attention block,
//! layer norm, a residual position-wise MLP, layer norm again, the mean over
//! positions and a linear readout — in the text form of
//! [`ntk::analytic`]:
//!
//! ```text
//! conv(1,1,0) [ attn(1,1,1,1) ] layernorm [ conv(1,1.5,0.1) relu conv(1,1.5,0.1) ] layernorm gap dense(1,0)
//! ```
//!
//! The same network is built from [`ntk::nn`] layers at widths W = 16, 64
//! and 256 (the embedding, attention and MLP all W channels wide), and the
//! mean of its empirical NTK over S = 16 initialisations ([`MonteCarlo`])
//! is compared with the analytic NTK: the relative Frobenius distance falls
//! with the width (the Monte Carlo error of a mean over S draws, and the
//! finite-width bias, both shrink like 1/√W). Prints both kernels at the
//! widest width, the distances and their fitted log–log slope.

use ntk::analytic::{Architecture, Shape};
use ntk::empirical::{monte_carlo, MonteCarlo};
use ntk::nn::{
    AttentionMechanism, Conv1d, Dense, GlobalAvgPool, LayerNorm, Relu, Residual, SelfAttention,
    Unflatten,
};
use ntk::Rng;

const N: usize = 6;
const L: usize = 8;
const C: usize = 3;
const D: usize = L * C;
const SAMPLES: usize = 16;
const SPEC: &str = "conv(1,1,0) [ attn(1,1,1,1) ] layernorm \
                    [ conv(1,1.5,0.1) relu conv(1,1.5,0.1) ] layernorm gap dense(1,0)";

/// The block at width `W`: one head of `W` key and value channels.
type Block<const W: usize> = (
    Unflatten<C, L>,
    Conv1d<f64, C, W, 1, L>,
    Residual<SelfAttention<f64, W, W, L, W, W, 1>>,
    LayerNorm,
    Residual<(Conv1d<f64, W, W, 1, L>, Relu, Conv1d<f64, W, W, 1, L>)>,
    LayerNorm,
    GlobalAvgPool,
    Dense<f64, W, 1>,
);

fn block<const W: usize>(rng: &mut Rng) -> Block<W> {
    (
        Unflatten,
        Conv1d::ntk(1.0, 0.0, rng),
        Residual(SelfAttention::ntk(
            1.0,
            1.0,
            1.0,
            1.0,
            AttentionMechanism::Softmax,
            rng,
        )),
        LayerNorm,
        Residual((Conv1d::ntk(1.5, 0.1, rng), Relu, Conv1d::ntk(1.5, 0.1, rng))),
        LayerNorm,
        GlobalAvgPool,
        Dense::ntk(1.0, 0.0, rng),
    )
}

/// Six windows of a 3-axis signal: a slow tilt, a vibration whose
/// frequency grows from window to window, and noise.
fn windows() -> [[f64; D]; N] {
    let mut rng = Rng::new(7);
    core::array::from_fn(|w| {
        core::array::from_fn(|i| {
            let (t, axis) = ((i / C) as f64, i % C);
            let f = 0.4 + 0.25 * w as f64;
            let clean = match axis {
                0 => (f * t).sin(),
                1 => 0.5 * (f * t + 1.0).cos(),
                _ => 0.1 * t - 0.35,
            };
            clean + 0.1 * rng.normal::<f64>()
        })
    })
}

/// Relative Frobenius distance ‖a − b‖/‖b‖.
fn distance(a: &[[f64; N]; N], b: &[[f64; N]; N]) -> f64 {
    let sq = |m: &[[f64; N]; N]| m.iter().flatten().map(|v| v * v).sum::<f64>();
    let diff: [[f64; N]; N] = core::array::from_fn(|i| core::array::from_fn(|j| a[i][j] - b[i][j]));
    (sq(&diff) / sq(b)).sqrt()
}

/// The mean empirical NTK over [`SAMPLES`] initialisations at width `W`.
fn empirical<const W: usize>(x: &[[f64; D]; N]) -> Result<[[f64; N]; N], ntk::Error> {
    let mut rng = Rng::new(W as u64);
    let mut net = block::<W>(&mut rng);
    let mut mc = MonteCarlo::new(SAMPLES, 100 + W as u64)?;
    let mut work = vec![0.0; monte_carlo::workspace_len::<f64, Block<W>>(N, 1)];
    let (mut sample, mut k, mut t) = ([[0.0; N]; N], [[0.0; N]; N], [[0.0; N]; N]);
    mc.gram(&mut net, x, &mut work, &mut sample, &mut k, &mut t)?;
    Ok(t)
}

fn print(name: &str, m: &[[f64; N]; N]) {
    println!("{name}:");
    for row in m {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:8.4}")).collect();
        println!("  {}", cells.join(" "));
    }
}

fn run() -> Result<(), ntk::Error> {
    let x = windows();
    let arch: Architecture<f64> = SPEC.parse()?;
    let shape = Shape::Sequence {
        length: L,
        channels: C,
    };
    let mut ws = vec![0.0; arch.workspace_len(shape)?];
    let (mut nngp, mut theta) = ([[0.0; N]; N], [[0.0; N]; N]);
    arch.gram_spatial(
        x.as_flattened(),
        shape,
        &mut ws,
        nngp.as_flattened_mut(),
        theta.as_flattened_mut(),
    )?;
    println!("{SPEC}\n");
    print("infinite-width NTK", &theta);
    let widest = empirical::<256>(&x)?;
    print(
        &format!("mean empirical NTK, W = 256, {SAMPLES} initialisations"),
        &widest,
    );
    let points = [
        (16.0_f64, distance(&empirical::<16>(&x)?, &theta)),
        (64.0, distance(&empirical::<64>(&x)?, &theta)),
        (256.0, distance(&widest, &theta)),
    ];
    println!("\n    W   ‖Θ̂ − Θ‖/‖Θ‖");
    for (w, d) in points {
        println!("{w:5}   {d:.4}");
    }
    let (lx, ly): (Vec<f64>, Vec<f64>) = points.iter().map(|&(w, d)| (w.ln(), d.ln())).unzip();
    let (mx, my) = (lx.iter().sum::<f64>() / 3.0, ly.iter().sum::<f64>() / 3.0);
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = lx.iter().map(|a| (a - mx) * (a - mx)).sum();
    println!("log-log slope {:.2} (1/√W would be −0.50)", sxy / sxx);
    Ok(())
}

fn main() {
    // The widest network's weights (five 256 × 256 matrices) and its
    // caches are plain arrays: give them a roomy stack.
    let worker = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(run)
        .expect("a thread");
    if let Err(e) = worker.join().expect("the example does not panic") {
        eprintln!("transformer_block: {e}");
        std::process::exit(1);
    }
}

//! Finite networks of several widths trained by full-batch gradient descent
//! next to what their NTK at initialisation predicts for the same steps.
//!
//! `cargo run --release --example dynamics [-- OUT.svg]` writes the training
//! loss against the step, network (solid) and kernel prediction (dashed), to
//! `target/dynamics.svg` (or `OUT.svg`), and prints how far the empirical NTK moved
//! during training (relative Frobenius change) and how far the trained
//! network's test outputs end from the prediction (max. absolute gap), as
//! means over several initialisations per width.

use ntk::empirical::structured;
use ntk::nn::{Dense, Relu};
use ntk::predict::{max_learning_rate, GradientDescentMse, Spectrum};
use ntk::train::{mse_loss, ntk_drift, outputs, step};
use ntk::Rng;
use plotters::prelude::*;

type Net<const W: usize> = (Dense<f64, 1, W>, Relu, Dense<f64, W, 1>);

const N: usize = 12;
const M: usize = 40;
const STEPS: u32 = 400;

struct Curves {
    width: usize,
    network: Vec<(f64, f64)>,
    kernel: Vec<(f64, f64)>,
    drift: f64,
    gap: f64,
}

fn loss(f: &[[f64; 1]; N], y: &[[f64; 1]; N]) -> f64 {
    f.iter()
        .zip(y)
        .map(|(a, b)| (a[0] - b[0]).powi(2))
        .sum::<f64>()
        / (2 * N) as f64
}

fn run<const W: usize>(seed: u64) -> Result<Curves, ntk::Error> {
    let xs: [[f64; 1]; N] = core::array::from_fn(|i| [-2.0 + 4.0 * i as f64 / (N - 1) as f64]);
    let y = xs.map(|x| [x[0].sin()]);
    let xt: [[f64; 1]; M] = core::array::from_fn(|i| [-2.0 + 4.0 * i as f64 / (M - 1) as f64]);
    let mut rng = Rng::new(seed);
    let mut net: Box<Net<W>> = Box::new((
        Dense::ntk(1.5, 0.1, &mut rng),
        Relu,
        Dense::ntk(1.5, 0.1, &mut rng),
    ));
    let mut grad = net.clone();

    // The kernel at initialisation and the outputs it starts from.
    let mut ws = vec![0.0; structured::workspace_len::<f64, Net<W>>(N + M, 1)];
    let (mut k0, mut kt0) = ([[0.0; N]; N], [[0.0; N]; M]);
    structured::ntk(&*net, &xs, &mut ws, &mut k0)?;
    structured::ntk_cross(&*net, &xt, &xs, &mut ws, &mut kt0)?;
    let (mut f0, mut f0t) = ([[0.0; 1]; N], [[0.0; 1]; M]);
    outputs(&*net, &xs, &mut f0)?;
    outputs(&*net, &xt, &mut f0t)?;
    let mut work = [[0.0; N]; N];
    let eta = 0.25 * max_learning_rate(&k0, 1, &mut work)?;
    let gd = GradientDescentMse::new(&y, eta)?.with_initial_outputs(&f0)?;
    let mut spectrum = Spectrum::new();
    gd.spectrum(&k0, &mut spectrum)?;

    let (mut network, mut kernel) = (Vec::new(), Vec::new());
    let mut f = [[0.0; 1]; N];
    for k in 0..=STEPS {
        gd.train_outputs_after_steps(&spectrum, k, &mut f)?;
        kernel.push((k as f64, loss(&f, &y)));
        network.push((k as f64, mse_loss(&*net, &xs, &y)?));
        if k < STEPS {
            step(&mut *net, &xs, &y, eta, &mut grad)?;
        }
    }
    let mut k1 = [[0.0; N]; N];
    structured::ntk(&*net, &xs, &mut ws, &mut k1)?;
    let (mut predicted, mut trained) = ([[0.0; 1]; M], [[0.0; 1]; M]);
    gd.test_outputs_after_steps(&spectrum, &kt0, Some(&f0t), STEPS, &mut predicted)?;
    outputs(&*net, &xt, &mut trained)?;
    let gap = (0..M)
        .map(|i| (predicted[i][0] - trained[i][0]).abs())
        .fold(0.0, f64::max);
    Ok(Curves {
        width: W,
        network,
        kernel,
        drift: ntk_drift(&k0, &k1)?,
        gap,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/dynamics.svg".into());
    // Drift and gap fluctuate from one initialisation to the next: average
    // them over SEEDS networks per width; the curves are those of the first.
    const SEEDS: u64 = 6;
    fn width<const W: usize>() -> Result<(Curves, f64, f64), ntk::Error> {
        let first = run::<W>(1)?;
        let (mut drift, mut gap) = (first.drift, first.gap);
        for seed in 2..=SEEDS {
            let r = run::<W>(seed)?;
            drift += r.drift;
            gap += r.gap;
        }
        Ok((first, drift / SEEDS as f64, gap / SEEDS as f64))
    }
    let rows = (|| {
        Ok::<_, ntk::Error>([
            width::<32>()?,
            width::<128>()?,
            width::<512>()?,
            width::<2048>()?,
        ])
    })()
    .map_err(|e| format!("{e}"))?;

    println!("mean over {SEEDS} initialisations per width, after {STEPS} steps:");
    println!(
        "{:>6}  {:>12}  {:>14}  {:>12}",
        "width", "NTK drift", "test gap", "final loss"
    );
    for (r, drift, gap) in &rows {
        let last = r.network.last().map_or(f64::NAN, |p| p.1);
        println!(
            "{:>6}  {:>12.4e}  {:>14.4e}  {:>12.4e}",
            r.width, drift, gap, last
        );
    }
    let runs: Vec<Curves> = rows.into_iter().map(|(r, _, _)| r).collect();

    let root = SVGBackend::new(&path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let lo = runs
        .iter()
        .flat_map(|r| r.network.iter().chain(&r.kernel))
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .max(1e-8);
    let hi = runs
        .iter()
        .flat_map(|r| r.network.iter().chain(&r.kernel))
        .map(|p| p.1)
        .fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Training loss: network (solid) vs NTK prediction (dashed)",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..STEPS as f64, (lo * 0.8..hi * 1.2).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("gradient-descent step")
        .y_desc("MSE loss ‖f − Y‖²/(2N)")
        .draw()?;
    let colors = [RED, BLUE, GREEN, BLACK];
    for (r, c) in runs.iter().zip(colors) {
        chart
            .draw_series(LineSeries::new(
                r.network.iter().copied(),
                c.stroke_width(2),
            ))?
            .label(format!("width {}", r.width))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(DashedLineSeries::new(
            r.kernel.iter().copied(),
            6,
            4,
            c.stroke_width(1),
        ))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    println!("wrote {path}");
    Ok(())
}

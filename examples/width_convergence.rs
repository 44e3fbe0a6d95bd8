//! How fast the empirical NTK of finite networks approaches the analytic
//! infinite-width NTK.
//!
//! ```text
//! cargo run --release --example width_convergence [-- OUT.svg]
//! ```
//!
//! For the architecture `dense(1.5,0.1) relu dense(1.5,0.1)` (one hidden
//! layer of width W, NTK parameterisation), the NTK of 8 random inputs is
//! averaged over S = 8 initialisations ([`MonteCarlo`]) at widths 64 … 4096
//! and compared with the analytic NTK. The relative Frobenius distance
//! ‖Θ̂ − Θ‖/‖Θ‖ of one such estimate is itself random, so each width reports
//! its root mean square over R = 32 independent estimates; it should fall
//! like 1/√W. Prints the table and the fitted log–log slope (≈ −1/2) and
//! writes an SVG plot with the 1/√W reference line (default
//! `target/width_convergence.svg`).

use ntk::analytic::Architecture;
use ntk::empirical::{monte_carlo, MonteCarlo};
use ntk::nn::{Dense, Relu};
use ntk::Rng;
use plotters::prelude::*;

const N: usize = 8;
const D: usize = 4;
const SAMPLES: usize = 8;
const REPEATS: usize = 32;
const SPEC: &str = "dense(1.5,0.1) relu dense(1.5,0.1)";

type Net<const W: usize> = (Dense<f64, D, W>, Relu, Dense<f64, W, 1>);

/// Relative Frobenius distance ‖a − b‖/‖b‖.
fn distance(a: &[[f64; N]; N], b: &[[f64; N]; N]) -> f64 {
    let d: f64 = a
        .iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    let n: f64 = b.iter().flatten().map(|y| y * y).sum();
    (d / n).sqrt()
}

/// Computes one point of the curve.
type Point = fn(&[[f64; D]; N], &[[f64; N]; N]) -> Result<f64, ntk::Error>;

/// Root mean square over [`REPEATS`] Monte Carlo estimates at width W of
/// their distance to the analytic `reference`.
fn point<const W: usize>(x: &[[f64; D]; N], reference: &[[f64; N]; N]) -> Result<f64, ntk::Error> {
    let mut rng = Rng::new(W as u64);
    let mut net: Net<W> = (
        Dense::ntk(1.5, 0.1, &mut rng),
        Relu,
        Dense::ntk(1.5, 0.1, &mut rng),
    );
    let mut mc = MonteCarlo::new(SAMPLES, 1000 + W as u64)?;
    let mut work = vec![0.0; monte_carlo::workspace_len::<f64, Net<W>>(N, 1)];
    let (mut sample, mut k, mut t) = ([[0.0; N]; N], [[0.0; N]; N], [[0.0; N]; N]);
    let mut sum = 0.0;
    for _ in 0..REPEATS {
        // Each call draws SAMPLES new initialisations.
        mc.gram(&mut net, x, &mut work, &mut sample, &mut k, &mut t)?;
        sum += distance(&t, reference).powi(2);
    }
    Ok((sum / REPEATS as f64).sqrt())
}

/// Least-squares slope and intercept of log y against log x.
fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let (lx, ly): (Vec<f64>, Vec<f64>) = points.iter().map(|&(x, y)| (x.ln(), y.ln())).unzip();
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let sxy: f64 = lx.iter().zip(&ly).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = lx.iter().map(|x| (x - mx) * (x - mx)).sum();
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

fn plot(
    path: &str,
    points: &[(f64, f64)],
    slope: f64,
    intercept: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (800, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, 0.0_f64), |(lo, hi), &(_, y)| {
            (lo.min(y), hi.max(y))
        });
    let mut chart = ChartBuilder::on(&root)
        .caption("Empirical NTK → analytic NTK", ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (48.0..5500.0_f64).log_scale(),
            (lo / 2.0..hi * 2.0).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("width")
        .x_label_formatter(&|w| format!("{w:.0}"))
        .y_label_formatter(&|d| format!("{d:.3}"))
        .y_desc("relative distance ‖Θ̂ − Θ‖ / ‖Θ‖")
        .draw()?;
    // 1/√width through the geometric centre of the points.
    let c = points
        .iter()
        .map(|&(w, y)| (y * w.sqrt()).ln())
        .sum::<f64>()
        / points.len() as f64;
    let reference: Vec<(f64, f64)> = [48.0, 5500.0]
        .iter()
        .map(|&w: &f64| (w, c.exp() / w.sqrt()))
        .collect();
    chart
        .draw_series(LineSeries::new(reference, RED.stroke_width(1)))?
        .label("c/√width")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    let fitted: Vec<(f64, f64)> = [64.0, 4096.0]
        .iter()
        .map(|&w: &f64| (w, (intercept + slope * w.ln()).exp()))
        .collect();
    chart
        .draw_series(LineSeries::new(fitted, BLUE.stroke_width(1)))?
        .label(format!("fit: slope {slope:.3}"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(points.iter().map(|&p| Circle::new(p, 4, BLACK.filled())))?
        .label(format!(
            "RMS over {REPEATS} estimates of {SAMPLES} initialisations"
        ))
        .legend(|(x, y)| Circle::new((x + 10, y), 4, BLACK.filled()));
    chart
        .configure_series_labels()
        .background_style(WHITE)
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn run() -> Result<(), String> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/width_convergence.svg".into());
    let mut rng = Rng::new(2024);
    let mut x = [[0.0; D]; N];
    for row in x.iter_mut() {
        rng.fill_normal(row);
    }
    let arch: Architecture<f64> = SPEC
        .parse()
        .map_err(|e: ntk::error::ParseError| e.to_string())?;
    let (mut k, mut reference) = ([[0.0; N]; N], [[0.0; N]; N]);
    arch.gram(&x, &mut k, &mut reference)
        .map_err(|e| e.to_string())?;

    println!("architecture {SPEC}, {N} inputs of dimension {D}");
    println!("RMS over {REPEATS} Monte Carlo estimates of {SAMPLES} initialisations each");
    println!("{:>6} {:>12} {:>14}", "width", "distance", "distance·√W");
    let mut points = Vec::new();
    let runs: [(usize, Point); 7] = [
        (64, point::<64>),
        (128, point::<128>),
        (256, point::<256>),
        (512, point::<512>),
        (1024, point::<1024>),
        (2048, point::<2048>),
        (4096, point::<4096>),
    ];
    for (w, f) in runs {
        let d = f(&x, &reference).map_err(|e| e.to_string())?;
        println!("{w:>6} {d:>12.5e} {:>14.5}", d * (w as f64).sqrt());
        points.push((w as f64, d));
    }
    let (slope, intercept) = fit(&points);
    println!("fitted log-log slope {slope:.3} (1/sqrt(width) gives -0.5)");
    plot(&path, &points, slope, intercept).map_err(|e| e.to_string())?;
    println!("plot written to {path}");
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("width_convergence: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

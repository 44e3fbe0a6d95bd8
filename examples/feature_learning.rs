//! Finite width and feature learning: how far the empirical NTK moves when
//! networks of widths 16 … 4096 are trained, how the trained networks
//! compare with the kernel predictions, and how much the NTK fluctuates at
//! initialisation.
//!
//! ```text
//! cargo run --release --example feature_learning [-- OUT.svg]
//! ```
//!
//! The task: 8 training and 32 test points on the unit circle in 2-D, target
//! `sin(2θ) + cos θ / 2`. Networks with one hidden layer (widths 16 … 4096)
//! and two hidden layers (16 … 1024) with erf activations, NTK
//! parameterisation (σw = 1.5, σb = 0.1), are trained by full-batch
//! gradient descent for 50 steps at half the largest stable learning rate
//! of their NTK at initialisation. Each width is the geometric mean (drift)
//! or mean (errors) of several initialisations. Three panels, written to
//! `target/feature_learning.svg` (or `OUT.svg`):
//!
//! 1. the relative NTK change `‖Θ_t − Θ₀‖_F / ‖Θ₀‖_F` after training
//!    against width, log–log, with the fitted slopes, next to the relative
//!    change of the first layer's weights;
//! 2. the test error (RMS against the target) of the trained networks, of
//!    the kernel prediction from each network's empirical NTK at
//!    initialisation (`predict::GradientDescentMse`, same steps, same
//!    initial outputs) and of the prediction from the infinite-width NTK of
//!    `analytic` (initial outputs zero, their mean);
//! 3. the variance of an NTK entry at initialisation over 64
//!    initialisations of one-hidden-layer ReLU networks against width, with
//!    the exact `v/n` of `analytic::finite_width::OneHidden` and the fitted
//!    coefficient of `empirical::fluctuations::fit_inverse_width`.
//!
//! # What the slopes say
//!
//! In NTK parameterisation the first layer's weights move by `O(1/√n)`
//! relative to their size (each of the `n` hidden units moves by
//! `O(1/√n)`): the fitted slope is −1/2. The kernel moves less: its
//! first-order change along the training direction is a sum over hidden
//! units whose terms carry random signs (odd powers of the readout
//! weights), so a single network's change is `O(1/n)` at every fixed depth
//! — the order Dyer and Gur-Ari (2019) derive for `dΘ/dt` — and the fitted
//! slope over 16 … 1024 or 4096 is −0.8 to −0.95, approaching −1 from above.
//! The `n^{−1/2}` of Lee et al. (2019) is their bound on the change, which
//! the weights saturate and the kernel does not; ReLU networks, whose units
//! cross their kink, fall in between (about −0.7). `tests/empirical/drift.rs`
//! checks both slopes.

use ntk::analytic::finite_width::OneHidden;
use ntk::analytic::{Architecture, Layer};
use ntk::boxed::{self, Zeroable};
use ntk::empirical::fluctuations::{fit_inverse_width, Entry, Fluctuations, Statistics};
use ntk::empirical::{monte_carlo, structured};
use ntk::nn::{Dense, Erf, Module, Params, Relu};
use ntk::predict::{max_learning_rate, GradientDescentMse, Spectrum};
use ntk::train::{ntk_drift, outputs, train};
use ntk::Rng;
use plotters::prelude::*;

/// Training points.
const N: usize = 8;
/// Test points.
const M: usize = 32;
/// Gradient-descent steps.
const STEPS: u32 = 200;
/// Learning rate as a fraction of the largest stable one.
const RATE: f64 = 0.5;
/// Weight and bias scales of every layer.
const SCALES: (f64, f64) = (1.5, 0.1);
/// The trained networks' architecture for `analytic`.
const SPEC_1: &str = "dense(1.5,0.1) erf dense(1.5,0.1)";
const SPEC_2: &str = "dense(1.5,0.1) erf dense(1.5,0.1) erf dense(1.5,0.1)";
/// Initialisations per width in the variance panel.
const SAMPLES: usize = 64;

type One<const W: usize> = (Dense<f64, 2, W>, Erf, Dense<f64, W, 1>);
type Two<const W: usize> = (
    Dense<f64, 2, W>,
    Erf,
    Dense<f64, W, W>,
    Erf,
    Dense<f64, W, 1>,
);
type OneRelu<const W: usize> = (Dense<f64, 2, W>, Relu, Dense<f64, W, 1>);

type Error = Box<dyn std::error::Error>;

fn on_circle<const P: usize>(offset: f64) -> [[f64; 2]; P] {
    core::array::from_fn(|i| {
        let t = core::f64::consts::TAU * (i as f64 + offset) / P as f64;
        [t.cos(), t.sin()]
    })
}

fn target(x: &[f64; 2]) -> [f64; 1] {
    let t = x[1].atan2(x[0]);
    [(2.0 * t).sin() + 0.5 * t.cos()]
}

/// The task: training inputs and targets, test inputs and targets.
struct Task {
    xs: [[f64; 2]; N],
    y: [[f64; 1]; N],
    xt: [[f64; 2]; M],
    yt: [[f64; 1]; M],
}

impl Task {
    fn new() -> Self {
        let xs = on_circle::<N>(0.25);
        let xt = on_circle::<M>(0.5);
        Self {
            y: xs.map(|x| target(&x)),
            yt: xt.map(|x| target(&x)),
            xs,
            xt,
        }
    }

    /// Root mean square of `f` against the test targets.
    fn test_error(&self, f: &[[f64; 1]; M]) -> f64 {
        let s: f64 = f
            .iter()
            .zip(&self.yt)
            .map(|(a, b)| (a[0] - b[0]).powi(2))
            .sum();
        (s / M as f64).sqrt()
    }
}

/// One trained network: what it did and what the kernels predicted.
#[derive(Clone, Copy, Default)]
struct Run {
    /// Relative NTK change ‖Θ_t − Θ₀‖_F / ‖Θ₀‖_F.
    drift: f64,
    /// Relative change of the first layer's weights.
    weights: f64,
    /// Test error of the trained network.
    network: f64,
    /// Test error of the prediction from the empirical NTK at initialisation.
    empirical: f64,
}

/// The relative change ‖a − b‖/‖b‖ of the first parameter slice (the
/// first layer's weight matrix).
fn first_layer_change<Net: Params<f64>>(trained: &Net, initial: &Net) -> f64 {
    let (mut d, mut n, mut first) = (0.0, 0.0, true);
    trained.zip(initial, &mut |a, b| {
        if first {
            for (p, q) in a.iter().zip(b) {
                d += (p - q) * (p - q);
                n += q * q;
            }
            first = false;
        }
    });
    (d / n).sqrt()
}

fn run<Net>(task: &Task, seed: u64) -> Result<Run, ntk::Error>
where
    Net: Module<f64, [f64; 2], Output = [f64; 1]> + Params<f64> + Zeroable,
{
    // Built twice from the same seed, bit for bit the same network (a
    // clone would pass through the stack).
    let mut net: Box<Net> = boxed::ntk(SCALES.0, SCALES.1, &mut Rng::new(seed));
    let initial: Box<Net> = boxed::ntk(SCALES.0, SCALES.1, &mut Rng::new(seed));
    let mut grad: Box<Net> = boxed::zeroed();
    let mut ws = vec![0.0; structured::workspace_len::<f64, Net>(N + M, 1)];
    let (mut k0, mut kt0) = ([[0.0; N]; N], [[0.0; N]; M]);
    structured::ntk(&*net, &task.xs, &mut ws, &mut k0)?;
    structured::ntk_cross(&*net, &task.xt, &task.xs, &mut ws, &mut kt0)?;
    let (mut f0, mut f0t) = ([[0.0; 1]; N], [[0.0; 1]; M]);
    outputs(&*net, &task.xs, &mut f0)?;
    outputs(&*net, &task.xt, &mut f0t)?;
    let eta = RATE * max_learning_rate(&k0, 1, &mut [[0.0; N]; N])?;

    // The kernel prediction from the empirical NTK at initialisation.
    let gd = GradientDescentMse::new(&task.y, eta)?.with_initial_outputs(&f0)?;
    let mut spectrum: Box<Spectrum<f64, N>> = boxed::zeroed();
    gd.spectrum(&k0, &mut spectrum)?;
    let mut predicted = [[0.0; 1]; M];
    gd.test_outputs_after_steps(&spectrum, &kt0, Some(&f0t), STEPS, &mut predicted)?;

    train(&mut *net, &task.xs, &task.y, eta, STEPS, &mut *grad)?;
    let mut k1 = [[0.0; N]; N];
    structured::ntk(&*net, &task.xs, &mut ws, &mut k1)?;
    let mut trained = [[0.0; 1]; M];
    outputs(&*net, &task.xt, &mut trained)?;
    Ok(Run {
        drift: ntk_drift(&k0, &k1)?,
        weights: first_layer_change(&*net, &*initial),
        network: task.test_error(&trained),
        empirical: task.test_error(&predicted),
    })
}

/// One width: geometric means of the changes, means of the errors, over
/// `seeds` initialisations.
fn width<Net>(task: &Task, seeds: u64) -> Result<Run, ntk::Error>
where
    Net: Module<f64, [f64; 2], Output = [f64; 1]> + Params<f64> + Zeroable,
{
    let mut m = Run::default();
    for seed in 1..=seeds {
        let r = run::<Net>(task, seed)?;
        m.drift += r.drift.ln();
        m.weights += r.weights.ln();
        m.network += r.network;
        m.empirical += r.empirical;
    }
    let s = seeds as f64;
    Ok(Run {
        drift: (m.drift / s).exp(),
        weights: (m.weights / s).exp(),
        network: m.network / s,
        empirical: m.empirical / s,
    })
}

/// The test error of the infinite-width NTK's prediction after the same
/// steps, with the learning rate taken from the analytic kernel.
fn analytic_error(task: &Task, spec: &str) -> Result<f64, Error> {
    let arch: Architecture<f64> = spec.parse()?;
    let (mut k, mut t) = ([[0.0; N]; N], [[0.0; N]; N]);
    arch.gram(&task.xs, &mut k, &mut t)?;
    let (mut kc, mut tc) = ([[0.0; N]; M], [[0.0; N]; M]);
    arch.cross(&task.xt, &task.xs, &mut kc, &mut tc)?;
    let eta = RATE * max_learning_rate(&t, 1, &mut [[0.0; N]; N])?;
    let gd = GradientDescentMse::new(&task.y, eta)?;
    let mut spectrum: Box<Spectrum<f64, N>> = boxed::zeroed();
    gd.spectrum(&t, &mut spectrum)?;
    let mut f = [[0.0; 1]; M];
    gd.test_outputs_after_steps(&spectrum, &tc, None, STEPS, &mut f)?;
    Ok(task.test_error(&f))
}

/// Variance of the NTK entry Θ(x₀, x₁) at initialisation, its standard
/// error, over [`SAMPLES`] one-hidden-layer ReLU networks of width `W`.
fn variance<const W: usize>(x: &[[f64; 2]; 2]) -> Result<(f64, f64), ntk::Error> {
    let mut rng = Rng::new(7);
    let mut net: Box<OneRelu<W>> = boxed::ntk(SCALES.0, SCALES.1, &mut rng);
    let mut work = vec![0.0; monte_carlo::workspace_len::<f64, OneRelu<W>>(2, 1)];
    let mut sample = [[0.0; 2]; 2];
    let mut stats = Statistics::<f64, 2, 1>::ZEROED;
    Fluctuations::new(SAMPLES, 11 + W as u64)?.gram(
        &mut *net,
        x,
        &[Entry::ntk(0, 1)],
        &mut work,
        &mut sample,
        &mut stats,
    )?;
    Ok((stats.ntk.variance[0][1], stats.ntk.variance_se[0][1]))
}

/// Least-squares slope and intercept of ln y against ln x.
fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let (lx, ly): (Vec<f64>, Vec<f64>) = points.iter().map(|&(x, y)| (x.ln(), y.ln())).unzip();
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let sxy: f64 = lx.iter().zip(&ly).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = lx.iter().map(|x| (x - mx) * (x - mx)).sum();
    let slope = sxy / sxx;
    (slope, my - slope * mx)
}

/// A curve of the plot: label, colour, points, dashed or not.
struct Curve {
    label: String,
    color: RGBColor,
    points: Vec<(f64, f64)>,
    dashed: bool,
}

fn curve(label: String, color: RGBColor, points: Vec<(f64, f64)>, dashed: bool) -> Curve {
    Curve {
        label,
        color,
        points,
        dashed,
    }
}

fn panel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    caption: &str,
    y_desc: &str,
    curves: &[Curve],
) -> Result<(), Error> {
    let ys = curves.iter().flat_map(|c| c.points.iter().map(|p| p.1));
    let (lo, hi) = ys.fold((f64::INFINITY, 0.0_f64), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (12.0..5500.0_f64).log_scale(),
            (lo / 1.5..hi * 1.5).log_scale(),
        )?;
    chart
        .configure_mesh()
        .x_desc("width")
        .y_desc(y_desc)
        .x_label_formatter(&|w| format!("{w:.0}"))
        .y_label_formatter(&|v| format!("{v:.1e}"))
        .draw()?;
    for c in curves {
        let color = c.color;
        if c.dashed {
            chart
                .draw_series(DashedLineSeries::new(
                    c.points.iter().copied(),
                    6,
                    4,
                    color.stroke_width(1),
                ))?
                .label(c.label.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        } else {
            chart.draw_series(LineSeries::new(
                c.points.iter().copied(),
                color.stroke_width(2),
            ))?;
            chart
                .draw_series(c.points.iter().map(|&p| Circle::new(p, 3, color.filled())))?
                .label(c.label.as_str())
                .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.filled()));
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    Ok(())
}

/// The fitted line of `points` over their range of widths.
fn fitted(points: &[(f64, f64)]) -> (f64, Vec<(f64, f64)>) {
    let (slope, intercept) = fit(points);
    let line = [points[0].0, points[points.len() - 1].0]
        .iter()
        .map(|&w| (w, (intercept + slope * w.ln()).exp()))
        .collect();
    (slope, line)
}

fn main() -> Result<(), Error> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/feature_learning.svg".into());
    let task = Task::new();

    // Training runs: one hidden layer to width 4096, two to 1024 (a
    // width-4096 square layer, 16 M weights, would take most of a minute).
    let one = [
        (16, width::<One<16>>(&task, 8)?),
        (64, width::<One<64>>(&task, 8)?),
        (256, width::<One<256>>(&task, 8)?),
        (1024, width::<One<1024>>(&task, 8)?),
        (4096, width::<One<4096>>(&task, 8)?),
    ];
    let two = [
        (16, width::<Two<16>>(&task, 6)?),
        (64, width::<Two<64>>(&task, 6)?),
        (256, width::<Two<256>>(&task, 6)?),
        (1024, width::<Two<1024>>(&task, 4)?),
    ];
    let analytic = [
        analytic_error(&task, SPEC_1)?,
        analytic_error(&task, SPEC_2)?,
    ];

    println!(
        "NTK parameterisation, erf, {N} training points, {STEPS} steps at {RATE}·η_max; \
         geometric means of the changes, means of the test errors (RMS)"
    );
    println!(
        "{:>7} {:>6} {:>12} {:>12} {:>12} {:>12}",
        "hidden", "width", "NTK change", "W₁ change", "net error", "Θ₀ error"
    );
    for (depth, rows) in [(1, &one[..]), (2, &two[..])] {
        for (w, r) in rows {
            println!(
                "{depth:>7} {w:>6} {:>12.4e} {:>12.4e} {:>12.4e} {:>12.4e}",
                r.drift, r.weights, r.network, r.empirical
            );
        }
        println!(
            "{depth:>7} {:>6} {:>12} {:>12} {:>12} {:>12.4e}",
            "∞",
            "",
            "",
            "",
            analytic[depth - 1]
        );
    }

    // The NTK's variance at initialisation against the exact v/n.
    let x = [task.xs[0], task.xs[1]];
    let exact = OneHidden {
        first: SCALES,
        activation: Layer::Relu,
        readout: SCALES,
    }
    .ntk_fluctuation(&x[0], &x[1])?;
    let measured = [
        (16.0, variance::<16>(&x)?),
        (64.0, variance::<64>(&x)?),
        (256.0, variance::<256>(&x)?),
        (1024.0, variance::<1024>(&x)?),
        (4096.0, variance::<4096>(&x)?),
    ];
    let widths: Vec<f64> = measured.iter().map(|m| m.0).collect();
    let vars: Vec<f64> = measured.iter().map(|m| m.1 .0).collect();
    let ses: Vec<f64> = measured.iter().map(|m| m.1 .1).collect();
    let coefficient = fit_inverse_width(&widths, &vars, &ses, 0.0)?;
    println!(
        "NTK variance at initialisation (ReLU, one hidden layer, {SAMPLES} samples): \
         n·Var fitted {:.4} ± {:.4} (χ² {:.1}, {} dof), exact {:.4}",
        coefficient.coefficient,
        coefficient.scaled_standard_error(),
        coefficient.chi2,
        coefficient.dof,
        exact.variance
    );

    // Panel 1: the changes and their slopes.
    let pts = |rows: &[(usize, Run)], f: fn(&Run) -> f64| -> Vec<(f64, f64)> {
        rows.iter().map(|(w, r)| (*w as f64, f(r))).collect()
    };
    let drift_1 = pts(&one, |r| r.drift);
    let drift_2 = pts(&two, |r| r.drift);
    let weights_1 = pts(&one, |r| r.weights);
    let weights_2 = pts(&two, |r| r.weights);
    let (s_d1, l_d1) = fitted(&drift_1);
    let (s_d2, l_d2) = fitted(&drift_2);
    let (s_w1, l_w1) = fitted(&weights_1);
    let (s_w2, l_w2) = fitted(&weights_2);
    println!("first-layer weight change slope: {s_w1:.2} (1 hidden), {s_w2:.2} (2 hidden)");

    let root = SVGBackend::new(&path, (1500, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((1, 3));
    panel(
        &areas[0],
        "Change after training (NTK param.)",
        "relative change",
        &[
            curve(
                format!("NTK, 1 hidden: slope {s_d1:.2}"),
                RED,
                drift_1,
                false,
            ),
            curve(String::new(), RED, l_d1, true),
            curve(
                format!("NTK, 2 hidden: slope {s_d2:.2}"),
                BLUE,
                drift_2,
                false,
            ),
            curve(String::new(), BLUE, l_d2, true),
            curve(
                format!("W₁, 1 hidden: slope {s_w1:.2}"),
                MAGENTA,
                weights_1,
                false,
            ),
            curve(String::new(), MAGENTA, l_w1, true),
            curve(
                format!("W₁, 2 hidden: slope {s_w2:.2}"),
                CYAN,
                weights_2,
                false,
            ),
            curve(String::new(), CYAN, l_w2, true),
        ],
    )?;

    // Panel 2: test errors.
    let flat = |rows: &[(usize, Run)], v: f64| -> Vec<(f64, f64)> {
        rows.iter().map(|(w, _)| (*w as f64, v)).collect()
    };
    panel(
        &areas[1],
        &format!("Test error after {STEPS} steps"),
        "RMS test error",
        &[
            curve(
                "network, 1 hidden".into(),
                RED,
                pts(&one, |r| r.network),
                false,
            ),
            curve(
                "Θ₀ prediction, 1 hidden".into(),
                MAGENTA,
                pts(&one, |r| r.empirical),
                false,
            ),
            curve(
                "Θ∞ prediction, 1 hidden".into(),
                RED,
                flat(&one, analytic[0]),
                true,
            ),
            curve(
                "network, 2 hidden".into(),
                BLUE,
                pts(&two, |r| r.network),
                false,
            ),
            curve(
                "Θ₀ prediction, 2 hidden".into(),
                CYAN,
                pts(&two, |r| r.empirical),
                false,
            ),
            curve(
                "Θ∞ prediction, 2 hidden".into(),
                BLUE,
                flat(&two, analytic[1]),
                true,
            ),
        ],
    )?;

    // Panel 3: variance at initialisation.
    panel(
        &areas[2],
        "NTK variance at init. (ReLU, 1 hidden)",
        "Var Θ(x₀, x₁)",
        &[
            curve(
                format!("{SAMPLES} initialisations"),
                BLACK,
                widths.iter().copied().zip(vars.iter().copied()).collect(),
                false,
            ),
            curve(
                format!("exact v/n, v = {:.3}", exact.variance),
                RED,
                widths.iter().map(|&w| (w, exact.variance / w)).collect(),
                true,
            ),
        ],
    )?;
    root.present()?;
    println!("wrote {path}");
    println!("drift slope: ntk {s_d1:.2} (1 hidden), {s_d2:.2} (2 hidden)");
    Ok(())
}

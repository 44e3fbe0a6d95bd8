//! Measures of how a Monte Carlo kernel approaches its infinite-width limit.

/// ‖a − b‖_F / ‖b‖_F: the relative Frobenius distance of `a` from `b`.
pub fn frob_rel<const R: usize, const C: usize>(a: &[[f64; C]; R], b: &[[f64; C]; R]) -> f64 {
    let d: f64 = a
        .iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).powi(2))
        .sum();
    let n: f64 = b.iter().flatten().map(|y| y * y).sum();
    (d / n).sqrt()
}

/// Least-squares slope of ln y against ln x (−1/2 for an error that falls
/// like 1/√width).
pub fn log_log_slope(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (lx, ly): (Vec<f64>, Vec<f64>) = x.iter().zip(y).map(|(a, b)| (a.ln(), b.ln())).unzip();
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = lx.iter().map(|a| (a - mx).powi(2)).sum();
    sxy / sxx
}

/// Runs `f` on a thread with a 64 MiB stack: the widest layers' weights and
/// gradient rows of the width sweeps pass through the stack.
pub fn on_big_stack(f: impl FnOnce() + Send + 'static) {
    let worker = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(f)
        .expect("a test thread");
    if let Err(panic) = worker.join() {
        std::panic::resume_unwind(panic);
    }
}

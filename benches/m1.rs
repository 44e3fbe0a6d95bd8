//! M1: matrix-free kernel regression (t = ∞ by conjugate gradients) with the
//! empirical NTK of an f32 MLP 16→256→256→1 (ReLU, NTK parameterisation,
//! σw = 1.5, σb = 0.1) on N = 100 000 standard-normal inputs, y = sin(x₀),
//! regulariser ε = 1e-2 × the mean diagonal of Θ, CG to a relative residual
//! of 1e-4 (cap 500 iterations), on the calling thread.
//!
//! A timed run, not a criterion benchmark (one solve takes minutes):
//!
//! ```text
//! cargo bench --bench m1                # N = 100 000
//! M1_N=10000 cargo bench --bench m1     # a quick run
//! ```
//!
//! It prints the time of one product Θ·v, the iterations to tolerance, the
//! time per iteration and in total, and the peak heap measured by a counting
//! global allocator, which it checks against 2 × (P + N·(D + K)) floats.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use ntk::empirical::matvec::{workspace_len, NtkOperator};
use ntk::linalg::krylov::{cg_workspace_len, conjugate_gradient, KrylovOptions, LinearOperator};
use ntk::nn::{Dense, Params, Relu};
use ntk::{boxed, Rng};

/// The system allocator, counting the bytes in use and their peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const D: usize = 16;
const K: usize = 1;
type Net = (
    Dense<f32, D, 256>,
    Relu,
    Dense<f32, 256, 256>,
    Relu,
    Dense<f32, 256, K>,
);

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that does not name M1 skips it.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"M1".contains(a.as_str()))
    {
        return;
    }
    let n = env("M1_N", 100_000);
    let cap = env("M1_MAX_ITER", 500);
    let base = IN_USE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);

    let mut rng = Rng::new(0);
    let net: Box<Net> = boxed::ntk(1.5, 0.1, &mut rng);
    let mut xs = vec![[0.0_f32; D]; n];
    for x in xs.iter_mut() {
        for v in x.iter_mut() {
            *v = rng.normal::<f32>();
        }
    }
    let y: Vec<f32> = xs.iter().map(|x| x[0].sin()).collect();
    let mut g = vec![0.0_f32; workspace_len::<f32, Net>()];
    let mut work = vec![0.0_f32; cg_workspace_len(n * K)];
    let mut w = vec![0.0_f32; n * K];

    let start = Instant::now();
    let mut op = NtkOperator::new(&*net, &xs, &mut g).expect("operator");
    let eps = 1e-2 * op.mean_diagonal().expect("diagonal");
    let t_diag = start.elapsed().as_secs_f64();

    let t0 = Instant::now();
    op.apply(&y, &mut w).expect("product");
    let t_product = t0.elapsed().as_secs_f64();

    let opts = KrylovOptions {
        tolerance: 1e-4_f32,
        max_iterations: cap,
    };
    let t0 = Instant::now();
    let result = conjugate_gradient(&mut op, eps, &y, opts, &mut work, &mut w);
    let t_cg = t0.elapsed().as_secs_f64();
    let total = start.elapsed().as_secs_f64();

    let peak = PEAK.load(Ordering::Relaxed) - base;
    let p = Net::NUM_PARAMS;
    let bound = 2 * (p + n * (D + K)) * core::mem::size_of::<f32>();
    println!("M1: MLP 16-256-256-1 f32, N = {n}, P = {p}, ε = {eps:.4e} (1e-2 × mean diagonal)");
    println!("  mean diagonal (one pass): {t_diag:.3} s");
    println!("  one product Θ·v: {t_product:.3} s");
    match result {
        Ok(r) => {
            // The iterations plus the products of the residual checks.
            println!(
                "  CG: {} iterations to relative residual {:.3e} (tolerance 1e-4, cap {cap})",
                r.iterations, r.residual
            );
            println!(
                "  CG: {t_cg:.2} s, {:.3} s per iteration",
                t_cg / r.iterations as f64
            );
        }
        Err(e) => println!(
            "  CG: {e} after {t_cg:.2} s, {:.3} s per iteration",
            t_cg / cap.max(1) as f64
        ),
    }
    println!("  total (diagonal + CG): {total:.2} s");
    println!(
        "  peak heap: {:.2} MiB; bound 2 × (P + N·(D + K)) floats = {:.2} MiB: {}",
        peak as f64 / 1048576.0,
        bound as f64 / 1048576.0,
        if peak <= bound { "within" } else { "EXCEEDED" }
    );
    assert!(peak <= bound, "peak heap above the bound");
}

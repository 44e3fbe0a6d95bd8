//! Measures the stack each entry point needs, for the README's "Large shapes"
//! table: `cargo run --release --example stack_use` (and without `--release`
//! for a dev build, opt-level 0).
//!
//! Every measurement runs the entry point in a child process, on a thread of
//! fixed size (1 MiB, or 64 MiB for what does not fit), below a chain of
//! frames of 1 KiB each that use up part of that stack first; a stack
//! overflow aborts the child. A bisection finds the longest chain under which
//! the entry point still runs, and the stack it needs is what that chain
//! leaves free compared with an empty entry point: resolution one frame,
//! about 1 KiB, whatever the platform's minimum thread stack. Inputs and
//! outputs larger than a few kilobytes are on the heap, prepared before the
//! thread starts, so only the entry point's own stack is counted.

use std::process::{Command, Stdio};

use ntk::analytic::Architecture;
use ntk::empirical::structured;
use ntk::linalg::Regularizer;
use ntk::nn::{Dense, Params, Relu};
use ntk::predict::{Factor, OnlineGp, Spectrum};
use ntk::{boxed, train, Rng};

const SIZES: [usize; 5] = [64, 128, 256, 512, 1024];
const SPEC: &str = "dense(1.5,0.1) relu dense(1.5,0.1) relu dense(1.5,0.1)";

/// Bytes of each frame of [`burn`]'s chain (about 1 KiB).
const PAD: usize = 1024;

/// Runs `f` below `depth` frames of [`PAD`] bytes.
#[inline(never)]
fn burn(depth: usize, f: &mut dyn FnMut(), addr: &mut Vec<usize>) {
    let pad = std::hint::black_box([0u8; PAD]);
    addr.push(pad.as_ptr() as usize);
    if depth == 0 {
        f();
    } else {
        burn(depth - 1, f, addr);
    }
    std::hint::black_box(&pad);
}

/// The depth of the chain in probes; set from the command line.
static DEPTH: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs `f` on a thread of `stack` bytes, below the chain.
fn on_stack(stack: usize, f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            let mut f = Some(f);
            let depth = DEPTH.load(std::sync::atomic::Ordering::Relaxed);
            let mut addr = Vec::with_capacity(depth + 1);
            burn(depth, &mut || f.take().expect("once")(), &mut addr);
        })
        .expect("thread")
        .join()
        .expect("entry point");
}

/// The bytes one frame of the chain takes, from the addresses of its pads.
fn frame_bytes() -> usize {
    let mut addr = Vec::new();
    burn(2, &mut || {}, &mut addr);
    addr[0].abs_diff(addr[1])
}

fn points(n: usize) -> Vec<[f64; 2]> {
    let mut rng = Rng::new(1);
    (0..n).map(|_| [rng.normal(), rng.normal()]).collect()
}

/// A positive definite N × N matrix (a ReLU NTK plus a ridge) on the heap.
fn matrix<const N: usize>() -> Box<[[f64; N]; N]> {
    let x: Vec<[f64; 2]> = points(N);
    let x: Box<[[f64; 2]; N]> = x.into_boxed_slice().try_into().expect("N points");
    let arch: Architecture<f64> = SPEC.parse().expect("valid");
    let mut k: Box<[[f64; N]; N]> = boxed::zeroed();
    let mut t: Box<[[f64; N]; N]> = boxed::zeroed();
    arch.gram(&x, &mut k, &mut t).expect("finite");
    for (i, row) in t.iter_mut().enumerate() {
        row[i] += 1.0;
    }
    t
}

fn probe_n<const N: usize>(entry: &str, stack: usize) {
    match entry {
        "gram" => {
            let x: Box<[[f64; 2]; N]> = points(N).into_boxed_slice().try_into().expect("N");
            let arch: Architecture<f64> = SPEC.parse().expect("valid");
            let mut k: Box<[[f64; N]; N]> = boxed::zeroed();
            let mut t: Box<[[f64; N]; N]> = boxed::zeroed();
            on_stack(stack, move || {
                arch.gram(&x, &mut k, &mut t).expect("finite")
            });
        }
        "spectrum" => {
            let k = matrix::<N>();
            let mut s: Box<Spectrum<f64, N>> = boxed::zeroed();
            on_stack(stack, move || s.compute(&k, Regularizer::None).expect("ok"));
        }
        "factor" => {
            let k = matrix::<N>();
            let mut f: Box<Factor<f64, N>> = boxed::zeroed();
            on_stack(stack, move || f.compute(&k, Regularizer::None).expect("ok"));
        }
        "online_gp" => {
            let k = matrix::<N>();
            let mut gp: Box<OnlineGp<f64, N>> = boxed::online_gp(0.0).expect("noise");
            for i in 0..N - 1 {
                gp.push(&k[i][..i], k[i][i], [1.0]).expect("ok");
            }
            on_stack(stack, move || {
                let i = N - 1;
                gp.push(&k[i][..i], k[i][i], [1.0]).expect("ok");
            });
        }
        _ => panic!("unknown entry {entry}"),
    }
}

type Net<const W: usize> = (
    Dense<f64, 2, W>,
    Relu,
    Dense<f64, W, W>,
    Relu,
    Dense<f64, W, 1>,
);

fn by_value<const W: usize>() -> Net<W> {
    let mut rng = Rng::new(2);
    let a = Dense::ntk(1.5, 0.1, &mut rng);
    let b = Dense::ntk(1.5, 0.1, &mut rng);
    (a, Relu, b, Relu, Dense::ntk(1.5, 0.1, &mut rng))
}

fn probe_w<const W: usize>(entry: &str, stack: usize) {
    const M: usize = 16;
    let xs: [[f64; 2]; M] = std::array::from_fn(|i| points(M)[i]);
    match entry {
        "by_value" => on_stack(stack, || {
            std::hint::black_box(by_value::<W>());
        }),
        "box_new" => on_stack(stack, || {
            std::hint::black_box(Box::new(by_value::<W>()));
        }),
        "boxed_ntk" => on_stack(stack, || {
            std::hint::black_box(boxed::ntk::<f64, Net<W>>(1.5, 0.1, &mut Rng::new(2)));
        }),
        "init_ntk" => {
            let mut net: Box<Net<W>> = boxed::zeroed();
            on_stack(stack, move || net.init_ntk(1.5, 0.1, &mut Rng::new(2)));
        }
        "structured" => {
            let net: Box<Net<W>> = boxed::ntk(1.5, 0.1, &mut Rng::new(2));
            let mut ws = vec![0.0; structured::workspace_len::<f64, Net<W>>(M, 1)];
            on_stack(stack, move || {
                let mut theta = [[0.0; M]; M];
                structured::ntk(&*net, &xs, &mut ws, &mut theta).expect("finite");
            });
        }
        "step" => {
            let mut net: Box<Net<W>> = boxed::ntk(1.5, 0.1, &mut Rng::new(2));
            let mut grad: Box<Net<W>> = boxed::zeroed();
            on_stack(stack, move || {
                let y = [[0.5]; M];
                train::step(&mut *net, &xs, &y, 0.1, &mut grad).expect("finite");
            });
        }
        _ => panic!("unknown entry {entry}"),
    }
}

fn probe(entry: &str, n: usize, stack: usize) {
    let by_n = ["gram", "spectrum", "factor", "online_gp"].contains(&entry);
    match (by_n, n) {
        (_, 0) => on_stack(stack, || {}),
        (true, 64) => probe_n::<64>(entry, stack),
        (true, 128) => probe_n::<128>(entry, stack),
        (true, 256) => probe_n::<256>(entry, stack),
        (true, 512) => probe_n::<512>(entry, stack),
        (true, 1024) => probe_n::<1024>(entry, stack),
        (false, 64) => probe_w::<64>(entry, stack),
        (false, 128) => probe_w::<128>(entry, stack),
        (false, 256) => probe_w::<256>(entry, stack),
        (false, 512) => probe_w::<512>(entry, stack),
        (false, 1024) => probe_w::<1024>(entry, stack),
        _ => panic!("unsupported size {n}"),
    }
}

/// Does `entry` at size `n` run on a `stack`-byte thread below `depth`
/// frames of the chain?
fn fits(entry: &str, n: usize, stack: usize, depth: usize) -> bool {
    let exe = std::env::current_exe().expect("own path");
    Command::new(exe)
        .args(["--probe", entry, &n.to_string(), &stack.to_string()])
        .arg(depth.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The longest chain under which `entry` runs on a `stack`-byte thread.
fn max_depth(entry: &str, n: usize, stack: usize, frame: usize) -> Option<usize> {
    if !fits(entry, n, stack, 0) {
        return None;
    }
    let (mut lo, mut hi) = (0, stack / frame + 1); // lo fits, hi does not
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(entry, n, stack, mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(lo)
}

/// The stack `entry` needs beyond an empty thread; `None` above 64 MiB.
fn need(entry: &str, n: usize, frame: usize, base: &mut Vec<(usize, usize)>) -> Option<usize> {
    for stack in [1 << 20, 64 << 20] {
        let Some(depth) = max_depth(entry, n, stack, frame) else {
            continue;
        };
        let free = match base.iter().find(|b| b.0 == stack) {
            Some(&(_, d)) => d,
            None => {
                let d = max_depth("baseline", 0, stack, frame).expect("an empty thread runs");
                base.push((stack, d));
                d
            }
        };
        return Some(free.saturating_sub(depth) * frame);
    }
    None
}

fn show(bytes: Option<usize>, frame: usize) -> String {
    match bytes {
        None => "> 64 MiB".to_string(),
        Some(b) if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
        Some(0) => format!("< {:.1} KiB", frame as f64 / 1024.0),
        Some(b) => format!("{} KiB", b.div_ceil(1024)),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--probe") {
        let n = args[3].parse().expect("size");
        let stack = args[4].parse().expect("stack");
        DEPTH.store(
            args[5].parse().expect("depth"),
            std::sync::atomic::Ordering::Relaxed,
        );
        probe(&args[2], n, stack);
        return;
    }
    let only: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let wanted = |e: &str| only.is_empty() || only.contains(&e);
    let profile = if cfg!(debug_assertions) {
        "dev (opt-level 0)"
    } else {
        "release"
    };
    let frame = frame_bytes();
    let mut base = Vec::new();
    println!("stack needed beyond an empty thread, {profile}, to within {frame} bytes");
    println!(
        "| entry point | {} |",
        SIZES.map(|n| format!("N = {n}")).join(" | ")
    );
    println!("|---|{}", "---|".repeat(SIZES.len()));
    let entries = [
        ("gram", "`Architecture::gram`, 3-layer ReLU, N points"),
        ("spectrum", "`Spectrum::compute` (N × N eigh)"),
        ("factor", "`Factor::compute` (N × N Cholesky)"),
        ("online_gp", "`OnlineGp::push`, the N-th point"),
        ("by_value", "a 2-N-N-1 `f64` net built by value"),
        ("box_new", "`Box::new` of that net"),
        ("boxed_ntk", "`boxed::ntk` of that net"),
        ("init_ntk", "`Params::init_ntk` of that net, in place"),
        ("structured", "`structured::ntk` of that net, 16 points"),
        ("step", "`train::step` of that net, 16 points"),
    ];
    for (entry, what) in entries {
        if !wanted(entry) {
            continue;
        }
        let cells: Vec<String> = SIZES
            .iter()
            .map(|&n| show(need(entry, n, frame, &mut base), frame))
            .collect();
        println!("| {what} | {} |", cells.join(" | "));
    }
}

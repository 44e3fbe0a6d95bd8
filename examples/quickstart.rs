//! A small network's empirical NTK, next to what it means.
//!
//! `cargo run --release --example quickstart`
//!
//! Builds a 2-64-64-1 ReLU network in NTK parameterization, computes its
//! empirical NTK on six points of the unit circle by the structured method,
//! checks it against the plain Jacobian contraction, looks at its spectrum,
//! compares it with the infinite-width NTK of the same architecture, and asks
//! the kernel what gradient descent will do.
use ntk::analytic::Architecture;
use ntk::empirical::{jacobian, structured};
use ntk::linalg::{eigvalsh, EigenOptions};
use ntk::nn::{Dense, Relu};
use ntk::predict::{max_learning_rate, GradientDescentMse, Spectrum};
use ntk::{Error, Rng};

const N: usize = 6;
type Net = (
    Dense<f64, 2, 64>,
    Relu,
    Dense<f64, 64, 64>,
    Relu,
    Dense<f64, 64, 1>,
);

fn print_matrix(name: &str, m: &[[f64; N]; N]) {
    println!("{name}");
    for row in m {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:9.5}")).collect();
        println!("  {}", cells.join(" "));
    }
}

fn main() -> Result<(), Error> {
    let (sw, sb) = (1.5, 0.1);
    let mut rng = Rng::new(2024);
    let net: Net = (
        Dense::ntk(sw, sb, &mut rng),
        Relu,
        Dense::ntk(sw, sb, &mut rng),
        Relu,
        Dense::ntk(sw, sb, &mut rng),
    );
    let angles: [f64; N] = core::array::from_fn(|i| i as f64 * std::f64::consts::PI / N as f64);
    let xs: [[f64; 2]; N] = angles.map(|a| [a.cos(), a.sin()]);

    println!("2-64-64-1 ReLU network, NTK parameterization (σw = {sw}, σb = {sb}),");
    println!(
        "{N} inputs on the unit circle at angles 0, π/{N}, …, {}π/{N}\n",
        N - 1
    );

    // The empirical NTK by the factored per-layer method.
    let mut ws = [0.0; structured::workspace_len::<f64, Net>(N, 1)];
    let mut theta = [[0.0; N]; N];
    structured::ntk(&net, &xs, &mut ws, &mut theta)?;
    print_matrix("empirical NTK Θ(xᵢ, xⱼ), structured method:", &theta);

    // The same by contracting per-input Jacobians: O(parameters) per entry.
    let mut wj = vec![0.0; jacobian::workspace_len::<f64, [f64; 2], Net>(N)];
    let mut reference = [[0.0; N]; N];
    jacobian::ntk(&net, &xs, &mut wj, &mut reference)?;
    let scale = theta
        .as_flattened()
        .iter()
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    let diff = theta
        .as_flattened()
        .iter()
        .zip(reference.as_flattened())
        .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
    let symmetric = (0..N).all(|i| (0..N).all(|j| theta[i][j].to_bits() == theta[j][i].to_bits()));
    println!("\nbitwise symmetric: {symmetric}");
    println!(
        "structured vs Jacobian contraction ({} parameters): max difference {:.1e} of the largest entry",
        jacobian::workspace_len::<f64, [f64; 2], Net>(1) - jacobian::PAD,
        diff / scale
    );

    // Its spectrum: Θ is a Gram matrix, so positive semidefinite.
    let (mut lambda, mut work) = ([0.0; N], [[0.0; N]; N]);
    eigvalsh(&theta, EigenOptions::default(), &mut work, &mut lambda)?;
    let shown: Vec<String> = lambda.iter().map(|v| format!("{v:.4}")).collect();
    println!("eigenvalues: {}", shown.join(", "));
    println!(
        "  all ≥ 0 (positive semidefinite); the largest mode trains {:.0}× faster than the smallest",
        lambda[N - 1] / lambda[0]
    );

    // At infinite width the NTK is deterministic: the closed form.
    let arch: Architecture<f64> =
        "dense(1.5,0.1) relu dense(1.5,0.1) relu dense(1.5,0.1)".parse()?;
    let (mut nngp, mut ntk_inf) = ([[0.0; N]; N], [[0.0; N]; N]);
    arch.gram(&xs, &mut nngp, &mut ntk_inf)?;
    print_matrix(&format!("\ninfinite-width NTK of `{arch}`:"), &ntk_inf);
    let frob = |m: &[[f64; N]; N]| m.as_flattened().iter().map(|v| v * v).sum::<f64>().sqrt();
    let mut delta = theta;
    for (d, e) in delta
        .as_flattened_mut()
        .iter_mut()
        .zip(ntk_inf.as_flattened())
    {
        *d -= e;
    }
    println!(
        "width-64 empirical NTK differs from it by {:.1}% (Frobenius); the gap shrinks like 1/√width",
        100.0 * frob(&delta) / frob(&ntk_inf)
    );

    // What the kernel predicts for training on y = sin(3θ) by gradient flow.
    let y: [[f64; 1]; N] = angles.map(|a| [(3.0 * a).sin()]);
    let eta_max = max_learning_rate(&theta, 1, &mut work)?;
    println!(
        "\nlargest stable learning rate for gradient descent on these points: η < {eta_max:.3}"
    );
    let gd = GradientDescentMse::new(&y, 1.0)?;
    let mut spectrum = Spectrum::new();
    gd.spectrum(&theta, &mut spectrum)?;
    let x_test = [[(0.25_f64).cos(), (0.25_f64).sin()]];
    let mut k_test = [[0.0; N]; 1];
    structured::ntk_cross(
        &net,
        &x_test,
        &xs,
        &mut [0.0; structured::workspace_len::<f64, Net>(N + 1, 1)],
        &mut k_test,
    )?;
    println!(
        "predicted output at angle 0.25 (target sin(0.75) = {:.4}), network linearised, f₀ = 0:",
        (0.75_f64).sin()
    );
    for t in [0.0, 1.0, 10.0, 100.0, f64::INFINITY] {
        let mut f = [[0.0; 1]; 1];
        gd.test_outputs(&spectrum, &k_test, None, t, &mut f)?;
        println!("  t = {t:>5}: f = {:+.4}", f[0][0]);
    }
    Ok(())
}

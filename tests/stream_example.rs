//! The `stream_regression` example as a program: it refits kernel
//! regression after every time step and checks itself against the batch
//! routines (it panics on a mismatch), so a successful run is the check;
//! its printed errors show the fit improving as the sequences grow.

use std::process::Command;

#[test]
fn stream_regression_runs_and_checks_itself() {
    // Built in the profile of the tests, so that a release run reuses
    // release artifacts.
    let profile: &[&str] = if cfg!(debug_assertions) {
        &[]
    } else {
        &["--release"]
    };
    let out = Command::new(env!("CARGO"))
        .args(["run", "--quiet"])
        .args(profile)
        .args(["--example", "stream_regression"])
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // One line per step: the step, four predictions, the rms error.
    let rows: Vec<Vec<f64>> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().map(|v| v.parse().ok()).collect())
        .filter(|r: &Vec<f64>| !r.is_empty())
        .collect();
    assert_eq!(rows.len(), 12, "{stdout}");
    for (t, row) in rows.iter().enumerate() {
        assert_eq!(row.len(), 6, "{stdout}");
        assert_eq!(row[0], (t + 1) as f64);
    }
    let truth: Vec<f64> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("true"))
        .unwrap()
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    // The printed error is that of the printed predictions.
    for row in &rows {
        let rms = (row[1..5]
            .iter()
            .zip(&truth)
            .map(|(p, w)| (p - w) * (p - w))
            .sum::<f64>()
            / 4.0)
            .sqrt();
        assert!((rms - row[5]).abs() < 2e-3, "{stdout}");
    }
    // A kernel of one noisy sample cannot tell the frequencies apart; of
    // twelve it can.
    let (first, last) = (rows[0][5], rows[11][5]);
    assert!(first > 0.2 && last < 0.05, "{stdout}");
    assert!(
        stdout.contains("equal gram_recurrent bit for bit"),
        "{stdout}"
    );
}

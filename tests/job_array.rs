//! The job-array recipe end to end: the `kernel` example's blocks, run by
//! the local driver (`examples/job-array/local.sh`, the tasks a Slurm or
//! Kubernetes array runs) in uneven bands and stitched by the `assemble`
//! example, give the default output byte for byte; blocks that miss or
//! overlap entries, or that come from different files, are refused with
//! their exit status.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `kernel` and `assemble` examples, built in the profile of the tests
/// (a release build of the tests reuses release artifacts).
fn examples() -> (PathBuf, PathBuf) {
    let release = !cfg!(debug_assertions);
    let mut build = Command::new(env!("CARGO"));
    build.args([
        "build",
        "--quiet",
        "--example",
        "kernel",
        "--example",
        "assemble",
    ]);
    if release {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success());
    // target/<profile>/deps/<this test> → target/<profile>/examples.
    let exe = std::env::current_exe().unwrap();
    let target = exe.parent().unwrap().parent().unwrap().parent().unwrap();
    let dir = target
        .join(if release { "release" } else { "debug" })
        .join("examples");
    let bin = |name: &str| dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    (bin("kernel"), bin("assemble"))
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the program runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_local_driver_reproduces_the_default_output_byte_for_byte() {
    let (kernel, assemble) = examples();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/job-array/local.sh");
    // 3 × 2 bands of N = 8 (analytic) and 6 (structured): 0, 2, 5, 8 and
    // 0, 4, 8 for the first; each case's band cut to its own N.
    for (file, rows, cols, extra) in [
        ("analytic_public.txt", "3", "2", &[][..]),
        ("analytic_public.txt", "2", "3", &["--f32"][..]),
        ("structured_public.txt", "3", "2", &[][..]),
        ("rnn_public.txt", "4", "1", &[][..]),
    ] {
        let whole = run(Command::new(&kernel).arg(data(file)).args(extra));
        assert_eq!(whole.status.code(), Some(0), "{}", stderr(&whole));
        let blocks = run(Command::new("bash")
            .arg(&script)
            .arg(data(file))
            .args([rows, cols])
            .args(extra)
            .env("KERNEL", &kernel)
            .env("ASSEMBLE", &assemble));
        assert_eq!(blocks.status.code(), Some(0), "{file}: {}", stderr(&blocks));
        assert!(
            blocks.stdout == whole.stdout,
            "{file} {extra:?}: the assembled blocks differ from the whole run"
        );
    }
}

#[test]
fn blocks_that_do_not_partition_the_matrix_are_refused() {
    let (kernel, assemble) = examples();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("job_array");
    std::fs::create_dir_all(&dir).unwrap();
    let file = data("analytic_public.txt");
    let block = |name: &str, rows: &str, cols: &str| {
        let o = run(Command::new(&kernel)
            .arg(&file)
            .args(["--rows", rows, "--cols", cols]));
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let path = dir.join(name);
        std::fs::write(&path, &o.stdout).unwrap();
        path
    };
    let top = block("top.txt", "0..3", "0..8");
    let bottom = block("bottom.txt", "3..8", "0..8");
    let corner = block("corner.txt", "2..4", "7..8");
    let status = |files: &[&PathBuf]| run(Command::new(&assemble).args(files)).status.code();
    assert_eq!(status(&[&top, &bottom]), Some(0));
    assert_eq!(status(&[&top]), Some(3), "missing rows");
    assert_eq!(status(&[&top, &bottom, &corner]), Some(4), "overlapping");
    let other = dir.join("other.txt");
    let o = run(Command::new(&kernel)
        .arg(data("rnn_public.txt"))
        .args(["--rows", "0..2"]));
    std::fs::write(&other, &o.stdout).unwrap();
    assert_eq!(status(&[&top, &other]), Some(5), "another file");
    let cut = dir.join("cut.txt");
    let text = std::fs::read_to_string(&bottom).unwrap();
    std::fs::write(&cut, &text[..text.len() / 2]).unwrap();
    assert_eq!(status(&[&top, &cut]), Some(6), "a truncated block file");
    // Bad ranges are usage errors of the example.
    for bad in ["5..2", "1-3", "..4"] {
        let o = run(Command::new(&kernel).arg(&file).args(["--rows", bad]));
        assert_eq!(o.status.code(), Some(2), "--rows {bad}");
    }
}

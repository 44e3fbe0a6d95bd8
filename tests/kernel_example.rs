//! The `kernel` example as a program: exit status, error locations, the size
//! limit; and the library pieces it stands on (`text::locate`,
//! `Case::architecture`, `Case::dims_within`, `text::outside_cases`).

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use ntk::analytic::text::{self, Location};
use ntk::error::ParseErrorKind;

const PUBLIC: &str = include_str!("data/analytic_public.txt");

/// Writes `contents` to a fresh file under the target's temporary directory.
fn file(name: &str, contents: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernel_example");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Runs the example on `path` with `extra` arguments (built in the
/// profile of the tests, so that a release run reuses release artifacts).
fn kernel(path: &PathBuf, extra: &[&str]) -> Output {
    let profile: &[&str] = if cfg!(debug_assertions) {
        &[]
    } else {
        &["--release"]
    };
    Command::new(env!("CARGO"))
        .args(["run", "--quiet"])
        .args(profile)
        .args(["--example", "kernel", "--"])
        .arg(path)
        .args(extra)
        .output()
        .expect("cargo runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// `line L, column C` of the first occurrence of `token` on line `line`
/// (from 1) of `contents`, counting characters: written apart from the
/// library's `locate`.
fn where_is(contents: &str, line: usize, token: &str) -> String {
    let text = contents.split('\n').nth(line - 1).unwrap();
    let byte = text.find(token).unwrap();
    let column = text[..byte].chars().count() + 1;
    format!("line {line}, column {column}")
}

#[test]
fn every_computed_file_exits_zero_with_one_output_line_per_input_line() {
    let path = file("public.txt", PUBLIC);
    let o = kernel(&path, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.lines().count(), PUBLIC.lines().count());
    assert!(!out.lines().any(|l| l.starts_with("error")));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

/// The recurrent reference file, in f64 and f32: every case computed and
/// within the tolerance of its reference matrices.
#[test]
fn recurrent_cases_are_computed() {
    const RNN: &str = include_str!("data/rnn_public.txt");
    let path = file("rnn.txt", RNN);
    for (extra, tol) in [(&[][..], 1e-6), (&["--f32"][..], 1e-3)] {
        let o = kernel(&path, extra);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let out = stdout(&o);
        assert_eq!(out.lines().count(), RNN.lines().count());
        for (mine, theirs) in text::cases(&out).zip(text::cases(RNN)) {
            let (n, _) = theirs.dims().unwrap();
            for which in [text::Matrix::Nngp, text::Matrix::Ntk] {
                let (mut a, mut b) = (vec![0.0; n * n], vec![0.0; n * n]);
                assert!(mine.read_reference(which, &mut a).unwrap());
                assert!(theirs.read_reference(which, &mut b).unwrap());
                let e = common::rel_err(&a, &b);
                assert!(e <= tol, "{}: {e:e}", theirs.name());
            }
        }
    }
}

#[test]
fn empty_file_exits_nonzero() {
    let o = kernel(&file("empty.txt", ""), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).is_empty());
    assert!(stderr(&o).contains("no `case` line"), "{}", stderr(&o));
}

#[test]
fn file_without_case_line_exits_nonzero_and_names_the_stray_line() {
    let contents = "\n\ncse a\narch relu\ninputs 1 1\n1\nend\n";
    let o = kernel(&file("nocase.txt", contents), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("no `case` line"), "{err}");
    assert!(err.contains("`cse`"), "{err}");
    assert!(err.contains(&where_is(contents, 3, "cse")), "{err}");
}

#[test]
fn line_outside_every_case_exits_nonzero_and_the_cases_still_run() {
    let contents = "case a\narch relu\ninputs 1 1\n2\nend\n  stray words\ncase b\narch erf\ninputs 1 1\n1\nend\n";
    let o = kernel(&file("stray.txt", contents), &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("`stray`"), "{err}");
    assert!(err.contains(&where_is(contents, 6, "stray")), "{err}");
    let out = stdout(&o);
    let names: Vec<&str> = text::cases(&out).map(|c| c.name()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(!out.contains("error"), "{out}");
}

#[test]
fn one_failed_case_exits_nonzero_and_the_run_goes_on() {
    let contents = "case bad\narch relu\ninputs 1 2\nnan 1\nend\ncase good\narch dense(1,0) relu\ninputs 2 1\n1\n-1\nend\n";
    let o = kernel(&file("failed.txt", contents), &[]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("error ")).collect();
    assert_eq!(errors.len(), 1, "{out}");
    assert!(errors[0].contains("non-finite"), "{out}");
    // The good case carries its matrices: relu of (x·x'/1) with unit
    // weights gives the arc-cosine kernel K = x·x'/2 for these inputs.
    let good = text::cases(&out).find(|c| c.name() == "good").unwrap();
    let mut k = [0.0; 4];
    assert!(good.read_reference(text::Matrix::Nngp, &mut k).unwrap());
    assert_eq!(k, [0.5, 0.0, 0.0, 0.5]);
    let err = stderr(&o);
    assert!(err.contains("case bad (line 1)"), "{err}");
    assert!(!err.contains("case good"), "{err}");
}

#[test]
fn unknown_layer_names_line_column_and_token_of_the_file() {
    // The layer sits at byte 23 of its line and byte 11 of the arch text.
    let contents = "case unknown\narch dense(1,0) relu   rleu\ninputs 1 1\n1\nend\n";
    let line = contents.lines().nth(1).unwrap();
    assert_eq!(line.find("rleu"), Some(23));
    let o = kernel(&file("unknown.txt", contents), &[]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let error = out.lines().find(|l| l.starts_with("error ")).unwrap();
    assert!(error.contains("unknown layer `rleu`"), "{error}");
    assert!(error.contains("line 2, column 24"), "{error}");
    assert!(!error.contains("byte"), "{error}");
    assert!(stderr(&o).contains("line 2, column 24"), "{}", stderr(&o));
}

#[test]
fn malformed_cases_name_line_column_and_token() {
    // (file, line of the offending token, token)
    let cases = [
        ("case a\narch relu\ninputs 2 x\n1\n2\nend\n", 3, "x"),
        ("case a\narch relu\ninputs 1 1\n1x\nend\n", 4, "1x"),
        ("case a\narch relu\ninputs 1 2\n1 2 3\nend\n", 4, "1 2 3"),
        ("case a\narch relu\ninputs 1 1\n1\nbogus\nend\n", 5, "bogus"),
        ("case a\nrelu\ninputs 1 1\n1\nend\n", 2, "relu"),
        ("case a\narch dense(1,-2)\ninputs 1 1\n1\nend\n", 2, "-2"),
        (
            "case é\narch dense(1,0)  ,relu\ninputs 1 1\n1\nend\n",
            2,
            ",relu",
        ),
    ];
    for (i, (contents, line, token)) in cases.into_iter().enumerate() {
        let o = kernel(&file(&format!("malformed{i}.txt"), contents), &[]);
        assert_eq!(o.status.code(), Some(1), "{contents}");
        let out = stdout(&o);
        let error = out.lines().find(|l| l.starts_with("error ")).unwrap();
        assert!(error.contains(&format!("`{token}`")), "{contents}: {error}");
        assert!(
            error.contains(&where_is(contents, line, token)),
            "{contents}: {error}"
        );
    }
}

#[test]
fn truncated_case_names_where_the_missing_line_belongs() {
    let contents = "case a\narch relu\ninputs 2 1\n1\n";
    let o = kernel(&file("truncated.txt", contents), &[]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let error = out.lines().find(|l| l.starts_with("error ")).unwrap();
    // The text ends after line 4: the missing row would start line 5.
    assert!(error.contains("missing"), "{error}");
    assert!(error.contains("line 5, column 1"), "{error}");
}

/// A case of `n` inputs of dimension 1.
fn case_of(n: usize) -> String {
    let mut s = format!("case big\narch relu\ninputs {n} 1\n");
    for i in 0..n {
        s.push_str(&format!("{}\n", i % 7));
    }
    s.push_str("end\n");
    s
}

#[test]
fn huge_n_is_refused_before_allocating() {
    // 40 KB declaring N = 20 000: two N×N f64 matrices would take 6.4 GB.
    let contents = case_of(20_000);
    assert!(contents.len() < 50_000);
    let o = kernel(&file("huge.txt", &contents), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    let error = out.lines().find(|l| l.starts_with("error ")).unwrap();
    assert!(error.contains("`20000`"), "{error}");
    assert!(error.contains(&where_is(&contents, 3, "20000")), "{error}");
    assert!(
        error.contains("4096") && error.contains("--max-n"),
        "{error}"
    );
    assert_eq!(text::cases(&out).count(), 1);
    // The default limit itself.
    let o = kernel(&file("limit.txt", &case_of(4097)), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("`4097`"));
}

#[test]
fn max_n_flag_moves_the_limit() {
    let path = file("three.txt", &case_of(3));
    for (args, code) in [
        (&["--max-n", "2"][..], 1),
        (&["--max-n", "3"][..], 0),
        (&["--max-n=2"][..], 1),
        (&["--max-n=3", "--f32"][..], 0),
        (&["--max-n", "x"][..], 2),
        (&["--max-n"][..], 2),
        (&["--bogus"][..], 2),
    ] {
        let o = kernel(&path, args);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn unreadable_file_exits_nonzero() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernel_example/does-not-exist");
    let o = kernel(&path, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cannot read"));
}

// The library pieces.

#[test]
fn architecture_errors_are_offsets_in_the_file() {
    let file = "case a\narch  dense(1,0) relu   rleu\ninputs 1 1\n1\nend\n";
    let case = text::cases(file).next().unwrap();
    let e = case.architecture::<f64, 8>().unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::UnknownLayer);
    assert_eq!(e.position, file.find("rleu").unwrap());
    // An empty architecture is named where it should be.
    let file = "case a\narch \ninputs 1 1\n1\nend\n";
    let case = text::cases(file).next().unwrap();
    let e = case.architecture::<f64, 8>().unwrap_err();
    assert_eq!((e.kind, e.position), (ParseErrorKind::Empty, 12));
    assert_eq!(e.to_string(), "empty input at byte 12");
}

#[test]
fn dims_within_refuses_only_above_the_limit() {
    let contents = case_of(5);
    let case = text::cases(&contents).next().unwrap();
    assert_eq!(case.dims_within(5).unwrap(), (5, 1));
    assert_eq!(case.dims_within(usize::MAX).unwrap(), (5, 1));
    let e = case.dims_within(4).unwrap_err();
    assert_eq!((e.kind, e.token()), (ParseErrorKind::OutOfRange, "5"));
    assert_eq!(&contents[e.position..e.position + 1], "5");
    // A malformed case keeps its own error.
    let broken = "case a\narch relu\ninputs 5 1\n1\n";
    let e = text::cases(broken)
        .next()
        .unwrap()
        .dims_within(1)
        .unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::Missing);
}

#[test]
fn outside_cases_lists_exactly_the_stray_lines() {
    let file = "x\ncase a\nend\n\n  y z\ncase b\ncase c\narch relu\nend\nend\n";
    let got: Vec<(String, usize)> = text::outside_cases(file)
        .map(|e| (e.token().to_string(), e.position))
        .collect();
    // `case b` runs until `case c` starts; the last `end` closes nothing.
    let want = vec![
        ("x".to_string(), 0),
        ("y".to_string(), file.find("y z").unwrap()),
        ("end".to_string(), file.len() - 4),
    ];
    assert_eq!(got, want);
    assert_eq!(text::outside_cases(PUBLIC).count(), 0);
}

mod locate {
    use super::*;
    use proptest::prelude::*;

    /// Line and column by characters: the characters before `offset`.
    fn oracle(text: &str, offset: usize) -> Location {
        let before: Vec<char> = text[..offset].chars().collect();
        let line = 1 + before.iter().filter(|&&c| c == '\n').count();
        let column = 1 + before.iter().rev().take_while(|&&c| c != '\n').count();
        Location { line, column }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::common::cases(256)))]

        #[test]
        fn agrees_with_counting_characters(text in "(\\PC|\n){0,40}") {
            for (offset, _) in text.char_indices().chain([(text.len(), ' ')]) {
                prop_assert_eq!(text::locate(&text, offset), Some(oracle(&text, offset)));
            }
            prop_assert_eq!(text::locate(&text, text.len() + 1), None);
        }
    }
}

/// A sequence case of format version 2: the example keeps its `inputs N L C`
/// line and computes it, matching the library's `gram_spatial`.
#[test]
fn answers_a_sequence_case() {
    let case = "case s\narch conv(3,1.5,0.1) relu avg_pool(2) flatten dense(1,0)\ninputs 2 4 1\n1 0 2 -1\n0.5 0.5 0 1\nend\n";
    let out = kernel(&file("sequence.txt", case), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("case s\narch conv(3,1.5,0.1) relu avg_pool(2) flatten dense(1,0)\ninputs 2 4 1\n1 0 2 -1\n0.5 0.5 0 1\nnngp\n"));
    let written = text::cases(&text).next().unwrap();
    let mut k = [0.0; 4];
    assert!(written.read_reference(text::Matrix::Nngp, &mut k).unwrap());
    let a: ntk::analytic::Architecture<f64> = written.arch().unwrap().parse().unwrap();
    let shape = written.shape().unwrap();
    let x = [1.0, 0.0, 2.0, -1.0, 0.5, 0.5, 0.0, 1.0];
    let mut ws = vec![0.0; a.workspace_len(shape).unwrap()];
    let (mut kk, mut tt) = ([0.0; 4], [0.0; 4]);
    a.gram_spatial(&x, shape, &mut ws, &mut kk, &mut tt)
        .unwrap();
    assert_eq!(k, kk);
}

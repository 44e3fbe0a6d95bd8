//! The reference-file format: reading cases and writing results, as the
//! `kernel` example does.

use crate::common::max_abs;
use ntk::analytic::text::{self, Matrix};
use ntk::error::ParseErrorKind;
use ntk::{Error, Real};

const PUBLIC: &str = include_str!("../data/analytic_public.txt");

/// Runs every case of `file` through `text::evaluate`, as the example does.
fn evaluate_all<T: Real>(file: &str) -> String {
    let mut out = String::new();
    for case in text::cases(file) {
        let (n, d) = case.dims().unwrap_or((0, 0));
        let mut x = vec![T::ZERO; n * d];
        let mut k = vec![T::ZERO; n * n];
        let mut t = vec![T::ZERO; n * n];
        text::evaluate::<T, 256, _>(&case, &mut x, &mut k, &mut t, &mut out).unwrap();
    }
    out
}

/// Compares the matrices of `output` with those of `reference`, case by case.
fn compare(output: &str, reference: &str, tol: f64) {
    let mut ours = text::cases(output);
    let mut count = 0;
    for want in text::cases(reference) {
        let got = ours.next().expect("a case is missing from the output");
        assert_eq!(got.name(), want.name());
        assert_eq!(got.arch(), want.arch());
        let (n, d) = want.dims().unwrap();
        assert_eq!(got.dims().unwrap(), (n, d));
        let (mut xa, mut xb) = (vec![0.0; n * d], vec![0.0; n * d]);
        got.read_inputs(&mut xa).unwrap();
        want.read_inputs(&mut xb).unwrap();
        assert_eq!(xa, xb, "{}: inputs are echoed", want.name());
        for which in [Matrix::Nngp, Matrix::Ntk] {
            let (mut a, mut b) = (vec![0.0; n * n], vec![0.0; n * n]);
            assert!(got.read_reference(which, &mut a).unwrap());
            assert!(want.read_reference(which, &mut b).unwrap());
            let diff: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
            let err = max_abs(&diff) / max_abs(&b);
            assert!(
                err <= tol,
                "{} {which:?}: relative error {err:e}",
                want.name()
            );
        }
        count += 1;
    }
    assert!(ours.next().is_none());
    assert_eq!(count, 40);
}

#[test]
fn example_output_matches_reference_f64() {
    compare(&evaluate_all::<f64>(PUBLIC), PUBLIC, 1e-6);
}

#[test]
fn example_output_matches_reference_f32() {
    compare(&evaluate_all::<f32>(PUBLIC), PUBLIC, 1e-3);
}

#[test]
fn output_numbers_use_the_contract_format() {
    let out = evaluate_all::<f64>(PUBLIC);
    let mut lines = out.lines().skip_while(|l| *l != "nngp").skip(1);
    let first = lines.next().unwrap().split(' ').next().unwrap();
    assert_eq!(first, format!("{:.17e}", first.parse::<f64>().unwrap()));
}

const BROKEN: &str = "\
case unknown
arch dense(1,0) rleu
inputs 1 1
1
end
case nonfinite
arch relu
inputs 1 2
nan 1
end
case overflow
arch dense(1e200,0) relu dense(1e200,0)
inputs 1 1
1e200
end
case good
arch dense(1,0) relu
inputs 2 1
1
-1
end
case short
arch relu
inputs 3 1
1
end
case last
arch erf
inputs 1 1
0.5
end
";

#[test]
fn failing_cases_print_an_error_and_the_run_goes_on() {
    let out = evaluate_all::<f64>(BROKEN);
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("error ")).collect();
    assert_eq!(errors.len(), 4, "{out}");
    assert!(errors[0].contains("unknown layer `rleu`"));
    assert!(errors[1].contains("non-finite"));
    assert!(errors[2].contains("overflow"));
    assert!(errors[3].contains("unexpected"));
    let names: Vec<&str> = text::cases(&out).map(|c| c.name()).collect();
    assert_eq!(
        names,
        ["unknown", "nonfinite", "overflow", "good", "short", "last"]
    );
    // The good cases carry their matrices.
    let good = text::cases(&out).find(|c| c.name() == "good").unwrap();
    let mut k = [0.0; 4];
    assert!(good.read_reference(Matrix::Nngp, &mut k).unwrap());
    assert_eq!(k, [0.5, 0.0, 0.0, 0.5]);
    let last = text::cases(&out).find(|c| c.name() == "last").unwrap();
    assert!(last.has(Matrix::Ntk));
}

#[test]
fn malformed_cases_name_the_line() {
    let text = "case a\narch relu\ninputs 2 x\n";
    let c = text::cases(text).next().unwrap();
    let e = c.dims().unwrap_err();
    assert_eq!(
        (e.kind, e.token(), e.position),
        (ParseErrorKind::BadNumber, "x", 26)
    );

    let text = "case a\nrelu\n";
    let e = text::cases(text).next().unwrap().dims().unwrap_err();
    assert_eq!(
        (e.kind, e.token(), e.position),
        (ParseErrorKind::Unexpected, "relu", 7)
    );

    let text = "case a\narch relu\ninputs 1 2\n1 2 3\nend\n";
    let e = text::cases(text).next().unwrap().dims().unwrap_err();
    assert_eq!(
        (e.kind, e.token(), e.position),
        (ParseErrorKind::Unexpected, "1 2 3", 28)
    );

    let text = "case a\narch relu\ninputs 1 1\n1\nnngp\n1\nbogus\nend\n";
    let e = text::cases(text).next().unwrap().dims().unwrap_err();
    assert_eq!((e.kind, e.token()), (ParseErrorKind::Unexpected, "bogus"));

    let text = "case a\narch relu\ninputs 1 1\n1\n";
    let e = text::cases(text).next().unwrap().dims().unwrap_err();
    assert_eq!(
        (e.kind, e.token(), e.position),
        (ParseErrorKind::Missing, "", text.len())
    );

    let text = "case a\narch relu\ninputs 1 1\n1x\nend\n";
    let c = text::cases(text).next().unwrap();
    let mut x = [0.0_f64; 1];
    match c.read_inputs(&mut x) {
        Err(Error::Parse(e)) => assert_eq!(
            (e.kind, e.token(), e.position),
            (ParseErrorKind::BadNumber, "1x", 28)
        ),
        other => panic!("{other:?}"),
    }
    let mut small = [0.0_f64; 0];
    assert!(matches!(
        c.read_inputs(&mut small),
        Err(Error::BufferTooSmall {
            needed: 1,
            given: 0
        })
    ));
}

#[test]
fn blank_lines_and_crlf_are_accepted() {
    let text = "\r\ncase a\r\narch dense(1,0) relu\r\n\r\ninputs 1 1\r\n2\r\nend\r\n\r\n";
    let c = text::cases(text).next().unwrap();
    assert_eq!(c.arch(), Some("dense(1,0) relu"));
    assert_eq!(c.dims().unwrap(), (1, 1));
    let mut x = [0.0_f64];
    c.read_inputs(&mut x).unwrap();
    assert_eq!(x, [2.0]);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("case x".to_string()),
            Just("arch dense(1,0) relu".to_string()),
            Just("inputs 2 1".to_string()),
            Just("inputs 1 2".to_string()),
            Just("nngp".to_string()),
            Just("ntk".to_string()),
            Just("end".to_string()),
            Just(String::new()),
            "[-0-9.e ]{0,12}",
            "\\PC{0,12}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::common::cases(256)))]

        #[test]
        fn reading_and_evaluating_never_panics(lines in prop::collection::vec(line(), 0..16)) {
            let text = lines.join("\n");
            let out = evaluate_all::<f64>(&text);
            // Every case read is written back, with its matrices or an error.
            prop_assert_eq!(text::cases(&text).count(), out.lines().filter(|l| *l == "end").count());
            for case in text::cases(&text) {
                let mut buf = [0.0_f32; 4];
                let _ = case.read_inputs(&mut buf);
                let _ = case.read_reference(Matrix::Ntk, &mut buf);
            }
        }
    }
}

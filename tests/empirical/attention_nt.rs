//! The crate's finite attention networks against neural-tangents' own
//! (`tests/data/attention_finite.txt`, written by `attention_finite.py`
//! next to it): the same weights give the same outputs and the same
//! empirical NTK, to 1e-10.

use crate::common::rel_err;
use ntk::empirical::{jacobian, structured};
use ntk::nn::{
    AttentionMechanism, Flatten, LayerNorm, Module, Params, Residual, SelfAttention, Unflatten,
    Zeroed,
};

const N: usize = 3;
const D: usize = 12;

struct Case {
    name: String,
    mechanism: AttentionMechanism,
    residual_layernorm: bool,
    stds: Vec<f64>,
    key: Vec<f64>,
    value: Vec<f64>,
    out: Vec<f64>,
    inputs: Vec<Vec<f64>>,
    outputs: Vec<Vec<f64>>,
    ntk: Vec<Vec<f64>>,
}

fn numbers(line: &str) -> Vec<f64> {
    line.split_whitespace()
        .map(|t| t.parse().expect("a number"))
        .collect()
}

fn read_cases() -> Vec<Case> {
    let text = include_str!("../data/attention_finite.txt");
    let mut cases = Vec::new();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    while let Some(head) = lines.next() {
        let name = head.strip_prefix("case ").expect("case line").to_string();
        let mut field = |key: &str| {
            let l = lines.next().expect("a line");
            l.strip_prefix(key).expect(key).trim().to_string()
        };
        let mechanism = match field("mechanism").as_str() {
            "softmax" => AttentionMechanism::Softmax,
            "identity" => AttentionMechanism::Identity,
            m => panic!("mechanism {m}"),
        };
        let residual_layernorm = field("residual_layernorm") == "1";
        let stds = numbers(&field("stds"));
        let key = numbers(&field("key"));
        let value = numbers(&field("value"));
        let out = numbers(&field("out"));
        let mut block = |key: &str| -> Vec<Vec<f64>> {
            assert_eq!(lines.next(), Some(key));
            (0..N)
                .map(|_| numbers(lines.next().expect("row")))
                .collect()
        };
        let inputs = block("inputs");
        let outputs = block("outputs");
        let ntk = block("ntk");
        assert_eq!(lines.next(), Some("end"));
        cases.push(Case {
            name,
            mechanism,
            residual_layernorm,
            stds,
            key,
            value,
            out,
            inputs,
            outputs,
            ntk,
        });
    }
    cases
}

fn set<const C_OUT: usize>(a: &mut SelfAttention<f64, 3, C_OUT, 4, 3, 2, 2>, c: &Case) {
    a.set_attention_scales(c.stds[0], c.stds[1], c.stds[2], c.stds[3]);
    a.mechanism = c.mechanism;
    let flat: Vec<f64> = [&c.key[..], &c.value[..], &c.out[..]].concat();
    a.read_flat(&flat).unwrap();
}

/// Checks the outputs and the kernel (structured and Jacobian) of `net`
/// against the case.
fn check<Net, const K: usize>(net: &Net, c: &Case)
where
    Net: Module<f64, [f64; D], Output = [f64; K]> + Params<f64>,
{
    let xs: [[f64; D]; N] = core::array::from_fn(|i| c.inputs[i].clone().try_into().unwrap());
    for (x, want) in xs.iter().zip(&c.outputs) {
        let y = net.eval(x);
        let e = rel_err(&y, want);
        assert!(e <= 1e-10, "{}: outputs off by {e}", c.name);
    }
    let want: Vec<f64> = c.ntk.concat();
    let mut s = [[0.0; N]; N];
    let mut ws = vec![0.0; structured::workspace_len::<f64, Net>(N, K)];
    structured::ntk(net, &xs, &mut ws, &mut s).unwrap();
    let e = rel_err(s.as_flattened(), &want);
    assert!(e <= 1e-10, "{}: structured NTK off by {e}", c.name);
    let mut j = [[0.0; N]; N];
    let mut wj = vec![0.0; jacobian::workspace_len::<f64, [f64; D], Net>(N)];
    jacobian::ntk(net, &xs, &mut wj, &mut j).unwrap();
    let e = rel_err(j.as_flattened(), &want);
    assert!(e <= 1e-10, "{}: Jacobian NTK off by {e}", c.name);
}

#[test]
fn attention_networks_reproduce_neural_tangents() {
    let cases = read_cases();
    assert_eq!(cases.len(), 3);
    for c in &cases {
        if c.residual_layernorm {
            type Net = (
                Unflatten<3, 4>,
                Residual<SelfAttention<f64, 3, 3, 4, 3, 2, 2>>,
                LayerNorm,
                Flatten<12>,
            );
            let mut net = Net::ZEROED;
            set(&mut net.1 .0, c);
            check(&net, c);
        } else {
            type Net = (
                Unflatten<3, 4>,
                SelfAttention<f64, 3, 2, 4, 3, 2, 2>,
                Flatten<8>,
            );
            let mut net = Net::ZEROED;
            set(&mut net.1, c);
            check(&net, c);
        }
    }
}

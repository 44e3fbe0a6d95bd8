//! Random architectures of format version 2 (`reference/FORMAT.md`) for the
//! structured arm of the `analytic` target: self-attention (`attn`,
//! `attn_id`), `layernorm` and residual blocks `[ … ]` (nested up to three
//! deep) among dense layers, convolutions, pooling and activations, on small
//! sequences, images or flat inputs, written as text.
//!
//! Every architecture is valid by construction: the generator tracks the
//! Gaussianity flag of the format's validity rules and puts a `dense(1,0)`
//! in front of an activation, a `layernorm` or a residual block whose input
//! is not Gaussian, and before the `]` of a body that does not end
//! Gaussian (or is empty); spatial layers appear only on spatial data,
//! pooling only outside residual blocks and where the window divides the
//! grid, and spatial inputs end in `gap` or `flatten` and a dense readout.
//! Numbers are well scaled: weights in [0.25, 2], biases in [0, 1], inputs
//! v/16 for v ∈ [−128, 127], and no `attn_id` (whose output grows as the
//! cube of its input) after another unless a `layernorm` came between.

use arbitrary::Arbitrary;
use ntk::analytic::Shape;

/// Most inputs of an architecture.
pub const MAX_INPUTS: usize = 3;

/// Numbers of the largest input: a sequence of 6 positions × 3 channels.
pub const MAX_LEN: usize = 18;

/// Most body steps.
const MAX_STEPS: usize = 8;

/// A weight, `0.25·(w mod 8 + 1)`.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Weight(pub u8);

impl Weight {
    /// The value, in [0.25, 2].
    pub fn get(self) -> f64 {
        0.25 * f64::from(self.0 % 8 + 1)
    }
}

/// A bias, one of 0 (three times in eight), 0.125, 0.25, 0.5, 0.75, 1.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct Bias(pub u8);

impl Bias {
    /// The value, in [0, 1].
    pub fn get(self) -> f64 {
        [0.0, 0.125, 0.0, 0.25, 0.5, 0.0, 0.75, 1.0][usize::from(self.0 % 8)]
    }
}

/// An activation of the format that the oracle covers.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Act {
    /// `relu`.
    Relu,
    /// `leaky_relu(A)`, A = (a mod 4)/8.
    LeakyRelu(u8),
    /// `abs`.
    Abs,
    /// `erf`.
    Erf,
    /// `sin`.
    Sin,
    /// `identity`.
    Identity,
}

impl Act {
    fn text(self) -> String {
        match self {
            Act::Relu => "relu".into(),
            Act::LeakyRelu(a) => format!("leaky_relu({})", f64::from(a % 4) / 8.0),
            Act::Abs => "abs".into(),
            Act::Erf => "erf".into(),
            Act::Sin => "sin".into(),
            Act::Identity => "identity".into(),
        }
    }
}

/// One step of the body.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Step {
    /// `dense(W,B)`.
    Dense(Weight, Bias),
    /// `conv(Q,W,B)` (`conv_circ` if the flag is set), Q = 2·(q mod 3) + 1;
    /// a dense layer on flat data.
    Conv(u8, Weight, Bias, bool),
    /// An activation.
    Act(Act),
    /// `layernorm`.
    LayerNorm,
    /// `attn(WQ,WK,WV,WO)`, or `attn_id` if the flag is clear (`attn` for
    /// a second `attn_id` without a `layernorm` between); a dense layer on
    /// flat data.
    Attn(Weight, Weight, Weight, Weight, bool),
    /// `avg_pool(P)`, P = p mod 3 + 1, where it fits.
    AvgPool(u8),
    /// `[`.
    Open,
    /// `]`.
    Close,
}

/// Inputs of the structured arm.
#[derive(Arbitrary, Debug, Clone)]
pub struct StructuredInput {
    /// Up to 8 steps.
    pub body: Vec<Step>,
    /// 0: a sequence (length `cols` mod 6 + 1, `channels` mod 3 + 1
    /// channels); 1: an image (`rows` mod 3 + 1 × `cols` mod 3 + 1,
    /// `channels` mod 2 + 1 channels); 2: flat (`channels` mod 4 + 1
    /// features). Taken mod 3.
    pub kind: u8,
    /// Rows of an image.
    pub rows: u8,
    /// Columns of an image, length of a sequence.
    pub cols: u8,
    /// Channels, or features of flat inputs.
    pub channels: u8,
    /// `count` mod 3 + 1 inputs.
    pub count: u8,
    /// Read spatial data out by `flatten` rather than `gap`.
    pub flatten: bool,
    /// The readout's dense layer.
    pub readout: (Weight, Bias),
    /// An activation and a dense layer after the readout.
    pub head: Option<(Act, Weight, Bias)>,
    /// The inputs: `v/16` for the first N·(numbers per input).
    pub x: [i8; MAX_INPUTS * MAX_LEN],
}

/// An architecture and inputs built from a [`StructuredInput`].
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The architecture in the format's text form.
    pub text: String,
    /// The shape of each input.
    pub shape: Shape,
    /// Number of inputs N.
    pub n: usize,
    /// The N inputs, row-major.
    pub x: Vec<f64>,
}

/// The generator's state while it writes the tokens.
struct Writer {
    tokens: Vec<String>,
    gaussian: bool,
    /// Steps written in each open block.
    blocks: Vec<usize>,
    /// `attn_id` layers since the last `layernorm`.
    raw_attention: usize,
}

impl Writer {
    fn push(&mut self, token: String, gaussian: bool) {
        self.tokens.push(token);
        self.gaussian = gaussian;
        if let Some(n) = self.blocks.last_mut() {
            *n += 1;
        }
    }

    /// A `dense(1,0)` unless the stream is Gaussian.
    fn gaussian_input(&mut self) {
        if !self.gaussian {
            self.push("dense(1,0)".into(), true);
        }
    }

    fn close(&mut self) {
        if !self.gaussian || self.blocks.last() == Some(&0) {
            self.push("dense(1,0)".into(), true);
        }
        self.blocks.pop();
        self.push("]".into(), true);
    }
}

impl StructuredInput {
    /// The shape of each input.
    pub fn shape(&self) -> Shape {
        match self.kind % 3 {
            0 => Shape::Sequence {
                length: usize::from(self.cols % 6) + 1,
                channels: usize::from(self.channels % 3) + 1,
            },
            1 => Shape::Image {
                height: usize::from(self.rows % 3) + 1,
                width: usize::from(self.cols % 3) + 1,
                channels: usize::from(self.channels % 2) + 1,
            },
            _ => Shape::Flat {
                dim: usize::from(self.channels % 4) + 1,
            },
        }
    }

    /// The architecture (valid by the format's rules, at most 30 tokens)
    /// and the inputs.
    pub fn build(&self) -> Case {
        let shape = self.shape();
        let (mut rows, mut cols, planar) = match shape {
            Shape::Sequence { length, .. } => (1, length, false),
            Shape::Image { height, width, .. } => (height, width, true),
            _ => (1, 1, false),
        };
        let spatial = !matches!(shape, Shape::Flat { .. });
        let mut w = Writer {
            tokens: Vec::new(),
            gaussian: false,
            blocks: Vec::new(),
            raw_attention: 0,
        };
        for step in self.body.iter().take(MAX_STEPS) {
            match *step {
                Step::Dense(a, b) => w.push(format!("dense({},{})", a.get(), b.get()), true),
                Step::Conv(q, a, b, circular) if spatial => {
                    let name = if circular { "conv_circ" } else { "conv" };
                    let q = 2 * (q % 3) + 1;
                    w.push(format!("{name}({q},{},{})", a.get(), b.get()), true);
                }
                Step::Conv(_, a, b, _) => w.push(format!("dense({},{})", a.get(), b.get()), true),
                Step::Act(act) => {
                    w.gaussian_input();
                    w.push(act.text(), matches!(act, Act::Identity));
                }
                Step::LayerNorm => {
                    w.gaussian_input();
                    w.push("layernorm".into(), true);
                    w.raw_attention = 0;
                }
                Step::Attn(q, k, v, o, softmax) if spatial => {
                    let raw = !softmax && w.raw_attention == 0;
                    w.raw_attention += usize::from(raw);
                    let name = if raw { "attn_id" } else { "attn" };
                    let (q, k, v, o) = (q.get(), k.get(), v.get(), o.get());
                    w.push(format!("{name}({q},{k},{v},{o})"), true);
                }
                Step::Attn(_, _, v, o, _) => {
                    w.push(format!("dense({},{})", v.get(), o.get() / 2.0), true)
                }
                Step::AvgPool(p) => {
                    let p = usize::from(p % 3) + 1;
                    let fits = cols % p == 0 && (!planar || rows % p == 0);
                    if spatial && w.blocks.is_empty() && fits {
                        let gaussian = w.gaussian;
                        w.push(format!("avg_pool({p})"), gaussian);
                        cols /= p;
                        if planar {
                            rows /= p;
                        }
                    }
                }
                Step::Open if w.blocks.len() < 3 => {
                    w.gaussian_input();
                    w.push("[".into(), true);
                    w.blocks.push(0);
                }
                Step::Open => {}
                Step::Close => {
                    if !w.blocks.is_empty() {
                        w.close();
                    }
                }
            }
        }
        while !w.blocks.is_empty() {
            w.close();
        }
        if spatial {
            let readout = if self.flatten { "flatten" } else { "gap" };
            let gaussian = w.gaussian && !self.flatten;
            w.push(readout.into(), gaussian);
        }
        let (a, b) = self.readout;
        w.push(format!("dense({},{})", a.get(), b.get()), true);
        if let Some((act, a, b)) = self.head {
            w.push(act.text(), false);
            w.push(format!("dense({},{})", a.get(), b.get()), true);
        }
        let n = usize::from(self.count % 3) + 1;
        let x = self.x[..n * shape.len()]
            .iter()
            .map(|&v| f64::from(v) / 16.0)
            .collect();
        Case {
            text: w.tokens.join(" "),
            shape,
            n,
            x,
        }
    }
}

//! The reference-kernel text format: reading cases, writing results.
//!
//! A file holds cases of this form (numbers separated by whitespace):
//!
//! ```text
//! case NAME
//! arch LAYER LAYER ...
//! inputs N D           (version 2 also: inputs N L C  or  inputs N H W C)
//! N lines of D numbers  (or of L·C, H·W·C numbers, channels innermost)
//! nngp                  (optional)
//! N lines of N numbers
//! ntk                   (optional)
//! N lines of N numbers
//! end
//! ```
//!
//! [`cases`] splits a text into [`Case`]s without allocating; a case reads
//! its inputs and reference matrices into caller buffers, and [`evaluate`]
//! writes a case back with the matrices computed by this crate (what the
//! `kernel` example prints; [`evaluate_with`] also computes the sequence
//! and image cases, with a workspace; [`evaluate_block_with`] writes one
//! block of the matrices, rows `a..b` × columns `c..d`, for a job array). [`outside_cases`] lists the lines that belong to
//! no case, [`Case::dims_within`] checks N against a reader's limit before
//! it allocates, and errors carry byte offsets in the text, which
//! [`locate`] turns into a line and column ([`describe`] shows an error
//! that way).
//!
//! # Examples
//!
//! ```
//! use ntk::analytic::text;
//! let file = "case a\narch dense(1,0) relu\ninputs 2 1\n1.0\n-2.0\nend\n";
//! let case = text::cases(file).next().unwrap();
//! assert_eq!(case.name(), "a");
//! assert_eq!(case.dims()?, (2, 1));
//! let (mut x, mut k, mut t) = ([0.0; 2], [0.0; 4], [0.0; 4]);
//! let mut out = String::new();
//! text::evaluate::<f64, 8, _>(&case, &mut x, &mut k, &mut t, &mut out).unwrap();
//! assert!(out.starts_with("case a\narch dense(1,0) relu\ninputs 2 1\n1.0\n-2.0\nnngp\n5.00000000000000000e-1 0.00000000000000000e0\n"));
//! assert!(out.ends_with("end\n"));
//! # Ok::<(), ntk::Error>(())
//! ```

pub use super::case::{cases, outside_cases, Case, Cases, Matrix};
pub use super::report::{describe, evaluate, evaluate_with, locate, Described, Location, Outcome};
pub use super::report_block::evaluate_block_with;

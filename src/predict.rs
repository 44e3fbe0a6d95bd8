//! Kernel regression and training dynamics.

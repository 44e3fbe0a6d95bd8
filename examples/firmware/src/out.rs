//! Text output to the host over semihosting, without `core::fmt`.
//!
//! `core::fmt`'s float formatting alone costs several KiB of flash; the few
//! shapes of output the firmware needs (text, unsigned integers, `f32` in
//! scientific notation with 7 significant digits) are written by hand here.
//! A line is collected in a buffer and sent with one semihosting call.

use cortex_m_semihosting::hio::{self, HostStream};

/// Bytes collected before a write to the host.
const LINE: usize = 128;

/// A line-buffered writer to the host's standard output.
pub struct Out {
    stream: Option<HostStream>,
    buf: [u8; LINE],
    len: usize,
}

impl Default for Out {
    fn default() -> Self {
        Self::new()
    }
}

impl Out {
    /// A writer to the host's standard output (output is dropped if the host
    /// offers none).
    pub fn new() -> Self {
        Self {
            stream: hio::hstdout().ok(),
            buf: [0; LINE],
            len: 0,
        }
    }

    /// Appends bytes, flushing whenever the buffer fills.
    fn bytes(&mut self, s: &[u8]) -> &mut Self {
        for &b in s {
            if self.len == LINE {
                self.flush();
            }
            self.buf[self.len] = b;
            self.len += 1;
        }
        self
    }

    /// Sends the buffered bytes to the host.
    pub fn flush(&mut self) {
        if let Some(stream) = self.stream.as_mut() {
            // A host that stops reading cannot be helped from here.
            let _ = stream.write_all(&self.buf[..self.len]);
        }
        self.len = 0;
    }

    /// Appends text.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Ends the line and sends it.
    pub fn nl(&mut self) {
        self.bytes(b"\n");
        self.flush();
    }

    /// Appends an unsigned integer in decimal.
    pub fn uint(&mut self, mut n: u32) -> &mut Self {
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.bytes(&digits[i..])
    }

    /// Appends `x` in scientific notation with 7 significant digits
    /// (`-1.234567e-3`), the precision of `f32`. The last digit may be off by
    /// one: the decimal scaling is done in `f32`.
    pub fn real(&mut self, x: f32) -> &mut Self {
        if x.is_nan() {
            return self.str("NaN");
        }
        if x.is_sign_negative() {
            self.str("-");
        }
        let mut m = x.abs();
        if m.is_infinite() {
            return self.str("inf");
        }
        if m == 0.0 {
            return self.str("0.000000e0");
        }
        // m = mantissa · 10^e with mantissa in [1, 10).
        let mut e: i32 = 0;
        while m >= 10.0 {
            m /= 10.0;
            e += 1;
        }
        while m < 1.0 {
            m *= 10.0;
            e -= 1;
        }
        // Seven digits as an integer: below 2²⁴, so exact in f32.
        let mut digits = (m * 1e6 + 0.5) as u32;
        if digits >= 10_000_000 {
            digits /= 10;
            e += 1;
        }
        let mut text = [0u8; 8];
        for i in (0..8).rev() {
            if i == 1 {
                text[i] = b'.';
                continue;
            }
            text[i] = b'0' + (digits % 10) as u8;
            digits /= 10;
        }
        self.bytes(&text).str("e");
        if e < 0 {
            self.str("-");
        }
        self.uint(e.unsigned_abs())
    }
}

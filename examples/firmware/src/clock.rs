//! Timing with SysTick.
//!
//! SysTick counts the core clock (25 MHz on the MPS2 board) down from
//! 2²⁴ − 1 and its interrupt counts the wrap-arounds. Under QEMU the
//! emulated clock follows the host's wall clock, unless QEMU runs with
//! `-icount shift=0`: then every instruction advances it by 1 ns, and one
//! tick stands for 40 instructions, a reproducible measure of work.

use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_rt::exception;

/// Reload value: the counter's full 24 bits.
const RELOAD: u32 = 0x00FF_FFFF;

static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// Starts SysTick on the core clock with the wrap-around interrupt.
pub fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Core-clock ticks since [`start`] (wrapping after 2³² ticks, 171 s).
pub fn now() -> u32 {
    loop {
        let wraps = WRAPS.load(Ordering::Relaxed);
        let current = SYST::get_current();
        if WRAPS.load(Ordering::Relaxed) == wraps {
            return wraps
                .wrapping_mul(RELOAD + 1)
                .wrapping_add(RELOAD - current);
        }
    }
}

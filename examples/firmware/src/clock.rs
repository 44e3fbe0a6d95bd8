//! Timing with SysTick.
//!
//! SysTick counts the core clock ([`MHZ`]: 25 MHz on the MPS2 board, 16 MHz
//! on the micro:bit) down from 2²⁴ − 1 and its interrupt counts the
//! wrap-arounds. Under QEMU the emulated clock follows the host's wall
//! clock, unless QEMU runs with `-icount shift=0`: then every instruction
//! advances it by 1 ns, and one tick stands for 40 instructions (62.5 on
//! the micro:bit), a reproducible measure of work. (The nRF51 of a real
//! micro:bit has no SysTick; QEMU's Cortex-M0 has one.)

use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::{syst::SystClkSource, SYST};
use cortex_m_rt::exception;

/// The core clock in MHz, as QEMU models the board.
pub const MHZ: u32 = if cfg!(microbit) { 16 } else { 25 };

/// Reload value: the counter's full 24 bits.
const RELOAD: u32 = 0x00FF_FFFF;

static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    // The handler is the only writer, so a load and a store suffice (the
    // Cortex-M0 has no atomic read-modify-write).
    WRAPS.store(
        WRAPS.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
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

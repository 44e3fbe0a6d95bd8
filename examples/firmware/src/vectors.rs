//! The interrupt part of the vector table, sized for the board.
//!
//! Without a device crate cortex-m-rt reserves all 240 ARMv7-M interrupt
//! vectors (960 bytes of flash). The MPS2 AN386 image has 32 external
//! interrupts (QEMU's `num-irq` for this board), as has the micro:bit's
//! nRF51 (the most an ARMv6-M core takes), so the table here has 32
//! entries, all pointing at cortex-m-rt's default handler: none of them is
//! enabled. This is what a device crate supplies with cortex-m-rt's `device`
//! feature; `build.rs` provides the matching (empty) `device.x`.

extern "C" {
    /// cortex-m-rt's handler for exceptions and interrupts without one of their own.
    fn DefaultHandler();
}

/// Number of external interrupts of the MPS2 AN386 image.
const IRQS: usize = 32;

#[link_section = ".vector_table.interrupts"]
#[no_mangle]
static __INTERRUPTS: [unsafe extern "C" fn(); IRQS] = [DefaultHandler; IRQS];

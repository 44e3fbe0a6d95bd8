//! Stack high-water mark by painting.
//!
//! At start the free stack — from the end of the statically allocated RAM
//! (`_stack_end`, just past `.bss` and `.uninit` in cortex-m-rt's linker
//! script) up to the current stack pointer — is filled with a pattern. At the
//! end the lowest word that no longer holds the pattern marks the deepest the
//! stack has reached; the stack starts at `_stack_start`, the top of RAM.

use core::ptr::{addr_of, read_volatile};

/// The paint. A word of live stack data equal to it by chance would only
/// make the figure smaller by the words below it that also still hold it.
const PAINT: u32 = 0x5EA5_C0DE;

extern "C" {
    /// Start of RAM, where `.data` and `.bss` begin.
    static _ram_start: u32;
    /// Top of the stack (exclusive), from cortex-m-rt's `link.x`.
    static _stack_start: u32;
    /// Bottom of the stack region: the first word after `.bss`/`.uninit`.
    static _stack_end: u32;
}

fn bounds() -> (usize, usize) {
    // Only the addresses of the linker symbols are taken, never their values.
    (
        addr_of!(_stack_end) as usize,
        addr_of!(_stack_start) as usize,
    )
}

/// Paints the unused stack below the current stack pointer.
///
/// The loop is written in assembly: it reads the stack pointer itself and
/// touches no stack, whereas compiled code may read the stack pointer before
/// its prologue pushes registers below it, and then paint over them.
#[inline(never)]
pub fn paint() {
    let (bottom, _) = bounds();
    // SAFETY: writes only the words in [bottom, sp): RAM between the statics
    // and the live stack, where nothing lives (no interrupt is enabled yet).
    unsafe {
        core::arch::asm!(
            "mov {sp}, sp",
            "2:",
            "cmp {p}, {sp}",
            "bhs 3f",
            "stm {p}!, {{{v}}}",
            "b 2b",
            "3:",
            p = inout(reg) bottom => _,
            sp = out(reg) _,
            v = in(reg) PAINT,
            options(nostack),
        );
    }
}

/// Bytes of stack used since [`paint`]: from the top of the stack down to the
/// lowest word whose paint was overwritten.
pub fn high_water_mark() -> u32 {
    let (bottom, top) = bounds();
    let mut p = bottom as *const u32;
    // SAFETY: reads words of RAM inside [bottom, top).
    while (p as usize) < top && unsafe { read_volatile(p) } == PAINT {
        p = unsafe { p.add(1) };
    }
    (top - p as usize) as u32
}

/// Bytes of RAM taken by statics (`.data`, `.bss`, `.uninit`): everything
/// below the stack region.
pub fn statics() -> u32 {
    let (bottom, _) = bounds();
    (bottom - addr_of!(_ram_start) as usize) as u32
}

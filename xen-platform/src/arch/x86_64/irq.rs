//! The x86_64 interrupt flag (RFLAGS.IF): disabling and restoring event
//! delivery around scheduler state, and the idle `sti; hlt` pair, which
//! Xen turns into `SCHEDOP_block` for HVM/PVH vCPUs.

use core::arch::asm;

/// RFLAGS.IF.
const IF: u64 = 1 << 9;

/// Disables interrupts; returns whether they were enabled before.
#[inline]
pub(crate) fn disable() -> bool {
    let flags: u64;
    // SAFETY: reading RFLAGS and clearing IF only change whether interrupts
    // are delivered; pushfq/popq use the stack in a balanced way.
    unsafe {
        asm!("pushfq", "pop {}", "cli", out(reg) flags, options(preserves_flags));
    }
    flags & IF != 0
}

/// Enables interrupts.
#[inline]
pub(crate) fn enable() {
    // SAFETY: the IDT is loaded (the arch entry does it first), so any
    // delivered interrupt has a handler.
    unsafe { asm!("sti", options(nostack)) };
}

/// Re-enables interrupts if `was_enabled` (the value [`disable`] returned).
#[inline]
pub(crate) fn restore(was_enabled: bool) {
    if was_enabled {
        enable();
    }
}

/// Enables interrupts and halts in one step, then disables them again.
///
/// Must be called with interrupts disabled, after checking that there is no
/// work. `hlt` runs in the interrupt shadow of `sti`, so an interrupt that
/// became pending after the check is not taken before `hlt` (which would
/// sleep with the work undone) but wakes the `hlt` at once. On Xen, a PVH
/// vCPU's `hlt` with IF set is `SCHEDOP_block` (the vCPU is descheduled
/// until an event is pending; a pending one returns at once), while `hlt`
/// with IF clear powers the vCPU down: never call this with a hand-made
/// `cli; hlt`.
#[inline]
pub(crate) fn enable_and_halt_then_disable() {
    // SAFETY: interrupts are handled by the loaded IDT; the pending
    // interrupt (if any) is taken right after `hlt` and returns here.
    unsafe { asm!("sti", "hlt", "cli", options(nostack)) };
}

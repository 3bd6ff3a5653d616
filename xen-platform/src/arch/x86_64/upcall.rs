//! The event-channel upcall vector (`hvm/params.h`,
//! `HVM_PARAM_CALLBACK_TYPE_VECTOR`): an interrupt stub that saves the
//! caller-saved registers and calls the event-channel dispatcher, then
//! returns with `iretq`.
//!
//! The target has no SSE and no red zone, so the general-purpose registers
//! are all the interrupted code can lose.

/// The IDT vector Xen raises for pending events.
pub(crate) const UPCALL_VECTOR: u8 = 0xf3;

// The CPU pushes 5 words (ss, rsp, rflags, cs, rip) after aligning rsp to
// 16; the 9 pushes below keep rsp 16-byte aligned for the call.
core::arch::global_asm!(
    r#"
    .pushsection .text.rumpx_upcall, "ax", @progbits
    .balign 16
    .globl rumpx_upcall_stub
rumpx_upcall_stub:
    pushq %rax
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    cld
    call {handler}
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rax
    iretq
    .popsection
    "#,
    handler = sym crate::evtchn::rumpx_evtchn_upcall,
    options(att_syntax)
);

unsafe extern "C" {
    /// The upcall entry (defined above).
    static rumpx_upcall_stub: [u8; 0];
}

/// Address of the upcall interrupt stub, for the IDT.
pub(crate) fn stub_address() -> u64 {
    (&raw const rumpx_upcall_stub) as u64
}

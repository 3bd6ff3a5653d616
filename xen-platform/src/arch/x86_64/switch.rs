//! Cooperative context switch for x86_64 SysV: saves the callee-saved
//! registers (rbx, rbp, r12-r15) and rsp of one thread and resumes another.
//! The target has no SSE, so there is no FP state to save.

use core::arch::global_asm;

// rumpx_switch(save_rsp: *mut u64 [rdi], next_rsp: u64 [rsi])
// A suspended thread's stack holds, from its saved rsp upward:
// r15, r14, r13, r12, rbx, rbp, return address.
global_asm!(
    r#"
    .pushsection .text.rumpx_switch, "ax", @progbits
    .balign 16
    .globl rumpx_switch
rumpx_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

    /* First return of a new thread: r12 holds the entry argument, r13 the
       entry function; rsp is 16-byte aligned here. */
    .balign 16
    .globl rumpx_thread_trampoline
rumpx_thread_trampoline:
    movq %r12, %rdi
    xorl %ebp, %ebp
    call *%r13
    ud2
    .popsection
    "#,
    options(att_syntax)
);

unsafe extern "C" {
    fn rumpx_switch(save_rsp: *mut u64, next_rsp: u64);
    static rumpx_thread_trampoline: [u8; 0];
}

/// Words [`prepare`] writes below the top of a new stack.
const FRAME_WORDS: usize = 7;

/// Lays out a new thread's first frame below `top` (16-byte aligned) so
/// that switching to the returned rsp enters the trampoline with rsp ==
/// `top` (16-byte aligned), which calls `entry(arg)` as the ABI expects.
/// `entry` must never return.
///
/// # Safety
/// `top` must be the 16-byte aligned end of writable memory of at least
/// `FRAME_WORDS * 8` bytes that nothing else uses.
pub(crate) unsafe fn prepare(top: u64, entry: extern "C" fn(u64) -> !, arg: u64) -> u64 {
    debug_assert_eq!(top % 16, 0);
    let rsp = top - (FRAME_WORDS as u64) * 8;
    let frame = rsp as *mut u64;
    let words: [u64; FRAME_WORDS] = [
        0,                                           // r15
        0,                                           // r14
        entry as usize as u64,                       // r13
        arg,                                         // r12
        0,                                           // rbx
        0,                                           // rbp
        (&raw const rumpx_thread_trampoline) as u64, // return address
    ];
    for (i, w) in words.iter().enumerate() {
        // SAFETY: the caller gives us FRAME_WORDS writable words below
        // `top`; `i` < FRAME_WORDS.
        unsafe { frame.add(i).write(*w) };
    }
    rsp
}

/// Saves the current thread's registers, storing its rsp in `*save_rsp`,
/// and resumes the thread whose saved rsp is `next_rsp`. Returns when some
/// thread switches back to the saved one.
///
/// # Safety
/// `save_rsp` must be valid for a write; `next_rsp` must be an rsp saved
/// by `switch` (or made by [`prepare`]) of a thread that is not running,
/// whose stack is still allocated. Interrupts should be disabled.
pub(crate) unsafe fn switch(save_rsp: *mut u64, next_rsp: u64) {
    // SAFETY: the caller's contract; `rumpx_switch` saves and restores all
    // callee-saved registers per the SysV ABI, so to the caller it is an
    // ordinary function call.
    unsafe { rumpx_switch(save_rsp, next_rsp) }
}

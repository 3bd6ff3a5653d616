//! x86_64 CPU instructions the platform needs: port I/O (the 0xE9 debug
//! port), CPUID (finding Xen's leaves, `arch-x86/cpuid.h`), MSR writes,
//! control registers, and stopping the CPU.

use core::arch::asm;

/// The debug I/O port; Xen prints what a PVH guest writes here on its own
/// console as `(dN) ...` (QEMU: `-debugcon`).
const DEBUG_PORT: u16 = 0xe9;

/// Writes bytes to the 0xE9 debug port.
pub(crate) fn debug_port_write(bytes: &[u8]) {
    for &b in bytes {
        // SAFETY: writing to the debug port has no effect on memory; under
        // Xen and QEMU the port is a byte sink.
        unsafe {
            asm!("out dx, al", in("dx") DEBUG_PORT, in("al") b, options(nomem, nostack, preserves_flags));
        }
    }
}

/// Executes CPUID for `leaf` (sub-leaf 0): `[eax, ebx, ecx, edx]`.
pub(crate) fn cpuid(leaf: u32) -> [u32; 4] {
    let (eax, ebx, ecx, edx): (u32, u32, u32, u32);
    // SAFETY: CPUID only reads CPU information; rbx (reserved by LLVM) is
    // saved and restored around it.
    unsafe {
        asm!(
            "mov {tmp:r}, rbx",
            "cpuid",
            "xchg {tmp:r}, rbx",
            tmp = out(reg) ebx,
            inout("eax") leaf => eax,
            inout("ecx") 0u32 => ecx,
            out("edx") edx,
            options(nomem, nostack, preserves_flags),
        );
    }
    [eax, ebx, ecx, edx]
}

/// Finds the base of Xen's CPUID leaves: the first leaf from 0x40000000
/// upward (steps of 0x100) whose signature is "XenVMMXenVMM" and which has
/// at least the leaves up to base + 2.
pub(crate) fn xen_cpuid_base() -> Option<u32> {
    (0x4000_0000u32..0x4001_0000).step_by(0x100).find(|&base| {
        let [max, b, c, d] = cpuid(base);
        let mut sig = [0u8; 12];
        sig[0..4].copy_from_slice(&b.to_le_bytes());
        sig[4..8].copy_from_slice(&c.to_le_bytes());
        sig[8..12].copy_from_slice(&d.to_le_bytes());
        &sig == b"XenVMMXenVMM" && max >= base + 2
    })
}

/// Writes a model-specific register.
///
/// # Safety
/// The write must be valid for `msr` and must not break memory safety (for
/// the hypercall MSR: `value` is the address of a page the guest has given
/// over to Xen).
pub(crate) unsafe fn wrmsr(msr: u32, value: u64) {
    // SAFETY: the caller guarantees the MSR write is sound.
    unsafe {
        asm!(
            "wrmsr",
            in("ecx") msr,
            in("eax") value as u32,
            in("edx") (value >> 32) as u32,
            options(nostack, preserves_flags),
        );
    }
}

/// Reads CR2 (the faulting address of the last page fault).
pub(crate) fn read_cr2() -> u64 {
    let cr2: u64;
    // SAFETY: reading CR2 has no side effects; we run in ring 0.
    unsafe {
        asm!("mov {}, cr2", out(reg) cr2, options(nomem, nostack, preserves_flags));
    }
    cr2
}

/// Stops the machine for good: loads an empty IDT and raises an exception,
/// which triple-faults. Xen then crashes the domain; QEMU with `-no-reboot`
/// exits. Used only when no hypercall can shut the domain down.
pub(crate) fn triple_fault() -> ! {
    #[repr(C, packed)]
    struct Idtr {
        limit: u16,
        base: u64,
    }
    let empty = Idtr { limit: 0, base: 0 };
    // SAFETY: the sequence never returns: with an empty IDT, int3 cannot be
    // delivered, which escalates to a triple fault and a reset/shutdown.
    unsafe {
        asm!("cli", "lidt [{}]", "int3", in(reg) &empty, options(noreturn, nostack));
    }
}

/// Raises a CPU exception on purpose (boot self-test of the IDT, selected
/// with `rumpx.fault=` on the command line): `"ud2"` (#UD), `"pf"` (a
/// read of an unmapped address above 4 GiB, #PF) or `"stack"` (unbounded
/// recursion into the boot stack's guard page, reported as #DF). Other
/// values do nothing.
pub(crate) fn trigger_test_fault(kind: &str) {
    match kind {
        "stack" => {
            recurse(0);
        }
        // SAFETY: ud2 raises #UD, which the IDT handler reports and which
        // ends in a shutdown; nothing after it runs.
        "ud2" => unsafe { asm!("ud2", options(nomem, nostack)) },
        // SAFETY: the read of an unmapped address faults (#PF) before any
        // value is produced; the handler reports it and shuts down.
        "pf" => unsafe {
            asm!("mov {tmp}, qword ptr [{addr}]", addr = in(reg) 0x0000_0010_dead_b000u64, tmp = out(reg) _, options(readonly, nostack))
        },
        _ => {}
    }
}

/// Recurses without bound (for the `stack` self-test).
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [depth; 64];
    // Keep the frame alive so the recursion is not folded away.
    core::hint::black_box(&mut frame);
    recurse(depth + 1).wrapping_add(frame[depth as usize % 64])
}

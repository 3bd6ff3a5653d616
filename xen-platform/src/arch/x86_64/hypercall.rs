//! The x86_64 hypercall page (`arch-x86/cpuid.h`, `arch-x86/xen-x86_64.h`):
//! installing it through the MSR that Xen's CPUID leaf base+2 names, and
//! calling hypercall N at `hypercall_page + N * 32` with arguments in rdi,
//! rsi, rdx, r10, r8 and the result in rax.

use super::cpu;
use core::arch::asm;
use core::sync::atomic::{AtomicBool, Ordering};

// The hypercall page: Xen fills it when its guest-physical address is written
// to the hypercall MSR.
core::arch::global_asm!(
    r#"
    .pushsection .bss.rumpx_pages, "aw", @nobits
    .balign 4096
    .globl rumpx_hypercall_page
rumpx_hypercall_page:
    .skip 4096
    .popsection
    "#,
    options(att_syntax)
);

unsafe extern "C" {
    /// The hypercall page (defined in the assembly above).
    static rumpx_hypercall_page: [u8; 4096];
}

/// Set once Xen has filled the hypercall page.
static READY: AtomicBool = AtomicBool::new(false);

/// Why the hypercall page could not be installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InstallError {
    /// No Xen CPUID leaves: not running on Xen.
    NotXen,
}

/// Finds Xen's CPUID leaves and has Xen fill the hypercall page.
pub(crate) fn install() -> Result<u32, InstallError> {
    let base = cpu::xen_cpuid_base().ok_or(InstallError::NotXen)?;
    let [_pages, msr, _, _] = cpu::cpuid(base + 2);
    let page = (&raw const rumpx_hypercall_page) as u64;
    // SAFETY: `msr` is the hypercall-page MSR Xen named in CPUID leaf
    // base+2; `page` is a page-aligned page of the image (identity-mapped,
    // so its virtual and guest-physical addresses agree) that nothing else
    // uses.
    unsafe { cpu::wrmsr(msr, page) };
    READY.store(true, Ordering::Release);
    Ok(base)
}

/// Whether hypercalls can be made.
pub(crate) fn ready() -> bool {
    READY.load(Ordering::Acquire)
}

/// Makes hypercall `nr` with up to five arguments.
///
/// # Safety
/// [`install`] must have succeeded, and the arguments must be valid for the
/// hypercall (pointers to live memory of the right types; operations that
/// remap guest memory must not affect memory Rust references).
pub(crate) unsafe fn hypercall5(nr: u32, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
    debug_assert!(ready());
    let entry = (&raw const rumpx_hypercall_page) as usize + nr as usize * 32;
    let ret: i64;
    // SAFETY: `entry` is Xen's stub for hypercall `nr` in the installed page
    // (caller's contract); argument validity is the caller's contract. Xen may
    // clobber the argument registers (debug builds do), so all caller-saved
    // registers are marked clobbered.
    unsafe {
        asm!(
            "call {entry}",
            entry = in(reg) entry,
            inlateout("rax") 0i64 => ret,
            in("rdi") a1,
            in("rsi") a2,
            in("rdx") a3,
            in("r10") a4,
            in("r8") a5,
            clobber_abi("C"),
        );
    }
    ret
}

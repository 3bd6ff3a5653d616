//! x86_64 support: PVH entry (`arch-x86/hvm/start_info.h`, `elfnote.h`),
//! CPU instructions (port I/O, CPUID, MSRs), the IDT and the hypercall page
//! calling convention (`arch-x86/xen-x86_64.h`).
//!
//! A later PV entry path goes beside `pvh`; both end in the generic
//! [`crate::start`].

pub(crate) mod cpu;
mod gdt;
pub(crate) mod hypercall;
pub(crate) mod idt;
pub(crate) mod irq;
mod pvh;
pub(crate) mod switch;
pub(crate) mod tsc;
pub(crate) mod upcall;

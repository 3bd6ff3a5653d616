//! Generic start of the platform, after the arch entry (PVH now, PV later):
//! install the hypercall page, map shared info, set up the console, call the
//! guest's `main`, and shut down (`sched.h`, `SCHEDOP_shutdown`).

use crate::arch::x86_64::{cpu, hypercall as arch_hypercall};
use crate::boot_info::BootInfo;
use crate::console;
use crate::hypercall::{self, ShutdownReason};
use crate::start_info::MemoryMap;
use core::fmt;

/// What the arch entry found in its boot data.
pub(crate) struct EarlyBoot {
    /// The command line.
    pub(crate) cmdline: &'static str,
    /// The memory map.
    pub(crate) memory_map: MemoryMap<'static>,
    /// Base of Xen's CPUID leaves if the hypercall page was installed; None
    /// when not running on Xen.
    pub(crate) xen_cpuid_base: Option<u32>,
}

unsafe extern "Rust" {
    /// The guest's entry, defined by [`crate::entry!`].
    fn __rumpx_guest_main(boot: &BootInfo);
}

/// The generic start: never returns.
pub(crate) fn start(early: EarlyBoot) -> ! {
    console::early_print(format_args!(
        "rumpx: cmdline \"{}\", {} memory map entries, {} KiB RAM\n",
        early.cmdline,
        early.memory_map.entries().len(),
        early.memory_map.total_ram() / 1024
    ));

    let Some(base) = early.xen_cpuid_base else {
        // Without Xen (e.g. QEMU's PVH loader) only the 0xE9 port exists;
        // the self-tests still show the fault and panic reports there.
        self_test(early.cmdline);
        console::early_str("rumpx: not running on Xen: no Xen CPUID leaves\n");
        cpu::triple_fault();
    };
    console::early_print(format_args!(
        "rumpx: Xen CPUID leaves at {base:#x}, hypercall page installed\n"
    ));

    let xen_version = match hypercall::xen_version() {
        Ok(v) => v,
        Err(e) => fatal_early(format_args!("{e}")),
    };
    console::early_print(format_args!("rumpx: Xen {xen_version}\n"));

    if let Err(e) = crate::shared_info::map() {
        fatal_early(format_args!("mapping shared info: {e}"));
    }
    if let Err(e) = console::init() {
        // Keep going on the 0xE9 port alone.
        console::early_print(format_args!("rumpx: no PV console: {e}\n"));
    }
    self_test(early.cmdline);

    crate::mm::init(&early.memory_map, early.cmdline);
    // Event delivery, timers and threads; interrupts are on from here.
    if let Err(e) = crate::evtchn::init().and_then(|()| crate::sched::init()) {
        fatal_early(format_args!("event channels and timers: {e}"));
    }
    crate::lifecycle::start();
    let boot = BootInfo::new(early.cmdline, early.memory_map, xen_version);
    // SAFETY: `__rumpx_guest_main` is defined by the guest's `entry!`, with
    // exactly this signature (a safe Rust function).
    unsafe { __rumpx_guest_main(&boot) };
    poweroff()
}

/// Boot self-test of the exception and panic paths, selected with
/// `rumpx.fault=ud2|pf|stack|panic` on the command line.
fn self_test(cmdline: &str) {
    if let Some(kind) = crate::start_info::cmdline_option(cmdline, "rumpx.fault") {
        if kind == "panic" {
            panic!("rumpx.fault=panic on the command line");
        }
        cpu::trigger_test_fault(kind);
    }
}

/// Reports a fatal boot error on the console and the 0xE9 port, then
/// crash-shuts down.
pub(crate) fn fatal_early(args: fmt::Arguments<'_>) -> ! {
    if arch_hypercall::ready() && !console::ring_ready() {
        // Best effort: get the report onto the guest console too.
        let _ = console::init();
    }
    console::fault(format_args!("rumpx: fatal: {args}\n"));
    crash()
}

/// Drains the console and powers the domain off.
pub fn poweroff() -> ! {
    shutdown(ShutdownReason::Poweroff)
}

/// Drains the console and shuts the domain down with reason crash.
pub fn crash() -> ! {
    shutdown(ShutdownReason::Crash)
}

/// Drains the console (bounded wait) and shuts the domain down.
pub fn shutdown(reason: ShutdownReason) -> ! {
    if let Err(e) = console::flush() {
        console::early_print(format_args!("rumpx: console flush: {e}\n"));
    }
    shutdown_now(reason)
}

/// Crash-shuts down without touching the console ring.
pub(crate) fn shutdown_crash_now() -> ! {
    shutdown_now(ShutdownReason::Crash)
}

fn shutdown_now(reason: ShutdownReason) -> ! {
    if arch_hypercall::ready() {
        let e = hypercall::sched_shutdown(reason);
        console::early_print(format_args!("rumpx: shutdown failed: {e}\n"));
    }
    cpu::triple_fault()
}

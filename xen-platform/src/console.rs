//! The console: the PV console ring (`io/console.h`, `struct
//! xencons_interface`; found through `HVM_PARAM_CONSOLE_PFN` and
//! `HVM_PARAM_CONSOLE_EVTCHN`) and early output through the 0xE9 debug port,
//! which Xen prints on its own log as `(dN) ...`. Provides `print!` and
//! `println!`.
//!
//! Before the ring is set up, output goes to port 0xE9. Fault reports and
//! panics go to both.

use crate::arch::x86_64::cpu;
use crate::error::XenError;
use crate::hypercall;
use crate::ring;
use core::fmt::{self, Write};
use core::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicUsize, Ordering};
use xen_abi::xencons_interface;

/// Address of the console page (0 until [`init`] succeeded).
static RING: AtomicUsize = AtomicUsize::new(0);
/// Event channel of the console.
static PORT: AtomicU32 = AtomicU32::new(0);
/// Mirror ring output to the 0xE9 port too.
static MIRROR: AtomicBool = AtomicBool::new(false);

/// How many times to yield while waiting for the backend to make room or
/// drain the ring before giving up.
const WAIT_YIELDS: u32 = 100_000;
/// While waiting, notify the backend again every this many yields (a
/// notification sent before xenconsoled bound the channel is lost).
const RENOTIFY_YIELDS: u32 = 1024;

/// Sets up the PV console ring from the HVM parameters.
pub(crate) fn init() -> Result<(), XenError> {
    let pfn = hypercall::hvm_get_param(xen_abi::HVM_PARAM_CONSOLE_PFN)?;
    let port = hypercall::hvm_get_param(xen_abi::HVM_PARAM_CONSOLE_EVTCHN)?;
    if pfn == 0 || pfn >= (1 << 20) {
        // Only the first 4 GiB are mapped.
        return Err(XenError::PeerMisbehaved(
            "HVM_PARAM_CONSOLE_PFN is not a frame below 4 GiB",
        ));
    }
    let port = u32::try_from(port)
        .map_err(|_| XenError::PeerMisbehaved("HVM_PARAM_CONSOLE_EVTCHN out of range"))?;
    PORT.store(port, Ordering::Relaxed);
    RING.store((pfn << 12) as usize, Ordering::Release);
    Ok(())
}

/// Whether the PV console ring is in use.
pub fn ring_ready() -> bool {
    RING.load(Ordering::Acquire) != 0
}

/// Also copy everything written to the ring to the 0xE9 port.
pub fn set_mirror_to_debug_port(on: bool) {
    MIRROR.store(on, Ordering::Relaxed);
}

/// Pointers to the output half of the shared console page.
struct OutRing {
    out: *mut u8,
    cons: &'static AtomicU32,
    prod: &'static AtomicU32,
}

fn out_ring() -> Option<OutRing> {
    let page = RING.load(Ordering::Acquire) as *mut xencons_interface;
    if page.is_null() {
        return None;
    }
    // SAFETY: `page` is the console page Xen named (identity-mapped below
    // 4 GiB, checked in `init`), shared with the backend for the domain's
    // life. The indices are accessed only atomically (the backend updates
    // `out_cons`); `out` is accessed through a raw pointer, only in the part
    // of the ring the backend does not read.
    unsafe {
        Some(OutRing {
            out: (&raw mut (*page).out).cast::<u8>(),
            cons: AtomicU32::from_ptr(&raw mut (*page).out_cons),
            prod: AtomicU32::from_ptr(&raw mut (*page).out_prod),
        })
    }
}

/// Writes to the ring, waiting (yielding) while it is full. Returns false if
/// the ring is not set up or the backend misbehaves or does not drain.
fn ring_write(mut data: &[u8]) -> bool {
    let Some(r) = out_ring() else {
        return false;
    };
    let port = PORT.load(Ordering::Relaxed);
    let mut waited = 0;
    while !data.is_empty() {
        let cons = r.cons.load(Ordering::Acquire);
        let prod = r.prod.load(Ordering::Relaxed);
        let n = match ring::produce(cons, prod, ring::OUT_RING_SIZE, data, |pos, b| {
            // SAFETY: `pos` < OUT_RING_SIZE (masked) and lies in the free
            // part of the ring, which the backend does not read until the
            // producer index is published below.
            unsafe { r.out.add(pos).write_volatile(b) }
        }) {
            Ok(n) => n,
            Err(_) => return false,
        };
        if n > 0 {
            // Data before index (the header's wmb()).
            fence(Ordering::Release);
            r.prod.store(prod.wrapping_add(n as u32), Ordering::Release);
            let _ = hypercall::evtchn_send(port);
            data = &data[n..];
            waited = 0;
        } else {
            waited += 1;
            if waited > WAIT_YIELDS {
                return false;
            }
            if waited % RENOTIFY_YIELDS == 0 {
                let _ = hypercall::evtchn_send(port);
            }
            hypercall::sched_yield();
        }
    }
    true
}

/// Waits (bounded) until the backend has consumed everything written.
pub fn flush() -> Result<(), XenError> {
    let Some(r) = out_ring() else {
        return Ok(());
    };
    let port = PORT.load(Ordering::Relaxed);
    for i in 0..WAIT_YIELDS {
        let cons = r.cons.load(Ordering::Acquire);
        let prod = r.prod.load(Ordering::Relaxed);
        if ring::used(cons, prod, ring::OUT_RING_SIZE)? == 0 {
            return Ok(());
        }
        if i % RENOTIFY_YIELDS == 0 {
            let _ = hypercall::evtchn_send(port);
        }
        hypercall::sched_yield();
    }
    Err(XenError::Timeout("console backend did not drain the ring"))
}

/// Writes bytes to the console: the ring if set up (mirrored to 0xE9 if
/// asked), else the 0xE9 port.
pub fn write_bytes(data: &[u8]) {
    if ring_write(data) {
        if MIRROR.load(Ordering::Relaxed) {
            cpu::debug_port_write(data);
        }
    } else {
        cpu::debug_port_write(data);
    }
}

/// Writes a string to the 0xE9 debug port only.
pub fn early_str(s: &str) {
    cpu::debug_port_write(s.as_bytes());
}

/// `fmt::Write` to the console (see [`write_bytes`]).
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

/// `fmt::Write` to the 0xE9 debug port only.
pub struct DebugPort;

impl Write for DebugPort {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        cpu::debug_port_write(s.as_bytes());
        Ok(())
    }
}

/// Collects formatted output so a `print!` becomes few ring updates (and
/// event-channel notifications) instead of one per fragment.
struct Buffered {
    sink: fn(&[u8]),
    buf: [u8; 256],
    len: usize,
}

impl Buffered {
    fn new(sink: fn(&[u8])) -> Self {
        Self {
            sink,
            buf: [0; 256],
            len: 0,
        }
    }

    fn flush(&mut self) {
        (self.sink)(&self.buf[..self.len]);
        self.len = 0;
    }
}

impl Write for Buffered {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut s = s.as_bytes();
        while !s.is_empty() {
            if self.len == self.buf.len() {
                self.flush();
            }
            let n = s.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
            self.len += n;
            s = &s[n..];
        }
        Ok(())
    }
}

/// Writes to both the ring (if set up) and the 0xE9 port.
fn write_both(data: &[u8]) {
    ring_write(data);
    cpu::debug_port_write(data);
}

/// Prints formatted output to the console (used by `print!`).
#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>) {
    let mut w = Buffered::new(write_bytes);
    let _ = w.write_fmt(args);
    w.flush();
}

/// Prints formatted output to the 0xE9 port only.
pub fn early_print(args: fmt::Arguments<'_>) {
    let mut w = Buffered::new(cpu::debug_port_write);
    let _ = w.write_fmt(args);
    w.flush();
}

/// Prints a fault or panic report to both the ring and the 0xE9 port.
pub(crate) fn fault(args: fmt::Arguments<'_>) {
    let mut w = Buffered::new(write_both);
    let _ = w.write_fmt(args);
    w.flush();
}

/// Prints to the guest console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::console::_print(format_args!($($arg)*))
    };
}

/// Prints a line to the guest console.
#[macro_export]
macro_rules! println {
    () => {
        $crate::console::_print(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::console::_print(format_args!("{}\n", format_args!($($arg)*)))
    };
}

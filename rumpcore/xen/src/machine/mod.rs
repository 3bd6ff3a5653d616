//! The hypercalls on the machine (guest target only): the platform state
//! they share (command line, host name), the safe building blocks, and the
//! `extern "C"` edge in `edge` (and the I/O edges in `blk`/`virt`).

mod blk;
mod edge;
mod hyp;
mod mem;
mod random;
mod sync;
mod threads;
mod virt;

pub use random::RandomSource;
pub use threads::errno;

use alloc::string::{String, ToString};
use xen_platform::sched::IrqLock;
use xen_platform::start_info::cmdline_option;
use xen_platform::xenstore::{Tx, XenstoreOps};
use xen_platform::{println, BootInfo};

/// The guest's command line (`getparam` answers from it).
static CMDLINE: IrqLock<&'static str> = IrqLock::new("");
/// The host name `_RUMPUSER_HOSTNAME` answers.
static HOSTNAME: IrqLock<Option<String>> = IrqLock::new(None);

/// Host name when xenstore has no `name` for the domain.
const FALLBACK_HOSTNAME: &str = "rump-xen";

/// Prepares the hypercalls: keeps the command line for `getparam`
/// (`rumpuser.stack_kib=N` sets the stack size of rump threads), reads the
/// domain's name from xenstore for the host name, picks the random source
/// and says which on the console. Call it from the guest's `main` before
/// the kernel starts; the symbols are kept in the image by it too.
pub fn init(boot: &BootInfo) {
    *CMDLINE.lock() = boot.cmdline();
    if let Some(kib) =
        cmdline_option(boot.cmdline(), "rumpuser.stack_kib").and_then(|v| v.parse::<usize>().ok())
    {
        threads::set_stack_bytes(kib * 1024);
    }
    let name = hostname();
    println!(
        "rumpuser-xen: host name {name:?}, random bytes from {}",
        random::source()
    );
    edge::keep_symbols();
}

/// Where `rumpuser_getrandom` takes its bytes from.
pub fn random_source() -> RandomSource {
    random::source()
}

fn cmdline() -> &'static str {
    *CMDLINE.lock()
}

/// The domain's name from xenstore (read once).
fn hostname() -> String {
    if let Some(h) = HOSTNAME.lock().as_ref() {
        return h.clone();
    }
    let name = xen_platform::xenstore::xen::xenstore()
        .ok()
        .and_then(|xs| xs.read(Tx::NONE, "name").ok())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| FALLBACK_HOSTNAME.to_string());
    HOSTNAME.lock().get_or_insert(name).clone()
}

//! The panic handler: prints `panic: <message> at <file>:<line>:<col>` on
//! the console and the 0xE9 port, drains the console and shuts the domain
//! down with reason crash (`sched.h`, `SHUTDOWN_crash`).

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    if PANICKING.swap(true, Ordering::Relaxed) {
        crate::console::early_str("rumpx: panic while panicking\n");
        crate::start::shutdown_crash_now();
    }
    match info.location() {
        Some(l) => crate::console::fault(format_args!(
            "panic: {} at {}:{}:{}\n",
            info.message(),
            l.file(),
            l.line(),
            l.column()
        )),
        None => crate::console::fault(format_args!("panic: {}\n", info.message())),
    }
    crate::start::crash()
}

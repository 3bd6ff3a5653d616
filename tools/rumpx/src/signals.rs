//! Ctrl-C and SIGTERM for `rumpx run`: instead of dying at once, the
//! process notes the signal so that it can shut the guest down (`xl
//! shutdown`, then destroy) and tear the test host down in order.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Signals received since [`install`] (SIGINT or SIGTERM).
static RECEIVED: AtomicU32 = AtomicU32::new(0);
/// Whether this process handles the signals itself.
static INSTALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_signal: libc::c_int) {
    // Only an atomic add: async-signal-safe.
    RECEIVED.fetch_add(1, Ordering::SeqCst);
}

/// Makes SIGINT and SIGTERM only counted (see [`received`]).
pub fn install() {
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `on_signal` is an `extern "C"` function that only touches
        // an atomic, which is async-signal-safe; replacing the disposition
        // of these two signals affects nothing else in this process.
        unsafe {
            libc::signal(signal, on_signal as *const () as libc::sighandler_t);
        }
    }
    INSTALLED.store(true, Ordering::SeqCst);
}

/// How many SIGINT/SIGTERM arrived since [`install`].
pub fn received() -> u32 {
    RECEIVED.load(Ordering::SeqCst)
}

/// Whether [`install`] ran: child processes (QEMU) are then started in
/// their own process group, so that a Ctrl-C in the terminal reaches this
/// process only and the test host is stopped in order.
pub fn installed() -> bool {
    INSTALLED.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_is_counted_not_fatal() {
        install();
        assert!(installed());
        let before = received();
        // SAFETY: raising a signal whose handler was installed above.
        unsafe {
            libc::raise(libc::SIGTERM);
        }
        assert_eq!(received(), before + 1);
    }
}

//! The domain's lifecycle: a platform thread watches `control/shutdown`
//! (xenbus, see [`crate::xenbus::Lifecycle`]) and carries out the toolstack's
//! requests: `xl shutdown` powers the domain off, `xl reboot` ends it with
//! reason reboot (`sched.h` `SHUTDOWN_*`), after the guest's goodbye hook ran.

use crate::hypercall::ShutdownReason;
use crate::xenbus::{Lifecycle, ShutdownRequest};
use crate::{println, sched, start};
use core::sync::atomic::{AtomicUsize, Ordering};

/// The guest's goodbye hook, as a `fn(&ShutdownRequest)` address (0: none).
static HOOK: AtomicUsize = AtomicUsize::new(0);

/// Sets the function called (on the lifecycle thread) when the toolstack
/// asks the domain to power off or reboot, before the domain shuts down.
pub fn on_shutdown(hook: fn(&ShutdownRequest)) {
    HOOK.store(hook as usize, Ordering::Release);
}

fn run_hook(request: &ShutdownRequest) {
    let raw = HOOK.load(Ordering::Acquire);
    if raw != 0 {
        // SAFETY: HOOK only ever holds 0 or a `fn(&ShutdownRequest)` stored
        // by `on_shutdown`; function pointers and usize have the same size.
        let hook: fn(&ShutdownRequest) = unsafe { core::mem::transmute(raw) };
        hook(request);
    }
}

/// Starts the lifecycle thread. Without xenstore the domain can still run;
/// the toolstack then cannot shut it down cleanly, which is reported.
pub(crate) fn start() {
    if let Err(e) = sched::spawn("lifecycle", watch_control_shutdown) {
        println!("rumpx: no lifecycle thread: {e}");
    }
}

fn watch_control_shutdown() {
    let lifecycle = match crate::xenstore::xen::xenstore().and_then(Lifecycle::new) {
        Ok(l) => l,
        Err(e) => {
            println!("rumpx: not watching control/shutdown: {e}");
            return;
        }
    };
    loop {
        match lifecycle.next_request(None) {
            Ok(Some(request @ (ShutdownRequest::Poweroff | ShutdownRequest::Reboot))) => {
                run_hook(&request);
                let reason = if request == ShutdownRequest::Reboot {
                    ShutdownReason::Reboot
                } else {
                    ShutdownReason::Poweroff
                };
                println!("rumpx: shutting down at the toolstack's request ({request:?})");
                start::shutdown(reason);
            }
            Ok(Some(other)) => {
                println!("rumpx: ignoring the toolstack's request {other:?}");
                let _ = lifecycle.acknowledge();
            }
            Ok(None) => {}
            Err(e) => {
                println!("rumpx: control/shutdown: {e}");
                sched::sleep_ns(1_000_000_000);
            }
        }
    }
}

//! xen-platform: the rumpx mini-OS for Xen DomUs (PVH x86_64): boot, hypercall
//! page, PV console, shared info, start info and shutdown.
//!
//! The crate is split so that pure logic (console ring indices, start-info
//! parsing, error codes) compiles and is unit-tested on the host, while the
//! boot code, the hypercalls and everything else that touches the machine is
//! built only for the guest target (`target_os = "none"`).
//!
//! Guests are `#![no_std] #![no_main]` binaries that declare their entry with
//! [`entry!`]:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! xen_platform::entry!(main);
//! fn main(boot: &xen_platform::BootInfo) {
//!     xen_platform::println!("cmdline: {}", boot.cmdline());
//! }
//! ```
//!
//! Returning from `main` powers the domain off; a panic prints
//! `panic: <message> at <file>:<line>:<col>`, drains the console and shuts
//! the domain down with reason crash.
#![cfg_attr(not(test), no_std)]

extern crate alloc;
#[cfg(all(feature = "sim", not(test)))]
extern crate std;

pub mod boot_info;
pub mod error;
pub mod evtchn;
pub mod frontend;
pub mod grant;
pub mod granted;
pub mod mm;
pub mod ring;
pub mod sched;
pub mod services;
pub mod shared_ring;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod start_info;
pub mod time;
pub mod xenbus;
pub mod xenstore;

#[cfg(target_os = "none")]
mod arch;
#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
pub mod hypercall;
#[cfg(target_os = "none")]
pub mod lifecycle;
#[cfg(target_os = "none")]
mod panic;
#[cfg(target_os = "none")]
pub mod shared_info;
#[cfg(target_os = "none")]
pub mod start;

pub use boot_info::{BootInfo, XenVersion};
pub use error::XenError;

/// Declares the guest's entry function.
///
/// `xen_platform::entry!(main);` with `fn main(boot: &xen_platform::BootInfo)`.
/// The platform boots, sets up the console and calls `main`; when `main`
/// returns, the console is drained and the domain powers off.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// The guest entry called by xen-platform once the platform is up.
        #[no_mangle]
        pub fn __rumpx_guest_main(boot: &$crate::BootInfo) {
            let main: fn(&$crate::BootInfo) = $main;
            main(boot)
        }
    };
}

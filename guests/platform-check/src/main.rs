//! The platform-check guest: runs one check of the platform services on Xen,
//! chosen with `check=<name>` on the command line (xl's `extra=`), and prints
//! lines the Xen tests read. Checks: `identity` (domid and name from
//! xenstore), `watch` (a thread counts dom0's xenstore writes),
//! `sleep` (PV clock and one-shot timer), `pingpong` (two threads through the
//! scheduler), `grant` (a page granted to dom0), `lifecycle` (waits for
//! `xl shutdown` / `xl reboot`).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod checks;

use xen_platform::{println, BootInfo};

xen_platform::entry!(main);

fn main(boot: &BootInfo) {
    let check = xen_platform::start_info::cmdline_option(boot.cmdline(), "check").unwrap_or("");
    let result = match check {
        "identity" => checks::identity(),
        "watch" => checks::watch(),
        "sleep" => checks::sleep(),
        "pingpong" => checks::pingpong(),
        "grant" => checks::grant(),
        "lifecycle" => checks::lifecycle(),
        other => Err(alloc::format!("unknown check {other:?}")),
    };
    match result {
        Ok(()) => println!("check {check}: done"),
        Err(e) => panic!("check {check} failed: {e}"),
    }
}

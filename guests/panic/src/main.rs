//! The panic guest: prints a line, then panics on purpose so tests can see
//! the panic report (message and location) and the crash shutdown.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use xen_platform::{println, BootInfo};

xen_platform::entry!(main);

fn main(boot: &BootInfo) {
    println!("panic guest on Xen {}: about to panic", boot.xen_version());
    panic!("deliberate panic from the panic test guest");
}

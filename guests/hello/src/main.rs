//! The hello guest: prints the Xen version (`XENVER_version`), the domain's
//! memory (`XENMEM_current_reservation` and the PVH start-info RAM map) and
//! the command line and the free memory (`mm::stats`), then powers off.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use xen_platform::{hypercall, mm, println, BootInfo};

xen_platform::entry!(main);

fn main(boot: &BootInfo) {
    let v = boot.xen_version();
    println!("hello from rumpx on Xen {}.{}", v.major, v.minor);
    match hypercall::current_reservation() {
        Ok(pages) => println!(
            "memory: {} MiB ({} pages; start-info RAM map: {} MiB)",
            pages * 4096 / (1024 * 1024),
            pages,
            boot.total_ram() / (1024 * 1024)
        ),
        Err(e) => println!(
            "memory: unknown ({e}; start-info RAM map: {} MiB)",
            boot.total_ram() / (1024 * 1024)
        ),
    }
    println!("cmdline: {}", boot.cmdline());
    println!("free memory: {} KiB", mm::stats().free_bytes / 1024);
}

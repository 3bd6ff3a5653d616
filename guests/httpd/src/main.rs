//! The httpd guest: an HTTP/1.1 static file server on the rump kernel
//! (rumpcore-kernel over the Xen hypercalls of rumpuser-xen), reached only
//! through the rumpcore-client API. The HTTP logic is httpd-core's.
//!
//! Command line (xl's `extra=`): `ip=A.B.C.D/LEN` or `ip=dhcp` (without
//! `ip=`: the vif's xenstore `ip` key, else DHCP), `gw=A.B.C.D`, `port=N`
//! (80), `disk=xvdX` (`xvda`; `none` serves `/healthz` and a built-in
//! page). Lines: `httpd: N KiB free, serving C connections at once ...`
//! (the cap follows the memory, see `serve`), `httpd: serving http on
//! A.B.C.D:PORT`, one access-log line per request, `httpd: low on memory:
//! <what>` (once, the first time a connection could not get memory; it is
//! closed and the server keeps going), `httpd: shutting down, served N
//! requests`, `httpd: FAILED: <why>`.
#![no_std]
#![no_main]

extern crate alloc;

mod disk;
mod netup;
mod ready;
mod serve;

use alloc::format;
use alloc::string::String;

use httpd_core::settings::Settings;
// The kernel is reached only through its C symbols (rumpcore-client);
// naming the crate links it into the image.
use rumpcore_kernel as _;
use xen_platform::start_info::cmdline_option;
use xen_platform::{println, sched, BootInfo};

xen_platform::entry!(main);

/// Stack of the thread that sets up the kernel and accepts connections.
const MAIN_STACK_BYTES: usize = 256 * 1024;

fn goodbye(_: &xen_platform::xenbus::ShutdownRequest) {
    println!(
        "httpd: shutting down, served {} requests",
        serve::requests_served()
    );
}

fn main(boot: &BootInfo) {
    rumpuser_xen::init(boot);
    xen_platform::lifecycle::on_shutdown(goodbye);
    let cmdline = boot.cmdline();
    let server = sched::spawn_with_stack("httpd", MAIN_STACK_BYTES, move || {
        if let Err(e) = run(cmdline) {
            println!("httpd: FAILED: {e}");
        }
    });
    match server {
        Ok(thread) => thread.join(),
        Err(e) => println!("httpd: FAILED: no server thread: {e}"),
    }
}

/// Names a failed client call.
fn named<T>(what: &str, r: rumpcore_client::Result<T>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

fn run(cmdline: &'static str) -> Result<(), String> {
    let settings = Settings::from_lookup(|key| cmdline_option(cmdline, key))
        .map_err(|e| format!("command line: {e}"))?;
    named("rump_init", rumpcore_client::boot::init())?;
    let has_disk = match settings.disk.as_deref() {
        Some(dev) => {
            disk::mount(dev)?;
            println!("httpd: document root is the ext2 disk {dev}");
            true
        }
        None => {
            println!("httpd: no disk, serving /healthz and the built-in page");
            false
        }
    };
    let addr = netup::configure(&settings)?;
    serve::serve(addr, settings.port, has_disk)
}

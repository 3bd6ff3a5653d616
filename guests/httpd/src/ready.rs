//! Telling the toolstack the server is up: the console line and the
//! domain's xenstore key `data/rumpx-ready` = `http A.B.C.D:PORT`.

use alloc::format;

use core::net::Ipv4Addr;
use xen_platform::println;
use xen_platform::xenstore::{Tx, XenstoreOps};

/// The readiness key, relative to the domain's home.
const READY_KEY: &str = "data/rumpx-ready";

/// Announces `addr:port`.
pub fn announce(addr: Ipv4Addr, port: u16) {
    println!("httpd: serving http on {addr}:{port}");
    let written = xen_platform::xenstore::xen::xenstore()
        .map_err(|e| format!("{e}"))
        .and_then(|xs| {
            xs.write(Tx::NONE, READY_KEY, &format!("http {addr}:{port}"))
                .map_err(|e| format!("{e}"))
        });
    if let Err(e) = written {
        println!("httpd: could not write {READY_KEY}: {e}");
    }
}

//! The rumpkern guest: the project's Rust rump kernel (rumpcore-kernel)
//! linked with the Xen hypercalls (rumpuser-xen); the kernel reaches Xen
//! only through rumpuser/rumpcomp, and this client reaches the kernel
//! only through NetBSD's client ABI (rumpcore-client). It registers the
//! domain's disk with etfs, mounts it as ext2, prints the FNV-1a digest
//! of each file it was told to read, writes new files of a seeded
//! pattern, fsyncs and unmounts; then it configures `virt0` and serves a
//! TCP echo on port 7 until the toolstack shuts it down.
//!
//! Command line (xl's `extra=`): `ip=A.B.C.D/LEN` or `ip=dhcp`,
//! `disk=xvdX` (default `xvda`; `none`: no file work),
//! `read=NAME[,NAME]` (files in the image's root),
//! `write=NAME:SEED:BYTES[,...]`.
//!
//! Lines: `rumpkern: read NAME bytes N fnv1a64 HEX`, `rumpkern: wrote
//! NAME bytes N fnv1a64 HEX`, `rumpkern: unmounted`, `rumpkern: echo
//! listening on A.B.C.D:7`, `rumpkern: FAILED: <why>`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::sync::atomic::{AtomicU64, Ordering};

use check_data::{Fnv1a, Pattern};
use rumpcore_client::fs::{File, OpenOptions};
use rumpcore_client::net::TcpListener;
use rumpcore_client::{boot, netconfig};
use xen_platform::start_info::cmdline_option;
use xen_platform::{println, sched, BootInfo};

// The kernel behind the client ABI symbols rumpcore-client calls.
extern crate rumpcore_kernel;

xen_platform::entry!(main);

/// Stack of the thread running the rump kernel's client.
const CLIENT_STACK_BYTES: usize = 256 * 1024;
/// The echo port.
const ECHO_PORT: u16 = 7;
/// The interface the platform's first NIC becomes.
const IFNAME: &str = "virt0";

/// Bytes echoed so far (for the goodbye line).
static ECHOED: AtomicU64 = AtomicU64::new(0);

fn goodbye(_: &xen_platform::xenbus::ShutdownRequest) {
    println!(
        "rumpkern: shutting down, echoed {} bytes",
        ECHOED.load(Ordering::Relaxed)
    );
}

fn main(boot: &BootInfo) {
    rumpuser_xen::init(boot);
    xen_platform::lifecycle::on_shutdown(goodbye);
    let cmdline = String::from(boot.cmdline());
    let client = sched::spawn_with_stack("rumpkern", CLIENT_STACK_BYTES, move || {
        if let Err(e) = run(&cmdline) {
            println!("rumpkern: FAILED: {e}");
        }
    });
    match client {
        Ok(thread) => thread.join(),
        Err(e) => panic!("rumpkern: no client thread: {e}"),
    }
}

/// A failed call, named.
fn named<T>(what: &str, r: rumpcore_client::Result<T>) -> Result<T, String> {
    r.map_err(|e| format!("{what}: {e}"))
}

fn run(cmdline: &str) -> Result<(), String> {
    named("rump_init", boot::init())?;
    println!("rumpkern: rump_init ok");
    files_on_disk(cmdline)?;
    echo_server(cmdline)
}

fn files_on_disk(cmdline: &str) -> Result<(), String> {
    let disk = cmdline_option(cmdline, "disk").unwrap_or("xvda");
    if disk == "none" {
        return Ok(());
    }
    let key = format!("/dev/{disk}");
    named("etfs_register", boot::etfs_register_block(&key, disk))?;
    named("mount", boot::mount_ext2(&key, "/mnt", false))?;
    println!("rumpkern: mounted {key} on /mnt");
    for name in cmdline_option(cmdline, "read")
        .unwrap_or("")
        .split(',')
        .filter(|n| !n.is_empty())
    {
        let path = format!("/mnt/{name}");
        let mut file = named(&format!("open {path}"), File::open(&path))?;
        let mut digest = Fnv1a::new();
        let mut total = 0u64;
        let mut buf = vec![0u8; 16384];
        loop {
            let n = named(&format!("read {path}"), file.read(&mut buf))?;
            if n == 0 {
                break;
            }
            digest.update(&buf[..n]);
            total += n as u64;
        }
        drop(file);
        println!(
            "rumpkern: read {name} bytes {total} fnv1a64 {:016x}",
            digest.value()
        );
    }
    for spec in cmdline_option(cmdline, "write")
        .unwrap_or("")
        .split(',')
        .filter(|n| !n.is_empty())
    {
        let parts: Vec<&str> = spec.split(':').collect();
        let [name, seed, bytes] = parts[..] else {
            return Err(format!("bad write spec {spec:?}"));
        };
        let seed: u64 = seed.parse().map_err(|_| format!("bad seed in {spec:?}"))?;
        let bytes: u64 = bytes.parse().map_err(|_| format!("bad size in {spec:?}"))?;
        let path = format!("/mnt/{name}");
        let mut file = named(
            &format!("open {path}"),
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path),
        )?;
        let pattern = Pattern::new(seed);
        let mut digest = Fnv1a::new();
        let mut buf = vec![0u8; 12288];
        let mut at = 0u64;
        while at < bytes {
            let n = (bytes - at).min(buf.len() as u64) as usize;
            pattern.fill(at, &mut buf[..n]);
            named(&format!("write {path}"), file.write_all(&buf[..n]))?;
            digest.update(&buf[..n]);
            at += n as u64;
        }
        named("fsync", file.sync_all())?;
        drop(file);
        println!(
            "rumpkern: wrote {name} bytes {bytes} fnv1a64 {:016x} (fsynced)",
            digest.value()
        );
    }
    named("unmount", boot::unmount("/mnt"))?;
    println!("rumpkern: unmounted");
    Ok(())
}

fn echo_server(cmdline: &str) -> Result<(), String> {
    let Some(ip) = cmdline_option(cmdline, "ip") else {
        println!("rumpkern: no ip= given, no network");
        return Ok(());
    };
    named("ifcreate", netconfig::ifcreate(IFNAME))?;
    named("ifup", netconfig::ifup(IFNAME))?;
    let shown = if ip == "dhcp" {
        named("dhcp", netconfig::dhcp_ipv4_oneshot(IFNAME))?;
        println!("rumpkern: dhcp lease applied");
        String::from("(dhcp address)")
    } else {
        let (addr, len) = ip.split_once('/').unwrap_or((ip, "24"));
        let addr: Ipv4Addr = addr.parse().map_err(|_| format!("bad address {addr:?}"))?;
        let len: u8 = len.parse().map_err(|_| format!("bad prefix {len:?}"))?;
        named("ipv4_ifaddr", netconfig::ipv4_cidr(IFNAME, addr, len))?;
        format!("{addr}")
    };
    let any = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, ECHO_PORT));
    let listener = named("listen", TcpListener::bind_with_backlog(any, 8))?;
    println!("rumpkern: echo listening on {shown}:{ECHO_PORT}");
    loop {
        let (conn, peer) = named("accept", listener.accept())?;
        println!("rumpkern: connection from {peer}");
        let mut buf = vec![0u8; 16384];
        let mut total = 0u64;
        loop {
            let n = match conn.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    println!("rumpkern: recv: {e}");
                    break;
                }
            };
            if let Err(e) = conn.write_all(&buf[..n]) {
                println!("rumpkern: send: {e}");
                break;
            }
            total += n as u64;
            ECHOED.fetch_add(n as u64, Ordering::Relaxed);
        }
        drop(conn);
        println!("rumpkern: connection from {peer} done, echoed {total} bytes");
    }
}

//! The rumpkern guest: the project's Rust rump kernel (rumpcore-kernel)
//! linked with the Xen hypercalls (rumpuser-xen); the kernel reaches Xen
//! only through rumpuser/rumpcomp. It registers the domain's disk with
//! etfs, mounts it as ext2, prints the FNV-1a digest of each file it was
//! told to read, writes new files of a seeded pattern, fsyncs and
//! unmounts; then it configures `virt0` and serves a TCP echo on port 7
//! until the toolstack shuts it down.
//!
//! Command line (xl's `extra=`): `ip=A.B.C.D/LEN` or `ip=dhcp`,
//! `disk=xvdX` (default `xvda`; `none`: no file work), `read=NAME[,NAME]` (files in the image's root), `write=NAME:SEED:BYTES[,...]`.
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
use rumpcore_kernel::fd::File;
use rumpcore_kernel::kernel::{self, syscall};
use rumpcore_kernel::{files, netif, sockcalls};
use xen_platform::start_info::cmdline_option;
use xen_platform::{println, sched, BootInfo};

xen_platform::entry!(main);

/// Stack of the thread running the rump kernel's client.
const CLIENT_STACK_BYTES: usize = 256 * 1024;
/// `open` flags (NetBSD).
const O_RDONLY: i32 = 0;
const O_RDWR: i32 = 2;
const O_CREAT: i32 = 0x200;
const O_TRUNC: i32 = 0x400;
/// `AF_INET`.
const AF_INET: i32 = 2;
/// `SOCK_STREAM`.
const SOCK_STREAM: i32 = 1;
/// RUMP_ETFS_BLK.
const RUMP_ETFS_BLK: i32 = 1;
/// The echo port.
const ECHO_PORT: u16 = 7;

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
fn named<T>(what: &str, r: Result<T, i32>) -> Result<T, String> {
    r.map_err(|errno| format!("{what}: errno {errno}"))
}

fn run(cmdline: &str) -> Result<(), String> {
    named("rump_init", kernel::init())?;
    println!("rumpkern: rump_init ok");
    files_on_disk(cmdline)?;
    echo_server(cmdline)
}

fn open(path: &str, flags: i32) -> Result<i32, String> {
    named(
        &format!("open {path}"),
        syscall(|k| files::open(k, path, flags, 0o644)),
    )
}

fn vnode(fd: i32) -> Result<u32, i32> {
    syscall(|k| match k.file(fd)? {
        File::Vnode(id) => Ok(id),
        File::Socket(_) => Err(29),
    })
}

fn close(fd: i32) -> Result<(), String> {
    named("close", syscall(|k| sockcalls::close(k, fd)))
}

fn files_on_disk(cmdline: &str) -> Result<(), String> {
    let disk = cmdline_option(cmdline, "disk").unwrap_or("xvda");
    if disk == "none" {
        return Ok(());
    }
    let key = format!("/dev/{disk}");
    named(
        "etfs_register",
        syscall(|k| files::etfs_register(k, &key, disk, RUMP_ETFS_BLK)),
    )?;
    named(
        "mount",
        syscall(|k| files::mount(k, "ext2fs", "/mnt", 0, &key)),
    )?;
    println!("rumpkern: mounted {key} on /mnt");
    for name in cmdline_option(cmdline, "read")
        .unwrap_or("")
        .split(',')
        .filter(|n| !n.is_empty())
    {
        let path = format!("/mnt/{name}");
        let fd = open(&path, O_RDONLY)?;
        let id = named("vnode", vnode(fd))?;
        let mut digest = Fnv1a::new();
        let mut total = 0u64;
        let mut buf = vec![0u8; 16384];
        loop {
            let n = named(
                &format!("read {path}"),
                syscall(|k| files::read(k, id, &mut buf, None)),
            )?;
            if n == 0 {
                break;
            }
            digest.update(&buf[..n]);
            total += n as u64;
        }
        close(fd)?;
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
        let fd = open(&path, O_RDWR | O_CREAT | O_TRUNC)?;
        let id = named("vnode", vnode(fd))?;
        let pattern = Pattern::new(seed);
        let mut digest = Fnv1a::new();
        let mut buf = vec![0u8; 12288];
        let mut at = 0u64;
        while at < bytes {
            let n = (bytes - at).min(buf.len() as u64) as usize;
            pattern.fill(at, &mut buf[..n]);
            let mut done = 0;
            while done < n {
                done += named(
                    &format!("write {path}"),
                    syscall(|k| files::write(k, id, &buf[done..n], None)),
                )?;
            }
            digest.update(&buf[..n]);
            at += n as u64;
        }
        named("fsync", syscall(|k| files::fsync(k, id)))?;
        close(fd)?;
        println!(
            "rumpkern: wrote {name} bytes {bytes} fnv1a64 {:016x} (fsynced)",
            digest.value()
        );
    }
    named("unmount", syscall(|k| files::unmount(k, "/mnt")))?;
    println!("rumpkern: unmounted");
    Ok(())
}

fn echo_server(cmdline: &str) -> Result<(), String> {
    let Some(ip) = cmdline_option(cmdline, "ip") else {
        println!("rumpkern: no ip= given, no network");
        return Ok(());
    };
    named("ifcreate", syscall(|k| netif::ifcreate(k, "virt0")))?;
    named("ifup", syscall(|k| netif::ifup(k, "virt0")))?;
    let shown = if ip == "dhcp" {
        named("dhcp", syscall(|k| netif::dhcp_oneshot(k, "virt0")))?;
        println!("rumpkern: dhcp lease applied");
        String::from("(dhcp address)")
    } else {
        let (addr, len) = ip.split_once('/').unwrap_or((ip, "24"));
        let addr: Ipv4Addr = addr.parse().map_err(|_| format!("bad address {addr:?}"))?;
        let len: u8 = len.parse().map_err(|_| format!("bad prefix {len:?}"))?;
        named(
            "ipv4_ifaddr",
            syscall(|k| netif::ipv4_ifaddr_cidr(k, "virt0", addr, len)),
        )?;
        format!("{addr}")
    };
    let s = named(
        "socket",
        syscall(|k| sockcalls::socket(k, AF_INET, SOCK_STREAM, 0)),
    )?;
    let any = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, ECHO_PORT));
    named("bind", syscall(|k| sockcalls::bind(k, s, any)))?;
    named("listen", syscall(|k| sockcalls::listen(k, s, 8)))?;
    println!("rumpkern: echo listening on {shown}:{ECHO_PORT}");
    loop {
        let (c, peer) = named("accept", syscall(|k| sockcalls::accept(k, s)))?;
        println!("rumpkern: connection from {peer}");
        let mut buf = vec![0u8; 16384];
        let mut total = 0u64;
        loop {
            let n = match syscall(|k| sockcalls::recvfrom(k, c, &mut buf)) {
                Ok((0, _)) => break,
                Ok((n, _)) => n,
                Err(e) => {
                    println!("rumpkern: recv: errno {e}");
                    break;
                }
            };
            let mut done = 0;
            while done < n {
                match syscall(|k| sockcalls::sendto(k, c, &buf[done..n], None)) {
                    Ok(m) => done += m,
                    Err(e) => {
                        println!("rumpkern: send: errno {e}");
                        break;
                    }
                }
            }
            total += n as u64;
            ECHOED.fetch_add(n as u64, Ordering::Relaxed);
        }
        let _ = close(c);
        println!("rumpkern: connection from {peer} done, echoed {total} bytes");
    }
}

//! Accepting and serving connections: one platform thread per connection,
//! each driving an httpd-core `Connection` with blocking socket calls, file
//! bodies read in [`CHUNK`]-byte pieces, a request deadline and a lingering
//! close so a refused request's answer is not lost to a reset.
//!
//! Memory: at startup the connection cap is derived from the free memory
//! (httpd-core's `capacity`: what is left beside [`RESERVE_BYTES`], divided
//! by [`PER_CONNECTION_BYTES`], between 1 and [`MAX_CONNECTIONS`]); more
//! connections wait in the kernel's listen backlog, whose SYNs the kernel
//! drops (the client retries) while it has no socket buffers to spare. A
//! connection that still cannot get a thread or its buffer is closed, the
//! server keeps accepting, and the console says `httpd: low on memory:
//! ...` the first time.

use alloc::vec::Vec;
use core::fmt;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use httpd_core::capacity::{connection_cap, Costs};
use httpd_core::log::access_line;
use httpd_core::{Connection, DocRoot, Output, StaticRoot};
use rumpcore_client::net::{self, PollFd, Shutdown, TcpListener, TcpStream, POLLIN};
use rumpuser_abi::errno::ENOBUFS;
use xen_platform::sched::{self, WaitQueue};
use xen_platform::{mm, println, time};

use crate::disk::DiskRoot;
use crate::ready;

/// Connections served at once at most (with memory to spare).
const MAX_CONNECTIONS: usize = 64;
/// What one connection may take: its thread's stack and guard page, its
/// buffer, its socket's buffers (the kernel's largest, 2 x 64 KiB) and a
/// little for its request state and open file.
const PER_CONNECTION_BYTES: usize = CONN_STACK_BYTES + 4096 + CHUNK + 128 * 1024 + 8 * 1024;
/// Memory kept beside the connections: the ext2 block cache (256 blocks,
/// up to 1 MiB), disk requests and read-ahead, the kernel's idle listener
/// and timers, the network driver.
const RESERVE_BYTES: usize = 2 * 1024 * 1024;
/// Listen backlog (connections waiting for a free slot).
const BACKLOG: i32 = 64;
/// Stack of a connection thread (the kernel's calls run on it too).
const CONN_STACK_BYTES: usize = 128 * 1024;
/// Largest piece sent or received at once (and read from a file).
const CHUNK: usize = 32 * 1024;
/// A connection is closed when this long passes after the last response
/// (or its start) without a whole request arriving, however slowly bytes
/// trickle in.
const REQUEST_NS: u64 = 30_000_000_000;
/// How long a closing connection reads and discards what the peer still sends.
const LINGER_NS: u64 = 2_000_000_000;
/// The most a closing connection discards.
const LINGER_BYTES: usize = 256 * 1024;

/// The page served when there is no disk.
const BUILTIN: &[(&str, &[u8])] = &[(
    "/index.html",
    b"<!doctype html>\n<title>rumpx httpd</title>\n<h1>rumpx httpd</h1>\n\
<p>An HTTP/1.1 server in a rump kernel DomU on Xen, written in Rust. \
It was started with <code>disk=none</code>, so only this page and \
<a href=\"/healthz\">/healthz</a> are served.</p>\n",
)];

/// Requests answered (access-log lines written).
static SERVED: AtomicU64 = AtomicU64::new(0);
/// Connection threads alive.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// The acceptor waits here for a free connection slot.
static SLOT_FREE: WaitQueue = WaitQueue::new();
/// Set once the server first ran short of memory.
static LOW_ON_MEMORY: AtomicBool = AtomicBool::new(false);

/// Says once on the console that memory ran short, and what for.
fn low_on_memory(what: fmt::Arguments<'_>) {
    if !LOW_ON_MEMORY.swap(true, Ordering::Relaxed) {
        println!(
            "httpd: low on memory: {what}; such connections are closed, the server keeps accepting"
        );
    }
}

/// Requests answered so far.
pub fn requests_served() -> u64 {
    SERVED.load(Ordering::Relaxed)
}

/// Listens on `port`, announces readiness and serves forever.
pub fn serve(addr: Ipv4Addr, port: u16, has_disk: bool) -> Result<(), alloc::string::String> {
    let any = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
    let listener = TcpListener::bind_with_backlog(any, BACKLOG)
        .map_err(|e| alloc::format!("listen on port {port}: {e}"))?;
    let free = mm::stats().free_bytes;
    let costs = Costs {
        per_connection: PER_CONNECTION_BYTES,
        reserve: RESERVE_BYTES,
    };
    let cap = connection_cap(free, costs, MAX_CONNECTIONS);
    println!(
        "httpd: {} KiB free, serving {cap} connections at once ({} KiB each, {} KiB kept)",
        free / 1024,
        PER_CONNECTION_BYTES / 1024,
        RESERVE_BYTES / 1024
    );
    ready::announce(addr, port);
    loop {
        SLOT_FREE.wait_for(|| ACTIVE.load(Ordering::Acquire) < cap, None);
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e @ rumpcore_client::Error::Errno(ENOBUFS)) => {
                low_on_memory(format_args!("accept: {e}"));
                sched::sleep_ns(10_000_000);
                continue;
            }
            Err(e) => {
                println!("httpd: accept: {e}");
                sched::sleep_ns(10_000_000);
                continue;
            }
        };
        ACTIVE.fetch_add(1, Ordering::AcqRel);
        let spawned = sched::spawn_with_stack("httpd-conn", CONN_STACK_BYTES, move || {
            connection(stream, peer, has_disk);
            ACTIVE.fetch_sub(1, Ordering::AcqRel);
            SLOT_FREE.wake_one();
        });
        // A started thread runs detached; a refused one dropped its stream
        // (closing the connection).
        if let Err(e) = spawned {
            ACTIVE.fetch_sub(1, Ordering::AcqRel);
            low_on_memory(format_args!("no thread for {peer}: {e}"));
            sched::sleep_ns(10_000_000);
        }
    }
}

/// The wall clock for `Date`, if Xen gave one.
fn now() -> Option<u64> {
    let (secs, _) = time::wall_clock();
    (secs > 0).then_some(secs)
}

/// Serves one connection, then closes it.
fn connection(stream: TcpStream, peer: SocketAddr, has_disk: bool) {
    if has_disk {
        drive(&stream, peer, &mut DiskRoot::default());
    } else {
        drive(&stream, peer, &mut StaticRoot::new(BUILTIN, 0));
    }
    linger_close(stream);
}

/// Whether `stream` has something to read (or its end) within `ms`.
fn readable(stream: &TcpStream, ms: i32) -> bool {
    let mut fds = [PollFd::new(stream.as_raw_fd(), POLLIN)];
    matches!(net::poll(&mut fds, ms), Ok(n) if n > 0)
}

/// Runs the HTTP exchange until the server or the peer ends it.
fn drive<R: DocRoot>(stream: &TcpStream, peer: SocketAddr, root: &mut R) {
    let mut buf = Vec::new();
    if buf.try_reserve_exact(CHUNK).is_err() {
        low_on_memory(format_args!("no {} KiB buffer for {peer}", CHUNK / 1024));
        return;
    }
    buf.resize(CHUNK, 0u8);
    let mut conn = Connection::new();
    let mut deadline = time::monotonic_ns() + REQUEST_NS;
    loop {
        let output = conn.next_output(root, now(), &mut buf);
        while let Some(exchange) = conn.take_exchange() {
            SERVED.fetch_add(1, Ordering::Relaxed);
            println!("httpd: {}", access_line(peer, &exchange));
        }
        match output {
            Output::Send(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
                deadline = time::monotonic_ns() + REQUEST_NS;
            }
            Output::NeedInput => {
                let left_ms = deadline.saturating_sub(time::monotonic_ns()) / 1_000_000;
                if left_ms == 0 || !readable(stream, left_ms.min(i32::MAX as u64) as i32) {
                    return;
                }
                match stream.read(&mut buf) {
                    Ok(0) => conn.receive_eof(),
                    Ok(n) => conn.receive(&buf[..n]),
                    Err(_) => return,
                }
            }
            Output::Close => return,
        }
    }
}

/// Ends the sending side, then reads and drops what the peer still sends
/// for a while, so closing with unread bytes does not reset the connection
/// before the peer has read the answer.
fn linger_close(stream: TcpStream) {
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = time::monotonic_ns() + LINGER_NS;
    let mut buf = [0u8; 2048];
    let mut dropped = 0;
    while dropped < LINGER_BYTES {
        let left_ms = deadline.saturating_sub(time::monotonic_ns()) / 1_000_000;
        if left_ms == 0 || !readable(&stream, left_ms as i32) {
            break;
        }
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => dropped += n,
            _ => break,
        }
    }
}

//! The netcheck guest: netfront on vif 0 with a minimal smoltcp stack, for
//! the network tests on Xen. It answers ping, echoes UDP and TCP on port 7,
//! sinks TCP on port 9 (answering "<bytes> <fnv1a64>"), and logs the link
//! going down and coming back (`xl network-detach` / `network-attach`).
//!
//! Command line (xl's `extra=`): `ip=A.B.C.D[/LEN]` (else the vif's `ip=`
//! from the xl config, read from the backend), `gw=A.B.C.D` (optional),
//! `netfront=minimal` (offer no optional netfront features).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod device;
mod services;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use netfront::{Config, LinkState, Netfront};
use smoltcp::iface::{Interface, SocketSet};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address, Ipv4Cidr};
use xen_platform::evtchn::{self, XenEventChannels};
use xen_platform::grant::{self, XenGrantTable};
use xen_platform::mm::shared::XenPageAllocator;
use xen_platform::start_info::cmdline_option;
use xen_platform::xenstore::xen::{self as xs, EvtchnWaiter, XenClient};
use xen_platform::xenstore::{Tx, XenstoreOps};
use xen_platform::{println, sched, time, BootInfo};

use device::VifDevice;
use services::Services;

/// The driver type on Xen.
pub type Vif = Netfront<
    XenEventChannels,
    &'static XenGrantTable,
    XenPageAllocator,
    &'static XenClient<EvtchnWaiter>,
>;

/// Longest the loop sleeps before looking at the link state again.
const XENBUS_POLL_NS: u64 = 100_000_000;

xen_platform::entry!(main);

/// Stack of the network thread: smoltcp's TCP path has deep frames.
const NET_STACK_BYTES: usize = 512 * 1024;

/// What the network loop last saw, for the goodbye lines (the hook cannot
/// reach the loop's state).
static RX_PACKETS: AtomicU64 = AtomicU64::new(0);
static TX_PACKETS: AtomicU64 = AtomicU64::new(0);
static TX_REFUSED: AtomicU64 = AtomicU64::new(0);
static RX_DROPPED: AtomicU64 = AtomicU64::new(0);
static LOOPS: AtomicU64 = AtomicU64::new(0);

/// Called when the toolstack asks the guest to stop: the loop's and the
/// platform's figures.
fn goodbye(_: &xen_platform::xenbus::ShutdownRequest) {
    println!(
        "netcheck: rx {} tx {} tx refused {} rx dropped {} loops {}",
        RX_PACKETS.load(Ordering::Relaxed),
        TX_PACKETS.load(Ordering::Relaxed),
        TX_REFUSED.load(Ordering::Relaxed),
        RX_DROPPED.load(Ordering::Relaxed),
        LOOPS.load(Ordering::Relaxed)
    );
    sched::dump();
    // This small domain's ports are the first few: VIRQ_TIMER, xenstore,
    // console, the vif's.
    for port in 1..8 {
        if let Some(state) = evtchn::port_state(xen_platform::services::Port(port)) {
            println!("netcheck: port {port}: {state}");
        }
    }
    let s = sched::stats();
    println!(
        "netcheck: switches {} halts {} timer events {} nested upcalls {}",
        s.switches,
        s.halts,
        s.timer_events,
        evtchn::nested_upcalls()
    );
}

fn main(boot: &BootInfo) {
    xen_platform::lifecycle::on_shutdown(goodbye);
    let cmdline = String::from(boot.cmdline());
    let net = sched::spawn_with_stack("net", NET_STACK_BYTES, move || {
        if let Err(e) = run(&cmdline) {
            panic!("netcheck: {e}");
        }
    });
    match net {
        Ok(thread) => thread.join(),
        Err(e) => panic!("netcheck: no network thread: {e}"),
    }
}

fn log(args: fmt::Arguments<'_>) {
    println!("netfront: {args}");
}

/// `A.B.C.D` or `A.B.C.D/LEN` (default /24).
fn parse_cidr(s: &str) -> Result<Ipv4Cidr, String> {
    let (addr, len) = s.split_once('/').unwrap_or((s, "24"));
    let addr: Ipv4Address = addr.parse().map_err(|_| format!("bad address {addr:?}"))?;
    let len: u8 = len
        .parse()
        .ok()
        .filter(|&l| l <= 32)
        .ok_or_else(|| format!("bad prefix length {len:?}"))?;
    Ok(Ipv4Cidr::new(addr, len))
}

fn run(cmdline: &str) -> Result<(), String> {
    let store = xs::xenstore().map_err(|e| format!("xenstore: {e}"))?;
    let devices = netfront::vifs(store).map_err(|e| format!("listing vifs: {e}"))?;
    let device = devices
        .into_iter()
        .next()
        .ok_or("no vif: add one to the xl config")?;
    let svc = netfront::Services {
        evtchn: XenEventChannels,
        grants: grant::grant_table().map_err(|e| format!("grant table: {e}"))?,
        pages: XenPageAllocator,
        xenstore: store,
    };
    // smoltcp handles one MTU-sized frame at a time and checks every
    // checksum itself: no GSO, no blank checksums.
    // `netfront=minimal` offers the backend nothing optional (one slot per
    // frame, one event channel).
    let base = match cmdline_option(cmdline, "netfront") {
        Some("minimal") => Config::minimal(),
        _ => Config::default(),
    };
    let config = Config {
        rx_gso_tcpv4: false,
        rx_gso_tcpv6: false,
        rx_csum_offload: false,
        rx_ipv6_csum_offload: false,
        log,
        ..base
    };
    let mut vif = Vif::new(svc, device, config).map_err(|e| format!("vif: {e}"))?;
    vif.connect(Some(time::monotonic_ns() + 30_000_000_000))
        .map_err(|e| format!("vif connect: {e}"))?;
    let mac = vif.mac().ok_or("the backend gave no MAC")?;
    let ip = match cmdline_option(cmdline, "ip") {
        Some(ip) => parse_cidr(ip)?,
        None => {
            let key = format!("{}/ip", vif.backend().path);
            let ip = store
                .read(Tx::NONE, &key)
                .map_err(|e| format!("no ip= on the command line and {key}: {e}"))?;
            parse_cidr(ip.split_whitespace().next().unwrap_or(""))?
        }
    };
    let mut dev = VifDevice::new(vif);
    let now = Instant::from_micros((time::monotonic_ns() / 1000) as i64);
    let mut iface_config =
        smoltcp::iface::Config::new(HardwareAddress::Ethernet(EthernetAddress(mac.0)));
    iface_config.random_seed = time::monotonic_ns()
        ^ u64::from_le_bytes([
            mac.0[0], mac.0[1], mac.0[2], mac.0[3], mac.0[4], mac.0[5], 0x5a, 0xa5,
        ]);
    let mut iface = Interface::new(iface_config, &mut dev, now);
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::Ipv4(ip));
    });
    if let Some(gw) = cmdline_option(cmdline, "gw") {
        let gw: Ipv4Address = gw.parse().map_err(|_| format!("bad gw {gw:?}"))?;
        iface
            .routes_mut()
            .add_default_ipv4_route(gw)
            .map_err(|_| "no room for the default route")?;
    }
    let mut sockets = SocketSet::new(vec![]);
    let mut services = Services::new(&mut sockets);
    println!(
        "netcheck: ready on {} mac {} ip {} (udp+tcp echo 7, tcp sink 9)",
        dev.vif.device().path(),
        mac,
        ip
    );
    serve(&mut dev, &mut iface, &mut sockets, &mut services)
}

/// The event loop: move frames, serve sockets, follow the link state, and
/// sleep until an event on the vif's channels or the stack's next timer.
fn serve(
    dev: &mut VifDevice,
    iface: &mut Interface,
    sockets: &mut SocketSet<'static>,
    services: &mut Services,
) -> Result<(), String> {
    let mut link = dev.vif.state();
    let mut next_xenbus = 0;
    loop {
        let now_ns = time::monotonic_ns();
        let now = Instant::from_micros((now_ns / 1000) as i64);
        let mut moved = false;
        if link == LinkState::Connected {
            moved |= dev.pull().map_err(|e| format!("vif: {e}"))?;
        }
        iface.poll(now, dev, sockets);
        moved |= services.serve(sockets);
        if moved {
            iface.poll(now, dev, sockets);
        }
        if now_ns >= next_xenbus {
            next_xenbus = now_ns + XENBUS_POLL_NS;
            let state = dev.vif.poll_xenbus().unwrap_or_else(|_| dev.vif.state());
            if state != link {
                let c = dev.vif.counters();
                println!("netcheck: link {link:?} -> {state:?} ({c:?})");
                if state == LinkState::Failed {
                    if let Some(e) = dev.vif.last_error() {
                        println!("netcheck: vif failed: {e}");
                    }
                }
                link = state;
            }
        }
        LOOPS.fetch_add(1, Ordering::Relaxed);
        if moved {
            continue;
        }
        // Threads switch only when one blocks, so the goodbye hook (on the
        // lifecycle thread) always sees the snapshot taken before the wait.
        let c = dev.vif.counters();
        RX_PACKETS.store(c.rx_packets, Ordering::Relaxed);
        TX_PACKETS.store(c.tx_packets, Ordering::Relaxed);
        TX_REFUSED.store(dev.tx_refused, Ordering::Relaxed);
        RX_DROPPED.store(c.rx_dropped + dev.rx_overflow, Ordering::Relaxed);
        let delay_ns = iface
            .poll_delay(now, sockets)
            .map_or(XENBUS_POLL_NS, |d| d.total_micros() * 1000)
            .min(XENBUS_POLL_NS);
        if delay_ns == 0 {
            continue;
        }
        let ports = dev.vif.event_channels();
        evtchn::EVENTS.wait_for(
            || match ports {
                Some(netfront::handshake::EventChannels::Single(p)) => evtchn::take_pending(p),
                Some(netfront::handshake::EventChannels::Split { tx, rx }) => {
                    evtchn::take_pending(tx) | evtchn::take_pending(rx)
                }
                None => false,
            },
            Some(now_ns + delay_ns),
        );
    }
}

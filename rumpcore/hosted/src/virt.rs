//! The `virt` network hypercalls over a Unix datagram socket pair (one
//! datagram = one Ethernet frame), or a TAP device when the unit names one
//! (`tap0`, …; needs CAP_NET_ADMIN). A receive thread, a kernel thread per
//! the upcall rule, hands frames to `rump_virtif_virt_deliverpkt`.

use core::ffi::{c_char, c_int, c_void, CStr};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rumpuser_abi::{errno as nb, Iovec, VirtifSc, VirtifUser, VIRT_MAC_LEN};

use crate::hyp;

extern "C" {
    /// Provided by the kernel: take a received frame.
    fn rump_virtif_virt_deliverpkt(sc: *mut VirtifSc, iov: *mut Iovec, n: usize);
}

/// Units whose every create gets an echoing peer ([`virt_loopback_echo`]).
static ECHO_UNITS: Mutex<Option<HashMap<String, ()>>> = Mutex::new(None);
/// Far ends of units created without a prepared wire.
static PEERS: Mutex<Option<HashMap<String, UnixDatagram>>> = Mutex::new(None);

fn with_map<T, R>(
    m: &Mutex<Option<HashMap<String, T>>>,
    f: impl FnOnce(&mut HashMap<String, T>) -> R,
) -> R {
    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(HashMap::new))
}

/// From now on, every `rumpcomp_virt_create(unit)` gets a socket pair
/// whose far end is a thread sending every frame straight back (for
/// tests).
pub fn virt_loopback_echo(unit: &str) {
    with_map(&ECHO_UNITS, |m| m.insert(unit.to_string(), ()));
}

fn echo_wire(unit: &str) -> std::io::Result<OwnedFd> {
    let (ours, peer) = UnixDatagram::pair()?;
    std::thread::Builder::new()
        .name(format!("virt-echo-{unit}"))
        .spawn(move || {
            let mut buf = vec![0u8; 65536];
            // Ends when our side closes (recv gives 0).
            while let Ok(n) = peer.recv(&mut buf) {
                if n == 0 || peer.send(&buf[..n]).is_err() {
                    break;
                }
            }
        })?;
    Ok(ours.into())
}

/// The far end of a unit created without a prepared wire (frames the
/// kernel sends arrive there; datagrams sent there are delivered).
pub fn take_virt_peer(unit: &str) -> Option<UnixDatagram> {
    with_map(&PEERS, |m| m.remove(unit))
}

/// `struct virtif_user`.
struct VirtUser {
    fd: Arc<OwnedFd>,
    dying: Arc<AtomicBool>,
    rx: Option<JoinHandle<()>>,
}

fn open_tap(name: &str) -> Result<OwnedFd, c_int> {
    const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
    // SAFETY: opening a device node.
    let fd = unsafe { libc::open(c"/dev/net/tun".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(crate::errno::last());
    }
    // SAFETY: `fd` is ours.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // struct ifreq: 16-byte name, then short flags, padded to 40 bytes.
    let mut ifr = [0u8; 40];
    let n = name.len().min(15);
    ifr[..n].copy_from_slice(&name.as_bytes()[..n]);
    let flags = (libc::IFF_TAP | libc::IFF_NO_PI) as u16;
    ifr[16..18].copy_from_slice(&flags.to_ne_bytes());
    // SAFETY: TUNSETIFF reads and writes one ifreq.
    if unsafe { libc::ioctl(owned.as_raw_fd(), TUNSETIFF, ifr.as_mut_ptr()) } != 0 {
        return Err(crate::errno::last());
    }
    Ok(owned)
}

fn receive(fd: Arc<OwnedFd>, dying: Arc<AtomicBool>, sc: usize) {
    hyp::become_kernel_thread();
    let mut buf = vec![0u8; 65536];
    while !dying.load(Ordering::SeqCst) {
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, 100) };
        if r <= 0 || dying.load(Ordering::SeqCst) {
            continue;
        }
        // SAFETY: reading into our buffer.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr() as *mut c_void, buf.len()) };
        if n <= 0 {
            if n == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN) {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            continue;
        }
        let mut iov = Iovec {
            base: buf.as_mut_ptr() as *mut c_void,
            len: n as usize,
        };
        // SAFETY: the kernel's entry point with a valid one-piece frame;
        // it copies the data before returning.
        hyp::kernel_call(|| unsafe {
            rump_virtif_virt_deliverpkt(sc as *mut VirtifSc, &mut iov, 1)
        });
    }
}

static MAC_SERIAL: AtomicU8 = AtomicU8::new(1);

/// `rumpcomp_virt_create`: an echoing wire for units named to
/// [`virt_loopback_echo`], a
/// TAP device for `tap*` units, or else a fresh socket pair whose far end
/// [`take_virt_peer`] returns. Fills a locally administered MAC.
///
/// # Safety
/// `unit` NUL-terminated; `mac` writable for 6 bytes; `handle` writable;
/// `sc` valid until destroy.
#[no_mangle]
pub unsafe extern "C" fn rumpcomp_virt_create(
    unit: *const c_char,
    sc: *mut VirtifSc,
    mac: *mut u8,
    handle: *mut *mut VirtifUser,
) -> c_int {
    // SAFETY: NUL-terminated unit name.
    let unit = unsafe { CStr::from_ptr(unit) }
        .to_string_lossy()
        .into_owned();
    let fd = if with_map(&ECHO_UNITS, |m| m.contains_key(&unit)) {
        match echo_wire(&unit) {
            Ok(fd) => fd,
            Err(e) => return crate::errno::from_io(&e),
        }
    } else if unit.starts_with("tap") {
        match open_tap(&unit) {
            Ok(fd) => fd,
            Err(e) => return e,
        }
    } else {
        let Ok((ours, peer)) = UnixDatagram::pair() else {
            return nb::ENOBUFS;
        };
        with_map(&PEERS, |m| m.insert(unit.clone(), peer));
        ours.into()
    };
    let serial = MAC_SERIAL.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let addr: [u8; VIRT_MAC_LEN] = [
        0x02,
        0x72,
        (pid >> 8) as u8,
        pid as u8,
        unit.len() as u8,
        serial,
    ];
    // SAFETY: 6 writable bytes.
    unsafe { core::ptr::copy_nonoverlapping(addr.as_ptr(), mac, VIRT_MAC_LEN) };
    let fd = Arc::new(fd);
    let dying = Arc::new(AtomicBool::new(false));
    let (f2, d2, s) = (fd.clone(), dying.clone(), sc as usize);
    let rx = match std::thread::Builder::new()
        .name(format!("virt-rx-{unit}"))
        .spawn(move || receive(f2, d2, s))
    {
        Ok(h) => h,
        Err(e) => return crate::errno::from_io(&e),
    };
    let u = Box::new(VirtUser {
        fd,
        dying,
        rx: Some(rx),
    });
    // SAFETY: writable out-pointer.
    unsafe { *handle = Box::into_raw(u) as *mut VirtifUser };
    0
}

/// `rumpcomp_virt_send`: gather the iovecs into one frame and send it.
///
/// # Safety
/// A live handle; `iov` has `n` readable entries.
#[no_mangle]
pub unsafe extern "C" fn rumpcomp_virt_send(h: *mut VirtifUser, iov: *mut Iovec, n: usize) {
    // SAFETY: caller's contract.
    let u = unsafe { &*(h as *const VirtUser) };
    let mut frame = Vec::with_capacity(1518);
    for i in 0..n {
        // SAFETY: `n` entries of readable memory.
        let v = unsafe { &*iov.add(i) };
        if v.len > 0 {
            // SAFETY: as above.
            frame.extend_from_slice(unsafe {
                core::slice::from_raw_parts(v.base as *const u8, v.len)
            });
        }
    }
    // Drops on a full peer queue, as a wire would.
    // SAFETY: writing our buffer to our descriptor.
    let _ = unsafe {
        libc::send(
            u.fd.as_raw_fd(),
            frame.as_ptr() as *const c_void,
            frame.len(),
            libc::MSG_DONTWAIT,
        )
    };
}

/// `rumpcomp_virt_dying`: stop delivering (the receive thread ends).
///
/// # Safety
/// A live handle.
#[no_mangle]
pub unsafe extern "C" fn rumpcomp_virt_dying(h: *mut VirtifUser) -> c_int {
    // SAFETY: caller's contract.
    unsafe { &*(h as *const VirtUser) }
        .dying
        .store(true, Ordering::SeqCst);
    0
}

/// `rumpcomp_virt_destroy`: wait for the receive thread (CPU released,
/// since it may need one to finish a delivery) and close the wire.
///
/// # Safety
/// A handle from `rumpcomp_virt_create`, not used again.
#[no_mangle]
pub unsafe extern "C" fn rumpcomp_virt_destroy(h: *mut VirtifUser) {
    // SAFETY: made by `rumpcomp_virt_create`, destroyed once.
    let mut u = unsafe { Box::from_raw(h as *mut VirtUser) };
    u.dying.store(true, Ordering::SeqCst);
    if let Some(rx) = u.rx.take() {
        hyp::blocking(|| {
            let _ = rx.join();
        });
    }
}

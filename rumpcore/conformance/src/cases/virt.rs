//! The `virt` network hypercalls: create (MAC, handle), send a frame, the
//! echo coming back through `rump_virtif_virt_deliverpkt` (defined here,
//! playing the kernel), dying/destroy.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_char, c_void};
use core::sync::atomic::{AtomicU32, Ordering};

use rumpuser_abi::{Iovec, VirtifSc, VirtifUser};

use crate::model;
use crate::spin::Spin;
use crate::sys;
use crate::util::{ensure, sleep_ms, wait_until, CaseResult};
use crate::Config;

/// Frames delivered so far: (softc address, bytes).
static DELIVERED: Spin<Vec<(usize, Vec<u8>)>> = Spin::new(Vec::new());
static NEXT_SEQ: AtomicU32 = AtomicU32::new(1);

/// The kernel's receive entry: copy the frame, check the caller holds a CPU.
///
/// # Safety
/// `iov` points to `n` valid iovecs (the platform's contract).
#[no_mangle]
pub unsafe extern "C" fn rump_virtif_virt_deliverpkt(sc: *mut VirtifSc, iov: *mut Iovec, n: usize) {
    if !model::holds_cpu() {
        model::violation(
            "rump_virtif_virt_deliverpkt called without a rump CPU (or curlwp)".into(),
        );
    }
    let mut frame = Vec::new();
    for i in 0..n {
        // SAFETY: `iov` has `n` entries, each describing readable memory.
        let v = unsafe { &*iov.add(i) };
        if v.len > 0 {
            // SAFETY: as above.
            frame.extend_from_slice(unsafe {
                core::slice::from_raw_parts(v.base as *const u8, v.len)
            });
        }
    }
    DELIVERED.with(|d| {
        if d.len() < 1024 {
            d.push((sc as usize, frame))
        }
    });
}

/// A distinct fake softc per interface the suite creates.
static SOFTCS: [u8; 8] = [0; 8];

struct Vif {
    h: *mut VirtifUser,
    sc: *mut VirtifSc,
    mac: [u8; 6],
}

fn create(cfg: &Config<'_>, which: usize) -> Result<Vif, String> {
    let unit = cfg.virt_unit.unwrap_or("0");
    let mut name = Vec::from(unit.as_bytes());
    name.push(0);
    let sc = &SOFTCS[which] as *const u8 as *mut VirtifSc;
    let mut mac = [0u8; 6];
    let mut h = core::ptr::null_mut();
    // SAFETY: NUL-terminated unit, 6-byte MAC buffer, valid out-pointer.
    let rv = unsafe {
        sys::rumpcomp_virt_create(name.as_ptr() as *const c_char, sc, mac.as_mut_ptr(), &mut h)
    };
    ensure!(rv == 0, "virt_create({unit:?}) failed: {rv}");
    ensure!(!h.is_null(), "virt_create gave a null handle");
    Ok(Vif { h, sc, mac })
}

fn destroy(v: Vif) -> CaseResult {
    // SAFETY: a live handle, destroyed once after dying.
    let rv = unsafe { sys::rumpcomp_virt_dying(v.h) };
    // SAFETY: as above.
    unsafe { sys::rumpcomp_virt_destroy(v.h) };
    ensure!(rv == 0, "virt_dying returned {rv}");
    Ok(())
}

/// A frame from `mac` to broadcast with a marker, as three iovecs.
fn send(v: &Vif, seq: u32) {
    let mut frame = Vec::with_capacity(64);
    frame.extend_from_slice(&[0xff; 6]);
    frame.extend_from_slice(&v.mac);
    frame.extend_from_slice(&[0x88, 0xb5]); // local experimental ethertype
    frame.extend_from_slice(b"rumpuser-conformance");
    frame.extend_from_slice(&seq.to_be_bytes());
    frame.resize(64, 0x5a);
    let p = frame.as_mut_ptr();
    let pieces = [(0usize, 14usize), (14, 20), (34, 30)];
    let mut iov: Vec<Iovec> = pieces
        .iter()
        .map(|&(o, l)| Iovec {
            base: p.wrapping_add(o) as *mut c_void,
            len: l,
        })
        .collect();
    // SAFETY: iovecs into a live frame; the platform copies before returning.
    unsafe { sys::rumpcomp_virt_send(v.h, iov.as_mut_ptr(), iov.len()) };
}

fn echoed(sc: *mut VirtifSc, seq: u32) -> bool {
    let mut marker = Vec::from(&b"rumpuser-conformance"[..]);
    marker.extend_from_slice(&seq.to_be_bytes());
    DELIVERED.with(|d| {
        d.iter().any(|(s, f)| {
            *s == sc as usize
                && f.len() >= 14 + marker.len()
                && f[14..14 + marker.len()] == marker[..]
        })
    })
}

/// create fills in a unicast MAC and gives a handle; destroy takes it back.
pub fn create_case(cfg: &Config<'_>) -> CaseResult {
    let v = create(cfg, 0)?;
    let mac = v.mac;
    destroy(v)?;
    ensure!(mac != [0; 6], "virt_create left the MAC zero");
    ensure!(
        mac[0] & 1 == 0,
        "virt_create gave a multicast MAC {mac:02x?}"
    );
    Ok(())
}

/// Sending frames (scattered over iovecs) returns and does not break the
/// interface.
pub fn send_case(cfg: &Config<'_>) -> CaseResult {
    let v = create(cfg, 1)?;
    for _ in 0..8 {
        send(&v, NEXT_SEQ.fetch_add(1, Ordering::SeqCst));
    }
    sleep_ms(10);
    destroy(v)
}

/// A sent frame comes back through `rump_virtif_virt_deliverpkt` on the
/// interface's softc, delivered by a thread holding a rump CPU.
pub fn echo(cfg: &Config<'_>) -> CaseResult {
    let v = create(cfg, 2)?;
    let seq = NEXT_SEQ.fetch_add(1, Ordering::SeqCst);
    send(&v, seq);
    let ok = wait_until(5_000, || echoed(v.sc, seq));
    let seq2 = NEXT_SEQ.fetch_add(1, Ordering::SeqCst);
    send(&v, seq2);
    let ok2 = wait_until(5_000, || echoed(v.sc, seq2));
    destroy(v)?;
    ensure!(ok, "frame {seq} was not delivered back within 5 s");
    ensure!(ok2, "second frame {seq2} was not delivered back within 5 s");
    Ok(())
}

/// After dying/destroy, a new interface on the same unit works again.
pub fn destroy_case(cfg: &Config<'_>) -> CaseResult {
    for i in 3..6 {
        let v = create(cfg, i).map_err(|e| format!("round {i}: {e}"))?;
        send(&v, NEXT_SEQ.fetch_add(1, Ordering::SeqCst));
        destroy(v)?;
    }
    Ok(())
}

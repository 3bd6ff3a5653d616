//! One of the guest's disks: blkfront on Xen's services, named the way the
//! xl config names it (`xvda`), with the waiting the checks need (on the
//! disk's event channel, with a time limit, never forever).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use blkfront::{BlkOp, BlkRequest, Blkfront, Config, DiskState};
use core::fmt;
use xen_platform::evtchn::{self, XenEventChannels};
use xen_platform::grant::{self, XenGrantTable};
use xen_platform::mm::shared::XenPageAllocator;
use xen_platform::xenbus::Device;
use xen_platform::xenstore::xen::{self as xs, EvtchnWaiter, XenClient};
use xen_platform::{println, time};

/// The driver type on Xen.
type Driver = Blkfront<
    XenEventChannels,
    &'static XenGrantTable,
    XenPageAllocator,
    &'static XenClient<EvtchnWaiter>,
>;

/// Longest a request may take before the check gives up on the disk.
const REQUEST_TIMEOUT_NS: u64 = 60_000_000_000;
/// Longest one wait lasts before the backend's state is looked at again.
const WAIT_SLICE_NS: u64 = 100_000_000;

/// A finished request, as the checks see it.
pub struct Done {
    /// The tag it was submitted with.
    pub tag: u64,
    /// How it went.
    pub result: Result<(), String>,
    /// A read's data.
    pub data: Option<Vec<u8>>,
}

/// An open, connected disk.
pub struct Disk {
    name: String,
    drv: Driver,
}

fn log(args: fmt::Arguments<'_>) {
    println!("blkfront: {args}");
}

/// The name xl gives the vbd numbered `id` (`xvda` is 51712: major 202,
/// 16 minors per disk); the number itself for other schemes.
pub fn vdev_name(id: &str) -> String {
    match id.parse::<u32>() {
        Ok(n) if n >> 8 == 202 && (n & 0xff) >> 4 < 26 => {
            format!("xvd{}", char::from(b'a' + ((n & 0xff) >> 4) as u8))
        }
        _ => id.to_string(),
    }
}

/// Waits on the disk's event channel for at most `WAIT_SLICE_NS`.
fn wait_event(drv: &mut Driver) {
    let port = drv.event_channel();
    evtchn::EVENTS.wait_for(
        || port.is_some_and(evtchn::take_pending),
        Some(time::monotonic_ns() + WAIT_SLICE_NS),
    );
}

impl Disk {
    /// Finds the vbd called `name` (or numbered so) and connects to it.
    pub fn open(name: &str) -> Result<Disk, String> {
        let store = xs::xenstore().map_err(|e| format!("xenstore: {e}"))?;
        let devices = blkfront::vbds(store).map_err(|e| format!("listing vbds: {e}"))?;
        let device: Device = devices
            .into_iter()
            .find(|d| vdev_name(&d.id) == name || d.id == name)
            .ok_or_else(|| format!("no disk {name}: add it to the xl config"))?;
        let svc = blkfront::Services {
            evtchn: XenEventChannels,
            grants: grant::grant_table().map_err(|e| format!("grant table: {e}"))?,
            pages: XenPageAllocator,
            xenstore: store,
        };
        let config = Config {
            log,
            ..Config::default()
        };
        let mut drv = Driver::new(svc, device, config).map_err(|e| format!("{name}: {e}"))?;
        drv.connect(Some(time::monotonic_ns() + 30_000_000_000))
            .map_err(|e| format!("{name}: connect: {e}"))?;
        Ok(Disk {
            name: name.to_string(),
            drv,
        })
    }

    /// The disk's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A line with the disk's size and the features in use.
    pub fn describe(&self) -> String {
        let Some(info) = self.drv.info() else {
            return format!("{} vbd {} not connected", self.name, self.drv.device().id);
        };
        let f = info.features;
        let yes = |b: bool| if b { "yes" } else { "no" };
        let indirect = if f.indirect_segments == 0 {
            "no".to_string()
        } else {
            f.indirect_segments.to_string()
        };
        format!(
            "{} vbd {} bytes {} sector-size {} physical {} read-only {} ring-pages {} ring-size {} indirect {} persistent {} flush {} barrier {} discard {}",
            self.name,
            self.drv.device().id,
            info.capacity_bytes(),
            info.sector_size,
            info.physical_sector_size,
            yes(info.read_only),
            f.ring_pages,
            f.ring_size,
            indirect,
            yes(f.persistent),
            yes(f.flush),
            yes(f.barrier),
            yes(f.discard.is_some())
        )
    }

    /// The counters as "key value" pairs.
    pub fn counters(&self) -> String {
        let c = self.drv.counters();
        format!(
            "reads {} writes {} flushes {} ring-requests {} indirect-requests {} persistent-hits {} grants-mapped {} queue-full {} errors {} io-errors {} violations {} bytes-read {} bytes-written {} grants-held {}",
            c.reads,
            c.writes,
            c.flushes,
            c.ring_requests,
            c.indirect_requests,
            c.persistent_hits,
            c.grants_mapped,
            c.queue_full,
            c.errors,
            c.io_errors,
            c.violations,
            c.bytes_read,
            c.bytes_written,
            self.drv.grants_held()
        )
    }

    /// Bytes the disk holds.
    pub fn capacity(&self) -> u64 {
        self.drv.info().map_or(0, |i| i.capacity_bytes())
    }

    /// The logical sector size.
    pub fn sector_size(&self) -> usize {
        self.drv.info().map_or(512, |i| i.sector_size as usize)
    }

    /// Whether the backend offers the disk read-only.
    pub fn read_only(&self) -> bool {
        self.drv.info().is_some_and(|i| i.read_only)
    }

    /// Requests submitted and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.drv.in_flight()
    }

    fn submit(&mut self, op: BlkOp, tag: u64) -> Result<(), String> {
        self.drv
            .submit(BlkRequest { op, tag })
            .map(|_| ())
            .map_err(|e| format!("{}: submit: {e}", self.name))
    }

    /// Starts reading `len` bytes at `offset`.
    pub fn submit_read(&mut self, offset: u64, len: usize, tag: u64) -> Result<(), String> {
        self.submit(BlkOp::Read { offset, len }, tag)
    }

    /// Starts writing `data` at `offset`.
    pub fn submit_write(&mut self, offset: u64, data: Vec<u8>, tag: u64) -> Result<(), String> {
        self.submit(BlkOp::Write { offset, data }, tag)
    }

    /// Waits until at least one request completes (handing each finished
    /// one to `on_done`); an error when nothing completes within
    /// `REQUEST_TIMEOUT_NS` or the disk fails with requests pending.
    pub fn wait_completions(&mut self, on_done: &mut dyn FnMut(Done)) -> Result<(), String> {
        let deadline = time::monotonic_ns() + REQUEST_TIMEOUT_NS;
        loop {
            let report = self
                .drv
                .poll(|c| {
                    on_done(Done {
                        tag: c.tag,
                        result: c.result.map_err(|e| e.to_string()),
                        data: c.data,
                    })
                })
                .map_err(|e| format!("{}: {e}", self.name))?;
            if report.completed > 0 || self.drv.in_flight() == 0 {
                return Ok(());
            }
            let _ = self.drv.poll_xenbus();
            if time::monotonic_ns() >= deadline {
                return Err(format!(
                    "{}: nothing completed in {} s with {} requests pending (state {:?})",
                    self.name,
                    REQUEST_TIMEOUT_NS / 1_000_000_000,
                    self.drv.in_flight(),
                    self.drv.state()
                ));
            }
            wait_event(&mut self.drv);
        }
    }

    /// Reads `len` bytes at `offset`, waiting for them.
    pub fn read(&mut self, offset: u64, len: usize) -> Result<Vec<u8>, String> {
        let mut buf = alloc::vec![0u8; len];
        self.drv
            .read_blocking(offset, &mut buf, wait_event)
            .map_err(|e| e.to_string())?;
        Ok(buf)
    }

    /// Writes `data` at `offset`, waiting for it.
    pub fn write(&mut self, offset: u64, data: Vec<u8>) -> Result<(), String> {
        self.drv
            .write_blocking(offset, &data, wait_event)
            .map_err(|e| e.to_string())
    }

    /// Flushes the disk's write cache, waiting for it.
    pub fn flush(&mut self) -> Result<(), String> {
        self.drv
            .flush_blocking(wait_event)
            .map_err(|e| format!("{}: flush: {e}", self.name))
    }

    /// Waits until the backend leaves (the disk is no longer connected)
    /// or `deadline_ns` passes; the state it ended in.
    pub fn wait_detached(&mut self, deadline_ns: u64) -> Result<String, String> {
        loop {
            let state = self.drv.poll_xenbus().unwrap_or_else(|_| self.drv.state());
            if state != DiskState::Connected {
                return Ok(format!("{state:?}"));
            }
            if time::monotonic_ns() >= deadline_ns {
                return Err(format!("{}: still connected at the deadline", self.name));
            }
            let _ = self.drv.wait_xenbus(Some(
                (time::monotonic_ns() + WAIT_SLICE_NS).min(deadline_ns),
            ));
        }
    }

    /// Grants the disk holds (ring, persistent pool, pages in flight, and
    /// pages the backend has not let go of yet).
    pub fn grants_held(&self) -> usize {
        self.drv.grants_held()
    }

    /// Follows the backend (which lets go of the pages it mapped once it
    /// closes) until the disk holds no grant or `deadline_ns` passes;
    /// returns how many it still holds.
    pub fn settle_grants(&mut self, deadline_ns: u64) -> usize {
        while self.drv.grants_held() > 0 && time::monotonic_ns() < deadline_ns {
            let slice = (time::monotonic_ns() + WAIT_SLICE_NS).min(deadline_ns);
            let _ = self.drv.wait_xenbus(Some(slice));
        }
        self.drv.grants_held()
    }

    /// Closes the disk: frontend Closed once the backend closed, every
    /// grant ended (waiting up to 30 s for the backend); an error naming
    /// what is still held otherwise.
    pub fn close(&mut self) -> Result<(), String> {
        self.drv.shutdown();
        let deadline = time::monotonic_ns() + 30_000_000_000;
        while !self.drv.is_closed() && time::monotonic_ns() < deadline {
            let slice = (time::monotonic_ns() + WAIT_SLICE_NS).min(deadline);
            let _ = self.drv.wait_xenbus(Some(slice));
        }
        if self.drv.is_closed() {
            Ok(())
        } else {
            Err(format!(
                "{}: not closed after 30 s, {} grants still held",
                self.name,
                self.drv.grants_held()
            ))
        }
    }
}

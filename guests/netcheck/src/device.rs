//! smoltcp's `phy::Device` over a netfront vif: received frames are queued
//! by [`VifDevice::pull`] (one pass over the rx ring); sent frames go to
//! the tx ring, or wait in a backlog while the ring is full (dropping them
//! would cost TCP a retransmission timeout each), and smoltcp is told to
//! hold its frames while the backlog is long.

use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use netfront::{RxChecksum, TxOffload};
use smoltcp::phy::{Checksum, ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::Vif;

/// Frames kept waiting for the stack at most; more are dropped (counted).
const RX_QUEUE_MAX: usize = 512;
/// Frames waiting for room in the tx ring at most; more are dropped.
const TX_BACKLOG_MAX: usize = 256;
/// With this many frames waiting, smoltcp is asked to hold its own.
const TX_BACKLOG_PAUSE: usize = 64;

/// A vif as smoltcp sees it.
pub struct VifDevice {
    /// The driver.
    pub vif: Vif,
    rx: VecDeque<Vec<u8>>,
    tx_backlog: VecDeque<Vec<u8>>,
    /// Frames dropped because the stack fell behind.
    pub rx_overflow: u64,
    /// Frames dropped on the way out (backlog full, or the vif refused
    /// them for good: link down, invalid frame).
    pub tx_refused: u64,
}

impl VifDevice {
    /// Wraps a connected vif.
    pub fn new(vif: Vif) -> Self {
        VifDevice {
            vif,
            rx: VecDeque::new(),
            tx_backlog: VecDeque::new(),
            rx_overflow: 0,
            tx_refused: 0,
        }
    }

    /// Takes what the backend sent and completes sent frames; returns
    /// whether anything happened.
    pub fn pull(&mut self) -> Result<bool, netfront::NetError> {
        let rx = &mut self.rx;
        let overflow = &mut self.rx_overflow;
        let report = self.vif.poll(|frame| {
            // Frames from a local sender may carry a blank checksum; this
            // vif asks for none of those (rx_csum_offload off), so every
            // frame is checked by the stack.
            debug_assert!(frame.meta.csum != RxChecksum::Blank);
            if rx.len() < RX_QUEUE_MAX {
                rx.push_back(frame.data.to_vec());
            } else {
                *overflow += 1;
            }
        })?;
        let sent = self.flush_backlog();
        Ok(report.rx_frames > 0 || report.tx_completed > 0 || report.more_pending || sent)
    }

    /// Sends backlogged frames while the ring has room; returns whether any
    /// went out.
    fn flush_backlog(&mut self) -> bool {
        let mut sent = false;
        while let Some(frame) = self.tx_backlog.front() {
            match self.vif.send(&[frame], TxOffload::default()) {
                Ok(()) => {
                    self.tx_backlog.pop_front();
                    sent = true;
                }
                Err(netfront::NetError::Busy(_)) => break,
                Err(_) => {
                    self.tx_backlog.pop_front();
                    self.tx_refused += 1;
                }
            }
        }
        sent
    }

    /// Sends `frame` now, or queues it behind the backlog.
    fn send(&mut self, frame: Vec<u8>) {
        if self.tx_backlog.is_empty() {
            match self.vif.send(&[&frame], TxOffload::default()) {
                Ok(()) => return,
                Err(netfront::NetError::Busy(_)) => {}
                Err(_) => {
                    self.tx_refused += 1;
                    return;
                }
            }
        }
        if self.tx_backlog.len() < TX_BACKLOG_MAX {
            self.tx_backlog.push_back(frame);
        } else {
            self.tx_refused += 1;
        }
    }
}

/// A received frame for smoltcp.
pub struct Rx(Vec<u8>);

/// Permission to send one frame.
pub struct Tx<'a>(&'a mut VifDevice);

impl smoltcp::phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl smoltcp::phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0u8; len];
        let r = f(&mut frame);
        self.0.send(frame);
        r
    }
}

impl Device for VifDevice {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx, Tx<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((Rx(frame), Tx(self)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        (self.tx_backlog.len() < TX_BACKLOG_PAUSE).then_some(Tx(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 14 + usize::from(self.vif.mtu().unwrap_or(1500));
        caps.max_burst_size = Some(64);
        let mut csum = ChecksumCapabilities::default();
        csum.ipv4 = Checksum::Both;
        csum.tcp = Checksum::Both;
        csum.udp = Checksum::Both;
        caps.checksum = csum;
        caps
    }
}

//! The way frames leave an interface ([`Link`]) and smoltcp's
//! `phy::Device` over it: received frames wait in a queue until
//! [`crate::Stack::poll`].

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use smoltcp::phy::{Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Received frames kept waiting for a poll at most; more are dropped.
const RX_QUEUE_MAX: usize = 1024;

/// Where an interface's outgoing Ethernet frames go (the kernel's
/// `rumpcomp_virt_send`, a test wire).
pub trait Link: Send {
    /// Sends one complete Ethernet frame (no FCS).
    fn send(&mut self, frame: &[u8]);
}

/// One interface's frames as smoltcp sees them.
pub(crate) struct LinkDevice {
    pub(crate) rx: VecDeque<Vec<u8>>,
    pub(crate) link: Box<dyn Link>,
    pub(crate) mtu: usize,
    /// Frames dropped because the queue was full, the interface down or
    /// a SYN found its listener's backlog full.
    pub(crate) rx_dropped: u64,
    /// Frames sent.
    pub(crate) tx_frames: u64,
}

impl LinkDevice {
    pub(crate) fn new(link: Box<dyn Link>, mtu: usize) -> Self {
        LinkDevice {
            rx: VecDeque::new(),
            link,
            mtu,
            rx_dropped: 0,
            tx_frames: 0,
        }
    }

    pub(crate) fn push(&mut self, frame: &[u8]) {
        if self.rx.len() < RX_QUEUE_MAX {
            self.rx.push_back(frame.to_vec());
        } else {
            self.rx_dropped += 1;
        }
    }
}

/// A received frame.
pub(crate) struct Rx(Vec<u8>);

/// Permission to send one frame.
pub(crate) struct Tx<'a>(&'a mut dyn Link, &'a mut u64);

impl smoltcp::phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl smoltcp::phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0u8; len];
        let r = f(&mut frame);
        self.0.send(&frame);
        *self.1 += 1;
        r
    }
}

impl Device for LinkDevice {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Rx, Tx<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((Rx(frame), Tx(&mut *self.link, &mut self.tx_frames)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut *self.link, &mut self.tx_frames))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 14 + self.mtu;
        caps.max_burst_size = Some(64);
        caps
    }
}

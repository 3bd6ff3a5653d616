//! The xenstore half of the netif handshake (`io/netif.h` "feature" and
//! "ring" keys, docs/misc/xenstore-paths): reading the backend's `mac`,
//! `mtu` and `feature-*` keys, and writing the frontend's ring references,
//! event channels and features in one transaction.

use alloc::format;
use alloc::string::String;

use xen_platform::services::Port;
use xen_platform::xenbus::{Backend, Device};
use xen_platform::xenstore::wire::parse_decimal;
use xen_platform::xenstore::{self, Tx, XenstoreOps, XsError};

use crate::config::{BackendFeatures, Config, Mac};
use crate::error::NetError;

/// Default MTU when the toolstack wrote none (`ETH_DATA_LEN`).
pub const DEFAULT_MTU: u16 = 1500;
/// Smallest MTU accepted from the toolstack (IPv4's minimum).
pub const MIN_MTU: u16 = 68;

/// What the frontend learns from xenstore before connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    /// The backend's features.
    pub features: BackendFeatures,
    /// The vif's MAC (`mac` of the device, else of the backend).
    pub mac: Mac,
    /// The vif's MTU (`mtu` of the backend, else of the device, else 1500).
    pub mtu: u16,
}

/// The event channels a vif uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventChannels {
    /// One channel for both directions (`event-channel`).
    Single(Port),
    /// `event-channel-tx` and `event-channel-rx`.
    Split {
        /// Tx requests and responses.
        tx: Port,
        /// Rx requests and responses.
        rx: Port,
    },
}

impl EventChannels {
    /// The tx channel.
    pub fn tx(&self) -> Port {
        match *self {
            EventChannels::Single(p) | EventChannels::Split { tx: p, .. } => p,
        }
    }

    /// The rx channel.
    pub fn rx(&self) -> Port {
        match *self {
            EventChannels::Single(p) | EventChannels::Split { rx: p, .. } => p,
        }
    }
}

/// What the frontend writes to connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrontKeys {
    /// `tx-ring-ref`.
    pub tx_ring_ref: u32,
    /// `rx-ring-ref`.
    pub rx_ring_ref: u32,
    /// `event-channel` or the split pair.
    pub evtchn: EventChannels,
}

/// Reads an optional boolean key (absent = false; any decimal, non-zero
/// = true). Anything else is the backend's fault.
fn read_flag<S: XenstoreOps + ?Sized>(xs: &S, dir: &str, key: &str) -> Result<bool, NetError> {
    match xs.read(Tx::NONE, &format!("{dir}/{key}")) {
        Ok(v) => parse_decimal(&v)
            .map(|n| n != 0)
            .ok_or(NetError::PeerMisbehaved(
                "backend feature key is not a number",
            )),
        Err(XsError::NoEnt) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Reads an optional key (absent = `None`).
fn read_opt<S: XenstoreOps + ?Sized>(xs: &S, path: &str) -> Result<Option<String>, NetError> {
    match xs.read(Tx::NONE, path) {
        Ok(v) => Ok(Some(v)),
        Err(XsError::NoEnt) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Reads the backend's `feature-*` keys.
pub fn read_features<S: XenstoreOps + ?Sized>(
    xs: &S,
    backend: &Backend,
) -> Result<BackendFeatures, NetError> {
    let dir = backend.path.as_str();
    Ok(BackendFeatures {
        rx_copy: read_flag(xs, dir, "feature-rx-copy")?,
        sg: read_flag(xs, dir, "feature-sg")?,
        gso_tcpv4: read_flag(xs, dir, "feature-gso-tcpv4")?,
        gso_tcpv6: read_flag(xs, dir, "feature-gso-tcpv6")?,
        ipv6_csum_offload: read_flag(xs, dir, "feature-ipv6-csum-offload")?,
        split_event_channels: read_flag(xs, dir, "feature-split-event-channels")?,
    })
}

/// Reads the features, MAC and MTU; a backend without `feature-rx-copy`
/// is [`NetError::Unsupported`].
pub fn read_backend_info<S: XenstoreOps + ?Sized>(
    xs: &S,
    dev: &Device,
    backend: &Backend,
) -> Result<BackendInfo, NetError> {
    let features = read_features(xs, backend)?;
    if !features.rx_copy {
        return Err(NetError::Unsupported("backend lacks feature-rx-copy"));
    }
    let mac = match read_opt(xs, &format!("{}/mac", dev.path()))? {
        Some(m) => Some(m),
        None => read_opt(xs, &format!("{}/mac", backend.path))?,
    };
    let mac = mac
        .as_deref()
        .map(|m| Mac::parse(m).ok_or(NetError::PeerMisbehaved("mac is not a MAC address")))
        .transpose()?
        .ok_or(NetError::PeerMisbehaved("no mac key for the vif"))?;
    let mtu = match read_opt(xs, &format!("{}/mtu", backend.path))? {
        Some(m) => Some(m),
        None => read_opt(xs, &format!("{}/mtu", dev.path()))?,
    };
    let mtu = match mtu {
        None => DEFAULT_MTU,
        Some(m) => parse_decimal(&m)
            .and_then(|n| u16::try_from(n).ok())
            .filter(|&n| n >= MIN_MTU)
            .ok_or(NetError::PeerMisbehaved("mtu is not a usable MTU"))?,
    };
    Ok(BackendInfo { features, mac, mtu })
}

fn flag(on: bool) -> &'static str {
    if on {
        "1"
    } else {
        "0"
    }
}

/// Writes the frontend's keys to `device/vif/<id>` in one transaction
/// (retried on conflicts).
pub fn write_front_keys<S: XenstoreOps + ?Sized>(
    xs: &S,
    dev: &Device,
    keys: &FrontKeys,
    config: &Config,
) -> Result<(), XsError> {
    let dir = dev.path();
    xenstore::transaction(xs, |tx| {
        // The device must still exist: do not recreate a removed one.
        xs.read(tx, &dir)?;
        let w = |key: &str, value: &str| xs.write(tx, &format!("{dir}/{key}"), value);
        // Removing a key that is not there is fine.
        let rm = |key: &str| match xs.rm(tx, &format!("{dir}/{key}")) {
            Ok(()) | Err(XsError::NoEnt) => Ok(()),
            Err(e) => Err(e),
        };
        w("tx-ring-ref", &format!("{}", keys.tx_ring_ref))?;
        w("rx-ring-ref", &format!("{}", keys.rx_ring_ref))?;
        match keys.evtchn {
            EventChannels::Single(p) => {
                w("event-channel", &format!("{}", p.0))?;
                // Stale split keys of an earlier connection would confuse
                // the backend.
                rm("event-channel-tx")?;
                rm("event-channel-rx")?;
            }
            EventChannels::Split { tx: t, rx: r } => {
                w("event-channel-tx", &format!("{}", t.0))?;
                w("event-channel-rx", &format!("{}", r.0))?;
                rm("event-channel")?;
            }
        }
        w("request-rx-copy", "1")?;
        w("feature-rx-notify", "1")?;
        w("feature-sg", flag(config.sg))?;
        w("feature-gso-tcpv4", flag(config.gso_tcpv4()))?;
        w("feature-gso-tcpv6", flag(config.gso_tcpv6()))?;
        w("feature-no-csum-offload", flag(!config.rx_csum_offload))?;
        w(
            "feature-ipv6-csum-offload",
            flag(config.ipv6_csum_offload()),
        )?;
        Ok(())
    })
}

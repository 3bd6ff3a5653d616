//! What a vif offers and what its backend offers: the frontend's [`Config`]
//! (turned into the `feature-*` keys it writes), the backend's
//! [`BackendFeatures`] (read from its `feature-*` keys), and the [`Mac`].

use core::fmt;

/// A link-level (Ethernet) address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Parses the toolstack's `mac` value: six two-digit hex bytes
    /// separated by `:` (`00:16:3e:12:34:56`).
    pub fn parse(s: &str) -> Option<Mac> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in out.iter_mut() {
            let p = parts.next()?;
            if p.len() != 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            *byte = u8::from_str_radix(p, 16).ok()?;
        }
        parts.next().is_none().then_some(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// The logging hook (one line per device event) and its silent default,
/// shared by every frontend driver.
pub use xen_platform::frontend::{no_log, LogFn};

/// What the frontend offers the backend. The default offers everything
/// netfront supports; turning a feature off writes the key as `0` (or
/// `feature-no-csum-offload` as `1`).
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Accept received frames spread over several slots (`feature-sg`);
    /// without it every received frame fits one page.
    pub sg: bool,
    /// Accept received TCPv4 GSO frames up to 64 KiB (`feature-gso-tcpv4`,
    /// only with `sg`).
    pub rx_gso_tcpv4: bool,
    /// Accept received TCPv6 GSO frames (`feature-gso-tcpv6`, only with
    /// `sg`).
    pub rx_gso_tcpv6: bool,
    /// Accept received frames whose checksum is blank
    /// (`feature-no-csum-offload` = 0); they come flagged
    /// [`RxChecksum::Blank`](crate::RxChecksum::Blank).
    pub rx_csum_offload: bool,
    /// The same for IPv6 frames (`feature-ipv6-csum-offload`).
    pub rx_ipv6_csum_offload: bool,
    /// Use separate tx and rx event channels when the backend offers
    /// `feature-split-event-channels`.
    pub split_event_channels: bool,
    /// Where link events (connect, detach, violations) are logged.
    pub log: LogFn,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            sg: true,
            rx_gso_tcpv4: true,
            rx_gso_tcpv6: true,
            rx_csum_offload: true,
            rx_ipv6_csum_offload: true,
            split_event_channels: true,
            log: no_log,
        }
    }
}

impl Config {
    /// The most conservative frontend: one slot per frame, no GSO, no
    /// checksum offload, one event channel.
    pub fn minimal() -> Config {
        Config {
            sg: false,
            rx_gso_tcpv4: false,
            rx_gso_tcpv6: false,
            rx_csum_offload: false,
            rx_ipv6_csum_offload: false,
            split_event_channels: false,
            log: no_log,
        }
    }

    /// Whether received TCPv4 GSO frames are accepted (as written).
    pub fn gso_tcpv4(&self) -> bool {
        self.sg && self.rx_gso_tcpv4
    }

    /// Whether received TCPv6 GSO frames are accepted (as written).
    pub fn gso_tcpv6(&self) -> bool {
        self.sg && self.rx_gso_tcpv6
    }

    /// Whether received IPv6 frames may have a blank checksum (as written).
    pub fn ipv6_csum_offload(&self) -> bool {
        self.rx_csum_offload && self.rx_ipv6_csum_offload
    }
}

/// What the backend offers, from its `feature-*` keys (absent = off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BackendFeatures {
    /// `feature-rx-copy`: the backend copies into our rx pages (required).
    pub rx_copy: bool,
    /// `feature-sg`: the backend takes frames over several tx slots.
    pub sg: bool,
    /// `feature-gso-tcpv4`: the backend takes TCPv4 GSO frames.
    pub gso_tcpv4: bool,
    /// `feature-gso-tcpv6`: the backend takes TCPv6 GSO frames.
    pub gso_tcpv6: bool,
    /// `feature-ipv6-csum-offload`: the backend fills in blank IPv6
    /// checksums (IPv4 ones it always does).
    pub ipv6_csum_offload: bool,
    /// `feature-split-event-channels`: separate tx and rx channels.
    pub split_event_channels: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn macs_parse_strictly() {
        let m = Mac::parse("00:16:3e:0A:ff:01").unwrap();
        assert_eq!(m, Mac([0, 0x16, 0x3e, 0x0a, 0xff, 0x01]));
        assert_eq!(format!("{m}"), "00:16:3e:0a:ff:01");
        for bad in [
            "",
            "00:16:3e:0a:ff",
            "00:16:3e:0a:ff:01:02",
            "0:16:3e:0a:ff:01",
            "00:16:3e:0a:ff:0g",
            "00-16-3e-0a-ff-01",
            "+0:16:3e:0a:ff:01",
            "00:16:3e:0a:ff:01:",
        ] {
            assert_eq!(Mac::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn gso_needs_sg() {
        let c = Config {
            sg: false,
            ..Config::default()
        };
        assert!(!c.gso_tcpv4() && !c.gso_tcpv6());
        assert!(Config::default().gso_tcpv4());
        assert!(!Config::minimal().ipv6_csum_offload());
    }
}

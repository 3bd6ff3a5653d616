//! The httpd guest's command line (xl's `extra=`): `ip=A.B.C.D/LEN` or
//! `ip=dhcp`, `gw=A.B.C.D`, `port=N` (default 80), `disk=xvdX` (default
//! `xvda`, `none` for no disk). Values are looked up by the caller (the
//! platform's command-line parser) and checked here.

use alloc::string::String;
use core::fmt;
use core::net::Ipv4Addr;

/// How the interface gets its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// `ip=A.B.C.D/LEN` (LEN defaults to 24).
    Static(Ipv4Addr, u8),
    /// `ip=dhcp`.
    Dhcp,
    /// No `ip=`: the vif's `ip` key in xenstore, else DHCP.
    FromToolstack,
}

/// The server's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Interface addressing.
    pub addressing: Addressing,
    /// Default IPv4 gateway (`gw=`).
    pub gateway: Option<Ipv4Addr>,
    /// TCP port served.
    pub port: u16,
    /// The block device holding the document root (`None`: `disk=none`).
    pub disk: Option<String>,
}

/// A command-line value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsError {
    /// `ip=` is neither `dhcp` nor `A.B.C.D[/LEN]` with LEN 0..=32.
    BadIp(String),
    /// `gw=` is not an IPv4 address.
    BadGateway(String),
    /// `port=` is not 1..=65535.
    BadPort(String),
    /// `disk=` is not `none` or a device name of letters and digits.
    BadDisk(String),
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::BadIp(v) => write!(f, "ip={v:?}: want dhcp or A.B.C.D/LEN"),
            SettingsError::BadGateway(v) => write!(f, "gw={v:?}: want A.B.C.D"),
            SettingsError::BadPort(v) => write!(f, "port={v:?}: want 1..65535"),
            SettingsError::BadDisk(v) => write!(f, "disk={v:?}: want none or a device like xvda"),
        }
    }
}

/// Parses `A.B.C.D[/LEN]` (LEN defaults to 24), as `ip=` takes it and as
/// the toolstack writes a vif's `ip` key (which may list several
/// addresses separated by spaces: the first is used).
pub fn parse_cidr(value: &str) -> Option<(Ipv4Addr, u8)> {
    let first = value.split_whitespace().next()?;
    let (addr, len) = first.split_once('/').unwrap_or((first, "24"));
    let addr: Ipv4Addr = addr.parse().ok()?;
    let len: u8 = len.parse().ok().filter(|l| *l <= 32)?;
    Some((addr, len))
}

impl Settings {
    /// The settings from a command line, through `lookup(key)` giving the
    /// value of `key=` if present.
    pub fn from_lookup<'a>(
        lookup: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Self, SettingsError> {
        let addressing = match lookup("ip") {
            None => Addressing::FromToolstack,
            Some("dhcp") => Addressing::Dhcp,
            Some(v) => {
                let (addr, len) = parse_cidr(v)
                    .filter(|_| !v.contains(' '))
                    .ok_or_else(|| SettingsError::BadIp(v.into()))?;
                Addressing::Static(addr, len)
            }
        };
        let gateway = match lookup("gw") {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| SettingsError::BadGateway(v.into()))?),
        };
        let port = match lookup("port") {
            None => 80,
            Some(v) => v
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| SettingsError::BadPort(v.into()))?,
        };
        let disk = match lookup("disk") {
            None => Some(String::from("xvda")),
            Some("none") => None,
            Some(v)
                if !v.is_empty()
                    && v.len() <= 16
                    && v.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                Some(v.into())
            }
            Some(v) => return Err(SettingsError::BadDisk(v.into())),
        };
        Ok(Settings {
            addressing,
            gateway,
            port,
            disk,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &'static str) -> Result<Settings, SettingsError> {
        Settings::from_lookup(|key| {
            line.split_whitespace().find_map(|kv| {
                kv.split_once('=')
                    .filter(|(k, _)| *k == key)
                    .map(|(_, v)| v)
            })
        })
    }

    #[test]
    fn defaults_and_values() {
        let s = parse("").unwrap();
        assert_eq!(s.addressing, Addressing::FromToolstack);
        assert_eq!(
            (s.gateway, s.port, s.disk.as_deref()),
            (None, 80, Some("xvda"))
        );
        let s = parse("ip=10.99.0.20/24 gw=10.99.0.1 port=8080 disk=none").unwrap();
        assert_eq!(
            s.addressing,
            Addressing::Static(Ipv4Addr::new(10, 99, 0, 20), 24)
        );
        assert_eq!(s.gateway, Some(Ipv4Addr::new(10, 99, 0, 1)));
        assert_eq!((s.port, s.disk), (8080, None));
        assert_eq!(
            parse("ip=dhcp disk=xvdb").unwrap().addressing,
            Addressing::Dhcp
        );
        assert_eq!(
            parse("ip=10.0.0.1").unwrap().addressing,
            Addressing::Static(Ipv4Addr::new(10, 0, 0, 1), 24)
        );
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(
            parse("ip=10.0.0/24"),
            Err(SettingsError::BadIp("10.0.0/24".into()))
        );
        assert_eq!(
            parse("ip=10.0.0.1/33"),
            Err(SettingsError::BadIp("10.0.0.1/33".into()))
        );
        assert_eq!(parse("gw=x"), Err(SettingsError::BadGateway("x".into())));
        assert_eq!(parse("port=0"), Err(SettingsError::BadPort("0".into())));
        assert_eq!(
            parse("port=65536"),
            Err(SettingsError::BadPort("65536".into()))
        );
        assert_eq!(
            parse("disk=../x"),
            Err(SettingsError::BadDisk("../x".into()))
        );
        assert_eq!(parse("disk="), Err(SettingsError::BadDisk("".into())));
    }

    #[test]
    fn toolstack_ip_key() {
        assert_eq!(
            parse_cidr("10.99.0.21"),
            Some((Ipv4Addr::new(10, 99, 0, 21), 24))
        );
        assert_eq!(
            parse_cidr("10.99.0.21/16 10.1.1.1"),
            Some((Ipv4Addr::new(10, 99, 0, 21), 16))
        );
        assert_eq!(parse_cidr(""), None);
        assert_eq!(parse_cidr("fe80::1"), None);
    }
}

//! What the platform hands a guest's `main`: the command line and memory map
//! from the PVH start info (`arch-x86/hvm/start_info.h`) and the Xen version
//! (`version.h`, `XENVER_version`).

use crate::start_info::MemoryMap;
use core::fmt;

/// The Xen version, as returned by `XENVER_version` (major in the upper 16
/// bits, minor in the lower 16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct XenVersion {
    /// Major version.
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl XenVersion {
    /// Decodes the return value of `XENVER_version`.
    pub const fn from_raw(raw: u32) -> Self {
        Self {
            major: (raw >> 16) as u16,
            minor: (raw & 0xffff) as u16,
        }
    }
}

impl fmt::Display for XenVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Boot information for the guest's `main`.
#[derive(Debug, Clone, Copy)]
pub struct BootInfo {
    cmdline: &'static str,
    memory_map: MemoryMap<'static>,
    xen_version: XenVersion,
}

impl BootInfo {
    /// Assembles boot information (done by the platform's start code).
    pub const fn new(
        cmdline: &'static str,
        memory_map: MemoryMap<'static>,
        xen_version: XenVersion,
    ) -> Self {
        Self {
            cmdline,
            memory_map,
            xen_version,
        }
    }

    /// The command line (for xl guests, the `extra=` string).
    pub fn cmdline(&self) -> &'static str {
        self.cmdline
    }

    /// The memory map from the start info (empty if none was provided).
    pub fn memory_map(&self) -> &MemoryMap<'static> {
        &self.memory_map
    }

    /// Total RAM in bytes according to the start-info memory map.
    pub fn total_ram(&self) -> u64 {
        self.memory_map.total_ram()
    }

    /// The version of the Xen we run on.
    pub fn xen_version(&self) -> XenVersion {
        self.xen_version
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_decodes_major_minor() {
        let v = XenVersion::from_raw(0x0004_0011);
        assert_eq!(
            v,
            XenVersion {
                major: 4,
                minor: 17
            }
        );
        assert_eq!(v.to_string(), "4.17");
    }
}

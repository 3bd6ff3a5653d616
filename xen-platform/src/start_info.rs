//! PVH start info (`arch-x86/hvm/start_info.h`): checks `hvm_start_info`,
//! extracts the command line and sums the memory map
//! (`hvm_memmap_table_entry`). Pure logic, tested on the host; reading guest
//! physical memory happens in the arch boot code.

use core::fmt;
use xen_abi::{
    hvm_memmap_table_entry, hvm_start_info, XEN_HVM_MEMMAP_TYPE_RAM, XEN_HVM_START_MAGIC_VALUE,
};

/// Why a start-info structure was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartInfoError {
    /// `magic` is not `XEN_HVM_START_MAGIC_VALUE`.
    BadMagic(u32),
}

impl fmt::Display for StartInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartInfoError::BadMagic(m) => write!(
                f,
                "bad hvm_start_info magic {m:#x} (expected {XEN_HVM_START_MAGIC_VALUE:#x})"
            ),
        }
    }
}

/// Checks the magic of a start-info structure.
pub fn check(info: &hvm_start_info) -> Result<(), StartInfoError> {
    if info.magic == XEN_HVM_START_MAGIC_VALUE {
        Ok(())
    } else {
        Err(StartInfoError::BadMagic(info.magic))
    }
}

/// Where the memory map is, if the structure has one: `(memmap_paddr,
/// memmap_entries)`. Only version 1 and newer carry the fields.
pub fn memmap_location(info: &hvm_start_info) -> Option<(u64, usize)> {
    if info.version >= 1 && info.memmap_paddr != 0 && info.memmap_entries != 0 {
        Some((info.memmap_paddr, info.memmap_entries as usize))
    } else {
        None
    }
}

/// The command line in `bytes` (which start at `cmdline_paddr`): everything
/// up to the first NUL, cut at the first byte that is not valid UTF-8.
pub fn cmdline_from_bytes(bytes: &[u8]) -> &str {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let bytes = &bytes[..end];
    match core::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    }
}

/// The value of `key=value` among the space-separated words of a command
/// line (the last one wins); `Some("")` for a bare `key`.
pub fn cmdline_option<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    cmdline
        .split_ascii_whitespace()
        .filter_map(|word| match word.split_once('=') {
            Some((k, v)) if k == key => Some(v),
            None if word == key => Some(""),
            _ => None,
        })
        .next_back()
}

/// The PVH memory map handed over in the start info.
#[derive(Clone, Copy)]
pub struct MemoryMap<'a> {
    entries: &'a [hvm_memmap_table_entry],
}

impl<'a> MemoryMap<'a> {
    /// Wraps the entries of a memory map.
    pub const fn new(entries: &'a [hvm_memmap_table_entry]) -> Self {
        Self { entries }
    }

    /// An empty memory map (none was provided).
    pub const fn empty() -> Self {
        Self { entries: &[] }
    }

    /// The raw entries.
    pub fn entries(&self) -> &'a [hvm_memmap_table_entry] {
        self.entries
    }

    /// The RAM regions as `(addr, size)` pairs.
    pub fn ram_regions(&self) -> impl Iterator<Item = (u64, u64)> + 'a {
        self.entries
            .iter()
            .filter(|e| e.type_ == XEN_HVM_MEMMAP_TYPE_RAM)
            .map(|e| (e.addr, e.size))
    }

    /// Total bytes of RAM (`XEN_HVM_MEMMAP_TYPE_RAM` entries).
    pub fn total_ram(&self) -> u64 {
        self.ram_regions()
            .fold(0u64, |sum, (_, size)| sum.saturating_add(size))
    }
}

impl fmt::Debug for MemoryMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        for e in self.entries {
            l.entry(&format_args!(
                "{:#x}+{:#x} type {}",
                e.addr, e.size, e.type_
            ));
        }
        l.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xen_abi::XEN_HVM_MEMMAP_TYPE_RESERVED;

    fn entry(addr: u64, size: u64, ty: u32) -> hvm_memmap_table_entry {
        hvm_memmap_table_entry {
            addr,
            size,
            type_: ty,
            reserved: 0,
        }
    }

    fn info(magic: u32, version: u32) -> hvm_start_info {
        hvm_start_info {
            magic,
            version,
            flags: 0,
            nr_modules: 0,
            modlist_paddr: 0,
            cmdline_paddr: 0,
            rsdp_paddr: 0,
            memmap_paddr: 0x1000,
            memmap_entries: 3,
            reserved: 0,
        }
    }

    #[test]
    fn magic_is_checked() {
        let magic = XEN_HVM_START_MAGIC_VALUE;
        assert_eq!(check(&info(magic, 1)), Ok(()));
        assert_eq!(
            check(&info(0x1234, 1)),
            Err(StartInfoError::BadMagic(0x1234))
        );
    }

    #[test]
    fn memmap_only_from_version_1() {
        let magic = XEN_HVM_START_MAGIC_VALUE;
        assert_eq!(memmap_location(&info(magic, 1)), Some((0x1000, 3)));
        assert_eq!(memmap_location(&info(magic, 0)), None);
        let mut i = info(magic, 1);
        i.memmap_entries = 0;
        assert_eq!(memmap_location(&i), None);
    }

    #[test]
    fn total_ram_counts_only_ram() {
        let ram = XEN_HVM_MEMMAP_TYPE_RAM;
        let map = [
            entry(0, 0xa0000, ram),
            entry(0xa0000, 0x60000, XEN_HVM_MEMMAP_TYPE_RESERVED),
            entry(0x100000, 0x7f00000, ram),
            entry(0xfc000000, 0x4000000, XEN_HVM_MEMMAP_TYPE_RESERVED),
        ];
        let m = MemoryMap::new(&map);
        assert_eq!(m.total_ram(), 0xa0000 + 0x7f00000);
        assert_eq!(m.ram_regions().count(), 2);
        assert_eq!(MemoryMap::empty().total_ram(), 0);
        // Hostile sizes saturate instead of wrapping.
        let big = [entry(0, u64::MAX, ram), entry(0, 5, ram)];
        assert_eq!(MemoryMap::new(&big).total_ram(), u64::MAX);
    }

    /// The map as it lies in guest memory: little-endian 24-byte entries
    /// (addr, size, type, reserved), viewed as the generated struct.
    #[test]
    fn memory_map_from_guest_bytes() {
        assert_eq!(core::mem::size_of::<hvm_memmap_table_entry>(), 24);
        let mut bytes = Vec::new();
        for (addr, size, ty) in [
            (0u64, 0x9fc00u64, 1u32),
            (0x100000, 0x3ff00000, 1),
            (0xfeff8000, 0x8000, 2),
        ] {
            bytes.extend_from_slice(&addr.to_le_bytes());
            bytes.extend_from_slice(&size.to_le_bytes());
            bytes.extend_from_slice(&ty.to_le_bytes());
            bytes.extend_from_slice(&0u32.to_le_bytes());
        }
        let entries: Vec<hvm_memmap_table_entry> = bytes
            .chunks_exact(24)
            .map(|c| {
                let u64_at = |o: usize| u64::from_le_bytes(c[o..o + 8].try_into().unwrap());
                let u32_at = |o: usize| u32::from_le_bytes(c[o..o + 4].try_into().unwrap());
                entry(u64_at(0), u64_at(8), u32_at(16))
            })
            .collect();
        let m = MemoryMap::new(&entries);
        assert_eq!(m.total_ram(), 0x9fc00 + 0x3ff00000);
    }

    #[test]
    fn cmdline_options() {
        let c = "a b=1 rumpx.fault=pf  flag b=2";
        assert_eq!(cmdline_option(c, "rumpx.fault"), Some("pf"));
        assert_eq!(cmdline_option(c, "b"), Some("2"));
        assert_eq!(cmdline_option(c, "flag"), Some(""));
        assert_eq!(cmdline_option(c, "rumpx"), None);
        assert_eq!(cmdline_option("", "b"), None);
    }

    #[test]
    fn cmdline_stops_at_nul_and_bad_utf8() {
        assert_eq!(cmdline_from_bytes(b"extra args\0garbage"), "extra args");
        assert_eq!(cmdline_from_bytes(b"no nul"), "no nul");
        assert_eq!(cmdline_from_bytes(b"\0"), "");
        assert_eq!(cmdline_from_bytes(b"ok\xffbad\0"), "ok");
    }
}

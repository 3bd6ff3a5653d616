//! Checks that an image is an ELF that Xen's PVH loader accepts: x86-64, with
//! the `XEN_ELFNOTE_PHYS32_ENTRY` note (xen/include/public/elfnote.h) pointing
//! into a loaded segment. Run before a guest is booted, so a bad image is
//! refused with a clear reason instead of a misleading toolstack error.

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::Endianness;

/// `XEN_ELFNOTE_PHYS32_ENTRY` from Xen's elfnote.h.
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;
/// Xen's guest loader only reads ELF notes named "Xen".
const XEN_NOTE_NAME: &[u8] = b"Xen";

/// What a valid PVH image looks like to the loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PvhImage {
    /// The 32-bit physical entry point from the PHYS32_ENTRY note.
    pub entry: u32,
    /// Lowest physical address loaded.
    pub load_start: u64,
    /// One past the highest physical address loaded (file data and bss).
    pub load_end: u64,
}

impl PvhImage {
    /// Bytes of guest memory the image occupies once loaded.
    pub fn loaded_bytes(&self) -> u64 {
        self.load_end - self.load_start
    }
}

/// Why an image is not a bootable PVH guest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PvhError {
    /// The file does not start with the ELF magic.
    #[error("not an ELF file")]
    NotElf,
    /// It is ELF, but not 64-bit little-endian x86-64.
    #[error("not an x86-64 ELF64 image")]
    WrongMachine,
    /// It is not a statically linked executable (ET_EXEC).
    #[error("not a static executable (ELF type {0})")]
    NotExecutable(u16),
    /// The ELF structure itself is broken.
    #[error("malformed ELF: {0}")]
    Malformed(String),
    /// No loadable segment.
    #[error("no loadable segment")]
    NoLoadSegment,
    /// There is no Xen PHYS32_ENTRY note, so Xen cannot start it as PVH.
    #[error("no Xen PHYS32_ENTRY ELF note (type 18): Xen cannot start it as a PVH guest")]
    NoPhys32Entry,
    /// The note is there but has the wrong size.
    #[error("the PHYS32_ENTRY note holds {0} bytes, expected 4 or 8")]
    BadEntryNote(usize),
    /// The entry point is not inside a loaded segment, or above 4 GiB.
    #[error("the PHYS32_ENTRY address {0:#x} is not inside a loaded segment below 4 GiB")]
    EntryOutsideImage(u64),
}

/// Checks `bytes` as a PVH guest image.
pub fn check_pvh_image(bytes: &[u8]) -> Result<PvhImage, PvhError> {
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        return Err(PvhError::NotElf);
    }
    let header =
        elf::FileHeader64::<Endianness>::parse(bytes).map_err(|_| PvhError::WrongMachine)?;
    let endian = header
        .endian()
        .map_err(|e| PvhError::Malformed(e.to_string()))?;
    if endian != Endianness::Little || header.e_machine(endian) != elf::EM_X86_64 {
        return Err(PvhError::WrongMachine);
    }
    let kind = header.e_type(endian);
    if kind != elf::ET_EXEC {
        return Err(PvhError::NotExecutable(kind));
    }
    let segments = header
        .program_headers(endian, bytes)
        .map_err(|e| PvhError::Malformed(e.to_string()))?;

    let loads: Vec<(u64, u64)> = segments
        .iter()
        .filter(|s| s.p_type(endian) == elf::PT_LOAD && s.p_memsz(endian) > 0)
        .map(|s| {
            (
                s.p_paddr(endian),
                s.p_paddr(endian).saturating_add(s.p_memsz(endian)),
            )
        })
        .collect();
    let load_start = loads
        .iter()
        .map(|l| l.0)
        .min()
        .ok_or(PvhError::NoLoadSegment)?;
    let load_end = loads
        .iter()
        .map(|l| l.1)
        .max()
        .ok_or(PvhError::NoLoadSegment)?;

    let mut entry = None;
    for segment in segments {
        let Some(mut notes) = segment
            .notes(endian, bytes)
            .map_err(|e| PvhError::Malformed(e.to_string()))?
        else {
            continue;
        };
        while let Some(note) = notes
            .next()
            .map_err(|e| PvhError::Malformed(e.to_string()))?
        {
            if note.name() == XEN_NOTE_NAME && note.n_type(endian) == XEN_ELFNOTE_PHYS32_ENTRY {
                entry = Some(read_entry(note.desc())?);
            }
        }
    }
    let entry = entry.ok_or(PvhError::NoPhys32Entry)?;
    let inside = loads
        .iter()
        .any(|&(start, end)| (start..end).contains(&entry));
    if !inside || entry > u64::from(u32::MAX) {
        return Err(PvhError::EntryOutsideImage(entry));
    }
    Ok(PvhImage {
        entry: entry as u32,
        load_start,
        load_end,
    })
}

/// The note's descriptor: Xen accepts a 32- or 64-bit little-endian address.
fn read_entry(desc: &[u8]) -> Result<u64, PvhError> {
    match desc.len() {
        4 => Ok(u64::from(u32::from_le_bytes(
            desc.try_into().expect("length checked"),
        ))),
        8 => Ok(u64::from_le_bytes(desc.try_into().expect("length checked"))),
        n => Err(PvhError::BadEntryNote(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::elf_image::MinimalImage;

    const CODE: &[u8] = &[0xf4, 0xeb, 0xfd]; // hlt; jmp .-1

    /// An image at 1 MiB with one note (`name`, `kind`, `desc`).
    fn image(name: &[u8], kind: u32, desc: &[u8], e_type: u16) -> Vec<u8> {
        MinimalImage {
            e_type,
            note_name: name,
            note_type: kind,
            note_desc: Some(desc),
            ..MinimalImage::pvh(CODE)
        }
        .to_bytes()
    }

    #[test]
    fn accepts_an_image_with_an_entry_note_inside_its_load_segment() {
        let bytes = MinimalImage::pvh(CODE).to_bytes();
        let pvh = check_pvh_image(&bytes).unwrap();
        assert_eq!(
            pvh.entry,
            0x10_0000 + bytes.len() as u32 - CODE.len() as u32
        );
        assert_eq!((pvh.load_start, pvh.load_end), (0x10_0000, 0x10_1000));
        assert_eq!(pvh.loaded_bytes(), 0x1000);
    }

    #[test]
    fn accepts_a_64_bit_entry_note() {
        let bytes = image(b"Xen", 18, &0x10_0040u64.to_le_bytes(), 2);
        assert_eq!(check_pvh_image(&bytes).unwrap().entry, 0x10_0040);
    }

    #[test]
    fn refuses_what_xen_cannot_boot() {
        assert_eq!(check_pvh_image(b"#!/bin/sh\n"), Err(PvhError::NotElf));
        assert_eq!(check_pvh_image(b""), Err(PvhError::NotElf));
        let no_note = image(b"GNU", 18, &0x10_0040u32.to_le_bytes(), 2);
        assert_eq!(check_pvh_image(&no_note), Err(PvhError::NoPhys32Entry));
        let other_type = image(b"Xen", 6, b"xen-3.0\0", 2);
        assert_eq!(check_pvh_image(&other_type), Err(PvhError::NoPhys32Entry));
        let outside = image(b"Xen", 18, &0x20_0000u32.to_le_bytes(), 2);
        assert_eq!(
            check_pvh_image(&outside),
            Err(PvhError::EntryOutsideImage(0x20_0000))
        );
        let short = image(b"Xen", 18, &[1, 2], 2);
        assert_eq!(check_pvh_image(&short), Err(PvhError::BadEntryNote(2)));
        let shared_object = image(b"Xen", 18, &0x10_0040u32.to_le_bytes(), 3);
        assert_eq!(
            check_pvh_image(&shared_object),
            Err(PvhError::NotExecutable(3))
        );
    }

    #[test]
    fn refuses_truncated_and_foreign_elf_files() {
        let bytes = MinimalImage::pvh(CODE).to_bytes();
        assert!(check_pvh_image(&bytes[..40]).is_err());
        let mut arm = bytes.clone();
        arm[18] = 183; // EM_AARCH64
        assert_eq!(check_pvh_image(&arm), Err(PvhError::WrongMachine));
        let mut truncated_notes = bytes.clone();
        truncated_notes.truncate(64 + 2 * 56 + 8);
        assert!(matches!(
            check_pvh_image(&truncated_notes),
            Err(PvhError::Malformed(_))
        ));
    }
}

//! Writes minimal x86-64 ELF executables: one loadable segment holding the
//! whole file and one ELF note. They are the smallest images to try the PVH
//! checks and the toolstack with, including odd guests (one that never prints).

/// A minimal image to write.
#[derive(Debug, Clone)]
pub struct MinimalImage<'a> {
    /// Physical (and virtual) load address of the file's first byte.
    pub load: u64,
    /// The ELF type (2 = ET_EXEC).
    pub e_type: u16,
    /// The note's name, without the terminating NUL ("Xen").
    pub note_name: &'a [u8],
    /// The note's type (18 = XEN_ELFNOTE_PHYS32_ENTRY).
    pub note_type: u32,
    /// The note's descriptor; `None` puts the 32-bit address of `code` there.
    pub note_desc: Option<&'a [u8]>,
    /// Machine code placed after the headers.
    pub code: &'a [u8],
}

impl<'a> MinimalImage<'a> {
    /// A PVH image loaded at 1 MiB whose PHYS32_ENTRY is the start of `code`.
    pub fn pvh(code: &'a [u8]) -> Self {
        MinimalImage {
            load: 0x10_0000,
            e_type: 2,
            note_name: b"Xen",
            note_type: 18,
            note_desc: None,
            code,
        }
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        const EHDR: u64 = 64;
        const PHDR: u64 = 56;
        let desc_len = self.note_desc.map_or(4, <[u8]>::len);
        let note_len =
            12 + (self.note_name.len() + 1).next_multiple_of(4) + desc_len.next_multiple_of(4);
        let note_off = EHDR + 2 * PHDR;
        let code_off = (note_off + note_len as u64).next_multiple_of(16);
        let entry = self.load + code_off;
        let file_len = code_off + self.code.len() as u64;

        let mut out = Vec::with_capacity(file_len as usize);
        out.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        out.extend_from_slice(&self.e_type.to_le_bytes());
        out.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        out.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
        out.extend_from_slice(&entry.to_le_bytes());
        out.extend_from_slice(&EHDR.to_le_bytes()); // e_phoff
        out.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
        out.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        for half in [EHDR as u16, PHDR as u16, 2, 64, 0, 0] {
            out.extend_from_slice(&half.to_le_bytes());
        }
        let memsz = file_len.max(0x1000);
        push_phdr(&mut out, 1, 7, 0, self.load, file_len, memsz, 0x1000); // PT_LOAD, rwx
        push_phdr(
            &mut out,
            4,
            4,
            note_off,
            0,
            note_len as u64,
            note_len as u64,
            4,
        ); // PT_NOTE

        out.extend_from_slice(&(self.note_name.len() as u32 + 1).to_le_bytes());
        out.extend_from_slice(&(desc_len as u32).to_le_bytes());
        out.extend_from_slice(&self.note_type.to_le_bytes());
        out.extend_from_slice(self.note_name);
        out.push(0);
        pad_to(&mut out, 4);
        match self.note_desc {
            Some(desc) => out.extend_from_slice(desc),
            None => out.extend_from_slice(&(entry as u32).to_le_bytes()),
        }
        pad_to(&mut out, 16);
        out.extend_from_slice(self.code);
        out
    }
}

#[allow(clippy::too_many_arguments)]
fn push_phdr(
    out: &mut Vec<u8>,
    kind: u32,
    flags: u32,
    offset: u64,
    addr: u64,
    filesz: u64,
    memsz: u64,
    align: u64,
) {
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    for field in [offset, addr, addr, filesz, memsz, align] {
        out.extend_from_slice(&field.to_le_bytes());
    }
}

fn pad_to(out: &mut Vec<u8>, align: usize) {
    while !out.len().is_multiple_of(align) {
        out.push(0);
    }
}

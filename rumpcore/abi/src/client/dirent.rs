//! `struct dirent` as `getdents30` packs it: `d_fileno` u64, `d_reclen`
//! u16, `d_namlen` u16, `d_type` u8, then the NUL-terminated `d_name`,
//! each record padded to 8 bytes. A packer for the kernel and a
//! bounds-checked walker for the client.

/// Offset of `d_fileno` (u64).
pub const FILENO: usize = 0;
/// Offset of `d_reclen` (u16): the record's length; walk by it.
pub const RECLEN: usize = 8;
/// Offset of `d_namlen` (u16): the name's length without its NUL.
pub const NAMLEN: usize = 10;
/// Offset of `d_type` (u8).
pub const TYPE: usize = 12;
/// Offset of `d_name`.
pub const NAME: usize = 13;

/// `d_reclen` of an entry with a name of `namlen` bytes (NUL included,
/// rounded up to 8).
pub fn reclen(namlen: usize) -> usize {
    (NAME + namlen + 1 + 7) & !7
}

/// Packs one `struct dirent` into the front of `out`: its length, or
/// None if it does not fit (or the name is longer than a `u16` holds).
pub fn put_dirent(out: &mut [u8], fileno: u64, ty: u8, name: &[u8]) -> Option<usize> {
    let namlen = u16::try_from(name.len()).ok()?;
    let len = reclen(name.len());
    let rec_len = u16::try_from(len).ok()?;
    let rec = out.get_mut(..len)?;
    rec.fill(0);
    rec[FILENO..FILENO + 8].copy_from_slice(&fileno.to_ne_bytes());
    rec[RECLEN..RECLEN + 2].copy_from_slice(&rec_len.to_ne_bytes());
    rec[NAMLEN..NAMLEN + 2].copy_from_slice(&namlen.to_ne_bytes());
    rec[TYPE] = ty;
    rec[NAME..NAME + name.len()].copy_from_slice(name);
    Some(len)
}

/// One `struct dirent` as packed by `getdents30`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawDirent<'a> {
    /// `d_fileno`.
    pub fileno: u64,
    /// `d_type`.
    pub ty: u8,
    /// `d_name` without its NUL.
    pub name: &'a [u8],
}

/// Splits the first record off a `getdents30` buffer: the entry and the
/// rest, or None when `buf` does not hold a well-formed record (a
/// `d_reclen` shorter than its header and name, or past the buffer).
pub fn next_dirent(buf: &[u8]) -> Option<(RawDirent<'_>, &[u8])> {
    let u16_at = |off: usize| -> Option<u16> {
        Some(u16::from_ne_bytes(buf.get(off..off + 2)?.try_into().ok()?))
    };
    let fileno = u64::from_ne_bytes(buf.get(FILENO..FILENO + 8)?.try_into().ok()?);
    let reclen = usize::from(u16_at(RECLEN)?);
    let namlen = usize::from(u16_at(NAMLEN)?);
    let ty = *buf.get(TYPE)?;
    if reclen < NAME + namlen + 1 || reclen > buf.len() {
        return None;
    }
    let name = &buf[NAME..NAME + namlen];
    Some((RawDirent { fileno, ty, name }, &buf[reclen..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{DT_DIR, DT_REG};

    /// Packs `entries` back to back into a 256-byte buffer.
    fn pack(entries: &[(u64, u8, &[u8])]) -> ([u8; 256], usize) {
        let mut buf = [0xaau8; 256];
        let mut used = 0;
        for &(fileno, ty, name) in entries {
            used += put_dirent(&mut buf[used..], fileno, ty, name).unwrap();
        }
        (buf, used)
    }

    #[test]
    fn pack_and_walk() {
        let (buf, used) = pack(&[(2, DT_DIR, b"."), (12, DT_REG, b"hello.txt")]);
        assert_eq!(used, 16 + 24);
        assert_eq!(buf[NAME + 1], 0, "NUL after the name");
        let (e, rest) = next_dirent(&buf[..used]).unwrap();
        assert_eq!((e.fileno, e.ty, e.name), (2, DT_DIR, &b"."[..]));
        let (e, rest) = next_dirent(rest).unwrap();
        assert_eq!((e.fileno, e.ty, e.name), (12, DT_REG, &b"hello.txt"[..]));
        assert!(rest.is_empty());
        assert_eq!(next_dirent(rest), None);
    }

    #[test]
    fn reclen_rounds_up_with_the_nul() {
        assert_eq!(reclen(1), 16);
        assert_eq!(reclen(2), 16);
        assert_eq!(reclen(3), 24);
        assert_eq!(reclen(255), 272);
    }

    #[test]
    fn put_refuses_what_does_not_fit() {
        let mut small = [0u8; 15];
        assert_eq!(put_dirent(&mut small, 1, DT_REG, b"a"), None);
        let long = [b'x'; 70000];
        let mut big = [0u8; 16];
        assert_eq!(put_dirent(&mut big, 1, DT_REG, &long), None);
    }

    #[test]
    fn walk_refuses_malformed_records() {
        let (mut r, used) = pack(&[(3, DT_REG, b"name")]);
        r[RECLEN..RECLEN + 2].copy_from_slice(&8u16.to_ne_bytes());
        assert_eq!(
            next_dirent(&r[..used]),
            None,
            "reclen shorter than the name"
        );
        r[RECLEN..RECLEN + 2].copy_from_slice(&200u16.to_ne_bytes());
        assert_eq!(next_dirent(&r[..used]), None, "reclen past the buffer");
        assert_eq!(next_dirent(&[0u8; 10]), None, "short header");
    }
}

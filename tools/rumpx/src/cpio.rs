//! A writer for the "newc" cpio format (the SVR4 format without checksums),
//! which is what the Linux kernel unpacks as an initramfs.

use std::io::{self, Write};

/// File type bits of `st_mode`.
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

/// Writes a newc archive entry by entry; `finish` adds the trailer.
pub struct CpioWriter<W: Write> {
    out: W,
    next_inode: u32,
    written: u64,
}

impl<W: Write> CpioWriter<W> {
    /// Starts an archive on `out`.
    pub fn new(out: W) -> Self {
        CpioWriter {
            out,
            next_inode: 1,
            written: 0,
        }
    }

    /// A directory with permission bits `mode`.
    pub fn dir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        self.entry(path, S_IFDIR | (mode & 0o7777), 2, &[])
    }

    /// A regular file with permission bits `mode` and contents `data`.
    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> io::Result<()> {
        self.entry(path, S_IFREG | (mode & 0o7777), 1, data)
    }

    /// A symbolic link to `target`.
    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        self.entry(path, S_IFLNK | 0o777, 1, target.as_bytes())
    }

    /// Writes the trailer and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.entry("TRAILER!!!", 0, 1, &[])?;
        Ok(self.out)
    }

    fn entry(&mut self, path: &str, mode: u32, nlink: u32, data: &[u8]) -> io::Result<()> {
        let path = path.trim_start_matches('/');
        let name_size = path.len() + 1;
        let inode = if mode == 0 { 0 } else { self.next_inode };
        self.next_inode += 1;
        let size = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{path}: too large for cpio"),
            )
        })?;
        let fields = [
            inode,
            mode,
            0,
            0,
            nlink,
            0,
            size,
            0,
            0,
            0,
            0,
            name_size as u32,
            0,
        ];
        let mut header = String::with_capacity(110);
        header.push_str("070701");
        for field in fields {
            header.push_str(&format!("{field:08x}"));
        }
        self.put(header.as_bytes())?;
        self.put(path.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Header+name and data each end on a 4-byte boundary.
    fn pad(&mut self) -> io::Result<()> {
        let pad = (4 - (self.written % 4) as usize) % 4;
        self.put(&[0, 0, 0][..pad])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_newc_headers_names_and_padding() {
        let mut w = CpioWriter::new(Vec::new());
        w.file("/init", 0o755, b"abcde").unwrap();
        let out = w.finish().unwrap();
        let header = std::str::from_utf8(&out[..110]).unwrap();
        assert_eq!(&header[..6], "070701");
        assert_eq!(&header[6..14], "00000001"); // inode
        assert_eq!(&header[14..22], "000081ed"); // regular file, 0755
        assert_eq!(&header[54..62], "00000005"); // file size
        assert_eq!(&header[94..102], "00000005"); // "init" + NUL
        assert_eq!(&out[110..115], b"init\0");
        // 110 + 5 = 115, padded to 116; data 5 bytes padded to 8.
        assert_eq!(&out[116..121], b"abcde");
        assert_eq!(&out[121..124], &[0, 0, 0]);
        assert_eq!(&out[124..130], b"070701");
        assert!(out.windows(10).any(|w| w == b"TRAILER!!!"));
        assert_eq!(out.len() % 4, 0);
    }

    #[test]
    fn symlinks_store_their_target_as_data() {
        let mut w = CpioWriter::new(Vec::new());
        w.symlink("bin/sh", "/bin/busybox").unwrap();
        let out = w.finish().unwrap();
        let header = std::str::from_utf8(&out[..110]).unwrap();
        assert_eq!(&header[14..22], "0000a1ff");
        let data_at = (110 + "bin/sh\0".len()).next_multiple_of(4);
        assert_eq!(&out[data_at..data_at + 12], b"/bin/busybox");
    }
}

//! Checks a Linux x86 kernel image (bzImage) before xl is asked to boot it:
//! the real-mode header of the x86 boot protocol (Linux's
//! `Documentation/arch/x86/boot.rst`), which libxc's bzImage loader reads to
//! find the compressed kernel inside, and the memory the kernel needs.

use std::fmt;

/// Offset of `setup_sects` (sectors of real-mode setup code after the boot sector).
const SETUP_SECTS: usize = 0x1f1;
/// Offset of the "HdrS" magic.
const HEADER_MAGIC: usize = 0x202;
/// Offset of the boot protocol version.
const VERSION: usize = 0x206;
/// Offset of `payload_offset` and `payload_length` (protocol 2.08+).
const PAYLOAD_OFFSET: usize = 0x248;
/// Offset of `pref_address` (protocol 2.10+).
const PREF_ADDRESS: usize = 0x258;
/// Offset of `init_size` (protocol 2.10+).
const INIT_SIZE: usize = 0x260;
/// The header's end: every field read lies before it.
const HEADER_END: usize = 0x264;

/// The oldest protocol libxc's bzImage loader accepts (it needs the payload fields).
const MIN_VERSION: u16 = 0x0208;

/// What the header of a usable bzImage says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BzImage {
    /// The boot protocol version, e.g. 0x020f.
    pub version: u16,
    /// Where the compressed kernel starts in the file.
    pub payload_start: u64,
    /// Its length in bytes.
    pub payload_length: u64,
    /// The physical address the kernel prefers to run at (protocol 2.10+, else 1 MiB).
    pub pref_address: u64,
    /// The memory the kernel needs from `pref_address` while it initialises.
    pub init_size: u64,
}

/// How the kernel inside a bzImage is compressed (by the payload's magic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadCompression {
    /// gzip (1f 8b).
    Gzip,
    /// xz (fd 37 7a 58 5a 00): what Debian's kernels use.
    Xz,
    /// zstd (28 b5 2f fd).
    Zstd,
    /// Something else (lzma, bzip2, lzo, lz4, or not compressed).
    Other,
}

impl PayloadCompression {
    /// Recognises the compression from the payload's first bytes.
    pub fn of(payload: &[u8]) -> Self {
        if payload.starts_with(&[0x1f, 0x8b]) {
            PayloadCompression::Gzip
        } else if payload.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            PayloadCompression::Xz
        } else if payload.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            PayloadCompression::Zstd
        } else {
            PayloadCompression::Other
        }
    }
}

impl BzImage {
    /// The compressed kernel (an ELF once unpacked) inside `bytes`, the
    /// file this header was read from.
    pub fn payload<'a>(&self, bytes: &'a [u8]) -> &'a [u8] {
        &bytes[self.payload_start as usize..(self.payload_start + self.payload_length) as usize]
    }

    /// The least guest memory, in MiB, that reaches the end of the kernel's
    /// initialisation area: a guest given less fails in `xl create` (libxc
    /// cannot place the image).
    pub fn min_memory_mib(&self) -> u64 {
        (self.pref_address + self.init_size).div_ceil(1024 * 1024)
    }
}

/// Why an image is not a bzImage xl can boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BzImageError {
    /// The file is shorter than the boot protocol header.
    TooShort(usize),
    /// There is no "HdrS" magic at 0x202: not a Linux x86 kernel.
    NoHeaderMagic,
    /// The boot protocol is older than 2.08 (no payload fields).
    OldProtocol(u16),
    /// The payload the header names lies outside the file.
    PayloadOutside {
        /// Where it would end.
        end: u64,
        /// The file's length.
        file: u64,
    },
}

impl fmt::Display for BzImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BzImageError::TooShort(n) => write!(
                f,
                "{n} bytes is shorter than the x86 boot protocol header ({HEADER_END} bytes)"
            ),
            BzImageError::NoHeaderMagic => {
                write!(f, "no \"HdrS\" at 0x202: not a Linux x86 kernel (bzImage)")
            }
            BzImageError::OldProtocol(v) => write!(
                f,
                "boot protocol {}.{:02} is older than 2.08, which xl's loader needs",
                v >> 8,
                v & 0xff
            ),
            BzImageError::PayloadOutside { end, file } => write!(
                f,
                "the compressed kernel would end at byte {end} of a {file}-byte file"
            ),
        }
    }
}

impl std::error::Error for BzImageError {}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from(u32_at(bytes, at)) | (u64::from(u32_at(bytes, at + 4)) << 32)
}

/// Reads and checks the header of the bzImage in `bytes`.
pub fn check_bzimage(bytes: &[u8]) -> Result<BzImage, BzImageError> {
    if bytes.len() < HEADER_END {
        return Err(BzImageError::TooShort(bytes.len()));
    }
    if &bytes[HEADER_MAGIC..HEADER_MAGIC + 4] != b"HdrS" {
        return Err(BzImageError::NoHeaderMagic);
    }
    let version = u16_at(bytes, VERSION);
    if version < MIN_VERSION {
        return Err(BzImageError::OldProtocol(version));
    }
    // A zero setup_sects means 4, for compatibility with ancient kernels.
    let setup_sects = match bytes[SETUP_SECTS] {
        0 => 4,
        n => u64::from(n),
    };
    let payload_start = (setup_sects + 1) * 512 + u64::from(u32_at(bytes, PAYLOAD_OFFSET));
    let payload_length = u64::from(u32_at(bytes, PAYLOAD_OFFSET + 4));
    let end = payload_start + payload_length;
    if end > bytes.len() as u64 {
        return Err(BzImageError::PayloadOutside {
            end,
            file: bytes.len() as u64,
        });
    }
    let (pref_address, init_size) = if version >= 0x020a {
        (
            u64_at(bytes, PREF_ADDRESS),
            u64::from(u32_at(bytes, INIT_SIZE)),
        )
    } else {
        (0x10_0000, 0)
    };
    Ok(BzImage {
        version,
        payload_start,
        payload_length,
        pref_address,
        init_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header like Debian 12's 6.1 kernel's, with a tiny payload.
    fn image() -> Vec<u8> {
        let mut bytes = vec![0u8; 40 * 512 + 716 + 100];
        bytes[SETUP_SECTS] = 39;
        bytes[HEADER_MAGIC..HEADER_MAGIC + 4].copy_from_slice(b"HdrS");
        bytes[VERSION..VERSION + 2].copy_from_slice(&0x020fu16.to_le_bytes());
        bytes[PAYLOAD_OFFSET..PAYLOAD_OFFSET + 4].copy_from_slice(&716u32.to_le_bytes());
        bytes[PAYLOAD_OFFSET + 4..PAYLOAD_OFFSET + 8].copy_from_slice(&100u32.to_le_bytes());
        bytes[PREF_ADDRESS..PREF_ADDRESS + 8].copy_from_slice(&0x100_0000u64.to_le_bytes());
        bytes[INIT_SIZE..INIT_SIZE + 4].copy_from_slice(&0x3f9_8000u32.to_le_bytes());
        bytes
    }

    #[test]
    fn reads_a_modern_header() {
        let image = check_bzimage(&image()).unwrap();
        assert_eq!(image.version, 0x020f);
        assert_eq!(image.payload_start, 40 * 512 + 716);
        assert_eq!(image.payload_length, 100);
        // 16 MiB + 63.6 MiB: what Debian 12's kernel needs.
        assert_eq!(image.min_memory_mib(), 80);
    }

    #[test]
    fn finds_the_payload_and_its_compression() {
        let mut bytes = image();
        let at = 40 * 512 + 716;
        bytes[at..at + 6].copy_from_slice(&[0xfd, b'7', b'z', b'X', b'Z', 0]);
        let header = check_bzimage(&bytes).unwrap();
        let payload = header.payload(&bytes);
        assert_eq!(payload.len(), 100);
        assert_eq!(PayloadCompression::of(payload), PayloadCompression::Xz);
        assert_eq!(
            PayloadCompression::of(&[0x1f, 0x8b, 8]),
            PayloadCompression::Gzip
        );
        assert_eq!(
            PayloadCompression::of(b"\x7fELF"),
            PayloadCompression::Other
        );
    }

    #[test]
    fn refuses_what_is_not_a_usable_bzimage() {
        assert_eq!(
            check_bzimage(b"\x7fELF").unwrap_err(),
            BzImageError::TooShort(4)
        );
        let mut elf = image();
        elf[HEADER_MAGIC] = b'X';
        assert_eq!(
            check_bzimage(&elf).unwrap_err(),
            BzImageError::NoHeaderMagic
        );
        let mut old = image();
        old[VERSION..VERSION + 2].copy_from_slice(&0x0204u16.to_le_bytes());
        let err = check_bzimage(&old).unwrap_err();
        assert_eq!(err, BzImageError::OldProtocol(0x0204));
        assert!(err.to_string().contains("2.04"), "{err}");
        let mut cut = image();
        cut.truncate(cut.len() - 1);
        assert!(matches!(
            check_bzimage(&cut).unwrap_err(),
            BzImageError::PayloadOutside { .. }
        ));
    }
}

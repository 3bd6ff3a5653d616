//! The block device the file system runs on: byte-addressed reads and
//! writes, a flush barrier, a size.

/// Why the block device failed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoError {
    /// The request reaches past the end of the device.
    OutOfRange,
    /// The device reported an error.
    Device,
    /// The device is read-only.
    ReadOnly,
}

/// A disk, addressed in bytes. The file system only issues requests whose
/// offset and length are multiples of its block size (at least 1024).
/// A read may span many blocks (file data read as one disk-contiguous run,
/// up to 256 KiB): an implementation should carry it in as few transfers
/// as it can, since that is where the file system's read speed comes from.
pub trait BlockDevice {
    /// Reads `buf.len()` bytes starting at byte `offset`.
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError>;
    /// Writes `data` starting at byte `offset`.
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), IoError>;
    /// Makes every completed write durable before returning.
    fn flush(&mut self) -> Result<(), IoError>;
    /// The device's size in bytes.
    fn size(&self) -> u64;
}

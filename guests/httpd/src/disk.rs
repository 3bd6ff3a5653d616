//! The document root on the ext2 disk: the block device is registered with
//! etfs and mounted read-only at `/`; [`DiskRoot`] answers httpd-core's
//! lookups and reads through the rump kernel's file calls, keeping the
//! last file open so a body streams without reopening it per chunk.

use alloc::format;
use alloc::string::String;

use httpd_core::{DocRoot, Meta};
use rumpcore_client::fs::{self, File};
use rumpcore_client::{boot, Error};
use rumpuser_abi::errno::{ENAMETOOLONG, ENOENT, ENOTDIR};

/// Registers `/dev/<dev>` for the platform's disk `dev` and mounts it
/// read-only at `/`.
pub fn mount(dev: &str) -> Result<(), String> {
    let key = format!("/dev/{dev}");
    boot::etfs_register_block(&key, dev).map_err(|e| format!("etfs register {key}: {e}"))?;
    boot::mount_ext2(&key, "/", true).map_err(|e| format!("mount {key} (ext2) on /: {e}"))
}

/// One connection's view of the mounted document root.
#[derive(Debug, Default)]
pub struct DiskRoot {
    open: Option<(String, File)>,
}

impl DocRoot for DiskRoot {
    type Error = Error;

    fn stat(&mut self, path: &str) -> Result<Option<Meta>, Error> {
        match fs::metadata(path) {
            Ok(m) if m.is_dir() || m.is_file() => Ok(Some(Meta {
                len: m.len,
                mtime: u64::try_from(m.mtime_secs).unwrap_or(0),
                is_dir: m.is_dir(),
            })),
            // Devices, sockets and the like are not served.
            Ok(_) => Ok(None),
            Err(e) if matches!(e.errno(), Some(ENOENT | ENOTDIR | ENAMETOOLONG)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        if self.open.as_ref().is_none_or(|(p, _)| p != path) {
            self.open = None;
            self.open = Some((String::from(path), File::open(path)?));
        }
        match self.open.as_ref() {
            Some((_, file)) => file.read_at(buf, offset),
            None => Ok(0),
        }
    }
}

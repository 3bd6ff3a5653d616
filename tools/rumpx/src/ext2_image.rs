//! ext2 disk images for guests: made from a folder with the host's
//! `mke2fs -t ext2 -r 1 -d` (e2fsprogs), and checked before a guest boots
//! with them (the superblock's `s_magic` 0xEF53 and `s_rev_level` 1).

use crate::error::{io_at, Error, Result};
use crate::qemu::which;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the superblock starts on every ext2 file system.
const SUPERBLOCK_OFFSET: usize = 1024;
/// `s_magic`'s offset inside the superblock (byte 1080 of the disk).
const MAGIC_OFFSET: usize = 56;
/// `s_rev_level`'s offset inside the superblock.
const REV_LEVEL_OFFSET: usize = 76;
/// The ext2 magic number.
const EXT2_MAGIC: u16 = 0xEF53;
/// The dynamic revision (`EXT2_DYNAMIC_REV`), the one the rump kernel mounts.
const EXT2_DYNAMIC_REV: u32 = 1;
/// The smallest image made: room for the metadata of a tiny file system.
const MIN_SIZE_MIB: u64 = 4;

/// Why a file is not an ext2 image a guest can mount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ext2Problem {
    /// The file ends before the superblock does.
    #[error("it is {0} bytes long, too short to hold an ext2 superblock")]
    TooShort(u64),
    /// The superblock's magic is not 0xEF53.
    #[error("no ext2 superblock (magic {0:#06x} at byte 1080, not 0xef53)")]
    BadMagic(u16),
    /// The superblock is of another revision than 1 (dynamic).
    #[error("ext2 revision {0}; guests mount revision 1 (make it with mke2fs -r 1)")]
    BadRevision(u32),
}

/// Checks the superblock at the start of `bytes` (at least the first
/// 2048 bytes of an image) of an image `total_len` bytes long.
pub fn check_superblock(bytes: &[u8], total_len: u64) -> std::result::Result<(), Ext2Problem> {
    let sb = bytes
        .get(SUPERBLOCK_OFFSET..SUPERBLOCK_OFFSET + 1024)
        .ok_or(Ext2Problem::TooShort(total_len))?;
    let magic = u16::from_le_bytes([sb[MAGIC_OFFSET], sb[MAGIC_OFFSET + 1]]);
    if magic != EXT2_MAGIC {
        return Err(Ext2Problem::BadMagic(magic));
    }
    let rev = u32::from_le_bytes([
        sb[REV_LEVEL_OFFSET],
        sb[REV_LEVEL_OFFSET + 1],
        sb[REV_LEVEL_OFFSET + 2],
        sb[REV_LEVEL_OFFSET + 3],
    ]);
    if rev != EXT2_DYNAMIC_REV {
        return Err(Ext2Problem::BadRevision(rev));
    }
    Ok(())
}

/// Checks that `path` exists and holds an ext2 revision 1 file system.
pub fn check_image(path: &Path) -> Result<()> {
    let mut file = fs::File::open(path).map_err(|e| Error::Invalid {
        what: "disk image",
        detail: format!("{}: {e}", path.display()),
    })?;
    let total_len = file.metadata().map_err(io_at(path))?.len();
    let mut head = Vec::with_capacity(2048);
    file.by_ref()
        .take(2048)
        .read_to_end(&mut head)
        .map_err(io_at(path))?;
    check_superblock(&head, total_len).map_err(|problem| Error::Invalid {
        what: "disk image",
        detail: format!("{}: {problem}", path.display()),
    })
}

/// The bytes the files below `dir` take, rounded up to 4 KiB per file.
fn contents_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).map_err(io_at(&dir))? {
            let entry = entry.map_err(io_at(&dir))?;
            let meta = entry.metadata().map_err(io_at(entry.path()))?;
            if meta.is_dir() {
                pending.push(entry.path());
            }
            total += meta.len().div_ceil(4096).max(1) * 4096;
        }
    }
    Ok(total)
}

/// The default size of an image for `dir`: its contents plus half again
/// and 4 MiB of headroom (for metadata and what the guest writes).
pub fn default_size_mib(dir: &Path) -> Result<u64> {
    let mib = contents_bytes(dir)?.div_ceil(1024 * 1024);
    Ok((mib + mib / 2 + 4).max(MIN_SIZE_MIB))
}

/// Makes an ext2 (revision 1) image `img` of `size_mib` MiB (default: see
/// [`default_size_mib`]) holding the files of `dir`; returns its size.
pub fn make_image(dir: &Path, img: &Path, size_mib: Option<u64>) -> Result<u64> {
    if !dir.is_dir() {
        return Err(Error::Invalid {
            what: "disk folder",
            detail: format!("{} is not a folder", dir.display()),
        });
    }
    let size_mib = match size_mib {
        Some(0) => {
            return Err(Error::Invalid {
                what: "disk size",
                detail: "0 MiB".into(),
            })
        }
        Some(mib) => mib,
        None => default_size_mib(dir)?,
    };
    let mke2fs = find_mke2fs().ok_or_else(|| Error::Command {
        command: "mke2fs".into(),
        detail: "mke2fs not found: install e2fsprogs".into(),
    })?;
    if let Some(parent) = img.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_at(parent))?;
    }
    // mke2fs -d fills an existing file of the right size; a new one each time.
    let _ = fs::remove_file(img);
    let file = fs::File::create(img).map_err(io_at(img))?;
    file.set_len(size_mib * 1024 * 1024).map_err(io_at(img))?;
    drop(file);
    let output = Command::new(&mke2fs)
        .args(["-q", "-F", "-t", "ext2", "-r", "1", "-d"])
        .arg(dir)
        .arg(img)
        .output()
        .map_err(|e| Error::Command {
            command: "mke2fs".into(),
            detail: e.to_string(),
        })?;
    if !output.status.success() {
        let _ = fs::remove_file(img);
        return Err(Error::Command {
            command: format!("mke2fs -t ext2 -d {} {}", dir.display(), img.display()),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    check_image(img)?;
    Ok(size_mib * 1024 * 1024)
}

/// `mke2fs` on $PATH or in the sbin folders a non-root PATH may lack.
fn find_mke2fs() -> Option<PathBuf> {
    which("mke2fs").or_else(|| {
        ["/usr/sbin/mke2fs", "/sbin/mke2fs"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rumpx-ext2-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn makes_a_revision_1_image_from_a_folder() {
        if find_mke2fs().is_none() {
            eprintln!("skipped: no mke2fs (e2fsprogs) on this machine");
            return;
        }
        let dir = scratch("make");
        let site = dir.join("site");
        fs::create_dir_all(site.join("sub")).unwrap();
        fs::write(site.join("index.html"), "<h1>hi</h1>\n").unwrap();
        fs::write(site.join("sub/big.bin"), vec![7u8; 3 * 1024 * 1024]).unwrap();
        let img = dir.join("out/site.img");
        let bytes = make_image(&site, &img, None).unwrap();
        // Just over 3 MiB of contents (4 rounded up): half again and 4 MiB.
        assert_eq!(bytes, (4 + 2 + 4) * 1024 * 1024);
        assert_eq!(fs::metadata(&img).unwrap().len(), bytes);
        check_image(&img).unwrap();
        // debugfs (e2fsprogs) sees the file with its contents.
        let out = Command::new("/usr/sbin/debugfs")
            .args(["-R", "cat /index.html"])
            .arg(&img)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "<h1>hi</h1>\n");
        assert_eq!(make_image(&site, &img, Some(16)).unwrap(), 16 << 20);
        let too_small = make_image(&site, &img, Some(1)).unwrap_err();
        assert!(matches!(too_small, Error::Command { .. }), "{too_small}");
        let not_dir = make_image(&site.join("index.html"), &img, None).unwrap_err();
        assert!(not_dir.to_string().contains("is not a folder"), "{not_dir}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_what_is_not_ext2_revision_1() {
        let mut sb = vec![0u8; 2048];
        assert_eq!(check_superblock(&sb, 2048), Err(Ext2Problem::BadMagic(0)));
        sb[1080..1082].copy_from_slice(&0xEF53u16.to_le_bytes());
        assert_eq!(
            check_superblock(&sb, 2048),
            Err(Ext2Problem::BadRevision(0))
        );
        sb[1100..1104].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(check_superblock(&sb, 2048), Ok(()));
        assert_eq!(
            check_superblock(&sb[..1500], 1500),
            Err(Ext2Problem::TooShort(1500))
        );

        let dir = scratch("check");
        let missing = check_image(&dir.join("nope.img")).unwrap_err();
        assert!(missing.to_string().contains("nope.img"), "{missing}");
        let text = dir.join("text.img");
        fs::write(&text, vec![b'x'; 4096]).unwrap();
        let err = check_image(&text).unwrap_err().to_string();
        assert!(err.contains("no ext2 superblock"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}

//! Shared test helpers: in-memory devices, a failing device, a seeded
//! RNG, temp dirs and e2fsprogs wrappers.
#![allow(dead_code)]

pub mod model;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use rumpcore_ext2::{BlockDevice, IoError};

/// A disk image held in memory.
#[derive(Clone)]
pub struct MemDev(pub Vec<u8>);

impl BlockDevice for MemDev {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let s = usize::try_from(offset).map_err(|_| IoError::OutOfRange)?;
        let src = self.0.get(s..s + buf.len()).ok_or(IoError::OutOfRange)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), IoError> {
        let s = usize::try_from(offset).map_err(|_| IoError::OutOfRange)?;
        let dst = self
            .0
            .get_mut(s..s + data.len())
            .ok_or(IoError::OutOfRange)?;
        dst.copy_from_slice(data);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), IoError> {
        Ok(())
    }
    fn size(&self) -> u64 {
        self.0.len() as u64
    }
}

/// Unmounts, panicking with the error if that fails.
pub fn unmount<D: BlockDevice>(fs: rumpcore_ext2::Fs<D>) -> D {
    match fs.unmount() {
        Ok(d) => d,
        Err((e, _)) => panic!("unmount: {e}"),
    }
}

/// A device that accepts `left` more writes, then fails every write (the
/// machine "crashed": later writes never reach the disk).
pub struct CrashDev {
    pub inner: MemDev,
    pub left: u64,
}

impl BlockDevice for CrashDev {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.inner.read(offset, buf)
    }
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), IoError> {
        if self.left == 0 {
            return Err(IoError::Device);
        }
        self.left -= 1;
        self.inner.write(offset, data)
    }
    fn flush(&mut self) -> Result<(), IoError> {
        if self.left == 0 {
            return Err(IoError::Device);
        }
        Ok(())
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
}

/// xorshift64*: small, seeded, reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let b = self.next() as u8;
        (0..n)
            .map(|i| b.wrapping_add((i as u8).wrapping_mul(7)) ^ (i >> 8) as u8)
            .collect()
    }
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "ext2-test-{}-{}-{}",
        tag,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tool(name: &str) -> Option<PathBuf> {
    for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return Some(p);
        }
    }
    None
}

/// True when mke2fs, e2fsck and debugfs are installed; else prints why
/// the test is skipped.
pub fn have_tools(test: &str) -> bool {
    let ok = ["mke2fs", "e2fsck", "debugfs"]
        .iter()
        .all(|t| tool(t).is_some());
    if !ok {
        eprintln!("SKIPPED {test}: e2fsprogs (mke2fs, e2fsck, debugfs) not installed");
    }
    ok
}

/// Runs `mke2fs -q -t ext2 -b <bs> -I <isize>` on a new image of `mib` MiB.
pub fn mkfs(dir: &Path, mib: u64, bs: u32, isize: u32, extra: &[&str]) -> PathBuf {
    let img = dir.join(format!("fs-{bs}-{isize}.img"));
    let (bs, isize) = (bs.to_string(), isize.to_string());
    let mut args = vec!["-b", &bs, "-I", &isize];
    args.extend_from_slice(extra);
    mke2fs(img, mib, &args)
}

/// Runs `mke2fs -q -t ext2` with its configured defaults on a new image
/// `disk.img` of `mib` MiB in `dir`.
pub fn mkfs_default(dir: &Path, mib: u64) -> PathBuf {
    mke2fs(dir.join("disk.img"), mib, &[])
}

/// Creates `img` of `mib` MiB and runs `mke2fs -q -F -t ext2 <args>` on it.
fn mke2fs(img: PathBuf, mib: u64, args: &[&str]) -> PathBuf {
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(mib << 20).unwrap();
    let out = Command::new(tool("mke2fs").unwrap())
        .args(["-q", "-F", "-t", "ext2"])
        .args(args)
        .arg(&img)
        .env("MKE2FS_CONFIG", "/etc/mke2fs.conf")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mke2fs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    img
}

/// Runs debugfs commands (`-w -f`) on `img`; returns stdout.
pub fn debugfs_w(img: &Path, cmds: &[String]) -> String {
    let cmdfile = img.with_extension("cmds");
    std::fs::write(&cmdfile, cmds.join("\n") + "\n").unwrap();
    let out = Command::new(tool("debugfs").unwrap())
        .args(["-w", "-f"])
        .arg(&cmdfile)
        .arg(img)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "debugfs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `debugfs -R "cat <path>"`: the file's bytes as debugfs reads them.
pub fn debugfs_cat(img: &Path, path: &str) -> Vec<u8> {
    let out = Command::new(tool("debugfs").unwrap())
        .arg("-R")
        .arg(format!("cat \"{path}\""))
        .arg(img)
        .output()
        .unwrap();
    out.stdout
}

/// `debugfs -R "ls -p <path>"`: the names in a directory.
pub fn debugfs_ls(img: &Path, path: &str) -> Vec<String> {
    let out = Command::new(tool("debugfs").unwrap())
        .arg("-R")
        .arg(format!("ls -p \"{path}\""))
        .arg(img)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut names = Vec::new();
    for line in text.lines() {
        // /ino/mode/uid/gid/name/size/; inode 0 is an unused slot (a
        // removed entry at the start of a block keeps its name).
        let parts: Vec<&str> = line.split('/').collect();
        if parts.len() >= 7 && !parts[5].is_empty() && parts[1] != "0" {
            names.push(parts[5].to_string());
        }
    }
    names.sort();
    names
}

/// Runs e2fsck with `flag` (e.g. "-fn"); returns the exit code and output.
pub fn e2fsck(img: &Path, flag: &str) -> (i32, String) {
    let out = Command::new(tool("e2fsck").unwrap())
        .arg(flag)
        .arg(img)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The current time as the file system clock.
pub fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as u32
}

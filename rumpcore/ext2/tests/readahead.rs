//! Multi-block reads and sequential read-ahead: device requests per file
//! read drop from one per block to one per contiguous run, and reads stay
//! coherent with writes through the cache (seeded random interleaving
//! checked against an in-memory copy, then after remount and e2fsck).

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use rumpcore_ext2::{BlockDevice, Fs, IoError, OpenFlags};

/// A memory device that counts read requests.
struct CountDev {
    inner: MemDev,
    reads: Arc<AtomicU64>,
}

impl BlockDevice for CountDev {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.inner.read(offset, buf)
    }
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), IoError> {
        self.inner.write(offset, data)
    }
    fn flush(&mut self) -> Result<(), IoError> {
        Ok(())
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
}

/// A `len`-byte file `/big` written on a fresh image with block size `bs`;
/// returns the image bytes after unmount and the file's contents.
fn image_with_file(bs: u32, len: usize) -> (Vec<u8>, Vec<u8>) {
    let dir = temp_dir("readahead");
    let img = mkfs(&dir, 32, bs, 256, &[]);
    let mut fs = Fs::mount(MemDev(std::fs::read(&img).unwrap()), false).unwrap();
    let data = Rng::new(u64::from(bs)).bytes(len);
    let ino = fs.open("/big", OpenFlags::CREATE, 0o644).unwrap();
    assert_eq!(fs.write_at(ino, 0, &data).unwrap(), len);
    fs.close(ino).unwrap();
    let dev = unmount(fs);
    let _ = std::fs::remove_dir_all(&dir);
    (dev.0, data)
}

/// Reads `/big` sequentially in `chunk`-byte pieces on a fresh mount;
/// returns the bytes and the device reads the file reads took.
fn read_counted(image: &[u8], chunk: usize) -> (Vec<u8>, u64) {
    let reads = Arc::new(AtomicU64::new(0));
    let dev = CountDev {
        inner: MemDev(image.to_vec()),
        reads: reads.clone(),
    };
    let mut fs = Fs::mount(dev, true).unwrap();
    let ino = fs.open("/big", OpenFlags::NONE, 0).unwrap();
    let before = reads.load(Ordering::Relaxed);
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        let n = fs.read_at(ino, out.len() as u64, &mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    let used = reads.load(Ordering::Relaxed) - before;
    fs.close(ino).unwrap();
    (out, used)
}

#[test]
fn contiguous_file_reads_take_few_requests() {
    if !have_tools("contiguous_file_reads_take_few_requests") {
        return;
    }
    for (bs, len) in [(1024u32, 1 << 20), (4096, 1 << 20), (1024, 8 << 20)] {
        let (image, data) = image_with_file(bs, len);
        let blocks = (len / bs as usize) as u64;
        for chunk in [512usize, 4096, 65536, 1 << 20, 3 << 20] {
            let (got, reads) = read_counted(&image, chunk);
            assert!(got == data, "bs {bs} chunk {chunk}: contents differ");
            eprintln!(
                "bs {bs}, {len} bytes, reads of {chunk}: {reads} device reads ({blocks} blocks)"
            );
            // One request per 128 KiB of read-ahead or 256 KiB direct read,
            // plus the indirect blocks and the breaks they make in the
            // run; one block per request would be `blocks`.
            let bound = (len as u64 / (64 * 1024)) + 12;
            assert!(
                reads <= bound,
                "bs {bs} chunk {chunk}: {reads} device reads, more than {bound}"
            );
        }
    }
}

#[test]
fn small_file_read_again_comes_from_the_cache() {
    if !have_tools("small_file_read_again_comes_from_the_cache") {
        return;
    }
    for bs in [1024u32, 4096] {
        let (image, data) = image_with_file(bs, 4096);
        let reads = Arc::new(AtomicU64::new(0));
        let dev = CountDev {
            inner: MemDev(image),
            reads: reads.clone(),
        };
        let mut fs = Fs::mount(dev, true).unwrap();
        let mut counts = Vec::new();
        for _ in 0..3 {
            let ino = fs.open("/big", OpenFlags::NONE, 0).unwrap();
            let before = reads.load(Ordering::Relaxed);
            let mut buf = vec![0u8; 4096];
            assert_eq!(fs.read_at(ino, 0, &mut buf).unwrap(), 4096);
            assert!(buf == data, "bs {bs}: contents differ");
            counts.push(reads.load(Ordering::Relaxed) - before);
            fs.close(ino).unwrap();
        }
        assert_eq!(counts, [1, 0, 0], "bs {bs}: device reads per pass");
    }
}

#[test]
fn reads_stay_coherent_with_writes() {
    if !have_tools("reads_stay_coherent_with_writes") {
        return;
    }
    for (seed, bs) in [(11u64, 1024u32), (12, 4096), (13, 1024), (14, 2048)] {
        let dir = temp_dir("readahead-coherent");
        let img = mkfs(&dir, 32, bs, 256, &[]);
        let mut fs = Fs::mount(MemDev(std::fs::read(&img).unwrap()), false).unwrap();
        let mut rng = Rng::new(seed);
        let names = ["/a", "/b", "/c"];
        let mut model: Vec<Vec<u8>> = vec![Vec::new(); names.len()];
        let inos: Vec<u32> = names
            .iter()
            .map(|n| fs.open(n, OpenFlags::CREATE, 0o644).unwrap())
            .collect();
        // Where each file's sequential reader is.
        let mut cursor = vec![0usize; names.len()];
        let max_len = if bs == 1024 { 700_000 } else { 2_000_000 };
        for step in 0..600 {
            let f = rng.below(names.len() as u64) as usize;
            let ino = inos[f];
            match rng.below(10) {
                0..=2 => {
                    let off = rng.below(max_len) as usize;
                    let big = rng.chance(30);
                    let len = 1 + rng.below(if big { 200_000 } else { 5000 }) as usize;
                    let data = rng.bytes(len);
                    assert_eq!(fs.write_at(ino, off as u64, &data).unwrap(), len);
                    let m = &mut model[f];
                    if m.len() < off + len {
                        m.resize(off + len, 0);
                    }
                    m[off..off + len].copy_from_slice(&data);
                }
                3 => {
                    let size = rng.below(max_len) as usize;
                    fs.truncate(ino, size as u64).unwrap();
                    model[f].resize(size, 0);
                }
                4 => fs.sync().unwrap(),
                5..=7 => {
                    // Sequential reader: continues where it stopped.
                    let len = [700usize, 4096, 65536, 300_000][rng.below(4) as usize];
                    let mut buf = vec![0u8; len];
                    let n = fs.read_at(ino, cursor[f] as u64, &mut buf).unwrap();
                    let m = &model[f];
                    let want = m.len().saturating_sub(cursor[f]).min(len);
                    assert_eq!(n, want, "seed {seed} step {step}: read length");
                    assert!(
                        n == 0 || buf[..n] == m[cursor[f]..cursor[f] + n],
                        "seed {seed} step {step}: stale or wrong bytes at {}",
                        cursor[f]
                    );
                    cursor[f] = if n == 0 { 0 } else { cursor[f] + n };
                }
                _ => {
                    let off = rng.below(max_len) as usize;
                    let len = 1 + rng.below(100_000) as usize;
                    let mut buf = vec![0u8; len];
                    let n = fs.read_at(ino, off as u64, &mut buf).unwrap();
                    let m = &model[f];
                    let want = m.len().saturating_sub(off).min(len);
                    assert_eq!(n, want, "seed {seed} step {step}: read length");
                    assert!(
                        n == 0 || buf[..n] == m[off..off + n],
                        "seed {seed} step {step}: wrong bytes at {off}"
                    );
                }
            }
        }
        for ino in inos {
            fs.close(ino).unwrap();
        }
        let dev = unmount(fs);
        std::fs::write(&img, &dev.0).unwrap();
        let (code, out) = e2fsck(&img, "-fn");
        assert_eq!(code, 0, "seed {seed}: e2fsck -fn:\n{out}");
        let mut fs = Fs::mount(dev, true).unwrap();
        for (f, name) in names.iter().enumerate() {
            let ino = fs.lookup(name).unwrap();
            let mut buf = vec![0u8; model[f].len() + 10];
            let n = fs.read_at(ino, 0, &mut buf).unwrap();
            assert!(
                buf[..n] == model[f][..],
                "seed {seed}: {name} after remount"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

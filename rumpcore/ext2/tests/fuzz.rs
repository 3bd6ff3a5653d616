//! Corrupt-image fuzzing: random damage to the metadata of a small valid
//! image, then mount, walk, read and write everything. Any panic fails
//! the test (with the iteration to reproduce it); errors are counted.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use rumpcore_ext2::{Fs, FsError, OpenFlags};

/// Builds the pristine image: a small tree with direct, indirect and
/// double-indirect files, made by mke2fs and filled through our own code.
fn pristine() -> Option<Vec<u8>> {
    if !have_tools("corrupt_images_never_panic") {
        return None;
    }
    let dir = temp_dir("fuzz");
    let img = mkfs(&dir, 2, 1024, 128, &["-N", "48"]);
    let mut fs = Fs::mount(MemDev(std::fs::read(&img).unwrap()), false).unwrap();
    fs.set_time(now());
    let mut rng = Rng::new(9);
    fs.mkdir("/a", 0o755).unwrap();
    fs.mkdir("/a/b", 0o755).unwrap();
    for (path, len) in [("/small", 300), ("/a/mid", 20_000), ("/a/b/big", 300_000)] {
        let ino = fs.open(path, OpenFlags::CREATE, 0o644).unwrap();
        fs.write_at(ino, 0, &rng.bytes(len)).unwrap();
    }
    for i in 0..20 {
        fs.open(&format!("/a/f{i}"), OpenFlags::CREATE, 0o644)
            .unwrap();
    }
    let img_bytes = unmount(fs).0;
    std::fs::write(&img, &img_bytes).unwrap();
    assert_eq!(e2fsck(&img, "-fn").0, 0);
    std::fs::remove_dir_all(&dir).unwrap();
    Some(img_bytes)
}

fn le32(b: &[u8], off: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[off..off + 4].try_into().unwrap()))
}

/// The blocks worth damaging in the pristine image: superblock,
/// descriptors, bitmaps, the used part of the inode table, directory
/// blocks and indirect blocks (found by parsing the image here).
fn hot_blocks(img: &[u8]) -> Vec<u64> {
    let gd = 2048;
    let (bbm, ibm, itab) = (le32(img, gd), le32(img, gd + 4), le32(img, gd + 8));
    let mut hot = vec![1, 2, bbm, ibm];
    hot.extend(itab..itab + 4);
    for ino in 0..48 {
        let i = (itab * 1024) as usize + ino * 128;
        let mode = u16::from_le_bytes([img[i], img[i + 1]]);
        let is_dir = mode & 0o170000 == 0o040000;
        for slot in 0..15 {
            let b = le32(img, i + 40 + 4 * slot);
            if b != 0 && (is_dir || slot >= 12) && b < 2048 {
                hot.push(b);
                if slot == 13 {
                    // The double-indirect block's first-level blocks.
                    for k in 0..256 {
                        let c = le32(img, (b * 1024) as usize + 4 * k);
                        if c != 0 && c < 2048 {
                            hot.push(c);
                        }
                    }
                }
            }
        }
    }
    hot
}

/// Damages 1..8 places, mostly in metadata blocks.
fn damage(img: &mut [u8], hot: &[u64], rng: &mut Rng) {
    for _ in 0..1 + rng.below(8) {
        let blk = if rng.chance(90) {
            hot[rng.below(hot.len() as u64) as usize]
        } else {
            rng.below(img.len() as u64 / 1024)
        };
        let off = (blk * 1024 + rng.below(1024)) as usize;
        let aligned = off & !3;
        match rng.below(5) {
            0 => img[off] ^= 1 << rng.below(8),
            1 => img[off] = rng.next() as u8,
            2 => img[aligned..aligned + 4].copy_from_slice(&u32::MAX.to_le_bytes()),
            3 => img[aligned..aligned + 4].fill(0),
            _ => {
                let v = rng.below(3000) as u32;
                img[aligned..aligned + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
    }
}

/// Walks the tree (each directory once), reads every file (up to 1 MiB)
/// and does some writes; returns the failed calls' errno numbers.
fn exercise(fs: &mut Fs<MemDev>) -> Vec<i32> {
    let mut errors = Vec::new();
    let mut note = |r: Result<(), FsError>| {
        if let Err(e) = r {
            errors.push(e.errno());
        }
    };
    let mut seen = BTreeSet::new();
    let mut todo = vec!["/".to_string()];
    while let Some(d) = todo.pop() {
        if seen.len() > 200 {
            break;
        }
        let ents = match fs.readdir(&d) {
            Ok(e) => e,
            Err(e) => {
                note(Err(e));
                continue;
            }
        };
        for e in ents {
            if e.name == b"." || e.name == b".." || !seen.insert(e.ino) {
                continue;
            }
            let Ok(name) = String::from_utf8(e.name.clone()) else {
                continue;
            };
            let path = if d == "/" {
                format!("/{name}")
            } else {
                format!("{d}/{name}")
            };
            match fs.stat(&path) {
                Ok(st) if st.mode & 0o170000 == 0o040000 => todo.push(path),
                Ok(_) => {
                    let r = fs.open(&path, OpenFlags::NONE, 0).and_then(|ino| {
                        let mut buf = vec![0u8; 64 * 1024];
                        let mut off = 0u64;
                        while off < 1 << 20 {
                            let n = fs.read_at(ino, off, &mut buf)?;
                            if n == 0 {
                                break;
                            }
                            off += n as u64;
                        }
                        Ok(())
                    });
                    note(r);
                }
                Err(e) => note(Err(e)),
            }
        }
    }
    let r = fs.open("/a/b/big", OpenFlags::NONE, 0).and_then(|ino| {
        fs.write_at(ino, 100_000, &[7u8; 3000])?;
        fs.truncate(ino, 5000)?;
        fs.fsync(ino)
    });
    note(r);
    let r = fs.open("/new", OpenFlags::CREATE, 0o644).and_then(|ino| {
        fs.write_at(ino, 290_000, &[1u8; 5000])?;
        Ok(())
    });
    note(r);
    note(fs.mkdir("/a/nd", 0o755).map(|_| ()));
    note(fs.rename("/a/b", "/moved"));
    note(fs.rename("/small", "/a/mid"));
    note(fs.unlink("/a/f3"));
    note(fs.rmdir("/a/nd"));
    note(fs.rmdir("/a"));
    note(fs.sync());
    errors
}

#[test]
fn corrupt_images_never_panic() {
    let Some(base) = pristine() else { return };
    let hot = hot_blocks(&base);
    let iterations = 2000u64;
    let (mut mount_errs, mut clean, mut unmount_errs) = (0, 0, 0);
    let mut by_errno: BTreeMap<i32, usize> = BTreeMap::new();
    for it in 0..iterations {
        let mut rng = Rng::new(1000 + it);
        let mut img = base.clone();
        damage(&mut img, &hot, &mut rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let ro = rng.chance(10);
            match Fs::mount(MemDev(img), ro) {
                Err(e) => {
                    assert!(
                        e.errno() == 5 || e.errno() == 22,
                        "mount errno {}",
                        e.errno()
                    );
                    (true, Vec::new(), false)
                }
                Ok(mut fs) => {
                    let n = exercise(&mut fs);
                    (false, n, fs.unmount().is_err())
                }
            }
        }));
        match outcome {
            Ok((true, _, _)) => mount_errs += 1,
            Ok((false, errs, u)) => {
                clean += usize::from(!errs.contains(&5));
                for e in errs {
                    *by_errno.entry(e).or_default() += 1;
                }
                unmount_errs += usize::from(u);
            }
            Err(_) => panic!("panic in fuzz iteration {it} (seed {})", 1000 + it),
        }
    }
    println!(
        "fuzz: {iterations} corrupt images, 0 panics; {mount_errs} refused at mount, \
         {} mounted ({clean} of them without any EIO), operation errors by errno \
         {by_errno:?}, {unmount_errs} unmount errors",
        iterations - mount_errs
    );
}

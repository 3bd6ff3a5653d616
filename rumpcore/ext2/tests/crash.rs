//! Crash consistency: run operations over a device that stops taking
//! writes after a seeded number of them, drop the file system without
//! unmounting, then `e2fsck -fy` must repair the image (exit 0 or 1) and
//! every file whose fsync returned must read back its fsync'd bytes.

mod common;

use common::*;
use rumpcore_ext2::{Fs, FsError, OpenFlags};

/// Runs until the device dies or `ops` operations are done; returns the
/// files whose fsync returned (never touched afterwards) with their bytes,
/// and whether the device died during the run.
fn workload(fs: &mut Fs<CrashDev>, rng: &mut Rng, ops: usize) -> (Vec<(String, Vec<u8>)>, bool) {
    let mut durable = Vec::new();
    let mut scratch: Vec<String> = Vec::new();
    let mut run = || -> Result<(), FsError> {
        fs.mkdir("/scratch", 0o755)?;
        fs.mkdir("/keep", 0o755)?;
        for i in 0..ops {
            match rng.below(10) {
                0..=2 => {
                    // A file written, fsync'd and then left alone.
                    let path = if rng.chance(50) {
                        format!("/s{i}")
                    } else {
                        format!("/keep/s{i}")
                    };
                    let ino = fs.open(&path, OpenFlags::CREATE | OpenFlags::EXCL, 0o644)?;
                    let mut content = Vec::new();
                    for _ in 0..1 + rng.below(3) {
                        let off = if rng.chance(30) {
                            content.len() as u64 + rng.below(300_000)
                        } else {
                            rng.below(content.len() as u64 + 1)
                        };
                        let n = 1 + rng.below(40_000) as usize;
                        let data = rng.bytes(n);
                        assert_eq!(fs.write_at(ino, off, &data)?, data.len());
                        let end = off as usize + data.len();
                        if content.len() < end {
                            content.resize(end, 0);
                        }
                        content[off as usize..end].copy_from_slice(&data);
                    }
                    fs.fsync(ino)?;
                    fs.close(ino)?;
                    durable.push((path, content));
                }
                3..=5 => {
                    let path = format!("/scratch/t{}", rng.below(12));
                    let ino = fs.open(&path, OpenFlags::CREATE, 0o644)?;
                    let off = rng.below(200_000);
                    let n = 1 + rng.below(30_000) as usize;
                    fs.write_at(ino, off, &rng.bytes(n))?;
                    fs.close(ino)?;
                    scratch.push(path);
                }
                6 => {
                    if let Some(p) = scratch.pop() {
                        match fs.unlink(&p) {
                            Ok(()) | Err(FsError::NotFound) => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                7 => {
                    let from = format!("/scratch/t{}", rng.below(12));
                    let to = format!("/scratch/t{}", rng.below(12));
                    match fs.rename(&from, &to) {
                        Ok(()) | Err(FsError::NotFound) => {}
                        Err(e) => return Err(e),
                    }
                }
                8 => {
                    let path = format!("/scratch/t{}", rng.below(12));
                    if let Ok(ino) = fs.open(&path, OpenFlags::NONE, 0) {
                        fs.truncate(ino, rng.below(100_000))?;
                        fs.close(ino)?;
                    }
                }
                _ => {
                    let d = format!("/scratch/d{}", rng.below(4));
                    match fs.mkdir(&d, 0o755) {
                        Ok(_) => {}
                        Err(FsError::Exists) => match fs.rmdir(&d) {
                            Ok(()) | Err(FsError::NotEmpty) => {}
                            Err(e) => return Err(e),
                        },
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(())
    };
    let died = match run() {
        Ok(()) => false,
        Err(FsError::Io(_)) => true,
        Err(e) => panic!("unexpected error before the crash: {e}"),
    };
    (durable, died)
}

#[test]
fn fsynced_data_survives_crashes() {
    if !have_tools("fsynced_data_survives_crashes") {
        return;
    }
    let dir = temp_dir("crash");
    let (mut runs, mut durable_files, mut repaired, mut mid_op) = (0, 0, 0, 0);
    for seed in 0..24u64 {
        let bs = if seed % 3 == 2 { 4096 } else { 1024 };
        let img = mkfs(&dir, 16, bs, if seed % 2 == 0 { 128 } else { 256 }, &[]);
        let mut rng = Rng::new(500 + seed);
        let limit = 20 + rng.below(if bs == 1024 { 1500 } else { 500 });
        let dev = CrashDev {
            inner: MemDev(std::fs::read(&img).unwrap()),
            left: limit,
        };
        let mut fs = Fs::mount(dev, false).unwrap();
        fs.set_time(now());
        let (durable, died) = workload(&mut fs, &mut rng, 60);
        mid_op += usize::from(died);
        // The crash: no unmount, no final sync; only what reached the disk counts.
        let disk = fs_into_disk(fs);
        std::fs::write(&img, &disk).unwrap();
        let (code, out) = e2fsck(&img, "-fy");
        assert!(
            code == 0 || code == 1,
            "seed {seed}: e2fsck -fy exit {code}:\n{out}"
        );
        repaired += usize::from(code == 1);
        let (code, out) = e2fsck(&img, "-fn");
        assert_eq!(code, 0, "seed {seed}: still unclean after repair:\n{out}");
        let mut fs = Fs::mount(MemDev(std::fs::read(&img).unwrap()), true).unwrap();
        for (path, content) in &durable {
            let ino = fs.open(path, OpenFlags::NONE, 0).unwrap_or_else(|e| {
                panic!("seed {seed}: fsync'd {path} lost: {e}");
            });
            assert_eq!(
                fs.len(ino).unwrap(),
                content.len() as u64,
                "seed {seed}: {path} size"
            );
            let mut buf = vec![0u8; content.len()];
            fs.read_at(ino, 0, &mut buf).unwrap();
            assert!(
                buf == *content,
                "seed {seed}: {path} bytes differ after crash"
            );
        }
        runs += 1;
        durable_files += durable.len();
    }
    println!(
        "crash: {runs} crashes (seeded write limits; {mid_op} while writing, the rest after \
         the last operation), {durable_files} fsync'd files all intact, e2fsck -fy repaired \
         {repaired} images, all clean afterwards"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What the disk holds at the moment of the crash.
fn fs_into_disk(fs: Fs<CrashDev>) -> Vec<u8> {
    fs.abandon().inner.0
}

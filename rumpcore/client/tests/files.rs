//! The client's files on an ext2 image made by `mke2fs`, registered with
//! etfs and mounted: write, read back, stat, read_dir, seek, positional
//! I/O, append, set_len, rename, remove_file/remove_dir, and errors with
//! the right errno (ENOENT, EEXIST, ENOTDIR, ENOTEMPTY, EINVAL, EBUSY on
//! unmount with a file open); after unmount `e2fsck -fn` is clean and
//! `debugfs` reads the client's bytes; a read-only remount reads them and
//! refuses writes. One kernel per process: everything runs from one test.

#[path = "../../ext2/tests/common/mod.rs"]
mod e2;

use rumpcore_client::fs::{self, File, FileType, OpenOptions, SeekFrom};
use rumpcore_client::{boot, Error};

// Link the kernel and the hosted platform into the test binary.
extern crate rumpcore_kernel;
extern crate rumpuser_hosted;

use rumpuser_abi::errno::{EBUSY, EEXIST, EINVAL, ENOENT, ENOTDIR, ENOTEMPTY, EROFS};

fn pattern(n: usize, salt: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i * 13 % 253) as u8 ^ (i >> 9) as u8 ^ salt)
        .collect()
}

fn errno<T: std::fmt::Debug>(r: Result<T, Error>) -> i32 {
    r.unwrap_err().errno().expect("a kernel errno")
}

/// Writes, reads and inspects files under /mnt.
fn file_work(big: &[u8]) {
    fs::create_dir("/mnt/d").expect("mkdir");
    assert_eq!(errno(fs::create_dir("/mnt/d")), EEXIST);
    assert!(fs::metadata("/mnt/d").unwrap().is_dir());

    fs::write("/mnt/d/small.txt", b"hello from the client\n").expect("write");
    assert_eq!(
        fs::read("/mnt/d/small.txt").unwrap(),
        b"hello from the client\n"
    );

    let mut f = File::create("/mnt/d/big.bin").expect("create");
    f.write_all(big).expect("write_all");
    f.sync_all().expect("fsync");
    let m = f.metadata().expect("fstat");
    assert_eq!(m.len, big.len() as u64);
    assert!(m.is_file() && !m.is_dir());
    assert_eq!(m.nlink, 1);
    assert!(m.ino > 2);
    assert!(m.mtime_secs > 0);
    drop(f);
    let st = fs::metadata("/mnt/d/big.bin").expect("stat");
    assert_eq!(st, m, "stat and fstat agree");
    assert!(fs::read("/mnt/d/big.bin").unwrap() == big);

    // Positional I/O and seeking.
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/mnt/d/big.bin")
        .expect("open rw");
    let mut b = [0u8; 100];
    assert_eq!(f.read_at(&mut b, 5000).unwrap(), 100);
    assert_eq!(&b[..], &big[5000..5100]);
    assert_eq!(f.write_at(b"XYZ", 10).unwrap(), 3);
    assert_eq!(f.seek(SeekFrom::Start(8)).unwrap(), 8);
    assert_eq!(f.read(&mut b[..5]).unwrap(), 5);
    assert_eq!(&b[..5], &[big[8], big[9], b'X', b'Y', b'Z']);
    assert_eq!(f.seek(SeekFrom::Current(2)).unwrap(), 15);
    assert_eq!(f.seek(SeekFrom::End(-1)).unwrap(), big.len() as u64 - 1);
    assert_eq!(
        errno(f.seek(SeekFrom::Current(-(big.len() as i64) - 5))),
        EINVAL
    );

    // set_len: shrink, then extend with zeros.
    f.set_len(1000).expect("ftruncate shrink");
    assert_eq!(f.metadata().unwrap().len, 1000);
    f.set_len(3000).expect("ftruncate extend");
    let all = fs::read("/mnt/d/big.bin").unwrap();
    assert_eq!(all.len(), 3000);
    assert_eq!(&all[..10], &big[..10]);
    assert_eq!(&all[10..13], b"XYZ");
    assert_eq!(&all[13..1000], &big[13..1000]);
    assert!(
        all[1000..].iter().all(|&x| x == 0),
        "the extension reads as zeros"
    );
    f.sync_all().unwrap();
    drop(f);

    // Append and create_new.
    let mut a = OpenOptions::new()
        .append(true)
        .open("/mnt/d/small.txt")
        .expect("append");
    a.write_all(b"more\n").unwrap();
    drop(a);
    assert_eq!(
        fs::read("/mnt/d/small.txt").unwrap(),
        b"hello from the client\nmore\n"
    );
    assert_eq!(
        errno(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open("/mnt/d/small.txt")
        ),
        EEXIST
    );
    assert_eq!(errno(OpenOptions::new().open("/mnt/d/small.txt")), EINVAL);
    assert_eq!(errno(File::open("/mnt/d/missing")), ENOENT);
    assert_eq!(errno(fs::metadata("/mnt/nope/x")), ENOENT);
    assert_eq!(errno(fs::read_dir("/mnt/d/small.txt")), ENOTDIR);
    assert_eq!(
        File::open("/mnt/d/\0x").unwrap_err(),
        Error::InteriorNul,
        "a NUL in a path never reaches the kernel"
    );

    // Directory listing.
    fs::create_dir("/mnt/d/sub").unwrap();
    let mut names: Vec<(String, FileType)> = fs::read_dir("/mnt/d")
        .expect("read_dir")
        .into_iter()
        .map(|e| (e.name, e.file_type))
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        names,
        [
            ("big.bin".to_string(), FileType::File),
            ("small.txt".to_string(), FileType::File),
            ("sub".to_string(), FileType::Dir),
        ]
    );
    // Many entries: more than one getdents30 buffer.
    for i in 0..300 {
        fs::write(
            &format!("/mnt/d/sub/file-with-a-longish-name-{i:04}"),
            &[i as u8],
        )
        .unwrap();
    }
    let listed = fs::read_dir("/mnt/d/sub").unwrap();
    assert_eq!(listed.len(), 300);
    assert!(listed
        .iter()
        .all(|e| e.file_type == FileType::File && e.ino > 2));

    // Removal and rename.
    assert_eq!(errno(fs::remove_dir("/mnt/d/sub")), ENOTEMPTY);
    for i in 0..300 {
        fs::remove_file(&format!("/mnt/d/sub/file-with-a-longish-name-{i:04}")).unwrap();
    }
    fs::remove_dir("/mnt/d/sub").expect("rmdir");
    assert_eq!(errno(fs::metadata("/mnt/d/sub")), ENOENT);
    fs::rename("/mnt/d/small.txt", "/mnt/small.txt").expect("rename");
    assert_eq!(errno(fs::remove_file("/mnt/d/small.txt")), ENOENT);
    fs::write("/mnt/gone.txt", b"short-lived").unwrap();
    fs::remove_file("/mnt/gone.txt").expect("unlink");
    assert_eq!(errno(fs::read("/mnt/gone.txt")), ENOENT);
}

#[test]
fn files_on_ext2() {
    if !e2::have_tools("files_on_ext2") {
        return;
    }
    let dir = e2::temp_dir("client-files");
    let img = e2::mkfs_default(&dir, 16);
    let img_str = img.to_str().unwrap();

    boot::init().expect("rump_init");
    boot::etfs_register_block("/dev/disk0", img_str).expect("etfs");
    assert_eq!(
        errno(boot::mount_ext2("/dev/nothing", "/mnt", false)),
        ENOENT,
        "an unregistered device"
    );
    boot::mount_ext2("/dev/disk0", "/mnt", false).expect("mount");
    let big = pattern(300 * 1024, 7);
    file_work(&big);
    let held = File::open("/mnt/small.txt").unwrap();
    assert_eq!(errno(boot::unmount("/mnt")), EBUSY, "a file is open");
    drop(held);
    boot::unmount("/mnt").expect("unmount");

    let (code, said) = e2::e2fsck(&img, "-fn");
    assert_eq!(code, 0, "e2fsck -fn: {said}");
    assert!(!said.contains("Fix?"), "e2fsck -fn: {said}");
    let cat = |name: &str| e2::debugfs_cat(&img, name);
    assert_eq!(cat("/small.txt"), b"hello from the client\nmore\n");
    let b = cat("/d/big.bin");
    assert_eq!(b.len(), 3000);
    assert_eq!(&b[..10], &big[..10]);

    boot::mount_ext2("/dev/disk0", "/mnt", true).expect("read-only mount");
    assert_eq!(
        fs::read("/mnt/small.txt").unwrap(),
        b"hello from the client\nmore\n"
    );
    assert_eq!(
        errno(fs::write("/mnt/new.txt", b"x")),
        EROFS,
        "read-only refuses writes"
    );
    boot::unmount("/mnt").expect("unmount read-only");
    let _ = std::fs::remove_dir_all(&dir);
}

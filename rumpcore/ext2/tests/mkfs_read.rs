//! Mounting images made by mke2fs and reading files debugfs wrote there.

mod common;

use common::*;
use rumpcore_ext2::{FileType, Fs, FsError, OpenFlags};

fn check_geometry(bs: u32, isize: u32) {
    let dir = temp_dir("mkfs");
    let img = mkfs(&dir, 16, bs, isize, &[]);
    let mut rng = Rng::new(u64::from(bs + isize));
    // Sizes: empty, one partial block, direct-only, single and double indirect.
    let sizes = [0usize, 100, 5000, 40_000, 300_000, 5 << 20];
    let mut cmds = vec!["mkdir sub".to_string(), "mkdir sub/deeper".to_string()];
    let mut want = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let host = dir.join(format!("h{i}"));
        let data = rng.bytes(n);
        std::fs::write(&host, &data).unwrap();
        let guest = if i % 2 == 0 {
            format!("f{i}")
        } else {
            format!("sub/deeper/f{i}")
        };
        cmds.push(format!("write {} {}", host.display(), guest));
        want.push((format!("/{guest}"), data));
    }
    debugfs_w(&img, &cmds);
    let dev = MemDev(std::fs::read(&img).unwrap());
    let mut fs = Fs::mount(dev, true).unwrap();
    assert_eq!(fs.block_size(), u64::from(bs));
    for (path, data) in &want {
        let ino = fs.open(path, OpenFlags::NONE, 0).unwrap();
        assert_eq!(fs.len(ino).unwrap(), data.len() as u64, "{path}");
        let mut buf = vec![0u8; data.len() + 10];
        let n = fs.read_at(ino, 0, &mut buf).unwrap();
        assert_eq!(n, data.len());
        assert!(
            buf[..n] == data[..],
            "{path} contents (bs {bs}, isize {isize})"
        );
        // A read in the middle.
        if data.len() > 1000 {
            let mut small = [0u8; 777];
            fs.read_at(ino, 333, &mut small).unwrap();
            assert_eq!(&small[..], &data[333..333 + 777]);
        }
        let st = fs.fstat(ino).unwrap();
        assert_eq!(st.mode & 0o170000, 0o100000);
        assert_eq!(st.nlink, 1);
    }
    let root: Vec<_> = fs.readdir("/").unwrap();
    let names: Vec<String> = root
        .iter()
        .map(|e| String::from_utf8_lossy(&e.name).into_owned())
        .collect();
    for n in [".", "..", "lost+found", "sub", "f0", "f2", "f4"] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    let sub = root.iter().find(|e| e.name == b"sub").unwrap();
    assert_eq!(sub.kind, FileType::Dir);
    assert_eq!(fs.stat("/sub").unwrap().nlink, 3);
    assert_eq!(fs.open("/nope", OpenFlags::NONE, 0), Err(FsError::NotFound));
    assert_eq!(fs.open("/f0/x", OpenFlags::NONE, 0), Err(FsError::NotDir));
    assert_eq!(
        fs.open("/new", OpenFlags::CREATE, 0o644),
        Err(FsError::ReadOnly)
    );
    assert_eq!(FsError::ReadOnly.errno(), 30);
    unmount(fs);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reads_mke2fs_images() {
    if !have_tools("reads_mke2fs_images") {
        return;
    }
    for (bs, isize) in [(1024, 128), (1024, 256), (4096, 128), (4096, 256)] {
        check_geometry(bs, isize);
    }
}

#[test]
fn refuses_unsupported_features() {
    if !have_tools("refuses_unsupported_features") {
        return;
    }
    let dir = temp_dir("feat");
    let img = mkfs(&dir, 8, 1024, 128, &["-O", "extents"]);
    let dev = MemDev(std::fs::read(&img).unwrap());
    match Fs::mount(dev.clone(), false) {
        Err(e @ FsError::Unsupported(_)) => assert_eq!(e.errno(), 22),
        Err(e) => panic!("extents image: {e}"),
        Ok(_) => panic!("extents image mounted"),
    }
    let img = mkfs(&dir, 8, 1024, 128, &["-O", "huge_file"]);
    let dev = MemDev(std::fs::read(&img).unwrap());
    assert!(matches!(
        Fs::mount(dev.clone(), false),
        Err(FsError::Unsupported(_))
    ));
    assert!(
        Fs::mount(dev, true).is_ok(),
        "ro_compat feature mounts read-only"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn write_then_e2fsck_clean() {
    if !have_tools("write_then_e2fsck_clean") {
        return;
    }
    let dir = temp_dir("simple");
    let img = mkfs(&dir, 8, 1024, 256, &[]);
    let mut fs = Fs::mount(MemDev(std::fs::read(&img).unwrap()), false).unwrap();
    fs.set_time(now());
    fs.mkdir("/d", 0o755).unwrap();
    let ino = fs.open("/d/hello", OpenFlags::CREATE, 0o644).unwrap();
    assert_eq!(fs.write_at(ino, 0, b"hello, ext2\n").unwrap(), 12);
    let big = fs
        .open("/big", OpenFlags::CREATE | OpenFlags::EXCL, 0o600)
        .unwrap();
    let data = Rng::new(5).bytes(400_000);
    fs.write_at(big, 0, &data).unwrap();
    fs.write_at(big, 3_000_000, b"tail").unwrap();
    assert_eq!(
        fs.open("/big", OpenFlags::CREATE | OpenFlags::EXCL, 0),
        Err(FsError::Exists)
    );
    // Unlinked while open: the handle keeps working until the last close.
    let (free_before, _) = fs.free_counts();
    let tmp = fs.open("/tmp", OpenFlags::CREATE, 0o600).unwrap();
    fs.write_at(tmp, 0, &data[..50_000]).unwrap();
    fs.unlink("/tmp").unwrap();
    assert_eq!(fs.stat("/tmp"), Err(FsError::NotFound));
    let mut back = vec![0u8; 50_000];
    assert_eq!(fs.read_at(tmp, 0, &mut back).unwrap(), 50_000);
    assert!(back[..] == data[..50_000]);
    assert_eq!(fs.fstat(tmp).unwrap().nlink, 0);
    fs.close(tmp).unwrap();
    assert_eq!(
        fs.free_counts().0,
        free_before,
        "last close frees the blocks"
    );
    assert!(fs.fstat(tmp).is_err());
    // One left open at unmount is freed there.
    let orphan = fs.open("/orphan", OpenFlags::CREATE, 0o600).unwrap();
    fs.write_at(orphan, 0, b"gone at unmount").unwrap();
    fs.unlink("/orphan").unwrap();
    assert_eq!(fs.open("/", OpenFlags::NONE, 0).unwrap(), 2);
    let dev = unmount(fs);
    std::fs::write(&img, &dev.0).unwrap();
    let (code, out) = e2fsck(&img, "-fn");
    assert_eq!(code, 0, "e2fsck: {out}");
    assert_eq!(debugfs_cat(&img, "/d/hello"), b"hello, ext2\n");
    let mut want = data.clone();
    want.resize(3_000_000, 0);
    want.extend_from_slice(b"tail");
    assert!(debugfs_cat(&img, "/big") == want);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn triple_indirect_sparse_file() {
    if !have_tools("triple_indirect_sparse_file") {
        return;
    }
    let dir = temp_dir("triple");
    let img = mkfs(&dir, 8, 1024, 128, &[]);
    let mut fs = Fs::mount(MemDev(std::fs::read(&img).unwrap()), false).unwrap();
    fs.set_time(now());
    let (free0, _) = fs.free_counts();
    let ino = fs.open("/sparse", OpenFlags::CREATE, 0o644).unwrap();
    // 1 KiB blocks: triple indirect starts at block 12 + 256 + 65536.
    let far = (12 + 256 + 65_536 + 1000) * 1024u64;
    fs.write_at(ino, far, b"far away").unwrap();
    fs.write_at(ino, 5, b"near").unwrap();
    assert_eq!(fs.len(ino).unwrap(), far + 8);
    let mut buf = [1u8; 16];
    fs.read_at(ino, far - 8, &mut buf).unwrap();
    assert_eq!(&buf, b"\0\0\0\0\0\0\0\0far away");
    fs.read_at(ino, 40_000_000, &mut buf).unwrap();
    assert_eq!(buf, [0u8; 16], "hole reads as zeros");
    // data + triple + double + single indirect, and the first block.
    assert_eq!(fs.fstat(ino).unwrap().blocks, 2 * 5);
    fs.close(ino).unwrap();
    let dev = unmount(fs);
    std::fs::write(&img, &dev.0).unwrap();
    let (code, out) = e2fsck(&img, "-fn");
    assert_eq!(code, 0, "e2fsck with a triple-indirect file: {out}");
    // Shrinking below the triple-indirect range frees those blocks.
    let mut fs = Fs::mount(MemDev(std::fs::read(&img).unwrap()), false).unwrap();
    let ino = fs.open("/sparse", OpenFlags::NONE, 0).unwrap();
    fs.truncate(ino, 300_000).unwrap();
    assert_eq!(fs.fstat(ino).unwrap().blocks, 2);
    assert_eq!(fs.free_counts().0, free0 - 1);
    fs.close(ino).unwrap();
    let dev = unmount(fs);
    std::fs::write(&img, &dev.0).unwrap();
    let (code, out) = e2fsck(&img, "-fn");
    assert_eq!(code, 0, "e2fsck after shrinking: {out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

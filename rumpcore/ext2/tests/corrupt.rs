//! Targeted corruptions named in the design: each gives EIO (or EINVAL)
//! to the caller, never a panic.

mod common;

use common::*;
use rumpcore_ext2::{Fs, FsError, OpenFlags};

fn le32(b: &[u8], off: usize) -> usize {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap()) as usize
}

/// A one-group 1 KiB-block image with `/f` (single-indirect) and `/d`.
fn image() -> Option<(Vec<u8>, u32)> {
    if !have_tools("targeted_corruptions_give_eio") {
        return None;
    }
    let dir = temp_dir("corrupt");
    let img = mkfs(&dir, 4, 1024, 128, &[]);
    let mut fs = Fs::mount(MemDev(std::fs::read(&img).unwrap()), false).unwrap();
    let ino = fs.open("/f", OpenFlags::CREATE, 0o644).unwrap();
    fs.write_at(ino, 0, &Rng::new(3).bytes(20_000)).unwrap();
    fs.close(ino).unwrap();
    fs.mkdir("/d", 0o755).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    Some((unmount(fs).0, ino))
}

fn inode_off(img: &[u8], ino: u32) -> usize {
    le32(img, 2048 + 8) * 1024 + (ino as usize - 1) * 128
}

fn eio<T: std::fmt::Debug>(r: Result<T, FsError>, what: &str) {
    match r {
        Err(e) if e.errno() == 5 => {}
        other => panic!("{what}: want EIO, got {other:?}"),
    }
}

#[test]
fn targeted_corruptions_give_eio() {
    let Some((base, f)) = image() else { return };
    let root = inode_off(&base, 2);
    let root_blk = le32(&base, root + 40) * 1024;
    let fi = inode_off(&base, f);
    let mount = |img: Vec<u8>| Fs::mount(MemDev(img), false).unwrap();

    let mut img = base.clone();
    img[root_blk + 4..root_blk + 6].fill(0);
    eio(mount(img).readdir("/"), "rec_len 0");

    let mut img = base.clone();
    img[root_blk + 4..root_blk + 6].copy_from_slice(&2000u16.to_le_bytes());
    eio(mount(img).readdir("/"), "rec_len past the block");

    let mut img = base.clone();
    img[root_blk + 6] = 200;
    eio(mount(img).readdir("/"), "name_len > rec_len");

    let mut img = base.clone();
    img[root_blk..root_blk + 4].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    eio(mount(img).readdir("/"), "entry inode out of range");

    let mut img = base.clone();
    img[fi + 40..fi + 44].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let mut fs = mount(img);
    let ino = fs.open("/f", OpenFlags::NONE, 0).unwrap();
    eio(
        fs.read_at(ino, 0, &mut [0u8; 100]),
        "data block out of range",
    );
    eio(fs.truncate(ino, 0), "freeing a block out of range");

    // The single-indirect block points at itself: a loop.
    let mut img = base.clone();
    let ind = le32(&img, fi + 40 + 48);
    let me = (ind as u32).to_le_bytes();
    img[ind * 1024..ind * 1024 + 4].copy_from_slice(&me);
    let mut fs = mount(img);
    let ino = fs.open("/f", OpenFlags::NONE, 0).unwrap();
    eio(fs.truncate(ino, 0), "indirect block loop");

    let mut img = base.clone();
    img[root + 4..root + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    eio(mount(img).readdir("/"), "absurd directory size");

    let mut img = base.clone();
    img[fi + 4..fi + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    img[fi + 108..fi + 112].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut fs = mount(img);
    let ino = fs.open("/f", OpenFlags::NONE, 0).unwrap();
    eio(
        fs.read_at(ino, u64::MAX - 10, &mut [0u8; 8]),
        "absurd file size",
    );

    // Superblock: inode count disagreeing with the group count, block
    // count beyond the device, a bad block size, bad magic.
    let mut img = base.clone();
    img[1024..1028].copy_from_slice(&12345u32.to_le_bytes());
    eio(Fs::mount(MemDev(img), true).map(|_| ()), "inode count");
    let mut img = base.clone();
    img[1028..1032].copy_from_slice(&u32::MAX.to_le_bytes());
    eio(Fs::mount(MemDev(img), true).map(|_| ()), "block count");
    let mut img = base.clone();
    img[1024 + 24..1024 + 28].copy_from_slice(&40u32.to_le_bytes());
    assert!(Fs::mount(MemDev(img), true).is_err());
    let mut img = base.clone();
    img[1024 + 56] = 0;
    assert_eq!(
        Fs::mount(MemDev(img), true).err().map(|e| e.errno()),
        Some(22)
    );
}

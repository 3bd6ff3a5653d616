//! A full disk gives ENOSPC (a short write or an error), never
//! corruption: e2fsck stays clean and written bytes read back.

mod common;

use common::*;
use rumpcore_ext2::{Fs, FsError, OpenFlags};

#[test]
fn full_disk_is_enospc_not_corruption() {
    if !have_tools("full_disk_is_enospc_not_corruption") {
        return;
    }
    let dir = temp_dir("enospc");
    let img = mkfs(&dir, 4, 1024, 128, &["-N", "64"]);
    let mut fs = Fs::mount(MemDev(std::fs::read(&img).unwrap()), false).unwrap();
    fs.set_time(now());
    let mut rng = Rng::new(77);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut nospace = 0;
    // Fill with data.
    'fill: for i in 0..100 {
        let path = format!("/f{i}");
        let ino = fs.open(&path, OpenFlags::CREATE, 0o644).unwrap();
        let mut content = Vec::new();
        for _ in 0..20 {
            let chunk = rng.bytes(50_000);
            match fs.write_at(ino, content.len() as u64, &chunk) {
                Ok(n) => {
                    content.extend_from_slice(&chunk[..n]);
                    if n < chunk.len() {
                        nospace += 1;
                    }
                }
                Err(FsError::NoSpace) => {
                    assert_eq!(FsError::NoSpace.errno(), 28);
                    nospace += 1;
                    fs.close(ino).unwrap();
                    files.push((path, content));
                    break 'fill;
                }
                Err(e) => panic!("write: {e}"),
            }
        }
        fs.close(ino).unwrap();
        files.push((path, content));
    }
    assert!(nospace > 0, "the disk never filled");
    assert_eq!(fs.free_counts().0, 0);
    // Directory growth and mkdir on a full disk fail cleanly too.
    let mut dir_errs = 0;
    for i in 0..200 {
        match fs.mkdir(&format!("/d{i:0>200}"), 0o755) {
            Ok(_) => {}
            Err(FsError::NoSpace) => dir_errs += 1,
            Err(e) => panic!("mkdir: {e}"),
        }
    }
    assert!(dir_errs > 0);
    // Out of inodes (64) or directory space: ENOSPC either way.
    let mut create_errs = 0;
    for i in 0..100 {
        match fs.open(&format!("/e{i}"), OpenFlags::CREATE, 0o644) {
            Ok(ino) => fs.close(ino).unwrap(),
            Err(FsError::NoSpace) => create_errs += 1,
            Err(e) => panic!("create: {e}"),
        }
    }
    assert!(create_errs > 0);
    // Freeing space makes writes work again.
    let (victim, _) = files.remove(0);
    fs.unlink(&victim).unwrap();
    let ino = fs.open("/after", OpenFlags::CREATE, 0o644).unwrap();
    assert_eq!(fs.write_at(ino, 0, b"room again").unwrap(), 10);
    files.push(("/after".into(), b"room again".to_vec()));
    let dev = unmount(fs);
    std::fs::write(&img, &dev.0).unwrap();
    let (code, out) = e2fsck(&img, "-fn");
    assert_eq!(code, 0, "e2fsck after ENOSPC:\n{out}");
    let mut fs = Fs::mount(MemDev(std::fs::read(&img).unwrap()), true).unwrap();
    for (path, content) in &files {
        let ino = fs.open(path, OpenFlags::NONE, 0).unwrap();
        let mut buf = vec![0u8; content.len()];
        assert_eq!(fs.read_at(ino, 0, &mut buf).unwrap(), content.len());
        assert!(buf == *content, "{path}");
    }
    println!("ENOSPC: {nospace} data writes hit a full disk, {dir_errs} mkdirs and {create_errs} creates failed, e2fsck clean");
    std::fs::remove_dir_all(&dir).unwrap();
}

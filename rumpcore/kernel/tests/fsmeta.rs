//! Metadata and directory calls through the client ABI on an ext2 image
//! made by `mke2fs`: stat50/lstat50/fstat50 (files, directories, a
//! socket), getdents30 (continuation, small buffers, rewind, ENOTDIR,
//! the listing matches debugfs), rmdir (ENOTEMPTY, ENOTDIR), truncate and
//! ftruncate (grow, shrink, EINVAL); then a seeded random operation
//! sequence through the C symbols checked against the ext2 tests'
//! in-memory model, and after unmount `e2fsck -fn` is clean and debugfs
//! reads the model's bytes. One kernel per process: one test function.

mod common;
#[path = "../../ext2/tests/common/mod.rs"]
mod e2;

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_void, CString};

use common::*;
use e2::model::{join, parent_of, Model, Node};
use e2::Rng;
use rumpcore_client::abi::{
    Stat, DT_DIR, DT_REG, O_CREAT, O_DIRECTORY, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, S_IFDIR, S_IFMT,
    S_IFREG, S_IFSOCK,
};

use rumpuser_abi::errno::{EEXIST, EINVAL, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY};

/// The mount point of the image.
const MNT: &str = "/mnt";

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// The client path of image path `p`.
fn at(p: &str) -> CString {
    if p == "/" {
        c(MNT)
    } else {
        c(&format!("{MNT}{p}"))
    }
}

/// 0 or the errno of a call returning -1.
fn rv(r: i64) -> Result<i64, i32> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r)
    }
}

fn open(p: &str, flags: c_int) -> Result<c_int, i32> {
    // SAFETY: a NUL-terminated path.
    rv(unsafe { rump___sysimpl_open(at(p).as_ptr(), flags, 0o644) }.into()).map(|f| f as c_int)
}

fn close(fd: c_int) {
    // SAFETY: a plain call.
    assert_eq!(unsafe { rump___sysimpl_close(fd) }, 0);
}

fn stat(p: &str) -> Result<Stat, i32> {
    let mut s = Stat::default();
    // SAFETY: a NUL-terminated path and a writable struct.
    rv(unsafe { rump___sysimpl_stat50(at(p).as_ptr(), &mut s) }.into()).map(|_| s)
}

fn fstat(fd: c_int) -> Result<Stat, i32> {
    let mut s = Stat::default();
    // SAFETY: a writable struct.
    rv(unsafe { rump___sysimpl_fstat50(fd, &mut s) }.into()).map(|_| s)
}

fn pwrite(fd: c_int, data: &[u8], off: u64) -> Result<i64, i32> {
    // SAFETY: a readable buffer.
    rv(
        unsafe { rump___sysimpl_pwrite(fd, data.as_ptr() as *const c_void, data.len(), off as i64) }
            as i64,
    )
}

fn read_file(p: &str) -> Vec<u8> {
    let fd = open(p, O_RDONLY).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 9000];
    loop {
        // SAFETY: a writable buffer.
        let n = unsafe {
            rump___sysimpl_pread(fd, buf.as_mut_ptr() as *mut c_void, 9000, out.len() as i64)
        };
        assert!(n >= 0, "pread {p}: errno {}", errno());
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
    close(fd);
    out
}

/// One `struct dirent` as getdents packed it.
#[derive(Debug, Clone, PartialEq)]
struct Dirent {
    fileno: u64,
    ty: u8,
    name: String,
}

/// Parses a getdents buffer, checking every record's layout.
fn parse_dirents(b: &[u8]) -> Vec<Dirent> {
    let mut v = Vec::new();
    let mut off = 0;
    while off < b.len() {
        let r = &b[off..];
        let reclen = u16::from_ne_bytes([r[8], r[9]]) as usize;
        let namlen = u16::from_ne_bytes([r[10], r[11]]) as usize;
        assert_eq!(reclen, (13 + namlen + 1 + 7) & !7, "d_reclen");
        assert!(reclen <= r.len(), "record past the bytes placed");
        assert_eq!(r[13 + namlen], 0, "d_name NUL-terminated");
        v.push(Dirent {
            fileno: u64::from_ne_bytes(r[..8].try_into().unwrap()),
            ty: r[12],
            name: String::from_utf8(r[13..13 + namlen].to_vec()).unwrap(),
        });
        off += reclen;
    }
    v
}

/// Reads a directory fd to its end with `bufsize`-byte getdents calls.
fn getdents_all(fd: c_int, bufsize: usize) -> Vec<Dirent> {
    let mut all = Vec::new();
    let mut buf = vec![0u8; bufsize];
    loop {
        // SAFETY: a writable buffer of `bufsize` bytes.
        let n = unsafe { rump___sysimpl_getdents30(fd, buf.as_mut_ptr() as *mut c_char, bufsize) };
        assert!(n >= 0, "getdents: errno {}", errno());
        if n == 0 {
            return all;
        }
        all.extend(parse_dirents(&buf[..n as usize]));
    }
}

/// The names in directory `p` (without `.` and `..`), sorted.
fn list(p: &str, bufsize: usize) -> Vec<String> {
    let fd = open(p, O_RDONLY | O_DIRECTORY).unwrap();
    let mut names: Vec<String> = getdents_all(fd, bufsize)
        .into_iter()
        .map(|d| d.name)
        .filter(|n| n != "." && n != "..")
        .collect();
    close(fd);
    names.sort();
    names
}

fn mount(key: &CString) {
    let mut fspec = key.as_ptr();
    // SAFETY: valid strings; the argument block begins with the key.
    let r = unsafe {
        rump___sysimpl_mount50(
            c"ext2fs".as_ptr(),
            at("/").as_ptr(),
            0,
            &mut fspec as *mut *const c_char as *mut c_void,
            std::mem::size_of::<*const c_char>(),
        )
    };
    assert_eq!(r, 0, "mount: errno {}", errno());
}

fn unmount() {
    // SAFETY: a NUL-terminated path.
    let r = unsafe { rump___sysimpl_unmount(at("/").as_ptr(), 0) };
    assert_eq!(r, 0, "unmount: errno {}", errno());
}

fn pattern(n: usize, salt: u8) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8 ^ salt).collect()
}

/// stat, fstat, getdents, rmdir and truncate on a fresh tree.
fn metadata_calls() {
    // SAFETY: NUL-terminated paths throughout.
    unsafe { assert_eq!(rump___sysimpl_mkdir(at("/d").as_ptr(), 0o750), 0) };
    let fd = open("/d/f1", O_RDWR | O_CREAT).unwrap();
    let data = pattern(5000, 1);
    assert_eq!(pwrite(fd, &data, 0), Ok(5000));

    let s = stat("/d/f1").unwrap();
    assert_eq!(s.st_mode, S_IFREG | 0o644);
    assert_eq!((s.st_size, s.st_nlink), (5000, 1));
    assert!(s.st_blocks >= 10, "5000 bytes take at least 10 sectors");
    assert_eq!(s.st_blksize, 1024, "the image's block size");
    assert!(s.st_mtimespec.tv_sec > 1_700_000_000, "mtime is wall time");
    let f = fstat(fd).unwrap();
    assert_eq!((f.st_ino, f.st_size, f.st_dev), (s.st_ino, 5000, s.st_dev));
    let mut l = Stat::default();
    // SAFETY: a path and a writable struct.
    let r = unsafe { rump___sysimpl_lstat50(at("/d/f1").as_ptr(), &mut l) };
    assert_eq!(r, 0);
    assert_eq!(l.st_ino, s.st_ino);
    close(fd);

    let d = stat("/d").unwrap();
    assert_eq!(d.st_mode, S_IFDIR | 0o750);
    assert_eq!(d.st_nlink, 2);
    assert_eq!(stat("/").unwrap().st_ino, 2, "the root's inode");
    assert_eq!(stat("/d/none").unwrap_err(), ENOENT);
    assert_eq!(stat("/d/f1/x").unwrap_err(), ENOTDIR);

    // SAFETY: a plain call.
    let sock = unsafe { rump___sysimpl_socket30(2, 1, 0) };
    assert!(sock >= 0);
    let ss = fstat(sock).unwrap();
    assert_eq!(
        (ss.st_mode & S_IFMT, ss.st_size, ss.st_ino),
        (S_IFSOCK, 0, 0)
    );
    close(sock);

    // Names of every length class; getdents with small buffers continues.
    let mut names = vec!["f1".to_string()];
    for i in 0..40 {
        let n = format!("entry{i}{}", "x".repeat(i * 5));
        let fd = open(&format!("/d/{n}"), O_RDWR | O_CREAT | O_EXCL).unwrap();
        close(fd);
        names.push(n);
    }
    // SAFETY: a NUL-terminated path.
    unsafe { assert_eq!(rump___sysimpl_mkdir(at("/d/sub").as_ptr(), 0o755), 0) };
    names.push("sub".into());
    names.sort();
    for bufsize in [256, 1000, 65536] {
        assert_eq!(
            list("/d", bufsize),
            names,
            "getdents with {bufsize}-byte buffers"
        );
    }
    let fd = open("/d", O_RDONLY).unwrap();
    let all = getdents_all(fd, 4096);
    assert_eq!(
        all.iter()
            .filter(|e| e.name == "." || e.name == "..")
            .count(),
        2
    );
    for e in &all {
        let want = if e.name == "sub" || e.name.starts_with('.') {
            DT_DIR
        } else {
            DT_REG
        };
        assert_eq!(e.ty, want, "d_type of {}", e.name);
    }
    let sub = all.iter().find(|e| e.name == "sub").unwrap();
    assert_eq!(sub.fileno, stat("/d/sub").unwrap().st_ino, "d_fileno");
    // A buffer too small for the next entry: EINVAL, position kept.
    // SAFETY: plain calls with writable buffers.
    unsafe {
        assert_eq!(rump___sysimpl_lseek(fd, 0, 0), 0, "rewind");
        let mut tiny = [0u8; 8];
        assert_eq!(
            rump___sysimpl_getdents30(fd, tiny.as_mut_ptr() as *mut c_char, 8),
            -1
        );
        assert_eq!(errno(), EINVAL);
        let mut b = [0u8; 64];
        assert_eq!(
            rump___sysimpl_read(fd, b.as_mut_ptr() as *mut c_void, 64),
            -1
        );
        assert_eq!(errno(), EISDIR, "read on a directory");
    }
    assert_eq!(getdents_all(fd, 300), all, "after rewind, the same listing");
    close(fd);
    assert_eq!(open("/d", O_RDWR).unwrap_err(), EISDIR);
    assert_eq!(open("/d/f1", O_RDONLY | O_DIRECTORY).unwrap_err(), ENOTDIR);
    let fd = open("/d/f1", O_RDONLY).unwrap();
    let mut b = [0u8; 64];
    // SAFETY: a writable buffer.
    let r = unsafe { rump___sysimpl_getdents30(fd, b.as_mut_ptr() as *mut c_char, 64) };
    assert_eq!(r, -1);
    assert_eq!(errno(), ENOTDIR);
    // ftruncate needs a descriptor open for writing; lengths are >= 0.
    // SAFETY: plain calls.
    unsafe {
        assert_eq!(rump___sysimpl_ftruncate(fd, 10), -1);
        assert_eq!(errno(), EINVAL);
    }
    close(fd);

    // rmdir: non-empty, a file, empty.
    // SAFETY: NUL-terminated paths.
    unsafe {
        assert_eq!(rump___sysimpl_rmdir(at("/d").as_ptr()), -1);
        assert_eq!(errno(), ENOTEMPTY);
        assert_eq!(rump___sysimpl_rmdir(at("/d/f1").as_ptr()), -1);
        assert_eq!(errno(), ENOTDIR);
        assert_eq!(rump___sysimpl_rmdir(at("/d/sub").as_ptr()), 0);
        assert_eq!(rump___sysimpl_rmdir(at("/d/sub").as_ptr()), -1);
        assert_eq!(errno(), ENOENT);
    }
    assert_eq!(stat("/d").unwrap().st_nlink, 2, "the parent lost sub's ..");

    // truncate: grow leaves zeros, shrink cuts; ftruncate on a writer.
    // SAFETY: NUL-terminated paths.
    unsafe {
        assert_eq!(rump___sysimpl_truncate(at("/d/f1").as_ptr(), 100_000), 0);
        assert_eq!(rump___sysimpl_truncate(at("/d/f1").as_ptr(), -1), -1);
        assert_eq!(errno(), EINVAL);
        assert_eq!(rump___sysimpl_truncate(at("/d").as_ptr(), 0), -1);
        assert_eq!(errno(), EISDIR);
    }
    let mut want = data.clone();
    want.resize(100_000, 0);
    assert!(
        read_file("/d/f1") == want,
        "grown file reads zeros past the data"
    );
    // SAFETY: a NUL-terminated path.
    unsafe { assert_eq!(rump___sysimpl_truncate(at("/d/f1").as_ptr(), 1234), 0) };
    assert!(read_file("/d/f1") == data[..1234], "shrunk file");
    let fd = open("/d/f1", O_RDWR).unwrap();
    // SAFETY: plain calls.
    unsafe {
        assert_eq!(rump___sysimpl_ftruncate(fd, -5), -1);
        assert_eq!(errno(), EINVAL);
        assert_eq!(rump___sysimpl_ftruncate(fd, 3000), 0);
    }
    assert_eq!(fstat(fd).unwrap().st_size, 3000);
    close(fd);
    let mut want = data[..1234].to_vec();
    want.resize(3000, 0);
    assert!(read_file("/d/f1") == want);
}

/// What the kernel should answer for each operation, from the model.
fn expect_rmdir(m: &Model, p: &str) -> Result<(), i32> {
    match m.nodes.get(p) {
        None => Err(ENOENT),
        Some(Node::File(_)) => Err(ENOTDIR),
        Some(Node::Dir) if !m.children(p).is_empty() => Err(ENOTEMPTY),
        Some(Node::Dir) => Ok(()),
    }
}

fn within(p: &str, anc: &str) -> bool {
    p == anc || p.starts_with(&format!("{anc}/"))
}

fn expect_rename(m: &Model, src: &str, dst: &str) -> Result<(), i32> {
    let sdir = m.nodes[src] == Node::Dir;
    if sdir && within(&parent_of(dst), src) {
        return Err(EINVAL);
    }
    if dst == src {
        return Ok(());
    }
    match m.nodes.get(dst) {
        None => Ok(()),
        Some(Node::Dir) if !sdir => Err(EISDIR),
        Some(Node::Dir) if !m.children(dst).is_empty() => Err(ENOTEMPTY),
        Some(Node::File(_)) if sdir => Err(ENOTDIR),
        _ => Ok(()),
    }
}

fn pick(rng: &mut Rng, v: &[String]) -> Option<String> {
    (!v.is_empty()).then(|| v[rng.below(v.len() as u64) as usize].clone())
}

fn name(rng: &mut Rng) -> String {
    if rng.chance(5) {
        format!("long{}{}", rng.below(4), "y".repeat(120))
    } else {
        format!("n{}", rng.below(8))
    }
}

fn cpath(a: &str) -> CString {
    at(a)
}

/// A seeded random operation sequence through the C symbols, each
/// result compared with the model; the tree is compared every 50 steps.
fn random_ops(m: &mut Model, seed: u64, ops: usize) {
    let mut rng = Rng::new(seed);
    for step in 0..ops {
        let dirs = m.dirs();
        let files = m.files();
        let what = rng.below(100);
        let ctx = format!("seed {seed} step {step}");
        if what < 15 {
            let p = join(&pick(&mut rng, &dirs).unwrap(), &name(&mut rng));
            let trunc = rng.chance(20);
            let flags = O_RDWR | O_CREAT | if trunc { O_TRUNC } else { 0 };
            let want = match m.nodes.get(&p) {
                Some(Node::Dir) => Err(EISDIR),
                _ => Ok(()),
            };
            let r = open(&p, flags);
            assert_eq!(r.map(|_| ()), want, "{ctx}: create {p}");
            if let Ok(fd) = r {
                close(fd);
                match m.nodes.entry(p).or_insert(Node::File(Vec::new())) {
                    Node::File(d) if trunc => d.clear(),
                    _ => {}
                }
            }
        } else if what < 45 {
            let Some(p) = pick(&mut rng, &files) else {
                continue;
            };
            let Some(Node::File(cur)) = m.nodes.get_mut(&p) else {
                unreachable!()
            };
            let off = match rng.below(4) {
                0 => 0,
                1 => cur.len() as u64,
                2 => rng.below(cur.len() as u64 + 1),
                _ => rng.below(300_000),
            };
            let max = if rng.chance(10) { 60_000 } else { 6000 };
            let n = 1 + rng.below(max) as usize;
            let data = rng.bytes(n);
            let fd = open(&p, O_RDWR).unwrap();
            if rng.chance(50) {
                assert_eq!(
                    pwrite(fd, &data, off),
                    Ok(data.len() as i64),
                    "{ctx}: pwrite {p}"
                );
            } else {
                // SAFETY: plain calls with a readable buffer.
                unsafe {
                    assert_eq!(rump___sysimpl_lseek(fd, off as i64, 0), off as i64);
                    let n = common::rump___sysimpl_write(
                        fd,
                        data.as_ptr() as *const c_void,
                        data.len(),
                    );
                    assert_eq!(n, data.len() as isize, "{ctx}: write {p}");
                }
            }
            close(fd);
            let end = off as usize + data.len();
            if cur.len() < end {
                cur.resize(end, 0);
            }
            cur[off as usize..end].copy_from_slice(&data);
        } else if what < 55 {
            let Some(p) = pick(&mut rng, &files) else {
                continue;
            };
            let Some(Node::File(cur)) = m.nodes.get_mut(&p) else {
                unreachable!()
            };
            let size = match rng.below(3) {
                0 => 0,
                1 => rng.below(cur.len() as u64 + 1),
                _ => cur.len() as u64 + rng.below(40_000),
            };
            if rng.chance(50) {
                // SAFETY: a NUL-terminated path.
                let r = unsafe { rump___sysimpl_truncate(cpath(&p).as_ptr(), size as i64) };
                assert_eq!(r, 0, "{ctx}: truncate {p}: errno {}", errno());
            } else {
                let fd = open(&p, O_RDWR).unwrap();
                // SAFETY: a plain call.
                let r = unsafe { rump___sysimpl_ftruncate(fd, size as i64) };
                assert_eq!(r, 0, "{ctx}: ftruncate {p}: errno {}", errno());
                close(fd);
            }
            cur.resize(size as usize, 0);
        } else if what < 63 {
            let p = if rng.chance(85) {
                pick(&mut rng, &files)
            } else {
                Some(join(&pick(&mut rng, &dirs).unwrap(), &name(&mut rng)))
            };
            let Some(p) = p else { continue };
            let want = match m.nodes.get(&p) {
                None => Err(ENOENT),
                Some(Node::Dir) => Err(EISDIR),
                Some(_) => Ok(()),
            };
            // SAFETY: a NUL-terminated path.
            let r = rv(unsafe { rump___sysimpl_unlink(cpath(&p).as_ptr()) }.into());
            assert_eq!(r.map(|_| ()), want, "{ctx}: unlink {p}");
            if r.is_ok() {
                m.nodes.remove(&p);
            }
        } else if what < 72 {
            let p = join(&pick(&mut rng, &dirs).unwrap(), &name(&mut rng));
            let want = if m.nodes.contains_key(&p) {
                Err(EEXIST)
            } else {
                Ok(())
            };
            // SAFETY: a NUL-terminated path.
            let r = rv(unsafe { rump___sysimpl_mkdir(cpath(&p).as_ptr(), 0o755) }.into());
            assert_eq!(r.map(|_| ()), want, "{ctx}: mkdir {p}");
            if r.is_ok() {
                m.nodes.insert(p, Node::Dir);
            }
        } else if what < 80 {
            let cand: Vec<String> = m.nodes.keys().filter(|p| *p != "/").cloned().collect();
            let Some(p) = pick(&mut rng, &cand) else {
                continue;
            };
            // SAFETY: a NUL-terminated path.
            let r = rv(unsafe { rump___sysimpl_rmdir(cpath(&p).as_ptr()) }.into());
            assert_eq!(r.map(|_| ()), expect_rmdir(m, &p), "{ctx}: rmdir {p}");
            if r.is_ok() {
                m.nodes.remove(&p);
            }
        } else if what < 90 {
            let cand: Vec<String> = m.nodes.keys().filter(|p| *p != "/").cloned().collect();
            let Some(src) = pick(&mut rng, &cand) else {
                continue;
            };
            let dst = join(&pick(&mut rng, &dirs).unwrap(), &name(&mut rng));
            let want = expect_rename(m, &src, &dst);
            // SAFETY: NUL-terminated paths.
            let r =
                rv(
                    unsafe { rump___sysimpl_rename(cpath(&src).as_ptr(), cpath(&dst).as_ptr()) }
                        .into(),
                );
            assert_eq!(r.map(|_| ()), want, "{ctx}: rename {src} {dst}");
            if r.is_ok() && dst != src {
                m.nodes.remove(&dst);
                let moved: Vec<String> = m
                    .nodes
                    .keys()
                    .filter(|p| within(p, &src))
                    .cloned()
                    .collect();
                for p in moved {
                    let node = m.nodes.remove(&p).unwrap();
                    m.nodes.insert(format!("{dst}{}", &p[src.len()..]), node);
                }
            }
        } else {
            let Some(d) = pick(&mut rng, &dirs) else {
                continue;
            };
            let mut want = m.children(&d);
            want.sort();
            let bufsize = [256, 512, 4096][rng.below(3) as usize];
            assert_eq!(list(&d, bufsize), want, "{ctx}: getdents {d}");
        }
        if step % 50 == 49 {
            verify(m);
        }
    }
}

/// The whole tree through stat, getdents and reads equals the model.
fn verify(m: &Model) {
    for (p, node) in &m.nodes {
        let s = stat(p).unwrap();
        match node {
            Node::Dir => {
                assert_eq!(s.st_mode & S_IFMT, S_IFDIR, "{p}");
                let mut want = m.children(p);
                want.sort();
                assert_eq!(list(p, 512), want, "dir {p}");
                let sub = want
                    .iter()
                    .filter(|n| m.nodes[&join(p, n)] == Node::Dir)
                    .count();
                assert_eq!(s.st_nlink as usize, 2 + sub, "links of {p}");
            }
            Node::File(d) => {
                assert_eq!(s.st_mode & S_IFMT, S_IFREG, "{p}");
                assert_eq!(s.st_size as usize, d.len(), "size of {p}");
                assert!(read_file(p) == *d, "contents of {p}");
            }
        }
    }
}

#[test]
fn metadata_and_random_ops() {
    if !e2::have_tools("metadata_and_random_ops") {
        return;
    }
    let dir = e2::temp_dir("kernel-fsmeta");
    let img = e2::mkfs(&dir, 32, 1024, 256, &[]);
    let key = c("/dev/fsmeta");
    let host = c(img.to_str().unwrap());
    // SAFETY: NUL-terminated strings.
    unsafe {
        assert_eq!(rump_init(), 0);
        assert_eq!(rump_pub_etfs_register(key.as_ptr(), host.as_ptr(), 1), 0);
    }
    mount(&key);
    metadata_calls();
    let listed = list("/d", 4096);

    let seed = std::env::var("FSMETA_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f5e7);
    println!("random operation sequence: seed {seed:#x} (FSMETA_SEED)");
    let mut m = Model::new();
    m.nodes.insert("/d".into(), Node::Dir);
    for n in &listed {
        let p = join("/d", n);
        m.nodes.insert(p.clone(), Node::File(read_file(&p)));
    }
    random_ops(&mut m, seed, 600);
    verify(&m);
    unmount();

    let (code, out) = e2::e2fsck(&img, "-fn");
    assert_eq!(code, 0, "e2fsck -fn: {out}");
    let mut bytes = BTreeMap::new();
    for (p, node) in &m.nodes {
        match node {
            Node::Dir => {
                let mut want = m.children(p);
                want.sort();
                let mut got = e2::debugfs_ls(&img, p);
                got.retain(|n| n != "." && n != "..");
                assert_eq!(got, want, "debugfs ls {p}");
            }
            Node::File(d) => {
                bytes.insert(p.clone(), d.len());
                assert!(e2::debugfs_cat(&img, p) == *d, "debugfs cat {p}");
            }
        }
    }
    println!(
        "{} files ({} bytes), {} directories match after unmount",
        bytes.len(),
        bytes.values().sum::<usize>(),
        m.dirs().len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

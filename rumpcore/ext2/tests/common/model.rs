//! The in-memory model of a file system tree and the seeded random
//! operation sequence checked against it.

use std::collections::BTreeMap;

use super::Rng;
use rumpcore_ext2::{Fs, FsError, OpenFlags};

/// The model: every path and what it is.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    File(Vec<u8>),
    Dir,
}

/// The model file system.
#[derive(Default)]
pub struct Model {
    pub nodes: BTreeMap<String, Node>,
}

pub fn parent_of(p: &str) -> String {
    match p.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => p[..i].to_string(),
    }
}

pub fn join(d: &str, n: &str) -> String {
    if d == "/" {
        format!("/{n}")
    } else {
        format!("{d}/{n}")
    }
}

impl Model {
    pub fn new() -> Model {
        let mut m = Model::default();
        m.nodes.insert("/".into(), Node::Dir);
        m.nodes.insert("/lost+found".into(), Node::Dir);
        m
    }
    pub fn dirs(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| **n == Node::Dir)
            .map(|(p, _)| p.clone())
            .collect()
    }
    pub fn files(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|(_, n)| matches!(n, Node::File(_)))
            .map(|(p, _)| p.clone())
            .collect()
    }
    pub fn children(&self, d: &str) -> Vec<String> {
        self.nodes
            .keys()
            .filter(|p| p.as_str() != "/" && parent_of(p) == d)
            .map(|p| p.rsplit('/').next().unwrap().to_string())
            .collect()
    }
    fn within(p: &str, anc: &str) -> bool {
        p == anc || p.starts_with(&format!("{anc}/"))
    }
}

fn pick<'a>(rng: &mut Rng, v: &'a [String]) -> Option<&'a String> {
    if v.is_empty() {
        None
    } else {
        Some(&v[rng.below(v.len() as u64) as usize])
    }
}

fn name(rng: &mut Rng) -> String {
    if rng.chance(5) {
        // Long names fill directory blocks quickly.
        format!("long{}{}", rng.below(4), "x".repeat(150))
    } else {
        format!("n{}", rng.below(8))
    }
}

fn errs<T: std::fmt::Debug>(r: Result<T, FsError>) -> Result<(), i32> {
    r.map(|_| ()).map_err(|e| e.errno())
}

/// Runs `ops` random operations on `fs`, checking each against `m`.
/// Calls `on_fsync(path, bytes)` for every fsync that returned Ok.
pub fn run_ops<D: rumpcore_ext2::BlockDevice>(
    fs: &mut Fs<D>,
    m: &mut Model,
    rng: &mut Rng,
    ops: usize,
    max_off: u64,
    mut on_fsync: impl FnMut(&str, &[u8]),
    strict: bool,
) -> Result<(), FsError> {
    for step in 0..ops {
        let what = rng.below(100);
        let dirs = m.dirs();
        let files = m.files();
        macro_rules! check {
            ($got:expr, $want:expr, $desc:expr) => {{
                let got = $got;
                let want: Result<(), i32> = $want;
                let gotm = errs(got.clone());
                if gotm != want {
                    if let Err(e) = &got {
                        if !strict {
                            return Err(*e);
                        }
                    }
                    panic!("step {step}: {}: got {got:?}, want {want:?}", $desc);
                }
                got
            }};
        }
        if what < 15 {
            let path = join(pick(rng, &dirs).unwrap(), &name(rng));
            let mut flags = OpenFlags::CREATE;
            let (excl, trunc) = (rng.chance(20), rng.chance(20));
            if excl {
                flags = flags | OpenFlags::EXCL;
            }
            if trunc {
                flags = flags | OpenFlags::TRUNC;
            }
            let want = match m.nodes.get(&path) {
                Some(_) if excl => Err(FsError::Exists.errno()),
                Some(Node::Dir) if trunc => Err(FsError::IsDir.errno()),
                _ => Ok(()),
            };
            let r = check!(fs.open(&path, flags, 0o644), want, format!("create {path}"));
            if let Ok(ino) = &r {
                fs.close(*ino)?;
            }
            if r.is_ok() {
                match m.nodes.get_mut(&path) {
                    None => {
                        m.nodes.insert(path, Node::File(Vec::new()));
                    }
                    Some(Node::File(d)) if trunc => d.clear(),
                    _ => {}
                }
            }
        } else if what < 45 {
            let Some(path) = pick(rng, &files).cloned() else {
                continue;
            };
            let Some(Node::File(cur)) = m.nodes.get(&path) else {
                unreachable!()
            };
            let len = cur.len() as u64;
            let off = match rng.below(5) {
                0 => 0,
                1 => len,
                2 => rng.below(len + 1),
                3 => len + rng.below(20_000),
                _ => rng.below(max_off),
            };
            let n = if rng.chance(10) {
                rng.below(70_000)
            } else {
                1 + rng.below(9000)
            } as usize;
            let data = rng.bytes(n);
            let ino = fs.open(&path, OpenFlags::NONE, 0)?;
            let got = check!(
                fs.write_at(ino, off, &data),
                Ok(()),
                format!("write {path}")
            );
            assert_eq!(got.unwrap(), n, "short write");
            fs.close(ino)?;
            let Some(Node::File(cur)) = m.nodes.get_mut(&path) else {
                unreachable!()
            };
            let end = off as usize + n;
            if cur.len() < end {
                cur.resize(end, 0);
            }
            cur[off as usize..end].copy_from_slice(&data);
        } else if what < 55 {
            let Some(path) = pick(rng, &files).cloned() else {
                continue;
            };
            let Some(Node::File(cur)) = m.nodes.get_mut(&path) else {
                unreachable!()
            };
            let len = cur.len() as u64;
            let size = match rng.below(3) {
                0 => 0,
                1 => rng.below(len + 1),
                _ => len + rng.below(50_000),
            };
            let ino = fs.open(&path, OpenFlags::NONE, 0)?;
            let _ = check!(fs.truncate(ino, size), Ok(()), format!("truncate {path}"));
            fs.close(ino)?;
            cur.resize(size as usize, 0);
        } else if what < 63 {
            let target = if rng.chance(85) {
                pick(rng, &files).cloned()
            } else {
                Some(join(pick(rng, &dirs).unwrap(), &name(rng)))
            };
            let Some(path) = target else { continue };
            let want = match m.nodes.get(&path) {
                None => Err(FsError::NotFound.errno()),
                Some(Node::Dir) => Err(FsError::IsDir.errno()),
                Some(_) => Ok(()),
            };
            if check!(fs.unlink(&path), want, format!("unlink {path}")).is_ok() {
                m.nodes.remove(&path);
            }
        } else if what < 72 {
            let path = join(pick(rng, &dirs).unwrap(), &name(rng));
            let want = if m.nodes.contains_key(&path) {
                Err(FsError::Exists.errno())
            } else {
                Ok(())
            };
            if check!(fs.mkdir(&path, 0o755), want, format!("mkdir {path}")).is_ok() {
                m.nodes.insert(path, Node::Dir);
            }
        } else if what < 78 {
            let cand: Vec<String> = m.nodes.keys().filter(|p| *p != "/").cloned().collect();
            let Some(path) = pick(rng, &cand).cloned() else {
                continue;
            };
            let want = match m.nodes.get(&path) {
                Some(Node::File(_)) => Err(FsError::NotDir.errno()),
                _ if !m.children(&path).is_empty() => Err(FsError::NotEmpty.errno()),
                _ => Ok(()),
            };
            if check!(fs.rmdir(&path), want, format!("rmdir {path}")).is_ok() {
                m.nodes.remove(&path);
            }
        } else if what < 90 {
            let cand: Vec<String> = m.nodes.keys().filter(|p| *p != "/").cloned().collect();
            let Some(src) = pick(rng, &cand).cloned() else {
                continue;
            };
            let dst = join(pick(rng, &dirs).unwrap(), &name(rng));
            let sdir = m.nodes[&src] == Node::Dir;
            let want = if sdir && Model::within(&parent_of(&dst), &src) {
                Err(FsError::Invalid.errno())
            } else if dst == src {
                Ok(())
            } else {
                match m.nodes.get(&dst) {
                    None => Ok(()),
                    Some(Node::Dir) if !sdir => Err(FsError::IsDir.errno()),
                    Some(Node::Dir) if !m.children(&dst).is_empty() => {
                        Err(FsError::NotEmpty.errno())
                    }
                    Some(Node::File(_)) if sdir => Err(FsError::NotDir.errno()),
                    _ => Ok(()),
                }
            };
            if check!(fs.rename(&src, &dst), want, format!("rename {src} {dst}")).is_ok()
                && dst != src
            {
                m.nodes.remove(&dst);
                let moved: Vec<String> = m
                    .nodes
                    .keys()
                    .filter(|p| Model::within(p, &src))
                    .cloned()
                    .collect();
                for p in moved {
                    let node = m.nodes.remove(&p).unwrap();
                    m.nodes.insert(format!("{dst}{}", &p[src.len()..]), node);
                }
            }
        } else if what < 95 {
            let Some(path) = pick(rng, &files).cloned() else {
                continue;
            };
            let ino = fs.open(&path, OpenFlags::NONE, 0)?;
            let _ = check!(fs.fsync(ino), Ok(()), format!("fsync {path}"));
            fs.close(ino)?;
            let Some(Node::File(cur)) = m.nodes.get(&path) else {
                unreachable!()
            };
            on_fsync(&path, cur);
        } else {
            let Some(path) = pick(rng, &files).cloned() else {
                continue;
            };
            let Some(Node::File(cur)) = m.nodes.get(&path) else {
                unreachable!()
            };
            let off = rng.below(cur.len() as u64 + 100);
            let mut buf = vec![0u8; 1 + rng.below(20_000) as usize];
            let ino = fs.open(&path, OpenFlags::NONE, 0)?;
            let n = fs.read_at(ino, off, &mut buf)?;
            fs.close(ino)?;
            let want = &cur[(off as usize).min(cur.len())..];
            let want = &want[..want.len().min(buf.len())];
            assert!(strict || n == want.len());
            assert_eq!(n, want.len(), "step {step}: read {path} @ {off}");
            assert!(&buf[..n] == want, "step {step}: read {path} @ {off} bytes");
        }
        if strict && step % 100 == 99 {
            verify(fs, m);
        }
    }
    Ok(())
}

/// Compares the whole tree and every file with the model.
pub fn verify<D: rumpcore_ext2::BlockDevice>(fs: &mut Fs<D>, m: &Model) {
    for (path, node) in &m.nodes {
        match node {
            Node::Dir => {
                let mut got: Vec<String> = fs
                    .readdir(path)
                    .unwrap()
                    .iter()
                    .map(|e| String::from_utf8(e.name.clone()).unwrap())
                    .filter(|n| n != "." && n != "..")
                    .collect();
                got.sort();
                let mut want = m.children(path);
                want.sort();
                assert_eq!(got, want, "dir {path}");
                let subdirs = want
                    .iter()
                    .filter(|n| m.nodes[&join(path, n)] == Node::Dir)
                    .count();
                assert_eq!(
                    fs.stat(path).unwrap().nlink as usize,
                    2 + subdirs,
                    "links {path}"
                );
            }
            Node::File(data) => {
                let ino = fs.open(path, OpenFlags::NONE, 0).unwrap();
                assert_eq!(fs.len(ino).unwrap(), data.len() as u64, "size {path}");
                let mut buf = vec![0u8; data.len()];
                fs.read_at(ino, 0, &mut buf).unwrap();
                fs.close(ino).unwrap();
                assert!(buf == *data, "contents {path}");
            }
        }
    }
}

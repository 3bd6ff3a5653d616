//! The document root as the server sees it: look a normalised path up and
//! read a file's bytes at an offset. The guest implements it over the rump
//! kernel's ext2 mount; [`StaticRoot`] serves files held in memory (the
//! guest's built-in pages when it has no disk).

use core::convert::Infallible;
use core::fmt::Debug;

/// What the server needs to know about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Length in bytes (ignored for directories).
    pub len: u64,
    /// Last modification, Unix seconds.
    pub mtime: u64,
    /// A directory (served through its `index.html`).
    pub is_dir: bool,
}

/// A tree of files. Paths are normalised (`/` or `/a/b`: no empty, `.` or
/// `..` segments, no NUL), see [`crate::target`].
pub trait DocRoot {
    /// An I/O failure (answered 500, or ends a body already under way).
    type Error: Debug;

    /// The file or directory at `path`, `None` if there is none.
    fn stat(&mut self, path: &str) -> Result<Option<Meta>, Self::Error>;

    /// Reads bytes of the file at `path` from `offset` into `buf`; returns
    /// how many (0 only at or past the end).
    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, Self::Error>;
}

/// Files held in memory: `(path, bytes)` pairs; every proper prefix of a
/// path that ends before a `/` is a directory, `/` always is.
#[derive(Debug, Clone, Copy)]
pub struct StaticRoot<'a> {
    files: &'a [(&'a str, &'a [u8])],
    mtime: u64,
}

impl<'a> StaticRoot<'a> {
    /// A root of `files`, all modified at `mtime` (Unix seconds).
    pub const fn new(files: &'a [(&'a str, &'a [u8])], mtime: u64) -> Self {
        StaticRoot { files, mtime }
    }

    fn file(&self, path: &str) -> Option<&'a [u8]> {
        self.files.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
    }
}

impl DocRoot for StaticRoot<'_> {
    type Error = Infallible;

    fn stat(&mut self, path: &str) -> Result<Option<Meta>, Infallible> {
        if let Some(bytes) = self.file(path) {
            return Ok(Some(Meta {
                len: bytes.len() as u64,
                mtime: self.mtime,
                is_dir: false,
            }));
        }
        let is_dir = path == "/"
            || self.files.iter().any(|(p, _)| {
                p.len() > path.len() && p.starts_with(path) && p.as_bytes()[path.len()] == b'/'
            });
        Ok(is_dir.then_some(Meta {
            len: 0,
            mtime: self.mtime,
            is_dir: true,
        }))
    }

    fn read_at(&mut self, path: &str, offset: u64, buf: &mut [u8]) -> Result<usize, Infallible> {
        let bytes = self.file(path).unwrap_or(&[]);
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_root_lookups() {
        let mut r = StaticRoot::new(&[("/index.html", b"hi"), ("/d/e/f.txt", b"abc")], 7);
        assert_eq!(
            r.stat("/index.html").unwrap(),
            Some(Meta {
                len: 2,
                mtime: 7,
                is_dir: false
            })
        );
        assert!(r.stat("/").unwrap().unwrap().is_dir);
        assert!(r.stat("/d").unwrap().unwrap().is_dir);
        assert!(r.stat("/d/e").unwrap().unwrap().is_dir);
        assert_eq!(r.stat("/d/e/f").unwrap(), None);
        assert_eq!(r.stat("/index").unwrap(), None);
        let mut buf = [0u8; 8];
        assert_eq!(r.read_at("/d/e/f.txt", 1, &mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"bc");
        assert_eq!(r.read_at("/d/e/f.txt", 3, &mut buf).unwrap(), 0);
        assert_eq!(r.read_at("/d/e/f.txt", u64::MAX, &mut buf).unwrap(), 0);
    }
}

//! Open handles: a count per inode, so a file unlinked while open keeps
//! its inode and blocks until the last close (or unmount).

use alloc::vec::Vec;

use crate::device::BlockDevice;
use crate::error::{FsError, Result};
use crate::fs::{Fs, Ino};

impl<D: BlockDevice> Fs<D> {
    /// Counts one more open handle on `ino`.
    pub(crate) fn hold(&mut self, ino: Ino) {
        let n = self.open.entry(ino).or_insert(0);
        *n = n.saturating_add(1);
    }

    /// True while some handle on `ino` is open.
    pub(crate) fn is_open(&self, ino: Ino) -> bool {
        self.open.contains_key(&ino)
    }

    /// Closes one handle on `ino`; the last close of a file with no links
    /// left frees it.
    pub fn close(&mut self, ino: Ino) -> Result<()> {
        let n = self.open.get_mut(&ino).ok_or(FsError::Invalid)?;
        *n -= 1;
        if *n > 0 {
            return Ok(());
        }
        self.open.remove(&ino);
        self.seq.remove(&ino);
        self.release_if_unlinked(ino)
    }

    fn release_if_unlinked(&mut self, ino: Ino) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        let inode = self.read_inode(ino)?;
        if inode.mode() != 0 && inode.links() == 0 && !inode.is_dir() {
            self.free_file(ino, inode)?;
        }
        Ok(())
    }

    /// Closes every handle (at unmount), freeing unlinked files.
    pub(crate) fn release_all(&mut self) -> Result<()> {
        let inos: Vec<Ino> = self.open.keys().copied().collect();
        self.open.clear();
        self.seq.clear();
        for ino in inos {
            self.release_if_unlinked(ino)?;
        }
        Ok(())
    }
}

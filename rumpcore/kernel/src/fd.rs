//! The file descriptor table: small integers naming kernel objects
//! (sockets and open files), lowest free number first, as POSIX requires.

use alloc::vec::Vec;

use rumpcore_net::SocketHandle;
use rumpuser_abi::errno;

/// The first descriptor handed out (0–2 stay free, as for a process
/// without standard streams they would be taken by the console).
pub const FD_FIRST: usize = 3;
/// Descriptors at most (EMFILE beyond).
pub const FD_MAX: usize = 4096;

/// What a descriptor refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum File {
    /// A socket of the network stack.
    Socket(SocketHandle),
    /// An open file (its number in the file table).
    Vnode(u32),
}

/// The table.
#[derive(Default)]
pub struct FdTable {
    slots: Vec<Option<File>>,
}

impl FdTable {
    /// Installs `f` at the lowest free descriptor.
    pub fn alloc(&mut self, f: File) -> Result<i32, i32> {
        if self.slots.len() < FD_FIRST {
            self.slots.resize(FD_FIRST, None);
        }
        let free = self.slots[FD_FIRST..].iter().position(|s| s.is_none());
        let fd = match free {
            Some(i) => i + FD_FIRST,
            None if self.slots.len() < FD_MAX => {
                self.slots.push(None);
                self.slots.len() - 1
            }
            None => return Err(errno::EMFILE),
        };
        self.slots[fd] = Some(f);
        Ok(fd as i32)
    }

    /// The object behind `fd` (EBADF if none).
    pub fn get(&self, fd: i32) -> Result<File, i32> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i).copied().flatten())
            .ok_or(errno::EBADF)
    }

    /// The socket behind `fd` (EBADF if none, ENOTSOCK if not a socket).
    pub fn socket(&self, fd: i32) -> Result<SocketHandle, i32> {
        match self.get(fd)? {
            File::Socket(h) => Ok(h),
            File::Vnode(_) => Err(errno::ENOTSOCK),
        }
    }

    /// Frees `fd`, returning what it held.
    pub fn remove(&mut self, fd: i32) -> Result<File, i32> {
        let f = self.get(fd)?;
        self.slots[fd as usize] = None;
        Ok(f)
    }
}

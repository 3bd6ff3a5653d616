//! The C structures and opaque handle types the hypercalls pass around.

use core::ffi::c_void;
use core::marker::{PhantomData, PhantomPinned};

/// `pid_t` on NetBSD/x86-64.
pub type Pid = i32;

/// `struct rumpuser_iovec { void *base; size_t len; }`, used by
/// `rumpuser_iovread`/`rumpuser_iovwrite`; `rumpcomp_virt_send` and
/// `rump_virtif_virt_deliverpkt` take `struct iovec`, which has the same
/// layout (see [`Iovec`]).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RumpuserIovec {
    /// Start of the buffer.
    pub base: *mut c_void,
    /// Length of the buffer in bytes.
    pub len: usize,
}

/// `struct iovec { void *iov_base; size_t iov_len; }` as the `virt`
/// hypercalls see it; identical in layout to [`RumpuserIovec`].
pub type Iovec = RumpuserIovec;

macro_rules! opaque {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[repr(C)]
        pub struct $name {
            _data: [u8; 0],
            _marker: PhantomData<(*mut u8, PhantomPinned)>,
        }
    };
}

opaque!(
    /// `struct lwp`: the kernel's light-weight process, opaque to the
    /// platform (it only stores and returns pointers to it).
    Lwp
);
opaque!(
    /// `struct rumpuser_mtx`: a mutex, allocated by the platform.
    RumpuserMtx
);
opaque!(
    /// `struct rumpuser_rw`: a reader/writer lock, allocated by the platform.
    RumpuserRw
);
opaque!(
    /// `struct rumpuser_cv`: a condition variable, allocated by the platform.
    RumpuserCv
);
opaque!(
    /// `struct virtif_sc`: the kernel's `virt` interface softc, kept by the
    /// platform and handed back on delivery.
    VirtifSc
);
opaque!(
    /// `struct virtif_user`: the platform's per-interface state handle.
    VirtifUser
);

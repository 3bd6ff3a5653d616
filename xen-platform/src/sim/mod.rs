//! The simulated hypervisor for host tests (`sim` feature, and all unit
//! tests): in-memory stand-ins for Xen's services behind the same traits as
//! the real platform, with switches to make the peer misbehave.

pub mod xenstore;

//! Architecture support: the x86_64 entry paths (PVH now, PV later), CPU
//! helpers, exception handling and the hypercall calling convention.

pub(crate) mod x86_64;

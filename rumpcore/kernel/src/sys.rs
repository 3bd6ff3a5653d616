//! The rumpuser v17 and `rumpcomp_virt_*` hypercalls this kernel calls,
//! as declared once in rumpuser-abi (the platform defines them).

pub use rumpuser_abi::calls::*;

//! The hypercalls under test, as declared once in rumpuser-abi. The suite
//! never knows which implementation the linker resolves them to.

pub use rumpuser_abi::calls::*;

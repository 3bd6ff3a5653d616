//! Integration tests across the parts; the tests live in `xen.rs` (guests on
//! the embedded Xen test host). This library is empty on purpose: cargo needs
//! a target for the package, and the tests share nothing yet.

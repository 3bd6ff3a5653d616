//! Test data both sides of a check compute the same way: a guest on Xen
//! (`no_std`) and a dom0 tool. FNV-1a digests of streams and disks, a seeded
//! pattern any byte of which can be computed from its offset alone, and the
//! seeded generator behind both sides' choices.
#![no_std]

pub mod fnv;
pub mod pattern;
pub mod rng;

pub use fnv::{fnv1a, Fnv1a};
pub use pattern::Pattern;
pub use rng::SplitMix64;

//! FNV-1a, 64 bit: the stable fingerprint dom0 tools and guests both
//! compute (from `check-data`, which guests share).

pub use check_data::fnv::{fnv1a, Fnv1a};

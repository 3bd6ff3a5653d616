//! The seeded generator of the simulated blkback and tests: the simulated
//! hypervisor's (`xen_platform::sim::rng`), shared by every simulated backend.

pub use xen_platform::sim::rng::XorShift;

//! The seeded generator of the simulated netback and wire: the simulated
//! hypervisor's (`xen_platform::sim::rng`), shared by every simulated backend.

pub use xen_platform::sim::rng::XorShift;

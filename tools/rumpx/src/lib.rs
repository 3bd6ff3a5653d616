//! rumpx, the dom0 side: build guest images, check them, write xl configs,
//! run guests with `xl create` on a local Xen or on the embedded Xen test
//! host (Xen + Linux dom0 under QEMU), and read how they ended.

pub mod background_guest;
pub mod bench_blk;
pub mod bench_http;
pub mod bench_http_report;
pub mod bench_net;
pub mod bench_report;
pub mod build_cache;
pub mod bzimage;
pub mod cpio;
pub mod dom0;
pub mod dom0_disk;
pub mod dom0_image;
pub mod elf_image;
pub mod error;
pub mod ext2_image;
pub mod fingerprint;
pub mod guest_build;
pub mod guest_defaults;
pub mod http_client;
pub mod job;
pub mod kernel_modules;
pub mod launch;
pub mod linux_domu;
pub mod local_xen;
pub mod outcome;
pub mod packages;
pub mod port_forward;
pub mod pvh_elf;
pub mod qemu;
pub mod scenario;
pub mod scenario_report;
pub mod scenario_run;
pub mod setup_checks;
pub mod signals;
pub mod test_host;
#[cfg(test)]
mod test_support;
pub mod xenstore;
pub mod xl_config;
pub mod xl_parse;

pub use dom0::Dom0;
pub use error::{Error, Result};
pub use job::GuestSpec;
pub use outcome::{ConsoleLine, GuestOutcome, ShutdownReason};
pub use test_host::{HostOptions, TestHost};
pub use xl_config::{Disk, DiskAccess, ShutdownAction, Vif};

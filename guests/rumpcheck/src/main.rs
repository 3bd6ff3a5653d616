//! The rumpcheck guest: runs the rumpuser conformance suite (the one the
//! hosted implementation passes in `cargo test`) against the Xen
//! hypercalls of rumpuser-xen, one console line per case, then measures
//! the two hypercalls a rump kernel calls most: `rumpuser_curlwp` and an
//! uncontended mutex enter/exit.
//!
//! Lines: `rumpcheck: <case> ok` or `rumpcheck: <case> FAILED: <why>`,
//! `rumpcheck: N passed, M failed`, a `rumpuser_dprintf` line with
//! conversions (`rumpcheck: dprintf 42 -7 ok 0xff 18446744073709551615`,
//! which the suite's own formatless call does not show), and `rumpcheck:
//! bench curlwp <ns> ns, mutex enter/exit <ns> ns (uncontended, N
//! iterations)`.
//!
//! Command line (xl's `extra=`): `disk=xvdX` (default `xvda`, if the
//! domain has a disk), `disk_bytes=N` (its expected size), `virt=N` (the
//! vif unit; default 0 if the domain has a vif), `echo=1` (the other end
//! echoes frames back), `cases=WORD` (only cases whose name contains it),
//! `bench_iterations=N`.
#![no_std]
#![no_main]

extern crate alloc;

mod bench;

use alloc::string::String;
use rumpuser_conformance::Config;
use xen_platform::start_info::cmdline_option;
use xen_platform::xenstore::xen as xs;
use xen_platform::xenstore::{Tx, XenstoreOps};
use xen_platform::{println, sched, BootInfo};

xen_platform::entry!(main);

/// Stack of the thread running the suite.
const SUITE_STACK_BYTES: usize = 512 * 1024;
/// Default iterations of each benchmark loop.
const BENCH_ITERATIONS: u64 = 1_000_000;

fn main(boot: &BootInfo) {
    rumpuser_xen::init(boot);
    let cmdline = String::from(boot.cmdline());
    let suite = sched::spawn_with_stack("rumpcheck", SUITE_STACK_BYTES, move || run(&cmdline));
    match suite {
        Ok(thread) => thread.join(),
        Err(e) => panic!("rumpcheck: no suite thread: {e}"),
    }
}

/// Whether xenstore lists a device of `kind` (`vbd`, `vif`) for us.
fn has_device(kind: &str) -> bool {
    xs::xenstore()
        .ok()
        .and_then(|s| s.directory(Tx::NONE, &alloc::format!("device/{kind}")).ok())
        .is_some_and(|d| !d.is_empty())
}

fn run(cmdline: &str) {
    let disk = cmdline_option(cmdline, "disk").or(has_device("vbd").then_some("xvda"));
    let virt = cmdline_option(cmdline, "virt").or(has_device("vif").then_some("0"));
    let config = Config {
        disk_path: disk,
        disk_bytes: cmdline_option(cmdline, "disk_bytes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        virt_unit: virt,
        expect_echo: cmdline_option(cmdline, "echo") == Some("1"),
        ..Config::default()
    };
    println!(
        "rumpcheck: disk {:?} ({} bytes expected), virt unit {:?}, echo {}",
        config.disk_path, config.disk_bytes, config.virt_unit, config.expect_echo
    );
    let filter = cmdline_option(cmdline, "cases");
    let (passed, failed) = rumpuser_conformance::run(&config, filter, &mut |name, r| match r {
        Ok(()) => println!("rumpcheck: {name} ok"),
        Err(why) => println!("rumpcheck: {name} FAILED: {why}"),
    });
    println!("rumpcheck: {passed} passed, {failed} failed");
    bench::dprintf_conversions();
    let iterations = cmdline_option(cmdline, "bench_iterations")
        .and_then(|v| v.parse().ok())
        .unwrap_or(BENCH_ITERATIONS)
        .max(1);
    let b = bench::run(iterations);
    println!(
        "rumpcheck: bench curlwp {:.2} ns, mutex enter/exit {:.2} ns (uncontended, {iterations} iterations)",
        b.curlwp_ns, b.mutex_ns
    );
    println!(
        "rumpcheck: bench in TSC ticks: curlwp {:.1}, mutex enter/exit {:.1}",
        b.curlwp_ticks, b.mutex_ticks
    );
}

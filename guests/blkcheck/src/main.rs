//! The blkcheck guest: blkfront on the guest's disks, for the block tests
//! and benchmarks on Xen. Each command-line key names a disk (`xvda`, or
//! the vbd's number) and what to do with it, several separated by commas
//! (`verify=xvdb:HEX,xvdc:HEX`); the tasks run in this order:
//!
//! - `write=DISK:SEED`: write check-data's seeded pattern over the whole
//!   disk in mixed request sizes (512 B .. 1 MiB), then flush;
//! - `verify=DISK:HEX`: read the whole disk and compare its FNV-1a digest;
//! - `readonly=DISK`: read it, and see a write refused;
//! - `bench=DISK`: sequential write/read MB/s and 4 KiB random-read IOPS
//!   (overwrites the disk);
//! - `detach=DISK`: wait for `xl block-detach`, then see I/O to it fail.
//!
//! After each task it prints the disk's negotiated features and counters;
//! then it powers off. A failed task is reported and the rest still run.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod disk;
mod tasks;

use alloc::string::String;
use alloc::vec::Vec;
use disk::Disk;
use xen_platform::start_info::cmdline_option;
use xen_platform::{println, sched, BootInfo};

xen_platform::entry!(main);

/// Stack of the thread running the tasks.
const TASK_STACK_BYTES: usize = 256 * 1024;

/// The task keys, in the order they run.
const TASKS: &[&str] = &["write", "verify", "readonly", "bench", "detach"];

fn main(boot: &BootInfo) {
    let cmdline = String::from(boot.cmdline());
    let worker = sched::spawn_with_stack("blkcheck", TASK_STACK_BYTES, move || run(&cmdline));
    match worker {
        Ok(thread) => thread.join(),
        Err(e) => panic!("blkcheck: no task thread: {e}"),
    }
}

fn run(cmdline: &str) {
    let mut failures = 0;
    let mut opened: Vec<Disk> = Vec::new();
    let jobs = TASKS.iter().flat_map(|&task| {
        cmdline_option(cmdline, task)
            .into_iter()
            .flat_map(|value| value.split(','))
            .map(move |job| (task, job))
    });
    for (task, job) in jobs {
        let (name, arg) = job.split_once(':').unwrap_or((job, ""));
        let result = match opened.iter().position(|d| d.name() == name) {
            Some(i) => Ok(i),
            None => Disk::open(name).map(|d| {
                println!("blkcheck: {}", d.describe());
                opened.push(d);
                opened.len() - 1
            }),
        }
        .and_then(|i| {
            let disk = &mut opened[i];
            let done = run_task(task, disk, arg);
            println!("blkcheck: {} counters {}", disk.name(), disk.counters());
            done
        });
        if let Err(e) = result {
            failures += 1;
            println!("blkcheck: {task} {name} FAILED: {e}");
        }
    }
    for disk in &mut opened {
        match disk.close() {
            Ok(()) => println!(
                "blkcheck: {} closed, grants held {}",
                disk.name(),
                disk.grants_held()
            ),
            Err(e) => {
                failures += 1;
                println!("blkcheck: close FAILED: {e}");
            }
        }
    }
    println!("blkcheck: done, {failures} failed");
}

fn run_task(task: &str, disk: &mut Disk, arg: &str) -> Result<(), String> {
    match task {
        "write" => {
            let seed = arg
                .parse()
                .map_err(|_| alloc::format!("write: seed {arg:?} is not a number"))?;
            tasks::write_pattern(disk, seed)
        }
        "verify" => tasks::verify_digest(disk, arg),
        "readonly" => tasks::refuse_write(disk),
        "bench" => tasks::bench(disk),
        _ => tasks::see_detach(disk),
    }
}

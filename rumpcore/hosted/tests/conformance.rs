//! The conformance suite against the hosted implementation: every case
//! passes, disk on a temporary file, virt unit "0" wired to an echo peer.

use std::io::Write;

use rumpuser_conformance::{run, Config};

#[test]
fn hosted_passes_the_conformance_suite() {
    // One test function: the suite's state is process-global.
    let disk =
        std::env::temp_dir().join(format!("rumpuser-conformance-{}.img", std::process::id()));
    let disk_bytes = 2u64 << 20;
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(disk_bytes)
        .unwrap();
    rumpuser_hosted::virt_loopback_echo("0");
    let path = disk.to_str().unwrap();
    let cfg = Config {
        disk_path: Some(path),
        disk_bytes,
        virt_unit: Some("0"),
        expect_echo: true,
        ..Config::default()
    };
    let mut failures = Vec::new();
    let mut names = Vec::new();
    let (passed, failed) = run(&cfg, None, &mut |name, r| {
        names.push(name.to_string());
        match r {
            Ok(()) => eprintln!("ok   {name}"),
            Err(e) => {
                eprintln!("FAIL {name}: {e}");
                failures.push(format!("{name}: {e}"));
            }
        }
        let _ = std::io::stderr().flush();
    });
    let _ = std::fs::remove_file(&disk);
    assert!(failures.is_empty(), "{failed} failed: {failures:#?}");
    assert_eq!(failed, 0);
    // Every case ran (the config enables them all).
    let all: Vec<&str> = rumpuser_conformance::case_names().collect();
    assert_eq!(passed, all.len(), "ran {names:?}");
}

#[test]
fn errno_table_maps_linux_numbers() {
    use rumpuser_hosted::errno::from_linux;
    assert_eq!(from_linux(libc_errno::ETIMEDOUT), 60);
    assert_eq!(from_linux(libc_errno::EAGAIN), 35);
    assert_eq!(from_linux(libc_errno::ENOSYS), 78);
    assert_eq!(from_linux(libc_errno::ENOENT), 2);
    assert_eq!(from_linux(libc_errno::ENOTEMPTY), 66);
}

/// Linux numbers, spelled out so the test needs no libc dependency.
mod libc_errno {
    pub const ENOENT: i32 = 2;
    pub const EAGAIN: i32 = 11;
    pub const ENOSYS: i32 = 38;
    pub const ENOTEMPTY: i32 = 39;
    pub const ETIMEDOUT: i32 = 110;
}

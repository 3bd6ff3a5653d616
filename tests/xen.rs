//! Tier 3: guests on real Xen. Boots the embedded test host (Xen 4.17 and a
//! Linux dom0 under QEMU) once, then runs every case against it with
//! `xl create`, prints a table and the figures seen, and ends with the line
//! "N passed, N failed". Set RUMPX_SKIP_XEN=1 to skip (the line says so).

use rumpx::elf_image::MinimalImage;
use rumpx::error::Error;
use rumpx::outcome::ShutdownReason;
use rumpx::pvh_elf::PvhError;
use rumpx::{guest_build, job, GuestOutcome, GuestSpec, HostOptions, TestHost};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// A case's verdict: Ok, or what was wrong.
type Verdict = Result<(), String>;

/// A named case.
type Case = (&'static str, fn(&Fixture) -> Verdict);

/// What the cases share.
struct Fixture {
    host: TestHost,
    hello: PathBuf,
    panic: PathBuf,
    scratch: PathBuf,
    /// "major.minor" of the Xen the host runs, from dom0's `xl info`.
    xen_version: String,
}

fn main() -> ExitCode {
    if std::env::var_os("RUMPX_SKIP_XEN").is_some() {
        println!("xen: skipped (RUMPX_SKIP_XEN is set)");
        println!("0 passed, 0 failed, 1 skipped");
        return ExitCode::SUCCESS;
    }
    let fixture = match setup() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("xen: the test host could not be set up: {e}");
            println!("0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    let cases: &[Case] = &[
        (
            "hello_boots_with_xl_create_and_powers_off",
            hello_boots_with_xl_create_and_powers_off,
        ),
        (
            "panic_guest_reports_and_crashes",
            panic_guest_reports_and_crashes,
        ),
        (
            "cpu_fault_is_reported_with_rip_and_cr2",
            cpu_fault_is_reported_with_rip_and_cr2,
        ),
        (
            "invalid_images_are_refused_before_booting",
            invalid_images_are_refused_before_booting,
        ),
        (
            "one_host_runs_guests_side_by_side",
            one_host_runs_guests_side_by_side,
        ),
        (
            "silent_guest_times_out_with_a_clear_error",
            silent_guest_times_out_with_a_clear_error,
        ),
    ];
    let mut failed = 0;
    for (name, case) in cases {
        let started = Instant::now();
        let verdict = case(&fixture);
        let took = started.elapsed().as_secs_f64();
        match verdict {
            Ok(()) => println!("test {name} ... ok ({took:.1} s)"),
            Err(why) => {
                failed += 1;
                println!(
                    "test {name} ... FAILED ({took:.1} s)\n    {}",
                    why.replace('\n', "\n    ")
                );
            }
        }
    }
    if let Some(kib) = fixture.host.peak_memory_kib() {
        println!(
            "figure: test host peak memory (QEMU VmHWM): {} MiB",
            kib / 1024
        );
    }
    if let Err(e) = fixture.host.shutdown() {
        println!("note: {e}");
    }
    let _ = std::fs::remove_dir_all(&fixture.scratch);
    println!("{} passed, {} failed", cases.len() - failed, failed);
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn setup() -> rumpx::Result<Fixture> {
    let hello = guest_build::build_guest("hello")?;
    let panic = guest_build::build_guest("panic")?;
    let image = job::check_image(&hello)?;
    println!(
        "figure: hello image: {} KiB file, {} KiB loaded",
        std::fs::metadata(&hello)
            .map(|m| m.len())
            .unwrap_or(0)
            .div_ceil(1024),
        image.loaded_bytes().div_ceil(1024)
    );
    let host = TestHost::boot(&HostOptions::default(), &mut |step| println!("xen: {step}"))?;
    println!(
        "figure: QEMU start to dom0 ready: {:.1} s",
        host.boot_time.as_secs_f64()
    );
    let info = host.dom0_exec(
        "xl info | sed -n 's/^xen_\\(major\\|minor\\) *: //p'",
        Duration::from_secs(60),
    )?;
    let xen_version = info.stdout.split_whitespace().collect::<Vec<_>>().join(".");
    println!("xen: dom0 reports Xen {xen_version}");
    let scratch = std::env::temp_dir().join(format!("rumpx-xen-tests-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).map_err(|source| Error::Io {
        path: scratch.clone(),
        source,
    })?;
    Ok(Fixture {
        host,
        hello,
        panic,
        scratch,
        xen_version,
    })
}

/// Runs a guest, keeping its console for the failure message.
fn run(f: &Fixture, spec: &GuestSpec) -> Result<GuestOutcome, String> {
    f.host
        .run_guest(spec, &mut |_| {})
        .map_err(|e| format!("{}: {e}", spec.name))
}

fn expect(ok: bool, what: &str, outcome: &GuestOutcome) -> Verdict {
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what}\nreason: {}\nconsole:\n{}xl:\n{}",
            outcome.reason,
            outcome.console_text(),
            last_lines(&outcome.xl_log, 6)
        ))
    }
}

fn expect_reason(outcome: &GuestOutcome, reason: ShutdownReason) -> Verdict {
    expect(
        outcome.reason == reason,
        &format!("shutdown reason is not {reason}"),
        outcome,
    )
}

/// An error naming the domains that exist besides dom0, if any do.
fn expect_only_dom0(f: &Fixture, what: &str) -> Verdict {
    let domains = f
        .host
        .dom0_exec(
            "xl list | tail -n +2 | awk '{print $1}'",
            Duration::from_secs(30),
        )
        .map_err(|e| e.to_string())?;
    if domains.stdout.trim() == "Domain-0" {
        Ok(())
    } else {
        Err(format!("{what}: {}", domains.stdout))
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn hello_boots_with_xl_create_and_powers_off(f: &Fixture) -> Verdict {
    let extra = "greeting=\"from dom0\" answer=42";
    let spec = GuestSpec::new("hello", &f.hello)
        .extra(extra)
        .timeout(Duration::from_secs(60));
    let outcome = run(f, &spec)?;
    let banner = format!("hello from rumpx on Xen {}", f.xen_version);
    expect(
        !f.xen_version.is_empty(),
        "dom0's xl info gave no Xen version",
        &outcome,
    )?;
    let Some(line) = outcome.find_line(&banner) else {
        return expect(false, &format!("no banner {banner:?}"), &outcome);
    };
    println!(
        "figure: xl create to hello banner: {:.2} s; to poweroff: {:.2} s",
        line.at.as_secs_f64(),
        outcome.lifetime.as_secs_f64()
    );
    expect(
        outcome.find_line(&format!("cmdline: {extra}")).is_some(),
        "the command line (xl extra=) is not echoed",
        &outcome,
    )?;
    expect(
        outcome.find_line("memory: 32 MiB").is_some(),
        "no memory line saying 32 MiB",
        &outcome,
    )?;
    expect_reason(&outcome, ShutdownReason::Poweroff)
}

fn panic_guest_reports_and_crashes(f: &Fixture) -> Verdict {
    let outcome = run(f, &GuestSpec::new("panic", &f.panic))?;
    expect(
        outcome
            .find_line(
                "panic: deliberate panic from the panic test guest at guests/panic/src/main.rs:",
            )
            .is_some(),
        "no panic message with its location",
        &outcome,
    )?;
    expect_reason(&outcome, ShutdownReason::Crash)
}

fn cpu_fault_is_reported_with_rip_and_cr2(f: &Fixture) -> Verdict {
    let spec = GuestSpec::new("fault", &f.hello).extra("rumpx.fault=pf");
    let outcome = run(f, &spec)?;
    let report = outcome
        .find_line("exception 14")
        .map(|l| l.text.clone())
        .unwrap_or_default();
    expect(
        report.contains("RIP 0x") && report.contains("CR2 0x00000010deadb000"),
        "no page-fault report with RIP and CR2",
        &outcome,
    )?;
    expect_reason(&outcome, ShutdownReason::Crash)
}

fn invalid_images_are_refused_before_booting(f: &Fixture) -> Verdict {
    let text = f.scratch.join("not-an-image");
    write(&text, b"#!/bin/sh\necho hello\n")?;
    expect_refusal(f, &text, |r| *r == PvhError::NotElf)?;

    // hello with its PHYS32_ENTRY note's type changed: a valid ELF Xen cannot start as PVH.
    let mut bytes = std::fs::read(&f.hello).map_err(|e| e.to_string())?;
    let at = find_phys32_note_type(&bytes).ok_or("hello has no PHYS32_ENTRY note to break")?;
    bytes[at..at + 4].copy_from_slice(&0x7fu32.to_le_bytes());
    let no_note = f.scratch.join("hello-without-note");
    write(&no_note, &bytes)?;
    expect_refusal(f, &no_note, |r| *r == PvhError::NoPhys32Entry)?;

    expect_only_dom0(f, "domains other than dom0 exist")
}

fn expect_refusal(f: &Fixture, image: &Path, reason_ok: fn(&PvhError) -> bool) -> Verdict {
    match f
        .host
        .run_guest(&GuestSpec::new("invalid", image), &mut |_| {})
    {
        Err(Error::NotPvhImage { reason, .. }) if reason_ok(&reason) => Ok(()),
        Err(e) => Err(format!(
            "{}: refused for the wrong reason: {e}",
            image.display()
        )),
        Ok(o) => Err(format!(
            "{}: was booted (ended {})",
            image.display(),
            o.reason
        )),
    }
}

/// The offset of the n_type field of hello's "Xen" note of type 18.
fn find_phys32_note_type(bytes: &[u8]) -> Option<usize> {
    // A note header is namesz=4, descsz, type=18, then "Xen\0".
    bytes
        .windows(16)
        .position(|w| {
            w[0..4] == 4u32.to_le_bytes()
                && w[8..12] == 18u32.to_le_bytes()
                && &w[12..16] == b"Xen\0"
        })
        .map(|p| p + 8)
}

fn write(path: &Path, bytes: &[u8]) -> Verdict {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn one_host_runs_guests_side_by_side(f: &Fixture) -> Verdict {
    let outcomes: Vec<Result<GuestOutcome, String>> = std::thread::scope(|s| {
        let runs: Vec<_> = (1..=3)
            .map(|i| {
                let spec =
                    GuestSpec::new(format!("hello-{i}"), &f.hello).extra(format!("instance={i}"));
                s.spawn(move || run(f, &spec))
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().unwrap_or_else(|_| Err("thread panicked".into())))
            .collect()
    });
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let outcome = outcome?;
        expect(
            outcome
                .find_line(&format!("cmdline: instance={}", i + 1))
                .is_some(),
            "a guest's console shows another guest's command line or none",
            &outcome,
        )?;
        expect_reason(&outcome, ShutdownReason::Poweroff)?;
    }
    Ok(())
}

fn silent_guest_times_out_with_a_clear_error(f: &Fixture) -> Verdict {
    // A PVH image whose whole code is `pause; jmp .-2`: it boots, spins and
    // never prints. (Not `cli; hlt`: Xen takes a halt with interrupts off on
    // the last vCPU as the guest powering off.)
    let image = f.scratch.join("silent");
    write(
        &image,
        &MinimalImage::pvh(&[0xf3, 0x90, 0xeb, 0xfc]).to_bytes(),
    )?;
    let spec = GuestSpec::new("silent", &image).timeout(Duration::from_secs(5));
    let outcome = run(f, &spec)?;
    expect_reason(&outcome, ShutdownReason::Timeout)?;
    let problem = outcome.problem().unwrap_or_default();
    expect(
        problem.contains("printed nothing"),
        &format!("no clear error, got {problem:?}"),
        &outcome,
    )?;
    expect_only_dom0(f, "the timed-out guest was not destroyed")
}

//! Cases of the boot layer: the PVH guests' console, shutdown reasons,
//! fault and panic reports, image checks, several guests per host.

use super::*;
use rumpx::elf_image::MinimalImage;
use rumpx::pvh_elf::PvhError;
use std::path::Path;

pub(crate) fn hello_boots_with_xl_create_and_powers_off(f: &Fixture) -> Verdict {
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

pub(crate) fn panic_guest_reports_and_crashes(f: &Fixture) -> Verdict {
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

pub(crate) fn cpu_fault_is_reported_with_rip_and_cr2(f: &Fixture) -> Verdict {
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

pub(crate) fn invalid_images_are_refused_before_booting(f: &Fixture) -> Verdict {
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

pub(crate) fn one_host_runs_guests_side_by_side(f: &Fixture) -> Verdict {
    let outcomes: Vec<Result<GuestOutcome, String>> = std::thread::scope(|s| {
        let runs: Vec<_> = (1..=3)
            .map(|i| {
                let spec = GuestSpec::new(format!("hello-{i}"), &f.hello)
                    .extra(format!("instance={i}"))
                    .timeout(Duration::from_secs(120));
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

pub(crate) fn silent_guest_times_out_with_a_clear_error(f: &Fixture) -> Verdict {
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

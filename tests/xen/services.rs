//! Cases of the platform services, with the platform-check guest: xenstore
//! (identity, watches), PV clock and timers, lifecycle, threads, grants.

use super::*;

fn check(f: &Fixture, name: &str, check: &str, timeout_s: u64) -> GuestSpec {
    GuestSpec::new(name, &f.platform_check)
        .extra(format!("check={check}"))
        .timeout(Duration::from_secs(timeout_s))
}

/// The value after `prefix` on the first console line starting with it.
fn value_after<'a>(outcome: &'a GuestOutcome, prefix: &str) -> Option<&'a str> {
    outcome
        .console
        .iter()
        .find_map(|l| l.text.strip_prefix(prefix))
        .map(str::trim)
}

fn expect_dom0_ok(dom0: &CommandOutput, what: &str) -> Verdict {
    if dom0.status == 0 {
        Ok(())
    } else {
        Err(format!(
            "{what} failed in dom0: {}{}",
            dom0.stdout, dom0.stderr
        ))
    }
}

/// Adds what dom0's script printed to a failure.
fn with_dom0_output(verdict: Verdict, dom0: &CommandOutput) -> Verdict {
    verdict.map_err(|why| format!("{why}\ndom0 said: {}{}", dom0.stdout, dom0.stderr))
}

fn expect_done(outcome: &GuestOutcome, check: &str) -> Verdict {
    expect(
        outcome.find_line(&format!("check {check}: done")).is_some(),
        &format!("the {check} check did not finish"),
        outcome,
    )?;
    expect_reason(outcome, ShutdownReason::Poweroff)
}

pub(crate) fn guest_reads_its_domid_and_name_from_xenstore(f: &Fixture) -> Verdict {
    let outcome = run(f, &check(f, "identity-guest", "identity", 60))?;
    expect_done(&outcome, "identity")?;
    // xl prints the domid it created: "Waiting for domain NAME (domid N) to die".
    let xl_domid = outcome
        .xl_log
        .split("(domid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or("?");
    expect(
        value_after(&outcome, "domid:") == Some(xl_domid),
        &format!("the guest's domid is not xl's ({xl_domid})"),
        &outcome,
    )?;
    expect(
        value_after(&outcome, "name:") == Some("identity-guest"),
        "the guest's name is not its xl name",
        &outcome,
    )?;
    expect(
        value_after(&outcome, "home:") == Some(&format!("/local/domain/{xl_domid}")),
        "the guest's home path is not /local/domain/<domid>",
        &outcome,
    )
}

pub(crate) fn guest_thread_sees_every_one_of_1000_dom0_writes(f: &Fixture) -> Verdict {
    let spec = check(f, "watcher", "watch", 600);
    let script = format!(
        "{}base=/local/domain/$dom/data\n\
         for i in $(seq 600); do xenstore-read $base/rumpx-ready >/dev/null 2>&1 && break; sleep 0.1; done\n\
         for batch in 0 1 2 3 4 5 6 7 8 9; do\n\
           args=()\n\
           for i in $(seq $((batch * 100 + 1)) $((batch * 100 + 100))); do args+=(\"$base/rumpx/k$i\" \"v$i\"); done\n\
           echo \"$EPOCHREALTIME batch $batch: writing\"\n\
           # xenstore-write puts several keys in one transaction; it retries a\n\
           # conflict (EAGAIN) itself, other failures are shown and retried here.\n\
           for try in 1 2 3 4 5; do\n\
             xenstore-write \"${{args[@]}}\" && break\n\
             echo \"$EPOCHREALTIME batch $batch: xenstore-write failed (try $try); xenstored says:\"\n\
             tail -n 12 /run/xenstored.trace; cp /run/xenstored.trace /share/xenstored.trace.$dom.$try\n\
             [ $try -eq 5 ] && exit 1\n\
           done\n\
           echo \"$EPOCHREALTIME batch $batch: written\"\n\
           # After the last batch the guest reports and powers off at once: its\n\
           # console's summary is the proof, so dom0 does not wait for it.\n\
           [ $batch -eq 9 ] && break\n\
           want=$((batch * 100 + 100))\n\
           for i in $(seq 1200); do seen=$(xenstore-read $base/rumpx-seen 2>/dev/null || echo 0); [ \"$seen\" -ge $want ] && break; xl domid watcher >/dev/null 2>&1 || {{ echo \"$EPOCHREALTIME the guest is gone (seen $seen)\"; cp /run/xenstored.trace /share/xenstored.trace.$dom; exit 1; }}; sleep 0.1; done\n\
           [ \"$seen\" -ge $want ] || {{ echo \"guest saw only $seen of $want\"; xenstore-ls -f /local/domain/$dom | grep -v rumpx/k; exit 1; }}\n\
         done\n\
         echo wrote 1000\n",
        wait_for_domain("watcher")
    );
    let (outcome, dom0) = run_with_dom0(f, &spec, &script)?;
    with_dom0_output(expect_done(&outcome, "watch"), &dom0)?;
    expect_dom0_ok(&dom0, "the dom0 writer")?;
    expect(
        outcome
            .find_line("watch: 1000 writes seen, 0 duplicates, 0 wrong values")
            .is_some(),
        "the watcher's summary is not 1000 writes, no duplicates, no wrong values",
        &outcome,
    )?;
    let mut seen = vec![0u32; 1001];
    for line in &outcome.console {
        if let Some(i) = line
            .text
            .strip_prefix("watch: k")
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&i| i <= 1000)
        {
            seen[i] += 1;
        }
    }
    let missing = (1..=1000).filter(|&i| seen[i] != 1).count();
    expect(
        missing == 0,
        &format!("{missing} writes not printed exactly once"),
        &outcome,
    )
}

pub(crate) fn sleeps_are_accurate_and_idle_uses_no_cpu(f: &Fixture) -> Verdict {
    let spec = check(f, "sleeper", "sleep", 90);
    // Sample the domain's CPU time (xl list, 0.1 s resolution) across 2 s of
    // its 3 s idle sleep, after the measured sleeps (so that dom0's `xl`
    // does not compete with them for the host's CPUs).
    let script = format!(
        "{}log=/var/log/xen/console/guest-sleeper.log\n\
         for i in $(seq 600); do grep -q 'sleep: idle for 3 s' $log 2>/dev/null && break; sleep 0.1; done\n\
         t0=$(xl list sleeper | awk 'NR == 2 {{ print $6 }}')\n\
         sleep 2\n\
         t1=$(xl list sleeper | awk 'NR == 2 {{ print $6 }}')\n\
         echo \"cpu $t0 $t1\"\n",
        wait_for_domain("sleeper")
    );
    // The guest's vCPU is a thread of an emulated machine on a shared
    // host: a burst of load elsewhere on the machine can delay one wake-up
    // by tens of milliseconds (seen while builds ran beside the host). A
    // run with a late sleep is reported and the measurement made once
    // more; the second run must hold.
    let mut attempt = 1;
    let (outcome, dom0) = loop {
        let (outcome, dom0) = run_with_dom0(f, &spec, &script)?;
        with_dom0_output(expect_done(&outcome, "sleep"), &dom0)?;
        let intervals: Vec<u64> = outcome
            .console
            .iter()
            .filter(|l| l.text.starts_with("sleep ") && l.text.ends_with(" us"))
            .filter_map(|l| l.text.split(": ").nth(1)?.strip_suffix(" us")?.parse().ok())
            .collect();
        expect(
            intervals.len() == 20,
            &format!("{} intervals, not 20", intervals.len()),
            &outcome,
        )?;
        // A sleep must never end early, and each must end within 5 ms of
        // its deadline.
        let shortest = intervals.iter().copied().min().unwrap_or(0);
        let mut late: Vec<u64> = intervals
            .iter()
            .map(|us| us.saturating_sub(100_000))
            .collect();
        late.sort_unstable();
        let (median, worst) = (late[late.len() / 2], late[late.len() - 1]);
        let within = late.iter().filter(|&&us| us <= 5_000).count();
        println!(
            "figure: 20 sleeps of 100 ms: late by {median} us (median), {worst} us (worst), {within} of 20 within 5 ms"
        );
        expect(
            shortest >= 99_900,
            &format!("a 100 ms sleep ended early: {shortest} us"),
            &outcome,
        )?;
        if worst <= 5_000 {
            break (outcome, dom0);
        }
        let why = format!("100 ms sleeps too late: median {median} us, worst {worst} us, {within} of 20 within 5 ms");
        if attempt == 2 {
            return expect(false, &why, &outcome);
        }
        println!("note: {why}; measuring once more");
        attempt += 1;
    };
    let cpu: Vec<f64> = dom0
        .stdout
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    let [t0, t1] = cpu[..] else {
        return Err(format!(
            "dom0 could not sample xl list: {}{}",
            dom0.stdout, dom0.stderr
        ));
    };
    println!(
        "figure: CPU time while sleeping 2 s (xl list): {:.1} s",
        t1 - t0
    );
    expect(
        t1 - t0 <= 0.3,
        "the sleeping guest used CPU time (xl list)",
        &outcome,
    )?;
    if let Some(own) = value_after(&outcome, "sleep: cpu time") {
        println!("figure: the guest's own CPU time over its sleeps: {own}");
    }
    Ok(())
}

pub(crate) fn xl_shutdown_and_reboot_end_the_guest_cleanly(f: &Fixture) -> Verdict {
    for (command, reason, word) in [
        ("shutdown", ShutdownReason::Poweroff, "Poweroff"),
        ("reboot", ShutdownReason::Reboot, "Reboot"),
    ] {
        let name = format!("lifecycle-{command}");
        let spec = check(f, &name, "lifecycle", 90);
        // Ask once the guest's lifecycle thread watches control/shutdown
        // (it advertises feature-poweroff first).
        let script = format!(
            "{}for i in $(seq 600); do xenstore-read /local/domain/$dom/control/feature-poweroff >/dev/null 2>&1 && break; sleep 0.1; done\n\
             sleep 0.5\n\
             xl {command} {name}\n",
            wait_for_domain(&name)
        );
        let (outcome, dom0) = run_with_dom0(f, &spec, &script)?;
        expect_dom0_ok(&dom0, &format!("xl {command}"))?;
        expect(
            outcome
                .find_line(&format!("platform-check: goodbye ({word})"))
                .is_some(),
            &format!("no goodbye line after xl {command}"),
            &outcome,
        )?;
        expect_reason(&outcome, reason)?;
    }
    Ok(())
}

pub(crate) fn threads_ping_pong_100000_times(f: &Fixture) -> Verdict {
    let outcome = run(f, &check(f, "pingpong", "pingpong", 180))?;
    expect_done(&outcome, "pingpong")?;
    let line = value_after(&outcome, "pingpong:").unwrap_or_default();
    println!("figure: ping-pong: {line}");
    expect(
        line.starts_with("100000 round trips"),
        "no 100000 round trips",
        &outcome,
    )
}

pub(crate) fn dom0_maps_a_granted_page_until_access_ends(f: &Fixture) -> Verdict {
    let spec = check(f, "granter", "grant", 90);
    let peek = f.grant_peek.display();
    let script = format!(
        "{}base=/local/domain/$dom/data\n\
         for i in $(seq 600); do gref=$(xenstore-read $base/rumpx-gref 2>/dev/null) && break; sleep 0.1; done\n\
         {peek} $dom $gref; echo \"first status $?\"\n\
         xenstore-write $base/rumpx-mapped 1\n\
         for i in $(seq 600); do xenstore-read $base/rumpx-ended >/dev/null 2>&1 && break; sleep 0.1; done\n\
         {peek} $dom $gref; echo \"second status $?\"\n\
         xenstore-write $base/rumpx-retried 1\n",
        wait_for_domain("granter")
    );
    let (outcome, dom0) = run_with_dom0(f, &spec, &script)?;
    with_dom0_output(expect_done(&outcome, "grant"), &dom0)?;
    let granted = value_after(&outcome, "grant: gref").unwrap_or_default();
    // "<gref> fnv1a64 <hash> live 1"
    let words: Vec<&str> = granted.split_whitespace().collect();
    let (gref, hash) = match words[..] {
        [gref, "fnv1a64", hash, "live", "1"] => (gref, hash),
        _ => return expect(false, "no grant line with one live grant", &outcome),
    };
    let first = dom0
        .stdout
        .lines()
        .find(|l| l.starts_with("mapped domain "))
        .unwrap_or_default();
    if !first.contains(&format!("gref {gref}: fnv1a64 {hash}"))
        || !dom0.stdout.contains("first status 0")
    {
        return Err(format!(
            "dom0 did not read the guest's pattern: {}{}",
            dom0.stdout, dom0.stderr
        ));
    }
    if !dom0.stdout.contains("second status 2") || !dom0.stdout.contains("cannot map") {
        return Err(format!(
            "dom0 could still map the grant after access ended: {}",
            dom0.stdout
        ));
    }
    expect(
        outcome.find_line("grant: ended, live 0").is_some(),
        "the live grant count did not return to zero",
        &outcome,
    )
}

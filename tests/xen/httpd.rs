//! The httpd guest on Xen through `rumpx test`'s runner: the scenario
//! tests/scenarios/httpd.toml (three httpd guests side by side, one of
//! them at 12 MiB serving more connections than its memory lets it take at
//! once, each with its own ext2 disk of generated files, checked from dom0
//! with `rumpx-http-probe`) runs on the shared test host; every check must
//! pass.
//! Consoles and xl logs stay in target/rumpx-test/httpd/.

use super::*;
use rumpx::scenario::Scenario;
use rumpx::scenario_run;

pub(crate) fn httpd_scenario_passes_on_xen(f: &Fixture) -> Verdict {
    let path = guest_build::workspace_root().join("tests/scenarios/httpd.toml");
    let scenario = Scenario::load(&path).map_err(|e| e.to_string())?;
    let out = scenario_run::default_out_dir(&scenario);
    let report = scenario_run::run(&f.host, &scenario, &out, &|| false, &mut |step| {
        println!("    [rumpx] {step}")
    })
    .map_err(|e| format!("the scenario could not start: {e}"))?;
    let table = report.render();
    println!("    {}", table.trim_end().replace('\n', "\n    "));
    if report.passed() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} checks did not pass (consoles in {})",
            report.rows.len() - report.count(rumpx::scenario_report::CheckResult::Pass),
            report.rows.len(),
            out.display()
        ))
    }
}

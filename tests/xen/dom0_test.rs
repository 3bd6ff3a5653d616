//! `rumpx test` on a real dom0: the test host's dom0 *is* one, so `rumpx`,
//! `rumpx-http-probe` and `rumpx-ready` are installed there side by side
//! (without the source tree, as on a user's dom0) with the httpd image, a
//! site folder and a scenario file whose guest image is the image's dom0
//! path. `rumpx test` must take its local-Xen path (xl itself, disks as
//! files for xl's own block script, readiness through rumpx-ready), pass
//! every check, exit 0 and leave the guest's console log in its output
//! folder.

use super::*;
use std::path::Path;

/// Where the case's files live in the share, as dom0 sees it.
const DIR: &str = "/share/dom0-test";

/// The scenario: one httpd guest at 10.99.0.50 (this case's address) with
/// a disk made from the site folder plus a generated 1 MiB file.
const SCENARIO: &str = r#"name = "dom0test"
timeout_s = 240

[[guest]]
name = "dom0test"
image = "/share/tools/httpd"
memory = 32
extra = "ip=10.99.0.50/24"
net = { ip = "10.99.0.50/24" }
port = 80
disks = [{ dir = "site", vdev = "xvda", generate = [
    { name = "one-m.bin", bytes = 1048576, seed = 50 },
] }]

[[check]]
guest = "dom0test"
timeout_s = 120
console = "httpd: serving http on 10.99.0.50:80"

[[check]]
guest = "dom0test"
ready = true

[[check]]
guest = "dom0test"
tcp_open = 80

[[check]]
guest = "dom0test"
http = { path = "/one-m.bin", body_generated = "one-m.bin" }

[[check]]
guest = "dom0test"
http = { path = "/index.html", body_file = "site/index.html" }

[[check]]
guest = "dom0test"
http = { path = "/missing.bin", status = 404 }

[[check]]
guest = "dom0test"
load = { path = "/index.html", conns = 5, requests = 50 }

[[check]]
guest = "dom0test"
shutdown = "poweroff"
"#;

pub(crate) fn rumpx_test_runs_a_scenario_on_a_real_dom0(f: &Fixture) -> Verdict {
    let err = |e: rumpx::Error| e.to_string();
    let mut installed = Vec::new();
    for bin in ["rumpx", "rumpx-http-probe", "rumpx-ready"] {
        let built = guest_build::build_dom0_tool(bin).map_err(err)?;
        installed.push(f.host.install_tool(&built).map_err(err)?);
    }
    f.host
        .install_tool(&guest_build::build_guest("httpd").map_err(err)?)
        .map_err(err)?;
    let here = f
        .host
        .host_path(Path::new(DIR))
        .ok_or("the case's folder is not in the share")?;
    let _ = std::fs::remove_dir_all(&here);
    let site = guest_build::workspace_root().join("tests/scenarios/httpd-site");
    let io = |e: std::io::Error| e.to_string();
    std::fs::create_dir_all(here.join("site")).map_err(io)?;
    for entry in std::fs::read_dir(&site).map_err(io)? {
        let entry = entry.map_err(io)?;
        std::fs::copy(entry.path(), here.join("site").join(entry.file_name())).map_err(io)?;
    }
    std::fs::write(here.join("scenario.toml"), SCENARIO).map_err(io)?;
    let script = format!(
        "cd /tmp\n{rumpx} test {DIR}/scenario.toml --out {DIR}/out 2>&1\necho \"rumpx test exit $?\"\n",
        rumpx = installed[0].display(),
    );
    let started = Instant::now();
    let out = f
        .host
        .dom0_exec(&script, Duration::from_secs(420))
        .map_err(err)?;
    println!(
        "    figure: rumpx test in dom0 took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for line in out.stdout.lines().filter(|l| {
        [" pass ", " FAIL ", " skipped "]
            .iter()
            .any(|w| l.contains(w))
            || l.starts_with("scenario ")
            || l.starts_with("note: ")
            || l.contains("on this machine's Xen")
    }) {
        println!("    figure: {line}");
    }
    let expect = [
        "[rumpx] running scenario dom0test on this machine's Xen",
        "rumpx test exit 0",
    ];
    if let Some(missing) = expect.iter().find(|e| !out.stdout.contains(*e)) {
        return Err(format!(
            "dom0's rumpx test: no {missing:?} in:\n{}\n{}",
            out.stdout, out.stderr
        ));
    }
    let console = here.join("out/dom0test.console.log");
    let text =
        std::fs::read_to_string(&console).map_err(|e| format!("{}: {e}", console.display()))?;
    if !text.contains("httpd: serving http on 10.99.0.50:80") || !text.contains("# ended: poweroff")
    {
        return Err(format!(
            "{} lacks the serving line or the poweroff:\n{text}",
            console.display()
        ));
    }
    Ok(())
}

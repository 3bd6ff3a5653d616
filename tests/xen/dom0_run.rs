//! `rumpx run` on a real dom0: the test host's dom0 *is* one, so the
//! rumpx binary is installed there and runs the httpd guest through its
//! local-Xen path (`xl create` itself, the readiness key through its own
//! xenstore client, the console through xenconsoled, the exit status from
//! the shutdown reason) with a read-only ext2 disk and a vif whose xl `ip=`
//! key gives the address. dom0 fetches a page, `xl shutdown`s the guest,
//! and `rumpx run` must exit 0 having printed the ready line.

use super::*;
use rumpx::ext2_image;

pub(crate) fn rumpx_run_serves_httpd_on_a_real_dom0(f: &Fixture) -> Verdict {
    let err = |e: rumpx::Error| e.to_string();
    let rumpx_bin = f
        .host
        .install_tool(&guest_build::build_dom0_tool("rumpx").map_err(err)?)
        .map_err(err)?;
    let probe = f
        .host
        .install_tool(&guest_build::build_dom0_tool("rumpx-http-probe").map_err(err)?)
        .map_err(err)?;
    let image = f
        .host
        .install_tool(&guest_build::build_guest("httpd").map_err(err)?)
        .map_err(err)?;
    let www = guest_build::workspace_root().join("guests/httpd/www");
    let disk = f.scratch.join("dom0-run-www.img");
    ext2_image::make_image(&www, &disk, None).map_err(err)?;
    let disk = f.host.install_tool(&disk).map_err(err)?;
    let script = format!(
        "cd /tmp\n\
         {rumpx} run {image} --name dom0run --disk {disk},ro --net xenbr0,ip=10.99.0.40/24 \
         --timeout 180 > /tmp/dom0run.log 2>&1 &\n\
         pid=$!\n\
         {probe} wait http://10.99.0.40/ --timeout 120\n\
         {probe} get http://10.99.0.40/\n\
         xl shutdown dom0run\n\
         wait $pid; echo \"rumpx run exit $?\"\n\
         cat /tmp/dom0run.log\n",
        rumpx = rumpx_bin.display(),
        image = image.display(),
        disk = disk.display(),
        probe = probe.display(),
    );
    let out = f
        .host
        .dom0_exec(&script, Duration::from_secs(300))
        .map_err(err)?;
    for line in out
        .stdout
        .lines()
        .filter(|l| l.starts_with("first 200") || l.starts_with("status ") || l.contains("ready:"))
    {
        println!("    figure: {line}");
    }
    let expect = [
        "[rumpx] running dom0run on this machine's Xen",
        "[rumpx] ready: http 10.99.0.40:80",
        "status 200 bytes",
        "httpd: shutting down",
        "rumpx run exit 0",
    ];
    match expect.iter().find(|e| !out.stdout.contains(*e)) {
        None => Ok(()),
        Some(missing) => Err(format!(
            "dom0's rumpx run: no {missing:?} in:\n{}\n{}",
            out.stdout, out.stderr
        )),
    }
}

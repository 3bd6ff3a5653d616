//! A guest that runs on a dom0 (the test host or this machine's Xen) in a
//! background thread for as long as a caller needs it (a benchmark's peer,
//! a service): its console is watched for a ready line, and dom0 shuts it
//! down (or destroys it) at the end.

use crate::dom0::Dom0;
use crate::error::Result;
use crate::outcome::{ConsoleLine, GuestOutcome};
use crate::packages::last_lines;
use crate::GuestSpec;
use std::fmt;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

/// What the runner thread reports.
enum Event {
    /// A console line.
    Line(ConsoleLine),
    /// `run_guest` returned: the domain is gone (or never came). How it
    /// ended, in a line.
    Ended(String),
}

/// Why a guest is not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    /// The guest ended (or xl never started it) before printing the line;
    /// how it ended, with xl's last words.
    Ended(String),
    /// The line did not come within the time given.
    TimedOut(Duration),
}

impl fmt::Display for NotReady {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotReady::Ended(how) => write!(f, "it ended before saying it was ready ({how})"),
            NotReady::TimedOut(t) => {
                write!(f, "it did not say it was ready within {} s", t.as_secs())
            }
        }
    }
}

/// How a run ended, in a line: the reason and xl's last words, or the error.
fn summary(outcome: &Result<GuestOutcome>) -> String {
    match outcome {
        Ok(o) => format!(
            "{} after {:.1} s; xl said: {}",
            o.reason,
            o.lifetime.as_secs_f64(),
            last_lines(&o.xl_log, 3)
        ),
        Err(e) => e.to_string(),
    }
}

/// A guest running in a thread of `'scope`.
pub struct BackgroundGuest<'scope> {
    /// The domain name.
    pub name: String,
    events: Receiver<Event>,
    console: Vec<ConsoleLine>,
    ended: Option<String>,
    runner: ScopedJoinHandle<'scope, Result<GuestOutcome>>,
}

impl<'scope> BackgroundGuest<'scope> {
    /// Starts `spec` on `host` in a thread of `scope`.
    pub fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        host: &'env dyn Dom0,
        spec: GuestSpec,
    ) -> Self {
        let (tx, events) = mpsc::channel();
        let name = spec.name.clone();
        let runner = scope.spawn(move || {
            let lines = tx.clone();
            let outcome = host.run_guest(&spec, &mut |line| {
                let _ = lines.send(Event::Line(line.clone()));
            });
            let _ = tx.send(Event::Ended(summary(&outcome)));
            outcome
        });
        BackgroundGuest {
            name,
            events,
            console: Vec::new(),
            ended: None,
            runner,
        }
    }

    /// Waits until a console line contains `marker` and returns that line
    /// (with its time from `xl create`).
    pub fn wait_for_line(
        &mut self,
        marker: &str,
        timeout: Duration,
    ) -> std::result::Result<ConsoleLine, NotReady> {
        let deadline = Instant::now() + timeout;
        let mut checked = 0;
        loop {
            let new = &self.console[checked..];
            if let Some(line) = new.iter().find(|l| l.text.contains(marker)) {
                return Ok(line.clone());
            }
            checked = self.console.len();
            if let Some(how) = &self.ended {
                return Err(NotReady::Ended(how.clone()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(event) => self.take(event),
                Err(RecvTimeoutError::Timeout) => return Err(NotReady::TimedOut(timeout)),
                Err(RecvTimeoutError::Disconnected) => {
                    self.ended = Some("its runner thread is gone".into())
                }
            }
        }
    }

    /// Whether the guest has ended, after taking in what it printed so far.
    pub fn has_ended(&mut self) -> bool {
        self.ended().is_some()
    }

    /// How the guest ended ("reboot after 3.0 s; xl said: ..."), if it has.
    pub fn ended(&mut self) -> Option<String> {
        self.drain();
        self.ended.clone()
    }

    /// The last `n` console lines seen so far, one per line, or a note
    /// that there were none.
    pub fn console_tail(&mut self, n: usize) -> String {
        self.drain();
        if self.console.is_empty() {
            return "(nothing on its console)".into();
        }
        let from = self.console.len().saturating_sub(n);
        let lines: Vec<&str> = self.console[from..]
            .iter()
            .map(|l| l.text.as_str())
            .collect();
        lines.join("\n")
    }

    /// Whether the guest has ended without printing a line (how a start
    /// that died at its first instructions looks).
    pub fn ended_silently(&mut self) -> bool {
        self.has_ended() && self.console.is_empty()
    }

    /// Waits for the runner (the guest must be ending: see [`stop_guests`])
    /// and returns how the guest ended.
    pub fn finish(self) -> Result<GuestOutcome> {
        self.runner.join().unwrap_or_else(|_| {
            Err(crate::Error::TestHost(format!(
                "the thread running guest {} panicked",
                self.name
            )))
        })
    }

    fn drain(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            self.take(event);
        }
    }

    fn take(&mut self, event: Event) {
        match event {
            Event::Line(line) => self.console.push(line),
            Event::Ended(how) => self.ended = Some(how),
        }
    }
}

/// The dom0 script that shuts the named domains down: `xl shutdown`, up to
/// `grace` for them to go, then `xl destroy` of what is left (named on
/// stdout as "destroyed NAME").
pub fn stop_script(names: &[&str], grace: Duration) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    let list = quoted.join(" ");
    let tenths = (grace.as_millis() / 100).max(1);
    format!(
        "names=({list})\n\
         for n in \"${{names[@]}}\"; do xl shutdown \"$n\" >/dev/null 2>&1; done\n\
         for i in $(seq {tenths}); do\n\
         \x20   left=()\n\
         \x20   for n in \"${{names[@]}}\"; do xl domid \"$n\" >/dev/null 2>&1 && left+=(\"$n\"); done\n\
         \x20   [ ${{#left[@]}} -eq 0 ] && break\n\
         \x20   sleep 0.1\n\
         done\n\
         for n in \"${{left[@]}}\"; do xl destroy \"$n\" && echo \"destroyed $n\"; done\n\
         exit 0\n"
    )
}

/// Shuts the named guests down through dom0 (see [`stop_script`]) and
/// returns the names that had to be destroyed.
pub fn stop_guests(host: &dyn Dom0, names: &[&str], grace: Duration) -> Result<Vec<String>> {
    let output = host.exec(&stop_script(names, grace), grace + Duration::from_secs(60))?;
    Ok(output
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("destroyed "))
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn the_stop_script_is_valid_bash_naming_each_guest() {
        let script = stop_script(&["bench-rumpx", "bench-linux"], Duration::from_secs(20));
        assert!(
            script.starts_with("names=('bench-rumpx' 'bench-linux')\n"),
            "{script}"
        );
        assert!(script.contains("$(seq 200)"), "{script}");
        crate::test_support::assert_parses("bash", &script);
    }

    /// Against a stand-in `xl` whose domain "stuck" never shuts down.
    #[test]
    fn the_stop_script_destroys_what_does_not_shut_down() {
        let dir = std::env::temp_dir().join(format!("rumpx-stop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let xl = dir.join("xl");
        std::fs::write(
            &xl,
            "#!/bin/bash\ncase $1 in domid) [ \"$2\" = stuck ];; *) exit 0;; esac\n",
        )
        .unwrap();
        Command::new("chmod").arg("+x").arg(&xl).status().unwrap();
        let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap());
        let script = stop_script(&["gone", "stuck"], Duration::from_millis(300));
        let output = Command::new("bash")
            .args(["-c", &script])
            .env("PATH", path)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "destroyed stuck\n");
        assert!(output.status.success());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn not_ready_says_why() {
        assert!(NotReady::TimedOut(Duration::from_secs(300))
            .to_string()
            .contains("300 s"));
        let ended = NotReady::Ended("vanished after 1.0 s; xl said: unable to add vif".into());
        assert!(ended.to_string().contains("unable to add vif"), "{ended}");
    }
}

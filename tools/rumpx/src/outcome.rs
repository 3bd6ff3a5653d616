//! How a guest run ended, read from what `run-guest` leaves behind: xl's log
//! (the shutdown reason code of xen/include/public/sched.h), the time-stamped
//! console, and the result file.

use std::time::Duration;

/// Why a guest stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownReason {
    /// SHUTDOWN_poweroff: the guest ended normally.
    Poweroff,
    /// SHUTDOWN_reboot.
    Reboot,
    /// SHUTDOWN_suspend.
    Suspend,
    /// SHUTDOWN_crash: the guest crashed (a panic, an unhandled fault).
    Crash,
    /// SHUTDOWN_watchdog.
    Watchdog,
    /// SHUTDOWN_soft_reset.
    SoftReset,
    /// It did not end in time and was destroyed.
    Timeout,
    /// The domain went away without a shutdown reason (destroyed from
    /// outside, or the toolstack failed to create it).
    Vanished,
}

impl ShutdownReason {
    /// From Xen's shutdown reason code.
    pub fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => ShutdownReason::Poweroff,
            1 => ShutdownReason::Reboot,
            2 => ShutdownReason::Suspend,
            3 => ShutdownReason::Crash,
            4 => ShutdownReason::Watchdog,
            5 => ShutdownReason::SoftReset,
            _ => return None,
        })
    }

    /// The lower-case word used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ShutdownReason::Poweroff => "poweroff",
            ShutdownReason::Reboot => "reboot",
            ShutdownReason::Suspend => "suspend",
            ShutdownReason::Crash => "crash",
            ShutdownReason::Watchdog => "watchdog",
            ShutdownReason::SoftReset => "soft_reset",
            ShutdownReason::Timeout => "timeout",
            ShutdownReason::Vanished => "vanished",
        }
    }
}

impl std::fmt::Display for ShutdownReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reason code from `xl create -F`'s log line
/// "Domain N has shut down, reason code R 0xR".
pub fn shutdown_reason_from_xl_log(log: &str) -> Option<ShutdownReason> {
    log.lines().rev().find_map(|line| {
        let rest = line.split("has shut down, reason code ").nth(1)?;
        let code = rest.split_whitespace().next()?.parse().ok()?;
        ShutdownReason::from_code(code)
    })
}

/// One console line and when dom0 saw it, relative to `xl create`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleLine {
    /// Time from the start of `xl create`.
    pub at: Duration,
    /// The text, without line ending.
    pub text: String,
}

/// Parses one line of `console.stamped` ("<epoch seconds> <text>").
pub fn parse_stamped_line(line: &str, created_at: f64) -> Option<ConsoleLine> {
    let (stamp, text) = line.split_once(' ').unwrap_or((line, ""));
    let stamp: f64 = stamp.parse().ok()?;
    Some(ConsoleLine {
        at: Duration::from_secs_f64((stamp - created_at).max(0.0)),
        text: text.trim_end_matches('\r').to_string(),
    })
}

/// The key=value lines `run-guest` writes last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunRecord {
    /// "ended" or "timeout".
    pub outcome: String,
    /// `xl create -F`'s exit status.
    pub xl_status: i32,
    /// Epoch seconds when `xl create` started.
    pub created_at: f64,
    /// Epoch seconds when the domain was gone.
    pub ended_at: f64,
}

impl RunRecord {
    /// Parses the result file; unknown keys are ignored.
    pub fn parse(text: &str) -> Self {
        let mut record = RunRecord::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            match key {
                "outcome" => record.outcome = value.to_string(),
                "xl_status" => record.xl_status = value.parse().unwrap_or(-1),
                "created_at" => record.created_at = value.parse().unwrap_or(0.0),
                "ended_at" => record.ended_at = value.parse().unwrap_or(0.0),
                _ => {}
            }
        }
        record
    }
}

/// Everything known about one finished guest run.
#[derive(Debug, Clone)]
pub struct GuestOutcome {
    /// The domain name.
    pub name: String,
    /// How it ended.
    pub reason: ShutdownReason,
    /// The console, line by line, with dom0's time stamps.
    pub console: Vec<ConsoleLine>,
    /// What `xl create -F` printed.
    pub xl_log: String,
    /// From `xl create` to the first console line, if there was one.
    pub first_output_after: Option<Duration>,
    /// From `xl create` to the domain being gone.
    pub lifetime: Duration,
}

impl GuestOutcome {
    /// Puts the pieces together.
    pub fn assemble(
        name: &str,
        record: &RunRecord,
        console: Vec<ConsoleLine>,
        xl_log: String,
    ) -> Self {
        let reason = if record.outcome == "timeout" {
            ShutdownReason::Timeout
        } else {
            shutdown_reason_from_xl_log(&xl_log).unwrap_or(ShutdownReason::Vanished)
        };
        GuestOutcome {
            name: name.to_string(),
            reason,
            first_output_after: console.first().map(|l| l.at),
            console,
            xl_log,
            lifetime: Duration::from_secs_f64((record.ended_at - record.created_at).max(0.0)),
        }
    }

    /// The whole console text.
    pub fn console_text(&self) -> String {
        self.console
            .iter()
            .map(|l| format!("{}\n", l.text))
            .collect()
    }

    /// The first console line containing `needle`.
    pub fn find_line(&self, needle: &str) -> Option<&ConsoleLine> {
        self.console.iter().find(|l| l.text.contains(needle))
    }

    /// A one-paragraph explanation when the run went wrong in a way a person
    /// should be told about (never printed, toolstack refused it), else None.
    pub fn problem(&self) -> Option<String> {
        if self.reason == ShutdownReason::Vanished {
            let said = crate::packages::last_lines(&self.xl_log, 4);
            return Some(format!(
                "the domain ended without a shutdown reason; xl said: {said}"
            ));
        }
        if self.console.is_empty() {
            return Some(format!(
                "the guest printed nothing on its console (it ended: {}); \
                 is it a rumpx guest that writes to the PV console?",
                self.reason
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XL_LOG: &str = "Parsing config from /share/jobs/1/guest.cfg\n\
        Waiting for domain hello (domid 1) to die [pid 210]\n\
        Domain 1 has shut down, reason code 3 0x3\n\
        Action for shutdown reason code 3 is destroy\n\
        Domain 1 needs to be cleaned up: destroying the domain\n\
        Done. Exiting now\n";

    #[test]
    fn reads_the_reason_code_from_xl() {
        assert_eq!(
            shutdown_reason_from_xl_log(XL_LOG),
            Some(ShutdownReason::Crash)
        );
        let poweroff = XL_LOG.replace("code 3 0x3", "code 0 0x0");
        assert_eq!(
            shutdown_reason_from_xl_log(&poweroff),
            Some(ShutdownReason::Poweroff)
        );
        assert_eq!(shutdown_reason_from_xl_log("libxl: error: ..."), None);
        assert_eq!(
            shutdown_reason_from_xl_log("has shut down, reason code 99 0x63"),
            None
        );
    }

    #[test]
    fn parses_stamped_console_lines() {
        let line = parse_stamped_line(
            "1700000000.750000 hello from rumpx on Xen 4.17\r",
            1_700_000_000.25,
        )
        .unwrap();
        assert_eq!(line.text, "hello from rumpx on Xen 4.17");
        assert_eq!(line.at, Duration::from_millis(500));
        assert_eq!(
            parse_stamped_line("1700000000.5 ", 1_700_000_000.0)
                .unwrap()
                .text,
            ""
        );
        assert!(parse_stamped_line("garbage", 0.0).is_none());
    }

    #[test]
    fn assembles_outcomes_and_names_problems() {
        let record =
            RunRecord::parse("outcome=ended\nxl_status=0\ncreated_at=10.0\nended_at=11.5\nx=y\n");
        assert_eq!(record.xl_status, 0);
        let line = ConsoleLine {
            at: Duration::from_millis(300),
            text: "hi".into(),
        };
        let outcome = GuestOutcome::assemble("g", &record, vec![line], XL_LOG.into());
        assert_eq!(outcome.reason, ShutdownReason::Crash);
        assert_eq!(outcome.lifetime, Duration::from_millis(1500));
        assert_eq!(outcome.first_output_after, Some(Duration::from_millis(300)));
        assert!(outcome.problem().is_none());

        let silent = GuestOutcome::assemble("g", &record, Vec::new(), XL_LOG.into());
        assert!(silent.problem().unwrap().contains("printed nothing"));

        let timeout = RunRecord::parse("outcome=timeout\ncreated_at=1\nended_at=2\n");
        assert_eq!(
            GuestOutcome::assemble("g", &timeout, Vec::new(), String::new()).reason,
            ShutdownReason::Timeout
        );

        let refused = GuestOutcome::assemble(
            "g",
            &record,
            Vec::new(),
            "libxl: error: cannot build\n".into(),
        );
        assert_eq!(refused.reason, ShutdownReason::Vanished);
        assert!(refused.problem().unwrap().contains("cannot build"));
    }
}

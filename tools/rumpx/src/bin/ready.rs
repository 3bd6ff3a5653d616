//! `rumpx-ready`, run in dom0: waits for a guest's domain and its readiness
//! key (`data/rumpx-ready`) through rumpx's own xenstore client.
//!
//! Prints one line: `ready VALUE` (exit 0), or `gone` (the domain ended
//! first), `not ready` (nothing within --timeout) or `error ...` (exit 1).

use clap::Parser;
use rumpx::xenstore::{wait_ready, WaitOutcome, Xenstore, XsResult};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "rumpx-ready",
    about = "Wait for a guest's readiness key in xenstore"
)]
struct Args {
    /// The guest's domain name.
    #[arg(long)]
    domain: String,
    /// Seconds to wait for the domain to run and write its key.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let outcome = Xenstore::open().and_then(|mut xs| {
        wait_ready(
            &mut xs,
            &args.domain,
            Duration::from_secs(args.timeout),
            Duration::from_millis(100),
        )
    });
    let (line, status) = report(outcome);
    println!("{line}");
    ExitCode::from(status)
}

/// The line printed and the exit status for how the wait ended.
fn report(outcome: XsResult<WaitOutcome>) -> (String, u8) {
    match outcome {
        Ok(outcome) => {
            let status = u8::from(!matches!(outcome, WaitOutcome::Ready(_)));
            (outcome.to_string(), status)
        }
        Err(e) => (format!("error {e}"), 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rumpx::xenstore::XenstoreError;

    #[test]
    fn arguments_name_the_domain_and_the_time() {
        let args =
            Args::try_parse_from(["rumpx-ready", "--domain", "www1", "--timeout", "5"]).unwrap();
        assert_eq!((args.domain.as_str(), args.timeout), ("www1", 5));
        assert_eq!(
            Args::try_parse_from(["rumpx-ready", "--domain", "w"])
                .unwrap()
                .timeout,
            120
        );
        assert!(Args::try_parse_from(["rumpx-ready", "--timeout", "5"]).is_err());
        assert!(Args::try_parse_from(["rumpx-ready", "--domain", "w", "--timeout", "x"]).is_err());
    }

    #[test]
    fn only_ready_exits_zero() {
        assert_eq!(
            report(Ok(WaitOutcome::Ready("http 10.99.0.50:80".into()))),
            ("ready http 10.99.0.50:80".into(), 0)
        );
        assert_eq!(report(Ok(WaitOutcome::Gone)), ("gone".into(), 1));
        assert_eq!(report(Ok(WaitOutcome::NotReady)), ("not ready".into(), 1));
        let (line, status) = report(Err(XenstoreError::Unreachable {
            tried: "/run/xenstored/socket: No such file".into(),
        }));
        assert!(line.starts_with("error cannot reach xenstore"), "{line}");
        assert_eq!(status, 1);
    }
}

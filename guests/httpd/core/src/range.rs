//! Single byte ranges (RFC 9110 section 14): `Range: bytes=a-b`, `a-` and
//! `-n`. A header this server does not act on (another unit, a list of
//! ranges, bad syntax) is ignored and the whole representation is served,
//! as the RFC allows.

/// What a `Range` header asks of a representation of a given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Serve the whole representation (200).
    Full,
    /// Serve bytes `first..=last` (206).
    Partial {
        /// First byte offset.
        first: u64,
        /// Last byte offset, inclusive.
        last: u64,
    },
    /// No byte of the range exists (416).
    Unsatisfiable,
}

/// A decimal number of at most 19 digits (so it fits a `u64`).
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Resolves the `Range` header value `header` against `len` bytes.
pub fn resolve(header: &str, len: u64) -> RangeOutcome {
    let header = header.trim();
    let Some((unit, spec)) = header.split_once('=') else {
        return RangeOutcome::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeOutcome::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeOutcome::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // Suffix: the last n bytes.
        let Some(n) = number(b) else {
            return RangeOutcome::Full;
        };
        if n == 0 || len == 0 {
            return RangeOutcome::Unsatisfiable;
        }
        return RangeOutcome::Partial {
            first: len - n.min(len),
            last: len - 1,
        };
    }
    let Some(first) = number(a) else {
        return RangeOutcome::Full;
    };
    let last = if b.is_empty() {
        u64::MAX
    } else {
        match number(b) {
            Some(last) if last >= first => last,
            _ => return RangeOutcome::Full,
        }
    };
    if first >= len {
        return RangeOutcome::Unsatisfiable;
    }
    RangeOutcome::Partial {
        first,
        last: last.min(len - 1),
    }
}

#[cfg(test)]
mod tests {
    use super::{resolve, RangeOutcome::*};

    #[test]
    fn forms() {
        assert_eq!(resolve("bytes=0-0", 10), Partial { first: 0, last: 0 });
        assert_eq!(resolve("bytes=2-5", 10), Partial { first: 2, last: 5 });
        assert_eq!(resolve("bytes=2-500", 10), Partial { first: 2, last: 9 });
        assert_eq!(resolve("bytes=7-", 10), Partial { first: 7, last: 9 });
        assert_eq!(resolve("bytes=-3", 10), Partial { first: 7, last: 9 });
        assert_eq!(resolve("bytes=-30", 10), Partial { first: 0, last: 9 });
        assert_eq!(resolve("BYTES = 1-1", 10), Partial { first: 1, last: 1 });
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(resolve("bytes=10-", 10), Unsatisfiable);
        assert_eq!(resolve("bytes=10-20", 10), Unsatisfiable);
        assert_eq!(resolve("bytes=-0", 10), Unsatisfiable);
        assert_eq!(resolve("bytes=0-", 0), Unsatisfiable);
        assert_eq!(resolve("bytes=-5", 0), Unsatisfiable);
    }

    #[test]
    fn ignored() {
        for h in [
            "",
            "bytes",
            "bytes=",
            "bytes=-",
            "bytes=5-2",
            "bytes=a-b",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=+1-2",
            "bytes=99999999999999999999-",
            "bytes=1-2-3",
        ] {
            assert_eq!(resolve(h, 10), Full, "{h:?}");
        }
    }
}

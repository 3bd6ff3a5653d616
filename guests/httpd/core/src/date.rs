//! HTTP dates (RFC 9110 section 5.6.7): the IMF-fixdate form
//! `Sun, 06 Nov 1994 08:49:37 GMT`, formatted from and parsed into Unix
//! seconds with a proleptic Gregorian calendar in UTC.

use core::fmt;

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
/// The latest second shown with a four-digit year (9999-12-31T23:59:59Z).
const MAX_SECS: u64 = 253_402_300_799;

/// A Unix time (seconds since 1970-01-01T00:00:00Z) shown as an
/// IMF-fixdate; times past year 9999 are shown as the last second of 9999.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpDate(pub u64);

/// Days since 1970-01-01 for a civil date (`month` 1..=12).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month 1..=12, day 1..=31) of a day count since
/// 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl fmt::Display for HttpDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.min(MAX_SECS);
        let days = (secs / 86_400) as i64;
        let rem = secs % 86_400;
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            DAYS[(days % 7) as usize],
            day,
            MONTHS[(month - 1) as usize],
            year,
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        )
    }
}

/// Two ASCII digits as a number.
fn digits(s: &[u8]) -> Option<u32> {
    s.iter().try_fold(0u32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

/// Parses an IMF-fixdate into Unix seconds; `None` for anything else
/// (RFC 9110 lets a recipient ignore a date it cannot parse; the obsolete
/// RFC 850 and asctime forms are treated so). Dates before 1970 are `None`.
pub fn parse(s: &str) -> Option<u64> {
    let b = s.trim().as_bytes();
    // "Sun, 06 Nov 1994 08:49:37 GMT" is 29 bytes.
    if b.len() != 29 || &b[3..5] != b", " || b[7] != b' ' || b[11] != b' ' {
        return None;
    }
    if b[16] != b' ' || b[19] != b':' || b[22] != b':' || &b[25..] != b" GMT" {
        return None;
    }
    if !DAYS.iter().any(|d| d.as_bytes() == &b[..3]) {
        return None;
    }
    let day = digits(&b[5..7])?;
    let month = MONTHS.iter().position(|m| m.as_bytes() == &b[8..11])? as u32 + 1;
    let year = digits(&b[12..16])?;
    let (hour, min, sec) = (
        digits(&b[17..19])?,
        digits(&b[20..22])?,
        digits(&b[23..25])?,
    );
    if !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 || year < 1970 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let (y, m, d) = civil_from_days(days);
    if (y, m, d) != (i64::from(year), month, day) {
        return None; // 31 Feb and the like
    }
    let secs = days * 86_400 + i64::from(hour * 3600 + min * 60 + sec.min(59));
    u64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    #[test]
    fn formats_known_dates() {
        assert_eq!(HttpDate(0).to_string(), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            HttpDate(784_111_777).to_string(),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            HttpDate(951_782_400).to_string(),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(
            HttpDate(1_795_000_000).to_string(),
            format!("{}", HttpDate(1_795_000_000))
        );
        assert_eq!(
            HttpDate(4_102_444_800).to_string(),
            "Fri, 01 Jan 2100 00:00:00 GMT"
        );
        assert_eq!(
            HttpDate(u64::MAX).to_string(),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }

    #[test]
    fn parse_inverts_format_across_the_range() {
        let mut t = 0u64;
        while t < MAX_SECS {
            let shown = HttpDate(t).to_string();
            assert_eq!(parse(&shown), Some(t), "{shown}");
            t += 86_399 * 37 + 12_345;
        }
    }

    #[test]
    fn parse_rejects_other_forms() {
        for bad in [
            "",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1969 08:49:37 GMT",
            "Sun, 0x Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}

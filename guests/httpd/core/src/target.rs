//! Request targets (RFC 9112 section 3.2) made into document-root paths:
//! origin-form or absolute-form `http://host/...`, query dropped,
//! percent-decoded, `.` and empty segments removed, `..` resolved inside the
//! root. A `..` that would climb above the root is refused, never clamped.

use alloc::string::String;
use alloc::vec::Vec;

/// Why a target cannot name anything under the document root (all are 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetError {
    /// Not origin-form (`/...`) or absolute-form `http://authority/...`.
    NotOriginForm,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// The decoded path holds a NUL or another control byte.
    ControlByte,
    /// The decoded path is not UTF-8.
    NotUtf8,
    /// A `..` segment would climb above the document root.
    Escape,
    /// A fragment (`#`) was sent; clients never send one.
    Fragment,
}

/// A normalised target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `/` or `/seg/seg` with no empty, `.` or `..` segments.
    pub path: String,
    /// The target ended with `/` (asks for a directory).
    pub dir: bool,
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s`.
fn decode(s: &str) -> Result<Vec<u8>, TargetError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hi = b.get(i + 1).copied().and_then(hex);
            let lo = b.get(i + 2).copied().and_then(hex);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(TargetError::BadEscape);
            };
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Normalises a request target into a path under the document root.
pub fn normalise(raw: &str) -> Result<Target, TargetError> {
    if raw.contains('#') {
        return Err(TargetError::Fragment);
    }
    let mut rest = raw;
    if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case("http://") {
        let after = &rest[7..];
        rest = match after.find('/') {
            Some(at) if at > 0 => &after[at..],
            _ => return Err(TargetError::NotOriginForm),
        };
    }
    if !rest.starts_with('/') {
        return Err(TargetError::NotOriginForm);
    }
    let path = rest.split_once('?').map_or(rest, |(p, _)| p);
    let bytes = decode(path)?;
    if bytes.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(TargetError::ControlByte);
    }
    let decoded = String::from_utf8(bytes).map_err(|_| TargetError::NotUtf8)?;
    let mut segments: Vec<&str> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop().ok_or(TargetError::Escape)?;
            }
            s => segments.push(s),
        }
    }
    let dir = decoded.ends_with('/')
        || decoded.ends_with("/.")
        || decoded.ends_with("/..")
        || segments.is_empty();
    let mut path = String::with_capacity(decoded.len() + 1);
    for seg in &segments {
        path.push('/');
        path.push_str(seg);
    }
    if path.is_empty() {
        path.push('/');
    }
    Ok(Target { path, dir })
}

#[cfg(test)]
mod tests {
    use super::{normalise, TargetError::*};

    fn ok(raw: &str) -> (alloc::string::String, bool) {
        let t = normalise(raw).unwrap();
        (t.path, t.dir)
    }

    #[test]
    fn normal_forms() {
        assert_eq!(ok("/"), ("/".into(), true));
        assert_eq!(ok("/index.html"), ("/index.html".into(), false));
        assert_eq!(ok("/a/b/"), ("/a/b".into(), true));
        assert_eq!(ok("//a///b"), ("/a/b".into(), false));
        assert_eq!(ok("/a/./b"), ("/a/b".into(), false));
        assert_eq!(ok("/a/../b"), ("/b".into(), false));
        assert_eq!(ok("/a/b/.."), ("/a".into(), true));
        assert_eq!(ok("/a?x=../../.."), ("/a".into(), false));
        assert_eq!(ok("/%7euser/a%20b"), ("/~user/a b".into(), false));
        assert_eq!(ok("/caf%C3%A9"), ("/café".into(), false));
        assert_eq!(ok("http://example.org/x/y"), ("/x/y".into(), false));
        assert_eq!(ok("HTTP://h:80/"), ("/".into(), true));
        assert_eq!(ok("/a%2fb"), ("/a/b".into(), false));
    }

    #[test]
    fn refused() {
        for (raw, why) in [
            ("", NotOriginForm),
            ("*", NotOriginForm),
            ("index.html", NotOriginForm),
            ("http://", NotOriginForm),
            ("http:///x", NotOriginForm),
            ("ftp://h/x", NotOriginForm),
            ("/..", Escape),
            ("/../etc/passwd", Escape),
            ("/a/../../etc/passwd", Escape),
            ("/%2e%2e/etc/passwd", Escape),
            ("/a/%2E%2E/%2e%2e/x", Escape),
            ("/..%2f..%2fetc", Escape),
            ("/a%00.html", ControlByte),
            ("/a%0d%0aSet-Cookie:x", ControlByte),
            ("/a%7f", ControlByte),
            ("/a%", BadEscape),
            ("/a%4", BadEscape),
            ("/a%zz", BadEscape),
            ("/%ff%fe", NotUtf8),
            ("/a#frag", Fragment),
        ] {
            assert_eq!(normalise(raw), Err(why), "{raw:?}");
        }
    }
}

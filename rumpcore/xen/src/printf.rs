//! A small printf for `rumpuser_dprintf`: the conversions a kernel's
//! diagnostics use (`%d %i %u %x %X %o %p %c %s %%` with flags `-+ #0`,
//! width and precision, `*` for either, and the length modifiers `hh h l
//! ll q j z t`). Floating point is not formatted (rump kernels use none).
//! Arguments come from an [`Args`] source; a conversion whose argument is
//! not available prints `<?>`. Pure logic, tested on the host.

use alloc::vec::Vec;

/// Where the formatter takes its arguments from.
pub trait Args {
    /// The next integer-class argument (an integer or a pointer, as its
    /// 64 bits), or `None` when no more can be had.
    fn next(&mut self) -> Option<u64>;
    /// The bytes of the C string at `ptr` (without its NUL), at most
    /// `max` of them.
    fn c_str(&mut self, ptr: u64, max: usize) -> Vec<u8>;
}

/// Longest string a `%s` prints without a precision.
pub const MAX_STRING: usize = 4096;

#[derive(Default, Clone, Copy)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: usize,
    precision: Option<usize>,
    /// Argument width in bytes (1, 2, 4 or 8).
    size: u8,
}

/// Formats `fmt` with arguments from `args`, handing the output to `out`
/// in pieces.
pub fn format(fmt: &[u8], args: &mut dyn Args, out: &mut dyn FnMut(&[u8])) {
    let mut i = 0;
    while i < fmt.len() {
        let start = i;
        while i < fmt.len() && fmt[i] != b'%' {
            i += 1;
        }
        if i > start {
            out(&fmt[start..i]);
        }
        if i >= fmt.len() {
            break;
        }
        let conv_start = i;
        i += 1;
        let mut spec = Spec {
            size: 4,
            ..Spec::default()
        };
        while i < fmt.len() {
            match fmt[i] {
                b'-' => spec.left = true,
                b'+' => spec.plus = true,
                b' ' => spec.space = true,
                b'#' => spec.alt = true,
                b'0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        if i < fmt.len() && fmt[i] == b'*' {
            i += 1;
            let w = args.next().unwrap_or(0) as u32 as i32;
            if w < 0 {
                spec.left = true;
            }
            spec.width = w.unsigned_abs() as usize;
        } else {
            spec.width = digits(fmt, &mut i);
        }
        if i < fmt.len() && fmt[i] == b'.' {
            i += 1;
            if i < fmt.len() && fmt[i] == b'*' {
                i += 1;
                let p = args.next().unwrap_or(0) as u32 as i32;
                spec.precision = (p >= 0).then_some(p as usize);
            } else {
                spec.precision = Some(digits(fmt, &mut i));
            }
        }
        spec.width = spec.width.min(256);
        spec.precision = spec.precision.map(|p| p.min(MAX_STRING));
        while i < fmt.len() {
            match fmt[i] {
                b'h' => spec.size = if spec.size == 2 { 1 } else { 2 },
                b'l' | b'q' | b'j' | b'z' | b't' | b'L' => spec.size = 8,
                _ => break,
            }
            i += 1;
        }
        let Some(&conv) = fmt.get(i) else {
            out(&fmt[conv_start..]);
            break;
        };
        i += 1;
        match conv {
            b'%' => out(b"%"),
            b'd' | b'i' | b'u' | b'x' | b'X' | b'o' | b'p' | b'c' | b's' => {
                let Some(arg) = args.next() else {
                    out(b"<?>");
                    continue;
                };
                match conv {
                    b'c' => pad(&spec, &[arg as u8], out),
                    b's' => {
                        let max = spec.precision.unwrap_or(MAX_STRING);
                        let s = if arg == 0 {
                            b"(null)"[..6.min(max)].to_vec()
                        } else {
                            args.c_str(arg, max)
                        };
                        pad(&spec, &s, out);
                    }
                    _ => number(&spec, conv, arg, out),
                }
            }
            // Not ours to format (floating point, %n, ...): as written.
            _ => out(&fmt[conv_start..i]),
        }
    }
}

fn digits(fmt: &[u8], i: &mut usize) -> usize {
    let mut n: usize = 0;
    while *i < fmt.len() && fmt[*i].is_ascii_digit() {
        n = n
            .saturating_mul(10)
            .saturating_add(usize::from(fmt[*i] - b'0'));
        *i += 1;
    }
    n
}

/// Pads `body` to the width with spaces.
fn pad(spec: &Spec, body: &[u8], out: &mut dyn FnMut(&[u8])) {
    let fill = spec.width.saturating_sub(body.len());
    if !spec.left {
        spaces(fill, out);
    }
    out(body);
    if spec.left {
        spaces(fill, out);
    }
}

fn spaces(n: usize, out: &mut dyn FnMut(&[u8])) {
    for _ in 0..n {
        out(b" ");
    }
}

fn number(spec: &Spec, conv: u8, raw: u64, out: &mut dyn FnMut(&[u8])) {
    let size = if conv == b'p' { 8 } else { spec.size };
    let bits = u32::from(size) * 8;
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let value = raw & mask;
    let signed = matches!(conv, b'd' | b'i');
    let (negative, magnitude) = if signed {
        let shift = 64 - bits;
        let v = ((value << shift) as i64) >> shift;
        (v < 0, v.unsigned_abs())
    } else {
        (false, value)
    };
    let (base, upper) = match conv {
        b'x' | b'p' => (16, false),
        b'X' => (16, true),
        b'o' => (8, false),
        _ => (10, false),
    };
    let mut buf = [0u8; 64];
    let mut n = 0;
    let mut m = magnitude;
    while m > 0 {
        let d = (m % base) as u8;
        buf[n] = match d {
            0..=9 => b'0' + d,
            _ if upper => b'A' + d - 10,
            _ => b'a' + d - 10,
        };
        n += 1;
        m /= base;
    }
    // Precision is the least number of digits; 0 with precision 0 prints
    // none.
    let min_digits = spec.precision.unwrap_or(1);
    let mut digits: Vec<u8> = alloc::vec![b'0'; min_digits.saturating_sub(n)];
    digits.extend(buf[..n].iter().rev());
    let prefix: &[u8] = if negative {
        b"-"
    } else if signed && spec.plus {
        b"+"
    } else if signed && spec.space {
        b" "
    } else if conv == b'p' || (spec.alt && base == 16 && magnitude != 0) {
        if upper {
            b"0X"
        } else {
            b"0x"
        }
    } else if spec.alt && base == 8 && digits.first() != Some(&b'0') {
        b"0"
    } else {
        b""
    };
    let len = prefix.len() + digits.len();
    let fill = spec.width.saturating_sub(len);
    if spec.zero && !spec.left && spec.precision.is_none() {
        out(prefix);
        for _ in 0..fill {
            out(b"0");
        }
        out(&digits);
    } else {
        if !spec.left {
            spaces(fill, out);
        }
        out(prefix);
        out(&digits);
        if spec.left {
            spaces(fill, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    struct Fake {
        ints: Vec<u64>,
        strings: Vec<(u64, &'static str)>,
    }

    impl Args for Fake {
        fn next(&mut self) -> Option<u64> {
            (!self.ints.is_empty()).then(|| self.ints.remove(0))
        }
        fn c_str(&mut self, ptr: u64, max: usize) -> Vec<u8> {
            let s = self.strings.iter().find(|(p, _)| *p == ptr).unwrap().1;
            s.as_bytes()[..s.len().min(max)].to_vec()
        }
    }

    fn fmt(f: &str, ints: &[u64]) -> String {
        let mut a = Fake {
            ints: ints.to_vec(),
            strings: vec![(0x1000, "hello"), (0x2000, "")],
        };
        let mut s = Vec::new();
        format(f.as_bytes(), &mut a, &mut |b| s.extend_from_slice(b));
        String::from_utf8(s).unwrap()
    }

    #[test]
    fn integers() {
        assert_eq!(fmt("%d %i %u", &[42, (-7i64) as u64, 7]), "42 -7 7");
        assert_eq!(fmt("%d", &[0xffff_ffff]), "-1");
        assert_eq!(fmt("%ld", &[(-5i64) as u64]), "-5");
        assert_eq!(fmt("%u", &[0xffff_ffff]), "4294967295");
        assert_eq!(fmt("%lu", &[u64::MAX]), "18446744073709551615");
        assert_eq!(fmt("%hhd %hd", &[0x1ff, 0x18000]), "-1 -32768");
        assert_eq!(fmt("%zu %lld %jd", &[1, 2, 3]), "1 2 3");
    }

    #[test]
    fn hex_octal_pointer() {
        assert_eq!(
            fmt("%x %X %#x %o %#o", &[255, 255, 255, 8, 8]),
            "ff FF 0xff 10 010"
        );
        assert_eq!(fmt("%p", &[0xdead_beef]), "0xdeadbeef");
        assert_eq!(fmt("%#x", &[0]), "0");
        assert_eq!(fmt("%08lx", &[0xabc]), "00000abc");
    }

    #[test]
    fn width_precision_flags() {
        assert_eq!(fmt("[%5d]", &[42]), "[   42]");
        assert_eq!(fmt("[%-5d]", &[42]), "[42   ]");
        assert_eq!(fmt("[%05d]", &[(-42i64) as u64]), "[-0042]");
        assert_eq!(fmt("[%+d] [% d]", &[3, 3]), "[+3] [ 3]");
        assert_eq!(fmt("[%.3d]", &[7]), "[007]");
        assert_eq!(fmt("[%*d]", &[4, 7]), "[   7]");
        assert_eq!(fmt("[%-*d]", &[(-4i64) as u64, 7]), "[7   ]");
        assert_eq!(fmt("[%.0d]", &[0]), "[]");
    }

    #[test]
    fn strings_and_chars() {
        assert_eq!(fmt("%s, %c!", &[0x1000, u64::from(b'W')]), "hello, W!");
        assert_eq!(fmt("[%8s]", &[0x1000]), "[   hello]");
        assert_eq!(fmt("[%-8s]", &[0x1000]), "[hello   ]");
        assert_eq!(fmt("[%.3s]", &[0x1000]), "[hel]");
        assert_eq!(fmt("[%.*s]", &[2, 0x1000]), "[he]");
        assert_eq!(fmt("[%s]", &[0]), "[(null)]");
        assert_eq!(fmt("[%s]", &[0x2000]), "[]");
    }

    #[test]
    fn odd_formats() {
        assert_eq!(fmt("100%%", &[]), "100%");
        assert_eq!(fmt("%d %d %d", &[1]), "1 <?> <?>");
        assert_eq!(fmt("%f", &[1]), "%f");
        assert_eq!(fmt("tail %", &[]), "tail %");
        assert_eq!(fmt("tail %l", &[]), "tail %l");
        assert_eq!(fmt("no args", &[]), "no args");
    }
}

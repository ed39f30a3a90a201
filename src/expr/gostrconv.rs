//! Owns float formatting and parsing that match Go's `strconv` (`FormatFloat`, `ParseFloat`), which the reference functions expose.
//!
//! Decimal digits come from Rust's own exact formatting (shortest round-trip, or correctly rounded
//! to a number of digits); the layout rules around them are a transcription of Go's `ftoa.go`.

/// Formats `x` like Go's `strconv.FormatFloat(x, fmt, prec, 64)`. `fmt` must be one of
/// `b e E f g G x X`; a negative `prec` asks for the shortest representation that round-trips.
pub(crate) fn format_float(x: f64, fmt: char, prec: i64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let neg = x.is_sign_negative();
    let abs = x.abs();
    match fmt {
        'b' => format_binary(x),
        'x' | 'X' => format_hex(x, prec, fmt),
        _ => {
            let shortest = prec < 0;
            let prec = if fmt == 'g' || fmt == 'G' { prec.max(1) } else { prec };
            let digits = if shortest {
                scientific_digits(&format!("{abs:e}"))
            } else if fmt == 'f' || fmt == 'F' {
                fixed_digits(&format!("{:.*}", usize_of(prec), abs))
            } else {
                let significant = if fmt == 'e' || fmt == 'E' { prec + 1 } else { prec };
                scientific_digits(&format!("{:.*e}", usize_of(significant - 1), abs))
            };
            format_digits(neg, &digits, shortest, prec, fmt)
        }
    }
}

fn usize_of(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// Decimal digits `0.d1d2d3… × 10^dp` with no trailing zeros; zero has no digits and `dp == 0`.
struct Decimal {
    digits: Vec<u8>,
    dp: i64,
}

impl Decimal {
    fn new(mut digits: Vec<u8>, mut dp: i64) -> Decimal {
        let leading = digits.iter().take_while(|&&d| d == b'0').count();
        digits.drain(..leading);
        dp -= i64::try_from(leading).unwrap_or(0);
        while digits.last() == Some(&b'0') {
            digits.pop();
        }
        if digits.is_empty() {
            dp = 0;
        }
        Decimal { digits, dp }
    }

    fn nd(&self) -> i64 {
        i64::try_from(self.digits.len()).unwrap_or(i64::MAX)
    }

    fn digit(&self, index: i64) -> u8 {
        usize::try_from(index).ok().and_then(|i| self.digits.get(i)).copied().unwrap_or(b'0')
    }
}

/// Reads Rust's `{:e}` output, such as `1.2345e3`.
fn scientific_digits(text: &str) -> Decimal {
    let (mantissa, exp) = text.split_once('e').unwrap_or((text, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    Decimal::new(digits, exp + 1)
}

/// Reads Rust's `{:.N}` output, such as `123.4500`.
fn fixed_digits(text: &str) -> Decimal {
    let int_len = text.find('.').unwrap_or(text.len());
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_digit).collect();
    Decimal::new(digits, i64::try_from(int_len).unwrap_or(0))
}

/// Go `formatDigits`.
fn format_digits(neg: bool, d: &Decimal, shortest: bool, prec: i64, fmt: char) -> String {
    let mut prec = prec;
    if shortest {
        prec = match fmt {
            'e' | 'E' => (d.nd() - 1).max(0),
            'f' | 'F' => (d.nd() - d.dp).max(0),
            _ => d.nd(),
        };
    }
    match fmt {
        'e' | 'E' => format_e(neg, d, prec, fmt),
        'f' | 'F' => format_f(neg, d, prec),
        _ => {
            let mut eprec = prec;
            if eprec > d.nd() && d.nd() >= d.dp {
                eprec = d.nd();
            }
            // Go decides between %e and %f with precision 6 when printing the shortest form.
            if shortest {
                eprec = 6;
            }
            let exp = d.dp - 1;
            let e_fmt = if fmt == 'G' { 'E' } else { 'e' };
            if exp < -4 || exp >= eprec {
                return format_e(neg, d, prec.min(d.nd()) - 1, e_fmt);
            }
            if prec > d.dp {
                prec = d.nd();
            }
            format_f(neg, d, (prec - d.dp).max(0))
        }
    }
}

/// Go `fmtE`: `-d.ddddde±dd`.
fn format_e(neg: bool, d: &Decimal, prec: i64, fmt: char) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push(char::from(d.digit(0)));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(char::from(d.digit(i)));
        }
    }
    out.push(fmt);
    let exp = if d.digits.is_empty() { 0 } else { d.dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", exp.unsigned_abs()));
    out
}

/// Go `fmtF`: `-ddddd.ddddd`.
fn format_f(neg: bool, d: &Decimal, prec: i64) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if d.dp > 0 {
        for i in 0..d.dp {
            out.push(char::from(d.digit(i)));
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(char::from(d.digit(d.dp + i - 1)));
        }
    }
    out
}

const MANT_BITS: u32 = 52;
const BIAS: i64 = -1023;

/// Splits a finite float into Go's `(mant, exp)` pair, with the implicit top bit added.
fn mantissa_exponent(x: f64) -> (u64, i64) {
    let bits = x.to_bits();
    let mut exp = i64::try_from((bits >> MANT_BITS) & 0x7ff).unwrap_or(0);
    let mut mant = bits & ((1u64 << MANT_BITS) - 1);
    if exp == 0 {
        exp += 1;
    } else {
        mant |= 1u64 << MANT_BITS;
    }
    (mant, exp + BIAS)
}

/// Go `fmtB`: `-ddddp±ddd`, a decimal mantissa and a binary exponent.
fn format_binary(x: f64) -> String {
    let (mant, exp) = mantissa_exponent(x);
    let exp = exp - i64::from(MANT_BITS);
    let sign = if x.is_sign_negative() { "-" } else { "" };
    let exp_sign = if exp >= 0 { "+" } else { "" };
    format!("{sign}{mant}p{exp_sign}{exp}")
}

/// Go `fmtX`: `-0x1.yyyyyyp±dd`.
fn format_hex(x: f64, prec: i64, fmt: char) -> String {
    let (mut mant, mut exp) = mantissa_exponent(x);
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - MANT_BITS;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = u32::try_from(prec * 4).unwrap_or(0);
        let extra = (mant << shift) & ((1u64 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8; 16] = if fmt == 'X' { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    let nibble = |m: u64| char::from(hex[usize::try_from((m >> 60) & 15).unwrap_or(0)]);
    let mut out = String::new();
    if x.is_sign_negative() {
        out.push('-');
    }
    out.push('0');
    out.push(fmt);
    out.push(if (mant >> 60) & 1 == 1 { '1' } else { '0' });
    mant <<= 4;
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(nibble(mant));
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec {
            out.push(nibble(mant));
            mant <<= 4;
        }
    }
    out.push(if fmt == 'X' { 'P' } else { 'p' });
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", exp.unsigned_abs()));
    out
}

/// Parses `s` like Go's `strconv.ParseFloat(s, 64)`: decimal and hexadecimal (`0x1.8p3`) forms,
/// `_` digit separators, `inf`/`infinity` with an optional sign and `nan`. Values beyond the
/// float range are an error, as in Go.
pub(crate) fn parse_float(s: &str) -> Result<f64, String> {
    let invalid = || format!("{s:?} is not a valid float");
    let (negative, unsigned) =
        if let Some(rest) = s.strip_prefix('-') { (true, rest) } else { (false, s.strip_prefix('+').unwrap_or(s)) };
    let lower = unsigned.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Ok(if negative { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if lower == "nan" && unsigned.len() == s.len() {
        return Ok(f64::NAN);
    }
    if s.contains('_') && !underscores_ok(s) {
        return Err(invalid());
    }
    let body: String = unsigned.chars().filter(|&c| c != '_').collect();
    let hex_body = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X"));
    let magnitude = if let Some(hex) = hex_body {
        parse_hex_float(hex).ok_or_else(invalid)?
    } else if is_decimal_float(&body) {
        body.parse::<f64>().map_err(|_| invalid())?
    } else {
        return Err(invalid());
    };
    if magnitude.is_infinite() {
        return Err(format!("{s:?} is out of the float range"));
    }
    Ok(if negative { -magnitude } else { magnitude })
}

/// Go `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscores_ok(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let mut saw = b'^';
    let mut hex = false;
    if let (Some(b'0'), Some(p)) = (bytes.get(i), bytes.get(i + 1)) {
        if matches!(p.to_ascii_lowercase(), b'b' | b'o' | b'x') {
            hex = p.eq_ignore_ascii_case(&b'x');
            saw = b'0';
            i += 2;
        }
    }
    for &c in bytes.iter().skip(i) {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// `(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?`, the unsigned decimal syntax Go accepts.
fn is_decimal_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_digits = count_digits(b, &mut i, u8::is_ascii_digit);
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = count_digits(b, &mut i, u8::is_ascii_digit);
    }
    if int_digits + frac_digits == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if count_digits(b, &mut i, u8::is_ascii_digit) == 0 {
            return false;
        }
    }
    i == b.len()
}

fn count_digits(b: &[u8], i: &mut usize, accept: fn(&u8) -> bool) -> usize {
    let start = *i;
    while b.get(*i).is_some_and(accept) {
        *i += 1;
    }
    *i - start
}

/// Parses the part after `0x`: hex mantissa with an optional point, then a required `p` exponent.
fn parse_hex_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut mant: u128 = 0;
    let mut scale: i64 = 0;
    let mut digits = 0;
    let mut seen_point = false;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(v) = char::from(c).to_digit(16) {
            digits += 1;
            if mant >> 120 == 0 {
                mant = (mant << 4) | u128::from(v);
                if seen_point {
                    scale -= 4;
                }
            } else if !seen_point {
                // Digits past what u128 holds only shift the value (their bits are below rounding).
                scale += 4;
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 || !matches!(b.get(i), Some(b'p' | b'P')) {
        return None;
    }
    i += 1;
    let exp_text = s.get(i..)?;
    let (exp_negative, exp_digits) = match exp_text.as_bytes().first() {
        Some(b'-') => (true, exp_text.get(1..)?),
        Some(b'+') => (false, exp_text.get(1..)?),
        _ => (false, exp_text),
    };
    if exp_digits.is_empty() || !exp_digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    // Exponents this large already overflow or underflow; saturating keeps the arithmetic safe.
    let exp: i64 = exp_digits.parse().unwrap_or(100_000).min(100_000);
    let exp = if exp_negative { -exp } else { exp };
    let mut value = mant as f64;
    let mut total = scale + exp;
    while total > 1000 {
        value *= 2f64.powi(1000);
        total -= 1000;
    }
    while total < -1000 {
        value *= 2f64.powi(-1000);
        total += 1000;
    }
    let step = i32::try_from(total).unwrap_or(0);
    Some(value * 2f64.powi(step))
}

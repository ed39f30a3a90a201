//! Owns making text safe for a terminal: escape sequences that come from inputs, plugins or files
//! (cursor movement, window titles, OSC 52 clipboard writes, hyperlinks) never reach it as such.

/// `text` with every control character except newline and tab shown escaped (`\x1b`, `\r`,
/// `\u{9b}` for the C1 range): what a plugin or an input says is shown, never acted on by the
/// terminal. With `allow_sgr`, well-formed colour sequences (`ESC [ digits;... m`, which our own
/// log lines use when stderr is a colour terminal) pass unchanged.
pub fn neutralise(text: &str, allow_sgr: bool) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| (c.is_control() && c != '\n' && c != '\t') || c == '\u{2028}' || c == '\u{2029}';
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if allow_sgr && c == '\u{1b}' {
            if let Some(len) = sgr_len(rest) {
                out.push_str(&rest[..len]);
                rest = &rest[len..];
                continue;
            }
        }
        if unsafe_char(c) {
            match c {
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            }
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    std::borrow::Cow::Owned(out)
}

/// The length of a Select Graphic Rendition sequence at the start of `s`, if one is there.
fn sgr_len(s: &str) -> Option<usize> {
    let body = s.strip_prefix("\u{1b}[")?;
    let params = body.find(|c: char| !(c.is_ascii_digit() || c == ';'))?;
    (body[params..].starts_with('m') && params <= 32).then_some(2 + params + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_shown_not_acted_on() {
        assert_eq!(neutralise("plain\nline\tok", false), "plain\nline\tok");
        assert_eq!(neutralise("a\u{1b}]52;c;ZXZpbA==\u{7}b", false), "a\\x1b]52;c;ZXZpbA==\\x07b");
        assert_eq!(neutralise("\u{1b}[2J\u{1b}[1;1H\rx\u{9b}31m", true), "\\x1b[2J\\x1b[1;1H\\rx\\u{9b}31m");
        assert_eq!(neutralise("\u{1b}[1;31merror\u{1b}[0m", true), "\u{1b}[1;31merror\u{1b}[0m");
        assert_eq!(neutralise("\u{1b}[1;31merror", false), "\\x1b[1;31merror");
    }

    proptest::proptest! {
        /// Whatever the text, no escape or control character but newline and tab is left (and,
        /// with colours allowed, only in a colour sequence).
        #[test]
        fn no_control_character_survives(s in "(.|\u{1b}|\r|\u{9b}|\u{7}){0,80}") {
            let shown = neutralise(&s, false);
            proptest::prop_assert!(!shown.chars().any(|c| c.is_control() && c != '\n' && c != '\t'), "{shown:?}");
        }
    }
}

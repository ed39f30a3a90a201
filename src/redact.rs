//! Owns finding credentials in URLs and in free text, and hiding them.
//!
//! Two readings of a URL's userinfo, on purpose:
//! - [`strip_userinfo`] is exact for URLs we built ourselves (a parsed module spec percent-encodes
//!   its userinfo, so the authority ends at the first `/` and the userinfo at its last `@`);
//! - [`redact_url`], [`redact_text`] and [`redact_spec`] are generous, for text we did not build
//!   (a spec that failed to parse, a config URL, an installer's or git's message): a password may
//!   hold `/`, `#`, `@`, `:`, `?` or even `://`, so anything that could be userinfo is hidden, and a
//!   harmless part of a URL is sometimes hidden with it. Hiding too much costs a less precise
//!   message; hiding too little leaks a secret.

/// What replaces a userinfo.
pub const MASK: &str = "***";

/// The URL without its userinfo (`scheme://***@host/...`), for URLs whose userinfo is
/// percent-encoded (the ones a parsed module spec holds).
pub fn strip_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}://{MASK}@{}", &url[..scheme_end], &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// Hides anything that may be credentials in one URL (or URL-like text).
pub fn redact_url(url: &str) -> String {
    redact_with(url, |rest| rest.len())
}

/// Hides credentials in a raw module spec: everything after a `://` is one URL, whatever it holds
/// (a password may hold spaces and quotes too).
pub fn redact_spec(spec: &str) -> String {
    redact_url(spec)
}

/// Hides credentials of every URL in a free-form message (git and installers quote URLs as
/// `'https://u:p@h/'`): a URL ends at whitespace or a quote.
pub fn redact_text(text: &str) -> String {
    redact_with(text, |rest| rest.find(|c: char| c.is_whitespace() || "'\"`<>()".contains(c)).unwrap_or(rest.len()))
}

/// The userinfo spans found by the generous reading, as written (for callers that must also
/// hide them where they were quoted without their URL).
pub fn secrets_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(i) = text[pos..].find("://") {
        let start = pos + i + 3;
        let rest = &text[start..];
        match userinfo_end(rest) {
            Some(end) => {
                out.push(rest[..end].to_string());
                pos = start + end + 1;
            }
            None => pos = start,
        }
    }
    out
}

fn redact_with(text: &str, token_len: impl Fn(&str) -> usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    while let Some(i) = text[pos..].find("://") {
        let start = pos + i + 3;
        out.push_str(&text[pos..start]);
        let rest = &text[start..];
        let token = &rest[..token_len(rest)];
        match userinfo_end(token) {
            Some(end) => {
                out.push_str(MASK);
                // Scanning goes on after the userinfo: a `://` inside a password is not a URL.
                pos = start + end;
            }
            None => pos = start,
        }
    }
    out.push_str(&text[pos..]);
    out
}

/// Where the userinfo of `token` (the text after `scheme://`) ends: the byte index of its `@`.
///
/// When the authority (up to the first `/`) shows credentials (an `@`, or a `:` as in
/// `user:pa/ss@host`), the userinfo ends at the last `@` that a host follows: a password holding
/// `@`, `/` or `#` is hidden whole, and so is a `@ref` after the path (hidden with the rest). Without
/// such a sign, only an `@` that a host and then a `/` follow counts (`tok/en@host/repo`), so a
/// plain `https://host/repo@v1` keeps its host and path.
fn userinfo_end(token: &str) -> Option<usize> {
    let first_slash = token.find('/').unwrap_or(token.len());
    let signs = token[..first_slash].contains(['@', ':']);
    let mut found = None;
    for (at, _) in token.match_indices('@') {
        let after = &token[at + 1..];
        let host_len = host_len(after);
        let ok = at < first_slash || (host_len > 0 && (signs || after[host_len..].starts_with('/')));
        if ok {
            found = Some(at);
        }
    }
    found
}

/// The length of a `host[:port]` at the start of `s`.
fn host_len(s: &str) -> usize {
    let host = if s.starts_with('[') {
        s.find(']').map(|i| i + 1).unwrap_or(0)
    } else {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))).unwrap_or(s.len())
    };
    if host == 0 {
        return 0;
    }
    match s[host..].strip_prefix(':') {
        Some(port) => host + 1 + port.find(|c: char| !c.is_ascii_digit()).unwrap_or(port.len()),
        None => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_urls_keep_everything_but_the_userinfo() {
        assert_eq!(redact_url("https://tok@h/r"), "https://***@h/r");
        assert_eq!(redact_url("https://h/r@v1"), "https://h/r@v1");
        assert_eq!(redact_url("https://h:8080/r"), "https://h:8080/r");
        assert_eq!(strip_userinfo("https://u:p%2Fq@h:1/r"), "https://***@h:1/r");
        assert_eq!(redact_spec("x@git+https://u:p@h/r;"), "x@git+https://***@h/r;");
    }

    #[test]
    fn awkward_passwords_are_hidden_whole() {
        for (given, shown) in [
            ("x@git+https://alice:TO#KEN@h:1/r.git", "x@git+https://***@h:1/r.git"),
            ("x@git+https://alice:TO/KEN@h:1/r.git", "x@git+https://***@h:1/r.git"),
            ("x@git+https://alice:TO@KEN@h:1/r.git", "x@git+https://***@h:1/r.git"),
            // With a ref after credentials, the ref is what stays visible.
            ("x@git+https://alice:TO/KEN@h:1/r.git@main", "x@git+https://***@main"),
            ("x@git+https://alice:a://b@h/r", "x@git+https://***@h/r"),
            ("x@git+https://alice:TO KEN@h/r", "x@git+https://***@h/r"),
            ("https://alice:12/34@h", "https://***@h"),
            ("https://to/ken@h/r", "https://***@h/r"),
            // No sign of credentials: the host, path and ref stay.
            ("x@git+https://h/org/r.git@v1.2", "x@git+https://h/org/r.git@v1.2"),
        ] {
            assert_eq!(redact_spec(given), shown, "{given}");
        }
        assert_eq!(
            redact_text("fatal: unable to access 'https://alice:s/e@c@host/r.git/': 403"),
            "fatal: unable to access 'https://***@host/r.git/': 403"
        );
        assert_eq!(secrets_in("git+https://alice:s/e@c@host/r.git"), vec!["alice:s/e@c".to_string()]);
    }

    proptest::proptest! {
        /// Whatever a password holds, it does not survive redaction of a URL or spec carrying it.
        #[test]
        fn generated_credentials_never_survive(
            user in "[a-z]{1,8}",
            password in "[A-Za-z0-9#/@:?%&=+!$ '\"._~-]{0,24}",
            host in "[a-z]{1,8}(\\.[a-z]{2,3})?(:[0-9]{1,5})?",
            path in "(/[a-z0-9._-]{1,10}){0,3}",
            reference in "(@[a-z0-9/._-]{1,12})?",
            prefix in "(x@git\\+|x @ git\\+|git\\+|)",
        ) {
            let secret = format!("SECRET{password}SECRET");
            let spec = format!("{prefix}https://{user}:{secret}@{host}{path}{reference}");
            let shown = redact_spec(&spec);
            proptest::prop_assert!(!shown.contains("SECRET"), "{spec} -> {shown}");
            let in_text = redact_text(&format!("cannot fetch '{spec}': nope"));
            // In free text a URL ends at whitespace or a quote, so only passwords without them.
            if !password.contains([' ', '\'', '"']) {
                proptest::prop_assert!(!in_text.contains("SECRET"), "{in_text}");
            }
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,200}") {
            let _ = redact_text(&s);
            let _ = redact_spec(&s);
            let _ = secrets_in(&s);
            let _ = strip_userinfo(&s);
        }
    }
}

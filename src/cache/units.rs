//! Owns sizes and ages: disk usage as `du -s --block-size=1` counts it, parsing and printing them.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Counts each inode once per walk (hard links), like one `du` invocation does.
#[derive(Default)]
pub struct Usage {
    seen: HashSet<(u64, u64)>,
}

impl Usage {
    /// The bytes allocated under `path` (itself included): `st_blocks * 512` for every directory,
    /// file and symbolic link, symbolic links never followed, an inode with several hard links
    /// counted the first time this `Usage` meets it. Unreadable parts count as zero.
    pub fn of(&mut self, path: &Path) -> u64 {
        let mut total = 0u64;
        for entry in walkdir::WalkDir::new(path).follow_links(false).follow_root_links(false).into_iter().flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_dir() && meta.nlink() > 1 && !self.seen.insert((meta.dev(), meta.ino())) {
                continue;
            }
            total = total.saturating_add(meta.blocks().saturating_mul(512));
        }
        total
    }
}

/// `du -s --block-size=1 path`, on its own.
pub fn disk_usage(path: &Path) -> u64 {
    Usage::default().of(path)
}

/// Parses `2GiB`, `500MB`, `1.5G`, `300k`, `1048576`: `KiB/MiB/GiB/TiB` and the one-letter
/// `K/M/G/T` are powers of 1024 (as in `du -h`), `KB/MB/GB/TB` are powers of 1000; case-insensitive.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let bad = || format!("'{text}' is not a size (examples: 500MB, 2GiB, 1.5G, 1048576)");
    if number.is_empty() {
        return Err(bad());
    }
    let value: f64 = number.parse().map_err(|_| bad())?;
    let factor: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024f64.powi(2),
        "g" | "gib" => 1024f64.powi(3),
        "t" | "tib" => 1024f64.powi(4),
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => return Err(bad()),
    };
    let bytes = value * factor;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes.round() as u64)
}

/// Parses `30d`, `12h`, `2w`, `90min`, `1month` (humantime's units). A bare `m`/`M` is refused:
/// humantime reads `m` as minutes and `M` as months, and `--older-than 1m` meant either.
pub fn parse_age(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let mut rest = t;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphabetic()) {
        let unit_len = rest[start..].find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len() - start);
        let unit = &rest[start..start + unit_len];
        if unit == "m" || unit == "M" {
            return Err(format!(
                "'{text}' is ambiguous: write minutes as 'min' and months as 'month' (examples: 30min, 2d, 1month)"
            ));
        }
        rest = &rest[start + unit_len..];
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("'{text}' is not a duration ({e}; examples: 30d, 12h, 2w, 90min, 1month)"))
}

/// `1.5 MiB`: binary units, one decimal.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

/// `just now`, `5m ago`, `3h ago`, `12d ago`.
pub fn ago(then_unix: u64, now_unix: u64) -> String {
    let secs = now_unix.saturating_sub(then_unix);
    match secs {
        0..=59 => "just now".into(),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("2GiB"), Ok(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("1.5g"), Ok(1_610_612_736));
        assert_eq!(parse_size(" 10 KiB "), Ok(10_240));
        for bad in ["", "MB", "-1", "1.2.3G", "5 parsecs", "1e999", "99999999999999999999TB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ages_and_printing() {
        assert_eq!(parse_age("30d").map(|d| d.as_secs()), Ok(30 * 86400));
        assert_eq!(parse_age("12h").map(|d| d.as_secs()), Ok(12 * 3600));
        assert!(parse_age("soon").is_err());
        assert_eq!(parse_age("30min").map(|d| d.as_secs()), Ok(30 * 60));
        assert!(parse_age("1month").is_ok_and(|d| d.as_secs() > 28 * 86400));
        for ambiguous in ["1m", "1M", "2h 5m", "10m"] {
            assert!(parse_age(ambiguous).is_err_and(|e| e.contains("ambiguous")), "{ambiguous}");
        }
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(31 * 1024 * 1024), "31.0 MiB");
        assert_eq!(ago(100, 100), "just now");
        assert_eq!(ago(0, 7200), "2h ago");
        assert_eq!(ago(200, 100), "just now");
    }
}

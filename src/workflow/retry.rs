//! Owns the `retry:` extension (arcaflow-py, not in the reference format): how often a step is
//! tried again, how long to wait in between, and which outcomes count. Shaped like Argo's
//! `retryStrategy` so the Argo exporter can translate it one to one: `limit` counts the retries
//! after the first attempt, and the backoff is `duration * factor^(n-1)`, capped at `max`.

use crate::yaml::Yaml as Y;

/// Which outcome of an attempt is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RetryOn {
    /// The process died, broke the protocol, or the step raised.
    Crashed,
    /// The plugin process could not be started (no hello).
    DeployFailed,
    /// The step returned an error output. Off by default: chaos steps are often not idempotent,
    /// so an error output is data unless the workflow asks.
    Error,
}

impl RetryOn {
    pub fn name(self) -> &'static str {
        match self {
            RetryOn::Crashed => "crashed",
            RetryOn::DeployFailed => "deploy_failed",
            RetryOn::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// Seconds before the first retry.
    pub duration: f64,
    pub factor: f64,
    /// Upper bound of one wait, in seconds.
    pub max: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (Argo's `limit`).
    pub limit: u32,
    pub backoff: Backoff,
    pub on: Vec<RetryOn>,
}

/// The most retries a step may ask for: enough for flaky infrastructure, small enough that a
/// typo (`limit: 10000`) does not keep a run alive for days.
pub const MAX_LIMIT: u32 = 100;

impl RetryPolicy {
    /// The wait before retry number `n` (1 for the first retry), in seconds.
    pub fn delay(&self, n: u32) -> f64 {
        let b = &self.backoff;
        let exp = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
        let d = b.duration * b.factor.powi(exp);
        let d = if d.is_finite() { d } else { f64::MAX };
        match b.max {
            Some(m) => d.min(m),
            None => d,
        }
    }

    pub fn retries(&self, on: RetryOn) -> bool {
        self.on.contains(&on)
    }

    /// Parses `retry: {limit, backoff: {duration, factor, max}, on: [...]}`; `at` names the field.
    pub fn from_yaml(v: &Y, at: &str) -> Result<RetryPolicy, String> {
        let m = v.as_mapping().ok_or(format!("{at} must be a map: {{limit, backoff, on}}"))?;
        let mut policy = RetryPolicy {
            limit: 0,
            backoff: Backoff { duration: 0.0, factor: 1.0, max: None },
            on: vec![RetryOn::Crashed],
        };
        let mut has_limit = false;
        for (k, v) in m {
            match k.as_str() {
                Some("limit") => {
                    let n = v.as_i64().filter(|n| (0..=i64::from(MAX_LIMIT)).contains(n)).ok_or(format!(
                        "{at} -> limit must be an integer from 0 to {MAX_LIMIT} (retries after the first attempt), got {v}"
                    ))?;
                    policy.limit = n as u32;
                    has_limit = true;
                }
                Some("backoff") => policy.backoff = parse_backoff(v, &format!("{at} -> backoff"))?,
                Some("on") => {
                    let list = v
                        .as_sequence()
                        .ok_or(format!("{at} -> on must be a list of: crashed, deploy_failed, error"))?;
                    let mut on = Vec::new();
                    for item in list {
                        let r = match item.as_str() {
                            Some("crashed") => RetryOn::Crashed,
                            Some("deploy_failed") => RetryOn::DeployFailed,
                            Some("error") => RetryOn::Error,
                            _ => {
                                return Err(format!(
                                "{at} -> on: {item} is not an outcome, expected one of: crashed, deploy_failed, error"
                            ))
                            }
                        };
                        if !on.contains(&r) {
                            on.push(r);
                        }
                    }
                    on.sort();
                    policy.on = on;
                }
                _ => return Err(format!("{at}: invalid key {}, expected one of: limit, backoff, on", quoted(k))),
            }
        }
        if !has_limit {
            return Err(format!("{at} -> limit is required: how many times to retry after the first attempt"));
        }
        Ok(policy)
    }
}

fn quoted(k: &Y) -> String {
    match k.as_str() {
        Some(s) => format!("'{s}'"),
        None => k.to_string(),
    }
}

fn parse_backoff(v: &Y, at: &str) -> Result<Backoff, String> {
    let m = v.as_mapping().ok_or(format!("{at} must be a map: {{duration, factor, max}}"))?;
    let mut b = Backoff { duration: 0.0, factor: 1.0, max: None };
    for (k, v) in m {
        match k.as_str() {
            Some("duration") => b.duration = duration(v, &format!("{at} -> duration"))?,
            Some("max") => b.max = Some(duration(v, &format!("{at} -> max"))?),
            Some("factor") => {
                b.factor = v
                    .as_f64()
                    .filter(|f| f.is_finite() && *f >= 1.0 && *f <= 100.0)
                    .ok_or(format!("{at} -> factor must be a number from 1 to 100, got {v}"))?
            }
            _ => return Err(format!("{at}: invalid key {}, expected one of: duration, factor, max", quoted(k))),
        }
    }
    Ok(b)
}

/// A duration as Argo writes it (`2s`, `500ms`, `1m`, `1h`, `1m30s`) or a number of seconds.
pub fn duration(v: &Y, at: &str) -> Result<f64, String> {
    let bad = || format!("{at} must be a duration like 2s, 500ms, 1m30s or a number of seconds, got {v}");
    let secs = match v {
        Y::Int(_) | Y::Float(_) => v.as_f64().ok_or_else(bad)?,
        Y::String(s) => parse_duration(s).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    // A day is far more than any backoff needs; it also keeps the value a valid Duration.
    if !(0.0..=86_400.0).contains(&secs) {
        return Err(format!("{at} must be between 0 and 1 day, got {v}"));
    }
    Ok(secs)
}

fn parse_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<f64>() {
        return Some(n);
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RetryPolicy, String> {
        RetryPolicy::from_yaml(&crate::yaml::parse_text(text).unwrap(), "retry")
    }

    #[test]
    fn the_issue_example_parses_and_backs_off_exponentially_up_to_max() {
        let p = parse("{limit: 3, backoff: {duration: 2s, factor: 2, max: 30s}, on: [crashed, deploy_failed, error]}")
            .unwrap();
        assert_eq!(p.limit, 3);
        assert_eq!(p.on, vec![RetryOn::Crashed, RetryOn::DeployFailed, RetryOn::Error]);
        assert_eq!([p.delay(1), p.delay(2), p.delay(3), p.delay(4), p.delay(5)], [2.0, 4.0, 8.0, 16.0, 30.0]);
        assert_eq!(p.delay(1000), 30.0);
    }

    #[test]
    fn on_defaults_to_crashed_only() {
        let p = parse("{limit: 1}").unwrap();
        assert_eq!(p.on, vec![RetryOn::Crashed]);
        assert_eq!(p.delay(1), 0.0);
    }

    #[test]
    fn durations_in_argo_form() {
        assert_eq!(parse_duration("1m30s"), Some(90.0));
        assert_eq!(parse_duration("500ms"), Some(0.5));
        assert_eq!(parse_duration("1.5"), Some(1.5));
        assert_eq!(parse_duration("5x"), None);
        assert_eq!(parse_duration("s"), None);
    }

    #[test]
    fn bad_fields_are_named() {
        assert!(parse("{}").unwrap_err().contains("retry -> limit is required"));
        assert!(parse("{limit: -1}").unwrap_err().contains("retry -> limit must be"));
        assert!(parse("{limit: 1, on: [timeout]}").unwrap_err().contains("retry -> on: timeout"));
        assert!(parse("{limit: 1, backoff: {duration: soon}}").unwrap_err().contains("retry -> backoff -> duration"));
        assert!(parse("{limit: 1, backoff: {factor: 0.5}}").unwrap_err().contains("factor"));
        assert!(parse("{limit: 1, tries: 2}").unwrap_err().contains("invalid key 'tries'"));
    }
}

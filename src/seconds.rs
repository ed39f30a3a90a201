//! Owns the range of a duration a user gives in seconds (step `timeout`, `maxStepTimeout`,
//! `pluginStartupTimeout`, `plugin run --timeout`): a value out of range is an error naming the
//! field, never a panic when it becomes a `Duration` or is added to an instant.

use std::time::Duration;

/// The longest duration accepted: ten years. Anything longer is a mistake (and values near
/// 1e19 s overflow a `Duration` or an instant).
pub const MAX_SECONDS: f64 = 315_360_000.0;

/// `secs` when it is a finite number of at most [`MAX_SECONDS`]; negative values pass (the
/// fields that allow them read them as "unlimited").
pub fn check(field: &str, secs: f64) -> Result<f64, String> {
    if !secs.is_finite() {
        return Err(format!("{field} must be a finite number of seconds, got {secs}"));
    }
    if secs > MAX_SECONDS {
        return Err(format!("{field} must be at most {MAX_SECONDS} seconds (ten years), got {secs}"));
    }
    Ok(secs)
}

/// The duration of a checked, non-negative number of seconds; `None` for a negative one or one
/// that cannot be represented (the callers' "unlimited").
pub fn duration(secs: f64) -> Option<Duration> {
    if secs < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(secs.min(MAX_SECONDS)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn extremes_are_errors_naming_the_field() {
        for v in [1e20, 9.3e18, f64::INFINITY, f64::NAN, MAX_SECONDS * 2.0] {
            let e = check("steps -> a -> timeout", v).unwrap_err();
            assert!(e.starts_with("steps -> a -> timeout must be"), "{e}");
        }
        assert_eq!(check("t", MAX_SECONDS), Ok(MAX_SECONDS));
        assert_eq!(check("t", -1.0), Ok(-1.0));
    }

    proptest! {
        #[test]
        fn any_f64_never_panics(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            if let Ok(s) = check("t", v) {
                let d = duration(s);
                // A checked value can always be added to now.
                if let Some(d) = d {
                    prop_assert!(std::time::Instant::now().checked_add(d).is_some());
                }
            }
        }
    }
}

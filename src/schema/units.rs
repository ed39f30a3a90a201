//! Owns unit definitions (`units` on integer/float/enum_integer types) and parsing of unit strings such as "5MB".

use std::collections::BTreeMap;

/// One scale of a unit, e.g. kilobyte. Names are matched case-sensitively (`H` is an hour, `h` is nothing).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Unit {
    pub name_short_singular: String,
    pub name_short_plural: String,
    pub name_long_singular: String,
    pub name_long_plural: String,
}

impl Unit {
    fn names(&self) -> [&str; 4] {
        [&self.name_short_singular, &self.name_short_plural, &self.name_long_singular, &self.name_long_plural]
    }
}

/// A base unit plus larger scales keyed by how many base units they hold (e.g. 1024 → kB).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Units {
    pub base_unit: Unit,
    pub multipliers: BTreeMap<i64, Unit>,
}

/// A parsed unit string: integral when every part was integral.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UnitNumber {
    Int(i64),
    Float(f64),
}

impl Units {
    /// Parses strings such as `5MB`, `5 MB`, `1kB512B`, `1H30m`, `1.5%` into base units.
    ///
    /// Each part is `<digits>[.<digits>] <unit name>`; the unit may be left out only on the last
    /// part (then it is the base unit). Parts are summed. Unlike the SDKs' regexes we accept the
    /// parts in any order and decimals on any part: both are unambiguous and what a user means.
    /// Where several unit names match, the longest wins (`ms` before `m`).
    pub fn parse(&self, data: &str) -> Result<UnitNumber, String> {
        let text = data.trim();
        if text.is_empty() {
            return Err(format!("Empty string cannot be parsed as {}", self.base_unit.name_long_plural));
        }
        let mut rest = text;
        let mut int_total: i128 = 0;
        let mut float_total: f64 = 0.0;
        let mut is_float = false;
        loop {
            rest = rest.trim_start();
            if rest.is_empty() {
                break;
            }
            let int_len = leading_digits(rest);
            if int_len == 0 {
                return Err(self.format_error(data));
            }
            // Digit counts are byte offsets of ASCII characters, so these splits cannot fail.
            let Some((int_part, mut after)) = rest.split_at_checked(int_len) else {
                return Err(self.format_error(data));
            };
            let mut frac_part: Option<&str> = None;
            if let Some(tail) = after.strip_prefix('.') {
                let frac_len = leading_digits(tail);
                if frac_len == 0 {
                    return Err(self.format_error(data));
                }
                let Some((frac, tail)) = tail.split_at_checked(frac_len) else {
                    return Err(self.format_error(data));
                };
                frac_part = Some(frac);
                after = tail;
            }
            after = after.trim_start();
            let multiplier = match self.match_unit(after) {
                Some((multiplier, len)) => {
                    after = after.get(len..).unwrap_or("");
                    multiplier
                }
                // A bare number is only allowed at the end, in base units.
                None if after.is_empty() => 1,
                None => return Err(self.format_error(data)),
            };
            match frac_part {
                Some(frac) => {
                    let number: f64 = format!("{int_part}.{frac}").parse().map_err(|_| self.format_error(data))?;
                    float_total += number * multiplier as f64;
                    is_float = true;
                }
                None => {
                    let number: i128 = int_part.parse().map_err(|_| format!("Number out of range in '{data}'"))?;
                    int_total = number
                        .checked_mul(i128::from(multiplier))
                        .and_then(|part| int_total.checked_add(part))
                        .ok_or_else(|| format!("Number out of range in '{data}'"))?;
                }
            }
            rest = after;
        }
        if is_float {
            Ok(UnitNumber::Float(int_total as f64 + float_total))
        } else {
            i64::try_from(int_total).map(UnitNumber::Int).map_err(|_| format!("Number out of range in '{data}'"))
        }
    }

    /// The longest unit name `text` starts with, as (multiplier, byte length). Ties go to the
    /// larger multiplier, as in the SDKs whose regexes try the largest scale first.
    fn match_unit(&self, text: &str) -> Option<(i64, usize)> {
        let mut best: Option<(i64, usize)> = None;
        let scales = self.multipliers.iter().rev().map(|(m, u)| (*m, u)).chain(std::iter::once((1, &self.base_unit)));
        for (multiplier, unit) in scales {
            for name in unit.names() {
                if !name.is_empty() && text.starts_with(name) && best.is_none_or(|(_, len)| name.len() > len) {
                    best = Some((multiplier, name.len()));
                }
            }
        }
        best
    }

    fn format_error(&self, data: &str) -> String {
        let mut names: Vec<&str> = Vec::new();
        let scales = std::iter::once(&self.base_unit).chain(self.multipliers.values());
        for unit in scales {
            for name in unit.names() {
                if !name.is_empty() && !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        format!(
            "Cannot parse '{data}' as '{}': invalid format, valid unit types are: '{}'",
            self.base_unit.name_long_plural,
            names.join("', '")
        )
    }
}

fn leading_digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

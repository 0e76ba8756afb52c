//! Durations as Kubernetes writes them (`metav1.Duration`): Go duration strings such as
//! `"90s"`, `"1m30s"` or `"500ms"`. Calico re-writes them in Go's canonical form (`"90s"` is
//! stored as `"1m30s"`), and so do we.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A signed duration with nanosecond precision, read from and written as a Go duration string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Duration {
    /// The length in nanoseconds (negative durations are allowed, as in Go).
    pub nanos: i64,
}

impl Duration {
    /// A duration of whole seconds.
    pub fn from_secs(secs: i64) -> Duration {
        Duration {
            nanos: secs.saturating_mul(1_000_000_000),
        }
    }

    /// The duration as a `std::time::Duration`, or `None` when negative.
    pub fn as_std(self) -> Option<std::time::Duration> {
        u64::try_from(self.nanos)
            .ok()
            .map(std::time::Duration::from_nanos)
    }
}

const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

impl FromStr for Duration {
    type Err = String;

    /// Parses Go's `time.ParseDuration` syntax: an optional sign, then one or more decimal
    /// numbers (with optional fraction), each followed by a unit (ns, us, µs, ms, s, m, h).
    /// `"0"` alone is also accepted.
    fn from_str(input: &str) -> Result<Duration, String> {
        let bad = || {
            format!(
                "invalid duration {input:?}: expected a Go duration such as \"90s\", \"1m30s\" or \"500ms\""
            )
        };
        let (neg, mut s) = match input.as_bytes().first() {
            Some(b'-') => (true, &input[1..]),
            Some(b'+') => (false, &input[1..]),
            _ => (false, input),
        };
        if s == "0" {
            return Ok(Duration::default());
        }
        if s.is_empty() {
            return Err(bad());
        }
        let mut total: u128 = 0;
        while !s.is_empty() {
            let int_len = s.bytes().take_while(u8::is_ascii_digit).count();
            let int_part = &s[..int_len];
            s = &s[int_len..];
            let mut frac_part = "";
            if let Some(rest) = s.strip_prefix('.') {
                let frac_len = rest.bytes().take_while(u8::is_ascii_digit).count();
                frac_part = &rest[..frac_len];
                s = &rest[frac_len..];
            }
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(bad());
            }
            let unit_len = s
                .char_indices()
                .find(|(_, c)| c.is_ascii_digit() || *c == '.')
                .map_or(s.len(), |(i, _)| i);
            let unit = &s[..unit_len];
            s = &s[unit_len..];
            let scale = UNITS
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|(_, n)| *n)
                .ok_or_else(bad)?;
            let whole: u128 = if int_part.is_empty() {
                0
            } else {
                int_part.parse().map_err(|_| bad())?
            };
            let mut value = whole.checked_mul(scale).ok_or_else(bad)?;
            // Fraction: scale each digit down; precision beyond nanoseconds is dropped.
            let mut place = scale;
            for d in frac_part.bytes() {
                place /= 10;
                value += u128::from(d - b'0') * place;
            }
            total = total.checked_add(value).ok_or_else(bad)?;
        }
        let nanos = i64::try_from(total).map_err(|_| bad())?;
        Ok(Duration {
            nanos: if neg { -nanos } else { nanos },
        })
    }
}

impl fmt::Display for Duration {
    /// Go's `time.Duration.String()`: `"1h2m3.5s"`, `"1.5ms"`, `"0s"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let neg = self.nanos < 0;
        let u = self.nanos.unsigned_abs();
        let sign = if neg { "-" } else { "" };
        if u == 0 {
            return f.write_str("0s");
        }
        if u < 1_000_000_000 {
            let (unit, div) = if u < 1_000 {
                ("ns", 1)
            } else if u < 1_000_000 {
                ("µs", 1_000)
            } else {
                ("ms", 1_000_000)
            };
            return write!(f, "{sign}{}{unit}", frac(u, div));
        }
        let hours = u / 3_600_000_000_000;
        let rem = u % 3_600_000_000_000;
        let mins = rem / 60_000_000_000;
        let secs_nanos = rem % 60_000_000_000;
        f.write_str(sign)?;
        if hours > 0 {
            write!(f, "{hours}h{mins}m")?;
        } else if mins > 0 {
            write!(f, "{mins}m")?;
        }
        write!(f, "{}s", frac(secs_nanos, 1_000_000_000))
    }
}

/// `v / div` as a decimal without trailing zeros.
fn frac(v: u64, div: u64) -> String {
    let whole = v / div;
    let rest = v % div;
    if rest == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration string such as \"90s\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
        v.parse().map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_str(DurationVisitor)
    }
}

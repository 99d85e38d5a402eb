//! Kafka's `ConfigDef`, the part Sluice needs: value types, validators and the messages they give
//! (Apache Kafka 4.3.1 `ConfigDef.parseType`, `Range`, `ValidString`, `ValidList`, ...), shared by
//! broker configs ([`crate::config`]) and topic configs ([`crate::topic_config`]).
//!
//! A value is parsed as Kafka parses it (trimmed; lists split at commas with the spaces around
//! them; duplicate list items dropped), then checked. Every message names the key it was given,
//! in Kafka's words: "Invalid value foo for configuration compression.type: String must be one
//! of: ...".

/// Kafka's `ConfigDef.Type`, with the codes DescribeConfigs v3+ sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
    Password = 9,
}

impl ConfigType {
    /// The name Kafka's messages use ("Not a number of type INT").
    pub fn kafka_name(self) -> &'static str {
        match self {
            Self::Boolean => "BOOLEAN",
            Self::String => "STRING",
            Self::Int => "INT",
            Self::Short => "SHORT",
            Self::Long => "LONG",
            Self::Double => "DOUBLE",
            Self::List => "LIST",
            Self::Class => "CLASS",
            Self::Password => "PASSWORD",
        }
    }
}

/// A constraint on a value beyond its type (Kafka's validators).
#[derive(Debug, Clone, Copy)]
pub enum Check {
    None,
    /// `Range.atLeast(min)`.
    AtLeast(i64),
    /// `Range.between(min, max)`.
    Between(i64, i64),
    /// `-1` or between the bounds (the gzip level's validator).
    MinusOneOrBetween(i64, i64),
    /// `ValidString.in(...)`: one of these, case-sensitive.
    OneOf(&'static [&'static str]),
    /// `CaseInsensitiveValidString.in(...)`, the names as Kafka lists them (upper case).
    OneOfIgnoreCase(&'static [&'static str]),
    /// `ValidList.in(...)`: every item one of these; an empty list is fine.
    ListOf(&'static [&'static str]),
    /// `ValidList.in(false, ...)`: at least one item, every item one of these.
    NonEmptyListOf(&'static [&'static str]),
    /// `ValidList.anyNonDuplicateValues(false, _)`: at least one item, no item empty.
    NonEmptyList,
    /// Sluice's own: a double above 0 and at most 1 (a load factor).
    AboveZeroAtMostOne,
}

/// A parsed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    /// INT, SHORT and LONG values.
    Number(i64),
    Double(f64),
    /// STRING, CLASS and PASSWORD values (trimmed).
    String(String),
    List(Vec<String>),
}

impl Value {
    /// The value as Kafka prints it in messages and describes it.
    pub fn to_kafka_string(&self) -> String {
        match self {
            Self::Bool(b) => b.to_string(),
            Self::Number(n) => n.to_string(),
            Self::Double(d) => java_double_string(*d),
            Self::String(s) => s.clone(),
            Self::List(items) => items.join(","),
        }
    }
}

/// Kafka's ConfigException message: "Invalid value V for configuration K: REASON".
pub fn invalid(name: &str, value: impl std::fmt::Display, reason: &str) -> String {
    format!("Invalid value {value} for configuration {name}: {reason}")
}

/// Parse `raw` as a value of `kind` for key `name` and check it, as Kafka's ConfigDef does. The
/// error is Kafka's message, naming `name`.
pub fn parse(name: &str, kind: ConfigType, check: Check, raw: &str) -> Result<Value, String> {
    let trimmed = raw.trim();
    let not_a_number = || {
        invalid(
            name,
            raw,
            &format!("Not a number of type {}", kind.kafka_name()),
        )
    };
    let value = match kind {
        ConfigType::Boolean => {
            if trimmed.eq_ignore_ascii_case("true") {
                Value::Bool(true)
            } else if trimmed.eq_ignore_ascii_case("false") {
                Value::Bool(false)
            } else {
                return Err(invalid(
                    name,
                    raw,
                    "Expected value to be either true or false",
                ));
            }
        }
        ConfigType::Int => {
            Value::Number(trimmed.parse::<i32>().map_err(|_| not_a_number())?.into())
        }
        ConfigType::Short => {
            Value::Number(trimmed.parse::<i16>().map_err(|_| not_a_number())?.into())
        }
        ConfigType::Long => Value::Number(trimmed.parse::<i64>().map_err(|_| not_a_number())?),
        ConfigType::Double => Value::Double(parse_java_double(trimmed).ok_or_else(not_a_number)?),
        ConfigType::String | ConfigType::Class | ConfigType::Password => {
            Value::String(trimmed.to_string())
        }
        ConfigType::List => {
            let mut items: Vec<String> = Vec::new();
            if !trimmed.is_empty() {
                for item in trimmed.split(',').map(str::trim) {
                    // Kafka drops duplicates (with a warning) before it validates.
                    if !items.iter().any(|i| i == item) {
                        items.push(item.to_string());
                    }
                }
            }
            Value::List(items)
        }
    };
    check_value(name, check, &value)?;
    Ok(value)
}

fn check_value(name: &str, check: Check, value: &Value) -> Result<(), String> {
    let shown = value.to_kafka_string();
    match (check, value) {
        (Check::None, _) => Ok(()),
        (Check::AtLeast(min), v) => range(name, &shown, v, Some(min), None),
        (Check::Between(min, max), v) => range(name, &shown, v, Some(min), Some(max)),
        (Check::MinusOneOrBetween(lo, hi), Value::Number(n)) => {
            if *n == -1 || (lo..=hi).contains(n) {
                Ok(())
            } else {
                Err(invalid(
                    name,
                    &shown,
                    &format!("Value must be between {lo} and {hi} or equal to -1"),
                ))
            }
        }
        (Check::OneOf(allowed), Value::String(s)) => {
            if allowed.contains(&s.as_str()) {
                Ok(())
            } else {
                Err(invalid(
                    name,
                    s,
                    &format!("String must be one of: {}", allowed.join(", ")),
                ))
            }
        }
        (Check::OneOfIgnoreCase(allowed), Value::String(s)) => {
            if allowed.iter().any(|a| a.eq_ignore_ascii_case(s)) {
                Ok(())
            } else {
                Err(invalid(
                    name,
                    s,
                    &format!(
                        "String must be one of (case insensitive): {}",
                        allowed.join(", ")
                    ),
                ))
            }
        }
        (Check::ListOf(allowed), Value::List(items)) => list(name, items, true, allowed),
        (Check::NonEmptyListOf(allowed), Value::List(items)) => list(name, items, false, allowed),
        (Check::NonEmptyList, Value::List(items)) => list(name, items, false, &[]),
        (Check::AboveZeroAtMostOne, Value::Double(d)) => {
            if *d > 0.0 && *d <= 1.0 {
                Ok(())
            } else {
                Err(invalid(name, &shown, "Value must be above 0 and at most 1"))
            }
        }
        // A validator on a value of another type is a mistake in a table, caught by its tests.
        (_, _) => Err(invalid(
            name,
            &shown,
            "Sluice has no validator for this type",
        )),
    }
}

fn range(
    name: &str,
    shown: &str,
    value: &Value,
    min: Option<i64>,
    max: Option<i64>,
) -> Result<(), String> {
    let (below, above) = match value {
        Value::Number(n) => (min.is_some_and(|m| *n < m), max.is_some_and(|m| *n > m)),
        // Kafka compares doubles (NaN passes there); Sluice refuses a NaN where a range applies.
        Value::Double(d) if d.is_nan() => {
            return Err(invalid(name, shown, "Not a number of type DOUBLE"));
        }
        Value::Double(d) => (
            min.is_some_and(|m| *d < m as f64),
            max.is_some_and(|m| *d > m as f64),
        ),
        _ => {
            return Err(invalid(
                name,
                shown,
                "Sluice has no validator for this type",
            ))
        }
    };
    if let (true, Some(m)) = (below, min) {
        return Err(invalid(name, shown, &format!("Value must be at least {m}")));
    }
    if let (true, Some(m)) = (above, max) {
        return Err(invalid(
            name,
            shown,
            &format!("Value must be no more than {m}"),
        ));
    }
    Ok(())
}

fn list(name: &str, items: &[String], empty_allowed: bool, allowed: &[&str]) -> Result<(), String> {
    if items.is_empty() && !empty_allowed {
        let valid = if allowed.is_empty() {
            "any non-empty value".to_string()
        } else {
            format!("[{}]", allowed.join(", "))
        };
        return Err(format!(
            "Configuration '{name}' must not be empty. Valid values include: {valid}"
        ));
    }
    for item in items {
        if item.is_empty() {
            return Err(format!("Configuration '{name}' values must not be empty."));
        }
        if !allowed.is_empty() && !allowed.contains(&item.as_str()) {
            return Err(invalid(
                name,
                item,
                &format!("String must be one of: {}", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Java's `Double.parseDouble` for decimal input: `NaN`, `Infinity` (signed), and decimal
/// numbers with an optional exponent and an optional `d`/`f` suffix. (Hexadecimal floats are not
/// read.)
pub fn parse_java_double(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    match unsigned {
        "NaN" => return Some(f64::NAN),
        "Infinity" => {
            return Some(if s.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        _ => {}
    }
    let number = s.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(s);
    // Rust also reads "inf", "nan", "infinity" in any case; Java does not.
    if number.is_empty()
        || !number
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'))
    {
        return None;
    }
    number.parse().ok()
}

/// A double as Java's `Double.toString` writes it: "1.5", "-1.0", "1.0E10", "1.0E-4".
pub fn java_double_string(d: f64) -> String {
    if d.is_nan() {
        return "NaN".into();
    }
    if d.is_infinite() {
        return if d > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let magnitude = d.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        // Debug keeps a ".0" on whole numbers, as Java does.
        return format!("{d:?}");
    }
    // Scientific: Rust writes "1e10" / "1.5e-5"; Java "1.0E10" / "1.5E-5".
    let sci = format!("{d:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_string()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exponent}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(name: &str, kind: ConfigType, check: Check, raw: &str) -> String {
        parse(name, kind, check, raw).unwrap_err()
    }

    #[test]
    fn numbers_as_java_reads_them() {
        let n = |kind, raw: &str| parse("k", kind, Check::None, raw);
        assert_eq!(n(ConfigType::Int, " +7 "), Ok(Value::Number(7)));
        assert_eq!(
            err("k", ConfigType::Int, Check::None, "2147483648"),
            "Invalid value 2147483648 for configuration k: Not a number of type INT"
        );
        assert_eq!(
            err("k", ConfigType::Short, Check::None, "32768"),
            "Invalid value 32768 for configuration k: Not a number of type SHORT"
        );
        assert_eq!(
            err("k", ConfigType::Long, Check::None, "1.5"),
            "Invalid value 1.5 for configuration k: Not a number of type LONG"
        );
        assert_eq!(n(ConfigType::Double, "7d"), Ok(Value::Double(7.0)));
        assert_eq!(n(ConfigType::Double, "1e3"), Ok(Value::Double(1000.0)));
        for bad in ["inf", "nan", "", "1x", "0x10"] {
            assert!(n(ConfigType::Double, bad).is_err(), "{bad}");
        }
        assert!(matches!(n(ConfigType::Double, "NaN"), Ok(Value::Double(d)) if d.is_nan()));
        assert_eq!(
            err("k", ConfigType::Boolean, Check::None, "yes"),
            "Invalid value yes for configuration k: Expected value to be either true or false"
        );
        assert_eq!(n(ConfigType::Boolean, " TRUE "), Ok(Value::Bool(true)));
    }

    #[test]
    fn java_double_strings() {
        for (d, s) in [
            (1.5, "1.5"),
            (-1.0, "-1.0"),
            (1000.0, "1000.0"),
            (1e10, "1.0E10"),
            (-1e-4, "-1.0E-4"),
            (-12345678.5, "-1.23456785E7"),
            (f64::MAX, "1.7976931348623157E308"),
        ] {
            assert_eq!(java_double_string(d), s);
        }
    }

    /// Messages as Kafka 4.3.1 gives them (each checked against a KafkaConfig built with it).
    #[test]
    fn validator_messages_are_kafkas() {
        assert_eq!(
            err(
                "log.segment.bytes",
                ConfigType::Int,
                Check::AtLeast(1_048_576),
                "+3"
            ),
            "Invalid value 3 for configuration log.segment.bytes: Value must be at least 1048576"
        );
        assert_eq!(
            err("r", ConfigType::Double, Check::Between(0, 1), "1e10"),
            "Invalid value 1.0E10 for configuration r: Value must be no more than 1"
        );
        assert_eq!(
            err("r", ConfigType::Double, Check::Between(0, 1), "-0.0001"),
            "Invalid value -1.0E-4 for configuration r: Value must be at least 0"
        );
        assert_eq!(
            err("g", ConfigType::Int, Check::MinusOneOrBetween(1, 9), "0"),
            "Invalid value 0 for configuration g: Value must be between 1 and 9 or equal to -1"
        );
        assert_eq!(
            err("t", ConfigType::String, Check::OneOf(&["a", "b"]), " c "),
            "Invalid value c for configuration t: String must be one of: a, b"
        );
        assert_eq!(
            err(
                "m",
                ConfigType::String,
                Check::OneOfIgnoreCase(&["UP"]),
                "x"
            ),
            "Invalid value x for configuration m: String must be one of (case insensitive): UP"
        );
        assert!(parse(
            "m",
            ConfigType::String,
            Check::OneOfIgnoreCase(&["UP"]),
            "up"
        )
        .is_ok());
        let policy = Check::ListOf(&["compact", "delete"]);
        assert_eq!(
            parse("p", ConfigType::List, policy, " compact , delete,compact"),
            Ok(Value::List(vec!["compact".into(), "delete".into()]))
        );
        assert_eq!(
            parse("p", ConfigType::List, policy, ""),
            Ok(Value::List(vec![]))
        );
        assert_eq!(
            err("p", ConfigType::List, policy, "delete,"),
            "Configuration 'p' values must not be empty."
        );
        assert_eq!(
            err("p", ConfigType::List, policy, "compact,bogus"),
            "Invalid value bogus for configuration p: String must be one of: compact, delete"
        );
        assert_eq!(
            err("d", ConfigType::List, Check::NonEmptyList, " "),
            "Configuration 'd' must not be empty. Valid values include: any non-empty value"
        );
        assert_eq!(
            err("r", ConfigType::List, Check::NonEmptyListOf(&["x"]), ""),
            "Configuration 'r' must not be empty. Valid values include: [x]"
        );
    }
}

//! Turns a decoded response into comparable text: the pretty `Debug` form of the response, one
//! field per line, with the fields that legitimately differ between two brokers replaced.
//!
//! Replaced: throttle times, cluster ids, hosts and ports (two brokers on one machine), topic ids
//! (random per topic), fetch session ids, and the text of error messages (only whether there is
//! one is compared). Member ids and producer ids are random too, but *which* id appears where
//! matters (the leader of a group is one of its members; a retried batch keeps its producer):
//! they are replaced by labels numbered in order of first appearance (`<member-1>`, ...), so
//! the same sequence of events gives the same labels on both brokers. Everything else — every
//! error code, offset, epoch, generation, config value, flag — is compared as it is.

use std::collections::HashMap;
use std::fmt::Debug;

#[derive(Default)]
pub struct Normalizer {
    labels: HashMap<(&'static str, String), usize>,
    counters: HashMap<&'static str, usize>,
}

impl Normalizer {
    /// The normalized pretty-`Debug` text of `value`.
    pub fn dump<T: Debug>(&mut self, value: &T) -> String {
        let text = format!("{value:#?}");
        let lines: Vec<&str> = text.lines().collect();
        let mut out = String::new();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            let trimmed = line.trim_start();
            let indent = line.len() - trimmed.len();
            if let Some((name, rest)) = trimmed.split_once(": ") {
                let (value, next) = field_value(&lines, i, indent, rest);
                if name == "unknown_tagged_fields" {
                    i = next;
                    continue;
                }
                if let Some(replaced) = self.rule(name, &value) {
                    out.push_str(&" ".repeat(indent));
                    out.push_str(name);
                    out.push_str(": ");
                    out.push_str(&replaced);
                    out.push_str(",\n");
                    i = next;
                    continue;
                }
            }
            out.push_str(line);
            out.push('\n');
            i += 1;
        }
        out
    }

    fn label(&mut self, kind: &'static str, value: &str) -> String {
        let key = (kind, value.to_string());
        let n = match self.labels.get(&key) {
            Some(n) => *n,
            None => {
                let c = self.counters.entry(kind).or_insert(0);
                *c += 1;
                let n = *c;
                self.labels.insert(key, n);
                n
            }
        };
        format!("<{kind}-{n}>")
    }

    /// The replacement for field `name` with (joined, trimmed) `value`, if it is normalized.
    fn rule(&mut self, name: &str, value: &str) -> Option<String> {
        match name {
            "throttle_time_ms" | "cluster_id" | "host" | "port" | "log_dir" | "total_bytes"
            | "usable_bytes" => Some("_".into()),
            // DIFF_KEEP_MESSAGES=1 shows the texts (to look at what Kafka says).
            "error_message" | "batch_index_error_message"
                if value != "None" && std::env::var_os("DIFF_KEEP_MESSAGES").is_none() =>
            {
                Some("Some(<message>)".into())
            }
            "topic_id" if !value.contains("00000000-0000-0000-0000-000000000000") => {
                Some("<topic-id>".into())
            }
            "session_id" if value != "0" => Some("<session>".into()),
            "transaction_start_time_ms" | "last_timestamp" if value != "-1" => {
                Some("<timestamp>".into())
            }
            "member_id" | "leader" if value != "\"\"" && !value.is_empty() && value != "None" => {
                Some(self.label("member", value))
            }
            "producer_id" if !value.contains("-1") && value != "0" => {
                Some(self.label("producer", value))
            }
            _ => None,
        }
    }
}

/// The value of the field starting on line `i` (after `name: `), joined over the lines it spans
/// when it opens a bracket, without the trailing comma; and the index of the line after it.
fn field_value(lines: &[&str], i: usize, indent: usize, rest: &str) -> (String, usize) {
    let opens = rest.ends_with('(') || rest.ends_with('{') || rest.ends_with('[');
    if !opens {
        return (rest.trim_end_matches(',').to_string(), i + 1);
    }
    let mut parts = vec![rest.to_string()];
    let mut j = i + 1;
    while j < lines.len() {
        let l = lines[j];
        let t = l.trim_start();
        parts.push(t.trim_end_matches(',').to_string());
        if l.len() - t.len() == indent && t.starts_with([')', '}', ']']) {
            break;
        }
        j += 1;
    }
    (parts.join(" "), j + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Inner {
        member_id: String,
        error_message: Option<String>,
        throttle_time_ms: i32,
        generation_id: i32,
    }

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Outer {
        leader: String,
        members: Vec<Inner>,
        unknown_tagged_fields: Vec<u8>,
    }

    fn sample(a: &str, b: &str, msg: Option<&str>, generation: i32) -> Outer {
        Outer {
            leader: b.into(),
            members: vec![
                Inner {
                    member_id: a.into(),
                    error_message: msg.map(Into::into),
                    throttle_time_ms: 17,
                    generation_id: generation,
                },
                Inner {
                    member_id: b.into(),
                    error_message: None,
                    throttle_time_ms: 0,
                    generation_id: generation,
                },
            ],
            unknown_tagged_fields: vec![],
        }
    }

    #[test]
    fn ids_become_labels_in_order_and_noise_is_dropped() {
        let mut n1 = Normalizer::default();
        let mut n2 = Normalizer::default();
        let a = n1.dump(&sample("x-1", "x-2", Some("one text"), 3));
        let b = n2.dump(&sample("y-9", "y-8", Some("another text"), 3));
        assert_eq!(a, b);
        assert!(a.contains("leader: <member-1>"), "{a}");
        assert!(a.contains("member_id: <member-2>"), "{a}");
        assert!(!a.contains("unknown_tagged_fields"));
        assert!(a.contains("throttle_time_ms: _"));
    }

    #[test]
    fn compared_fields_still_differ() {
        let mut n1 = Normalizer::default();
        let mut n2 = Normalizer::default();
        // Another generation, or a message where there was none, or swapped roles: differences.
        let base = n1.dump(&sample("x-1", "x-2", None, 3));
        assert_ne!(base, n2.dump(&sample("x-1", "x-2", None, 4)));
        let mut n3 = Normalizer::default();
        assert_ne!(base, n3.dump(&sample("x-1", "x-2", Some("m"), 3)));
        let mut n4 = Normalizer::default();
        assert_ne!(base, n4.dump(&sample("x-1", "x-1", None, 3)));
    }
}

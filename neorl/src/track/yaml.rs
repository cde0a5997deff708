//! The flat `key: value` YAML of MLflow's `meta.yaml` files, read and
//! written by hand: the files hold only scalars (and `tags: []`), MLflow
//! writes them with PyYAML's `safe_dump`, and a YAML crate would be a
//! dependency for forty lines (serde_yaml is unmaintained).
//!
//! Reading accepts what `safe_dump` produces: plain, single-quoted (`''`
//! escapes a quote) and double-quoted scalars, `null`/`~`, and long plain
//! or quoted scalars folded onto indented continuation lines.

use std::collections::BTreeMap;

/// A scalar of a flat YAML mapping.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Int(i64),
    Str(String),
}

impl Scalar {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }
    /// Integers, and strings holding one (`experiment_id: '0'`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Scalar::Int(i) => Some(*i),
            Scalar::Str(s) => s.parse().ok(),
            Scalar::Null => None,
        }
    }
    /// Text of a string or an integer.
    pub fn text(&self) -> Option<String> {
        match self {
            Scalar::Str(s) => Some(s.clone()),
            Scalar::Int(i) => Some(i.to_string()),
            Scalar::Null => None,
        }
    }
}

/// Parse a flat mapping (nested values and lists are kept as their text).
pub fn parse(text: &str) -> BTreeMap<String, Scalar> {
    let mut entries: Vec<(String, String)> = vec![];
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = entries.last_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            entries.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    entries.into_iter().map(|(k, v)| (k, scalar(&v))).collect()
}

fn scalar(v: &str) -> Scalar {
    if v.is_empty() || v == "null" || v == "~" {
        return Scalar::Null;
    }
    if let Some(inner) = v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        // Folded single-quoted lines were joined with one space already.
        return Scalar::Str(inner.replace("''", "'"));
    }
    if let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some(' ') | None => {}
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
            }
        }
        return Scalar::Str(out);
    }
    match v.parse::<i64>() {
        Ok(i) => Scalar::Int(i),
        Err(_) => Scalar::Str(v.to_string()),
    }
}

/// A single-quoted YAML string (always read back as a string).
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''").replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_pyyaml_writes() {
        let m = parse(
            "artifact_location: file:///tmp/mlruns/0\nend_time: null\nexperiment_id: '0'\nname: 'it''s a\n  long name'\nstart_time: 1795331313131\ntags: []\nrun_name: \"a \\\"b\\\"\"\n",
        );
        assert_eq!(
            m["artifact_location"].as_str(),
            Some("file:///tmp/mlruns/0")
        );
        assert_eq!(m["end_time"], Scalar::Null);
        assert_eq!(m["experiment_id"].as_str(), Some("0"));
        assert_eq!(m["experiment_id"].as_i64(), Some(0));
        assert_eq!(m["name"].as_str(), Some("it's a long name"));
        assert_eq!(m["start_time"], Scalar::Int(1795331313131));
        assert_eq!(m["run_name"].as_str(), Some("a \"b\""));
        assert_eq!(
            parse(&format!("x: {}", quote("o'k")))["x"].as_str(),
            Some("o'k")
        );
    }
}

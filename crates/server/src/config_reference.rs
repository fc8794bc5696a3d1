//! The configuration reference (`docs/CONFIG.md`), written from the configuration types
//! themselves: their schema (the doc comments on `config.rs`) gives each key, its type and
//! what it does, and `Config::default()` its default. A test keeps the committed file equal to
//! what this makes, so the reference cannot drift from the code.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;
use utoipa::{PartialSchema, ToSchema};

use crate::config::Config;

/// The whole reference, as Markdown.
pub fn reference() -> String {
    let mut components = Vec::new();
    <Config as ToSchema>::schemas(&mut components);
    let mut named: BTreeMap<String, Value> = components
        .into_iter()
        .filter_map(|(name, schema)| Some((name, serde_json::to_value(schema).ok()?)))
        .collect();
    let root = serde_json::to_value(<Config as PartialSchema>::schema()).unwrap_or_default();
    named.insert("Config".into(), root.clone());
    let defaults = serde_json::to_value(Config::default()).unwrap_or_default();

    let mut out = String::from(
        "# Configuration reference\n\n\
         Written from the configuration types in `crates/server/src/config.rs` by \
         `porchlight serve --print-config-reference`; a test fails when this file and the code \
         disagree. Every key can be set in the TOML file `porchlight serve --config FILE` reads, \
         or in an environment variable: `PORCHLIGHT_` and the key in capitals, sections joined \
         with `__` (`[tls.acme] domains` is `PORCHLIGHT_TLS__ACME__DOMAINS`). Flags \
         (`--listen`, `--data`, `--database-url`) win over both; variables win over the file. \
         `porchlight serve --check-config` reads all of it, checks what it names (files, the \
         database, the mail relay's address) and says what it found, without serving.\n",
    );
    let mut sections = Vec::new();
    section(&named, &root, &defaults, "", &mut out, &mut sections);
    sections.reverse();
    while let Some((path, schema)) = sections.pop() {
        let defaults_here = path
            .split('.')
            .fold(&defaults, |v, k| v.get(k).unwrap_or(&Value::Null));
        let mut body = String::new();
        let mut nested = Vec::new();
        section(
            &named,
            &schema,
            defaults_here,
            &path,
            &mut body,
            &mut nested,
        );
        let _ = write!(out, "\n## `[{path}]`\n");
        if let Some(about) = schema.get("description").and_then(Value::as_str) {
            let _ = write!(out, "\n{}\n", one_paragraph(about));
        }
        out.push_str(&body);
        // Depth first, in the order the keys appear.
        sections.extend(nested.into_iter().rev());
    }
    out
}

/// A `$ref`, or an optional one (`oneOf` of null and a `$ref`), resolved; anything else as is.
fn resolve<'a>(named: &'a BTreeMap<String, Value>, node: &'a Value) -> &'a Value {
    let reference = node.get("$ref").and_then(Value::as_str).or_else(|| {
        ["oneOf", "anyOf", "allOf"].iter().find_map(|k| {
            node.get(*k)?
                .as_array()?
                .iter()
                .find_map(|v| v.get("$ref")?.as_str())
        })
    });
    match reference.and_then(|r| r.rsplit('/').next()) {
        Some(name) => named.get(name).unwrap_or(node),
        None => node,
    }
}

fn one_paragraph(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn type_of(node: &Value) -> String {
    if let Some(values) = node.get("enum").and_then(Value::as_array) {
        let names: Vec<String> = values
            .iter()
            .filter_map(Value::as_str)
            .map(|v| format!("`{v}`"))
            .collect();
        return format!("one of {}", names.join(", "));
    }
    let kinds: Vec<&str> = match node.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut kinds: Vec<String> = kinds
        .into_iter()
        .filter(|k| *k != "null")
        .map(|k| match k {
            "array" => format!(
                "list of {}",
                node.get("items").map_or("values".into(), type_of)
            ),
            other => other.to_owned(),
        })
        .collect();
    if kinds.is_empty() {
        kinds.push("value".into());
    }
    kinds.join(" or ")
}

fn default_text(value: &Value) -> String {
    match value {
        Value::Null => "unset".into(),
        Value::String(s) if s.is_empty() => "`\"\"`".into(),
        Value::Array(a) if a.is_empty() => "`[]`".into(),
        other => format!("`{other}`"),
    }
}

fn env_name(path: &str, key: &str) -> String {
    let full = if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    };
    format!("PORCHLIGHT_{}", full.replace('.', "__").to_uppercase())
}

/// The table of `schema`'s plain keys; its sub-sections are pushed to `nested`.
fn section(
    named: &BTreeMap<String, Value>,
    schema: &Value,
    defaults: &Value,
    path: &str,
    out: &mut String,
    nested: &mut Vec<(String, Value)>,
) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let mut rows = String::new();
    for (key, raw) in properties {
        let node = resolve(named, raw);
        if node.get("properties").is_some() {
            let sub = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            nested.push((sub, node.clone()));
            continue;
        }
        let about = raw
            .get("description")
            .or_else(|| node.get("description"))
            .and_then(Value::as_str)
            .map(one_paragraph)
            .unwrap_or_default()
            .replace('|', "\\|");
        // The schema's own default (a key of a section that is absent by default), else the
        // value `Config::default()` has.
        let default = raw
            .get("default")
            .or_else(|| defaults.get(key))
            .unwrap_or(&Value::Null);
        let _ = writeln!(
            rows,
            "| `{key}`<br>`{}` | {} | {} | {about} |",
            env_name(path, key),
            type_of(node),
            default_text(default),
        );
    }
    if !rows.is_empty() {
        out.push_str("\n| key | type | default | what it does |\n|---|---|---|---|\n");
        out.push_str(&rows);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_reference_names_every_section_and_its_keys() {
        let text = reference();
        for heading in [
            "## `[tls]`",
            "## `[tls.acme]`",
            "## `[notify]`",
            "## `[notify.smtp]`",
            "## `[signin]`",
        ] {
            assert!(text.contains(heading), "{heading} missing:\n{text}");
        }
        assert!(
            text.contains("| `public_url`<br>`PORCHLIGHT_PUBLIC_URL` |"),
            "{text}"
        );
        assert!(text.contains("| `redirect_listen`<br>`PORCHLIGHT_TLS__REDIRECT_LISTEN` |"));
        assert!(text.contains("`PORCHLIGHT_LOG_FORMAT` | one of `text`, `json` | `\"text\"`"));
        assert!(text.contains(
            "`PORCHLIGHT_TLS__ACME__DIRECTORY_URL` | string | \
             `\"https://acme-v02.api.letsencrypt.org/directory\"`"
        ));
        // Sections in the order of their keys.
        let clips = text.find("## `[clips]`").unwrap();
        assert!(clips < text.find("## `[tls]`").unwrap());
        assert_eq!(
            env_name("tls.acme", "domains"),
            "PORCHLIGHT_TLS__ACME__DOMAINS"
        );
    }

    #[test]
    fn the_committed_reference_is_current() {
        let committed =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CONFIG.md"))
                .unwrap_or_default();
        assert!(
            committed == reference(),
            "docs/CONFIG.md is out of date: run `cargo run -p porchlight -- serve \
             --print-config-reference > docs/CONFIG.md`"
        );
    }
}

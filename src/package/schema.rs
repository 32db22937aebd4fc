//! Checks `prequal.json` against its published JSON Schema (`openapi/prequal-manifest.schema.json`,
//! generated from the manifest types and compared with them by `tests/suite/manifest_schema.rs`).
//!
//! Serde stops at the first missing or unknown field; a lab needs every one of them, each with its
//! path (`material.process_route`), at once. So the document is first walked against the schema,
//! which reports every problem, and the walk *repairs* a copy as it goes (a missing field gets a
//! placeholder, an unknown field is dropped, a wrong value is replaced) so the semantic checks
//! (units, lots, CSV cells) can still run and report their problems in the same run. Problems
//! the semantic checks find under a repaired path are dropped: the schema problem already says it.
//! A string still holding a `prequal init` placeholder (`FILL IN: …`) is reported here too.
//!
//! Why not a general JSON Schema crate: the schema uses ten keywords (`type`, `properties`,
//! `required`, `additionalProperties`, `items`, `$ref` to `$defs`, `anyOf`, `oneOf`, `const`,
//! `enum`), the general crates bring some seventy crates (arbitrary-precision numbers,
//! regex engines, URI resolution) into the package library that the fuzz build compiles too, and
//! none of them repairs. A test walks the whole schema and fails on any keyword this walker does
//! not know, so the schema cannot outgrow it silently.

use serde_json::{Map, Value};

use super::error::PackageError;
use super::template::PLACEHOLDER;

/// The published schema, compiled in.
const SCHEMA: &str = include_str!("../../openapi/prequal-manifest.schema.json");

/// Keywords the walker understands; annotations (`description`, `title`, `default`, `format`,
/// `$schema`) change nothing in validation.
#[cfg(test)]
pub(crate) const KNOWN_KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "$ref",
    "$defs",
    "anyOf",
    "oneOf",
    "const",
    "enum",
    "description",
    "title",
    "default",
    "format",
    "$schema",
];

/// What the schema walk found: the problems, the repaired document and the repaired paths.
#[derive(Debug, Clone)]
pub struct SchemaReport {
    pub problems: Vec<PackageError>,
    pub repaired: Value,
    repaired_paths: Vec<String>,
}

impl SchemaReport {
    /// False when `problem` concerns a field the schema walk already reported and repaired.
    pub fn keeps(&self, problem: &PackageError) -> bool {
        let Some(field) = problem.field_path() else { return true };
        !self.repaired_paths.iter().any(|p| {
            field == p || p.is_empty() || field.strip_prefix(p.as_str()).is_some_and(|r| r.starts_with(['.', '[']))
        })
    }
}

/// Validates `doc` against the manifest schema.
pub fn check(doc: &Value) -> SchemaReport {
    let schema: Value = match serde_json::from_str(SCHEMA) {
        Ok(s) => s,
        // The schema is compiled in and tested; should it ever not parse, say so rather than pass.
        Err(e) => {
            return SchemaReport {
                problems: vec![PackageError::field("", format!("the built-in schema does not parse: {e}"))],
                repaired: doc.clone(),
                repaired_paths: vec![String::new()],
            };
        }
    };
    let mut walker = Walker { root: &schema, problems: Vec::new(), repaired: Vec::new() };
    let mut repaired = doc.clone();
    walker.walk(&mut repaired, &schema, "", 0);
    SchemaReport { problems: walker.problems, repaired, repaired_paths: walker.repaired }
}

/// Deeper than this the schema has no structure; it bounds recursion on hostile `$ref` cycles.
const MAX_DEPTH: usize = 32;

struct Walker<'s> {
    root: &'s Value,
    problems: Vec<PackageError>,
    repaired: Vec<String>,
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn type_name(t: &str) -> &'static str {
    match t {
        "null" => "null",
        "boolean" => "true or false",
        "number" => "a number",
        "integer" => "a whole number",
        "string" => "a string",
        "array" => "a list",
        "object" => "an object",
        _ => "a value of another type",
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    }
}

fn show_str(s: &str) -> String {
    if s.chars().count() > 60 { format!("{}…", s.chars().take(60).collect::<String>()) } else { s.to_owned() }
}

fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 { format!("{}…", s.chars().take(60).collect::<String>()) } else { s }
}

impl<'s> Walker<'s> {
    fn resolve(&self, schema: &'s Value) -> &'s Value {
        let mut s = schema;
        for _ in 0..MAX_DEPTH {
            match s.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
                Some(name) => match self.root.get("$defs").and_then(|d| d.get(name)) {
                    Some(target) => s = target,
                    None => return s,
                },
                None => return s,
            }
        }
        s
    }

    fn description(&self, schema: &'s Value) -> Option<&'s str> {
        schema.get("description").or_else(|| self.resolve(schema).get("description")).and_then(Value::as_str)
    }

    fn repair(&mut self, path: &str) {
        self.repaired.push(path.to_owned());
    }

    /// A value of the schema's shape that deserialises: what a missing or wrong field is replaced
    /// with so the checks after the schema can run.
    fn placeholder(&self, schema: &'s Value, depth: usize) -> Value {
        let s = self.resolve(schema);
        if depth > MAX_DEPTH {
            return Value::Null;
        }
        if let Some(c) = s.get("const") {
            return c.clone();
        }
        if let Some(first) = s.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
            return first.clone();
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(first) = s.get(key).and_then(Value::as_array).and_then(|b| b.first()) {
                return self.placeholder(first, depth + 1);
            }
        }
        let t = match s.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(Value::Array(ts)) => ts.first().and_then(Value::as_str).unwrap_or("null"),
            _ => "null",
        };
        match t {
            "string" => Value::from(""),
            "number" | "integer" => Value::from(0),
            "boolean" => Value::Bool(false),
            "array" => Value::Array(Vec::new()),
            "object" => {
                let mut obj = Map::new();
                let props = s.get("properties");
                for name in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
                {
                    if let Some(p) = props.and_then(|p| p.get(name)) {
                        obj.insert(name.to_owned(), self.placeholder(p, depth + 1));
                    }
                }
                Value::Object(obj)
            }
            _ => Value::Null,
        }
    }

    fn walk(&mut self, value: &mut Value, schema: &'s Value, path: &str, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let s = self.resolve(schema);
        if let Some(branches) = s.get("oneOf").or_else(|| s.get("anyOf")).and_then(Value::as_array) {
            self.walk_branches(value, branches, path, depth);
            return;
        }
        match s.get("type") {
            Some(Value::String(t)) if !has_type(value, t) => {
                self.wrong_type(value, s, type_name(t).to_owned(), path);
                return;
            }
            Some(Value::Array(ts)) if !ts.iter().filter_map(Value::as_str).any(|t| has_type(value, t)) => {
                let names: Vec<&str> = ts.iter().filter_map(Value::as_str).map(type_name).collect();
                self.wrong_type(value, s, names.join(" or "), path);
                return;
            }
            _ => {}
        }
        if let Some(c) = s.get("const")
            && value != c
        {
            self.not_allowed(value, s, std::slice::from_ref(c), path);
            return;
        }
        if let Some(allowed) = s.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            self.not_allowed(value, s, allowed, path);
            return;
        }
        match value {
            Value::String(text) if text.starts_with(PLACEHOLDER) => {
                self.problems.push(PackageError::ManifestPlaceholder { field: path.to_owned(), text: show_str(text) });
                self.repair(path);
            }
            Value::Object(obj) => self.walk_object(obj, s, path, depth),
            Value::Array(items) => {
                if let Some(item_schema) = s.get("items") {
                    for (i, item) in items.iter_mut().enumerate() {
                        self.walk(item, item_schema, &format!("{path}[{i}]"), depth + 1);
                    }
                }
            }
            _ => {}
        }
    }

    fn walk_object(&mut self, obj: &mut Map<String, Value>, s: &'s Value, path: &str, depth: usize) {
        let props = s.get("properties").and_then(Value::as_object);
        for name in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if obj.contains_key(name) {
                continue;
            }
            let at = child(path, name);
            let prop = props.and_then(|p| p.get(name));
            let hint = prop
                .and_then(|p| self.description(p))
                .map(|d| format!(" ({})", d.replace('\n', " ")))
                .unwrap_or_default();
            let expected = prop.map(|p| self.expected_of(p)).unwrap_or_else(|| "a value".into());
            self.problems.push(PackageError::ManifestFieldMissing { field: at.clone(), expected, hint });
            if let Some(p) = prop {
                obj.insert(name.to_owned(), self.placeholder(p, depth + 1));
            }
            self.repair(&at);
        }
        let keys: Vec<String> = obj.keys().cloned().collect();
        for key in keys {
            let at = child(path, &key);
            let prop_schema = props.and_then(|p| p.get(&key));
            match (prop_schema, s.get("additionalProperties")) {
                (Some(p), _) => {
                    if let Some(v) = obj.get_mut(&key) {
                        self.walk(v, p, &at, depth + 1);
                    }
                }
                (None, Some(Value::Bool(false))) => {
                    let known: Vec<&str> = props.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                    self.problems
                        .push(PackageError::ManifestFieldUnknown { field: at.clone(), known: known.join(", ") });
                    obj.remove(&key);
                    self.repair(&at);
                }
                (None, Some(extra @ Value::Object(_))) => {
                    if let Some(v) = obj.get_mut(&key) {
                        self.walk(v, extra, &at, depth + 1);
                    }
                }
                (None, _) => {}
            }
        }
    }

    /// `oneOf` / `anyOf`: the value is valid when a branch accepts it; otherwise the problems of
    /// the branch it comes closest to are reported (a branch that refuses the value itself, by
    /// type or constant, is a poor match; one that finds a field missing inside it is close).
    fn walk_branches(&mut self, value: &mut Value, branches: &'s [Value], path: &str, depth: usize) {
        let consts: Vec<Value> =
            branches.iter().filter_map(|b| self.resolve(b).get("const").cloned()).collect::<Vec<_>>();
        if consts.len() == branches.len() {
            if !consts.contains(value) {
                self.not_allowed(value, &Value::Null, &consts, path);
            }
            return;
        }
        let mut best: Option<(usize, Walker<'s>, Value)> = None;
        for branch in branches {
            let mut trial = Walker { root: self.root, problems: Vec::new(), repaired: Vec::new() };
            let mut candidate = value.clone();
            trial.walk(&mut candidate, branch, path, depth + 1);
            let score: usize = trial
                .problems
                .iter()
                .map(|p| if p.field_path() == Some(path) || is_discriminator(p, path) { 1000 } else { 1 })
                .sum();
            if score == 0 {
                return;
            }
            if best.as_ref().is_none_or(|(s, _, _)| score < *s) {
                best = Some((score, trial, candidate));
            }
        }
        if let Some((_, trial, candidate)) = best {
            self.problems.extend(trial.problems);
            self.repaired.extend(trial.repaired);
            *value = candidate;
        }
    }

    fn expected_of(&self, schema: &'s Value) -> String {
        let s = self.resolve(schema);
        if let Some(allowed) = s.get("enum").and_then(Value::as_array) {
            return format!("one of {}", allowed.iter().map(show).collect::<Vec<_>>().join(", "));
        }
        if let Some(branches) = s.get("oneOf").or_else(|| s.get("anyOf")).and_then(Value::as_array) {
            let consts: Vec<String> = branches.iter().filter_map(|b| self.resolve(b).get("const")).map(show).collect();
            if consts.len() == branches.len() {
                return format!("one of {}", consts.join(", "));
            }
            return branches.first().map(|b| self.expected_of(b)).unwrap_or_else(|| "a value".into());
        }
        match s.get("type") {
            Some(Value::String(t)) => type_name(t).to_owned(),
            Some(Value::Array(ts)) => ts.first().and_then(Value::as_str).map_or("a value", type_name).to_owned(),
            _ => "a value".into(),
        }
    }

    fn wrong_type(&mut self, value: &mut Value, schema: &'s Value, expected: String, path: &str) {
        self.problems.push(PackageError::ManifestFieldType {
            field: path.to_owned(),
            expected,
            found: format!("{} ({})", kind_of(value), show(value)),
        });
        *value = self.placeholder(schema, 0);
        self.repair(path);
    }

    fn not_allowed(&mut self, value: &mut Value, schema: &'s Value, allowed: &[Value], path: &str) {
        let list = allowed.iter().map(show).collect::<Vec<_>>().join(", ");
        self.problems.push(PackageError::field(path, format!("{} is not one of {list}", show(value))));
        *value = if schema.is_null() {
            allowed.first().cloned().unwrap_or(Value::Null)
        } else {
            self.placeholder(schema, 0)
        };
        self.repair(path);
    }
}

/// A tagged enum's `level`-like field whose constant does not match this branch.
fn is_discriminator(p: &PackageError, path: &str) -> bool {
    matches!(p, PackageError::ManifestFieldInvalid { field, .. }
        if field.strip_prefix(path).is_some_and(|rest| rest.trim_start_matches('.').split(['.', '[']).count() == 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn unknown_keywords(v: &Value, under_properties: bool, out: &mut Vec<String>) {
        match v {
            Value::Object(obj) => {
                for (k, child) in obj {
                    if !under_properties && !KNOWN_KEYWORDS.contains(&k.as_str()) {
                        out.push(k.clone());
                    }
                    let names_follow = !under_properties && (k == "properties" || k == "$defs");
                    // Under `properties`/`$defs` the keys are names, their values schemas.
                    if under_properties {
                        unknown_keywords(child, false, out);
                    } else if k == "default" || k == "const" || k == "enum" || k == "required" {
                        // values, not schemas
                    } else {
                        unknown_keywords(child, names_follow, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| unknown_keywords(i, false, out)),
            _ => {}
        }
    }

    #[test]
    fn the_schema_uses_only_keywords_the_walker_knows() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let mut unknown = Vec::new();
        unknown_keywords(&schema, false, &mut unknown);
        assert!(unknown.is_empty(), "the manifest schema uses keywords the walker does not check: {unknown:?}");
    }

    #[test]
    fn every_problem_is_reported_with_its_path_and_the_copy_is_repaired() {
        let doc = json!({
            "format": "prequal-package/1", "name": "x-y", "version": 1, "title": "t", "description": "d",
            "synthetic": false, "date_published": "2026-01-01", "license": "CC-BY-4.0", "creators": [],
            "lab": {"name": "L", "country": "US", "colour": "blue"},
            "material": {"class": "ceramic", "family": "f", "designation": "d",
                          "producer": {"name": "p", "country": "US"}, "lots": [], "composition": []},
            "test_methods": [], "datasets": [], "releasability": {"level": "allied"}
        });
        let report = check(&doc);
        let got: Vec<(String, &str)> =
            report.problems.iter().map(|p| (p.field_path().unwrap_or("").to_owned(), p.code())).collect();
        assert!(got.contains(&("version".into(), "manifest_field_type")), "{got:?}");
        assert!(got.contains(&("lab.colour".into(), "manifest_field_unknown")), "{got:?}");
        assert!(got.contains(&("material.class".into(), "manifest_field_invalid")), "{got:?}");
        assert!(got.contains(&("material.process_route".into(), "manifest_field_missing")), "{got:?}");
        assert!(got.contains(&("releasability.countries".into(), "manifest_field_missing")), "{got:?}");
        assert_eq!(got.len(), 5, "{got:?}");
        let manifest: super::super::Manifest = serde_json::from_value(report.repaired.clone()).unwrap();
        assert_eq!(manifest.material.process_route, "");
        assert!(!report.keeps(&PackageError::field("material.process_route", "must not be empty")));
        assert!(report.keeps(&PackageError::field("material.family", "must not be empty")));
    }

    #[test]
    fn an_optional_object_and_a_curve_kind() {
        let report = check(&json!({"terms": {"citation": 3}, "curves": [{"kind": "H-J"}]}));
        let fields: Vec<&str> = report.problems.iter().filter_map(PackageError::field_path).collect();
        assert!(fields.contains(&"terms.citation"), "{fields:?}");
        assert!(fields.contains(&"curves[0].kind"), "{fields:?}");
        let kind = report.problems.iter().find(|p| p.field_path() == Some("curves[0].kind")).unwrap();
        assert!(kind.to_string().contains("\"J-H+B-H\""), "{kind}");
    }
}

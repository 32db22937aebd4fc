//! `data/ro-crate-metadata.json`: the RO-Crate 1.1 description of a package's payload, so
//! research-data tools can read its citation metadata. prequal writes it from `prequal.json`;
//! verification checks the structure RO-Crate 1.1 requires and that every payload file is a part
//! of the crate.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::error::PackageError;
use super::manifest::Manifest;

pub const FILE_NAME: &str = "ro-crate-metadata.json";
pub const CONTEXT: &str = "https://w3id.org/ro/crate/1.1/context";
pub const CONFORMS_TO: &str = "https://w3id.org/ro/crate/1.1";

/// A payload file as described in the crate (path relative to `data/`).
pub struct CrateFile<'a> {
    pub path: &'a str,
    pub size: u64,
    pub media_type: &'a str,
    pub name: &'a str,
}

/// Builds the RO-Crate metadata for a package. Deterministic for the same inputs.
pub fn build(manifest: &Manifest, files: &[CrateFile<'_>]) -> Vec<u8> {
    let license_id = format!("https://spdx.org/licenses/{}", manifest.license);
    let mut graph = vec![json!({
        "@id": FILE_NAME,
        "@type": "CreativeWork",
        "conformsTo": {"@id": CONFORMS_TO},
        "about": {"@id": "./"}
    })];
    let authors = one_or_many((1..=manifest.creators.len()).map(|i| json!({"@id": format!("#creator-{i}")})).collect());
    let parts = one_or_many(files.iter().map(|f| json!({"@id": f.path})).collect());
    let mut root = json!({
        "@id": "./",
        "@type": "Dataset",
        "name": manifest.title,
        "description": manifest.description,
        "datePublished": manifest.date_published,
        "license": {"@id": license_id},
        "author": authors,
        "publisher": {"@id": "#lab"},
        "version": manifest.version,
        "hasPart": parts,
        "about": {"@id": "#material"},
    });
    if !manifest.identifiers.is_empty() {
        root["identifier"] = one_or_many(manifest.identifiers.iter().map(|i| json!(i)).collect());
    }
    if !manifest.keywords.is_empty() {
        root["keywords"] = json!(manifest.keywords.join(", "));
    }
    graph.push(root);
    graph.push(json!({"@id": license_id, "@type": "CreativeWork", "name": manifest.license}));
    let mut affiliations = Vec::new();
    for (i, c) in manifest.creators.iter().enumerate() {
        let mut person = json!({"@id": format!("#creator-{}", i + 1), "@type": "Person", "name": c.name});
        if let Some(orcid) = &c.orcid {
            person["identifier"] = json!(orcid);
        }
        if let Some(aff) = &c.affiliation {
            // RO-Crate recommends affiliations as Organization entities.
            let id = if *aff == manifest.lab.name { "#lab".to_owned() } else { format!("#affiliation-{}", i + 1) };
            if id != "#lab" {
                affiliations.push(json!({"@id": id, "@type": "Organization", "name": aff}));
            }
            person["affiliation"] = json!({"@id": id});
        }
        graph.push(person);
    }
    graph.extend(affiliations);
    let mut lab = json!({
        "@id": "#lab",
        "@type": "Organization",
        "name": manifest.lab.name,
        "address": manifest.lab.country,
    });
    if let Some(url) = &manifest.lab.url {
        lab["url"] = json!(url);
    }
    graph.push(lab);
    graph.push(json!({
        "@id": "#material",
        "@type": "Thing",
        "name": format!("{} {}", manifest.material.family, manifest.material.designation),
        "description": format!("{} ({}), produced by {} ({}); process: {}",
            manifest.material.designation, manifest.material.class.as_str(),
            manifest.material.producer.name, manifest.material.producer.country,
            manifest.material.process_route),
    }));
    for f in files {
        graph.push(json!({
            "@id": f.path,
            "@type": "File",
            "name": f.name,
            "encodingFormat": f.media_type,
            "contentSize": f.size.to_string(),
        }));
    }
    let doc = json!({"@context": CONTEXT, "@graph": graph});
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}

/// JSON-LD allows a single value where a list has one element; RO-Crate recommends it.
fn one_or_many(mut items: Vec<Value>) -> Value {
    if items.len() == 1 { items.remove(0) } else { Value::Array(items) }
}

/// Checks the RO-Crate 1.1 structure and that `payload` (paths relative to `data/`, excluding the
/// metadata file itself) are all parts of the root dataset.
pub fn check(doc: &Value, payload: &BTreeSet<String>) -> Result<(), PackageError> {
    let err = |detail: String| PackageError::RoCrateInvalid { detail };
    let context_ok = match doc.get("@context") {
        Some(Value::String(s)) => s == CONTEXT,
        Some(Value::Array(items)) => items.iter().any(|i| i.as_str() == Some(CONTEXT)),
        _ => false,
    };
    if !context_ok {
        return Err(err(format!("@context must reference {CONTEXT}")));
    }
    let graph = doc.get("@graph").and_then(Value::as_array).ok_or_else(|| err("@graph must be an array".into()))?;
    let by_id = |id: &str| graph.iter().find(|e| e.get("@id").and_then(Value::as_str) == Some(id));
    let descriptor = by_id(FILE_NAME).ok_or_else(|| err(format!("no metadata descriptor with @id '{FILE_NAME}'")))?;
    let conforms = descriptor.pointer("/conformsTo/@id").and_then(Value::as_str).unwrap_or("");
    if !conforms.starts_with(CONFORMS_TO) {
        return Err(err(format!("metadata descriptor must conform to {CONFORMS_TO}")));
    }
    if descriptor.pointer("/about/@id").and_then(Value::as_str) != Some("./") {
        return Err(err("metadata descriptor must be about './'".into()));
    }
    let root = by_id("./").ok_or_else(|| err("no root data entity with @id './'".into()))?;
    let has_type = |e: &Value, t: &str| match e.get("@type") {
        Some(Value::String(s)) => s == t,
        Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(t)),
        _ => false,
    };
    if !has_type(root, "Dataset") {
        return Err(err("root data entity must have @type Dataset".into()));
    }
    for key in ["name", "description", "datePublished", "license"] {
        if root.get(key).is_none() {
            return Err(err(format!("root data entity lacks '{key}'")));
        }
    }
    let parts: BTreeSet<&str> = match root.get("hasPart") {
        Some(Value::Array(items)) => items.iter().filter_map(|i| i.get("@id").and_then(Value::as_str)).collect(),
        Some(item) => item.get("@id").and_then(Value::as_str).into_iter().collect(),
        None => BTreeSet::new(),
    };
    for path in payload {
        if !parts.contains(path.as_str()) {
            return Err(err(format!("payload file '{path}' is not listed in the root's hasPart")));
        }
        match by_id(path) {
            Some(entity) if has_type(entity, "File") => {}
            _ => return Err(err(format!("payload file '{path}' has no data entity of @type File"))),
        }
    }
    Ok(())
}

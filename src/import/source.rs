//! Editing a package source folder (`prequal init` made it) on behalf of an importer: datasets,
//! curves, attachments, a lot and a test method added to `prequal.json`, their CSV files written.
//!
//! Everything is staged in memory and written by [`SourceFolder::commit`] only once the importer
//! has finished without a problem: each file through a temporary file renamed into place, the
//! manifest last, so a refused import writes nothing and an interrupted one never leaves a
//! manifest naming a file that is not there. The manifest is edited as a JSON document, not through
//! the `Manifest` type, so the lab's own values and `FILL IN` placeholders stay as they were.
//!
//! A table (dataset or curve) the import wants may already exist: an empty one (the template's,
//! header only) is taken over; one holding rows in exactly the import's layout gets the new rows
//! appended (a specimen already there is refused); any other is a conflict, never overwritten.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::package::PackageError;
use crate::package::manifest::check_relative_file;
use crate::package::template::PLACEHOLDER;

const MANIFEST: &str = "prequal.json";

/// A source folder with staged changes.
#[derive(Debug)]
pub struct SourceFolder {
    dir: PathBuf,
    manifest: Map<String, Value>,
    /// Files to write, relative to the folder, with their whole new content.
    pending: BTreeMap<String, String>,
}

/// One table an importer adds to or creates: a dataset or a curve file.
#[derive(Debug, Clone)]
pub struct Table {
    /// `datasets` or `curves`: the manifest section.
    pub section: Section,
    pub id: String,
    /// The manifest entry as the importer would write it (without `id` and `file`).
    pub entry: Value,
    /// Entry fields an existing table must share to take more rows.
    pub same: &'static [&'static str],
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    /// A sentence added to the entry's description (e.g. which specimens are run-outs).
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Datasets,
    Curves,
}

impl Section {
    fn key(self) -> &'static str {
        match self {
            Section::Datasets => "datasets",
            Section::Curves => "curves",
        }
    }
}

fn conflict(path: impl Into<String>, detail: impl Into<String>) -> PackageError {
    PackageError::ImportConflict { path: path.into(), detail: detail.into() }
}

fn is_placeholder(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.starts_with(PLACEHOLDER))
}

/// CSV text of `rows`, with `header` first when given.
pub(crate) fn csv_text(header: Option<&[&str]>, rows: &[Vec<String>]) -> Result<String, PackageError> {
    let mut out = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    let io_err = |e: csv::Error| PackageError::io("CSV text", e);
    if let Some(h) = header {
        out.write_record(h).map_err(io_err)?;
    }
    for row in rows {
        out.write_record(row).map_err(io_err)?;
    }
    let bytes = out.into_inner().map_err(|e| PackageError::io("CSV text", e))?;
    String::from_utf8(bytes).map_err(|e| PackageError::io("CSV text", e))
}

impl SourceFolder {
    /// Reads `dir/prequal.json`. The folder must exist and hold one (`prequal init` writes it).
    pub fn open(dir: &Path) -> Result<SourceFolder, PackageError> {
        let path = dir.join(MANIFEST);
        if !path.is_file() {
            return Err(PackageError::SourceInvalid {
                path: dir.display().to_string(),
                detail: "has no prequal.json; start the folder with `prequal init --class battery_cell|permanent_magnet DIR`"
                    .into(),
            });
        }
        let bytes = fs::read(&path).map_err(|e| PackageError::io(path.display(), e))?;
        let Value::Object(manifest) = serde_json::from_slice(&bytes).map_err(|e| PackageError::json(MANIFEST, &e))?
        else {
            return Err(PackageError::SourceInvalid {
                path: path.display().to_string(),
                detail: "is not a JSON object".into(),
            });
        };
        Ok(SourceFolder { dir: dir.to_owned(), manifest, pending: BTreeMap::new() })
    }

    /// Refuses a folder whose material is not of `class` (`battery_cell`, `permanent_magnet`).
    pub fn require_class(&self, class: &str, importer: &str) -> Result<(), PackageError> {
        match self.manifest.get("material").and_then(|m| m.get("class")).and_then(Value::as_str) {
            Some(c) if c == class => Ok(()),
            other => Err(conflict(
                MANIFEST,
                format!(
                    "`prequal import {importer}` fills a {class} package; this folder's material.class is {}",
                    other.map_or("missing".to_owned(), |c| format!("'{c}'"))
                ),
            )),
        }
    }

    /// The staged or current text of a file of the folder; None when it does not exist.
    pub fn text(&self, rel: &str) -> Result<Option<String>, PackageError> {
        if let Some(t) = self.pending.get(rel) {
            return Ok(Some(t.clone()));
        }
        check_relative_file(rel).map_err(|detail| conflict(rel, detail))?;
        let path = self.dir.join(rel);
        match fs::read_to_string(&path) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PackageError::io(path.display(), e)),
        }
    }

    /// Runs `f` on the manifest's array `key`, made an empty array first when it is missing or
    /// not an array (the schema check reports such a manifest anyway).
    fn with_section<R>(&mut self, key: &str, f: impl FnOnce(&mut Vec<Value>) -> R) -> R {
        let slot = self.manifest.entry(key).or_insert_with(|| Value::Array(Vec::new()));
        let mut items = match std::mem::take(slot) {
            Value::Array(items) => items,
            _ => Vec::new(),
        };
        let result = f(&mut items);
        *slot = Value::Array(items);
        result
    }

    fn section(&self, key: &str) -> &[Value] {
        self.manifest.get(key).and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }

    /// The lots `material.lots` names, leaving out template placeholders.
    pub fn lots(&self) -> BTreeSet<String> {
        self.manifest
            .get("material")
            .and_then(|m| m.get("lots"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|l| l.get("id"))
            .filter(|id| !is_placeholder(id))
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    }

    /// The batch rows are written with: `batch` (added to `material.lots` when new, replacing the
    /// template's placeholder lot), or the material's only lot.
    pub fn resolve_batch(&mut self, batch: Option<&str>) -> Result<String, PackageError> {
        let known = self.lots();
        let Some(batch) = batch else {
            return match known.len() {
                1 => Ok(known.into_iter().next().unwrap_or_default()),
                0 => Err(conflict(MANIFEST, "material.lots names no lot yet: give the specimens' lot with --batch")),
                _ => Err(conflict(
                    MANIFEST,
                    format!(
                        "material.lots has {} lots ({}): say which one with --batch",
                        known.len(),
                        known.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                )),
            };
        };
        if batch.trim().is_empty() || batch.trim() != batch {
            return Err(conflict("--batch", "give a lot id without surrounding spaces"));
        }
        if !known.contains(batch) {
            let material = self.manifest.entry("material").or_insert_with(|| Value::Object(Map::new()));
            let mut fields = match std::mem::take(material) {
                Value::Object(fields) => fields,
                _ => Map::new(),
            };
            let mut lots = match fields.remove("lots") {
                Some(Value::Array(lots)) => lots,
                _ => Vec::new(),
            };
            lots.retain(|l| !l.get("id").is_some_and(is_placeholder));
            lots.push(json!({"id": batch}));
            fields.insert("lots".into(), Value::Array(lots));
            *material = Value::Object(fields);
        }
        Ok(batch.to_owned())
    }

    /// Adds a test method `id` (standard given, equipment and calibration left for the lab to
    /// write) unless the manifest has one.
    pub fn ensure_method(&mut self, id: &str, standard: &str, equipment: &str) {
        if self.section("test_methods").iter().any(|m| m.get("id").and_then(Value::as_str) == Some(id)) {
            return;
        }
        let method = json!({
            "id": id,
            "standard": standard,
            "equipment": format!("{PLACEHOLDER}: {equipment}"),
            "calibration": {
                "reference": format!("{PLACEHOLDER}: calibration certificate or reference material"),
                "date": format!("{PLACEHOLDER}: YYYY-MM-DD")
            }
        });
        self.with_section("test_methods", |methods| methods.push(method));
    }

    /// Adds `table`'s rows: to a new table, to the template's empty one, or appended to one
    /// already holding rows in the same layout. Returns the table's file.
    pub fn add_table(&mut self, table: Table) -> Result<String, PackageError> {
        let key = table.section.key();
        let existing =
            self.section(key).iter().position(|e| e.get("id").and_then(Value::as_str) == Some(table.id.as_str()));
        let with_note = |description: Option<&str>| -> Value {
            let base = description.unwrap_or("");
            match &table.note {
                Some(n) if base.is_empty() => Value::from(n.as_str()),
                Some(n) => Value::from(format!("{base} {n}")),
                None => Value::from(base),
            }
        };
        let fresh_entry = |file: &str| -> Value {
            let mut entry = Map::new();
            entry.insert("id".into(), Value::from(table.id.as_str()));
            if let Some(obj) = table.entry.as_object() {
                for (k, v) in obj {
                    entry.insert(k.clone(), v.clone());
                }
            }
            entry.insert("file".into(), Value::from(file));
            let description = entry.get("description").and_then(Value::as_str).map(str::to_owned);
            entry.insert("description".into(), with_note(description.as_deref()));
            Value::Object(entry)
        };

        let Some(index) = existing else {
            let file = format!("{key}/{}.csv", table.id);
            if self.text(&file)?.is_some() {
                return Err(conflict(
                    &file,
                    format!("the file exists but no entry of '{key}' in prequal.json names it; remove or rename it"),
                ));
            }
            let text = csv_text(Some(&table.header), &table.rows)?;
            let entry = fresh_entry(&file);
            self.with_section(key, |entries| entries.push(entry));
            self.pending.insert(file.clone(), text);
            return Ok(file);
        };

        let current = self.section(key)[index].clone();
        let Some(file) = current.get("file").and_then(Value::as_str).map(str::to_owned) else {
            return Err(conflict(MANIFEST, format!("{key} entry '{}' names no file", table.id)));
        };
        let text = self.text(&file)?.unwrap_or_default();
        let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());
        let header: Vec<String> =
            reader.headers().map(|h| h.iter().map(|c| c.trim().to_owned()).collect()).unwrap_or_default();
        let mut specimens = BTreeSet::new();
        for record in reader.records() {
            let record = record.map_err(|e| conflict(&file, format!("cannot be read as CSV: {e}")))?;
            if let Some(s) = record.get(0).map(str::trim).filter(|s| !s.is_empty()) {
                specimens.insert(s.to_owned());
            }
        }
        if specimens.is_empty() {
            // The template's table (a header and no rows): the import takes it over.
            let text = csv_text(Some(&table.header), &table.rows)?;
            let mut entry = fresh_entry(&file);
            // Keep the method the lab may already have chosen for it.
            if let (Some(method), Some(obj)) = (current.get("method"), entry.as_object_mut())
                && self.section("test_methods").iter().any(|m| m.get("id") == Some(method))
            {
                obj.insert("method".into(), method.clone());
            }
            self.with_section(key, |entries| entries[index] = entry);
            self.pending.insert(file.clone(), text);
            return Ok(file);
        }
        let same_layout = header == table.header
            && current.get("columns").is_none()
            && table.same.iter().all(|field| current.get(*field) == table.entry.get(*field));
        if !same_layout {
            return Err(conflict(
                &file,
                format!(
                    "{key} entry '{}' already holds rows in another layout ({} or its header differ from what the import writes); import into a new folder, or rename that entry",
                    table.id,
                    table.same.join(", ")
                ),
            ));
        }
        if let Some(dup) = table.rows.iter().filter_map(|r| r.first()).find(|s| specimens.contains(s.as_str())) {
            return Err(conflict(&file, format!("specimen '{dup}' is already in it; give another --specimen")));
        }
        let mut text = text;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&csv_text(None, &table.rows)?);
        if table.note.is_some() {
            let description = current.get("description").and_then(Value::as_str).map(str::to_owned);
            let described = with_note(description.as_deref());
            self.with_section(key, |entries| {
                if let Some(obj) = entries[index].as_object_mut() {
                    obj.insert("description".into(), described);
                }
            });
        }
        self.pending.insert(file.clone(), text);
        Ok(file)
    }

    /// Adds an attachment file that must not exist yet.
    pub fn add_attachment(
        &mut self,
        file: &str,
        description: &str,
        media_type: &str,
        content: String,
    ) -> Result<(), PackageError> {
        let listed = self.section("attachments").iter().any(|a| a.get("file").and_then(Value::as_str) == Some(file));
        if listed || self.text(file)?.is_some() {
            return Err(conflict(file, "already exists; give another --specimen or remove the old file"));
        }
        let entry = json!({"file": file, "description": description, "media_type": media_type});
        self.with_section("attachments", |attachments| attachments.push(entry));
        self.pending.insert(file.to_owned(), content);
        Ok(())
    }

    /// Writes the staged files, then the manifest. Returns the paths written, relative to the folder.
    pub fn commit(self) -> Result<Vec<String>, PackageError> {
        let mut written = Vec::new();
        for (rel, text) in &self.pending {
            check_relative_file(rel).map_err(|detail| conflict(rel.as_str(), detail))?;
            write_replacing(&self.dir.join(rel), text.as_bytes())?;
            written.push(rel.clone());
        }
        let mut manifest = serde_json::to_vec_pretty(&self.manifest).map_err(|e| PackageError::io(MANIFEST, e))?;
        manifest.push(b'\n');
        write_replacing(&self.dir.join(MANIFEST), &manifest)?;
        written.push(MANIFEST.to_owned());
        Ok(written)
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place.
fn write_replacing(path: &Path, bytes: &[u8]) -> Result<(), PackageError> {
    let shown = path.display().to_string();
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| PackageError::io(dir.display(), e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.import-{}", std::process::id()));
    let result = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| PackageError::io(shown, e))
}

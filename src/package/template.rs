//! The starting point of a package source folder (`prequal init`): a manifest whose every field
//! the lab must write holds a `FILL IN: …` placeholder, dataset CSV files holding the header the
//! vocabulary expects, and a README.md explaining each field (JSON has no comments).
//!
//! Placeholders are refused by `prequal check` and `prequal pack` (`manifest_placeholder`), so a
//! template cannot be packed by mistake; the synthetic flag starts off, since a lab's data are
//! measured.

use serde_json::{Value, json};

use super::manifest::{FORMAT, Manifest};
use super::vocabulary::{self, MaterialClass};

/// Strings starting with this are template placeholders.
pub const PLACEHOLDER: &str = "FILL IN";

/// A source folder to write: `prequal.json`, CSV files (path, content) and `README.md`.
#[derive(Debug, Clone)]
pub struct Template {
    pub manifest: Value,
    pub files: Vec<(String, String)>,
    pub readme: String,
}

fn fill(what: &str) -> Value {
    Value::from(format!("{PLACEHOLDER}: {what}"))
}

/// One dataset of the template: (id, property, unit, method, extra conditions).
struct Planned {
    id: &'static str,
    property: &'static str,
    method: &'static str,
    temperature: f64,
    conditions: Value,
}

fn planned(class: MaterialClass) -> Vec<Planned> {
    let at = |id, property, method, temperature, conditions| Planned { id, property, method, temperature, conditions };
    match class {
        MaterialClass::PermanentMagnet => vec![
            at("remanence-20c", "remanence", "hysteresigraph", 20.0, json!({})),
            at("hcj-20c", "intrinsic_coercivity", "hysteresigraph", 20.0, json!({})),
            at("hcb-20c", "normal_coercivity", "hysteresigraph", 20.0, json!({})),
            at("bhmax-20c", "max_energy_product", "hysteresigraph", 20.0, json!({})),
        ],
        MaterialClass::BatteryCell => vec![
            at("capacity", "capacity", "performance", 25.0, json!({"c_rate": {"unit": "/h", "value": 0.3333}})),
            at(
                "energy-gravimetric",
                "gravimetric_energy_density",
                "performance",
                25.0,
                json!({"c_rate": {"unit": "/h", "value": 0.3333}}),
            ),
            at(
                "cycle-life",
                "cycle_life",
                "cycle-life",
                25.0,
                json!({
                    "c_rate": {"unit": "/h", "value": 1.0},
                    "depth_of_discharge": {"unit": "%", "value": 100.0},
                    "end_of_life_state_of_health": {"unit": "%", "value": 80.0}
                }),
            ),
        ],
    }
}

fn methods(class: MaterialClass) -> Value {
    let method = |id: &str, standard: &str, equipment: &str| {
        json!({
            "id": id,
            "standard": standard,
            "equipment": fill(equipment),
            "calibration": {"reference": fill("calibration certificate or reference material"), "date": fill("YYYY-MM-DD")}
        })
    };
    match class {
        MaterialClass::PermanentMagnet => json!([method(
            "hysteresigraph",
            "IEC 60404-5:2015",
            "hysteresigraph make and model, pole caps, measuring coils"
        )]),
        MaterialClass::BatteryCell => json!([
            method("performance", "IEC 62660-1:2018", "cycler make and model, channel range, temperature chamber"),
            method("cycle-life", "IEC 62660-1:2018", "cycler and chamber used for cycling"),
        ]),
    }
}

/// The template for a new package of `class`; `today` is `YYYY-MM-DD`.
pub fn for_class(class: MaterialClass, today: &str) -> Template {
    let mut datasets = Vec::new();
    let mut files = Vec::new();
    for p in planned(class) {
        let unit = vocabulary::property(p.property).map_or("1", |d| d.canonical_unit);
        let mut conditions = json!({"temperature": {"unit": "Cel", "value": p.temperature}});
        if let (Some(all), Some(extra)) = (conditions.as_object_mut(), p.conditions.as_object()) {
            all.extend(extra.clone());
        }
        let file = format!("datasets/{}.csv", p.id);
        datasets.push(json!({
            "id": p.id,
            "property": p.property,
            "unit": unit,
            "method": p.method,
            "file": file,
            "description": fill(&format!("what was measured for {} and how many specimens", p.property)),
            "conditions": conditions,
        }));
        files.push((file, "specimen,batch,value\n".to_owned()));
    }
    let manifest = json!({
        "format": FORMAT,
        "name": fill("package name: lowercase letters, digits and '-'"),
        "version": "1.0.0",
        "title": fill("one-line title"),
        "description": fill("what the package holds and why"),
        "synthetic": false,
        "date_published": today,
        "license": "CC-BY-4.0",
        "creators": [{"name": fill("your name"), "affiliation": fill("your lab")}],
        "lab": {"name": fill("laboratory name"), "country": fill("ISO 3166-1 alpha-2 code, e.g. DE")},
        "material": {
            "class": class.as_str(),
            "family": fill(match class {
                MaterialClass::PermanentMagnet => "material family, e.g. sintered NdFeB, Mn-Al-C",
                MaterialClass::BatteryCell => "cell chemistry, e.g. LFP/graphite, Na-ion (NFM/hard carbon)",
            }),
            "designation": fill("grade or product designation"),
            "producer": {"name": fill("producer name"), "country": fill("ISO 3166-1 alpha-2 code")},
            "process_route": fill("how the material is made"),
            "lots": [{"id": fill("lot id, as written in the CSV batch column"), "produced": fill("YYYY-MM-DD")}],
            "composition": [],
        },
        "test_methods": methods(class),
        "datasets": datasets,
        "releasability": {"level": "public"},
    });
    Template { manifest, files, readme: readme(class) }
}

/// A template that starts from an existing package's manifest: lab, creators, material, methods,
/// licence and releasability are kept, the datasets are kept with empty CSV files, the version
/// is bumped and the synthetic flag set off.
pub fn from_manifest(m: &Manifest, today: &str) -> Template {
    let mut manifest = serde_json::to_value(m).unwrap_or(Value::Null);
    if let Some(obj) = manifest.as_object_mut() {
        obj.insert("version".into(), Value::from(next_version(&m.version)));
        obj.insert("date_published".into(), Value::from(today));
        obj.insert("synthetic".into(), Value::Bool(false));
        obj.insert("identifiers".into(), json!([]));
        obj.insert("attachments".into(), json!([]));
        obj.insert("curves".into(), json!([]));
    }
    let files = m
        .datasets
        .iter()
        .map(|d| {
            let mut header = vec![d.columns.specimen.clone(), d.columns.batch.clone()];
            header.extend(d.conditions.values().filter_map(|c| c.column.clone()));
            header.push(d.columns.value.clone());
            (d.file.clone(), format!("{}\n", header.join(",")))
        })
        .collect();
    Template { manifest, files, readme: readme(m.material.class) }
}

fn next_version(v: &str) -> String {
    let core = v.split('-').next().unwrap_or(v);
    let mut parts: Vec<u64> = core.split('.').filter_map(|p| p.parse().ok()).collect();
    match parts.len() {
        0 => "1.0.0".into(),
        1 => format!("{}.1", parts[0]),
        _ => {
            parts[1] += 1;
            for p in parts.iter_mut().skip(2) {
                *p = 0;
            }
            parts.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
        }
    }
}

fn readme(class: MaterialClass) -> String {
    let mut properties = String::new();
    for def in vocabulary::PROPERTIES.iter().filter(|p| p.class == class) {
        let symbol = if def.symbol.is_empty() { String::new() } else { format!(" ({})", def.symbol) };
        properties.push_str(&format!("| `{}`{symbol} | {} | `{}` |\n", def.name, def.description, def.canonical_unit));
    }
    let mut conditions = String::new();
    for def in vocabulary::CONDITIONS {
        conditions.push_str(&format!("| `{}` | {} | `{}` |\n", def.name, def.description, def.canonical_unit));
    }
    format!(
        r#"# Package source folder ({class})

This folder becomes a signed prequal package in three commands:

    prequal check .                      # every problem at once, with the field or file:line
    prequal pack . --out my-package.zip
    prequal sign my-package.zip --key lab.secret.json

Every value starting with `{PLACEHOLDER}` in `prequal.json` must be replaced; `prequal check`
lists those still left. This README is not packed (list it under `attachments` to ship it).

## prequal.json, field by field

| field | what to write |
|---|---|
| `format` | leave as is (`{FORMAT}`) |
| `name` | the package name: 3–64 lowercase letters, digits and `-`, e.g. `mnalc-bulk-2026` |
| `version` | `1.0.0` for the first release; a name and version identify one package for ever |
| `title`, `description` | what the package holds, for people searching the registry |
| `synthetic` | `false` for measured data; `true` only for generated data, which must say so |
| `date_published` | `YYYY-MM-DD` |
| `license` | SPDX identifier of the data's licence, e.g. `CC-BY-4.0` |
| `identifiers` | optional: DOIs of this data set |
| `creators` | the people who made the data: `name`, optional `orcid`, `affiliation` |
| `lab` | `name`, `country` (ISO 3166-1 alpha-2), optional `url` and `accreditation` (`body`, `standard`, `certificate`, optional `scope`, `valid_until`) |
| `material.class` | `{class}` (set by `prequal init`) |
| `material.family`, `designation` | material family (e.g. `sintered NdFeB`) and grade or product name |
| `material.producer` | who made the material: `name`, `country` |
| `material.process_route` | how it is made, e.g. `sintered, grain-boundary diffused (Dy)` |
| `material.lots` | one entry per production lot: `id` (the CSV `batch` column uses it), optional `produced`, `site` |
| `material.composition` | element mass fractions: `[{{"element": "Fe", "mass_fraction": 0.72}}, …]`, summing to 1 (±0.02) |
| `material.constituent_origins` | optional: `element`, `country`, `share` of supply, for supply-risk searches |
| `test_methods` | one per procedure: `id` (datasets cite it), `standard`, `equipment`, optional `calibration` (`reference`, `date`) |
| `datasets` | one per property and condition set: `id`, `property`, `unit`, `method`, `file`, `conditions` (below), optional `columns` when the CSV headers differ from `specimen,batch,value` |
| `curves` | magnets only, optional: demagnetisation curves (`prequal import hysteresis` writes them) |
| `attachments` | other files to ship (reports, raw exports): `file`, `description`, `media_type` |
| `releasability` | `{{"level": "public"}}`, `{{"level": "allied", "countries": ["DE", "FR"]}}` or `{{"level": "restricted", "organisations": ["org-id"]}}` |
| `terms` | optional: `intellectual_property`, `export_control`, `citation` |

## Datasets: one CSV per dataset

Each CSV has the header `specimen,batch,value` and one row per specimen measurement, e.g.

    specimen,batch,value
    L1-S01,L1,1.284

`batch` must be one of `material.lots`. A condition that changes per row is a column named in the
dataset's `conditions` (`{{"temperature": {{"unit": "Cel", "column": "temperature"}}}}`); a fixed one is
a `value`. Every dataset states its `temperature`.

Properties of this class (unit: the canonical UCUM code; compatible units are accepted):

| property | meaning | unit |
|---|---|---|
{properties}
Conditions:

| condition | meaning | unit |
|---|---|---|
{conditions}
Other properties and conditions use an extension name, `x-yourlab.name`.
Instrument exports can be converted instead of typed: `prequal import bdf` (battery cyclers,
Battery Data Format) and `prequal import hysteresis` (hysteresigraph curves).
"#,
        class = class.as_str()
    )
}

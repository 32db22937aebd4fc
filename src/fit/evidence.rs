//! Evidence as the fit engine reads it: packages about one material, each with its datasets
//! and signers. Built from a [`VerifiedPackage`] offline, or from the registry's rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::package::VerifiedPackage;

/// Who signed a package.
#[derive(Debug, Clone, PartialEq)]
pub struct Signer {
    pub key_id: String,
    /// The organisation registered for the key, when known.
    pub organisation: Option<String>,
    /// `author`, `countersignature`, or `signature` (offline, signer not checked).
    pub kind: String,
}

impl Signer {
    pub fn label(&self) -> String {
        match &self.organisation {
            Some(o) => format!("{o} (key {})", self.key_id),
            None => format!("key {}", self.key_id),
        }
    }
}

/// Condition name → (value, UCUM unit), fixed and per-row conditions alike.
pub type Conditions = BTreeMap<String, (f64, String)>;

/// One measurement. Batch names and condition sets are shared between the rows that have the
/// same ones, so that ranking thousands of materials does not copy them row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceRow {
    pub specimen: String,
    pub batch: Arc<str>,
    pub value: f64,
    pub conditions: Arc<Conditions>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceDataset {
    pub id: String,
    pub property: String,
    pub unit: String,
    /// The test standard of the dataset's method, e.g. `IEC 60404-5:2015`.
    pub standard: String,
    pub rows: Vec<EvidenceRow>,
}

/// Where a package's material was made: its production sites and process route, what CMH-17
/// calls the source. Evidence from another source joins a material's only through equivalency.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Source {
    /// The lots' production sites, sorted, without repeats (empty when the manifest names none).
    pub sites: Vec<String>,
    pub process_route: String,
}

impl Source {
    pub fn of_material(material: &crate::package::manifest::Material) -> Source {
        let mut sites: Vec<String> =
            material.lots.iter().filter_map(|l| l.site.as_deref()).map(|s| s.trim().to_owned()).collect();
        sites.sort_by_key(|s| s.to_lowercase());
        sites.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        Source { sites, process_route: material.process_route.trim().to_owned() }
    }

    /// Two sources are the same when their sites and route are, ignoring case and spacing.
    pub fn same_as(&self, other: &Source) -> bool {
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        norm(&self.process_route) == norm(&other.process_route)
            && self.sites.len() == other.sites.len()
            && self.sites.iter().zip(&other.sites).all(|(a, b)| norm(a) == norm(b))
    }

    /// In words: `process route 'sintered', site Plant A`.
    pub fn describe(&self) -> String {
        let sites = match self.sites.len() {
            0 => "no site stated".to_owned(),
            1 => format!("site {}", self.sites[0]),
            _ => format!("sites {}", self.sites.join(", ")),
        };
        format!("process route '{}', {sites}", self.process_route)
    }
}

/// One package that counts as evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub digest: String,
    pub name: String,
    pub version: String,
    /// The publishing lab (registry organisation id, or the manifest's lab name offline).
    pub organisation: String,
    pub signers: Vec<Signer>,
    /// Where the tested material was made.
    pub source: Source,
    pub datasets: Vec<EvidenceDataset>,
}

/// A stable id for a material: producer and designation, lowercased, non-alphanumerics as '-'.
pub fn material_id(producer: &str, designation: &str) -> String {
    let slug = |s: &str| {
        let mut out = String::new();
        for c in s.chars().flat_map(char::to_lowercase) {
            if c.is_alphanumeric() {
                out.push(c);
            } else if !out.ends_with('-') {
                out.push('-');
            }
        }
        out.trim_matches('-').to_owned()
    };
    format!("{}--{}", slug(producer), slug(designation))
}

/// Evidence from a package verified offline; signatures are listed by key id (their signers'
/// standing is the registry's business).
pub fn evidence_from_verified(v: &VerifiedPackage) -> Evidence {
    let m = v.manifest();
    let datasets = v
        .datasets()
        .iter()
        .filter_map(|d| {
            let ds = m.datasets.iter().find(|x| x.id == d.spec.id)?;
            let standard =
                m.test_methods.iter().find(|t| t.id == ds.method).map(|t| t.standard.clone()).unwrap_or_default();
            let fixed: BTreeMap<String, (f64, String)> =
                ds.conditions.iter().filter_map(|(n, c)| c.value.map(|v| (n.clone(), (v, c.unit.clone())))).collect();
            let rows = d
                .measurements
                .iter()
                .map(|meas| {
                    let mut conditions = fixed.clone();
                    for (i, (name, _)) in d.spec.condition_columns.iter().enumerate() {
                        if let (Some(v), Some(c)) = (meas.conditions.get(i), ds.conditions.get(name)) {
                            conditions.insert(name.clone(), (*v, c.unit.clone()));
                        }
                    }
                    EvidenceRow {
                        specimen: meas.specimen.clone(),
                        batch: Arc::from(meas.batch.as_str()),
                        value: meas.value,
                        conditions: Arc::new(conditions),
                    }
                })
                .collect();
            Some(EvidenceDataset {
                id: d.spec.id.clone(),
                property: d.spec.property.clone(),
                unit: d.spec.unit.clone(),
                standard,
                rows,
            })
        })
        .collect();
    Evidence {
        digest: v.digest().to_string(),
        name: m.name.clone(),
        version: m.version.clone(),
        organisation: m.lab.name.clone(),
        source: Source::of_material(&m.material),
        signers: v
            .signatures()
            .iter()
            .filter_map(|s| {
                s.key_id.as_ref().map(|k| Signer {
                    key_id: k.as_str().to_owned(),
                    organisation: None,
                    kind: "signature".into(),
                })
            })
            .collect(),
        datasets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_ids_are_stable_slugs() {
        assert_eq!(
            material_id("Example Sintered Magnets Co. (fictional)", "N42SH"),
            "example-sintered-magnets-co-fictional--n42sh"
        );
        assert_eq!(material_id("Westerwald Ferrite GmbH", "Y30BH"), material_id("westerwald  ferrite gmbh", "y30bh"));
    }
}

/// The compact form of a dataset's rows that the registry stores beside each dataset:
/// `{"b": [batch ids], "c": [other condition sets], "r": [[value, batch index, °C or null, set index]]}`.
/// Temperatures are converted to °C; other conditions keep their units.
pub fn encode_rows(rows: &[EvidenceRow]) -> String {
    let mut batches: Vec<&str> = Vec::new();
    let mut sets: Vec<BTreeMap<String, (f64, String)>> = Vec::new();
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let b = batches.iter().position(|x| *x == &*r.batch).unwrap_or_else(|| {
            batches.push(&r.batch);
            batches.len() - 1
        });
        let mut others = (*r.conditions).clone();
        let celsius = others.remove("temperature").and_then(|(v, u)| crate::units::Unit::to_celsius(v, &u));
        if celsius.is_none()
            && let Some(t) = r.conditions.get("temperature")
        {
            others.insert("temperature".into(), t.clone());
        }
        let c = sets.iter().position(|x| *x == others).unwrap_or_else(|| {
            sets.push(others);
            sets.len() - 1
        });
        out.push(serde_json::json!([r.value, b, celsius, c]));
    }
    serde_json::json!({"b": batches, "c": sets, "r": out}).to_string()
}

#[derive(serde::Deserialize)]
struct Compact {
    b: Vec<String>,
    c: Vec<BTreeMap<String, (f64, String)>>,
    r: Vec<(f64, usize, Option<f64>, usize)>,
}

/// Reads [`encode_rows`]' form back, keeping the rows whose temperature lies in one of
/// `windows_c` (°C, inclusive); every row when `windows_c` is empty.
pub fn decode_rows(text: &str, windows_c: &[(f64, f64)]) -> Result<Vec<EvidenceRow>, String> {
    let compact: Compact = serde_json::from_str(text).map_err(|e| format!("stored dataset rows: {e}"))?;
    let batches: Vec<Arc<str>> = compact.b.iter().map(|b| Arc::from(b.as_str())).collect();
    // Rows at one temperature with the same other conditions share one condition set, keyed by
    // (set index, temperature bits).
    type SetKey = (usize, Option<u64>);
    let mut sets: Vec<(SetKey, Arc<Conditions>)> = Vec::new();
    let mut out = Vec::with_capacity(compact.r.len());
    for (value, b, t, c) in compact.r {
        if !windows_c.is_empty() && !t.is_some_and(|t| windows_c.iter().any(|(lo, hi)| (*lo..=*hi).contains(&t))) {
            continue;
        }
        let key = (c, t.map(f64::to_bits));
        let conditions = match sets.iter().find(|(k, _)| *k == key) {
            Some((_, set)) => Arc::clone(set),
            None => {
                let mut set = compact.c.get(c).cloned().ok_or("stored dataset rows: bad condition index")?;
                if let Some(t) = t {
                    set.insert("temperature".into(), (t, "Cel".into()));
                }
                let set = Arc::new(set);
                sets.push((key, Arc::clone(&set)));
                set
            }
        };
        let batch = batches.get(b).cloned().ok_or("stored dataset rows: bad batch index")?;
        out.push(EvidenceRow { specimen: String::new(), batch, value, conditions });
    }
    Ok(out)
}

#[cfg(test)]
mod compact_tests {
    use super::*;

    #[test]
    fn rows_round_trip_in_celsius() {
        let row = |v: f64, b: &str, t: f64, u: &str| EvidenceRow {
            specimen: "s".into(),
            batch: b.into(),
            value: v,
            conditions: Arc::new(BTreeMap::from([
                ("temperature".to_owned(), (t, u.to_owned())),
                ("c_rate".to_owned(), (1.0, "/h".to_owned())),
            ])),
        };
        let rows = vec![row(1.5, "L1", 20.0, "Cel"), row(2.5, "L2", 423.15, "K")];
        let text = encode_rows(&rows);
        let back = decode_rows(&text, &[]).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(&*back[1].batch, "L2");
        assert!((back[1].conditions["temperature"].0 - 150.0).abs() < 1e-9);
        assert_eq!(back[0].conditions["c_rate"], (1.0, "/h".to_owned()));
        assert_eq!(decode_rows(&text, &[(140.0, 160.0)]).unwrap().len(), 1);
        assert_eq!(decode_rows(&text, &[(10.0, 30.0), (140.0, 160.0)]).unwrap().len(), 2);
        assert!(decode_rows(&text, &[(30.0, 140.0)]).unwrap().is_empty());
        assert!(decode_rows("{", &[]).is_err());
    }
}

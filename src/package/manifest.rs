//! `data/prequal.json`: the qualification manifest of a package.
//!
//! The serde types here are the wire format (their JSON Schema is generated into
//! `openapi/prequal-manifest.schema.json`). [`Manifest::check`] applies the rules a schema cannot
//! express: known properties and units, dataset files, lots, composition. It reports every problem
//! it finds, not just the first.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::error::PackageError;
use super::schema::{self, SchemaReport};
use super::vocabulary::{self, MaterialClass};
use crate::units::{Dimension, Unit};

/// The value of the `format` field this version of prequal writes and reads.
pub const FORMAT: &str = "prequal-package/1";

/// The qualification manifest (`data/prequal.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always `prequal-package/1`.
    pub format: String,
    /// Package name: lowercase letters, digits and `-`, 3 to 64 characters.
    pub name: String,
    /// Package version, e.g. `1.0.0`. A name and version identify one package for ever.
    pub version: String,
    pub title: String,
    pub description: String,
    /// True when the data were generated rather than measured. Synthetic data must say so.
    pub synthetic: bool,
    /// Publication date, `YYYY-MM-DD`.
    pub date_published: String,
    /// SPDX licence identifier of the data, e.g. `CC-BY-4.0`.
    pub license: String,
    /// DOIs or other persistent identifiers of this data set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identifiers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    pub creators: Vec<Creator>,
    pub lab: Lab,
    pub material: Material,
    pub test_methods: Vec<TestMethod>,
    pub datasets: Vec<Dataset>,
    /// Demagnetisation curves (J–H, B–H). They are curves, not properties: fit reports and search
    /// never read them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curves: Vec<Curve>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    pub releasability: Releasability,
    /// Terms of use beyond the licence (IP, export control, citation requirements).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<Terms>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Creator {
    pub name: String,
    /// ORCID iD, e.g. `https://orcid.org/0000-0002-1825-0097`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orcid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<String>,
}

/// The laboratory that produced the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    pub name: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// The lab's web address (RO-Crate recommends one for every organisation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accreditation: Option<Accreditation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Accreditation {
    /// Accreditation body, e.g. `A2LA`, `UKAS`, `DAkkS`.
    pub body: String,
    /// Standard accredited against, e.g. `ISO/IEC 17025:2017`.
    pub standard: String,
    pub certificate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
}

/// The material the package characterises.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Material {
    pub class: MaterialClass,
    /// Material family, e.g. `sintered NdFeB`, `sintered Sr ferrite`, `LFP/graphite`.
    pub family: String,
    /// Commercial or standard designation, e.g. `N42SH`, `Y30BH`.
    pub designation: String,
    pub producer: Producer,
    /// Process route, e.g. `sintered, grain-boundary diffused (Dy)`.
    pub process_route: String,
    /// Production lots (batches); every CSV row names one.
    pub lots: Vec<Lot>,
    /// Element mass fractions (0 to 1); they should sum to about 1.
    pub composition: Vec<ElementFraction>,
    /// Where constituents come from, for supply-resilience analysis.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constituent_origins: Vec<ConstituentOrigin>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Producer {
    pub name: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lot {
    pub id: String,
    /// Production date, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ElementFraction {
    /// Element symbol, e.g. `Nd`, `Dy`, `Fe`.
    pub element: String,
    /// Mass fraction, 0 to 1.
    pub mass_fraction: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConstituentOrigin {
    pub element: String,
    /// ISO 3166-1 alpha-2 country code of the refiner or mine.
    pub country: String,
    /// Share of this element sourced from that country, 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMethod {
    /// Referenced by datasets.
    pub id: String,
    /// e.g. `IEC 60404-5:2015`.
    pub standard: String,
    pub equipment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Calibration {
    /// Calibration certificate or reference material.
    pub reference: String,
    /// `YYYY-MM-DD`.
    pub date: String,
}

/// One table of specimen measurements of one property.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    /// Unique within the package; cited by fit reports.
    pub id: String,
    /// A vocabulary property (e.g. `intrinsic_coercivity`) or `x-<namespace>.<name>`.
    pub property: String,
    /// UCUM code of the values, compatible with the property.
    pub unit: String,
    /// Id of a test method.
    pub method: String,
    /// CSV file, relative to `data/`.
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Test conditions; `temperature` is required.
    pub conditions: BTreeMap<String, Condition>,
    /// Column names in the CSV file, when they differ from the defaults.
    #[serde(default)]
    pub columns: Columns,
}

/// A test condition: fixed for the whole dataset (`value`) or given per row (`column`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// UCUM code, e.g. `Cel`.
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// CSV column holding the condition per row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Control tolerance (±, same unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    #[serde(default = "default_specimen")]
    pub specimen: String,
    #[serde(default = "default_batch")]
    pub batch: String,
    #[serde(default = "default_value")]
    pub value: String,
}

fn default_specimen() -> String {
    "specimen".into()
}
fn default_batch() -> String {
    "batch".into()
}
fn default_value() -> String {
    "value".into()
}

impl Default for Columns {
    fn default() -> Self {
        Columns { specimen: default_specimen(), batch: default_batch(), value: default_value() }
    }
}

/// Which columns a demagnetisation-curve file holds besides the field strength H.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum CurveKind {
    /// The intrinsic curve: polarisation J against H.
    #[serde(rename = "J-H")]
    Intrinsic,
    /// The normal curve: flux density B against H.
    #[serde(rename = "B-H")]
    Normal,
    /// Both, J and B, for every point (B = μ0·H + J is checked).
    #[serde(rename = "J-H+B-H")]
    Both,
}

impl CurveKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Intrinsic => "J-H",
            Self::Normal => "B-H",
            Self::Both => "J-H+B-H",
        }
    }

    pub fn has_polarisation(self) -> bool {
        matches!(self, Self::Intrinsic | Self::Both)
    }

    pub fn has_induction(self) -> bool {
        matches!(self, Self::Normal | Self::Both)
    }
}

/// Demagnetisation curves of specimens at one temperature: one CSV row per point of one
/// specimen's curve (specimen, batch, H, and J and/or B).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Curve {
    /// Unique among the package's datasets and curves.
    pub id: String,
    /// `J-H`, `B-H` or `J-H+B-H` (both columns).
    pub kind: CurveKind,
    /// Id of a test method.
    pub method: String,
    /// CSV file, relative to `data/`.
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Test temperature of every point, with its UCUM unit (e.g. `Cel`).
    pub temperature: FixedCondition,
    /// UCUM code of the field strength column: `A/m`, `kA/m`, `MA/m`, `Oe` or `kOe`.
    pub field_unit: String,
    /// UCUM code of the J and B columns: `T`, `mT`, `G` or `kG`.
    pub flux_density_unit: String,
    /// Column names in the CSV file, when they differ from the defaults.
    #[serde(default)]
    pub columns: CurveColumns,
}

/// A condition fixed for a whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixedCondition {
    /// UCUM code, e.g. `Cel`.
    pub unit: String,
    pub value: f64,
    /// Control tolerance (±, same unit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CurveColumns {
    #[serde(default = "default_specimen")]
    pub specimen: String,
    #[serde(default = "default_batch")]
    pub batch: String,
    /// Field strength H.
    #[serde(default = "default_field")]
    pub field: String,
    /// Polarisation J (`J-H` curves).
    #[serde(default = "default_polarisation")]
    pub polarisation: String,
    /// Flux density B (`B-H` curves).
    #[serde(default = "default_induction")]
    pub induction: String,
}

fn default_field() -> String {
    "H".into()
}
fn default_polarisation() -> String {
    "J".into()
}
fn default_induction() -> String {
    "B".into()
}

impl Default for CurveColumns {
    fn default() -> Self {
        CurveColumns {
            specimen: default_specimen(),
            batch: default_batch(),
            field: default_field(),
            polarisation: default_polarisation(),
            induction: default_induction(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// File, relative to `data/`.
    pub file: String,
    pub description: String,
    /// IANA media type, e.g. `application/pdf`, `text/csv`.
    pub media_type: String,
}

/// Who may read the package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "level", rename_all = "snake_case", deny_unknown_fields)]
pub enum Releasability {
    /// Everyone, including anonymous readers.
    Public,
    /// Organisations of the listed countries (ISO 3166-1 alpha-2).
    Allied { countries: Vec<String> },
    /// Only the listed organisations (registry organisation ids).
    Restricted { organisations: Vec<String> },
}

impl Releasability {
    /// The level as stored and logged: `public`, `allied` or `restricted`.
    pub fn level(&self) -> &'static str {
        match self {
            Releasability::Public => "public",
            Releasability::Allied { .. } => "allied",
            Releasability::Restricted { .. } => "restricted",
        }
    }

    /// Whether a copy kept for organisations of `country` (a mirror of an allied body) may hold
    /// the package: public ones, and allied ones that list the country; never restricted ones.
    pub fn releasable_to_country(&self, country: &str) -> bool {
        match self {
            Releasability::Public => true,
            Releasability::Allied { countries } => countries.iter().any(|c| c == country),
            Releasability::Restricted { .. } => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Terms {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intellectual_property: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citation: Option<String>,
}

/// Chemical element symbols, for composition checks.
const ELEMENTS: &[&str] = &[
    "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar", "K", "Ca",
    "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",
    "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce",
    "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir",
    "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U",
];

/// A dataset whose property, unit and conditions have been resolved against the vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetSpec {
    pub id: String,
    pub property: String,
    pub unit: String,
    /// Dimension of the values; `None` for extension properties in units prequal does not know.
    pub dimension: Option<Dimension>,
    pub file: String,
    pub columns: Columns,
    /// Conditions read per row: (condition name, column name).
    pub condition_columns: Vec<(String, String)>,
}

/// A curve whose units and temperature have been resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveSpec {
    pub id: String,
    pub kind: CurveKind,
    pub file: String,
    pub columns: CurveColumns,
    /// The field strength unit, when it is a known field strength unit.
    pub field_unit: Option<Unit>,
    /// The J/B unit, when it is a known flux density unit.
    pub flux_density_unit: Option<Unit>,
    /// Test temperature in °C, when its unit is a known temperature unit.
    pub temperature_c: Option<f64>,
}

/// What [`Manifest::resolve`] makes of the datasets and curves.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Specs {
    pub datasets: Vec<DatasetSpec>,
    pub curves: Vec<CurveSpec>,
}

impl Manifest {
    /// Parses `prequal.json` bytes (already size- and depth-checked by the caller); the first
    /// problem when there is any. [`Manifest::parse`] reports them all.
    pub fn from_json(file: &str, bytes: &[u8]) -> Result<Manifest, PackageError> {
        let (manifest, report) = Manifest::parse(file, bytes).map_err(|mut problems| problems.remove(0))?;
        match report.problems.into_iter().next() {
            Some(first) => Err(first),
            None => Ok(manifest),
        }
    }

    /// Parses `prequal.json` bytes and checks them against the published JSON Schema, reporting
    /// every problem with its path. When the schema walk found problems, the manifest returned is
    /// its repaired copy (placeholders for missing fields): good for running the checks after the
    /// schema and reporting their problems too (keep those the report [`SchemaReport::keeps`]),
    /// never for accepting the package. `Err` when the bytes are not JSON, or are so far from a
    /// manifest that even the repaired copy does not read.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<(Manifest, SchemaReport), Vec<PackageError>> {
        let doc: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| vec![PackageError::json(file, &e)])?;
        let report = schema::check(&doc);
        match Manifest::deserialize(&report.repaired) {
            Ok(manifest) => Ok((manifest, report)),
            Err(e) if report.problems.is_empty() => Err(vec![PackageError::json(file, &e)]),
            Err(_) => Err(report.problems),
        }
    }

    /// Everything [`Manifest::parse`] and [`Manifest::resolve`] find, together: the schema's
    /// problems, then the semantic ones not already covered by them. The manifest and specs are
    /// returned whenever the document could be read at all, so CSV files can be checked as well.
    pub fn parse_and_resolve(file: &str, bytes: &[u8]) -> (Option<(Manifest, Specs)>, Vec<PackageError>) {
        match Manifest::parse(file, bytes) {
            Err(problems) => (None, problems),
            Ok((manifest, report)) => {
                let (specs, found) = manifest.resolve();
                let mut problems = report.problems.clone();
                problems.extend(found.into_iter().filter(|p| report.keeps(p)));
                (Some((manifest, specs)), problems)
            }
        }
    }

    /// Canonical bytes: pretty JSON with a trailing newline, field order as declared.
    pub fn to_canonical_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Every rule beyond the schema. Returns the resolved datasets and curves, or every problem
    /// found.
    pub fn check(&self) -> Result<Specs, Vec<PackageError>> {
        let (specs, problems) = self.resolve();
        if problems.is_empty() { Ok(specs) } else { Err(problems) }
    }

    /// Like [`Manifest::check`], but always returns a spec for every dataset and curve as far as it
    /// could be resolved, so callers can go on to check the CSV files and report their problems too.
    pub fn resolve(&self) -> (Specs, Vec<PackageError>) {
        let mut problems = Vec::new();
        let mut push = |e: PackageError| problems.push(e);

        if self.format != FORMAT {
            push(PackageError::field("format", format!("must be '{FORMAT}', found '{}'", self.format)));
        }
        if !is_slug(&self.name) {
            push(PackageError::field("name", "use 3 to 64 lowercase letters, digits and '-', starting with a letter"));
        }
        if !is_version(&self.version) {
            push(PackageError::field("version", "use a version such as 1.0.0 (digits and dots, optional -suffix)"));
        }
        for (field, value) in [("title", &self.title), ("description", &self.description), ("license", &self.license)] {
            if value.trim().is_empty() {
                push(PackageError::field(field, "must not be empty"));
            }
        }
        if !is_date(&self.date_published) {
            push(PackageError::field("date_published", format!("'{}' is not a YYYY-MM-DD date", self.date_published)));
        }
        if self.creators.is_empty() {
            push(PackageError::field("creators", "name at least one creator"));
        }
        if !is_country(&self.lab.country) {
            push(PackageError::field(
                "lab.country",
                format!("'{}' is not an ISO 3166-1 alpha-2 code", self.lab.country),
            ));
        }
        if self.lab.name.trim().is_empty() {
            push(PackageError::field("lab.name", "must not be empty"));
        }
        if let Some(acc) = &self.lab.accreditation
            && let Some(date) = &acc.valid_until
            && !is_date(date)
        {
            push(PackageError::field("lab.accreditation.valid_until", format!("'{date}' is not a YYYY-MM-DD date")));
        }
        self.check_material(&mut push);

        let method_ids: BTreeSet<&str> = self.test_methods.iter().map(|m| m.id.as_str()).collect();
        if method_ids.len() != self.test_methods.len() {
            push(PackageError::field("test_methods", "method ids must be unique"));
        }
        for (i, m) in self.test_methods.iter().enumerate() {
            if m.standard.trim().is_empty() {
                push(PackageError::field(format!("test_methods[{i}].standard"), "name the test standard"));
            }
            if let Some(cal) = &m.calibration
                && !is_date(&cal.date)
            {
                push(PackageError::field(
                    format!("test_methods[{i}].calibration.date"),
                    format!("'{}' is not a YYYY-MM-DD date", cal.date),
                ));
            }
        }

        if self.datasets.is_empty() {
            push(PackageError::field("datasets", "a package needs at least one dataset"));
        }
        let mut files = BTreeSet::new();
        let mut ids = BTreeSet::new();
        let mut specs = Vec::new();
        for (i, ds) in self.datasets.iter().enumerate() {
            let at = format!("datasets[{i}]");
            if !is_identifier(&ds.id) {
                push(PackageError::field(format!("{at}.id"), "use letters, digits, '-', '_' and '.'"));
            } else if !ids.insert(ds.id.as_str()) {
                push(PackageError::field(format!("{at}.id"), format!("dataset id '{}' is used twice", ds.id)));
            }
            if !method_ids.contains(ds.method.as_str()) {
                push(PackageError::field(
                    format!("{at}.method"),
                    format!("'{}' is not a test method id (known: {})", ds.method, join(method_ids.iter())),
                ));
            }
            if let Err(detail) = check_relative_file(&ds.file) {
                push(PackageError::field(format!("{at}.file"), detail));
            } else if !files.insert(ds.file.as_str()) {
                push(PackageError::field(
                    format!("{at}.file"),
                    format!("'{}' is used by two datasets, curves or attachments", ds.file),
                ));
            }
            if !ds.file.ends_with(".csv") {
                push(PackageError::field(format!("{at}.file"), "datasets are CSV files ending in .csv"));
            }
            let dimension = check_property(&at, ds, &mut push);
            let condition_columns = check_conditions(&at, ds, &mut push);
            specs.push(DatasetSpec {
                id: ds.id.clone(),
                property: ds.property.clone(),
                unit: ds.unit.clone(),
                dimension,
                file: ds.file.clone(),
                columns: ds.columns.clone(),
                condition_columns,
            });
        }
        if !self.curves.is_empty() && self.material.class != MaterialClass::PermanentMagnet {
            push(PackageError::field(
                "curves",
                format!(
                    "demagnetisation curves describe permanent magnets, not a material of class '{}'",
                    self.material.class.as_str()
                ),
            ));
        }
        let mut curves = Vec::new();
        for (i, curve) in self.curves.iter().enumerate() {
            let at = format!("curves[{i}]");
            if !is_identifier(&curve.id) {
                push(PackageError::field(format!("{at}.id"), "use letters, digits, '-', '_' and '.'"));
            } else if !ids.insert(curve.id.as_str()) {
                push(PackageError::field(
                    format!("{at}.id"),
                    format!("id '{}' is already used by a dataset or curve", curve.id),
                ));
            }
            if !method_ids.contains(curve.method.as_str()) {
                push(PackageError::field(
                    format!("{at}.method"),
                    format!("'{}' is not a test method id (known: {})", curve.method, join(method_ids.iter())),
                ));
            }
            if let Err(detail) = check_relative_file(&curve.file) {
                push(PackageError::field(format!("{at}.file"), detail));
            } else if !files.insert(curve.file.as_str()) {
                push(PackageError::field(
                    format!("{at}.file"),
                    format!("'{}' is used by two datasets, curves or attachments", curve.file),
                ));
            }
            if !curve.file.ends_with(".csv") {
                push(PackageError::field(format!("{at}.file"), "curves are CSV files ending in .csv"));
            }
            curves.push(check_curve(&at, curve, &mut push));
        }
        for (i, att) in self.attachments.iter().enumerate() {
            if let Err(detail) = check_relative_file(&att.file) {
                push(PackageError::field(format!("attachments[{i}].file"), detail));
            } else if !files.insert(att.file.as_str()) {
                push(PackageError::field(
                    format!("attachments[{i}].file"),
                    format!("'{}' is used by two datasets, curves or attachments", att.file),
                ));
            }
            if att.file == "prequal.json" || att.file == "ro-crate-metadata.json" {
                push(PackageError::field(format!("attachments[{i}].file"), "that name is reserved"));
            }
        }
        match &self.releasability {
            Releasability::Public => {}
            Releasability::Allied { countries } => {
                if countries.is_empty() {
                    push(PackageError::field("releasability.countries", "list at least one country"));
                }
                for c in countries.iter().filter(|c| !is_country(c)) {
                    push(PackageError::field(
                        "releasability.countries",
                        format!("'{c}' is not an ISO 3166-1 alpha-2 code"),
                    ));
                }
            }
            Releasability::Restricted { organisations } => {
                if organisations.is_empty() {
                    push(PackageError::field("releasability.organisations", "list at least one organisation"));
                }
            }
        }
        (Specs { datasets: specs, curves }, problems)
    }

    fn check_material(&self, push: &mut impl FnMut(PackageError)) {
        let m = &self.material;
        for (field, value) in [
            ("material.family", &m.family),
            ("material.designation", &m.designation),
            ("material.process_route", &m.process_route),
            ("material.producer.name", &m.producer.name),
        ] {
            if value.trim().is_empty() {
                push(PackageError::field(field, "must not be empty"));
            }
        }
        if !is_country(&m.producer.country) {
            push(PackageError::field(
                "material.producer.country",
                format!("'{}' is not an ISO 3166-1 alpha-2 code", m.producer.country),
            ));
        }
        if m.lots.is_empty() {
            push(PackageError::field("material.lots", "list at least one production lot"));
        }
        let lot_ids: BTreeSet<&str> = m.lots.iter().map(|l| l.id.as_str()).collect();
        if lot_ids.len() != m.lots.len() {
            push(PackageError::field("material.lots", "lot ids must be unique"));
        }
        if m.composition.is_empty() {
            push(PackageError::field("material.composition", "give the element mass fractions"));
        }
        let mut seen = BTreeSet::new();
        let mut total = 0.0;
        for (i, ef) in m.composition.iter().enumerate() {
            if !ELEMENTS.contains(&ef.element.as_str()) {
                push(PackageError::field(
                    format!("material.composition[{i}].element"),
                    format!("'{}' is not an element symbol", ef.element),
                ));
            } else if !seen.insert(ef.element.as_str()) {
                push(PackageError::field(
                    format!("material.composition[{i}].element"),
                    format!("'{}' is listed twice", ef.element),
                ));
            }
            if !(0.0..=1.0).contains(&ef.mass_fraction) {
                push(PackageError::field(
                    format!("material.composition[{i}].mass_fraction"),
                    "must be between 0 and 1",
                ));
            }
            total += ef.mass_fraction;
        }
        if !m.composition.is_empty() && !(0.98..=1.0001).contains(&total) {
            push(PackageError::field(
                "material.composition",
                format!("mass fractions sum to {total:.4}; they must sum to 1 (±0.02, the rest unlisted)"),
            ));
        }
        for (i, origin) in m.constituent_origins.iter().enumerate() {
            if !ELEMENTS.contains(&origin.element.as_str()) {
                push(PackageError::field(
                    format!("material.constituent_origins[{i}].element"),
                    format!("'{}' is not an element symbol", origin.element),
                ));
            }
            if !is_country(&origin.country) {
                push(PackageError::field(
                    format!("material.constituent_origins[{i}].country"),
                    format!("'{}' is not an ISO 3166-1 alpha-2 code", origin.country),
                ));
            }
            if let Some(share) = origin.share
                && !(0.0..=1.0).contains(&share)
            {
                push(PackageError::field(
                    format!("material.constituent_origins[{i}].share"),
                    "must be between 0 and 1",
                ));
            }
        }
    }
}

/// Resolves a dataset's property and unit; returns the value dimension when known.
fn check_property(at: &str, ds: &Dataset, push: &mut impl FnMut(PackageError)) -> Option<Dimension> {
    let unit = Unit::parse(&ds.unit);
    match vocabulary::property(&ds.property) {
        Some(def) => match unit {
            Err(_) => {
                push(PackageError::UnknownUnit {
                    field: format!("{at}.unit"),
                    unit: ds.unit.clone(),
                    hint: format!("for {} e.g. {}", def.name, Unit::codes_for(def.dimension).join(", ")),
                });
                None
            }
            Ok(unit) if unit.dimension() != def.dimension => {
                push(PackageError::UnitIncompatible {
                    field: format!("{at}.unit"),
                    unit: ds.unit.clone(),
                    found: unit.dimension().describe().to_owned(),
                    what: format!("property '{}'", def.name),
                    expected: def.dimension.describe().to_owned(),
                    accepted: Unit::codes_for(def.dimension).join(", "),
                });
                None
            }
            Ok(unit) => Some(unit.dimension()),
        },
        None if vocabulary::is_extension_name(&ds.property) => {
            if ds.unit.trim().is_empty() {
                push(PackageError::field(format!("{at}.unit"), "must not be empty"));
            }
            unit.ok().map(|u| u.dimension())
        }
        None => {
            push(PackageError::UnknownProperty {
                field: format!("{at}.property"),
                property: ds.property.clone(),
                known: vocabulary::property_names().join(", "),
            });
            None
        }
    }
}

/// Resolves a curve's units and temperature.
fn check_curve(at: &str, curve: &Curve, push: &mut impl FnMut(PackageError)) -> CurveSpec {
    let unit_of = |field: &str, code: &str, dimension: Dimension, what: &str, push: &mut dyn FnMut(PackageError)| {
        match Unit::parse(code) {
            Err(_) => {
                push(PackageError::UnknownUnit {
                    field: format!("{at}.{field}"),
                    unit: code.to_owned(),
                    hint: format!("for {what} e.g. {}", Unit::codes_for(dimension).join(", ")),
                });
                None
            }
            Ok(unit) if unit.dimension() != dimension => {
                push(PackageError::UnitIncompatible {
                    field: format!("{at}.{field}"),
                    unit: code.to_owned(),
                    found: unit.dimension().describe().to_owned(),
                    what: what.to_owned(),
                    expected: dimension.describe().to_owned(),
                    accepted: Unit::codes_for(dimension).join(", "),
                });
                None
            }
            Ok(unit) => Some(unit),
        }
    };
    let field_unit =
        unit_of("field_unit", &curve.field_unit, Dimension::FIELD_STRENGTH, "the field strength H", &mut *push);
    let flux_density_unit = unit_of(
        "flux_density_unit",
        &curve.flux_density_unit,
        Dimension::FLUX_DENSITY,
        "the polarisation J and flux density B",
        &mut *push,
    );
    let t = &curve.temperature;
    let temperature_unit =
        unit_of("temperature.unit", &t.unit, Dimension::TEMPERATURE, "the test temperature", &mut *push);
    if !t.value.is_finite() {
        push(PackageError::field(format!("{at}.temperature.value"), "must be a finite number"));
    }
    if let Some(tol) = t.tolerance
        && !(tol.is_finite() && tol >= 0.0)
    {
        push(PackageError::field(format!("{at}.temperature.tolerance"), "must be a non-negative number"));
    }
    let c = &curve.columns;
    let mut names = vec![&c.specimen, &c.batch, &c.field];
    if curve.kind.has_polarisation() {
        names.push(&c.polarisation);
    }
    if curve.kind.has_induction() {
        names.push(&c.induction);
    }
    if names.iter().enumerate().any(|(i, n)| n.trim().is_empty() || names[..i].contains(n)) {
        push(PackageError::field(format!("{at}.columns"), "column names must be non-empty and distinct"));
    }
    CurveSpec {
        id: curve.id.clone(),
        kind: curve.kind,
        file: curve.file.clone(),
        columns: curve.columns.clone(),
        field_unit,
        flux_density_unit,
        temperature_c: temperature_unit.and_then(|_| Unit::to_celsius(t.value, &t.unit)).filter(|v| v.is_finite()),
    }
}

/// Checks a dataset's conditions; returns the per-row condition columns.
fn check_conditions(at: &str, ds: &Dataset, push: &mut impl FnMut(PackageError)) -> Vec<(String, String)> {
    let mut columns = Vec::new();
    if !ds.conditions.contains_key("temperature") {
        push(PackageError::field(
            format!("{at}.conditions"),
            "every dataset states its test temperature ('temperature')",
        ));
    }
    for (name, cond) in &ds.conditions {
        let field = format!("{at}.conditions.{name}");
        let def = vocabulary::condition(name);
        if def.is_none() && !vocabulary::is_extension_name(name) {
            push(PackageError::UnknownCondition {
                field: field.clone(),
                condition: name.clone(),
                known: vocabulary::condition_names().join(", "),
            });
        }
        match (Unit::parse(&cond.unit), def) {
            (Err(_), Some(def)) => push(PackageError::UnknownUnit {
                field: format!("{field}.unit"),
                unit: cond.unit.clone(),
                hint: format!("for {} e.g. {}", def.name, Unit::codes_for(def.dimension).join(", ")),
            }),
            (Ok(unit), Some(def)) if unit.dimension() != def.dimension => push(PackageError::UnitIncompatible {
                field: format!("{field}.unit"),
                unit: cond.unit.clone(),
                found: unit.dimension().describe().to_owned(),
                what: format!("condition '{name}'"),
                expected: def.dimension.describe().to_owned(),
                accepted: Unit::codes_for(def.dimension).join(", "),
            }),
            _ => {}
        }
        match (&cond.value, &cond.column) {
            (Some(v), None) if !v.is_finite() => {
                push(PackageError::field(format!("{field}.value"), "must be a finite number"))
            }
            (Some(_), None) => {}
            (None, Some(column)) => columns.push((name.clone(), column.clone())),
            _ => push(PackageError::field(field, "give exactly one of 'value' (fixed) or 'column' (per row)")),
        }
        if let Some(tol) = cond.tolerance
            && !(tol.is_finite() && tol >= 0.0)
        {
            push(PackageError::field(format!("{at}.conditions.{name}.tolerance"), "must be a non-negative number"));
        }
    }
    columns
}

fn join<'a>(items: impl Iterator<Item = &'a &'a str>) -> String {
    items.copied().collect::<Vec<_>>().join(", ")
}

/// A path relative to `data/` with plain components only.
pub(crate) fn check_relative_file(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("must not be empty".into());
    }
    if path.starts_with('/') || path.contains('\\') {
        return Err(format!("'{path}' must be a relative path with '/' separators"));
    }
    for part in path.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(format!("'{path}' has an empty, '.' or '..' component"));
        }
        if part.chars().any(|c| c.is_control()) {
            return Err(format!("'{path}' contains a control character"));
        }
    }
    Ok(())
}

fn is_slug(s: &str) -> bool {
    (3..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn is_version(s: &str) -> bool {
    let (core, suffix) = s.split_once('-').unwrap_or((s, ""));
    !core.is_empty()
        && s.len() <= 64
        && core.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && suffix.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
}

pub(crate) fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|p| p.parse::<u32>().ok());
    matches!((num(0..4), num(5..7), num(8..10)), (Some(_), Some(m), Some(d)) if (1..=12).contains(&m) && (1..=31).contains(&d))
}

pub(crate) fn is_country(s: &str) -> bool {
    s.len() == 2 && s.chars().all(|c| c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_validators() {
        assert!(is_slug("ndfeb-n42sh"));
        assert!(!is_slug("NdFeB"));
        assert!(!is_slug("ab"));
        assert!(is_version("1.0.0"));
        assert!(is_version("2.1-rc1"));
        assert!(!is_version("v1"));
        assert!(is_date("2026-11-01"));
        assert!(!is_date("2026-13-01"));
        assert!(!is_date("01/11/2026"));
        assert!(is_country("US"));
        assert!(!is_country("USA"));
        assert!(check_relative_file("a/b.csv").is_ok());
        assert!(check_relative_file("../b.csv").is_err());
        assert!(check_relative_file("/b.csv").is_err());
        assert!(check_relative_file("a\\b.csv").is_err());
    }
}

//! A hysteresigraph's export → a demagnetisation curve and the values IEC 60404-5 reads off it.
//!
//! The export is a CSV file of one specimen's curve: a header naming H and J and/or B with their
//! units (`H (kA/m)`, `J (T)`, `B (T)`; also `H [kOe]` or `H / kOe`; units `A/m kA/m MA/m Oe kOe`
//! and `T mT G kG`, see `crate::units`), then one row per point in the order measured. Other
//! columns are ignored. H is negative in the second quadrant (the demagnetising field), as
//! hysteresigraphs record it; a curve given as positive field magnitudes has no second quadrant
//! and is refused.
//!
//! Written to the source folder: the points (H in kA/m, J and B in T; the one the export lacks
//! computed from B = μ0·H + J) appended to the curve file of the test temperature, and four
//! datasets at that temperature, each value found by linear interpolation between neighbouring
//! points:
//! - `remanence` Br = J at H = 0 (between the two points either side of H = 0, where J > 0);
//! - `intrinsic_coercivity` HcJ = −H where J changes sign at negative H;
//! - `normal_coercivity` HcB = −H where B changes sign at negative H;
//! - `max_energy_product` (BH)max = the largest −H·B with H ≤ 0 and B ≥ 0; on each segment −H·B
//!   is a quadratic in the interpolation parameter, so its maximum inside a segment counts too.
//!
//! A value that cannot be read off the curve (it never reaches H = 0, J or B never changes sign
//! at negative H) refuses the import, with nothing written.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use serde_json::json;

use super::source::{Section, SourceFolder, Table, csv_text};
use super::{fixed, number, parse_temperature, specimen_from_file_name};
use crate::package::curve::{MU0, read_curve_csv};
use crate::package::manifest::{CurveColumns, CurveKind, CurveSpec};
use crate::package::{PackageError, Rejection};
use crate::units::{Dimension, Unit};

/// One point of the curve, in SI: H in A/m, J and B in T.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub h: f64,
    pub j: f64,
    pub b: f64,
}

/// The values read off one curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Derived {
    /// Br, T.
    pub remanence_t: f64,
    /// HcJ, kA/m.
    pub hcj_ka_per_m: f64,
    /// HcB, kA/m.
    pub hcb_ka_per_m: f64,
    /// (BH)max, kJ/m³.
    pub bh_max_kj_per_m3: f64,
}

/// A column header `NAME (UNIT)`, `NAME [UNIT]` or `NAME / UNIT`: (name, unit).
fn split_header(header: &str) -> Option<(&str, &str)> {
    let h = header.trim();
    for (open, close) in [('(', ')'), ('[', ']')] {
        if let Some(inner) = h.strip_suffix(close)
            && let Some(at) = inner.find(open)
        {
            return Some((inner[..at].trim(), inner[at + 1..].trim()));
        }
    }
    h.split_once(" / ").map(|(n, u)| (n.trim(), u.trim()))
}

/// Reads the export: the points in file order.
pub fn read_export(reader: &mut dyn Read, file: &str) -> Result<Vec<Point>, Vec<PackageError>> {
    let invalid = |line: u64, detail: String| PackageError::CsvInvalid { file: file.into(), line, detail };
    let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(reader);
    let headers = csv.headers().map_err(|e| vec![invalid(1, e.to_string())])?.clone();
    // (column index, header text, unit) of H, J and B.
    let mut columns: [Option<(usize, String, Unit)>; 3] = [None, None, None];
    let mut problems = Vec::new();
    for (i, header) in headers.iter().enumerate() {
        let Some((name, unit_text)) = split_header(header) else { continue };
        let (slot, dimension, kind) = match name {
            "H" => (0, Dimension::FIELD_STRENGTH, "field strength"),
            "J" => (1, Dimension::FLUX_DENSITY, "flux density"),
            "B" => (2, Dimension::FLUX_DENSITY, "flux density"),
            _ => continue,
        };
        match Unit::parse(unit_text) {
            Ok(unit) if unit.dimension() == dimension => {
                if columns[slot].is_none() {
                    columns[slot] = Some((i, header.trim().to_owned(), unit));
                }
            }
            _ => problems.push(invalid(
                1,
                format!(
                    "column '{}': '{unit_text}' is not a {kind} unit (use one of {})",
                    header.trim(),
                    Unit::codes_for(dimension).join(", ")
                ),
            )),
        }
    }
    let shown = || headers.iter().collect::<Vec<_>>().join(", ");
    if columns[0].is_none() {
        problems.push(invalid(1, format!("missing column 'H (unit)', e.g. 'H (kA/m)'; the header has: {}", shown())));
    }
    if columns[1].is_none() && columns[2].is_none() {
        problems.push(invalid(
            1,
            format!("missing column 'J (unit)' or 'B (unit)', e.g. 'J (T)'; the header has: {}", shown()),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let si = |column: &Option<(usize, String, Unit)>, record: &csv::StringRecord, line: u64| {
        column
            .as_ref()
            .map(|(i, header, unit)| number(record.get(*i).unwrap_or(""), file, line, header).map(|v| unit.to_si(v)))
    };
    let mut points = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                problems.push(invalid(e.position().map_or(0, |p| p.line()), e.to_string()));
                break;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        let mut values = [None; 3];
        for (k, column) in columns.iter().enumerate() {
            match si(column, &record, line) {
                Some(Ok(v)) => values[k] = Some(v),
                Some(Err(p)) => problems.push(p),
                None => {}
            }
        }
        let point = match values {
            [Some(h), Some(j), Some(b)] => Some(Point { h, j, b }),
            [Some(h), Some(j), None] if columns[2].is_none() => Some(Point { h, j, b: MU0 * h + j }),
            [Some(h), None, Some(b)] if columns[1].is_none() => Some(Point { h, j: b - MU0 * h, b }),
            _ => None,
        };
        points.extend(point);
        if problems.len() >= 20 {
            break;
        }
    }
    if points.is_empty() && problems.is_empty() {
        problems.push(invalid(1, "the export has no points".into()));
    }
    if problems.is_empty() { Ok(points) } else { Err(problems) }
}

/// Where `y` changes sign between two points at negative H: that H, linearly interpolated.
fn zero_at_negative_field(points: &[Point], y: impl Fn(&Point) -> f64) -> Option<f64> {
    points.windows(2).find_map(|w| {
        let (a, b) = (&w[0], &w[1]);
        let (ya, yb) = (y(a), y(b));
        if (ya > 0.0) == (yb > 0.0) {
            return None;
        }
        let h = a.h + (b.h - a.h) * ya / (ya - yb);
        (h < 0.0).then_some(h)
    })
}

/// Br, HcJ, HcB and (BH)max of a curve, or why one cannot be read off it.
pub fn derive(points: &[Point], file: &str) -> Result<Derived, PackageError> {
    let not_derivable = |what: &str, detail: &str| PackageError::ImportNotDerivable {
        file: file.into(),
        what: what.into(),
        detail: detail.into(),
    };
    let remanence = points.iter().find(|p| p.h == 0.0 && p.j > 0.0).map(|p| p.j).or_else(|| {
        points.windows(2).find_map(|w| {
            let (a, b) = (&w[0], &w[1]);
            if (a.h < 0.0) == (b.h < 0.0) || a.h == 0.0 || b.h == 0.0 {
                return None;
            }
            let j = a.j + (b.j - a.j) * (0.0 - a.h) / (b.h - a.h);
            (j > 0.0).then_some(j)
        })
    });
    let remanence = remanence.ok_or_else(|| {
        not_derivable("Br", "the curve never passes H = 0 with J > 0 (it must run from H ≥ 0 into negative H)")
    })?;
    let hcj = zero_at_negative_field(points, |p| p.j).ok_or_else(|| {
        not_derivable(
            "HcJ",
            "J never changes sign at negative H: no second-quadrant crossing (the export must run past −HcJ, with the demagnetising field negative)",
        )
    })?;
    let hcb = zero_at_negative_field(points, |p| p.b)
        .ok_or_else(|| not_derivable("HcB", "B never changes sign at negative H: no second-quadrant crossing"))?;
    let in_quadrant = |h: f64, b: f64| h <= 0.0 && b >= 0.0;
    let mut best: Option<f64> = None;
    let mut consider = |h: f64, b: f64| {
        if in_quadrant(h, b) {
            let product = -h * b;
            best = Some(best.map_or(product, |v: f64| v.max(product)));
        }
    };
    for p in points {
        consider(p.h, p.b);
    }
    for w in points.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let (dh, db) = (b.h - a.h, b.b - a.b);
        // −(h0 + t·dh)(b0 + t·db) is stationary at t* = −(h0·db + b0·dh) / (2·dh·db).
        if dh * db != 0.0 {
            let t = -(a.h * db + a.b * dh) / (2.0 * dh * db);
            if (0.0..=1.0).contains(&t) {
                consider(a.h + t * dh, a.b + t * db);
            }
        }
    }
    let bh_max = best.ok_or_else(|| not_derivable("(BH)max", "no point lies in the second quadrant (H ≤ 0, B ≥ 0)"))?;
    Ok(Derived {
        remanence_t: remanence,
        hcj_ka_per_m: -hcj / 1e3,
        hcb_ka_per_m: -hcb / 1e3,
        bh_max_kj_per_m3: bh_max / 1e3,
    })
}

/// The id suffix of a temperature: `20`, `m40` for −40 °C, `20.5`.
fn temperature_tag(celsius: f64) -> String {
    let magnitude =
        if celsius.fract() == 0.0 { format!("{}", celsius.abs() as i64) } else { format!("{}", celsius.abs()) };
    if celsius < 0.0 { format!("m{magnitude}") } else { magnitude }
}

/// What the lab tells the importer beside the file.
#[derive(Debug, Clone)]
pub struct HysteresisOptions {
    /// Default: the file name without its extensions.
    pub specimen: Option<String>,
    /// Default: the material's only lot.
    pub batch: Option<String>,
    /// The test temperature with its unit, e.g. `20Cel`.
    pub temperature: String,
}

/// What an import wrote.
#[derive(Debug, Clone)]
pub struct HysteresisImport {
    pub specimen: String,
    pub points: usize,
    pub temperature_c: f64,
    pub derived: Derived,
    pub written: Vec<String>,
}

/// Imports one export into the source folder `dir`; nothing is written unless the curve reads and
/// every value can be derived.
pub fn import(dir: &Path, file: &Path, opts: &HysteresisOptions) -> Result<HysteresisImport, Rejection> {
    let mut source = SourceFolder::open(dir)?;
    source.require_class("permanent_magnet", "hysteresis")?;
    let temperature_c = parse_temperature(&opts.temperature)?;
    let batch = source.resolve_batch(opts.batch.as_deref())?;
    let label = file.display().to_string();
    let specimen = opts.specimen.clone().unwrap_or_else(|| specimen_from_file_name(file));
    let points = std::fs::File::open(file)
        .map_err(|e| Rejection::one(PackageError::io(&label, e)))
        .and_then(|mut f| read_export(&mut f, &label).map_err(|problems| Rejection { problems }))?;
    let derived = derive(&points, &label)?;
    source.ensure_method(
        "hysteresigraph",
        "IEC 60404-5:2015",
        "hysteresigraph make and model, pole caps, measuring coils",
    );

    let tag = temperature_tag(temperature_c);
    let curve_id = format!("demag-{tag}");
    let curve_file = format!("curves/{curve_id}.csv");
    let temperature = json!({"unit": "Cel", "value": temperature_c});
    let curve = Table {
        section: Section::Curves,
        id: curve_id.clone(),
        entry: json!({
            "kind": CurveKind::Both.as_str(),
            "method": "hysteresigraph",
            "description": format!("J-H and B-H demagnetisation curves at {} °C, imported from hysteresigraph exports by `prequal import hysteresis` (H in kA/m, J and B in T; where an export gave only one of J and B, the other is computed from B = μ0·H + J)", fixed(temperature_c, 1)),
            "temperature": temperature,
            "field_unit": "kA/m",
            "flux_density_unit": "T"
        }),
        same: &["kind", "field_unit", "flux_density_unit", "temperature"],
        header: vec!["specimen", "batch", "H", "J", "B"],
        rows: points
            .iter()
            .map(|p| vec![specimen.clone(), batch.clone(), fixed(p.h / 1e3, 4), fixed(p.j, 5), fixed(p.b, 5)])
            .collect(),
        note: None,
    };
    // The new points must pass the package's own curve checks (enough points, B = μ0·H + J).
    // They are checked as a file of their own under the export's name: its header is line 1 and
    // its points follow in order, so a line named here is the export's line.
    let spec = CurveSpec {
        id: curve_id.clone(),
        kind: CurveKind::Both,
        file: curve_file.clone(),
        columns: CurveColumns::default(),
        field_unit: Unit::parse("kA/m").ok(),
        flux_density_unit: Unit::parse("T").ok(),
        temperature_c: Some(temperature_c),
    };
    let lots: BTreeSet<String> = source.lots();
    let text = csv_text(Some(&curve.header), &curve.rows)?;
    match read_curve_csv(&mut text.as_bytes(), &label, &spec, &lots) {
        Ok(Ok(_)) => {}
        Ok(Err(problems)) => return Err(Rejection { problems }),
        Err(e) => return Err(PackageError::io(&label, e).into()),
    }
    source.add_table(curve)?;

    let from = format!("curve {curve_id} ({curve_file}), by `prequal import hysteresis` from hysteresigraph exports");
    let datasets = [
        (
            "remanence",
            "remanence",
            "T",
            fixed(derived.remanence_t, 4),
            format!(
                "Br: J at H = 0, linearly interpolated between the two points of each specimen's demagnetisation curve either side of H = 0; {from}."
            ),
        ),
        (
            "hcj",
            "intrinsic_coercivity",
            "kA/m",
            fixed(derived.hcj_ka_per_m, 2),
            format!(
                "HcJ: −H where J falls to 0 in the second quadrant, linearly interpolated between the two points either side; {from}."
            ),
        ),
        (
            "hcb",
            "normal_coercivity",
            "kA/m",
            fixed(derived.hcb_ka_per_m, 2),
            format!(
                "HcB: −H where B = μ0·H + J falls to 0 in the second quadrant, linearly interpolated between the two points either side; {from}."
            ),
        ),
        (
            "bhmax",
            "max_energy_product",
            "kJ/m3",
            fixed(derived.bh_max_kj_per_m3, 2),
            format!(
                "(BH)max: the largest −H·B in the second quadrant, H and B linearly interpolated between points (a segment's maximum may lie between its points); {from}."
            ),
        ),
    ];
    for (prefix, property, unit, value, description) in datasets {
        source.add_table(Table {
            section: Section::Datasets,
            id: format!("{prefix}-{tag}c"),
            entry: json!({
                "property": property,
                "unit": unit,
                "method": "hysteresigraph",
                "description": description,
                "conditions": {"temperature": {"unit": "Cel", "value": temperature_c}}
            }),
            same: &["property", "unit", "conditions"],
            header: vec!["specimen", "batch", "value"],
            rows: vec![vec![specimen.clone(), batch.clone(), value]],
            note: None,
        })?;
    }
    let written = source.commit()?;
    Ok(HysteresisImport { specimen, points: points.len(), temperature_c, derived, written })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_with_units() {
        assert_eq!(split_header("H (kA/m)"), Some(("H", "kA/m")));
        assert_eq!(split_header(" J [T] "), Some(("J", "T")));
        assert_eq!(split_header("B / kG"), Some(("B", "kG")));
        assert_eq!(split_header("specimen"), None);
    }

    #[test]
    fn temperatures_with_units() {
        assert_eq!(parse_temperature("20Cel").unwrap(), 20.0);
        assert_eq!(parse_temperature("-40 Cel").unwrap(), -40.0);
        assert!((parse_temperature("293.15K").unwrap() - 20.0).abs() < 1e-9);
        assert_eq!(parse_temperature("20").unwrap_err().code(), "import_conflict");
        assert_eq!(
            (temperature_tag(20.0), temperature_tag(-40.0), temperature_tag(20.5)),
            ("20".into(), "m40".into(), "20.5".into())
        );
    }

    #[test]
    fn cgs_units_convert_and_b_is_completed() {
        // 1 kOe = 79.577 kA/m; 1 kG = 0.1 T.
        let text = "H (kOe),J (kG)\n0,13\n-10,12.5\n";
        let points = read_export(&mut text.as_bytes(), "c.csv").unwrap();
        assert!((points[1].h - -795_774.7).abs() < 0.1, "{:?}", points[1]);
        assert!((points[1].j - 1.25).abs() < 1e-12);
        assert!((points[1].b - (1.25 - MU0 * 795_774.715)).abs() < 1e-6);
    }
}

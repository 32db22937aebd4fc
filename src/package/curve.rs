//! Demagnetisation curves (J–H, B–H): reading a curve's CSV file into points.
//!
//! A curve file holds one row per point of one specimen's curve at the curve's temperature. It is
//! read with the dataset table reader (`dataset::read_table`), so numbers, lots and columns are
//! checked alike; on top, every specimen needs enough points to draw a curve, and where a file
//! gives both J and B they must agree with B = μ0·H + J. Curves are not properties: nothing here
//! feeds the fit engine or search.
//!
//! [`read_stored`] reads the curves of a package the registry verified and stored, without
//! verifying it all again: only the curve files are read, each checked against the payload manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::f64::consts::PI;
use std::io::{self, Read};
use std::path::Path;

use super::bagit::{self, HashingReader};
use super::dataset::{self, Layout};
use super::error::{PackageError, Rejection};
use super::manifest::{CurveSpec, Manifest};
use super::verify::{PREQUAL_JSON, check_json_depth};
use super::zipread::{Limits, SafeZip};
use crate::units::Unit;

/// A specimen's curve needs at least this many points to be drawn as a curve.
pub const MIN_POINTS: usize = 3;

/// Vacuum permeability μ0 in T·m/A.
pub(crate) const MU0: f64 = 4e-7 * PI;

/// One point of one specimen's curve, in the units of the curve's spec.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    pub specimen: String,
    pub batch: String,
    /// Field strength H.
    pub h: f64,
    /// Polarisation J (curves of kind `J-H` or `J-H+B-H`).
    pub j: Option<f64>,
    /// Flux density B (curves of kind `B-H` or `J-H+B-H`).
    pub b: Option<f64>,
}

/// A curve with its points, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct CurveData {
    pub spec: CurveSpec,
    pub points: Vec<CurvePoint>,
}

/// Reads `reader` as the CSV of the curve `spec`. Returns the points, or every problem found (up
/// to a cap); I/O errors of the stream pass through as `Err(io)`.
pub fn read_curve_csv(
    reader: &mut dyn Read,
    file_label: &str,
    spec: &CurveSpec,
    lots: &BTreeSet<String>,
) -> Result<Result<Vec<CurvePoint>, Vec<PackageError>>, io::Error> {
    let c = &spec.columns;
    let mut numbers = vec![("field strength H", c.field.as_str())];
    if spec.kind.has_polarisation() {
        numbers.push(("polarisation J", c.polarisation.as_str()));
    }
    if spec.kind.has_induction() {
        numbers.push(("flux density B", c.induction.as_str()));
    }
    let layout = Layout { specimen: &c.specimen, batch: &c.batch, numbers, empty: "the curve file has no points" };
    let rows = match dataset::read_table(reader, file_label, &layout, lots)? {
        Ok(rows) => rows,
        Err(problems) => return Ok(Err(problems)),
    };
    let mut problems = Vec::new();
    // Points per specimen, with the line of its last point.
    let mut per_specimen: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    let si =
        |unit: Option<Unit>, code: &str, v: f64| -> Option<f64> { unit?.convert(v, &Unit::parse(code).ok()?).ok() };
    let mut points = Vec::with_capacity(rows.len());
    for row in &rows {
        let entry = per_specimen.entry(row.specimen.as_str()).or_insert((0, row.line));
        *entry = (entry.0 + 1, row.line);
        let mut values = row.numbers.iter().copied();
        let h = values.next().unwrap_or(f64::NAN);
        let j = if spec.kind.has_polarisation() { values.next() } else { None };
        let b = if spec.kind.has_induction() { values.next() } else { None };
        if let (Some(j), Some(b)) = (j, b)
            && let (Some(h_si), Some(j_t), Some(b_t)) =
                (si(spec.field_unit, "A/m", h), si(spec.flux_density_unit, "T", j), si(spec.flux_density_unit, "T", b))
        {
            let expected = MU0 * h_si + j_t;
            // Rounding and instrument error: 5 mT plus 1 % of the polarisation.
            if (b_t - expected).abs() > 0.005 + 0.01 * j_t.abs() {
                problems.push(PackageError::CurveInconsistent {
                    file: file_label.to_owned(),
                    line: row.line,
                    column: c.induction.clone(),
                    b: b_t,
                    expected,
                });
            }
        }
        points.push(CurvePoint { specimen: row.specimen.clone(), batch: row.batch.clone(), h, j, b });
    }
    for (specimen, (count, line)) in per_specimen {
        if count < MIN_POINTS {
            problems.push(PackageError::CurveTooFewPoints {
                file: file_label.to_owned(),
                line,
                specimen: specimen.to_owned(),
                points: count,
                min: MIN_POINTS,
            });
        }
    }
    if problems.is_empty() { Ok(Ok(points)) } else { Ok(Err(problems)) }
}

/// The curves of a package the registry has verified and stored at `path`. Reads `prequal.json`
/// and the curve files only; each curve file must still match its payload manifest hash.
pub fn read_stored(path: &Path, limits: Limits) -> Result<Vec<CurveData>, Rejection> {
    let mut zip = SafeZip::open(path, limits)?;
    let manifest_bytes = zip
        .read_metadata(PREQUAL_JSON)?
        .ok_or_else(|| PackageError::FileMissing { path: PREQUAL_JSON.into(), manifest: "the package" })?;
    check_json_depth(PREQUAL_JSON, &manifest_bytes, limits.max_json_depth)?;
    let manifest = Manifest::from_json(PREQUAL_JSON, &manifest_bytes)?;
    if manifest.curves.is_empty() {
        return Ok(Vec::new());
    }
    let specs = manifest.check().map_err(|problems| Rejection { problems })?;
    let payload_bytes = zip
        .read_metadata(bagit::MANIFEST)?
        .ok_or_else(|| PackageError::PayloadManifestInvalid { detail: "missing".into() })?;
    let payload_manifest = bagit::parse_manifest(&payload_bytes, false)?;
    let lots: BTreeSet<String> = manifest.material.lots.iter().map(|l| l.id.clone()).collect();
    let mut curves = Vec::new();
    let mut problems = Vec::new();
    for spec in specs.curves {
        let name = format!("data/{}", spec.file);
        let Some(expected) = payload_manifest.get(&name) else {
            problems.push(PackageError::FileMissing { path: name, manifest: bagit::MANIFEST });
            continue;
        };
        let outcome = zip.stream(&name, |reader| {
            let mut hashing = HashingReader::new(reader);
            let parsed = read_curve_csv(&mut hashing, &name, &spec, &lots)?;
            io::copy(&mut hashing, &mut io::sink())?;
            Ok((hashing.finish(), parsed))
        });
        match outcome {
            Err(e) => problems.push(e),
            Ok((actual, _)) if actual != *expected => problems.push(PackageError::HashMismatch {
                path: name.clone(),
                expected: expected.to_hex(),
                actual: actual.to_hex(),
                manifest: bagit::MANIFEST,
            }),
            Ok((_, Err(found))) => problems.extend(found),
            Ok((_, Ok(points))) => curves.push(CurveData { spec, points }),
        }
    }
    if problems.is_empty() { Ok(curves) } else { Err(Rejection { problems }) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::manifest::{CurveColumns, CurveKind};

    fn spec(kind: CurveKind) -> CurveSpec {
        CurveSpec {
            id: "demag-20".into(),
            kind,
            file: "curves/demag-20.csv".into(),
            columns: CurveColumns::default(),
            field_unit: Unit::parse("kA/m").ok(),
            flux_density_unit: Unit::parse("T").ok(),
            temperature_c: Some(20.0),
        }
    }

    fn lots() -> BTreeSet<String> {
        ["L1".to_owned()].into_iter().collect()
    }

    #[test]
    fn reads_points_of_both_kinds() {
        // B = μ0·H + J: at H = -500 kA/m, μ0·H = -0.6283 T.
        let mut data =
            "specimen,batch,H,J,B\nS1,L1,0,1.3,1.3\nS1,L1,-500,1.29,0.6617\nS1,L1,-1000,1.2,-0.0566\n".as_bytes();
        let points = read_curve_csv(&mut data, "c.csv", &spec(CurveKind::Both), &lots()).unwrap().unwrap();
        assert_eq!(points.len(), 3);
        assert_eq!((points[1].h, points[1].j, points[1].b), (-500.0, Some(1.29), Some(0.6617)));
        let mut data = "specimen,batch,H,J\nS1,L1,0,1.3\nS1,L1,-500,1.29\nS1,L1,-1000,1.2\n".as_bytes();
        let points = read_curve_csv(&mut data, "c.csv", &spec(CurveKind::Intrinsic), &lots()).unwrap().unwrap();
        assert_eq!(points[2].b, None);
    }

    #[test]
    fn refuses_inconsistent_b_and_short_curves() {
        let mut data = "specimen,batch,H,J,B\nS1,L1,0,1.3,1.3\nS1,L1,-500,1.29,1.29\nS2,L1,0,1.3,1.3\n".as_bytes();
        let problems = read_curve_csv(&mut data, "c.csv", &spec(CurveKind::Both), &lots()).unwrap().unwrap_err();
        let codes: Vec<_> = problems.iter().map(|p| p.code()).collect();
        assert_eq!(codes, vec!["curve_inconsistent", "curve_too_few_points", "curve_too_few_points"]);
        assert!(problems[0].to_string().contains("c.csv, line 3, column 'B'"), "{}", problems[0]);
        assert!(problems[2].to_string().contains("line 4") && problems[2].to_string().contains("'S2'"));
    }

    #[test]
    fn missing_and_non_numeric_columns_name_the_line() {
        let mut data = "specimen,batch,H\nS1,L1,0\n".as_bytes();
        let problems = read_curve_csv(&mut data, "c.csv", &spec(CurveKind::Intrinsic), &lots()).unwrap().unwrap_err();
        assert!(problems[0].to_string().contains("missing column 'J'"), "{}", problems[0]);
        let mut data = "specimen,batch,H,J\nS1,L1,0,1.3\nS1,L1,x,1.3\nS1,L1,-9,inf\n".as_bytes();
        let problems = read_curve_csv(&mut data, "c.csv", &spec(CurveKind::Intrinsic), &lots()).unwrap().unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 2, "{text:?}");
        assert!(text[0].contains("line 3, column 'H'") && text[1].contains("line 4, column 'J'"), "{text:?}");
    }
}

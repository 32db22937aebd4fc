//! Reading dataset CSV files: one row per specimen measurement.
//!
//! The same reader checks a lab's source files at `prequal pack` and a package's files at verify,
//! so both report identical problems: the file, the line and the column of every cell that is not
//! a finite number, unknown lots, missing columns, ragged rows. Curve files (`super::curve`) are
//! read by the same table reader.

use std::collections::BTreeSet;
use std::io::Read;

use super::error::PackageError;
use super::manifest::DatasetSpec;

/// Stop collecting after this many problems in one file; the rest would repeat them.
const MAX_PROBLEMS_PER_FILE: usize = 20;

/// One measurement: a specimen's value with the conditions given per row.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    pub specimen: String,
    pub batch: String,
    pub value: f64,
    /// Values of the dataset's per-row conditions, in the order of `DatasetSpec::condition_columns`.
    pub conditions: Vec<f64>,
}

/// A limit on rows per dataset (or curve file) so a verified package fits in memory.
pub const MAX_ROWS: u64 = 1_000_000;

/// Reads `reader` as the CSV of `spec`. Returns the measurements, or every problem found
/// (up to a cap). I/O errors of the underlying stream pass through as `Err(Err(io))` so the caller
/// can report them as container problems.
pub fn read_csv(
    reader: &mut dyn Read,
    file_label: &str,
    spec: &DatasetSpec,
    lots: &BTreeSet<String>,
) -> Result<Result<Vec<Measurement>, Vec<PackageError>>, std::io::Error> {
    let mut numbers = vec![("value", spec.columns.value.as_str())];
    for (cond, col) in &spec.condition_columns {
        numbers.push((cond.as_str(), col.as_str()));
    }
    let layout = Layout {
        specimen: &spec.columns.specimen,
        batch: &spec.columns.batch,
        numbers,
        empty: "the dataset has no rows",
    };
    Ok(read_table(reader, file_label, &layout, lots)?.map(|rows| {
        rows.into_iter()
            .map(|row| {
                let mut values = row.numbers.into_iter();
                Measurement {
                    specimen: row.specimen,
                    batch: row.batch,
                    value: values.next().unwrap_or(f64::NAN),
                    conditions: values.collect(),
                }
            })
            .collect()
    }))
}

/// The columns [`read_table`] looks for: a specimen and a batch column, then numeric columns.
pub(crate) struct Layout<'a> {
    pub specimen: &'a str,
    pub batch: &'a str,
    /// (role, column name) of every numeric column, in the order a row returns them.
    pub numbers: Vec<(&'a str, &'a str)>,
    /// The problem reported for a file with a header and no rows.
    pub empty: &'static str,
}

/// One row of a table: every number finite, the batch one of the lots.
pub(crate) struct Row {
    pub line: u64,
    pub specimen: String,
    pub batch: String,
    /// In the order of [`Layout::numbers`].
    pub numbers: Vec<f64>,
}

/// The reader behind every CSV of a package (datasets and curves), so they report problems alike.
pub(crate) fn read_table(
    reader: &mut dyn Read,
    file_label: &str,
    layout: &Layout<'_>,
    lots: &BTreeSet<String>,
) -> Result<Result<Vec<Row>, Vec<PackageError>>, std::io::Error> {
    let mut problems = Vec::new();
    let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(reader);
    let invalid = |line: u64, detail: String| PackageError::CsvInvalid { file: file_label.to_owned(), line, detail };

    let headers = match csv.headers() {
        Ok(h) => h.clone(),
        Err(e) => return csv_error(e, file_label).map(|p| Err(vec![p])),
    };
    let find = |name: &str| headers.iter().position(|h| h.trim() == name);
    let mut wanted = vec![("specimen", layout.specimen), ("batch", layout.batch)];
    wanted.extend(layout.numbers.iter().copied());
    let mut index = Vec::new();
    for (role, col) in &wanted {
        match find(col) {
            Some(i) => index.push(i),
            None => problems.push(invalid(
                1,
                format!(
                    "missing column '{col}' ({role}); the header has: {}",
                    headers.iter().collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let (i_specimen, i_batch) = (index[0], index[1]);
    let number_index = &index[2..];

    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                problems.push(csv_error(e, file_label)?);
                break;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        if rows.len() as u64 >= MAX_ROWS {
            problems.push(invalid(line, format!("more than {MAX_ROWS} rows in one file")));
            break;
        }
        let cell = |i: usize| record.get(i).unwrap_or("").trim();
        let specimen = cell(i_specimen);
        let batch = cell(i_batch);
        if specimen.is_empty() {
            problems.push(invalid(line, format!("empty specimen id in column '{}'", layout.specimen)));
        }
        if !lots.contains(batch) {
            problems.push(PackageError::UnknownBatch {
                file: file_label.to_owned(),
                line,
                batch: batch.to_owned(),
                known: lots.iter().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        let mut numbers = Vec::with_capacity(number_index.len());
        for (k, &i) in number_index.iter().enumerate() {
            let text = cell(i);
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => numbers.push(v),
                _ => problems.push(PackageError::CsvNotNumeric {
                    file: file_label.to_owned(),
                    line,
                    column: layout.numbers[k].1.to_owned(),
                    value: text.chars().take(40).collect(),
                }),
            }
        }
        if numbers.len() == number_index.len() {
            rows.push(Row { line, specimen: specimen.to_owned(), batch: batch.to_owned(), numbers });
        }
        if problems.len() >= MAX_PROBLEMS_PER_FILE {
            break;
        }
    }
    if rows.is_empty() && problems.is_empty() {
        problems.push(invalid(1, layout.empty.into()));
    }
    if problems.is_empty() { Ok(Ok(rows)) } else { Ok(Err(problems)) }
}

/// Turns a csv error into a problem with its line, passing stream I/O errors through.
fn csv_error(e: csv::Error, file_label: &str) -> Result<PackageError, std::io::Error> {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Err(io),
        csv::ErrorKind::Utf8 { .. } => {
            Ok(PackageError::CsvInvalid { file: file_label.to_owned(), line, detail: "not valid UTF-8".into() })
        }
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => Ok(PackageError::CsvInvalid {
            file: file_label.to_owned(),
            line,
            detail: format!("{len} fields where the header has {expected_len}"),
        }),
        other => Ok(PackageError::CsvInvalid { file: file_label.to_owned(), line, detail: format!("{other:?}") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::manifest::Columns;

    fn spec() -> DatasetSpec {
        DatasetSpec {
            id: "hcj".into(),
            property: "intrinsic_coercivity".into(),
            unit: "kA/m".into(),
            dimension: None,
            file: "hcj.csv".into(),
            columns: Columns::default(),
            condition_columns: vec![("temperature".into(), "temperature".into())],
        }
    }

    fn lots() -> BTreeSet<String> {
        ["L1".to_owned(), "L2".to_owned()].into_iter().collect()
    }

    #[test]
    fn reads_rows() {
        let mut data = "specimen,batch,temperature,value\nS1,L1,20,1650.5\nS2,L2,150,  900 \n".as_bytes();
        let rows = read_csv(&mut data, "hcj.csv", &spec(), &lots()).unwrap().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].value, 900.0);
        assert_eq!(rows[1].conditions, vec![150.0]);
    }

    #[test]
    fn reports_every_bad_cell_with_line_and_column() {
        let mut data =
            "specimen,batch,temperature,value\nS1,L1,20,abc\nS2,L9,warm,1.0\nS3,L1,20,NaN\nS4,L1,20,inf\n".as_bytes();
        let problems = read_csv(&mut data, "hcj.csv", &spec(), &lots()).unwrap().unwrap_err();
        let codes: Vec<_> = problems.iter().map(|p| p.code()).collect();
        assert_eq!(
            codes,
            vec!["csv_not_numeric", "unknown_batch", "csv_not_numeric", "csv_not_numeric", "csv_not_numeric"]
        );
        assert!(problems[0].to_string().contains("line 2, column 'value'"));
        assert!(problems[2].to_string().contains("line 3, column 'temperature'"));
    }

    #[test]
    fn missing_columns_and_ragged_rows() {
        let mut data = "specimen,value\nS1,1\n".as_bytes();
        let problems = read_csv(&mut data, "x.csv", &spec(), &lots()).unwrap().unwrap_err();
        assert!(problems.iter().all(|p| p.code() == "csv_invalid"));
        let mut data = "specimen,batch,temperature,value\nS1,L1,20\n".as_bytes();
        let problems = read_csv(&mut data, "x.csv", &spec(), &lots()).unwrap().unwrap_err();
        assert!(problems[0].to_string().contains("line 2"), "{}", problems[0]);
    }
}

//! Importers: instrument exports turned into the datasets, curves and attachments of a package
//! source folder (`prequal import`), so a lab types no CSV and no JSON beyond its own description
//! and the material's.
//!
//! - [`bdf`]: battery cycler time series in the Battery Data Format → capacity, cycle life and
//!   (given the cell's mass or volume) energy density, with their cycling conditions.
//! - [`hysteresis`]: a hysteresigraph's H–J/B export → a demagnetisation curve and Br, HcJ, HcB,
//!   (BH)max.
//!
//! An importer reads and checks everything, derives its values, and only then writes, through
//! [`source::SourceFolder`]: a refused export leaves the folder as it was. The importers own the
//! arithmetic and the mapping onto the vocabulary; the package format's own readers check what
//! they write (they must not write what `prequal check` would refuse for a reason of theirs).

pub mod bdf;
pub mod hysteresis;
pub mod source;

use crate::package::PackageError;
use crate::units::Unit;

/// A number with a fixed count of decimals, as written into dataset and curve files.
pub(crate) fn fixed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    // "-0.000" reads as a negative zero; write it as zero.
    if text.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') {
        format!("{:.decimals$}", 0.0)
    } else {
        text
    }
}

/// Parses a cell as a finite number, or names the file, line and column it came from.
pub(crate) fn number(text: &str, file: &str, line: u64, column: &str) -> Result<f64, PackageError> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(PackageError::CsvNotNumeric {
            file: file.to_owned(),
            line,
            column: column.to_owned(),
            value: text.chars().take(40).collect(),
        }),
    }
}

/// A temperature with its UCUM unit (`20Cel`, `-40 Cel`, `293.15K`), in °C.
pub fn parse_temperature(text: &str) -> Result<f64, PackageError> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+'))).unwrap_or(t.len());
    let (value, unit) = (t[..split].trim(), t[split..].trim());
    value.parse::<f64>().ok().filter(|v| v.is_finite()).and_then(|v| Unit::to_celsius(v, unit)).ok_or_else(|| {
        PackageError::ImportConflict {
            path: "--temperature".into(),
            detail: format!("'{text}' is not a temperature with its UCUM unit, e.g. 20Cel, -40Cel or 293.15K"),
        }
    })
}

/// The part of a file name a specimen id defaults to: the name without its extensions, or, for a
/// name following the BDF convention `Institution__Cell__Date…`, the cell's name.
pub(crate) fn specimen_from_file_name(path: &std::path::Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = name.split('.').next().unwrap_or(&name).to_owned();
    let parts: Vec<&str> = stem.split("__").collect();
    if parts.len() >= 3 && !parts[1].is_empty() { parts[1].to_owned() } else { stem }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_decimals_and_negative_zero() {
        assert_eq!(fixed(2.51049, 4), "2.5105");
        assert_eq!(fixed(-0.00001, 3), "0.000");
        assert_eq!(fixed(-12.5, 1), "-12.5");
    }

    #[test]
    fn specimen_names_from_files() {
        use std::path::Path;
        assert_eq!(specimen_from_file_name(Path::new("/x/UCam__A0001__20241031_001.bdf.csv")), "A0001");
        assert_eq!(specimen_from_file_name(Path::new("cell-07.csv")), "cell-07");
    }

    #[test]
    fn numbers_name_their_cell() {
        let e = number("abc", "x.csv", 4, "Voltage / V").unwrap_err();
        assert_eq!(e.code(), "csv_not_numeric");
        assert!(e.to_string().contains("x.csv, line 4, column 'Voltage / V'"), "{e}");
        assert!(number("inf", "x.csv", 4, "V").is_err());
        assert_eq!(number(" 3.5 ", "x.csv", 4, "V").unwrap(), 3.5);
    }
}

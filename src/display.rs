//! Words and numbers for people: the labels pages, charts and exports show instead of the codes
//! the data uses (`Cel` → °C, `intrinsic_coercivity` → "Intrinsic coercivity HcJ",
//! `not_qualified` → "not qualified"), and numbers rounded the way a datasheet prints them.
//!
//! Presentation only: nothing here is parsed back, and data keeps its UCUM codes and names.

use crate::fit::{Status, Verdict};
use crate::package::vocabulary;
use crate::profile::Basis;

/// How a UCUM code from `crate::units` is printed next to a number. Unknown codes are shown as
/// they are (a package may only use known codes, so this is a fallback for old data).
pub fn unit_label(ucum: &str) -> &str {
    crate::units::symbol(ucum)
}

/// A number and its unit with the spacing SI prescribes ("150 °C", "34.4 %", "0.92" for a ratio).
pub fn with_unit(number: &str, ucum: &str) -> String {
    match unit_label(ucum) {
        "" => number.to_owned(),
        "pass/fail" => number.to_owned(),
        label => format!("{number} {label}"),
    }
}

/// A value in its unit at `digits` significant digits; pass/fail outcomes as words.
pub fn quantity(value: f64, ucum: &str, digits: usize) -> String {
    if ucum == "{pass}" {
        return if value >= 0.5 { "pass".into() } else { "fail".into() };
    }
    with_unit(&sig(value, digits), ucum)
}

/// Rewrites the UCUM codes inside a text such as `temperature 180 Cel ± 5` ("temperature 180 °C ± 5").
pub fn condition_label(text: &str) -> String {
    text.split(' ').map(|word| if word.is_empty() { word } else { unit_label(word) }).collect::<Vec<_>>().join(" ")
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn humanised(name: &str) -> String {
    capitalised(&name.replace('_', " "))
}

/// The name people read for a vocabulary property: "Intrinsic coercivity HcJ",
/// "Gravimetric energy density"; an extension property keeps its namespace in brackets.
pub fn property_label(name: &str) -> String {
    let words = match name {
        "max_energy_product" => "Maximum energy product".to_owned(),
        "remanence_temperature_coefficient" | "coercivity_temperature_coefficient" => {
            "Temperature coefficient".to_owned()
        }
        "dc_internal_resistance" => "DC internal resistance".to_owned(),
        "un38_3_result" => "UN 38.3 transport tests".to_owned(),
        "ul9540a_propagation_result" => "UL 9540A propagation".to_owned(),
        "cycle_life" => "Cycle life".to_owned(),
        _ => {
            if let Some(rest) = name.strip_prefix(vocabulary::EXTENSION_PREFIX)
                && let Some((namespace, local)) = rest.split_once('.')
            {
                return format!("{} ({namespace})", humanised(local));
            }
            humanised(name)
        }
    };
    match property_symbol(name) {
        Some(symbol) if !words.contains(symbol) => format!("{words} {symbol}"),
        _ => words,
    }
}

/// The symbol magnet and cell engineers use (`HcJ`, `(BH)max`), where one is customary.
pub fn property_symbol(name: &str) -> Option<&'static str> {
    vocabulary::property(name)
        .map(|p| p.symbol)
        // "C" for capacity reads as coulomb next to a number; the name says it.
        .filter(|s| !s.is_empty() && *s != "C")
}

/// A short name for chart titles and axes: the symbol, or the humanised name.
pub fn property_short(name: &str) -> String {
    match property_symbol(name) {
        Some(symbol) => symbol.to_owned(),
        None => property_label(name),
    }
}

/// "Permanent magnet", "Battery cell".
pub fn class_label(class: &str) -> String {
    humanised(class)
}

pub fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Qualified => "qualified",
        Verdict::NotQualified => "not qualified",
        Verdict::Incomplete => "incomplete",
    }
}

/// The machine form of a verdict, as the API spells it (`not_qualified`): for attributes and CSS.
pub fn verdict_code(v: Verdict) -> &'static str {
    match v {
        Verdict::Qualified => "qualified",
        Verdict::NotQualified => "not_qualified",
        Verdict::Incomplete => "incomplete",
    }
}

pub fn status_code(s: Status) -> &'static str {
    match s {
        Status::Met => "met",
        Status::NotMet => "not_met",
        Status::InsufficientEvidence => "insufficient_evidence",
        Status::NotTested => "not_tested",
    }
}

/// The statistical basis of a value, as a column label: "mean", "B-basis".
pub fn basis_label(b: Basis) -> &'static str {
    match b {
        Basis::Typical => "mean",
        Basis::Minimum => "every specimen",
        Basis::BBasis => "B-basis",
        Basis::ABasis => "A-basis",
    }
}

/// The anchor of a basis in the glossary (`/glossary#b-basis`).
pub fn basis_anchor(b: Basis) -> &'static str {
    match b {
        Basis::Typical => "typical",
        Basis::Minimum => "minimum",
        Basis::BBasis => "b-basis",
        Basis::ABasis => "a-basis",
    }
}

/// `2026-11-03T14:05:12.345Z` → `2026-11-03 14:05 UTC`; anything else is shown as it is.
pub fn timestamp_label(rfc3339: &str) -> String {
    let b = rfc3339.as_bytes();
    let shaped = b.len() >= 16 && b[4] == b'-' && b[7] == b'-' && (b[10] == b'T' || b[10] == b' ') && b[13] == b':';
    let utc = rfc3339.ends_with('Z') || rfc3339.ends_with("+00:00");
    match (shaped, utc, rfc3339.get(..10), rfc3339.get(11..16)) {
        (true, true, Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

/// `v` rounded to `digits` significant digits, as a datasheet prints it: no floating-point
/// residue (322.35999999999996 → "322.4"), no trailing zeros after the point (34.40 → "34.4",
/// 784.0 → "784"), never "-0". Non-finite values print as "–".
pub fn sig(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let digits = digits.clamp(1, 17) as i32;
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = digits - 1 - magnitude;
    let text = if decimals <= 0 {
        let step = 10f64.powi(-decimals);
        format!("{:.0}", (v / step).round() * step)
    } else {
        let s = format!("{:.*}", decimals as usize, v);
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s }
    };
    if text.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') { "0".into() } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::{Dimension, Unit};

    #[test]
    fn significant_digits_as_a_datasheet_prints_them() {
        assert_eq!(sig(322.35999999999996, 4), "322.4");
        assert_eq!(sig(784.0, 4), "784");
        assert_eq!(sig(34.40, 4), "34.4");
        assert_eq!(sig(1591.549, 4), "1592");
        assert_eq!(sig(123456.0, 3), "123000");
        assert_eq!(sig(1.2999999999, 3), "1.3");
        assert_eq!(sig(0.0012345, 3), "0.00123");
        assert_eq!(sig(-0.12, 3), "-0.12");
        assert_eq!(sig(9.9996, 4), "10");
        assert_eq!(sig(-0.0, 4), "0");
        assert_eq!(sig(-0.00001, 2), "-0.00001");
        assert_eq!(sig(f64::NAN, 3), "–");
        assert_eq!(sig(0.0, 3), "0");
        // Values that round to zero at the precision shown never print as "-0".
        assert_eq!(sig(-0.04, 1), "-0.04");
    }

    #[test]
    fn every_unit_has_a_human_label() {
        let dimensions = [
            Dimension::NONE,
            Dimension::TEMPERATURE,
            Dimension::FLUX_DENSITY,
            Dimension::FIELD_STRENGTH,
            Dimension::ENERGY_PER_VOLUME,
            Dimension::PER_KELVIN,
            Dimension::PER_TIME,
            Dimension::TIME,
            Dimension::MASS_DENSITY,
            Dimension::MASS_PER_AREA,
            Dimension::CHARGE,
            Dimension::ENERGY_PER_MASS,
            Dimension::POWER_PER_MASS,
            Dimension::RESISTANCE,
            Dimension::VOLTAGE,
            Dimension::ENERGY,
            Dimension::MASS,
            Dimension::LENGTH,
            Dimension::CYCLES,
            Dimension::OUTCOME,
        ];
        for code in dimensions.into_iter().flat_map(Unit::codes_for) {
            let label = unit_label(code);
            // No UCUM syntax left: annotations, brackets, '.' products or bare exponents.
            assert!(!label.contains(['{', '[', '.']), "{code} → {label}");
            assert!(!label.ends_with(|c: char| c.is_ascii_digit()), "{code} → {label}");
            assert_ne!(label, "Cel");
        }
        assert_eq!(unit_label("Cel"), "°C");
        assert_eq!(unit_label("kJ/m3"), "kJ/m³");
        assert_eq!(unit_label("W.h/kg"), "Wh/kg");
        assert_eq!(unit_label("{cycles}"), "cycles");
        assert_eq!(unit_label("{pass}"), "pass/fail");
        assert_eq!(unit_label("%/K"), "%/K");
        assert_eq!(unit_label("[degF]"), "°F");
        assert_eq!(quantity(1591.549, "kA/m", 4), "1592 kA/m");
        assert_eq!(quantity(0.5, "1", 2), "0.5");
        assert_eq!(quantity(1.0, "{pass}", 2), "pass");
        assert_eq!(quantity(3000.0, "{cycles}", 3), "3000 cycles");
        assert_eq!(condition_label("temperature 180 Cel ± 5"), "temperature 180 °C ± 5");
    }

    #[test]
    fn names_people_use() {
        assert_eq!(property_label("intrinsic_coercivity"), "Intrinsic coercivity HcJ");
        assert_eq!(property_label("remanence"), "Remanence Br");
        assert_eq!(property_label("max_energy_product"), "Maximum energy product (BH)max");
        assert_eq!(property_label("coercivity_temperature_coefficient"), "Temperature coefficient β(HcJ)");
        assert_eq!(property_label("gravimetric_energy_density"), "Gravimetric energy density");
        assert_eq!(property_label("capacity"), "Capacity");
        assert_eq!(property_label("x-ornl.vickers_hardness"), "Vickers hardness (ornl)");
        assert_eq!(property_short("cycle_life"), "Cycle life");
        assert_eq!(property_short("intrinsic_coercivity"), "HcJ");
        assert_eq!(class_label("permanent_magnet"), "Permanent magnet");
        assert_eq!(verdict_label(Verdict::NotQualified), "not qualified");
        assert_eq!(verdict_code(Verdict::NotQualified), "not_qualified");
        assert_eq!(basis_label(Basis::BBasis), "B-basis");
        assert_eq!(timestamp_label("2026-11-03T14:05:12.345Z"), "2026-11-03 14:05 UTC");
        assert_eq!(timestamp_label("yesterday"), "yesterday");
        for p in vocabulary::PROPERTIES {
            let label = property_label(p.name);
            assert!(!label.contains('_'), "{label}");
        }
    }
}

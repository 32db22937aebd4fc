//! Units of measure, written as UCUM codes (`T`, `kA/m`, `kJ/m3`, `Cel`, `%/K`, `W.h/kg` …).
//!
//! Owns parsing a unit code into a [`Unit`] with its physical dimension, and converting values
//! between compatible units. It knows nothing about packages or properties; callers decide which
//! dimension a property needs. An unknown code or an incompatible pair is an error, never a
//! silently wrong number.
//!
//! The table below lists every unit prequal accepts. Factors are exact definitions (SI, UCUM) or,
//! for the CGS magnetic units, derived from μ0 = 4π·10⁻⁷ (1 Oe = 1000/4π A/m).

use std::f64::consts::PI;
use std::fmt;

/// Exponents of the base dimensions, in the order
/// metre, kilogram, second, ampere, kelvin, cycle count, pass/fail outcome.
/// The last two keep UCUM annotations such as `{cycles}` apart from plain ratios like `%`:
/// "3000 cycles" must never convert to a percentage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dimension([i8; 7]);

impl Dimension {
    pub const NONE: Dimension = Dimension([0, 0, 0, 0, 0, 0, 0]);
    pub const TEMPERATURE: Dimension = Dimension([0, 0, 0, 0, 1, 0, 0]);
    pub const FLUX_DENSITY: Dimension = Dimension([0, 1, -2, -1, 0, 0, 0]);
    pub const FIELD_STRENGTH: Dimension = Dimension([-1, 0, 0, 1, 0, 0, 0]);
    pub const ENERGY_PER_VOLUME: Dimension = Dimension([-1, 1, -2, 0, 0, 0, 0]);
    pub const PER_KELVIN: Dimension = Dimension([0, 0, 0, 0, -1, 0, 0]);
    pub const PER_TIME: Dimension = Dimension([0, 0, -1, 0, 0, 0, 0]);
    pub const TIME: Dimension = Dimension([0, 0, 1, 0, 0, 0, 0]);
    pub const MASS_DENSITY: Dimension = Dimension([-3, 1, 0, 0, 0, 0, 0]);
    pub const PRESSURE: Dimension = Dimension([-1, 1, -2, 0, 0, 0, 0]);
    pub const MASS_PER_AREA: Dimension = Dimension([-2, 1, 0, 0, 0, 0, 0]);
    pub const CHARGE: Dimension = Dimension([0, 0, 1, 1, 0, 0, 0]);
    pub const ENERGY_PER_MASS: Dimension = Dimension([2, 0, -2, 0, 0, 0, 0]);
    pub const POWER_PER_MASS: Dimension = Dimension([2, 0, -3, 0, 0, 0, 0]);
    pub const RESISTANCE: Dimension = Dimension([2, 1, -3, -2, 0, 0, 0]);
    pub const VOLTAGE: Dimension = Dimension([2, 1, -3, -1, 0, 0, 0]);
    pub const ENERGY: Dimension = Dimension([2, 1, -2, 0, 0, 0, 0]);
    pub const MASS: Dimension = Dimension([0, 1, 0, 0, 0, 0, 0]);
    pub const LENGTH: Dimension = Dimension([1, 0, 0, 0, 0, 0, 0]);
    pub const CYCLES: Dimension = Dimension([0, 0, 0, 0, 0, 1, 0]);
    pub const OUTCOME: Dimension = Dimension([0, 0, 0, 0, 0, 0, 1]);

    /// A short human name for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            Self::NONE => "dimensionless ratio",
            Self::TEMPERATURE => "temperature",
            Self::FLUX_DENSITY => "magnetic flux density",
            Self::FIELD_STRENGTH => "magnetic field strength",
            Self::ENERGY_PER_VOLUME => "energy per volume (or pressure)",
            Self::PER_KELVIN => "temperature coefficient",
            Self::PER_TIME => "rate per time",
            Self::TIME => "time",
            Self::MASS_DENSITY => "mass density",
            Self::MASS_PER_AREA => "mass per area",
            Self::CHARGE => "electric charge",
            Self::ENERGY_PER_MASS => "energy per mass",
            Self::POWER_PER_MASS => "power per mass",
            Self::RESISTANCE => "electrical resistance",
            Self::VOLTAGE => "voltage",
            Self::ENERGY => "energy",
            Self::MASS => "mass",
            Self::LENGTH => "length",
            Self::CYCLES => "cycle count",
            Self::OUTCOME => "pass/fail outcome",
            _ => "other",
        }
    }
}

/// A unit prequal understands: its UCUM code, dimension and the affine map to the coherent SI
/// unit of that dimension (`si = value * factor + offset`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unit {
    code: &'static str,
    dimension: Dimension,
    factor: f64,
    offset: f64,
}

const OERSTED_IN_A_PER_M: f64 = 1000.0 / (4.0 * PI);
/// 1 G·Oe = 1e-4 T × 79.577 A/m = 1/(40π) J/m³.
const GAUSS_OERSTED_IN_J_PER_M3: f64 = 1e-4 * OERSTED_IN_A_PER_M;
const HOUR_S: f64 = 3600.0;
/// UCUM's `a` is the mean Julian year, 365.25 days.
const YEAR_S: f64 = 365.25 * 86400.0;

const fn u(code: &'static str, dimension: Dimension, factor: f64) -> Unit {
    Unit { code, dimension, factor, offset: 0.0 }
}

/// Every accepted unit. Codes are case-sensitive UCUM ("c/s") codes.
static UNITS: &[Unit] = &[
    // magnetic flux density
    u("T", Dimension::FLUX_DENSITY, 1.0),
    u("mT", Dimension::FLUX_DENSITY, 1e-3),
    u("G", Dimension::FLUX_DENSITY, 1e-4),
    u("kG", Dimension::FLUX_DENSITY, 1e-1),
    // magnetic field strength
    u("A/m", Dimension::FIELD_STRENGTH, 1.0),
    u("kA/m", Dimension::FIELD_STRENGTH, 1e3),
    u("MA/m", Dimension::FIELD_STRENGTH, 1e6),
    u("Oe", Dimension::FIELD_STRENGTH, OERSTED_IN_A_PER_M),
    u("kOe", Dimension::FIELD_STRENGTH, 1e3 * OERSTED_IN_A_PER_M),
    // energy per volume (energy product, volumetric energy density)
    u("J/m3", Dimension::ENERGY_PER_VOLUME, 1.0),
    u("kJ/m3", Dimension::ENERGY_PER_VOLUME, 1e3),
    u("MJ/m3", Dimension::ENERGY_PER_VOLUME, 1e6),
    u("MG.Oe", Dimension::ENERGY_PER_VOLUME, 1e6 * GAUSS_OERSTED_IN_J_PER_M3),
    u("W.h/L", Dimension::ENERGY_PER_VOLUME, HOUR_S * 1e3),
    u("W.h/l", Dimension::ENERGY_PER_VOLUME, HOUR_S * 1e3),
    // temperature
    u("K", Dimension::TEMPERATURE, 1.0),
    Unit { code: "Cel", dimension: Dimension::TEMPERATURE, factor: 1.0, offset: 273.15 },
    Unit { code: "[degF]", dimension: Dimension::TEMPERATURE, factor: 5.0 / 9.0, offset: 273.15 - 32.0 * 5.0 / 9.0 },
    // temperature coefficients
    u("/K", Dimension::PER_KELVIN, 1.0),
    u("%/K", Dimension::PER_KELVIN, 1e-2),
    u("[ppm]/K", Dimension::PER_KELVIN, 1e-6),
    // ratios
    u("1", Dimension::NONE, 1.0),
    u("%", Dimension::NONE, 1e-2),
    u("[ppm]", Dimension::NONE, 1e-6),
    // rates per time
    u("/h", Dimension::PER_TIME, 1.0 / HOUR_S),
    u("%/a", Dimension::PER_TIME, 1e-2 / YEAR_S),
    u("/a", Dimension::PER_TIME, 1.0 / YEAR_S),
    // time
    u("s", Dimension::TIME, 1.0),
    u("min", Dimension::TIME, 60.0),
    u("h", Dimension::TIME, HOUR_S),
    u("d", Dimension::TIME, 86400.0),
    u("a", Dimension::TIME, YEAR_S),
    // mass density
    u("g/cm3", Dimension::MASS_DENSITY, 1e3),
    u("kg/m3", Dimension::MASS_DENSITY, 1.0),
    // stress
    u("Pa", Dimension::PRESSURE, 1.0),
    u("kPa", Dimension::PRESSURE, 1e3),
    u("MPa", Dimension::PRESSURE, 1e6),
    u("GPa", Dimension::PRESSURE, 1e9),
    // mass per area (corrosion weight loss)
    u("mg/cm2", Dimension::MASS_PER_AREA, 1e-6 / 1e-4),
    u("g/m2", Dimension::MASS_PER_AREA, 1e-3),
    u("kg/m2", Dimension::MASS_PER_AREA, 1.0),
    // charge
    u("C", Dimension::CHARGE, 1.0),
    u("A.h", Dimension::CHARGE, HOUR_S),
    u("mA.h", Dimension::CHARGE, HOUR_S * 1e-3),
    // energy per mass
    u("J/kg", Dimension::ENERGY_PER_MASS, 1.0),
    u("W.h/kg", Dimension::ENERGY_PER_MASS, HOUR_S),
    u("kW.h/kg", Dimension::ENERGY_PER_MASS, HOUR_S * 1e3),
    // power per mass
    u("W/kg", Dimension::POWER_PER_MASS, 1.0),
    u("kW/kg", Dimension::POWER_PER_MASS, 1e3),
    // electrical
    u("Ohm", Dimension::RESISTANCE, 1.0),
    u("mOhm", Dimension::RESISTANCE, 1e-3),
    u("V", Dimension::VOLTAGE, 1.0),
    u("mV", Dimension::VOLTAGE, 1e-3),
    // energy, mass, length
    u("J", Dimension::ENERGY, 1.0),
    u("W.h", Dimension::ENERGY, HOUR_S),
    u("kW.h", Dimension::ENERGY, HOUR_S * 1e3),
    u("kg", Dimension::MASS, 1.0),
    u("g", Dimension::MASS, 1e-3),
    u("m", Dimension::LENGTH, 1.0),
    u("mm", Dimension::LENGTH, 1e-3),
    u("um", Dimension::LENGTH, 1e-6),
    // counts and outcomes (UCUM annotations)
    u("{cycles}", Dimension::CYCLES, 1.0),
    u("{pass}", Dimension::OUTCOME, 1.0),
];

/// Why a unit code could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    #[error("unknown unit code '{code}' (use a UCUM code such as T, kA/m, kJ/m3, Cel, %/K, W.h/kg)")]
    Unknown { code: String },
    #[error("unit '{from}' ({from_dim}) cannot be converted to '{to}' ({to_dim})")]
    Incompatible { from: String, from_dim: &'static str, to: String, to_dim: &'static str },
}

impl Unit {
    /// Looks a UCUM code up in the table of accepted units.
    pub fn parse(code: &str) -> Result<Unit, UnitError> {
        UNITS.iter().find(|unit| unit.code == code).copied().ok_or_else(|| UnitError::Unknown { code: code.to_owned() })
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn dimension(&self) -> Dimension {
        self.dimension
    }

    pub fn is_compatible_with(&self, other: &Unit) -> bool {
        self.dimension == other.dimension
    }

    /// Converts `value` expressed in `self` to `target`.
    pub fn convert(&self, value: f64, target: &Unit) -> Result<f64, UnitError> {
        if !self.is_compatible_with(target) {
            return Err(UnitError::Incompatible {
                from: self.code.to_owned(),
                from_dim: self.dimension.describe(),
                to: target.code.to_owned(),
                to_dim: target.dimension.describe(),
            });
        }
        let si = value * self.factor + self.offset;
        Ok((si - target.offset) / target.factor)
    }

    /// `value` in this unit expressed in the coherent SI unit of its dimension (kelvin for
    /// temperatures: an absolute scale, so ratios of values mean something).
    pub fn to_si(&self, value: f64) -> f64 {
        value * self.factor + self.offset
    }

    /// The inverse of [`Unit::to_si`].
    pub fn from_si(&self, si: f64) -> f64 {
        (si - self.offset) / self.factor
    }

    /// A difference of two values in this unit, in SI (no offset: 10 °C apart is 10 K apart).
    pub fn difference_to_si(&self, delta: f64) -> f64 {
        delta * self.factor
    }

    /// The inverse of [`Unit::difference_to_si`].
    pub fn difference_from_si(&self, delta: f64) -> f64 {
        delta / self.factor
    }

    /// The unit as a datasheet prints it: `°C` for `Cel`, `kJ/m³` for `kJ/m3`, `Wh/kg` for
    /// `W.h/kg`, `cycles` for `{cycles}`.
    pub fn symbol(&self) -> &'static str {
        symbol(self.code)
    }

    /// `value` in `unit` as degrees Celsius; None when the unit is unknown or not a temperature.
    pub fn to_celsius(value: f64, unit: &str) -> Option<f64> {
        let (from, to) = (Unit::parse(unit).ok()?, Unit::parse("Cel").ok()?);
        from.convert(value, &to).ok()
    }

    /// All accepted codes of one dimension, for error messages.
    pub fn codes_for(dimension: Dimension) -> Vec<&'static str> {
        UNITS.iter().filter(|u| u.dimension == dimension).map(|u| u.code).collect()
    }
}

/// The printed symbol of a UCUM code prequal accepts; other text is returned as it is.
pub fn symbol(code: &str) -> &str {
    match code {
        "J/m3" => "J/m³",
        "kJ/m3" => "kJ/m³",
        "MJ/m3" => "MJ/m³",
        "MG.Oe" => "MGOe",
        "W.h/L" | "W.h/l" => "Wh/L",
        "Cel" => "°C",
        "[degF]" => "°F",
        "/K" => "1/K",
        "[ppm]/K" => "ppm/K",
        "1" => "",
        "[ppm]" => "ppm",
        "/h" => "1/h",
        "%/a" => "%/year",
        "/a" => "1/year",
        "a" => "years",
        "g/cm3" => "g/cm³",
        "kg/m3" => "kg/m³",
        "mg/cm2" => "mg/cm²",
        "g/m2" => "g/m²",
        "kg/m2" => "kg/m²",
        "A.h" => "Ah",
        "mA.h" => "mAh",
        "W.h/kg" => "Wh/kg",
        "kW.h/kg" => "kWh/kg",
        "Ohm" => "Ω",
        "mOhm" => "mΩ",
        "W.h" => "Wh",
        "kW.h" => "kWh",
        "um" => "µm",
        "{cycles}" => "cycles",
        "{pass}" => "pass/fail",
        // T, mT, G, kG, A/m, kA/m, MA/m, Oe, kOe, K, %/K, %, s, min, h, d, Pa … MPa, C, J/kg,
        // W/kg, kW/kg, V, mV, J, kg, g, m, mm: already what people write.
        other => other,
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(v: f64, from: &str, to: &str) -> f64 {
        Unit::parse(from).unwrap().convert(v, &Unit::parse(to).unwrap()).unwrap()
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-12)
    }

    #[test]
    fn published_conversion_factors() {
        // 1 kOe = 79.577 kA/m; 1 kG = 0.1 T; 1 MGOe = 7.9577 kJ/m3.
        assert!(close(conv(1.0, "kOe", "kA/m"), 79.577, 1e-5));
        assert!(close(conv(1.0, "kG", "T"), 0.1, 1e-12));
        assert!(close(conv(1.0, "MG.Oe", "kJ/m3"), 7.9577, 1e-5));
        assert!(close(conv(1.0, "Oe", "A/m"), 79.577, 1e-5));
        assert!(close(conv(20.0, "kOe", "kA/m"), 1591.55, 1e-5));
        assert!(close(conv(1000.0, "mT", "T"), 1.0, 1e-12));
    }

    #[test]
    fn temperature_scales() {
        assert!(close(conv(20.0, "Cel", "K"), 293.15, 1e-12));
        assert!(close(conv(212.0, "[degF]", "Cel"), 100.0, 1e-12));
        assert!(close(conv(-40.0, "Cel", "[degF]"), -40.0, 1e-12));
        assert!(close(conv(0.0, "K", "Cel"), -273.15, 1e-12));
    }

    #[test]
    fn battery_units() {
        assert!(close(conv(1.0, "W.h/kg", "J/kg"), 3600.0, 1e-12));
        assert!(close(conv(1.0, "A.h", "C"), 3600.0, 1e-12));
        assert!(close(conv(250.0, "mOhm", "Ohm"), 0.25, 1e-12));
        assert!(close(conv(1.0, "W.h/L", "kJ/m3"), 3600.0, 1e-12));
    }

    #[test]
    fn coefficients_and_ratios() {
        assert!(close(conv(-0.12, "%/K", "/K"), -0.0012, 1e-12));
        assert!(close(conv(50.0, "%", "1"), 0.5, 1e-12));
        assert!(close(conv(2.0, "%/a", "/a"), 0.02, 1e-12));
    }

    #[test]
    fn incompatible_units_are_errors() {
        let t = Unit::parse("T").unwrap();
        let ka = Unit::parse("kA/m").unwrap();
        assert!(matches!(t.convert(1.0, &ka), Err(UnitError::Incompatible { .. })));
        let pct = Unit::parse("%").unwrap();
        let cycles = Unit::parse("{cycles}").unwrap();
        assert!(pct.convert(1.0, &cycles).is_err());
    }

    #[test]
    fn unknown_codes_are_errors() {
        for code in ["", "t", "kOe ", "MGOe", "degC", "°C", "kA/m/m"] {
            assert_eq!(Unit::parse(code), Err(UnitError::Unknown { code: code.to_owned() }));
        }
    }
}

//! The property and condition vocabulary packages may use.
//!
//! Every dataset names a property from this table (or one under an explicit extension namespace,
//! `x-<namespace>.<name>`), in a unit whose dimension matches the property's. Adding a property is
//! adding a row here; its canonical unit is what reports convert to.

use crate::units::Dimension;

/// Which kind of material a property belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MaterialClass {
    PermanentMagnet,
    BatteryCell,
}

impl MaterialClass {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PermanentMagnet => "permanent_magnet",
            Self::BatteryCell => "battery_cell",
        }
    }
}

/// One property of the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PropertyDef {
    /// The name used in manifests, e.g. `intrinsic_coercivity`.
    pub name: &'static str,
    /// The usual symbol, e.g. `HcJ`.
    pub symbol: &'static str,
    pub description: &'static str,
    pub class: MaterialClass,
    /// The UCUM code reports use.
    pub canonical_unit: &'static str,
    pub dimension: Dimension,
}

const fn p(
    name: &'static str,
    symbol: &'static str,
    description: &'static str,
    class: MaterialClass,
    canonical_unit: &'static str,
    dimension: Dimension,
) -> PropertyDef {
    PropertyDef { name, symbol, description, class, canonical_unit, dimension }
}

use MaterialClass::{BatteryCell as B, PermanentMagnet as M};

/// Permanent magnets per IEC 60404-5 / IEC 60404-8-1; battery cells per IEC 62660, IEC 62619,
/// UN 38.3 and UL 9540A.
pub static PROPERTIES: &[PropertyDef] = &[
    p("remanence", "Br", "remanent flux density", M, "T", Dimension::FLUX_DENSITY),
    p("normal_coercivity", "HcB", "normal coercivity", M, "kA/m", Dimension::FIELD_STRENGTH),
    p("intrinsic_coercivity", "HcJ", "intrinsic coercivity", M, "kA/m", Dimension::FIELD_STRENGTH),
    p("max_energy_product", "(BH)max", "maximum energy product", M, "kJ/m3", Dimension::ENERGY_PER_VOLUME),
    p(
        "remanence_temperature_coefficient",
        "α(Br)",
        "reversible temperature coefficient of Br",
        M,
        "%/K",
        Dimension::PER_KELVIN,
    ),
    p(
        "coercivity_temperature_coefficient",
        "β(HcJ)",
        "reversible temperature coefficient of HcJ",
        M,
        "%/K",
        Dimension::PER_KELVIN,
    ),
    p("irreversible_flux_loss", "", "irreversible flux loss after thermal exposure", M, "%", Dimension::NONE),
    p("max_operating_temperature", "", "maximum operating temperature", M, "Cel", Dimension::TEMPERATURE),
    p("density", "ρ", "density", M, "g/cm3", Dimension::MASS_DENSITY),
    p("flexural_strength", "", "flexural strength", M, "MPa", Dimension::PRESSURE),
    p("corrosion_weight_loss", "", "weight loss in HAST/PCT corrosion test", M, "mg/cm2", Dimension::MASS_PER_AREA),
    p("capacity", "C", "discharge capacity", B, "A.h", Dimension::CHARGE),
    p("gravimetric_energy_density", "", "gravimetric energy density", B, "W.h/kg", Dimension::ENERGY_PER_MASS),
    p("volumetric_energy_density", "", "volumetric energy density", B, "W.h/L", Dimension::ENERGY_PER_VOLUME),
    p("specific_power", "", "specific power", B, "W/kg", Dimension::POWER_PER_MASS),
    p("cycle_life", "", "cycles to the end-of-life state of health", B, "{cycles}", Dimension::CYCLES),
    p("calendar_fade", "", "capacity fade per year in storage", B, "%/a", Dimension::PER_TIME),
    p("dc_internal_resistance", "DCIR", "DC internal resistance", B, "mOhm", Dimension::RESISTANCE),
    p("thermal_runaway_onset", "", "thermal-runaway onset temperature", B, "Cel", Dimension::TEMPERATURE),
    p("un38_3_result", "", "UN 38.3 transport test outcome (1 pass, 0 fail)", B, "{pass}", Dimension::OUTCOME),
    p(
        "ul9540a_propagation_result",
        "",
        "UL 9540A cell-to-cell propagation outcome (1 no propagation, 0 propagation)",
        B,
        "{pass}",
        Dimension::OUTCOME,
    ),
    p("nominal_voltage", "", "nominal cell voltage", B, "V", Dimension::VOLTAGE),
];

/// A test condition a dataset may state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConditionDef {
    pub name: &'static str,
    pub description: &'static str,
    pub canonical_unit: &'static str,
    pub dimension: Dimension,
}

/// Test conditions. `temperature` is required on every dataset.
pub static CONDITIONS: &[ConditionDef] = &[
    ConditionDef {
        name: "temperature",
        description: "specimen temperature during measurement",
        canonical_unit: "Cel",
        dimension: Dimension::TEMPERATURE,
    },
    ConditionDef {
        name: "exposure_temperature",
        description: "temperature of a thermal exposure before measurement",
        canonical_unit: "Cel",
        dimension: Dimension::TEMPERATURE,
    },
    ConditionDef {
        name: "exposure_time",
        description: "duration of a thermal or humidity exposure",
        canonical_unit: "h",
        dimension: Dimension::TIME,
    },
    ConditionDef {
        name: "permeance_coefficient",
        description: "permeance coefficient (load line) Pc",
        canonical_unit: "1",
        dimension: Dimension::NONE,
    },
    ConditionDef {
        name: "relative_humidity",
        description: "relative humidity",
        canonical_unit: "%",
        dimension: Dimension::NONE,
    },
    ConditionDef {
        name: "pressure",
        description: "ambient or test pressure",
        canonical_unit: "kPa",
        dimension: Dimension::PRESSURE,
    },
    ConditionDef {
        name: "c_rate",
        description: "charge/discharge rate",
        canonical_unit: "/h",
        dimension: Dimension::PER_TIME,
    },
    ConditionDef {
        name: "depth_of_discharge",
        description: "depth of discharge per cycle",
        canonical_unit: "%",
        dimension: Dimension::NONE,
    },
    ConditionDef {
        name: "state_of_charge",
        description: "state of charge",
        canonical_unit: "%",
        dimension: Dimension::NONE,
    },
    ConditionDef {
        name: "end_of_life_state_of_health",
        description: "state of health that ends the test",
        canonical_unit: "%",
        dimension: Dimension::NONE,
    },
];

/// The prefix of extension property and condition names: `x-<namespace>.<name>`.
pub const EXTENSION_PREFIX: &str = "x-";

pub fn property(name: &str) -> Option<&'static PropertyDef> {
    PROPERTIES.iter().find(|p| p.name == name)
}

pub fn condition(name: &str) -> Option<&'static ConditionDef> {
    CONDITIONS.iter().find(|c| c.name == name)
}

/// True for a well-formed extension name such as `x-ornl.vickers_hardness`.
pub fn is_extension_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(EXTENSION_PREFIX) else {
        return false;
    };
    let Some((namespace, local)) = rest.split_once('.') else {
        return false;
    };
    let ok = |s: &str| {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    ok(namespace) && ok(local)
}

pub fn property_names() -> Vec<&'static str> {
    PROPERTIES.iter().map(|p| p.name).collect()
}

pub fn condition_names() -> Vec<&'static str> {
    CONDITIONS.iter().map(|c| c.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Unit;

    #[test]
    fn every_canonical_unit_exists_and_matches_its_dimension() {
        for def in PROPERTIES {
            let unit = Unit::parse(def.canonical_unit).unwrap();
            assert_eq!(unit.dimension(), def.dimension, "{}", def.name);
        }
        for def in CONDITIONS {
            let unit = Unit::parse(def.canonical_unit).unwrap();
            assert_eq!(unit.dimension(), def.dimension, "{}", def.name);
        }
    }

    #[test]
    fn extension_names() {
        assert!(is_extension_name("x-ornl.vickers_hardness"));
        assert!(!is_extension_name("x-.hardness"));
        assert!(!is_extension_name("x-ornl"));
        assert!(!is_extension_name("vickers_hardness"));
        assert!(!is_extension_name("x-ORNL.Hardness"));
    }
}

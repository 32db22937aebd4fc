//! Application requirement profiles: what an application demands of a material, requirement by
//! requirement, with the condition, the statistical basis and the evidence counts it needs.
//!
//! Profiles are versioned data (JSON). The built-in ones under `src/profile/builtin/` are
//! illustrative, not any standard body's numbers. This module parses and checks them; it does
//! no I/O beyond reading a file it is given.

pub mod issued;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::package::vocabulary::{self, MaterialClass};
use crate::units::Unit;

/// The profiles shipped with prequal, loaded into every registry at start-up.
pub const BUILTIN: [(&str, &str); 7] = [
    ("ev-traction-magnet-150c", include_str!("builtin/ev-traction-magnet-150c.json")),
    ("ev-traction-magnet-180c", include_str!("builtin/ev-traction-magnet-180c.json")),
    ("wind-generator-magnet", include_str!("builtin/wind-generator-magnet.json")),
    ("industrial-servo-magnet", include_str!("builtin/industrial-servo-magnet.json")),
    ("loudspeaker-magnet", include_str!("builtin/loudspeaker-magnet.json")),
    ("stationary-storage-cell", include_str!("builtin/stationary-storage-cell.json")),
    ("ev-traction-cell", include_str!("builtin/ev-traction-cell.json")),
];

/// Every built-in profile, parsed and checked.
pub fn builtin() -> Result<Vec<Profile>, ProfileError> {
    BUILTIN.iter().map(|(name, text)| Profile::parse(name, text.as_bytes())).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Stable id, e.g. `ev-traction-magnet-180c`.
    pub id: String,
    /// Version of this profile; a changed requirement is a new version.
    pub version: String,
    pub title: String,
    /// The application, in an engineer's words.
    pub application: String,
    /// Who issued it.
    pub issuing_body: String,
    /// Illustrative profiles are examples, not any body's requirements.
    #[serde(default)]
    pub illustrative: bool,
    pub material_class: MaterialClass,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Comparator {
    /// value ≥ threshold
    AtLeast,
    /// value ≤ threshold
    AtMost,
    /// threshold ≤ value ≤ threshold_high
    Between,
}

/// How strong the evidence must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The mean of the specimens.
    Typical,
    /// Every specimen.
    Minimum,
    /// 90 % of the population with 95 % confidence.
    BBasis,
    /// 99 % of the population with 95 % confidence.
    ABasis,
}

impl Basis {
    pub fn label(self) -> &'static str {
        match self {
            Basis::Typical => "typical (mean)",
            Basis::Minimum => "minimum (every specimen)",
            Basis::BBasis => "B-basis (90 %/95 %)",
            Basis::ABasis => "A-basis (99 %/95 %)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    Critical,
    Major,
    Minor,
}

/// A condition the evidence must have been measured at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequiredCondition {
    pub value: f64,
    /// UCUM code, e.g. `Cel`.
    pub unit: String,
    /// Evidence within ± this (same unit) counts.
    pub tolerance: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Requirement {
    /// Unique within the profile.
    pub id: String,
    /// A vocabulary property, e.g. `intrinsic_coercivity`.
    pub property: String,
    pub comparator: Comparator,
    pub threshold: f64,
    /// Upper limit for `between`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold_high: Option<f64>,
    /// UCUM code of the thresholds.
    pub unit: String,
    /// Conditions by name (`temperature` …); conditions not named here are not constrained.
    #[serde(default)]
    pub conditions: BTreeMap<String, RequiredCondition>,
    /// May a value at the required temperature be interpolated between tested temperatures
    /// on both sides? Never extrapolated.
    #[serde(default)]
    pub interpolation: bool,
    pub basis: Basis,
    pub min_specimens: u32,
    pub min_batches: u32,
    /// Test standards whose results are accepted, e.g. `IEC 60404-5`.
    pub standards: Vec<String>,
    pub criticality: Criticality,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    #[error("{file}: not a valid profile: {detail}")]
    Invalid { file: String, detail: String },
    #[error("{file}: requirement '{requirement}': {detail}")]
    Requirement { file: String, requirement: String, detail: String },
}

impl ProfileError {
    pub fn code(&self) -> &'static str {
        match self {
            ProfileError::Invalid { .. } => "profile_invalid",
            ProfileError::Requirement { .. } => "profile_requirement_invalid",
        }
    }
}

fn slug_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Profile {
    /// Parses and checks a profile (`file` names it in errors).
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Profile, ProfileError> {
        let profile: Profile = serde_json::from_slice(bytes)
            .map_err(|e| ProfileError::Invalid { file: file.to_owned(), detail: e.to_string() })?;
        profile.check(file)?;
        Ok(profile)
    }

    pub fn check(&self, file: &str) -> Result<(), ProfileError> {
        let invalid = |detail: String| ProfileError::Invalid { file: file.to_owned(), detail };
        if !slug_ok(&self.id) {
            return Err(invalid(format!("id '{}' must be lowercase letters, digits and '-'", self.id)));
        }
        if self.version.trim().is_empty() || self.title.trim().is_empty() {
            return Err(invalid("version and title must not be empty".into()));
        }
        if self.requirements.is_empty() {
            return Err(invalid("a profile needs at least one requirement".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for r in &self.requirements {
            let bad =
                |detail: String| ProfileError::Requirement { file: file.to_owned(), requirement: r.id.clone(), detail };
            if !seen.insert(r.id.as_str()) {
                return Err(bad("requirement id used twice".into()));
            }
            let Some(def) = vocabulary::property(&r.property) else {
                return Err(bad(format!("unknown property '{}'", r.property)));
            };
            if def.class != self.material_class {
                return Err(bad(format!("'{}' is not a property of {}", r.property, self.material_class.as_str())));
            }
            let unit = Unit::parse(&r.unit).map_err(|e| bad(format!("unit: {e}")))?;
            if unit.dimension() != def.dimension {
                return Err(bad(format!("unit '{}' does not measure {}", r.unit, r.property)));
            }
            if !r.threshold.is_finite() {
                return Err(bad("threshold must be a number".into()));
            }
            match (r.comparator, r.threshold_high) {
                (Comparator::Between, Some(high)) if high.is_finite() && high > r.threshold => {}
                (Comparator::Between, _) => return Err(bad("between needs threshold_high above threshold".into())),
                (_, Some(_)) => return Err(bad("threshold_high is only for between".into())),
                _ => {}
            }
            for (name, c) in &r.conditions {
                let Some(cdef) = vocabulary::condition(name) else {
                    return Err(bad(format!("unknown condition '{name}'")));
                };
                let cu = Unit::parse(&c.unit).map_err(|e| bad(format!("condition {name}: {e}")))?;
                if cu.dimension() != cdef.dimension {
                    return Err(bad(format!("condition {name}: unit '{}' does not fit", c.unit)));
                }
                if !(c.value.is_finite() && c.tolerance.is_finite() && c.tolerance >= 0.0) {
                    return Err(bad(format!("condition {name}: value and a non-negative tolerance are needed")));
                }
            }
            if r.interpolation && !r.conditions.contains_key("temperature") {
                return Err(bad("interpolation needs a temperature condition".into()));
            }
            if r.min_specimens == 0 || r.min_batches == 0 || r.min_batches > r.min_specimens {
                return Err(bad("min_specimens and min_batches must be at least 1, batches ≤ specimens".into()));
            }
            let needs = match r.basis {
                Basis::BBasis | Basis::ABasis => 5,
                _ => 1,
            };
            if r.min_specimens < needs {
                return Err(bad(format!("{} needs at least {needs} specimens", r.basis.label())));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse() {
        let all = builtin().unwrap();
        assert_eq!(all.len(), 7);
        assert!(all.iter().all(|p| p.illustrative));
        let ids: std::collections::BTreeSet<_> = all.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids.len(), 7);
    }

    #[test]
    fn bad_profiles_are_refused_with_the_requirement_named() {
        let (_, text) = BUILTIN[0];
        let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
        v["requirements"][0]["unit"] = "Cel".into();
        let e = Profile::parse("p.json", v.to_string().as_bytes()).unwrap_err();
        assert_eq!(e.code(), "profile_requirement_invalid");
        assert!(e.to_string().contains("does not measure"), "{e}");
        let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
        v["requirements"][0]["property"] = "capacity".into();
        assert!(Profile::parse("p.json", v.to_string().as_bytes()).is_err());
        let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
        v["requirements"][0]["comparator"] = "between".into();
        assert!(Profile::parse("p.json", v.to_string().as_bytes()).unwrap_err().to_string().contains("threshold_high"));
        assert_eq!(Profile::parse("p.json", b"{").unwrap_err().code(), "profile_invalid");
    }
}

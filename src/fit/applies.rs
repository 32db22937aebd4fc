//! Whether a profile applies to a material at all: a profile states what one class of material
//! must do (a magnet's coercivity, a cell's cycle life), so fitting a magnet against a cell
//! profile would only report every requirement "not tested" — an answer that reads like a test
//! plan but means nothing. Every path that fits (the offline CLI, `GET /v1/fit`, rankings and
//! `profile=` search) asks this one function first.

use crate::profile::Profile;

use super::MaterialRef;

/// A material (or a search's `material_class`) of another class than the profile's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("profile '{profile}' applies to {profile_class}; {subject} is {subject_class}")]
pub struct ClassMismatch {
    pub profile: String,
    pub profile_class: String,
    /// What was asked about, in words: `material 'northfield--n42sh'`, `the search's material_class`.
    pub subject: String,
    pub subject_class: String,
}

impl ClassMismatch {
    /// The stable machine code.
    pub const CODE: &'static str = "profile_class_mismatch";

    pub fn code(&self) -> &'static str {
        Self::CODE
    }
}

/// Refuses a material of another class than the profile's.
pub fn check_applies(profile: &Profile, material: &MaterialRef) -> Result<(), ClassMismatch> {
    check_class(profile, &format!("material '{}'", material.id), &material.material_class)
}

/// Refuses a class (`permanent_magnet`, `battery_cell`) other than the profile's; `subject` names
/// what has that class, for the message.
pub fn check_class(profile: &Profile, subject: &str, class: &str) -> Result<(), ClassMismatch> {
    if profile.material_class.as_str() == class {
        return Ok(());
    }
    Err(ClassMismatch {
        profile: profile.id.clone(),
        profile_class: profile.material_class.as_str().to_owned(),
        subject: subject.to_owned(),
        subject_class: class.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(id: &str) -> Profile {
        crate::profile::builtin().unwrap().into_iter().find(|p| p.id == id).unwrap()
    }

    fn material(class: &str) -> MaterialRef {
        MaterialRef {
            id: "northfield--n42sh".into(),
            designation: "N42SH".into(),
            producer: "Northfield".into(),
            material_class: class.into(),
        }
    }

    #[test]
    fn a_profile_applies_to_its_own_class_only() {
        let cell = profile("stationary-storage-cell");
        assert!(check_applies(&cell, &material("battery_cell")).is_ok());
        let e = check_applies(&cell, &material("permanent_magnet")).unwrap_err();
        assert_eq!(e.code(), "profile_class_mismatch");
        assert_eq!(
            e.to_string(),
            "profile 'stationary-storage-cell' applies to battery_cell; material 'northfield--n42sh' is permanent_magnet"
        );
        let magnet = profile("loudspeaker-magnet");
        assert!(check_applies(&magnet, &material("permanent_magnet")).is_ok());
        assert!(check_applies(&magnet, &material("battery_cell")).is_err());
    }
}

//! Who may do what: the one table of authorization rules. HTTP handlers and the registry's own
//! methods ask [`authorize`] with the caller and the action; no handler or method compares roles
//! itself. (The admin CLI acts with the operator's authority on the storage it is given, as the
//! operator of the machine does; reading is governed by releasability, in [`super::auth`].)
//!
//! | action | who |
//! |---|---|
//! | add organisations, register and revoke keys, issue, list and revoke tokens | operator |
//! | publish a package | lab (its own organisation's signature among the package's) |
//! | countersign a package | certifier (with its own key, checked when applied) |
//! | withdraw a package | the lab that published it, or an operator |
//! | add a profile version | certifier (ids it owns) or operator (the registry's ids) |

use super::{Principal, RegistryError, Role};

/// Something a caller asks to do.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    /// Add an organisation, register or revoke a key, issue, list or revoke tokens.
    Administer,
    /// Publish a package.
    Publish,
    /// Countersign a package.
    Countersign,
    /// Withdraw the package that `publisher` published.
    Withdraw { publisher: &'a str },
    /// Add a version of a profile (whose id the issuer must own; see `profiles.rs`).
    IssueProfile,
}

impl Action<'_> {
    /// The roles that may take the action at all.
    fn roles(&self) -> &'static [Role] {
        match self {
            Action::Administer => &[Role::Operator],
            Action::Publish => &[Role::Lab],
            Action::Countersign => &[Role::Certifier],
            Action::Withdraw { .. } => &[Role::Lab, Role::Operator],
            Action::IssueProfile => &[Role::Certifier, Role::Operator],
        }
    }
}

/// Refuses (403 `forbidden`, naming what is needed) unless `principal` may take `action`.
pub fn authorize(principal: &Principal, action: Action<'_>) -> Result<(), RegistryError> {
    authorize_role(principal, action)?;
    match action {
        Action::Withdraw { publisher } if principal.role != Role::Operator && publisher != principal.organisation => {
            Err(RegistryError::forbidden(format!(
                "only '{publisher}' (the publishing lab) or an operator may withdraw this package"
            )))
        }
        _ => Ok(()),
    }
}

/// The role half of [`authorize`]: whether `principal`'s role may take `action` at all, checked
/// before anything is looked up (a withdrawal's publisher is known only once the package is).
pub fn authorize_role(principal: &Principal, action: Action<'_>) -> Result<(), RegistryError> {
    let roles = action.roles();
    if roles.contains(&principal.role) {
        return Ok(());
    }
    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    Err(RegistryError::forbidden(format!(
        "this needs a token with role {}; this token's role is {}",
        names.join(" or "),
        principal.role.as_str()
    )))
}

/// The organisation a profile version is issued under: the registry's own ids for an operator,
/// the certifier's organisation otherwise.
pub fn profile_issuer(principal: &Principal) -> String {
    if principal.role == Role::Operator {
        crate::profile::issued::REGISTRY_ISSUER.to_owned()
    } else {
        principal.organisation.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, organisation: &str) -> Principal {
        Principal { token_id: "t".into(), organisation: organisation.into(), country: "US".into(), role }
    }

    #[test]
    fn the_table() {
        use Role::*;
        let cases: [(Action, [bool; 4]); 5] = [
            // operator, lab, certifier, reader
            (Action::Administer, [true, false, false, false]),
            (Action::Publish, [false, true, false, false]),
            (Action::Countersign, [false, false, true, false]),
            (Action::Withdraw { publisher: "lab-a" }, [true, true, false, false]),
            (Action::IssueProfile, [true, false, true, false]),
        ];
        for (action, allowed) in cases {
            for (role, ok) in [Operator, Lab, Certifier, Reader].into_iter().zip(allowed) {
                assert_eq!(authorize(&principal(role, "lab-a"), action).is_ok(), ok, "{action:?} by {role:?}");
            }
        }
        // Another lab may not withdraw lab-a's package; an operator may.
        assert!(authorize(&principal(Lab, "lab-b"), Action::Withdraw { publisher: "lab-a" }).is_err());
        assert!(authorize(&principal(Operator, "ops"), Action::Withdraw { publisher: "lab-a" }).is_ok());
    }
}

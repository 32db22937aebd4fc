//! Who is asking: organisation kinds, token roles, API tokens, and what a reader may see.

use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::error::RegistryError;

/// What an organisation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Lab,
    Oem,
    Certifier,
    Mirror,
    Operator,
}

impl OrgKind {
    pub const ALL: [OrgKind; 5] = [OrgKind::Lab, OrgKind::Oem, OrgKind::Certifier, OrgKind::Mirror, OrgKind::Operator];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Lab => "lab",
            OrgKind::Oem => "oem",
            OrgKind::Certifier => "certifier",
            OrgKind::Mirror => "mirror",
            OrgKind::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> Result<OrgKind, RegistryError> {
        OrgKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            RegistryError::bad_request(format!("kind '{s}' is not one of lab, oem, certifier, mirror, operator"))
        })
    }
}

/// What a token may do. A token's role must suit its organisation's kind: `lab` tokens belong to
/// labs, `certifier` tokens to certifiers, `operator` tokens to operators; any organisation may
/// hold `reader` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manage organisations, keys and tokens; withdraw any package; read everything.
    Operator,
    /// Publish and withdraw the organisation's own packages.
    Lab,
    /// Countersign packages.
    Certifier,
    /// Read what the organisation may see.
    Reader,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Operator, Role::Lab, Role::Certifier, Role::Reader];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Lab => "lab",
            Role::Certifier => "certifier",
            Role::Reader => "reader",
        }
    }

    pub fn parse(s: &str) -> Result<Role, RegistryError> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            RegistryError::bad_request(format!("role '{s}' is not one of operator, lab, certifier, reader"))
        })
    }

    /// Whether an organisation of `kind` may hold a token with this role.
    pub fn suits(self, kind: OrgKind) -> bool {
        match self {
            Role::Operator => kind == OrgKind::Operator,
            Role::Lab => kind == OrgKind::Lab,
            Role::Certifier => kind == OrgKind::Certifier,
            Role::Reader => true,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub organisation: String,
    pub country: String,
    pub role: Role,
}

/// Whose releasability applies to a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// Public packages only.
    Anonymous,
    /// Public packages, allied packages naming the organisation's country, restricted packages
    /// naming the organisation, and the organisation's own packages.
    Organisation { id: String, country: String },
    /// The registry's operators see every package.
    Operator,
}

impl Reader {
    pub fn of(principal: Option<&Principal>) -> Reader {
        match principal {
            None => Reader::Anonymous,
            Some(p) if p.role == Role::Operator => Reader::Operator,
            Some(p) => Reader::Organisation { id: p.organisation.clone(), country: p.country.clone() },
        }
    }

    /// The `package_readers` entries that grant this reader access.
    pub fn grants(&self) -> Vec<String> {
        match self {
            Reader::Organisation { id, country } => vec![country_grant(country), organisation_grant(id)],
            _ => Vec::new(),
        }
    }
}

pub fn country_grant(country: &str) -> String {
    format!("country:{country}")
}

pub fn organisation_grant(id: &str) -> String {
    format!("org:{id}")
}

/// A new API token: `pq_<id>_<secret>`. Returns (id, token, hash to store).
pub fn new_token() -> (String, String, String) {
    let mut id = [0u8; 6];
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut id);
    OsRng.fill_bytes(&mut secret);
    let id = hex::encode(id);
    let token = format!("pq_{id}_{}", hex::encode(secret));
    let hash = hash_token(&token);
    (id, token, hash)
}

/// What the database stores and looks tokens up by. Tokens carry 256 random bits, so a plain
/// SHA-256 is enough; lookup by hash means no secret is ever compared byte by byte in memory.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Checks the shape of a token before touching the database.
pub fn token_shape_ok(token: &str) -> bool {
    let Some(rest) = token.strip_prefix("pq_") else { return false };
    let Some((id, secret)) = rest.split_once('_') else { return false };
    id.len() == 12 && secret.len() == 64 && rest.bytes().all(|b| b == b'_' || b.is_ascii_hexdigit())
}

/// Organisation ids: lowercase letters, digits and '-', 2 to 64 characters, starting with a letter.
pub fn check_organisation_id(id: &str) -> Result<(), RegistryError> {
    if id == crate::profile::issued::REGISTRY_ISSUER {
        return Err(RegistryError::bad_request(format!(
            "organisation id '{id}' is reserved: it names the registry operator as a profile issuer"
        )));
    }
    let ok = (2..=64).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(RegistryError::bad_request(format!(
            "organisation id '{id}' must be 2-64 characters of a-z, 0-9 and '-', starting with a letter"
        )))
    }
}

/// ISO 3166-1 alpha-2: two uppercase letters.
pub fn check_country(country: &str) -> Result<(), RegistryError> {
    if country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(RegistryError::bad_request(format!("country '{country}' must be an ISO 3166-1 alpha-2 code such as 'DE'")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_a_checkable_shape() {
        let (id, token, hash) = new_token();
        assert!(token.starts_with(&format!("pq_{id}_")));
        assert!(token_shape_ok(&token));
        assert_eq!(hash, hash_token(&token));
        assert!(!token_shape_ok("pq_short_x"));
        assert!(!token_shape_ok(&token.replace("pq_", "px_")));
    }

    #[test]
    fn roles_suit_kinds() {
        assert!(Role::Lab.suits(OrgKind::Lab));
        assert!(!Role::Lab.suits(OrgKind::Oem));
        assert!(!Role::Operator.suits(OrgKind::Lab));
        assert!(OrgKind::ALL.iter().all(|k| Role::Reader.suits(*k)));
    }

    #[test]
    fn identifiers() {
        assert!(check_organisation_id("test-lab-2").is_ok());
        assert!(check_organisation_id("Test").is_err());
        assert!(check_organisation_id("-x").is_err());
        assert!(check_country("DE").is_ok());
        assert!(check_country("de").is_err());
        assert!(check_country("DEU").is_err());
    }
}

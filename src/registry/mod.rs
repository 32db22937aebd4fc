//! The registry's rules: who may publish, read, countersign and withdraw what; how an upload
//! becomes a stored package (only a [`VerifiedPackage`] is ever stored); how releasability,
//! revocation and supersession show on every read.
//!
//! Every method blocks (database and file work); HTTP handlers call them inside `web::block`.

mod apply;
pub mod auth;
pub mod demo;
pub mod error;
pub mod evidence;
pub mod integrity;
mod key_revocation;
pub mod materials;
pub mod mirror;
mod packages;
pub mod policy;
pub mod profiles;
mod queries;
pub mod search;
mod search_index;
pub mod supply;
pub mod transparency;
pub mod views;
pub mod witnessing;

use diesel::prelude::*;

use crate::log::entry::Event;
use crate::package::Limits;
use crate::package::signing::{KeyId, decode_public_key};
use crate::store::models::{KeyRow, OrganisationRow, TokenRow};
use crate::store::schema::{api_tokens, organisations, signing_keys};
use crate::store::{Store, format_time, now_ms, parse_time};

pub use auth::{OrgKind, Principal, Reader, Role};
pub use error::RegistryError;
pub use packages::Upload;
pub use search_index::Reindexed;
use views::*;

/// Registry settings that are not storage.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Largest package file accepted, in bytes.
    pub max_upload_bytes: u64,
    /// Limits applied when reading an uploaded package.
    pub limits: Limits,
}

impl Default for Policy {
    fn default() -> Self {
        Policy { max_upload_bytes: 1 << 30, limits: Limits::default() }
    }
}

pub struct Registry {
    pub store: Store,
    pub policy: Policy,
    /// What search filters on, in memory (see [`search_index::Mirror`]).
    mirror: search_index::Mirror,
    /// Signs log checkpoints; absent in registries opened only to administer them.
    log_key: Option<transparency::LogKey>,
    /// The witnesses whose cosignatures the log accepts (`POST /log/cosignature`).
    witnesses: Vec<crate::log::cosignature::CosignerKey>,
    /// This registry as a tlog-witness of other logs (`POST /add-checkpoint`), when configured.
    witness_service: Option<witnessing::WitnessService>,
}

type Result<T, E = RegistryError> = std::result::Result<T, E>;

fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}

pub(crate) fn organisation_view(row: OrganisationRow) -> Result<Organisation> {
    Ok(Organisation {
        kind: OrgKind::parse(&row.kind).map_err(|_| RegistryError::Internal(format!("stored kind '{}'", row.kind)))?,
        id: row.id,
        name: row.name,
        country: row.country,
        created_at: format_time(row.created_at),
    })
}

pub(crate) fn key_view(row: KeyRow, now: i64) -> SigningKey {
    SigningKey {
        status: if row.revoked_at.is_some_and(|t| t <= now) { "revoked" } else { "active" }.to_owned(),
        key_id: row.key_id,
        organisation: row.organisation_id,
        public_key: row.public_key,
        added_at: format_time(row.added_at),
        revoked_at: row.revoked_at.map(format_time),
        compromised: row.compromised,
        revocation_reason: row.revocation_reason,
    }
}

fn token_view(row: TokenRow) -> Result<TokenInfo> {
    Ok(TokenInfo {
        role: Role::parse(&row.role).map_err(|_| RegistryError::Internal(format!("stored role '{}'", row.role)))?,
        id: row.id,
        organisation: row.organisation_id,
        label: row.label,
        created_at: format_time(row.created_at),
        revoked_at: row.revoked_at.map(format_time),
    })
}

impl Registry {
    pub fn new(store: Store, policy: Policy) -> Registry {
        Registry {
            store,
            policy,
            mirror: search_index::Mirror::default(),
            log_key: None,
            witnesses: Vec::new(),
            witness_service: None,
        }
    }

    /// The caller behind a bearer token.
    pub fn authenticate(&self, token: &str) -> Result<Principal> {
        if !auth::token_shape_ok(token) {
            return Err(RegistryError::InvalidToken);
        }
        let hash = auth::hash_token(token);
        let mut conn = self.store.conn()?;
        let found: Option<(TokenRow, OrganisationRow)> = api_tokens::table
            .inner_join(organisations::table)
            .filter(api_tokens::token_hash.eq(&hash))
            .select((TokenRow::as_select(), OrganisationRow::as_select()))
            .first(&mut conn)
            .optional()?;
        let Some((token, org)) = found else { return Err(RegistryError::InvalidToken) };
        if token.revoked_at.is_some() {
            return Err(RegistryError::TokenRevoked);
        }
        Ok(Principal {
            token_id: token.id,
            organisation: org.id,
            country: org.country,
            role: Role::parse(&token.role)?,
        })
    }

    // --- organisations and keys ---

    pub fn create_organisation(&self, new: &NewOrganisation) -> Result<Organisation> {
        auth::check_organisation_id(&new.id)?;
        auth::check_country(&new.country)?;
        if new.name.trim().is_empty() {
            return Err(RegistryError::bad_request("name must not be empty"));
        }
        let row = OrganisationRow {
            id: new.id.clone(),
            name: new.name.trim().to_owned(),
            kind: new.kind.as_str().to_owned(),
            country: new.country.clone(),
            created_at: now_ms(),
        };
        let event = Event::OrganisationAdded {
            organisation: row.id.clone(),
            name: row.name.clone(),
            kind: row.kind.clone(),
            country: row.country.clone(),
        };
        self.store.write(|conn| -> Result<()> {
            apply::organisation_added(conn, &event, row.created_at)?;
            transparency::append(conn, &event, row.created_at)?;
            Ok(())
        })?;
        organisation_view(row)
    }

    pub fn list_organisations(&self) -> Result<Vec<Organisation>> {
        let mut conn = self.store.conn()?;
        let rows: Vec<OrganisationRow> =
            organisations::table.order(organisations::id).select(OrganisationRow::as_select()).load(&mut conn)?;
        rows.into_iter().map(organisation_view).collect()
    }

    fn organisation_row(&self, conn: &mut crate::store::AnyConnection, id: &str) -> Result<OrganisationRow> {
        organisations::table
            .find(id)
            .select(OrganisationRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| RegistryError::not_found(format!("no organisation '{id}'")))
    }

    pub fn get_organisation(&self, id: &str) -> Result<OrganisationDetail> {
        let mut conn = self.store.conn()?;
        let org = self.organisation_row(&mut conn, id)?;
        let keys: Vec<KeyRow> = signing_keys::table
            .filter(signing_keys::organisation_id.eq(id))
            .order(signing_keys::added_at)
            .select(KeyRow::as_select())
            .load(&mut conn)?;
        let now = now_ms();
        Ok(OrganisationDetail {
            organisation: organisation_view(org)?,
            keys: keys.into_iter().map(|k| key_view(k, now)).collect(),
        })
    }

    pub fn add_key(&self, organisation: &str, new: &NewKey) -> Result<SigningKey> {
        let key = decode_public_key(new.public_key.trim())
            .map_err(|e| RegistryError::bad_request(format!("public_key: {e}")))?;
        let event = Event::KeyAdded {
            key_id: KeyId::of(&key).as_str().to_owned(),
            organisation: organisation.to_owned(),
            public_key: new.public_key.trim().to_owned(),
        };
        let at = now_ms();
        let row = self.store.write(|conn| -> Result<KeyRow> {
            let row = apply::key_added(conn, &event, at)?;
            transparency::append(conn, &event, at)?;
            Ok(row)
        })?;
        Ok(key_view(row, now_ms()))
    }

    pub fn get_key(&self, key_id: &str) -> Result<SigningKey> {
        let mut conn = self.store.conn()?;
        let row: KeyRow = signing_keys::table
            .find(key_id)
            .select(KeyRow::as_select())
            .first(&mut conn)
            .optional()?
            .ok_or_else(|| RegistryError::not_found(format!("no key '{key_id}'")))?;
        Ok(key_view(row, now_ms()))
    }

    /// Revokes a key from `effective_at` (now if absent). A key already revoked keeps the
    /// earlier effective time; marking it compromised is still recorded.
    pub fn revoke_key(&self, key_id: &str, revocation: &KeyRevocation) -> Result<SigningKey> {
        if revocation.reason.trim().is_empty() {
            return Err(RegistryError::bad_request("reason must not be empty"));
        }
        let effective = match &revocation.effective_at {
            Some(t) => parse_time(t).map_err(|e| RegistryError::bad_request(format!("effective_at: {e}")))?,
            None => now_ms(),
        };
        let row = self.store.write(|conn| -> Result<KeyRow> {
            let row: KeyRow = signing_keys::table
                .find(key_id)
                .select(KeyRow::as_select())
                .first(conn)
                .optional()?
                .ok_or_else(|| RegistryError::not_found(format!("no key '{key_id}'")))?;
            key_revocation::check_effective_time(&row, effective)?;
            let row = key_revocation::apply(conn, row, effective, revocation.compromised, revocation.reason.trim())?;
            let event = Event::KeyRevoked {
                key_id: row.key_id.clone(),
                organisation: row.organisation_id.clone(),
                effective_at: row.revoked_at.unwrap_or(effective),
                compromised: row.compromised,
                reason: revocation.reason.trim().to_owned(),
            };
            transparency::append(conn, &event, now_ms())?;
            Ok(row)
        })?;
        Ok(key_view(row, now_ms()))
    }

    // --- tokens ---

    pub fn create_token(&self, new: &NewToken) -> Result<CreatedToken> {
        let (id, token, hash) = auth::new_token();
        let label = new.label.trim().to_owned();
        let row = self.store.write(|conn| -> Result<TokenRow> {
            let org = self.organisation_row(conn, &new.organisation)?;
            let kind = OrgKind::parse(&org.kind)?;
            if !new.role.suits(kind) {
                return Err(RegistryError::bad_request(format!(
                    "a {} organisation cannot hold a {} token",
                    kind.as_str(),
                    new.role.as_str()
                )));
            }
            let row = TokenRow {
                id: id.clone(),
                organisation_id: org.id,
                role: new.role.as_str().to_owned(),
                label: label.clone(),
                token_hash: hash.clone(),
                created_at: now_ms(),
                revoked_at: None,
            };
            diesel::insert_into(api_tokens::table).values(&row).execute(conn)?;
            Ok(row)
        })?;
        Ok(CreatedToken { info: token_view(row)?, token })
    }

    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        let mut conn = self.store.conn()?;
        let rows: Vec<TokenRow> =
            api_tokens::table.order(api_tokens::created_at).select(TokenRow::as_select()).load(&mut conn)?;
        rows.into_iter().map(token_view).collect()
    }

    pub fn revoke_token(&self, id: &str) -> Result<TokenInfo> {
        let row = self.store.write(|conn| -> Result<TokenRow> {
            let mut row: TokenRow = api_tokens::table
                .find(id)
                .select(TokenRow::as_select())
                .first(conn)
                .optional()?
                .ok_or_else(|| RegistryError::not_found(format!("no token '{id}'")))?;
            if row.revoked_at.is_none() {
                let now = now_ms();
                diesel::update(api_tokens::table.find(id)).set(api_tokens::revoked_at.eq(now)).execute(conn)?;
                row.revoked_at = Some(now);
            }
            Ok(row)
        })?;
        token_view(row)
    }
}

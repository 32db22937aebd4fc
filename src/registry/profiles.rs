//! Requirement profiles in the registry: who owns a profile id, which versions it has, which one
//! is the latest, and the one rule ([`check_version`]) by which a signed version is accepted —
//! by the origin on `POST /v1/profiles` and by a mirror replaying `profile_version_added`, so
//! both hold the same versions.
//!
//! - A profile id belongs to the organisation that registered its first version
//!   (`profile_owners`). Operator tokens act for the registry operator, issuer
//!   [`REGISTRY_ISSUER`], which owns the built-in profiles.
//! - Only the owner adds versions; a version (id + version) is immutable. Submitting the same
//!   signed bytes again is an idempotent 200; other bytes are 409 `profile_version_exists`.
//! - A version is signed by its issuer with one of the organisation's registered, unrevoked keys
//!   (for the registry operator: a key of an operator organisation) and logged.
//! - "Latest" is the highest semantic version among the owner's versions. Rows by anyone else
//!   (stored before ownership existed) are never served.
//! - The built-in profiles are loaded from the binary by every registry and mirror at start-up
//!   with the same bytes; they are neither signed nor logged.

use diesel::prelude::*;

use super::auth::Principal;
use super::error::RegistryError;
use super::evidence::ProfileSummary;
use super::{Registry, Result, is_unique_violation, transparency};
use crate::log::entry::Event;
use crate::profile::Profile;
use crate::profile::issued::{
    ProfileVersion, REGISTRY_ISSUER, SignedProfile, canonical_bytes, check_canonical, sha256_hex, signature_valid,
};
use crate::store::AnyConnection;
use crate::store::models::{KeyRow, ProfileRow};
use crate::store::now_ms;
use crate::store::schema::{organisations, profile_owners, profiles, signing_keys};

/// A profile version as served: the profile, who issued it and the hash of its canonical bytes.
#[derive(Debug, Clone)]
pub struct IssuedProfile {
    pub profile: Profile,
    /// The owning organisation ([`REGISTRY_ISSUER`] for the registry operator).
    pub issuer: String,
    /// SHA-256 (hex) of the canonical bytes; absent for versions stored before issuers existed.
    pub sha256: Option<String>,
}

impl IssuedProfile {
    /// How fit reports name the profile they used.
    pub fn reference(&self) -> crate::fit::ProfileRef {
        crate::fit::ProfileRef { issuer: self.issuer.clone(), ..crate::fit::ProfileRef::of(&self.profile) }
    }
}

/// Why a profile version is refused: a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub code: &'static str,
    pub detail: String,
}

fn refusal(code: &'static str, detail: impl Into<String>) -> Refusal {
    Refusal { code, detail: detail.into() }
}

impl From<Refusal> for RegistryError {
    fn from(r: Refusal) -> Self {
        RegistryError::ProfileRefused { code: r.code, detail: r.detail }
    }
}

/// What [`check_version`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Checked {
    /// A new version: store it.
    New,
    /// Exactly this version is stored already.
    Same,
}

/// The rule for a `profile_version_added` event made at `at`: the body is a canonical, valid
/// profile with the event's id, version and hash; the id is the issuer's (or new); the version
/// is new (or the same bytes); the key is the issuer's, in force at `at`, and the signature
/// verifies. `Ok(Err(_))` is a refusal; `Err(_)` a database failure.
pub(super) fn check_version(conn: &mut AnyConnection, event: &Event, at: i64) -> Result<Result<Checked, Refusal>> {
    let Event::ProfileVersionAdded { profile: id, version, organisation, key_id, signature, body_sha256, body } = event
    else {
        return Ok(Err(refusal("internal", "not a profile version")));
    };
    // 1. The body: a valid profile in canonical form, as the event names it.
    let (profile, _, canonical) = match check_canonical("profile", body.as_bytes()) {
        Ok(x) => x,
        Err(e) => return Ok(Err(refusal(e.code(), e.to_string()))),
    };
    if canonical != body.as_bytes() || profile.id != *id || profile.version != *version {
        return Ok(Err(refusal(
            "profile_not_canonical",
            format!("the body is not the canonical form of profile {id} {version}"),
        )));
    }
    if sha256_hex(body.as_bytes()) != *body_sha256 {
        return Ok(Err(refusal("profile_digest_mismatch", "body_sha256 is not the SHA-256 of the body")));
    }
    // 2. Ownership: the id is new, or the issuer's. (Owners are public: `GET /v1/profiles`.)
    let owner: Option<String> =
        profile_owners::table.find(id).select(profile_owners::organisation_id).first(conn).optional()?;
    if let Some(owner) = owner
        && owner != *organisation
    {
        return Ok(Err(refusal(
            "profile_owned_by_other_organisation",
            format!("profile '{id}' belongs to organisation '{owner}'; only it adds versions (choose another id)"),
        )));
    }
    // 3. Versions are immutable.
    let stored: Option<Option<String>> = profiles::table
        .find((id, version))
        .filter(profiles::organisation_id.eq(organisation))
        .select(profiles::body_sha256)
        .first(conn)
        .optional()?;
    let exists = stored.is_some() || profiles::table.find((id, version)).count().get_result::<i64>(conn)? > 0;
    if exists {
        return Ok(match stored {
            Some(Some(sha)) if sha == *body_sha256 => Ok(Checked::Same),
            _ => Err(refusal(
                "profile_version_exists",
                format!("profile {id} {version} exists and versions are immutable; publish a new version"),
            )),
        });
    }
    // 4. The issuer's key, in force at `at`, and its signature.
    let key: Option<KeyRow> = signing_keys::table.find(key_id).select(KeyRow::as_select()).first(conn).optional()?;
    let Some(key) = key else {
        return Ok(Err(refusal("unknown_key", format!("key {key_id} is not registered"))));
    };
    let allowed = if organisation == REGISTRY_ISSUER {
        organisations::table.find(&key.organisation_id).select(organisations::kind).first::<String>(conn).optional()?
            == Some("operator".to_owned())
    } else {
        key.organisation_id == *organisation
    };
    if !allowed {
        return Ok(Err(refusal(
            "signer_not_allowed",
            format!("key {key_id} is not a key of the issuer '{organisation}'"),
        )));
    }
    if key.revoked_at.is_some_and(|t| t <= at) {
        return Ok(Err(refusal("key_revoked", format!("key {key_id} is revoked"))));
    }
    let verifies = crate::package::signing::decode_public_key(&key.public_key)
        .is_ok_and(|pk| signature_valid(&pk, body_sha256, signature));
    if !verifies {
        return Ok(Err(refusal(
            "signature_invalid",
            format!("the signature by key {key_id} does not verify for profile {id} {version}"),
        )));
    }
    Ok(Ok(Checked::New))
}

/// Stores a version [`check_version`] accepted as new (and its owner, for a new id).
pub(super) fn store_version(conn: &mut AnyConnection, event: &Event, at: i64, log_index: Option<u64>) -> Result<()> {
    let Event::ProfileVersionAdded { profile: id, version, organisation, key_id, signature, body_sha256, body } = event
    else {
        return Err(RegistryError::Internal("not a profile version".into()));
    };
    let profile = Profile::parse("profile", body.as_bytes()).map_err(|e| RegistryError::Internal(e.to_string()))?;
    insert_owner(conn, id, organisation, at)?;
    let row = ProfileRow {
        id: id.clone(),
        version: version.clone(),
        title: profile.title.clone(),
        material_class: profile.material_class.as_str().to_owned(),
        illustrative: profile.illustrative,
        organisation_id: organisation.clone(),
        body: body.clone(),
        created_at: at,
        body_sha256: Some(body_sha256.clone()),
        key_id: Some(key_id.clone()),
        signature: Some(signature.clone()),
        log_index: log_index.and_then(|i| i64::try_from(i).ok()),
    };
    insert_row(conn, &row)
}

fn insert_owner(conn: &mut AnyConnection, id: &str, organisation: &str, at: i64) -> Result<()> {
    let owner: Option<String> =
        profile_owners::table.find(id).select(profile_owners::organisation_id).first(conn).optional()?;
    match owner {
        Some(o) if o == organisation => Ok(()),
        Some(o) => {
            Err(refusal("profile_owned_by_other_organisation", format!("profile '{id}' belongs to '{o}'")).into())
        }
        None => {
            diesel::insert_into(profile_owners::table)
                .values((
                    profile_owners::id.eq(id),
                    profile_owners::organisation_id.eq(organisation),
                    profile_owners::registered_at.eq(at),
                ))
                .execute(conn)
                .map_err(|e| {
                    // Another organisation registered the same new id at the same moment.
                    if is_unique_violation(&e) {
                        refusal("profile_owned_by_other_organisation", format!("profile '{id}' was just registered"))
                            .into()
                    } else {
                        RegistryError::from(e)
                    }
                })?;
            Ok(())
        }
    }
}

fn insert_row(conn: &mut AnyConnection, row: &ProfileRow) -> Result<()> {
    diesel::insert_into(profiles::table).values(row).execute(conn).map_err(|e| {
        if is_unique_violation(&e) {
            refusal("profile_version_exists", format!("profile {} {} exists", row.id, row.version)).into()
        } else {
            RegistryError::from(e)
        }
    })?;
    Ok(())
}

fn parse_row(row: &ProfileRow) -> Result<Profile> {
    Profile::parse(&format!("profile {} {}", row.id, row.version), row.body.as_bytes())
        .map_err(|e| RegistryError::Internal(e.to_string()))
}

/// Semantic-version order; versions that are not semantic (stored before versions were
/// checked) sort below every semantic one, by registration time.
fn version_key(row: &ProfileRow) -> (Option<ProfileVersion>, i64) {
    (ProfileVersion::parse(&row.version).ok(), row.created_at)
}

/// The versions served: the owner's, every id, lowest version first.
fn served_rows(conn: &mut AnyConnection, id: Option<&str>) -> Result<Vec<ProfileRow>> {
    let mut q =
        profiles::table
            .inner_join(profile_owners::table.on(
                profile_owners::id.eq(profiles::id).and(profile_owners::organisation_id.eq(profiles::organisation_id)),
            ))
            .select(ProfileRow::as_select())
            .into_boxed::<super::queries::Db>();
    if let Some(id) = id {
        q = q.filter(profiles::id.eq(id.to_owned()));
    }
    let mut rows: Vec<ProfileRow> = q.load(conn)?;
    rows.sort_by(|a, b| a.id.cmp(&b.id).then_with(|| version_key(a).cmp(&version_key(b))));
    Ok(rows)
}

fn summary(row: &ProfileRow, profile: &Profile, latest: bool) -> ProfileSummary {
    ProfileSummary {
        id: row.id.clone(),
        version: row.version.clone(),
        title: profile.title.clone(),
        material_class: profile.material_class.as_str().to_owned(),
        illustrative: profile.illustrative,
        organisation: row.organisation_id.clone(),
        requirements: profile.requirements.len(),
        latest,
        sha256: row.body_sha256.clone(),
        key_id: row.key_id.clone(),
        signature: row.signature.clone(),
        log_index: row.log_index.and_then(|i| u64::try_from(i).ok()),
    }
}

/// The result of registering a profile version.
#[derive(Debug, Clone)]
pub struct Registered {
    pub summary: ProfileSummary,
    /// False when exactly this version was already stored (nothing changed).
    pub created: bool,
}

impl Registry {
    /// Stores the built-in profiles that are not there yet (at start-up, on registries and
    /// mirrors alike): owned by [`REGISTRY_ISSUER`], canonical bytes, not signed, not logged. A
    /// built-in whose id an organisation registered first is left out.
    pub fn load_builtin_profiles(&self) -> Result<usize> {
        let builtin = crate::profile::builtin().map_err(|e| RegistryError::Internal(e.to_string()))?;
        let mut added = 0;
        for p in builtin {
            let body = canonical_bytes(&p);
            let row = ProfileRow {
                id: p.id.clone(),
                version: p.version.clone(),
                title: p.title.clone(),
                material_class: p.material_class.as_str().to_owned(),
                illustrative: p.illustrative,
                organisation_id: REGISTRY_ISSUER.to_owned(),
                body: String::from_utf8_lossy(&body).into_owned(),
                created_at: now_ms(),
                body_sha256: Some(sha256_hex(&body)),
                key_id: None,
                signature: None,
                log_index: None,
            };
            let stored = self.store.write(|conn| -> Result<bool> {
                let exists = profiles::table.find((&row.id, &row.version)).count().get_result::<i64>(conn)? > 0;
                let owner: Option<String> = profile_owners::table
                    .find(&row.id)
                    .select(profile_owners::organisation_id)
                    .first(conn)
                    .optional()?;
                if exists || owner.is_some_and(|o| o != REGISTRY_ISSUER) {
                    return Ok(false);
                }
                insert_owner(conn, &row.id, REGISTRY_ISSUER, row.created_at)?;
                insert_row(conn, &row)?;
                Ok(true)
            });
            match stored {
                Ok(true) => added += 1,
                Ok(false) => {}
                // Another process (a replica starting at the same time) stored it since.
                Err(RegistryError::ProfileRefused { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(added)
    }

    /// Registers a signed profile version (certifiers for their organisation, operators for the
    /// registry operator); see the module docs for the rules.
    pub fn create_profile(&self, principal: &Principal, body: &[u8]) -> Result<Registered> {
        super::policy::authorize(principal, super::policy::Action::IssueProfile)?;
        let issuer = super::policy::profile_issuer(principal);
        let checked = SignedProfile::parse(body).map_err(|e| refusal(e.code(), e.to_string()))?;
        let event = Event::ProfileVersionAdded {
            profile: checked.profile.id.clone(),
            version: checked.profile.version.clone(),
            organisation: issuer,
            key_id: checked.key_id.as_str().to_owned(),
            signature: checked.signature.clone(),
            body_sha256: checked.sha256.clone(),
            body: String::from_utf8_lossy(&checked.canonical).into_owned(),
        };
        let at = now_ms();
        let created = self.store.write(|conn| -> Result<bool> {
            match check_version(conn, &event, at)? {
                Err(r) => Err(r.into()),
                Ok(Checked::Same) => Ok(false),
                Ok(Checked::New) => {
                    // Checked again once the append holds the log head, as a package's signers
                    // are: a revocation or a competing version committed meanwhile is then
                    // before this entry in the log and refuses it (log order is the clock).
                    let index = transparency::append(conn, &event, at)?;
                    match check_version(conn, &event, at)? {
                        Ok(Checked::New) => {}
                        Ok(Checked::Same) => {
                            return Err(refusal("profile_version_exists", "registered concurrently").into());
                        }
                        Err(r) => return Err(r.into()),
                    }
                    store_version(conn, &event, at, Some(index))?;
                    Ok(true)
                }
            }
        })?;
        let mut conn = self.store.conn()?;
        let rows = served_rows(&mut conn, Some(&checked.profile.id))?;
        let latest = rows.last().map(|r| r.version.clone());
        let row = rows
            .iter()
            .find(|r| r.version == checked.profile.version)
            .ok_or_else(|| RegistryError::Internal("a registered profile version is not served".into()))?;
        Ok(Registered {
            summary: summary(row, &checked.profile, latest.as_deref() == Some(row.version.as_str())),
            created,
        })
    }

    /// Every served version of every profile, by id, lowest version first.
    pub fn list_profiles(&self) -> Result<Vec<ProfileSummary>> {
        let mut conn = self.store.conn()?;
        let rows = served_rows(&mut conn, None)?;
        let mut out = Vec::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            let latest = rows.get(i + 1).is_none_or(|next| next.id != r.id);
            out.push(summary(r, &parse_row(r)?, latest));
        }
        Ok(out)
    }

    /// A profile by id: the given version, or the latest (highest semantic version) of its owner.
    pub fn get_issued_profile(&self, id: &str, version: Option<&str>) -> Result<IssuedProfile> {
        let mut conn = self.store.conn()?;
        let rows = served_rows(&mut conn, Some(id))?;
        let row = match version {
            Some(v) => rows.iter().find(|r| r.version == v),
            None => rows.last(),
        }
        .ok_or_else(|| {
            RegistryError::not_found(format!(
                "no profile '{id}'{}",
                version.map(|v| format!(" version {v}")).unwrap_or_default()
            ))
        })?;
        Ok(IssuedProfile {
            profile: parse_row(row)?,
            issuer: row.organisation_id.clone(),
            sha256: row.body_sha256.clone(),
        })
    }

    /// [`Registry::get_issued_profile`] without the issuer.
    pub fn get_profile(&self, id: &str, version: Option<&str>) -> Result<Profile> {
        Ok(self.get_issued_profile(id, version)?.profile)
    }
}

//! The rules that write registry state for a logged event, one function per event kind, used
//! by the origin (after authorizing the request and building the event, in the transaction that
//! appends it to the log) and by mirrors replaying the log (after verifying the entry). A rule
//! written here is written once: an origin and its mirrors cannot apply it differently.
//!
//! Kinds covered so far: organisation added, key added, countersigned, package withdrawn, and
//! the naming rule of a publication ([`name_taken`]); key revocations go
//! through [`super::key_revocation`] and profile versions through [`super::profiles`], both also
//! shared. Publication still has its origin and mirror paths around the shared naming rule and
//! signer check (`packages::check_signers`).

use diesel::prelude::*;

use super::{RegistryError, is_unique_violation};
use crate::log::entry::Event;
use crate::package::signing::{KeyId, decode_public_key};
use crate::store::AnyConnection;
use crate::store::models::{KeyRow, OrganisationRow, SignatureRow};
use crate::store::schema::{organisations, packages, signatures, signing_keys};

/// Why an event cannot be applied to the state it meets.
#[derive(Debug)]
pub(super) enum ApplyError {
    /// The event breaks a rule: a stable code and what it says. The origin answers it as a
    /// refusal; a mirror records it as a rejected entry.
    Broken { code: &'static str, message: String, kind: Broken },
    /// The database or another internal failure.
    Registry(RegistryError),
}

/// The kind of rule broken, for the origin's status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Broken {
    /// Something with that id exists already (409).
    Exists,
    /// The event refers to something that does not exist (404).
    Unknown,
    /// The event is not well formed (400).
    Invalid,
}

fn broken(kind: Broken, code: &'static str, message: String) -> ApplyError {
    ApplyError::Broken { code, message, kind }
}

impl From<diesel::result::Error> for ApplyError {
    fn from(e: diesel::result::Error) -> Self {
        ApplyError::Registry(e.into())
    }
}

impl From<RegistryError> for ApplyError {
    fn from(e: RegistryError) -> Self {
        ApplyError::Registry(e)
    }
}

impl From<ApplyError> for RegistryError {
    /// The origin's answer to a broken rule.
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Broken { kind: Broken::Exists, message, .. } => RegistryError::Conflict(message),
            ApplyError::Broken { kind: Broken::Unknown, message, .. } => RegistryError::not_found(message),
            ApplyError::Broken { kind: Broken::Invalid, message, .. } => RegistryError::bad_request(message),
            ApplyError::Registry(e) => e,
        }
    }
}

/// Inserts a row whose primary key must be new; a unique violation (a concurrent writer got
/// there first) is the same broken rule as finding the row beforehand.
fn insert_new(
    result: diesel::QueryResult<usize>,
    code: &'static str,
    message: impl FnOnce() -> String,
) -> Result<(), ApplyError> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(broken(Broken::Exists, code, message())),
        Err(e) => Err(e.into()),
    }
}

/// `organisation_added`: a new organisation, never one whose id exists.
pub(super) fn organisation_added(conn: &mut AnyConnection, event: &Event, at: i64) -> Result<(), ApplyError> {
    let Event::OrganisationAdded { organisation, name, kind, country } = event else {
        return Err(ApplyError::Registry(RegistryError::Internal("not an organisation_added event".into())));
    };
    let exists = || format!("organisation '{organisation}' already exists");
    if organisations::table.find(organisation).count().get_result::<i64>(conn)? > 0 {
        return Err(broken(Broken::Exists, "organisation_exists", exists()));
    }
    let row = OrganisationRow {
        id: organisation.clone(),
        name: name.clone(),
        kind: kind.clone(),
        country: country.clone(),
        created_at: at,
    };
    insert_new(diesel::insert_into(organisations::table).values(&row).execute(conn), "organisation_exists", exists)
}

/// `key_added`: a key of an existing organisation, whose id is the id of its public key, never
/// one registered before.
pub(super) fn key_added(conn: &mut AnyConnection, event: &Event, at: i64) -> Result<KeyRow, ApplyError> {
    let Event::KeyAdded { key_id, organisation, public_key } = event else {
        return Err(ApplyError::Registry(RegistryError::Internal("not a key_added event".into())));
    };
    if organisations::table.find(organisation).count().get_result::<i64>(conn)? == 0 {
        return Err(broken(Broken::Unknown, "unknown_organisation", format!("no organisation '{organisation}'")));
    }
    let derived = decode_public_key(public_key).map(|k| KeyId::of(&k).as_str().to_owned());
    if derived.as_deref() != Ok(key_id.as_str()) {
        return Err(broken(
            Broken::Invalid,
            "key_id_mismatch",
            format!("key {key_id} is not the id of its public key"),
        ));
    }
    let exists = || format!("key {key_id} is already registered");
    if signing_keys::table.find(key_id).count().get_result::<i64>(conn)? > 0 {
        return Err(broken(Broken::Exists, "key_exists", exists()));
    }
    let row = KeyRow {
        key_id: key_id.clone(),
        organisation_id: organisation.clone(),
        public_key: public_key.clone(),
        added_at: at,
        revoked_at: None,
        compromised: false,
        revocation_reason: None,
    };
    insert_new(diesel::insert_into(signing_keys::table).values(&row).execute(conn), "key_exists", exists)?;
    Ok(row)
}

/// `countersigned`: a certifier's signature over a package's digest, by a registered key of that
/// certifier not revoked at `at`, verifying with the registered public key; stored once (a key
/// countersigns a package once). Returns whether it was new. The package must be held (the
/// caller checks: the origin by the reader's access, a mirror by what it stores).
pub(super) fn countersigned(conn: &mut AnyConnection, event: &Event, at: i64) -> Result<bool, ApplyError> {
    use base64::Engine as _;
    use ed25519_dalek::Verifier as _;
    let Event::Countersigned { digest, key_id, organisation, signature } = event else {
        return Err(ApplyError::Registry(RegistryError::Internal("not a countersigned event".into())));
    };
    let key: Option<KeyRow> = signing_keys::table.find(key_id).select(KeyRow::as_select()).first(conn).optional()?;
    let Some(key) = key else {
        return Err(broken(Broken::Unknown, "unknown_key", format!("key {key_id} is not registered")));
    };
    if key.organisation_id != *organisation {
        return Err(broken(
            Broken::Invalid,
            "signer_not_allowed",
            format!("key {key_id} belongs to '{}', not to '{organisation}'", key.organisation_id),
        ));
    }
    if key.revoked_at.is_some_and(|t| t <= at) {
        return Err(broken(Broken::Invalid, "key_revoked", format!("key {key_id} is revoked")));
    }
    let verifies = (|| {
        let pk = decode_public_key(&key.public_key).ok()?;
        let raw: [u8; 64] = base64::engine::general_purpose::STANDARD.decode(signature).ok()?.try_into().ok()?;
        let parsed = crate::package::signing::PackageDigest::parse(digest)?;
        pk.verify(&crate::package::signing::signing_message(&parsed), &ed25519_dalek::Signature::from_bytes(&raw)).ok()
    })();
    if verifies.is_none() {
        return Err(broken(
            Broken::Invalid,
            "signature_invalid",
            format!("the countersignature by {key_id} does not verify"),
        ));
    }
    let stored = signatures::table.find((digest, key_id)).count().get_result::<i64>(conn)? > 0;
    if stored {
        return Ok(false);
    }
    let row = SignatureRow {
        digest: digest.clone(),
        key_id: key_id.clone(),
        organisation_id: organisation.clone(),
        kind: "countersignature".to_owned(),
        signature: signature.clone(),
        source: "api".to_owned(),
        added_at: at,
    };
    match diesel::insert_into(signatures::table).values(&row).execute(conn) {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    super::search_index::refresh(conn, std::slice::from_ref(digest))?;
    Ok(true)
}

/// Why `organisation` may not publish a name and version.
pub(super) enum NameTaken {
    /// The name belongs to another organisation, the one that first published it.
    OwnedBy(String),
    /// This version of the name is published already, as the package `existing`.
    VersionPublished { existing: String },
}

/// The naming rule of `package_published`: a name belongs to the organisation that first
/// published it, and each version of it is published once. `None` when `organisation` may
/// publish `name` `version`.
pub(super) fn name_taken(
    conn: &mut AnyConnection,
    organisation: &str,
    name: &str,
    version: &str,
) -> Result<Option<NameTaken>, RegistryError> {
    // Every version of a name has the same owner, so any one row tells.
    let owner: Option<String> =
        packages::table.filter(packages::name.eq(name)).select(packages::organisation_id).first(conn).optional()?;
    if let Some(owner) = owner.filter(|o| o != organisation) {
        return Ok(Some(NameTaken::OwnedBy(owner)));
    }
    let existing: Option<String> = packages::table
        .filter(packages::name.eq(name))
        .filter(packages::version.eq(version))
        .select(packages::digest)
        .first(conn)
        .optional()?;
    Ok(existing.map(|existing| NameTaken::VersionPublished { existing }))
}

/// `package_withdrawn`: marks a package withdrawn (kept, never deleted) and refreshes its search
/// entry; a package already withdrawn keeps its first withdrawal. Returns whether anything
/// changed (`false` also for a package this registry does not hold, as on a mirror that may
/// not store it).
pub(super) fn withdrawn(conn: &mut AnyConnection, event: &Event, at: i64) -> Result<bool, ApplyError> {
    let Event::Withdrawn { digest, reason } = event else {
        return Err(ApplyError::Registry(RegistryError::Internal("not a package_withdrawn event".into())));
    };
    let withdrawn: Option<Option<i64>> =
        packages::table.find(digest).select(packages::withdrawn_at).first(conn).optional()?;
    if withdrawn != Some(None) {
        return Ok(false);
    }
    diesel::update(packages::table.find(digest))
        .set((packages::withdrawn_at.eq(at), packages::withdrawn_reason.eq(reason)))
        .execute(conn)?;
    super::search_index::refresh(conn, std::slice::from_ref(digest))?;
    Ok(true)
}

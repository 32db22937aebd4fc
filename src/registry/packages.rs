//! Publishing, reading, countersigning and withdrawing packages.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use diesel::prelude::*;
use tempfile::NamedTempFile;

use super::auth::{self, OrgKind, Principal, Reader};
use super::error::RegistryError;
use super::queries::{load_signatures, parse_digest, summary, visible};
use super::views::*;
use super::{Registry, Result};
use crate::log::entry::Event;
use crate::package::manifest::Releasability;
use crate::package::signing::{CheckedSignature, check_signature, encode_public_key};
use crate::package::{VerifiedPackage, verify_file};
use crate::store::blobs::BlobLocation;
use crate::store::models::{DatasetRow, DocumentRow, KeyRow, OrganisationRow, PackageRow, ReaderRow, SignatureRow};
use crate::store::schema::{
    blob_intents, datasets, organisations, package_documents, package_readers, packages, signatures, signing_keys,
};
use crate::store::{AnyConnection, format_time, now_ms};

/// An uploaded file, fully received: its bytes are in `file`, hashed while streaming.
pub struct Upload {
    pub file: NamedTempFile,
    pub sha256_hex: String,
    pub size: u64,
}

/// Natural ordering of versions: numeric parts compare as numbers (`1.10` > `1.9`).
fn version_key(v: &str) -> Vec<(u64, String)> {
    v.split(['.', '-', '+'])
        .map(|part| match part.parse::<u64>() {
            Ok(n) => (n, String::new()),
            Err(_) => (u64::MAX, part.to_owned()),
        })
        .collect()
}

fn releasability_grants(r: &Releasability) -> (&'static str, Vec<String>) {
    let grants = match r {
        Releasability::Public => Vec::new(),
        Releasability::Allied { countries } => countries.iter().map(|c| auth::country_grant(c)).collect(),
        Releasability::Restricted { organisations } => {
            organisations.iter().map(|o| auth::organisation_grant(o)).collect()
        }
    };
    (r.level(), grants)
}

fn dataset_row(
    digest: &str,
    manifest: &crate::package::Manifest,
    d: &crate::package::verify::VerifiedDataset,
) -> DatasetRow {
    let values: Vec<f64> = d.measurements.iter().map(|m| m.value).collect();
    let n = values.len().max(1) as f64;
    let specimens: BTreeSet<&str> = d.measurements.iter().map(|m| m.specimen.as_str()).collect();
    let batches: BTreeSet<&str> = d.measurements.iter().map(|m| m.batch.as_str()).collect();
    let mut conditions = serde_json::Map::new();
    let mut standard = String::new();
    if let Some(ds) = manifest.datasets.iter().find(|x| x.id == d.spec.id) {
        standard =
            manifest.test_methods.iter().find(|t| t.id == ds.method).map(|t| t.standard.clone()).unwrap_or_default();
        for (name, c) in &ds.conditions {
            let mut entry = serde_json::Map::new();
            entry.insert("unit".into(), c.unit.clone().into());
            if let Some(v) = c.value {
                entry.insert("value".into(), v.into());
            }
            if let Some(t) = c.tolerance {
                entry.insert("tolerance".into(), t.into());
            }
            if let Some(i) = d.spec.condition_columns.iter().position(|(n, _)| n == name) {
                let col: Vec<f64> = d.measurements.iter().filter_map(|m| m.conditions.get(i).copied()).collect();
                if let (Some(lo), Some(hi)) =
                    (col.iter().copied().reduce(f64::min), col.iter().copied().reduce(f64::max))
                {
                    entry.insert("min".into(), lo.into());
                    entry.insert("max".into(), hi.into());
                }
            }
            conditions.insert(name.clone(), entry.into());
        }
    }
    DatasetRow {
        digest: digest.to_owned(),
        dataset_id: d.spec.id.clone(),
        property: d.spec.property.clone(),
        unit: d.spec.unit.clone(),
        file: d.spec.file.clone(),
        measurements: i32::try_from(values.len()).unwrap_or(i32::MAX),
        specimens: i32::try_from(specimens.len()).unwrap_or(i32::MAX),
        batches: i32::try_from(batches.len()).unwrap_or(i32::MAX),
        min_value: values.iter().copied().reduce(f64::min).unwrap_or(f64::NAN),
        max_value: values.iter().copied().reduce(f64::max).unwrap_or(f64::NAN),
        mean_value: values.iter().sum::<f64>() / n,
        conditions: serde_json::Value::Object(conditions).to_string(),
        standard,
        rows: String::new(),
    }
}

fn signature_problem(code: &'static str, sig: &CheckedSignature, detail: impl Into<String>) -> RegistryError {
    RegistryError::SignatureRejected { code, file: sig.file.clone(), detail: detail.into() }
}

/// A package's accepted signatures: (signature file, key id, "author" or
/// "countersignature") and the rows to store.
pub(super) struct Signers {
    pub signers: Vec<(String, String, &'static str)>,
    pub rows: Vec<SignatureRow>,
}

/// A signature that is not accepted: stable code, the signature file, what is wrong.
pub(super) struct SignerRefusal {
    pub code: &'static str,
    pub file: String,
    pub detail: String,
}

/// The signer rule, for an upload (`at` = now) and for a mirror replaying the log (`at` = the
/// entry's time, the keys table holding what earlier entries added): every signature valid, by
/// a registered key whose public key is the registered one and that was not revoked at `at`;
/// the publisher's keys sign as author, certifiers' as countersigners, anyone else is refused.
/// That the publisher signed at all is the caller's check.
pub(super) fn check_signers(
    conn: &mut AnyConnection,
    verified: &VerifiedPackage,
    digest: &str,
    publisher: &str,
    at: i64,
) -> Result<std::result::Result<Signers, SignerRefusal>, diesel::result::Error> {
    let mut out = Signers { signers: Vec::new(), rows: Vec::new() };
    for sig in verified.signatures() {
        let refuse = |code, detail: String| Ok(Err(SignerRefusal { code, file: sig.file.clone(), detail }));
        if let Some(problem) = &sig.problem {
            return refuse("signature_invalid", problem.clone());
        }
        let (Some(key_id), Some(pk), Some(raw)) = (&sig.key_id, &sig.public_key, &sig.signature) else {
            return refuse("signature_invalid", "incomplete signature".into());
        };
        let found: Option<(KeyRow, OrganisationRow)> = signing_keys::table
            .inner_join(organisations::table)
            .filter(signing_keys::key_id.eq(key_id.as_str()))
            .select((KeyRow::as_select(), OrganisationRow::as_select()))
            .first(conn)
            .optional()?;
        let Some((key, org)) = found else {
            return refuse("unknown_key", format!("key {key_id} is not registered"));
        };
        if key.public_key != encode_public_key(pk) {
            return refuse("signature_invalid", "public key differs from the registered one".into());
        }
        if let Some(revoked) = key.revoked_at
            && revoked <= at
        {
            return refuse(
                "key_revoked",
                format!("key {key_id} of '{}' was revoked at {}", org.id, format_time(revoked)),
            );
        }
        let kind = if org.id == publisher {
            "author"
        } else if org.kind == OrgKind::Certifier.as_str() {
            "countersignature"
        } else {
            return refuse(
                "signer_not_allowed",
                format!("key {key_id} belongs to '{}', neither the publishing lab nor a certifier", org.id),
            );
        };
        out.signers.push((sig.file.clone(), key_id.as_str().to_owned(), kind));
        out.rows.push(SignatureRow {
            digest: digest.to_owned(),
            key_id: key_id.as_str().to_owned(),
            organisation_id: org.id,
            kind: kind.to_owned(),
            signature: B64.encode(raw),
            source: "package".to_owned(),
            added_at: at,
        });
    }
    Ok(Ok(out))
}

/// What the registry records about the checks an upload passed.
fn verification_record(
    v: &VerifiedPackage,
    file_sha256: &str,
    file_bytes: u64,
    now: i64,
    signers: &[(String, String, &str)],
) -> String {
    serde_json::json!({
        "verified_at": format_time(now),
        "verifier": format!("prequal {}", env!("CARGO_PKG_VERSION")),
        "result": "verified",
        "checks": [
            "zip container within limits", "bagit.txt", "tag manifest", "bag-info.txt",
            "payload manifest and every payload hash", "prequal.json", "ro-crate-metadata.json",
            "datasets and curves (CSV values, units, batches)", "no unreferenced files", "signatures",
            "signers are registered, unrevoked keys; the publishing lab signed"
        ],
        "file_sha256": file_sha256,
        "file_bytes": file_bytes,
        "payload_bytes": v.payload_bytes(),
        "payload_files": v.files().len(),
        "datasets": v.datasets().len(),
        "curves": v.curves().len(),
        "signatures": signers.iter().map(|(file, key, kind)| serde_json::json!({"file": file, "key_id": key, "kind": kind})).collect::<Vec<_>>(),
    })
    .to_string()
}

/// Every row stored for one verified package, built before the transaction that inserts them
/// (by an upload, or by a mirror replaying the upstream's log).
pub(super) struct PackageRows {
    pub(super) row: PackageRow,
    document: DocumentRow,
    material_row: crate::store::models::PackageMaterialRow,
    readers: Vec<ReaderRow>,
    dataset_rows: Vec<DatasetRow>,
    signature_rows: Vec<SignatureRow>,
}

impl PackageRows {
    /// `signers`: (file, key id, kind) of each accepted signature, for the verification record.
    pub(super) fn new(
        verified: &VerifiedPackage,
        file_sha256: &str,
        file_bytes: u64,
        organisation: &str,
        at: i64,
        signature_rows: Vec<SignatureRow>,
        signers: &[(String, String, &str)],
    ) -> PackageRows {
        Self::unsigned(verified, file_sha256, file_bytes, organisation, at).signed(
            verified,
            file_sha256,
            file_bytes,
            at,
            signature_rows,
            signers,
        )
    }

    /// The signatures' rows and the verification record, which depend on the signers accepted.
    pub(super) fn signed(
        mut self,
        verified: &VerifiedPackage,
        file_sha256: &str,
        file_bytes: u64,
        at: i64,
        signature_rows: Vec<SignatureRow>,
        signers: &[(String, String, &str)],
    ) -> PackageRows {
        self.document.verification = verification_record(verified, file_sha256, file_bytes, at, signers);
        self.signature_rows = signature_rows;
        self
    }

    /// Every row but the signatures' (the expensive part, which depends only on the file: a
    /// mirror builds it on its fetching threads).
    pub(super) fn unsigned(
        verified: &VerifiedPackage,
        file_sha256: &str,
        file_bytes: u64,
        organisation: &str,
        at: i64,
    ) -> PackageRows {
        let digest = verified.digest().to_string();
        let digest = digest.as_str();
        let manifest = verified.manifest();
        let (level, grants) = releasability_grants(&manifest.releasability);
        let row = PackageRow {
            digest: digest.to_owned(),
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            title: manifest.title.clone(),
            material_class: manifest.material.class.as_str().to_owned(),
            designation: manifest.material.designation.clone(),
            organisation_id: organisation.to_owned(),
            releasability: level.to_owned(),
            synthetic: manifest.synthetic,
            blob_sha256: file_sha256.to_owned(),
            size_bytes: i64::try_from(file_bytes).unwrap_or(i64::MAX),
            registered_at: at,
            withdrawn_at: None,
            withdrawn_reason: None,
            superseded_by: None,
            material_id: crate::fit::material_id(&manifest.material.producer.name, &manifest.material.designation),
            producer: manifest.material.producer.name.clone(),
        };
        let document = DocumentRow {
            digest: digest.to_owned(),
            manifest: String::from_utf8_lossy(verified.manifest_bytes()).into_owned(),
            verification: String::new(),
        };
        let material_row = crate::store::models::PackageMaterialRow {
            digest: digest.to_owned(),
            producer_country: manifest.material.producer.country.clone(),
            composition: serde_json::to_string(&manifest.material.composition).unwrap_or_else(|_| "[]".to_owned()),
            source: serde_json::to_string(&crate::fit::Source::of_material(&manifest.material)).unwrap_or_default(),
        };
        let readers: Vec<ReaderRow> =
            grants.into_iter().map(|reader| ReaderRow { digest: digest.to_owned(), reader }).collect();
        let evidence = crate::fit::evidence_from_verified(verified);
        let dataset_rows: Vec<DatasetRow> = verified
            .datasets()
            .iter()
            .map(|d| {
                let rows =
                    evidence.datasets.iter().find(|e| e.id == d.spec.id).map(|e| crate::fit::encode_rows(&e.rows));
                DatasetRow { rows: rows.unwrap_or_default(), ..dataset_row(digest, manifest, d) }
            })
            .collect();
        PackageRows { row, document, material_row, readers, dataset_rows, signature_rows: Vec::new() }
    }

    /// Inserts the rows, updates supersession within the name and the search index. The caller
    /// holds the transaction (and appends the log entry).
    pub(super) fn insert(&self, conn: &mut AnyConnection) -> Result<()> {
        let row = &self.row;
        diesel::insert_into(packages::table).values(row).execute(conn)?;
        diesel::insert_into(package_documents::table).values(&self.document).execute(conn)?;
        diesel::insert_into(crate::store::schema::package_materials::table).values(&self.material_row).execute(conn)?;
        // One row per statement: multi-row inserts do not compile through MultiConnection.
        for r in &self.readers {
            diesel::insert_into(package_readers::table).values(r).execute(conn)?;
        }
        for d in &self.dataset_rows {
            diesel::insert_into(datasets::table).values(d).execute(conn)?;
        }
        for s in &self.signature_rows {
            diesel::insert_into(signatures::table).values(s).execute(conn)?;
        }
        // The new package and the versions whose supersession changed.
        let mut changed = update_supersession(conn, &row.name)?;
        if !changed.contains(&row.digest) {
            changed.push(row.digest.clone());
        }
        super::search_index::refresh(conn, &changed)?;
        super::search_index::write_points(conn, &self.dataset_rows)?;
        Ok(())
    }
}

/// `owner` of the package `digest` if `principal` may read that package, else None: a refusal
/// must not tell a caller who published a package it may not see.
fn owner_if_visible(
    conn: &mut AnyConnection,
    principal: &Principal,
    digest: &str,
    owner: String,
) -> Result<Option<String>> {
    let readable: i64 = visible(&Reader::of(Some(principal)))
        .filter(packages::digest.eq(digest.to_owned()))
        .count()
        .get_result(conn)?;
    Ok((readable > 0).then_some(owner))
}

impl Registry {
    /// Verifies an upload with the package module, checks its signers against registered keys,
    /// and stores it: blob first (atomic rename), then every row in one transaction. Returns the
    /// record and whether it is new (false: the same package was already published).
    pub fn publish(&self, principal: &Principal, upload: Upload) -> Result<(PackageDetail, bool)> {
        super::policy::authorize(principal, super::policy::Action::Publish)?;
        let verified = verify_file(upload.file.path(), self.policy.limits)?;
        let digest = verified.digest().to_string();
        let manifest = verified.manifest();

        let mut conn = self.store.conn()?;
        // Signers first: every signature must be valid, by a registered key in force now; the
        // publishing lab must be one of them; others must be certifiers (countersignatures).
        // Nothing that fails here is answered 2xx, not even a copy of a package already
        // published (signatures are outside the digest, so an unsigned or re-signed copy has
        // the same one).
        let now = now_ms();
        let Signers { signers, rows: signature_rows } =
            check_signers(&mut conn, &verified, &digest, &principal.organisation, now)?
                .map_err(|r| RegistryError::SignatureRejected { code: r.code, file: r.file, detail: r.detail })?;
        if !signers.iter().any(|(_, _, kind)| *kind == "author") {
            return Err(RegistryError::SignatureRejected {
                code: "not_signed_by_uploader",
                file: "signatures/".to_owned(),
                detail: format!("no signature by an active key of '{}', the uploading lab", principal.organisation),
            });
        }
        if let Some(existing) =
            packages::table.find(&digest).select(PackageRow::as_select()).first(&mut conn).optional()?
        {
            if existing.organisation_id != principal.organisation {
                let owner = owner_if_visible(&mut conn, principal, &digest, existing.organisation_id)?;
                return Err(RegistryError::PublishedByOther { digest, owner });
            }
            drop(conn);
            return Ok((self.detail(&Reader::Operator, &digest)?, false));
        }
        self.check_name(&mut conn, principal, &manifest.name, &manifest.version)?;
        drop(conn);

        let rows = PackageRows::new(
            &verified,
            &upload.sha256_hex,
            upload.size,
            &principal.organisation,
            now,
            signature_rows,
            &signers,
        );
        let row = &rows.row;
        let published = Event::PackagePublished {
            digest: digest.clone(),
            name: row.name.clone(),
            version: row.version.clone(),
            organisation: row.organisation_id.clone(),
            releasability: row.releasability.clone(),
            file_sha256: row.blob_sha256.clone(),
            signatures: signers.iter().map(|(_, key, kind)| (key.clone(), (*kind).to_owned())).collect(),
        };
        let signer_keys: Vec<(String, String)> =
            signers.iter().map(|(file, key, _)| (file.clone(), key.clone())).collect();

        // An intent (committed), then the blob, then the rows with the intent cleared. A crash
        // after the blob is stored and before the commit leaves an unreferenced blob and its
        // intent, which the sweeper removes; never a row without its blob. The shared blob lock
        // (PostgreSQL) keeps any sweeper, in this process or another, away from the blob until
        // the rows are committed.
        let sha = upload.sha256_hex.clone();
        let intent = self.record_intent(&sha)?;
        let mut lock = self.store.lock_blob_shared(&sha)?;
        if let Err(e) = self.store.blobs.put(upload.file, &sha) {
            drop(lock);
            // Nothing new is visible under the hash; the intent may go (if the database is
            // down too, the sweeper removes it later).
            self.clear_intent(intent);
            return Err(e.into());
        }
        let committed = self.store.write_locked(&mut lock, |conn| -> Result<()> {
            crate::store::lock_package_name(conn, &row.name)?;
            self.check_name(conn, principal, &row.name, &row.version)?;
            rows.insert(conn)?;
            // Log order is the clock: the signers' keys must have been added, and not revoked,
            // before this package's entry.
            let index = super::transparency::append(conn, &published, now)?;
            super::transparency::require_keys_in_force(conn, &signer_keys, index, now_ms())?;
            diesel::delete(blob_intents::table.find(intent)).execute(conn)?;
            Ok(())
        });
        drop(lock);
        match committed {
            Ok(()) => Ok((self.detail(&Reader::Operator, &digest)?, true)),
            Err(e) => {
                // Any other upload of the same bytes still in flight keeps the blob.
                if let Err(sweep) = self.remove_if_orphan(&sha, Some(intent), 0) {
                    log::warn!("could not remove unreferenced blob {sha}: {sweep}");
                }
                match e {
                    RegistryError::UniqueViolation(_) | RegistryError::VersionConflict { .. } => {
                        // A concurrent upload of the same package (through this process or
                        // another) may have won the race: its insert collided with ours, or it
                        // committed first and ours found the version taken.
                        let mut conn = self.store.conn()?;
                        let winner: Option<String> = packages::table
                            .find(&digest)
                            .select(packages::organisation_id)
                            .first(&mut conn)
                            .optional()?;
                        match winner {
                            Some(org) if org == principal.organisation => {
                                Ok((self.detail(&Reader::Operator, &digest)?, false))
                            }
                            Some(owner) => {
                                let mut conn = self.store.conn()?;
                                let owner = owner_if_visible(&mut conn, principal, &digest, owner)?;
                                Err(RegistryError::PublishedByOther { digest, owner })
                            }
                            None => Err(e),
                        }
                    }
                    other => Err(other),
                }
            }
        }
    }

    /// Records that a blob is about to be stored (committed at once); returns the intent's id.
    fn record_intent(&self, sha: &str) -> Result<i64> {
        let now = now_ms();
        self.store.write(|conn| -> Result<i64> {
            Ok(diesel::insert_into(blob_intents::table)
                .values((blob_intents::blob_sha256.eq(sha), blob_intents::created_at.eq(now)))
                .returning(blob_intents::id)
                .get_result(conn)?)
        })
    }

    fn clear_intent(&self, intent: i64) {
        let cleared = self
            .store
            .write(|conn| -> Result<usize> { Ok(diesel::delete(blob_intents::table.find(intent)).execute(conn)?) });
        if let Err(e) = cleared {
            log::warn!("could not clear blob intent {intent}: {e}");
        }
    }

    /// Removes the blob `sha` if no package references it and no upload of it is in flight;
    /// returns whether it was removed. In flight: on PostgreSQL, a publisher holds the blob's
    /// lock (exact, across processes); on SQLite, an intent other than `own` created after
    /// `live_after` (ms) exists. Clears `own` and the intents of `sha` created up to
    /// `live_after`.
    fn remove_if_orphan(&self, sha: &str, own: Option<i64>, live_after: i64) -> Result<bool> {
        let Some(mut lock) = self.store.try_lock_blob(sha)? else { return Ok(false) };
        let own = own.unwrap_or(-1);
        let exact = self.store.has_blob_locks();
        let remove = self.store.on_lock_connection(&mut lock, |conn| -> Result<bool> {
            let referenced: i64 = packages::table.filter(packages::blob_sha256.eq(sha)).count().get_result(conn)?;
            let in_flight: i64 = if exact {
                0
            } else {
                blob_intents::table
                    .filter(blob_intents::blob_sha256.eq(sha))
                    .filter(blob_intents::id.ne(own))
                    .filter(blob_intents::created_at.gt(live_after))
                    .count()
                    .get_result(conn)?
            };
            let remove = referenced == 0 && in_flight == 0;
            if remove {
                self.store.blobs.remove(sha)?;
            }
            diesel::delete(
                blob_intents::table
                    .filter(blob_intents::blob_sha256.eq(sha))
                    .filter(blob_intents::id.eq(own).or(blob_intents::created_at.le(live_after))),
            )
            .execute(conn)?;
            Ok(remove)
        })?;
        Ok(remove)
    }

    /// A name belongs to the organisation that first published it; a version is published once.
    fn check_name(&self, conn: &mut AnyConnection, principal: &Principal, name: &str, version: &str) -> Result<()> {
        match super::apply::name_taken(conn, &principal.organisation, name, version)? {
            None => Ok(()),
            Some(super::apply::NameTaken::OwnedBy(owner)) => {
                // Named only to a caller who may read one of the name's packages.
                let readable: i64 = visible(&Reader::of(Some(principal)))
                    .filter(packages::name.eq(name.to_owned()))
                    .count()
                    .get_result(conn)?;
                let owner = (readable > 0).then_some(owner);
                Err(RegistryError::NameOwned { name: name.to_owned(), owner })
            }
            Some(super::apply::NameTaken::VersionPublished { existing }) => {
                Err(RegistryError::VersionConflict { name: name.to_owned(), version: version.to_owned(), existing })
            }
        }
    }

    /// Packages the reader may see, filtered and paged.
    pub fn list_packages(&self, reader: &Reader, query: &PackageQuery) -> Result<PackageList> {
        let limit = query.limit.unwrap_or(50);
        let offset = query.offset.unwrap_or(0);
        if !(1..=500).contains(&limit) || offset < 0 {
            return Err(RegistryError::bad_request("limit must be 1 to 500 and offset at least 0"));
        }
        let filtered = || {
            let mut q = visible(reader);
            if let Some(n) = &query.name {
                q = q.filter(packages::name.eq(n.clone()));
            }
            if let Some(o) = &query.organisation {
                q = q.filter(packages::organisation_id.eq(o.clone()));
            }
            if let Some(c) = &query.material_class {
                q = q.filter(packages::material_class.eq(c.clone()));
            }
            match query.status {
                None => q,
                Some(PackageStatus::Active) => {
                    q.filter(packages::withdrawn_at.is_null()).filter(packages::superseded_by.is_null())
                }
                Some(PackageStatus::Superseded) => {
                    q.filter(packages::withdrawn_at.is_null()).filter(packages::superseded_by.is_not_null())
                }
                Some(PackageStatus::Withdrawn) => q.filter(packages::withdrawn_at.is_not_null()),
            }
        };
        let mut conn = self.store.conn()?;
        let total: i64 = filtered().count().get_result(&mut conn)?;
        let rows: Vec<PackageRow> = filtered()
            .order((packages::registered_at.desc(), packages::digest))
            .limit(limit)
            .offset(offset)
            .select(PackageRow::as_select())
            .load(&mut conn)?;
        let sigs = load_signatures(&mut conn, rows.iter().map(|r| r.digest.clone()).collect())?;
        let packages = rows.into_iter().map(|r| summary(r, &sigs)).collect();
        Ok(PackageList { total, offset, limit, packages })
    }

    /// One package, if the reader may see it (otherwise "not found", never "forbidden": the
    /// existence of a restricted package is itself restricted).
    pub fn detail(&self, reader: &Reader, digest: &str) -> Result<PackageDetail> {
        let digest = parse_digest(digest)?.to_string();
        let mut conn = self.store.conn()?;
        let row = self.visible_row(&mut conn, reader, &digest)?;
        let dataset_rows: Vec<DatasetRow> = datasets::table
            .filter(datasets::digest.eq(&digest))
            .order(datasets::dataset_id)
            .select(DatasetRow::as_select())
            .load(&mut conn)?;
        let document: Option<DocumentRow> =
            package_documents::table.find(&digest).select(DocumentRow::as_select()).first(&mut conn).optional()?;
        let sigs = load_signatures(&mut conn, vec![digest.clone()])?;
        let now = now_ms();
        let signatures = sigs
            .get(&digest)
            .map(|list| {
                list.iter()
                    .map(|(s, k)| SignatureView {
                        key_id: s.key_id.clone(),
                        organisation: s.organisation_id.clone(),
                        kind: s.kind.clone(),
                        source: s.source.clone(),
                        added_at: format_time(s.added_at),
                        signature: s.signature.clone(),
                        key_status: if k.revoked_at.is_some_and(|t| t <= now) { "revoked" } else { "active" }
                            .to_owned(),
                        key_revoked_at: k.revoked_at.map(format_time),
                        key_compromised: k.compromised,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (manifest, verification) = match &document {
            Some(d) => (
                serde_json::from_str(&d.manifest).unwrap_or(serde_json::Value::Null),
                serde_json::from_str(&d.verification).unwrap_or(serde_json::Value::Null),
            ),
            None => (serde_json::Value::Null, serde_json::Value::Null),
        };
        let file_sha256 = row.blob_sha256.clone();
        let download_url = format!("/v1/packages/{digest}/download");
        Ok(PackageDetail {
            summary: summary(row, &sigs),
            file_sha256,
            manifest,
            datasets: dataset_rows
                .into_iter()
                .map(|d| DatasetView {
                    id: d.dataset_id,
                    property: d.property,
                    unit: d.unit,
                    file: d.file,
                    measurements: d.measurements,
                    specimens: d.specimens,
                    batches: d.batches,
                    min: d.min_value,
                    max: d.max_value,
                    mean: d.mean_value,
                    conditions: serde_json::from_str(&d.conditions).unwrap_or(serde_json::Value::Null),
                })
                .collect(),
            verification,
            signatures,
            download_url,
        })
    }

    pub(super) fn visible_row(&self, conn: &mut AnyConnection, reader: &Reader, digest: &str) -> Result<PackageRow> {
        visible(reader)
            .filter(packages::digest.eq(digest.to_owned()))
            .select(PackageRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| RegistryError::not_found(format!("no package {digest} that you may see")))
    }

    /// Where to read the stored file of a package the reader may see, its download file name,
    /// its digest and its size in bytes.
    pub fn blob(&self, reader: &Reader, digest: &str) -> Result<(BlobLocation, String, String, u64)> {
        let digest = parse_digest(digest)?.to_string();
        let mut conn = self.store.conn()?;
        let row = self.visible_row(&mut conn, reader, &digest)?;
        drop(conn);
        let location = self.store.blobs.location(&row.blob_sha256)?;
        let size = u64::try_from(row.size_bytes).unwrap_or(0);
        Ok((location, format!("{}-{}.zip", row.name, row.version), digest, size))
    }

    /// Adds a certifier's countersignature (a `signatures/*.json` document) to a package.
    pub fn countersign(&self, principal: &Principal, digest: &str, body: &[u8]) -> Result<(PackageDetail, bool)> {
        super::policy::authorize(principal, super::policy::Action::Countersign)?;
        let parsed = parse_digest(digest)?;
        let digest = parsed.to_string();
        let reader = Reader::of(Some(principal));
        let mut conn = self.store.conn()?;
        self.visible_row(&mut conn, &reader, &digest)?;
        let name = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("key_id").and_then(|k| k.as_str()).map(|k| format!("signatures/{k}.json")))
            .unwrap_or_else(|| "signature".to_owned());
        let checked = check_signature(&name, body, &parsed);
        if let Some(problem) = &checked.problem {
            return Err(signature_problem("signature_invalid", &checked, problem.clone()));
        }
        let (Some(key_id), Some(pk), Some(raw)) = (&checked.key_id, &checked.public_key, &checked.signature) else {
            return Err(signature_problem("signature_invalid", &checked, "incomplete signature"));
        };
        // The signature file names its public key: it must be the registered one. Everything
        // else about the key (its organisation, not revoked, the signature verifying) is the
        // rule every countersignature meets, at the origin and on mirrors (apply::countersigned).
        let registered: Option<String> =
            signing_keys::table.find(key_id.as_str()).select(signing_keys::public_key).first(&mut conn).optional()?;
        if registered.is_some_and(|k| k != encode_public_key(pk)) {
            return Err(signature_problem("signature_invalid", &checked, "public key differs from the registered one"));
        }
        drop(conn);
        let event = Event::Countersigned {
            digest: digest.clone(),
            key_id: key_id.as_str().to_owned(),
            organisation: principal.organisation.clone(),
            signature: B64.encode(raw),
        };
        let created = self.store.write(|conn| -> Result<bool> {
            let now = now_ms();
            match super::apply::countersigned(conn, &event, now) {
                Ok(true) => {
                    let index = super::transparency::append(conn, &event, now)?;
                    let signer = [(checked.file.clone(), key_id.as_str().to_owned())];
                    super::transparency::require_keys_in_force(conn, &signer, index, now_ms())?;
                    Ok(true)
                }
                Ok(false) => Ok(false),
                Err(super::apply::ApplyError::Broken { code, message, .. }) => {
                    Err(signature_problem(code, &checked, message))
                }
                Err(super::apply::ApplyError::Registry(e)) => Err(e),
            }
        })?;
        Ok((self.detail(&reader, &digest)?, created))
    }

    /// Withdraws a package (its lab or an operator). Nothing is deleted: it stays downloadable,
    /// marked, and stops counting as evidence.
    pub fn withdraw(&self, principal: &Principal, digest: &str, reason: &str) -> Result<PackageDetail> {
        super::policy::authorize_role(principal, super::policy::Action::Withdraw { publisher: "" })?;
        if reason.trim().is_empty() {
            return Err(RegistryError::bad_request("reason must not be empty"));
        }
        let digest = parse_digest(digest)?.to_string();
        let reader = Reader::of(Some(principal));
        self.store.write(|conn| -> Result<()> {
            let row = self.visible_row(conn, &reader, &digest)?;
            super::policy::authorize(principal, super::policy::Action::Withdraw { publisher: &row.organisation_id })?;
            let now = now_ms();
            let event = Event::Withdrawn { digest: digest.clone(), reason: reason.trim().to_owned() };
            if super::apply::withdrawn(conn, &event, now)? {
                super::transparency::append(conn, &event, now)?;
            }
            Ok(())
        })?;
        self.detail(&reader, &digest)
    }

    /// Blobs no package references (left by a crash between storing and committing, or by an
    /// upload whose commit failed), last modified more than `grace` ago, are removed unless
    /// `dry_run`, with their intents; so are intents older than `grace` whose blob is gone or
    /// referenced, and staging files older than `grace`. Returns the hashes of the blobs.
    ///
    /// A blob is never removed while an upload of it is in flight: on PostgreSQL a publisher
    /// holds the blob's lock from before storing it until its rows are committed, whatever
    /// `grace` is; on SQLite an intent younger than `grace` keeps it.
    pub fn sweep_orphans(&self, grace: std::time::Duration, dry_run: bool) -> Result<Vec<String>> {
        let cutoff = std::time::SystemTime::now() - grace;
        let live_after = now_ms() - i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        // Listed before the rows are read: a blob whose rows commit in between is seen as
        // referenced.
        let blobs = self.store.blobs.list()?;
        let mut conn = self.store.conn()?;
        let referenced: BTreeSet<String> =
            packages::table.select(packages::blob_sha256).load::<String>(&mut conn)?.into_iter().collect();
        let intents: Vec<(String, i64)> =
            blob_intents::table.select((blob_intents::blob_sha256, blob_intents::created_at)).load(&mut conn)?;
        drop(conn);
        let mut orphans = Vec::new();
        for (sha, modified) in &blobs {
            if referenced.contains(sha) || *modified > cutoff {
                continue;
            }
            if dry_run {
                let live = !self.store.has_blob_locks() && intents.iter().any(|(s, at)| s == sha && *at > live_after);
                if !live {
                    orphans.push(sha.clone());
                }
            } else if self.remove_if_orphan(sha, None, live_after)? {
                orphans.push(sha.clone());
            }
        }
        if !dry_run {
            let stored: BTreeSet<&String> = blobs.iter().map(|(sha, _)| sha).collect();
            let stale: Vec<String> = intents
                .iter()
                .filter(|(sha, at)| *at <= live_after && (referenced.contains(sha) || !stored.contains(sha)))
                .map(|(sha, _)| sha.clone())
                .collect();
            if !stale.is_empty() {
                self.store.write(|conn| -> Result<usize> {
                    Ok(diesel::delete(
                        blob_intents::table
                            .filter(blob_intents::blob_sha256.eq_any(&stale))
                            .filter(blob_intents::created_at.le(live_after)),
                    )
                    .execute(conn)?)
                })?;
            }
            self.store.blobs.sweep_tmp(cutoff).map_err(|e| RegistryError::Unavailable(format!("staging: {e}")))?;
        }
        Ok(orphans)
    }
}

/// Within one package name, each version is superseded by the next higher version that is not
/// withdrawn; the highest is current. Only rows whose successor changed are written, so
/// publishing a new latest version touches one older row, not every version. Returns the
/// digests of the rows written.
fn update_supersession(conn: &mut AnyConnection, name: &str) -> Result<Vec<String>> {
    let mut versions: Vec<(String, String, Option<i64>, Option<String>)> = packages::table
        .filter(packages::name.eq(name))
        .select((packages::version, packages::digest, packages::withdrawn_at, packages::superseded_by))
        .load(conn)?;
    versions.sort_by_key(|(v, ..)| version_key(v));
    let mut successor: Option<String> = None;
    let mut changed = Vec::new();
    for (_, digest, withdrawn, current) in versions.iter().rev() {
        if *current != successor {
            diesel::update(packages::table.find(digest)).set(packages::superseded_by.eq(&successor)).execute(conn)?;
            changed.push(digest.clone());
        }
        if withdrawn.is_none() {
            successor = Some(digest.clone());
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_naturally() {
        let mut v = vec!["1.10.0", "1.9.0", "2.0.0-rc1", "1.0.0"];
        v.sort_by_key(|s| version_key(s));
        assert_eq!(v, ["1.0.0", "1.9.0", "1.10.0", "2.0.0-rc1"]);
    }
}

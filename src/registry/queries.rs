//! The queries the registry's modules share: which packages a reader may see (as a diesel
//! query and as SQL text), statements assembled at run time, packages' signatures and their
//! summaries, digests from requests. A leaf of `registry/`: it imports no sibling that does
//! the registry's work, so each of them can use it without an import cycle.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;

use super::Result;
use super::auth::Reader;
use super::error::RegistryError;
use super::views::{PackageStatus, PackageSummary, Withdrawal};
use crate::package::PackageDigest;
use crate::store::models::{KeyRow, PackageRow, SignatureRow};
use crate::store::schema::{package_readers, packages, signatures, signing_keys};
use crate::store::{AnyConnection, format_time};

pub(super) type Db = <AnyConnection as diesel::Connection>::Backend;

pub(super) fn parse_digest(s: &str) -> Result<PackageDigest> {
    PackageDigest::parse(s)
        .ok_or_else(|| RegistryError::bad_request(format!("'{s}' is not a package digest (sha256:<64 lowercase hex>)")))
}

/// Packages `reader` may see, as a boxed query to refine.
pub(super) fn visible(reader: &Reader) -> packages::BoxedQuery<'static, Db> {
    let q = packages::table.into_boxed::<Db>();
    match reader {
        Reader::Operator => q,
        Reader::Anonymous => q.filter(packages::releasability.eq("public")),
        Reader::Organisation { id, .. } => q.filter(
            packages::releasability.eq("public").or(packages::organisation_id.eq(id.clone())).or(packages::digest
                .eq_any(
                    package_readers::table
                        .select(package_readers::digest)
                        .filter(package_readers::reader.eq_any(reader.grants())),
                )),
        ),
    }
}

/// A statement assembled at run time with numbered bind parameters (`$1`, `$2`, …, each used
/// once and in order, which SQLite and PostgreSQL both read the same way).
#[derive(Debug, Default)]
pub(super) struct Sql {
    text: String,
    binds: Vec<SqlValue>,
}

#[derive(Debug, Clone)]
pub(super) enum SqlValue {
    Text(String),
    Double(f64),
}

impl Sql {
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    pub fn bind(&mut self, v: SqlValue) -> &mut Self {
        self.binds.push(v);
        self.text.push_str(&format!("${}", self.binds.len()));
        self
    }

    /// Binds `values` separated by commas (the inside of an `IN (…)`).
    pub fn bind_list(&mut self, values: impl IntoIterator<Item = SqlValue>) -> &mut Self {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(v);
        }
        self
    }

    pub fn query(self) -> diesel::query_builder::BoxedSqlQuery<'static, Db, diesel::query_builder::SqlQuery> {
        let mut q = diesel::sql_query(self.text).into_boxed::<Db>();
        for v in self.binds {
            q = match v {
                SqlValue::Text(s) => q.bind::<diesel::sql_types::Text, _>(s),
                SqlValue::Double(x) => q.bind::<diesel::sql_types::Double, _>(x),
            };
        }
        q
    }
}

/// [`visible`] for statements written in SQL, over a table aliased `alias` that has the
/// packages' `digest`, `releasability` and `organisation_id` columns (`search_index`). The two
/// must say the same; `tests/suite/api_access.rs` checks search against the other read paths for every
/// kind of reader.
pub(super) fn visible_sql(reader: &Reader, alias: &str, sql: &mut Sql) {
    match reader {
        Reader::Operator => {}
        Reader::Anonymous => {
            sql.push(&format!(" AND {alias}.releasability = 'public'"));
        }
        Reader::Organisation { id, .. } => {
            sql.push(&format!(" AND ({alias}.releasability = 'public' OR {alias}.organisation_id = "));
            sql.bind(SqlValue::Text(id.clone()));
            sql.push(&format!(" OR {alias}.digest IN (SELECT digest FROM package_readers WHERE reader IN ("));
            sql.bind_list(reader.grants().into_iter().map(SqlValue::Text)).push(")))");
        }
    }
}

pub(super) type SignatureMap = HashMap<String, Vec<(SignatureRow, KeyRow)>>;

pub(super) fn load_signatures(conn: &mut AnyConnection, digests: Vec<String>) -> Result<SignatureMap> {
    let mut map: SignatureMap = HashMap::new();
    // Chunked so that very large registries stay under the backends' parameter limits.
    for chunk in digests.chunks(4000) {
        let rows: Vec<(SignatureRow, KeyRow)> = signatures::table
            .inner_join(signing_keys::table)
            .filter(signatures::digest.eq_any(chunk))
            .order((signatures::digest, signatures::added_at, signatures::key_id))
            .select((SignatureRow::as_select(), KeyRow::as_select()))
            .load(conn)?;
        for (s, k) in rows {
            map.entry(s.digest.clone()).or_default().push((s, k));
        }
    }
    Ok(map)
}

pub(super) fn summary(row: PackageRow, sigs: &SignatureMap) -> PackageSummary {
    let list = sigs.get(&row.digest).map(Vec::as_slice).unwrap_or_default();
    let suspect_reasons: Vec<String> = list
        .iter()
        .filter_map(|(_, k)| match k.revoked_at {
            Some(at) if k.compromised && at <= row.registered_at => Some(format!(
                "signed with key {} of '{}', reported compromised since {}",
                k.key_id,
                k.organisation_id,
                format_time(at)
            )),
            _ => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let status = if row.withdrawn_at.is_some() {
        PackageStatus::Withdrawn
    } else if row.superseded_by.is_some() {
        PackageStatus::Superseded
    } else {
        PackageStatus::Active
    };
    let suspect = !suspect_reasons.is_empty();
    PackageSummary {
        countersigned: list.iter().any(|(s, _)| s.kind == "countersignature"),
        counts_as_evidence: status == PackageStatus::Active && !suspect,
        digest: row.digest,
        name: row.name,
        version: row.version,
        title: row.title,
        material_class: row.material_class,
        designation: row.designation,
        organisation: row.organisation_id,
        releasability: row.releasability,
        synthetic: row.synthetic,
        size_bytes: row.size_bytes,
        registered_at: format_time(row.registered_at),
        status,
        superseded_by: row.superseded_by,
        withdrawn: row
            .withdrawn_at
            .map(|at| Withdrawal { at: format_time(at), reason: row.withdrawn_reason.unwrap_or_default() }),
        suspect,
        suspect_reasons,
    }
}

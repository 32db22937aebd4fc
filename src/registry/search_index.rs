//! What search reads: one `search_index` row per package and one `dataset_points` row per
//! dataset and tested temperature (see the migrations `2026-11-30-000001_search_index` and
//! `2026-11-30-000002_search_keys`), and [`Mirror`], this process's copy of `search_index`.
//!
//! Both are derived from the tables of record. `search_index` rows are recomputed with
//! [`refresh`] in the same transaction as every change of a package's standing, with the same
//! rule as the package summary ([`summary`]), so search and the read API cannot disagree about
//! what counts as evidence. Points depend only on a dataset's rows, which never change, and are
//! written once at publish time. Packages published before the index existed are indexed at
//! start-up by [`Registry::reindex`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::auth::Reader;
use super::queries::{load_signatures, summary};
use super::supply::SupplyTable;
use super::supply::content_of;
use super::{Registry, RegistryError, Result};
use crate::package::manifest::ElementFraction;
use crate::store::AnyConnection;
use crate::store::models::{DatasetPointRow, DatasetRow, PackageMaterialRow, PackageRow, SearchIndexRow};
use crate::store::schema::{
    dataset_points, datasets, package_materials, package_readers, packages, search_generation, search_index,
};
use crate::units::Unit;

/// Packages indexed per transaction by [`Registry::reindex`].
const REINDEX_BATCH: usize = 500;

/// The per-temperature means of a stored dataset. Properties outside the vocabulary (extensions)
/// and rows that cannot be converted to the canonical unit give no points.
pub fn points_of(dataset: &DatasetRow, package_key: i64) -> Result<Vec<DatasetPointRow>> {
    let Some(def) = crate::package::vocabulary::PROPERTIES.iter().find(|p| p.name == dataset.property) else {
        return Ok(Vec::new());
    };
    let (Ok(from), Ok(canonical)) = (Unit::parse(&dataset.unit), Unit::parse(def.canonical_unit)) else {
        return Ok(Vec::new());
    };
    let rows = crate::fit::decode_rows(&dataset.rows, &[]).map_err(RegistryError::Internal)?;
    // Rows at the same temperature (to the hundredth of a degree) form one point; rows without
    // a temperature form one point of their own.
    let mut groups: BTreeMap<Option<i64>, Vec<&crate::fit::EvidenceRow>> = BTreeMap::new();
    for r in &rows {
        let t = r.conditions.get("temperature").map(|(t, _)| (t * 100.0).round() as i64);
        groups.entry(t).or_default().push(r);
    }
    let mut out = Vec::with_capacity(groups.len());
    for (i, group) in groups.into_values().enumerate() {
        let n = group.len() as f64;
        let Ok(value) = from.convert(group.iter().map(|r| r.value).sum::<f64>() / n, &canonical) else {
            return Ok(Vec::new());
        };
        let temps: Vec<f64> = group.iter().filter_map(|r| r.conditions.get("temperature").map(|(t, _)| *t)).collect();
        out.push(DatasetPointRow {
            package_key,
            dataset_id: dataset.dataset_id.clone(),
            point: i32::try_from(i).unwrap_or(i32::MAX),
            property: dataset.property.clone(),
            temperature_c: (!temps.is_empty()).then(|| temps.iter().sum::<f64>() / temps.len() as f64),
            value,
            measurements: i32::try_from(group.len()).unwrap_or(i32::MAX),
            batches: i32::try_from(group.iter().map(|r| &*r.batch).collect::<BTreeSet<&str>>().len())
                .unwrap_or(i32::MAX),
        });
    }
    Ok(out)
}

/// Writes the points of `datasets` (replacing any already there); returns how many. Their
/// packages must have their `search_index` rows already ([`refresh`] first).
pub(super) fn write_points(conn: &mut AnyConnection, rows: &[DatasetRow]) -> Result<usize> {
    let digests: BTreeSet<&str> = rows.iter().map(|d| d.digest.as_str()).collect();
    let mut keys: HashMap<String, i64> = HashMap::new();
    for chunk in digests.into_iter().collect::<Vec<_>>().chunks(REINDEX_BATCH) {
        keys.extend(
            search_index::table
                .filter(search_index::digest.eq_any(chunk))
                .select((search_index::digest, search_index::key))
                .load::<(String, i64)>(conn)?,
        );
    }
    let mut written = 0;
    for d in rows {
        let Some(&key) = keys.get(&d.digest) else {
            return Err(RegistryError::Internal(format!("search index: package {} has no row", d.digest)));
        };
        diesel::delete(
            dataset_points::table
                .filter(dataset_points::package_key.eq(key))
                .filter(dataset_points::dataset_id.eq(&d.dataset_id)),
        )
        .execute(conn)?;
        // One row per statement: multi-row inserts do not compile through MultiConnection.
        for p in points_of(d, key)? {
            written += diesel::insert_into(dataset_points::table).values(&p).execute(conn)?;
        }
    }
    Ok(written)
}

/// Recomputes the `search_index` rows of `digests` (distinct) from the tables of record,
/// inserting those not indexed yet. A row keeps its `key` (its points refer to it).
pub(super) fn refresh(conn: &mut AnyConnection, digests: &[String]) -> Result<()> {
    if digests.is_empty() {
        return Ok(());
    }
    let table = SupplyTable::builtin().map_err(RegistryError::Internal)?;
    diesel::update(search_generation::table)
        .set(search_generation::value.eq(search_generation::value + 1))
        .execute(conn)?;
    let generation: i64 = search_generation::table.select(search_generation::value).first(conn)?;
    for chunk in digests.chunks(REINDEX_BATCH) {
        let rows: Vec<PackageRow> =
            packages::table.filter(packages::digest.eq_any(chunk)).select(PackageRow::as_select()).load(conn)?;
        let sigs = load_signatures(conn, chunk.to_vec())?;
        let facts: HashMap<String, PackageMaterialRow> = package_materials::table
            .filter(package_materials::digest.eq_any(chunk))
            .select(PackageMaterialRow::as_select())
            .load(conn)?
            .into_iter()
            .map(|m| (m.digest.clone(), m))
            .collect();
        for row in rows {
            let s = summary(row.clone(), &sigs);
            let fact = facts.get(&row.digest);
            let composition: Vec<ElementFraction> =
                fact.and_then(|f| serde_json::from_str(&f.composition).ok()).unwrap_or_default();
            let content = content_of(table, &composition);
            let text = [&row.designation, &row.producer, &row.name, &row.title]
                .iter()
                .map(|s| s.to_lowercase().replace('\n', " "))
                .collect::<Vec<_>>()
                .join("\n");
            let index = SearchIndexRow {
                digest: row.digest,
                material_id: row.material_id,
                material_class: row.material_class,
                organisation_id: row.organisation_id,
                releasability: row.releasability,
                producer_country: fact.map(|f| f.producer_country.clone()).unwrap_or_default(),
                designation: row.designation,
                producer: row.producer,
                text,
                evidence: s.counts_as_evidence,
                countersigned: s.countersigned,
                rare_earth_free: content.rare_earth_free,
                cobalt_free: content.cobalt_free,
                dy_tb: content.dy_tb_mass_fraction,
                supply_hhi: content.supply_hhi,
                registered_at: row.registered_at,
                generation,
            };
            let updated = diesel::update(search_index::table.filter(search_index::digest.eq(&index.digest)))
                .set(&index)
                .execute(conn)?;
            if updated == 0 {
                diesel::insert_into(search_index::table).values(&index).execute(conn)?;
            }
        }
    }
    Ok(())
}

/// A package as search sees it, held in memory by [`Mirror`].
pub(super) struct Indexed {
    pub key: i64,
    /// The material's number in [`Mirrored::materials`] (grouping by it needs no hashing).
    pub material: usize,
    pub public: bool,
    /// Lowercase designation, the name order of search results.
    pub sort_name: String,
    pub row: SearchIndexRow,
    /// Its `package_readers` grants (allied and restricted packages).
    pub readers: Vec<String>,
}

impl Indexed {
    /// Whether `reader`, holding `grants` (`reader.grants()`), may see the package: the rule of
    /// [`super::queries::visible_sql`], evaluated on the mirrored row (`tests/suite/api_access.rs`
    /// checks search against the read API).
    pub fn visible_to(&self, reader: &Reader, grants: &[String]) -> bool {
        match reader {
            Reader::Operator => true,
            Reader::Anonymous => self.public,
            Reader::Organisation { id, .. } => {
                self.public || self.row.organisation_id == *id || grants.iter().any(|g| self.readers.contains(g))
            }
        }
    }
}

/// The `search_index` rows as of `generation`.
#[derive(Default, Clone)]
pub(super) struct Mirrored {
    pub generation: i64,
    /// Indexed by `key` (keys are assigned in sequence, so few slots stay empty).
    pub packages: Vec<Option<Arc<Indexed>>>,
    /// Material id to its number.
    pub materials: HashMap<String, usize>,
}

impl Mirrored {
    pub fn get(&self, key: i64) -> Option<&Indexed> {
        usize::try_from(key).ok().and_then(|k| self.packages.get(k)).and_then(Option::as_deref)
    }

    pub fn all(&self) -> impl Iterator<Item = &Indexed> {
        self.packages.iter().flatten().map(|p| &**p)
    }

    fn put(&mut self, key: i64, row: SearchIndexRow, readers: Vec<String>) -> Result<()> {
        let slot =
            usize::try_from(key).map_err(|_| RegistryError::Internal(format!("search index: negative key {key}")))?;
        if self.packages.len() <= slot {
            self.packages.resize_with(slot + 1, || None);
        }
        let next = self.materials.len();
        let material = *self.materials.entry(row.material_id.clone()).or_insert(next);
        self.packages[slot] = Some(Arc::new(Indexed {
            key,
            material,
            public: row.releasability == "public",
            sort_name: row.designation.to_lowercase(),
            row,
            readers,
        }));
        Ok(())
    }
}

/// This process's copy of `search_index` (under 1 KB a package), so a search filters
/// packages in memory instead of looking each matching point's package up in the database.
/// Before each search it reads `search_generation` (one row) and loads only the rows written
/// since (by any registry process sharing the database): correct across processes, and a
/// search after a publish costs one small extra query. A search works on a snapshot (an `Arc`),
/// so a long one (a fit ranking) never holds up an update or another search; an update while
/// snapshots are out copies the slot table (pointers, not rows).
#[derive(Default)]
pub struct Mirror {
    state: RwLock<Arc<Mirrored>>,
}

fn poisoned<T>(_: T) -> RegistryError {
    RegistryError::Internal("search mirror: a thread panicked while updating it".into())
}

impl Registry {
    /// Loads the search mirror now rather than at the first search; returns how many packages
    /// it holds.
    pub fn warm_search(&self) -> Result<usize> {
        Ok(self.mirrored()?.all().count())
    }

    /// On PostgreSQL, vacuums and analyses the search tables after a bulk of rows was written:
    /// until the visibility map is set, a property search's index-only scan visits the table
    /// for every matching point (measured at 100 000 packages: 31 ms before, 7 ms after).
    fn after_bulk_indexing(&self) -> Result<()> {
        let mut conn = self.store.conn()?;
        if let AnyConnection::Postgresql(pg) = &mut *conn {
            use diesel::connection::SimpleConnection;
            pg.batch_execute("VACUUM (ANALYZE) search_index, dataset_points")?;
        }
        Ok(())
    }

    /// The search mirror, brought up to the database's current generation.
    pub(super) fn mirrored(&self) -> Result<Arc<Mirrored>> {
        let mut conn = self.store.conn()?;
        let current: i64 = search_generation::table.select(search_generation::value).first(&mut conn)?;
        {
            let state = self.mirror.state.read().map_err(poisoned)?;
            if state.generation >= current {
                return Ok(Arc::clone(&state));
            }
        }
        let mut shared = self.mirror.state.write().map_err(poisoned)?;
        if shared.generation < current {
            // A later snapshot than `current`'s: it holds every row of generations up to
            // `current` (each committed together with its generation) and maybe newer ones.
            let rows: Vec<(i64, SearchIndexRow)> = search_index::table
                .filter(search_index::generation.gt(shared.generation))
                .select((search_index::key, SearchIndexRow::as_select()))
                .load(&mut conn)?;
            let restricted: Vec<&str> =
                rows.iter().filter(|(_, r)| r.releasability != "public").map(|(_, r)| r.digest.as_str()).collect();
            let mut readers: HashMap<String, Vec<String>> = HashMap::new();
            for chunk in restricted.chunks(REINDEX_BATCH) {
                for (digest, reader) in package_readers::table
                    .filter(package_readers::digest.eq_any(chunk))
                    .select((package_readers::digest, package_readers::reader))
                    .load::<(String, String)>(&mut conn)?
                {
                    readers.entry(digest).or_default().push(reader);
                }
            }
            // Copies the slot table only when a search still holds the current snapshot.
            let state = Arc::make_mut(&mut shared);
            let mut generation = current;
            for (key, row) in rows {
                generation = generation.max(row.generation);
                let readers = readers.remove(&row.digest).unwrap_or_default();
                state.put(key, row, readers)?;
            }
            state.generation = generation;
        }
        Ok(Arc::clone(&shared))
    }
}

#[derive(QueryableByName)]
struct Unindexed {
    #[diesel(sql_type = Text)]
    digest: String,
}

/// What [`Registry::reindex`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reindexed {
    pub packages: usize,
    pub points: usize,
}

impl Registry {
    /// Indexes for search every package that has no `search_index` row yet (those published
    /// before the index existed), oldest first, in transactions of a few hundred packages, so an
    /// interrupted run resumes where it stopped. `progress` hears the running total.
    pub fn reindex(&self, mut progress: impl FnMut(usize)) -> Result<Reindexed> {
        let mut done = Reindexed::default();
        loop {
            let batch = self.store.write(|conn| -> Result<Reindexed> {
                // The generation row first: a process starting at the same time waits here and
                // then finds the packages this batch indexes already indexed.
                diesel::update(search_generation::table)
                    .set(search_generation::value.eq(search_generation::value))
                    .execute(conn)?;
                let digests: Vec<String> = diesel::sql_query(format!(
                    "SELECT digest FROM packages WHERE digest NOT IN (SELECT digest FROM search_index) \
                     ORDER BY registered_at, digest LIMIT {REINDEX_BATCH}"
                ))
                .load::<Unindexed>(conn)?
                .into_iter()
                .map(|u| u.digest)
                .collect();
                if digests.is_empty() {
                    return Ok(Reindexed::default());
                }
                let sets: Vec<DatasetRow> = datasets::table
                    .filter(datasets::digest.eq_any(&digests))
                    .select(DatasetRow::as_select())
                    .load(conn)?;
                refresh(conn, &digests)?;
                let points = write_points(conn, &sets)?;
                Ok(Reindexed { packages: digests.len(), points })
            })?;
            if batch.packages == 0 {
                if done.packages > 0 {
                    self.after_bulk_indexing()?;
                }
                return Ok(done);
            }
            done.packages += batch.packages;
            done.points += batch.points;
            progress(done.packages);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::{EvidenceRow, encode_rows};

    /// (value, batch, temperature with its unit)
    type Row<'a> = (f64, &'a str, Option<(f64, &'a str)>);

    fn dataset(property: &str, unit: &str, rows: &[Row<'_>]) -> DatasetRow {
        let rows: Vec<EvidenceRow> = rows
            .iter()
            .map(|(value, batch, t)| EvidenceRow {
                specimen: "s".into(),
                batch: (*batch).into(),
                value: *value,
                conditions: std::sync::Arc::new(
                    t.iter().map(|(t, u)| ("temperature".to_owned(), (*t, (*u).to_owned()))).collect(),
                ),
            })
            .collect();
        DatasetRow {
            digest: "sha256:00".into(),
            dataset_id: "d".into(),
            property: property.into(),
            unit: unit.into(),
            file: "datasets/d.csv".into(),
            measurements: 0,
            specimens: 0,
            batches: 0,
            min_value: 0.0,
            max_value: 0.0,
            mean_value: 0.0,
            conditions: "{}".into(),
            standard: String::new(),
            rows: encode_rows(&rows),
        }
    }

    #[test]
    fn one_point_per_temperature_in_the_canonical_unit() {
        // kOe to kA/m: 1 kOe = 1000/(4π) kA/m.
        let d = dataset(
            "intrinsic_coercivity",
            "kOe",
            &[
                (20.0, "L1", Some((20.0, "Cel"))),
                (22.0, "L2", Some((20.0, "Cel"))),
                (10.0, "L1", Some((423.15, "K"))),
                (12.0, "L1", None),
            ],
        );
        let points = points_of(&d, 7).unwrap();
        let kam = 1000.0 / (4.0 * std::f64::consts::PI);
        assert_eq!(points.len(), 3, "{points:?}");
        assert!(points.iter().all(|p| p.package_key == 7), "{points:?}");
        let at = |t: Option<f64>| {
            points
                .iter()
                .find(|p| match (p.temperature_c, t) {
                    (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                    (None, None) => true,
                    _ => false,
                })
                .unwrap_or_else(|| panic!("no point at {t:?}: {points:?}"))
        };
        let room = at(Some(20.0));
        assert!((room.value - 21.0 * kam).abs() < 1e-9, "{room:?}");
        assert_eq!((room.measurements, room.batches), (2, 2));
        let hot = at(Some(150.0));
        assert!((hot.value - 10.0 * kam).abs() < 1e-9, "{hot:?}");
        assert_eq!((hot.measurements, hot.batches), (1, 1));
        assert!((at(None).value - 12.0 * kam).abs() < 1e-9);
    }

    #[test]
    fn extension_properties_give_no_points() {
        assert!(points_of(&dataset("x-acme.hardness", "1", &[(1.0, "L1", None)]), 7).unwrap().is_empty());
    }
}

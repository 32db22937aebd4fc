//! Supply concentration of a material's critical elements, from a shipped, cited table of
//! producing-country shares (`supply/usgs-mcs-2025.json`, approximate figures from the USGS
//! Mineral Commodity Summaries 2025).
//!
//! The index, per material (0 to 10 000, higher is more concentrated):
//! - per element `e` of the table and per production stage `s` listed for it (mine, refining),
//!   the Herfindahl–Hirschman index `HHI(e, s) = Σ_c (100 · share(e, s, c))²` over the producing
//!   countries `c` listed (the unlisted remainder counts as fragmented and adds nothing);
//! - `HHI(e) = max_s HHI(e, s)`: the most concentrated stage is the bottleneck;
//! - `index = Σ_e w_e · HHI(e) / Σ_e w_e` over the elements of the material's composition that the
//!   table lists, `w_e` being the element's mass fraction: a mean over the critical elements
//!   only, weighted by how much of each the material holds (elements the table does not list,
//!   such as B or O, do not dilute it).
//!
//! A composition with none of the table's elements has index 0; an unknown (empty) composition
//! has none.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::package::manifest::ElementFraction;

const TABLE: &str = include_str!("supply/usgs-mcs-2025.json");

/// Rare-earth elements (scandium, yttrium and the lanthanides).
pub const RARE_EARTHS: &[&str] =
    &["Sc", "Y", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu"];

#[derive(Debug, Clone, Deserialize)]
struct ElementEntry {
    commodity: String,
    citation: String,
    /// Stage → country → share of world production (0 to 1).
    stages: BTreeMap<String, BTreeMap<String, f64>>,
}

#[derive(Debug, Clone, Deserialize)]
struct TableFile {
    source: String,
    elements: BTreeMap<String, ElementEntry>,
}

/// The shipped table, parsed.
#[derive(Debug, Clone)]
pub struct SupplyTable {
    pub source: String,
    elements: BTreeMap<String, ElementEntry>,
}

/// A critical element of a material: its mass fraction and its supply concentration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CriticalElement {
    pub element: String,
    pub mass_fraction: f64,
    /// HHI of the element's most concentrated production stage (0 to 10 000).
    pub hhi: f64,
    /// The country with the largest share of that stage, and its share (0 to 1).
    pub top_country: String,
    pub top_share: f64,
    pub commodity: String,
    pub citation: String,
}

impl SupplyTable {
    /// The table shipped with prequal, parsed once per process.
    pub fn builtin() -> Result<&'static SupplyTable, String> {
        static BUILTIN: std::sync::LazyLock<Result<SupplyTable, String>> = std::sync::LazyLock::new(|| {
            let file: TableFile = serde_json::from_str(TABLE).map_err(|e| format!("supply table: {e}"))?;
            Ok(SupplyTable { source: file.source, elements: file.elements })
        });
        BUILTIN.as_ref().map_err(Clone::clone)
    }

    /// HHI of an element (its most concentrated stage), with that stage's largest producer.
    pub fn element_hhi(&self, element: &str) -> Option<(f64, String, f64)> {
        let entry = self.elements.get(element)?;
        entry
            .stages
            .values()
            .map(|shares| {
                let hhi: f64 = shares.values().map(|s| (100.0 * s).powi(2)).sum();
                let (top, share) =
                    shares.iter().max_by(|a, b| a.1.total_cmp(b.1)).map(|(c, s)| (c.clone(), *s)).unwrap_or_default();
                (hhi, top, share)
            })
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// The composition's elements that the table lists, largest mass fraction first.
    pub fn critical_elements(&self, composition: &[ElementFraction]) -> Vec<CriticalElement> {
        let mut out: Vec<CriticalElement> = composition
            .iter()
            .filter(|f| f.mass_fraction > 0.0)
            .filter_map(|f| {
                let (hhi, top_country, top_share) = self.element_hhi(&f.element)?;
                let entry = self.elements.get(&f.element)?;
                Some(CriticalElement {
                    element: f.element.clone(),
                    mass_fraction: f.mass_fraction,
                    hhi,
                    top_country,
                    top_share,
                    commodity: entry.commodity.clone(),
                    citation: entry.citation.clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| b.mass_fraction.total_cmp(&a.mass_fraction).then(a.element.cmp(&b.element)));
        out
    }
}

/// The mass-fraction-weighted mean HHI of the critical elements (see the module docs); None for
/// an unknown composition.
pub fn supply_index(composition: &[ElementFraction], critical: &[CriticalElement]) -> Option<f64> {
    if composition.is_empty() {
        return None;
    }
    let weight: f64 = critical.iter().map(|c| c.mass_fraction).sum();
    if weight <= 0.0 {
        return Some(0.0);
    }
    Some(critical.iter().map(|c| c.mass_fraction * c.hhi).sum::<f64>() / weight)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(list: &[(&str, f64)]) -> Vec<ElementFraction> {
        list.iter().map(|(e, w)| ElementFraction { element: (*e).into(), mass_fraction: *w }).collect()
    }

    #[test]
    fn the_shipped_table_parses_cites_and_sums_below_one() {
        let t = SupplyTable::builtin().unwrap();
        assert!(t.source.contains("Mineral Commodity Summaries 2025"));
        for (element, entry) in &t.elements {
            assert!(
                entry.citation.starts_with("U.S. Geological Survey, Mineral Commodity Summaries 2025"),
                "{element}"
            );
            for (stage, shares) in &entry.stages {
                let sum: f64 = shares.values().sum();
                assert!(sum <= 1.0 + 1e-9 && sum > 0.5, "{element} {stage}: {sum}");
            }
        }
        for e in ["Nd", "Pr", "Dy", "Tb", "Co", "Li", "Ni", "Fe", "Sr", "Mn", "C", "Na"] {
            assert!(t.element_hhi(e).is_some(), "{e}");
        }
    }

    #[test]
    fn index_is_the_mass_weighted_mean_of_element_hhis() {
        let t = SupplyTable::builtin().unwrap();
        // Rare earths: refining is the more concentrated stage, 90² + 4² + 1² = 8117.
        let (nd, top, share) = t.element_hhi("Nd").unwrap();
        assert!((nd - 8117.0).abs() < 1e-6, "{nd}");
        assert_eq!((top.as_str(), share), ("CN", 0.90));
        let (fe, ..) = t.element_hhi("Fe").unwrap();
        let c = comp(&[("Nd", 0.3), ("Fe", 0.6), ("B", 0.1)]);
        let crit = t.critical_elements(&c);
        assert_eq!(crit.iter().map(|c| c.element.as_str()).collect::<Vec<_>>(), ["Fe", "Nd"]);
        let index = supply_index(&c, &crit).unwrap();
        assert!((index - (0.3 * nd + 0.6 * fe) / 0.9).abs() < 1e-9);
        // No listed element: 0; unknown composition: None.
        assert_eq!(supply_index(&comp(&[("O", 1.0)]), &[]), Some(0.0));
        assert_eq!(supply_index(&[], &[]), None);
    }
}

/// What a material holds of the elements search cares about.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CriticalContent {
    /// None: the composition is unknown.
    pub rare_earth_free: Option<bool>,
    pub cobalt_free: Option<bool>,
    /// Dy + Tb mass fraction.
    pub dy_tb_mass_fraction: Option<f64>,
    /// Elements of the supply table in the composition, largest first.
    pub critical_elements: Vec<CriticalElement>,
    /// Supply-concentration index (0 to 10 000): the mass-fraction-weighted mean of the critical
    /// elements' Herfindahl–Hirschman indices of producing-country shares.
    pub supply_hhi: Option<f64>,
}

/// A composition's critical content and supply-concentration index.
pub fn content_of(table: &SupplyTable, composition: &[ElementFraction]) -> CriticalContent {
    let known = !composition.is_empty();
    let holds = |e: &str| composition.iter().any(|f| f.element == e && f.mass_fraction > 0.0);
    let critical = table.critical_elements(composition);
    let dy_tb: f64 =
        composition.iter().filter(|f| f.element == "Dy" || f.element == "Tb").map(|f| f.mass_fraction).sum();
    CriticalContent {
        rare_earth_free: known.then(|| !RARE_EARTHS.iter().any(|e| holds(e))),
        cobalt_free: known.then(|| !holds("Co")),
        dy_tb_mass_fraction: known.then_some(dy_tb),
        supply_hhi: supply_index(composition, &critical),
        critical_elements: critical,
    }
}

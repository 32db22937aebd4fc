//! The material page is a datasheet: first the property × condition table (mean, B- and
//! A-basis where the data allow one, specimens, batches, test standard, the packages the values
//! come from), then critical content, packages, fit reports and the plots.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::{Names, charts, esc, package_status, page, url, verdict_class};
use crate::display::{class_label, property_label, property_short, quantity, sig, unit_label, with_unit};
use crate::fit::{Evidence, SourceRole, better_side};
use crate::package::manifest::CurveKind;
use crate::package::vocabulary::{self, MaterialClass};
use crate::registry::evidence::ProfileSummary;
use crate::registry::materials::{MaterialCurve, MaterialOverview};
use crate::units::Unit;

/// Significant digits of datasheet values.
const DIGITS: usize = 4;
/// Fewest specimens for which a basis value is computed at all.
const BASIS_MIN_SPECIMENS: usize = 5;
/// Below these a basis value is provisional (CMH-17's robust sampling: 3 batches, 18 specimens).
const ROBUST_BATCHES: usize = 3;
const ROBUST_SPECIMENS: usize = 18;

/// The measurements of one property at one condition, across the material's packages.
#[derive(Debug, Default)]
pub struct DatasheetRow {
    pub property: String,
    /// The property's canonical unit (every value converted to it).
    pub unit: String,
    /// Test temperature in °C, when stated.
    pub temperature_c: Option<f64>,
    /// Other conditions in words ("exposure time 1000 h").
    pub other: String,
    pub values: Vec<f64>,
    pub batches: Vec<String>,
    pub standards: BTreeSet<String>,
    /// digest → (name, version)
    pub packages: BTreeMap<String, (String, String)>,
}

impl DatasheetRow {
    fn basis(&self, content: f64) -> Option<(f64, bool)> {
        if self.values.len() < BASIS_MIN_SPECIMENS || self.unit == "{pass}" {
            return None;
        }
        let batches: Vec<&str> = self.batches.iter().map(String::as_str).collect();
        let r =
            crate::stats::tolerance_bound(&self.values, &batches, content, 0.95, better_side(&self.property)).ok()?;
        let distinct: BTreeSet<&str> = batches.iter().copied().collect();
        let provisional = distinct.len() < ROBUST_BATCHES || self.values.len() < ROBUST_SPECIMENS;
        Some((r.value, provisional))
    }

    fn batch_count(&self) -> usize {
        self.batches.iter().collect::<BTreeSet<_>>().len()
    }
}

fn property_order(name: &str) -> usize {
    vocabulary::PROPERTIES.iter().position(|p| p.name == name).unwrap_or(usize::MAX)
}

/// Groups every counting measurement by property and condition, in the property's canonical unit.
/// Only the sources a fit report would pool count: the baseline and the sources equivalent to
/// it (`fit::admit`); another production site or process route that is not shown equivalent is
/// kept apart here too, and the page says so.
pub fn datasheet(evidence: &[Evidence]) -> Vec<DatasheetRow> {
    let mut groups: BTreeMap<(usize, String, i64, String), DatasheetRow> = BTreeMap::new();
    let (admitted, _) = crate::fit::admit(evidence);
    for e in admitted {
        for d in &e.datasets {
            let canonical = vocabulary::property(&d.property).map_or(d.unit.as_str(), |p| p.canonical_unit);
            let (from, to) = (Unit::parse(&d.unit).ok(), Unit::parse(canonical).ok());
            for r in &d.rows {
                let value = match (&from, &to) {
                    (Some(f), Some(t)) => f.convert(r.value, t).unwrap_or(r.value),
                    _ => r.value,
                };
                let temperature_c = r.conditions.get("temperature").and_then(|(v, u)| Unit::to_celsius(*v, u));
                let other: Vec<String> = r
                    .conditions
                    .iter()
                    .filter(|(name, _)| name.as_str() != "temperature")
                    .map(|(name, (v, u))| format!("{} {}", name.replace('_', " "), with_unit(&sig(*v, 4), u)))
                    .collect();
                let other = other.join(", ");
                let key = (
                    property_order(&d.property),
                    d.property.clone(),
                    temperature_c.map_or(i64::MIN, |t| (t * 10.0).round() as i64),
                    other.clone(),
                );
                let row = groups.entry(key).or_insert_with(|| DatasheetRow {
                    property: d.property.clone(),
                    unit: canonical.to_owned(),
                    temperature_c,
                    other,
                    ..Default::default()
                });
                row.values.push(value);
                row.batches.push(format!("{}/{}", e.digest, r.batch));
                if !d.standard.is_empty() {
                    row.standards.insert(d.standard.clone());
                }
                row.packages.entry(e.digest.clone()).or_insert_with(|| (e.name.clone(), e.version.clone()));
            }
        }
    }
    groups.into_values().collect()
}

fn datasheet_table(b: &mut String, rows: &[DatasheetRow]) {
    b.push_str("<h2 id=\"datasheet\">Datasheet</h2>");
    if rows.is_empty() {
        b.push_str("<p>No package that counts as evidence holds measurements of this material.</p>");
        return;
    }
    b.push_str("<table id=\"datasheet-table\" class=\"datasheet\"><caption>Every counting measurement, by property and test condition, in the property's usual unit.</caption><thead><tr><th scope=\"col\">Property</th><th scope=\"col\">Condition</th><th scope=\"col\">Mean</th><th scope=\"col\"><a href=\"/glossary#b-basis\">B-basis</a></th><th scope=\"col\"><a href=\"/glossary#a-basis\">A-basis</a></th><th scope=\"col\">Range</th><th scope=\"col\">n</th><th scope=\"col\">Batches</th><th scope=\"col\">Test standard</th><th scope=\"col\">Package</th></tr></thead><tbody>");
    for r in rows {
        let n = r.values.len();
        let mean = r.values.iter().sum::<f64>() / n.max(1) as f64;
        let lo = r.values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let condition = match (r.temperature_c, r.other.is_empty()) {
            (Some(t), true) => format!("{} °C", sig(t, 4)),
            (Some(t), false) => format!("{} °C, {}", sig(t, 4), r.other),
            (None, false) => r.other.clone(),
            (None, true) => "–".into(),
        };
        let (mean_text, range_text) = if r.unit == "{pass}" {
            let passed = r.values.iter().filter(|v| **v >= 0.5).count();
            (format!("{passed} of {n} pass"), "–".to_owned())
        } else {
            let u = unit_label(&r.unit);
            (
                quantity(mean, &r.unit, DIGITS),
                format!(
                    "{} – {}{}",
                    sig(lo, DIGITS),
                    sig(hi, DIGITS),
                    if u.is_empty() { String::new() } else { format!(" {u}") }
                ),
            )
        };
        let basis = |content: f64| match r.basis(content) {
            Some((v, false)) => esc(&quantity(v, &r.unit, DIGITS)),
            Some((v, true)) => format!(
                "{} <a class=\"note\" href=\"/glossary#provisional\">provisional</a>",
                esc(&quantity(v, &r.unit, DIGITS))
            ),
            None => "–".into(),
        };
        let packages: Vec<String> = r
            .packages
            .iter()
            .map(|(digest, (name, version))| {
                format!("<a href=\"/packages/{}\">{} {}</a>", url(digest), esc(name), esc(version))
            })
            .collect();
        let _ = write!(
            b,
            "<tr data-property=\"{}\"><th scope=\"row\">{}</th><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{n}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.property),
            esc(&property_label(&r.property)),
            esc(&condition),
            esc(&mean_text),
            basis(0.90),
            basis(0.99),
            esc(&range_text),
            r.batch_count(),
            esc(&r.standards.iter().cloned().collect::<Vec<_>>().join(", ")),
            packages.join("<br>")
        );
    }
    b.push_str("</tbody></table>");
}

/// The datasheet as CSV (RFC 4180), for a spreadsheet or a materials database: one line per
/// property and condition, the same rows as the page's table, full precision, units in their own
/// column (UCUM codes, as in packages), basis values empty where none is computed.
pub fn datasheet_csv(m: &MaterialOverview) -> String {
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
    }
    let mut out = String::from(
        "material,property,unit,temperature_c,other_conditions,n,batches,mean,min,max,b_basis,a_basis,basis_provisional,test_standards,packages\r\n",
    );
    for r in datasheet(&m.evidence) {
        let n = r.values.len();
        let mean = r.values.iter().sum::<f64>() / n.max(1) as f64;
        let lo = r.values.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (b, a) = (r.basis(0.90), r.basis(0.99));
        let value = |v: Option<(f64, bool)>| v.map(|(x, _)| x.to_string()).unwrap_or_default();
        let provisional = match b.or(a) {
            Some((_, p)) => p.to_string(),
            None => String::new(),
        };
        let cells = [
            m.id.clone(),
            r.property.clone(),
            r.unit.clone(),
            r.temperature_c.map(|t| t.to_string()).unwrap_or_default(),
            r.other.clone(),
            n.to_string(),
            r.batch_count().to_string(),
            mean.to_string(),
            lo.to_string(),
            hi.to_string(),
            value(b),
            value(a),
            provisional,
            r.standards.iter().cloned().collect::<Vec<_>>().join("; "),
            r.packages.keys().cloned().collect::<Vec<_>>().join(" "),
        ];
        out.push_str(&cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

pub fn material_page(m: &MaterialOverview, profiles: &[ProfileSummary], names: &Names) -> String {
    let mut b = format!(
        "<h1>{}</h1><p>{} · producer country {} · {}</p>",
        esc(&m.designation),
        esc(&m.producer),
        esc(&m.producer_country),
        esc(&class_label(&m.material_class))
    );
    let rows = datasheet(&m.evidence);
    datasheet_table(&mut b, &rows);
    let (_, sources) = crate::fit::admit(&m.evidence);
    let apart: Vec<_> = sources.iter().filter(|s| s.role == SourceRole::KeptApart).collect();
    if !apart.is_empty() {
        b.push_str("<div class=\"notes\" id=\"kept-apart\"><p>Not in the datasheet: another source of this material that has not been shown equivalent to the first one published, as a fit report would keep it apart.</p><ul>");
        for s in apart {
            let _ = write!(b, "<li>{} ({}): {}</li>", esc(&s.source), esc(&s.packages.join(", ")), esc(&s.reason));
        }
        b.push_str("</ul></div>");
    }
    if !rows.is_empty() {
        let _ = write!(
            b,
            "<p><a href=\"/materials/{}/datasheet.csv\" download>Download the datasheet as CSV</a> (full precision, UCUM units).</p>",
            url(&m.id)
        );
    }

    let fits: Vec<String> = profiles
        .iter()
        .filter(|p| p.material_class == m.material_class && p.latest)
        .map(|p| {
            format!(
                "<li><a href=\"/fit/{}/{}?version={}\">{}</a> (version {}, issued by {})</li>",
                url(&p.id),
                url(&m.id),
                url(&p.version),
                esc(&p.title),
                esc(&p.version),
                esc(names.org(&p.organisation))
            )
        })
        .collect();
    if !fits.is_empty() {
        let _ = write!(b, "<h2>Fit reports</h2><ul>{}</ul>", fits.join(""));
    }

    b.push_str("<h2>Critical content and supply</h2>");
    let c = &m.content;
    let yn = |x: Option<bool>| match x {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    let _ = write!(
        b,
        "<p>Rare-earth free: {} · cobalt free: {} · Dy+Tb: {} · <a href=\"/glossary#hhi\">supply-concentration index</a>: {}</p>",
        yn(c.rare_earth_free),
        yn(c.cobalt_free),
        c.dy_tb_mass_fraction.map(|x| format!("{} % by mass", sig(x * 100.0, 3))).unwrap_or_else(|| "unknown".into()),
        c.supply_hhi.map(|x| sig(x, 3)).unwrap_or_else(|| "unknown".into())
    );
    if !c.critical_elements.is_empty() {
        b.push_str("<table><thead><tr><th scope=\"col\">Element</th><th scope=\"col\">Mass fraction</th><th scope=\"col\">HHI</th><th scope=\"col\">Largest producer</th><th scope=\"col\">Source</th></tr></thead><tbody>");
        for e in &c.critical_elements {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"num\">{} %</td><td class=\"num\">{}</td><td>{} ({} %)</td><td>{}</td></tr>",
                esc(&e.element),
                sig(e.mass_fraction * 100.0, 3),
                sig(e.hhi, 3),
                esc(&e.top_country),
                sig(e.top_share * 100.0, 2),
                esc(&e.citation)
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("<h2>Packages</h2><table><thead><tr><th scope=\"col\">Package</th><th scope=\"col\">Lab</th><th scope=\"col\">Status</th><th scope=\"col\">Countersigned</th><th scope=\"col\">Evidence</th></tr></thead><tbody>");
    for p in &m.packages {
        let status = package_status(p.status);
        let _ = write!(
            b,
            "<tr><td><a href=\"/packages/{}\">{} {}</a>{}</td><td>{}</td><td class=\"{}\">{}{}</td><td>{}</td><td>{}</td></tr>",
            url(&p.digest),
            esc(&p.name),
            esc(&p.version),
            if p.synthetic { " <span class=\"badge\">synthetic</span>" } else { "" },
            names.link(&p.organisation),
            verdict_class(status),
            status,
            if p.suspect { " (suspect)" } else { "" },
            if p.countersigned { "yes" } else { "no" },
            if p.counts_as_evidence { "counts" } else { "does not count" },
        );
    }
    b.push_str("</tbody></table>");

    temperature_plots(&mut b, &rows);
    if m.material_class == MaterialClass::PermanentMagnet.as_str() {
        demagnetisation_section(&mut b, &m.curves);
    }
    page(&m.designation, &b)
}

/// (temperature °C, value) points per batch.
type PointsByBatch<'a> = BTreeMap<&'a str, Vec<(f64, f64)>>;

/// One plot per property measured at two or more temperatures: every specimen, per batch.
fn temperature_plots(b: &mut String, rows: &[DatasheetRow]) {
    // property → batch → (temperature °C, value)
    let mut by_property: BTreeMap<(usize, &str, &str), PointsByBatch> = BTreeMap::new();
    for r in rows {
        let Some(t) = r.temperature_c else { continue };
        let series = by_property.entry((property_order(&r.property), &r.property, &r.unit)).or_default();
        for (v, batch) in r.values.iter().zip(&r.batches) {
            let batch = batch.split_once('/').map_or(batch.as_str(), |(_, b)| b);
            series.entry(batch).or_default().push((t, *v));
        }
    }
    b.push_str("<h2>Properties against temperature</h2>");
    let mut plotted = 0;
    for ((_, property, unit), batches) in &by_property {
        let temps: BTreeSet<i64> = batches.values().flatten().map(|(t, _)| (*t * 10.0).round() as i64).collect();
        if temps.len() < 2 {
            continue;
        }
        let short = property_short(property);
        let u = unit_label(unit);
        let y_label = if u.is_empty() { short.clone() } else { format!("{short} ({u})") };
        let series: Vec<(String, Vec<(f64, f64)>)> =
            batches.iter().map(|(b, p)| ((*b).to_owned(), p.clone())).collect();
        let title = format!("{} vs temperature", property_label(property));
        let _ = write!(
            b,
            "<figure class=\"plot\">{}<figcaption>{} of every specimen, per batch (marker and colour), against test temperature; the values are in the <a href=\"#datasheet\">datasheet</a> above.</figcaption></figure>",
            charts::property_vs_temperature(&title, &y_label, &series),
            esc(&property_label(property)),
        );
        plotted += 1;
    }
    if plotted == 0 {
        b.push_str("<p>No property of this material's counting evidence was measured at two or more temperatures.</p>");
    }
}

/// One chart per package and curve kind, every test temperature overlaid (one colour and
/// legend entry per temperature; J solid, B dashed).
fn demagnetisation_section(b: &mut String, curves: &[MaterialCurve]) {
    b.push_str("<h2>Demagnetisation curves</h2>");
    if curves.is_empty() {
        b.push_str("<p class=\"note\">None of this material's counting packages carries a demagnetisation curve.</p>");
        return;
    }
    let mut by_package: BTreeMap<(&str, &str, &str), Vec<&MaterialCurve>> = BTreeMap::new();
    for c in curves {
        by_package.entry((&c.package, &c.version, &c.digest)).or_default().push(c);
    }
    for ((package, version, digest), mut group) in by_package {
        group.sort_by(|a, b| a.temperature_c.unwrap_or(0.0).total_cmp(&b.temperature_c.unwrap_or(0.0)));
        let kinds: BTreeSet<&str> = group.iter().map(|c| c.kind.as_str()).collect();
        let has_j = group.iter().any(|c| c.kind != CurveKind::Normal);
        let has_b = group.iter().any(|c| c.kind.has_induction());
        let (quantity, y_label) = match (has_j, has_b) {
            (true, false) => ("J", "Polarisation J (T)"),
            (false, _) => ("B", "Flux density B (T)"),
            (true, true) => ("J and B", "Polarisation J, flux density B (T)"),
        };
        let mut lines = Vec::new();
        for (i, c) in group.iter().enumerate() {
            let at = c.temperature_c.map(|t| format!("{} °C", sig(t, 3))).unwrap_or_else(|| "? °C".into());
            for (k, s) in c.specimens.iter().enumerate() {
                let j_line: Vec<(f64, f64)> = s.points.iter().filter_map(|&(h, j, _)| Some((h, j?))).collect();
                let b_line: Vec<(f64, f64)> = s.points.iter().filter_map(|&(h, _, b)| Some((h, b?))).collect();
                for (points, dashed, symbol) in [(j_line, false, "J"), (b_line, c.kind == CurveKind::Both, "B")] {
                    if points.is_empty() {
                        continue;
                    }
                    let label = (k == 0)
                        .then(|| if c.kind == CurveKind::Both { format!("{symbol} at {at}") } else { at.clone() });
                    lines.push(charts::DemagLine { label, colour: i, dashed, points });
                }
            }
        }
        let temperatures: Vec<String> =
            group.iter().filter_map(|c| c.temperature_c).map(|t| format!("{} °C", sig(t, 3))).collect();
        let specimens: BTreeSet<String> = group
            .iter()
            .flat_map(|c| c.specimens.iter().map(|s| format!("{} (batch {})", s.specimen, s.batch)))
            .collect();
        let title = format!("{quantity} vs H, {package}");
        let _ = write!(
            b,
            "<figure class=\"plot\" data-kind=\"{}\">{}<figcaption>{} demagnetisation curves at {} of {} from package <a href=\"/packages/{}\">{} {}</a>; second quadrant, H in kA/m, {quantity} in T{}{}.</figcaption></figure>",
            esc(&kinds.into_iter().collect::<Vec<_>>().join(" ")),
            charts::demagnetisation(&title, y_label, &lines),
            esc(quantity),
            esc(&temperatures.join(", ")),
            esc(&specimens.into_iter().collect::<Vec<_>>().join(", ")),
            url(digest),
            esc(package),
            esc(version),
            if has_j && has_b { " (J solid, B dashed)" } else { "" },
            if has_b { "; B is drawn down to B = 0" } else { "" },
        );
    }
}

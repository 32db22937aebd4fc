//! HTML pages for people: server-rendered, no JavaScript, one bundled stylesheet. Every string
//! that comes from a package, a request or the database goes through [`esc`]. Rendering only:
//! the data comes from the registry (`http::pages` calls both).

pub mod charts;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::fit::{FitReport, Status};
use crate::package::manifest::CurveKind;
use crate::package::vocabulary::MaterialClass;
use crate::profile::Profile;
use crate::registry::evidence::ProfileSummary;
use crate::registry::materials::{AshbyChart, MaterialCurve, MaterialOverview};
use crate::registry::search::{SearchParams, SearchResults};
use crate::registry::views::{OrganisationDetail, PackageDetail, PackageList};

pub const STYLE: &str = include_str!("style.css");

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a URL path segment or query value (everything but RFC 3986 unreserved).
pub fn url(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn fmt_num(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.4}")
    }
}

/// A whole page around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t} · prequal</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head><body>\
<header><a class=\"brand\" href=\"/\">prequal</a><nav><a href=\"/\">Search</a> <a href=\"/docs/\">API</a></nav></header>\
<main id=\"main\">{body}</main><footer>Qualification data packages: signed by labs, verified by the registry. Figures marked synthetic or illustrative are examples.</footer></body></html>",
        t = esc(title)
    )
}

pub fn error_page(status: u16, message: &str) -> String {
    page(
        "Error",
        &format!(
            "<h1>{status}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"/\">Back to search</a></p>",
            esc(message)
        ),
    )
}

const PROPERTIES: &[(&str, &str)] = &[
    ("", "any"),
    ("intrinsic_coercivity", "HcJ: intrinsic coercivity"),
    ("remanence", "Br: remanence"),
    ("normal_coercivity", "HcB: normal coercivity"),
    ("max_energy_product", "(BH)max: max energy product"),
    ("gravimetric_energy_density", "gravimetric energy density"),
    ("cycle_life", "cycle life"),
];

fn select(name: &str, label: &str, current: Option<&str>, options: &[(&str, &str)]) -> String {
    let mut s = format!("<label for=\"f-{name}\">{label}</label><select id=\"f-{name}\" name=\"{name}\">");
    for (value, text) in options {
        let sel = if current.unwrap_or("") == *value { " selected" } else { "" };
        let _ = write!(s, "<option value=\"{}\"{sel}>{}</option>", esc(value), esc(text));
    }
    s.push_str("</select>");
    s
}

fn input(name: &str, label: &str, current: Option<&str>, hint: &str) -> String {
    format!(
        "<label for=\"f-{name}\">{label}</label><input id=\"f-{name}\" name=\"{name}\" value=\"{}\" placeholder=\"{}\">",
        esc(current.unwrap_or("")),
        esc(hint)
    )
}

fn checkbox(name: &str, label: &str, current: Option<&str>) -> String {
    let checked = if current == Some("true") { " checked" } else { "" };
    format!("<label class=\"check\"><input type=\"checkbox\" name=\"{name}\" value=\"true\"{checked}> {label}</label>")
}

/// The parameters as `(name, value)` pairs, for rebuilding shareable links.
fn pairs(p: &SearchParams) -> Vec<(&'static str, String)> {
    let all: [(&'static str, &Option<String>); 21] = [
        ("q", &p.q),
        ("property", &p.property),
        ("min", &p.min),
        ("max", &p.max),
        ("unit", &p.unit),
        ("temperature", &p.temperature),
        ("temperature_unit", &p.temperature_unit),
        ("tolerance", &p.tolerance),
        ("material_class", &p.material_class),
        ("profile", &p.profile),
        ("fit", &p.fit),
        ("rare_earth_free", &p.rare_earth_free),
        ("cobalt_free", &p.cobalt_free),
        ("max_dy_tb", &p.max_dy_tb),
        ("max_supply_hhi", &p.max_supply_hhi),
        ("country", &p.country),
        ("lab", &p.lab),
        ("countersigned", &p.countersigned),
        ("sort", &p.sort),
        ("page", &p.page),
        ("per_page", &p.per_page),
    ];
    all.into_iter().filter_map(|(k, v)| v.as_ref().filter(|v| !v.is_empty()).map(|v| (k, v.clone()))).collect()
}

/// A search link: the current parameters with `name` set to `value` (and back to page 1).
fn link_with(p: &SearchParams, name: &str, value: &str) -> String {
    let mut q: Vec<String> = pairs(p)
        .into_iter()
        .filter(|(k, _)| *k != name && *k != "page")
        .map(|(k, v)| format!("{k}={}", url(&v)))
        .collect();
    q.push(format!("{name}={}", url(value)));
    format!("/?{}", q.join("&"))
}

/// The search page: the form, facets and hits (or the refusal of a bad parameter).
pub fn search_page(p: &SearchParams, profiles: &[ProfileSummary], results: Result<&SearchResults, &str>) -> String {
    let mut b = String::from("<h1>Find qualified materials</h1>");
    b.push_str(
        "<form method=\"get\" action=\"/\" class=\"search\" role=\"search\"><fieldset><legend>Text and class</legend>",
    );
    b.push_str(&input("q", "Text (designation, producer, package)", p.q.as_deref(), "e.g. N42SH"));
    b.push_str(&select(
        "material_class",
        "Material class",
        p.material_class.as_deref(),
        &[("", "any"), ("permanent_magnet", "permanent magnet"), ("battery_cell", "battery cell")],
    ));
    b.push_str("</fieldset><fieldset><legend>Property at a condition</legend>");
    b.push_str(&select("property", "Property", p.property.as_deref(), PROPERTIES));
    b.push_str(&input("min", "Minimum", p.min.as_deref(), "e.g. 1000"));
    b.push_str(&input("max", "Maximum", p.max.as_deref(), ""));
    b.push_str(&input("unit", "Unit (UCUM)", p.unit.as_deref(), "e.g. kA/m, kOe, T"));
    b.push_str(&input("temperature", "Temperature", p.temperature.as_deref(), "e.g. 150"));
    b.push_str(&input("temperature_unit", "Temperature unit", p.temperature_unit.as_deref(), "Cel"));
    b.push_str(&input("tolerance", "± tolerance", p.tolerance.as_deref(), "5"));
    b.push_str("</fieldset><fieldset><legend>Application fit</legend>");
    let mut options: Vec<(&str, String)> = vec![("", "none".to_owned())];
    options.extend(profiles.iter().map(|pr| (pr.id.as_str(), format!("{} ({})", pr.title, pr.id))));
    let opts: Vec<(&str, &str)> = options.iter().map(|(a, b)| (*a, b.as_str())).collect();
    b.push_str(&select("profile", "Profile", p.profile.as_deref(), &opts));
    b.push_str(&select(
        "fit",
        "Fit",
        p.fit.as_deref(),
        &[("", "show only"), ("met", "every requirement met"), ("partly", "some met, none failed")],
    ));
    b.push_str("</fieldset><fieldset><legend>Critical minerals and origin</legend>");
    b.push_str(&checkbox("rare_earth_free", "rare-earth free", p.rare_earth_free.as_deref()));
    b.push_str(&checkbox("cobalt_free", "cobalt free", p.cobalt_free.as_deref()));
    b.push_str(&checkbox("countersigned", "countersigned only", p.countersigned.as_deref()));
    b.push_str(&input("max_dy_tb", "Max Dy+Tb mass fraction", p.max_dy_tb.as_deref(), "e.g. 0.005"));
    b.push_str(&input("max_supply_hhi", "Max supply concentration (HHI)", p.max_supply_hhi.as_deref(), "0 to 10000"));
    b.push_str(&input("country", "Producer country", p.country.as_deref(), "e.g. DE"));
    b.push_str(&input("lab", "Lab (organisation id)", p.lab.as_deref(), ""));
    b.push_str(&select(
        "sort",
        "Sort by",
        p.sort.as_deref(),
        &[
            ("", "default"),
            ("relevance", "relevance"),
            ("name", "name"),
            ("hhi", "supply concentration"),
            ("value", "property value"),
        ],
    ));
    b.push_str("</fieldset><button type=\"submit\">Search</button></form>");

    let r = match results {
        Err(message) => {
            let _ = write!(b, "<p class=\"error\" role=\"alert\">{}</p>", esc(message));
            return page("Search", &b);
        }
        Ok(r) => r,
    };
    b.push_str("<div class=\"results\"><aside class=\"facets\" aria-label=\"Refine\"><h2>Refine</h2>");
    for (title, name, list) in [
        ("Class", "material_class", &r.facets.material_class),
        ("Producer country", "country", &r.facets.country),
        ("Lab", "lab", &r.facets.lab),
        ("Rare-earth free", "rare_earth_free", &r.facets.rare_earth_free),
    ] {
        let _ = write!(b, "<h3>{title}</h3><ul>");
        for f in list {
            if f.value == "unknown" {
                let _ = write!(b, "<li>unknown ({})</li>", f.count);
            } else {
                let _ = write!(
                    b,
                    "<li><a href=\"{}\">{}</a> ({})</li>",
                    esc(&link_with(p, name, &f.value)),
                    esc(&f.value),
                    f.count
                );
            }
        }
        b.push_str("</ul>");
    }
    let _ = write!(
        b,
        "</aside><section aria-label=\"Results\"><h2>{} material{}</h2>",
        r.total,
        if r.total == 1 { "" } else { "s" }
    );
    b.push_str("<table class=\"hits\"><thead><tr><th scope=\"col\">Material</th><th scope=\"col\">Producer</th><th scope=\"col\">Class</th><th scope=\"col\">Labs</th><th scope=\"col\">Property value</th><th scope=\"col\">Fit</th><th scope=\"col\">Rare-earth free</th><th scope=\"col\">Supply HHI</th></tr></thead><tbody>");
    for h in &r.hits {
        let labs: Vec<String> = h.labs.iter().map(|l| format!("<a href=\"/labs/{}\">{}</a>", url(l), esc(l))).collect();
        let value = h.property.as_ref().map_or(String::from("–"), |m| {
            format!(
                "{} {}{}",
                fmt_num(m.value),
                esc(&m.unit),
                m.temperature_c.map(|t| format!(" at {} °C", fmt_num(t))).unwrap_or_default()
            )
        });
        let fit = h.fit.as_ref().map_or(String::from("–"), |f| {
            format!(
                "<a href=\"/fit/{}/{}\">{} ({}/{} met)</a>",
                url(&f.profile),
                url(&h.id),
                esc(&format!("{:?}", f.verdict).to_lowercase()),
                f.met,
                f.total
            )
        });
        let ref_free = match h.content.rare_earth_free {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        };
        let _ = write!(
            b,
            "<tr><td><a href=\"/materials/{}\">{}</a>{}</td><td>{} ({})</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            url(&h.id),
            esc(&h.designation),
            if h.countersigned { " <span class=\"badge\">countersigned</span>" } else { "" },
            esc(&h.producer),
            esc(&h.producer_country),
            esc(&h.material_class),
            labs.join(", "),
            value,
            fit,
            ref_free,
            h.content.supply_hhi.map(|x| format!("{x:.0}")).unwrap_or_else(|| "–".into()),
        );
    }
    b.push_str("</tbody></table>");
    let pages = r.total.div_ceil(r.per_page.max(1));
    if pages > 1 {
        b.push_str("<nav aria-label=\"Pages\" class=\"pages\">");
        for n in 1..=pages {
            if n == r.page {
                let _ = write!(b, "<span aria-current=\"page\">{n}</span> ");
            } else {
                let _ = write!(b, "<a href=\"{}\">{n}</a> ", esc(&link_with(p, "page", &n.to_string())));
            }
        }
        b.push_str("</nav>");
    }
    let _ = write!(
        b,
        "<p class=\"note\">Supply concentration: {} (approximate).</p></section></div>",
        esc(&r.supply_source)
    );
    page("Search", &b)
}

fn status_class(s: &str) -> &'static str {
    match s {
        "active" | "met" | "qualified" => "ok",
        "withdrawn" | "not_met" | "not_qualified" => "bad",
        _ => "warn",
    }
}

/// (temperature °C, value) points per batch.
type PointsByBatch = BTreeMap<String, Vec<(f64, f64)>>;

pub fn material_page(m: &MaterialOverview, profiles: &[ProfileSummary]) -> String {
    let mut b = format!(
        "<h1>{}</h1><p>{} · producer country {} · {}</p>",
        esc(&m.designation),
        esc(&m.producer),
        esc(&m.producer_country),
        esc(&m.material_class)
    );
    b.push_str("<h2>Critical content and supply</h2>");
    let c = &m.content;
    let yn = |x: Option<bool>| match x {
        Some(true) => "yes",
        Some(false) => "no",
        None => "unknown",
    };
    let _ = write!(
        b,
        "<p>Rare-earth free: {} · cobalt free: {} · Dy+Tb: {} · supply-concentration index: {}</p>",
        yn(c.rare_earth_free),
        yn(c.cobalt_free),
        c.dy_tb_mass_fraction.map(fmt_num).unwrap_or_else(|| "unknown".into()),
        c.supply_hhi.map(|x| format!("{x:.0}")).unwrap_or_else(|| "unknown".into())
    );
    if !c.critical_elements.is_empty() {
        b.push_str("<table><thead><tr><th scope=\"col\">Element</th><th scope=\"col\">Mass fraction</th><th scope=\"col\">HHI</th><th scope=\"col\">Largest producer</th><th scope=\"col\">Source</th></tr></thead><tbody>");
        for e in &c.critical_elements {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{:.0}</td><td>{} ({:.0} %)</td><td>{}</td></tr>",
                esc(&e.element),
                fmt_num(e.mass_fraction),
                e.hhi,
                esc(&e.top_country),
                e.top_share * 100.0,
                esc(&e.citation)
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("<h2>Packages</h2><table><thead><tr><th scope=\"col\">Package</th><th scope=\"col\">Lab</th><th scope=\"col\">Status</th><th scope=\"col\">Countersigned</th><th scope=\"col\">Evidence</th></tr></thead><tbody>");
    for p in &m.packages {
        let status = format!("{:?}", p.status).to_lowercase();
        let _ = write!(
            b,
            "<tr><td><a href=\"/packages/{}\">{} {}</a>{}</td><td><a href=\"/labs/{}\">{}</a></td><td class=\"{}\">{}{}</td><td>{}</td><td>{}</td></tr>",
            url(&p.digest),
            esc(&p.name),
            esc(&p.version),
            if p.synthetic { " <span class=\"badge\">synthetic</span>" } else { "" },
            url(&p.organisation),
            esc(&p.organisation),
            status_class(&status),
            status,
            if p.suspect { " (suspect)" } else { "" },
            if p.countersigned { "yes" } else { "no" },
            if p.counts_as_evidence { "counts" } else { "does not count" },
        );
    }
    b.push_str("</tbody></table>");
    let fits: Vec<String> = profiles
        .iter()
        .filter(|p| p.material_class == m.material_class)
        .map(|p| format!("<li><a href=\"/fit/{}/{}\">{}</a></li>", url(&p.id), url(&m.id), esc(&p.title)))
        .collect();
    if !fits.is_empty() {
        let _ = write!(b, "<h2>Fit reports</h2><ul>{}</ul>", fits.join(""));
    }

    // Property against temperature: one plot per property measured at two or more temperatures.
    let mut by_property: BTreeMap<(String, String), PointsByBatch> = BTreeMap::new();
    for d in m.evidence.iter().flat_map(|e| &e.datasets) {
        for r in &d.rows {
            if let Some((t, _)) = r.conditions.get("temperature") {
                by_property
                    .entry((d.property.clone(), d.unit.clone()))
                    .or_default()
                    .entry(r.batch.to_string())
                    .or_default()
                    .push((*t, r.value));
            }
        }
    }
    b.push_str("<h2>Properties against temperature</h2>");
    let mut plotted = 0;
    for ((property, unit), batches) in &by_property {
        let temps: std::collections::BTreeSet<i64> =
            batches.values().flatten().map(|(t, _)| (*t * 10.0).round() as i64).collect();
        if temps.len() < 2 {
            continue;
        }
        let symbol = crate::registry::search::find_property(property).map_or(property.as_str(), |p| p.symbol);
        let series: Vec<(String, Vec<(f64, f64)>)> = batches.iter().map(|(b, p)| (b.clone(), p.clone())).collect();
        let _ = write!(
            b,
            "<figure class=\"plot\" aria-label=\"{} against temperature\">{}<figcaption>{} ({}) of every specimen, per batch, against test temperature.</figcaption></figure>",
            esc(property),
            charts::property_vs_temperature(
                &format!("{symbol} vs temperature"),
                &format!("{symbol} ({unit})"),
                &series
            ),
            esc(property),
            esc(unit)
        );
        plotted += 1;
    }
    if plotted == 0 {
        b.push_str("<p>No property of this material's counting evidence was measured at two or more temperatures.</p>");
    }
    if m.material_class == MaterialClass::PermanentMagnet.as_str() {
        demagnetisation_section(&mut b, &m.curves);
    }
    page(&m.designation, &b)
}

/// One chart per curve (a package's specimens at one temperature): J solid, B dashed, one colour
/// per specimen; the caption names the package and the curve it came from.
fn demagnetisation_section(b: &mut String, curves: &[MaterialCurve]) {
    b.push_str("<h2>Demagnetisation curves</h2>");
    if curves.is_empty() {
        b.push_str("<p class=\"note\">None of this material's counting packages carries a demagnetisation curve.</p>");
        return;
    }
    for c in curves {
        let (quantity, y_label) = match c.kind {
            CurveKind::Intrinsic => ("J", "Polarisation J (T)"),
            CurveKind::Normal => ("B", "Flux density B (T)"),
            CurveKind::Both => ("J and B", "Polarisation J, flux density B (T)"),
        };
        // Test temperatures are whole degrees or close: no trailing zeros.
        let at = c
            .temperature_c
            .map(|t| if (t - t.round()).abs() < 0.05 { format!(" at {t:.0} °C") } else { format!(" at {t:.1} °C") })
            .unwrap_or_default();
        let mut lines = Vec::new();
        for (i, s) in c.specimens.iter().enumerate() {
            let j_line: Vec<(f64, f64)> = s.points.iter().filter_map(|&(h, j, _)| Some((h, j?))).collect();
            let b_line: Vec<(f64, f64)> = s.points.iter().filter_map(|&(h, _, b)| Some((h, b?))).collect();
            for (points, dashed, symbol) in [(j_line, false, "J"), (b_line, c.kind == CurveKind::Both, "B")] {
                if !points.is_empty() {
                    lines.push(charts::DemagLine {
                        label: format!("{} {symbol}", s.specimen),
                        colour: i,
                        dashed,
                        points,
                    });
                }
            }
        }
        let specimens: Vec<String> =
            c.specimens.iter().map(|s| format!("{} (batch {})", s.specimen, s.batch)).collect();
        let _ = write!(
            b,
            "<figure class=\"plot\" aria-label=\"{quantity} against H{}: curve {} of {} {}\">{}<figcaption>{} demagnetisation curves{} of {} from package <a href=\"/packages/{}\">{} {}</a>, curve <code>{}</code>{}; second quadrant, H in kA/m, {quantity} in T{}.{}</figcaption></figure>",
            esc(&at),
            esc(&c.id),
            esc(&c.package),
            esc(&c.version),
            charts::demagnetisation(&format!("{quantity} vs H{at}"), y_label, &lines),
            esc(c.kind.as_str()),
            esc(&at),
            esc(&specimens.join(", ")),
            url(&c.digest),
            esc(&c.package),
            esc(&c.version),
            esc(&c.id),
            if c.kind == CurveKind::Both { " (J solid, B dashed)" } else { "" },
            if c.kind.has_induction() { "; B is drawn down to B = 0" } else { "" },
            c.description.as_deref().map(|d| format!(" The lab's description: {}", esc(d))).unwrap_or_default(),
        );
    }
}

pub fn package_page(d: &PackageDetail) -> String {
    let s = &d.summary;
    let mut b = format!(
        "<h1>{} {}</h1><p>{}</p><p>Material <strong>{}</strong> ({}) · lab <a href=\"/labs/{}\">{}</a> · releasability {} · status <span class=\"{}\">{}</span>{}</p>",
        esc(&s.name),
        esc(&s.version),
        esc(&s.title),
        esc(&s.designation),
        esc(&s.material_class),
        url(&s.organisation),
        esc(&s.organisation),
        esc(&s.releasability),
        status_class(&format!("{:?}", s.status).to_lowercase()),
        format!("{:?}", s.status).to_lowercase(),
        if s.synthetic { " · <span class=\"badge\">synthetic data</span>" } else { "" },
    );
    let _ = write!(b, "<p>Digest <code>{}</code></p>", esc(&s.digest));
    if let Some(w) = &s.withdrawn {
        let _ = write!(b, "<p class=\"error\">Withdrawn {}: {}</p>", esc(&w.at), esc(&w.reason));
    }
    for r in &s.suspect_reasons {
        let _ = write!(b, "<p class=\"error\">Suspect: {}</p>", esc(r));
    }
    b.push_str("<h2>Signatures</h2><table><thead><tr><th scope=\"col\">Kind</th><th scope=\"col\">Organisation</th><th scope=\"col\">Key</th><th scope=\"col\">Key status</th><th scope=\"col\">Added</th><th scope=\"col\">Source</th></tr></thead><tbody>");
    for sig in &d.signatures {
        let _ = write!(
            b,
            "<tr><td>{}</td><td><a href=\"/labs/{}\">{}</a></td><td><code>{}</code></td><td class=\"{}\">{}{}</td><td>{}</td><td>{}</td></tr>",
            esc(&sig.kind),
            url(&sig.organisation),
            esc(&sig.organisation),
            esc(&sig.key_id),
            if sig.key_status == "active" { "ok" } else { "bad" },
            esc(&sig.key_status),
            if sig.key_compromised { " (compromised)" } else { "" },
            esc(&sig.added_at),
            esc(&sig.source)
        );
    }
    b.push_str("</tbody></table><h2>Verification</h2>");
    let v = &d.verification;
    let _ = write!(
        b,
        "<p>Result: <strong>{}</strong> at {} by {}</p><ul>",
        esc(v["result"].as_str().unwrap_or("")),
        esc(v["verified_at"].as_str().unwrap_or("")),
        esc(v["verifier"].as_str().unwrap_or(""))
    );
    for check in v["checks"].as_array().into_iter().flatten() {
        let _ = write!(b, "<li>{}</li>", esc(check.as_str().unwrap_or("")));
    }
    let _ = write!(
        b,
        "</ul><p><a href=\"{}\">Download the package</a> ({} bytes, SHA-256 <code>{}</code>)</p>",
        esc(&d.download_url),
        s.size_bytes,
        esc(&d.file_sha256)
    );
    b.push_str("<h2>Datasets</h2><table><thead><tr><th scope=\"col\">Dataset</th><th scope=\"col\">Property</th><th scope=\"col\">Specimens</th><th scope=\"col\">Batches</th><th scope=\"col\">Mean</th><th scope=\"col\">Range</th></tr></thead><tbody>");
    for ds in &d.datasets {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td><td>{} – {}</td></tr>",
            esc(&ds.id),
            esc(&ds.property),
            ds.specimens,
            ds.batches,
            fmt_num(ds.mean),
            esc(&ds.unit),
            fmt_num(ds.min),
            fmt_num(ds.max)
        );
    }
    b.push_str("</tbody></table>");
    let curves: Vec<crate::package::manifest::Curve> =
        d.manifest.get("curves").and_then(|c| serde_json::from_value(c.clone()).ok()).unwrap_or_default();
    if !curves.is_empty() {
        b.push_str("<h2>Demagnetisation curves</h2><p>Plotted on the material's page.</p><table><thead><tr><th scope=\"col\">Curve</th><th scope=\"col\">Kind</th><th scope=\"col\">Temperature</th><th scope=\"col\">Units</th><th scope=\"col\">File</th><th scope=\"col\">Description</th></tr></thead><tbody>");
        for c in &curves {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>H in {}, J/B in {}</td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&c.id),
                esc(c.kind.as_str()),
                fmt_num(c.temperature.value),
                esc(&c.temperature.unit),
                esc(&c.field_unit),
                esc(&c.flux_density_unit),
                esc(&c.file),
                esc(c.description.as_deref().unwrap_or(""))
            );
        }
        b.push_str("</tbody></table>");
    }
    page(&format!("{} {}", s.name, s.version), &b)
}

pub fn fit_page(report: &FitReport, profile: &Profile, chart: Option<&AshbyChart>) -> String {
    let verdict = format!("{:?}", report.verdict).to_lowercase();
    let mut b = format!(
        "<h1>{} for {}</h1><p><a href=\"/materials/{}\">{}</a> · {}{}</p><p>Verdict: <strong class=\"{}\" id=\"verdict\">{}</strong>. {}</p>",
        esc(&report.material.designation),
        esc(&profile.title),
        url(&report.material.id),
        esc(&report.material.designation),
        esc(&profile.application),
        if profile.illustrative { " · <span class=\"badge\">illustrative profile</span>" } else { "" },
        status_class(&verdict),
        verdict.replace('_', " "),
        esc(&report.summary)
    );
    b.push_str("<h2>Requirements</h2><table id=\"requirements\"><thead><tr><th scope=\"col\">Requirement</th><th scope=\"col\">Property</th><th scope=\"col\">Condition</th><th scope=\"col\">Basis</th><th scope=\"col\">Threshold</th><th scope=\"col\">Value</th><th scope=\"col\">Margin</th><th scope=\"col\">Status</th></tr></thead><tbody>");
    for r in &report.requirements {
        let status = match r.status {
            Status::Met => "met",
            Status::NotMet => "not_met",
            Status::InsufficientEvidence => "insufficient_evidence",
            Status::NotTested => "not_tested",
        };
        let threshold = match r.threshold_high {
            Some(hi) => format!("{} – {}", fmt_num(r.threshold), fmt_num(hi)),
            None => fmt_num(r.threshold),
        };
        let _ = write!(
            b,
            "<tr data-requirement=\"{}\" data-status=\"{status}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} {} {}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(&r.id),
            esc(&r.id),
            esc(&r.property),
            esc(&r.condition),
            esc(serde_json::to_value(r.basis)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
                .as_str()),
            match r.comparator {
                crate::profile::Comparator::AtLeast => "≥",
                crate::profile::Comparator::AtMost => "≤",
                crate::profile::Comparator::Between => "",
            },
            threshold,
            esc(&r.unit),
            r.value.map(fmt_num).unwrap_or_else(|| "–".into()),
            match (r.margin, r.margin_percent) {
                (Some(m), Some(p)) => format!("{} ({p:+.1} %)", fmt_num(m)),
                (Some(m), None) => fmt_num(m),
                _ => "–".into(),
            },
            status_class(status),
            r.status.label()
        );
    }
    b.push_str("</tbody></table><h2>Remaining test plan</h2>");
    if report.remaining_tests.is_empty() {
        b.push_str("<p>No test remains.</p>");
    } else {
        b.push_str("<table id=\"remaining\"><thead><tr><th scope=\"col\">Requirement</th><th scope=\"col\">Property</th><th scope=\"col\">Condition</th><th scope=\"col\">Standards</th><th scope=\"col\">Specimens</th><th scope=\"col\">Batches</th><th scope=\"col\">Why</th></tr></thead><tbody>");
        for t in &report.remaining_tests {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&t.requirement),
                esc(&t.property),
                esc(&t.condition),
                esc(&t.standards.join(", ")),
                t.specimens_needed,
                t.batches_needed,
                esc(&t.reason)
            );
        }
        b.push_str("</tbody></table>");
    }
    let _ = write!(
        b,
        "<p>Prior testing reused: {} specimens from {} datasets; labs: {}.</p>",
        report.reuse.specimens_reused,
        report.reuse.datasets_reused,
        esc(&report.reuse.labs.join(", "))
    );
    if let Some(c) = chart {
        let points: Vec<(String, f64, f64)> = c.points.iter().map(|p| (p.designation.clone(), p.hcj, p.br)).collect();
        let _ = write!(
            b,
            "<h2>Candidates at {} °C</h2><figure class=\"plot\" id=\"ashby\" aria-label=\"Remanence against intrinsic coercivity\">{}<figcaption>Mean Br against mean HcJ of each magnet's counting evidence within the profile's temperature window; the shaded region meets the profile's minimums ({} kA/m, {} T).</figcaption></figure>",
            fmt_num(c.temperature_c),
            charts::ashby(
                &format!("Br vs HcJ at {} °C", fmt_num(c.temperature_c)),
                &points,
                c.hcj_min,
                c.br_min,
                &report.material.designation
            ),
            c.hcj_min.map(fmt_num).unwrap_or_else(|| "–".into()),
            c.br_min.map(fmt_num).unwrap_or_else(|| "–".into()),
        );
    }
    page(&format!("{} – {}", report.material.designation, profile.title), &b)
}

pub fn lab_page(org: &OrganisationDetail, packages: &PackageList) -> String {
    let o = &org.organisation;
    let mut b = format!(
        "<h1>{}</h1><p>{} · {:?} · {} · registered {}</p><h2>Signing keys</h2><table><thead><tr><th scope=\"col\">Key</th><th scope=\"col\">Status</th><th scope=\"col\">Added</th></tr></thead><tbody>",
        esc(&o.name),
        esc(&o.id),
        o.kind,
        esc(&o.country),
        esc(&o.created_at)
    );
    for k in &org.keys {
        let _ = write!(
            b,
            "<tr><td><code>{}</code></td><td class=\"{}\">{}{}</td><td>{}</td></tr>",
            esc(&k.key_id),
            if k.status == "active" { "ok" } else { "bad" },
            esc(&k.status),
            if k.compromised { " (compromised)" } else { "" },
            esc(&k.added_at)
        );
    }
    let _ = write!(b, "</tbody></table><h2>Packages ({})</h2><ul>", packages.total);
    for p in &packages.packages {
        let _ = write!(
            b,
            "<li><a href=\"/packages/{}\">{} {}</a>: {}</li>",
            url(&p.digest),
            esc(&p.name),
            esc(&p.version),
            esc(&p.designation)
        );
    }
    b.push_str("</ul>");
    page(&o.name, &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(esc("<img src=x onerror=\"a('b')\">&"), "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;");
        assert_eq!(url("a b/ü&x"), "a%20b%2F%C3%BC%26x");
    }
}

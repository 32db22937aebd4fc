//! The search page: the form (a refused parameter is shown at its field), the hits with their
//! units and the statistic they show, and, when nothing matches, which filter to relax.

use std::fmt::Write as _;

use super::{Names, esc, page, url};
use crate::display::{class_label, property_label, quantity, sig, unit_label, verdict_code, verdict_label};
use crate::package::vocabulary::{MaterialClass, PROPERTIES};
use crate::registry::evidence::ProfileSummary;
use crate::registry::search::{SearchParams, SearchResults};

/// A parameter the search refused, and why (shown at the field it belongs to).
#[derive(Debug, Clone, PartialEq)]
pub struct FormError {
    /// The query parameter, when the refusal names one.
    pub parameter: Option<String>,
    pub message: String,
}

impl FormError {
    /// Reads the parameter out of the registry's refusal `parameter 'min': 'x' is not a number`.
    pub fn from_message(message: &str) -> FormError {
        let named = message
            .strip_prefix("parameter '")
            .and_then(|rest| rest.split_once("': "))
            .map(|(name, why)| (name.to_owned(), why.to_owned()));
        match named {
            Some((name, why)) => FormError { parameter: Some(name), message: why },
            None => FormError { parameter: None, message: message.to_owned() },
        }
    }
}

/// What a zero-result search would find without one of its filters.
#[derive(Debug, Clone, PartialEq)]
pub struct Relaxation {
    /// The filter's parameters (a property range drops its bounds together).
    pub dropped: Vec<&'static str>,
    /// In words: "the temperature window".
    pub label: &'static str,
    pub total: usize,
}

/// The filters a zero-result page offers to drop, in the order people loosen them.
pub const RELAXABLE: &[(&[&str], &str)] = &[
    (&["temperature", "temperature_unit", "tolerance"], "the temperature"),
    (&["min", "max"], "the value range"),
    (&["fit"], "the fit filter"),
    (&["rare_earth_free"], "rare-earth free"),
    (&["cobalt_free"], "cobalt free"),
    (&["max_dy_tb"], "the Dy+Tb limit"),
    (&["max_supply_hhi"], "the supply-concentration limit"),
    (&["country"], "the producer country"),
    (&["lab"], "the lab"),
    (&["countersigned"], "countersigned only"),
    (&["material_class"], "the material class"),
    (&["q"], "the text"),
    (&["property", "min", "max", "unit", "temperature", "temperature_unit", "tolerance"], "the property"),
];

/// The parameters as `(name, value)` pairs, for rebuilding shareable links.
pub fn pairs(p: &SearchParams) -> Vec<(&'static str, String)> {
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
    all.into_iter().filter_map(|(k, v)| v.as_ref().filter(|v| !v.trim().is_empty()).map(|v| (k, v.clone()))).collect()
}

/// The same search without the named parameters.
pub fn without(p: &SearchParams, names: &[&str]) -> SearchParams {
    let mut q = p.clone();
    for name in names {
        let field = match *name {
            "q" => &mut q.q,
            "property" => &mut q.property,
            "min" => &mut q.min,
            "max" => &mut q.max,
            "unit" => &mut q.unit,
            "temperature" => &mut q.temperature,
            "temperature_unit" => &mut q.temperature_unit,
            "tolerance" => &mut q.tolerance,
            "material_class" => &mut q.material_class,
            "profile" => &mut q.profile,
            "fit" => &mut q.fit,
            "rare_earth_free" => &mut q.rare_earth_free,
            "cobalt_free" => &mut q.cobalt_free,
            "max_dy_tb" => &mut q.max_dy_tb,
            "max_supply_hhi" => &mut q.max_supply_hhi,
            "country" => &mut q.country,
            "lab" => &mut q.lab,
            "countersigned" => &mut q.countersigned,
            "sort" => &mut q.sort,
            "page" => &mut q.page,
            _ => &mut q.per_page,
        };
        *field = None;
    }
    q
}

fn query_link(pairs: impl IntoIterator<Item = (&'static str, String)>) -> String {
    let q: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={}", url(&v))).collect();
    format!("/?{}", q.join("&"))
}

/// A search link: the current parameters with `name` set to `value` (and back to page 1).
fn link_with(p: &SearchParams, name: &str, value: &str) -> String {
    let mut q: Vec<(&'static str, String)> = pairs(p).into_iter().filter(|(k, _)| *k != name && *k != "page").collect();
    q.push((static_name(name), value.to_owned()));
    query_link(q)
}

fn static_name(name: &str) -> &'static str {
    const NAMES: [&str; 21] = [
        "q",
        "property",
        "min",
        "max",
        "unit",
        "temperature",
        "temperature_unit",
        "tolerance",
        "material_class",
        "profile",
        "fit",
        "rare_earth_free",
        "cobalt_free",
        "max_dy_tb",
        "max_supply_hhi",
        "country",
        "lab",
        "countersigned",
        "sort",
        "page",
        "per_page",
    ];
    NAMES.iter().find(|n| **n == name).copied().unwrap_or("q")
}

/// Attributes and message of a field the refusal names.
struct Field<'a> {
    error: Option<&'a FormError>,
}

impl Field<'_> {
    fn invalid(&self, name: &str) -> Option<&str> {
        self.error.filter(|e| e.parameter.as_deref() == Some(name)).map(|e| e.message.as_str())
    }

    fn attrs(&self, name: &str) -> String {
        match self.invalid(name) {
            Some(_) => format!(" aria-invalid=\"true\" aria-describedby=\"e-{name}\""),
            None => String::new(),
        }
    }

    fn message(&self, name: &str) -> String {
        match self.invalid(name) {
            Some(m) => format!("<p class=\"field-error\" id=\"e-{name}\">{}</p>", esc(m)),
            None => String::new(),
        }
    }

    fn select(&self, name: &str, label: &str, current: Option<&str>, options: &[(&str, &str)]) -> String {
        let mut s = format!(
            "<div class=\"field\"><label for=\"f-{name}\">{label}</label><select id=\"f-{name}\" name=\"{name}\"{}>",
            self.attrs(name)
        );
        for (value, text) in options {
            let sel = if current.unwrap_or("") == *value { " selected" } else { "" };
            let _ = write!(s, "<option value=\"{}\"{sel}>{}</option>", esc(value), esc(text));
        }
        s.push_str("</select>");
        s.push_str(&self.message(name));
        s.push_str("</div>");
        s
    }

    fn input(&self, name: &str, label: &str, current: Option<&str>, hint: &str) -> String {
        format!(
            "<div class=\"field\"><label for=\"f-{name}\">{label}</label><input id=\"f-{name}\" name=\"{name}\" value=\"{}\" placeholder=\"{}\"{}>{}</div>",
            esc(current.unwrap_or("")),
            esc(hint),
            self.attrs(name),
            self.message(name)
        )
    }

    fn checkbox(&self, name: &str, label: &str, current: Option<&str>) -> String {
        let checked = if current == Some("true") { " checked" } else { "" };
        format!(
            "<label class=\"check\"><input type=\"checkbox\" name=\"{name}\" value=\"true\"{checked}{}> {label}</label>{}",
            self.attrs(name),
            self.message(name)
        )
    }
}

fn property_select(field: &Field, current: Option<&str>) -> String {
    let name = "property";
    let mut s = format!(
        "<div class=\"field\"><label for=\"f-{name}\">Property</label><select id=\"f-{name}\" name=\"{name}\"{}><option value=\"\">any</option>",
        field.attrs(name)
    );
    // A symbol in the link (`property=HcJ`) selects its property too.
    let current = current.and_then(crate::registry::search::find_property).map(|p| p.name);
    for (class, group) in
        [(MaterialClass::PermanentMagnet, "Permanent magnets"), (MaterialClass::BatteryCell, "Battery cells")]
    {
        let _ = write!(s, "<optgroup label=\"{group}\">");
        for p in PROPERTIES.iter().filter(|p| p.class == class) {
            let sel = if current == Some(p.name) { " selected" } else { "" };
            let _ = write!(s, "<option value=\"{}\"{sel}>{}</option>", p.name, esc(&property_label(p.name)));
        }
        s.push_str("</optgroup>");
    }
    s.push_str("</select>");
    s.push_str(&field.message(name));
    s.push_str("</div>");
    s
}

/// The search page: the form, facets and hits, or the form with the refusal at its field.
pub fn search_page(
    p: &SearchParams,
    profiles: &[ProfileSummary],
    names: &Names,
    results: Result<(&SearchResults, &[Relaxation]), &FormError>,
) -> String {
    let error = results.as_ref().err().copied();
    let f = Field { error };
    let mut b = String::from("<h1>Find qualified materials</h1>");
    if let Some(e) = error {
        match &e.parameter {
            Some(name) => {
                let _ = write!(
                    b,
                    "<p class=\"error\" role=\"alert\">Please correct <a href=\"#f-{}\">{}</a>: {}</p>",
                    esc(name),
                    esc(name),
                    esc(&e.message)
                );
            }
            None => {
                let _ = write!(b, "<p class=\"error\" role=\"alert\">{}</p>", esc(&e.message));
            }
        }
    }
    b.push_str(
        "<form method=\"get\" action=\"/\" class=\"search\" role=\"search\"><fieldset><legend>Text and class</legend>",
    );
    b.push_str(&f.input("q", "Text (designation, producer, package)", p.q.as_deref(), "e.g. N42SH"));
    b.push_str(&f.select(
        "material_class",
        "Material class",
        p.material_class.as_deref(),
        &[("", "any"), ("permanent_magnet", "Permanent magnet"), ("battery_cell", "Battery cell")],
    ));
    b.push_str("</fieldset><fieldset class=\"property\"><legend>Property at a condition</legend>");
    b.push_str(&property_select(&f, p.property.as_deref()));
    b.push_str("<div class=\"pair\">");
    b.push_str(&f.input("min", "Minimum", p.min.as_deref(), "e.g. 1000"));
    b.push_str(&f.input("max", "Maximum", p.max.as_deref(), ""));
    b.push_str("</div><div class=\"pair\">");
    b.push_str(&f.input("unit", "Unit", p.unit.as_deref(), "kA/m, kOe, T …"));
    b.push_str(&f.input("temperature", "Temperature", p.temperature.as_deref(), "e.g. 150"));
    b.push_str("</div><div class=\"pair\">");
    b.push_str(&f.select(
        "temperature_unit",
        "Temperature unit",
        p.temperature_unit.as_deref(),
        &[("", "°C"), ("K", "K"), ("[degF]", "°F")],
    ));
    b.push_str(&f.input("tolerance", "± tolerance", p.tolerance.as_deref(), "5"));
    b.push_str("</div></fieldset>");
    // The less used filters fold away unless one of them is set, so results follow the form
    // closely on a phone.
    let more = [
        "profile",
        "fit",
        "rare_earth_free",
        "cobalt_free",
        "countersigned",
        "max_dy_tb",
        "max_supply_hhi",
        "country",
        "lab",
        "sort",
    ];
    let set: Vec<&str> = pairs(p).into_iter().map(|(k, _)| k).collect();
    // Folded even when set (the summary names what is set), so results stay near the top on a
    // phone; open when a refusal points into it.
    let open = more.iter().any(|m| error.and_then(|e| e.parameter.as_deref()) == Some(*m));
    let in_use: Vec<&str> = more.iter().copied().filter(|m| set.contains(m)).collect();
    let _ = write!(
        b,
        "<details class=\"more\"{}><summary>Application fit, critical minerals, origin, sorting{}</summary><div class=\"more-grid\"><fieldset><legend>Application fit</legend>",
        if open { " open" } else { "" },
        if in_use.is_empty() {
            String::new()
        } else {
            format!(" <span class=\"note\">(set: {})</span>", esc(&in_use.join(", ").replace('_', " ")))
        }
    );
    let mut options: Vec<(&str, String)> = vec![("", "none".to_owned())];
    options.extend(profiles.iter().map(|pr| (pr.id.as_str(), pr.title.clone())));
    let opts: Vec<(&str, &str)> = options.iter().map(|(a, b)| (*a, b.as_str())).collect();
    b.push_str(&f.select("profile", "Profile", p.profile.as_deref(), &opts));
    b.push_str(&f.select(
        "fit",
        "Fit",
        p.fit.as_deref(),
        &[("", "show only"), ("met", "every requirement met"), ("partly", "some met, none failed")],
    ));
    b.push_str("</fieldset><fieldset><legend>Critical minerals and origin</legend>");
    b.push_str(&f.checkbox("rare_earth_free", "rare-earth free", p.rare_earth_free.as_deref()));
    b.push_str(&f.checkbox("cobalt_free", "cobalt free", p.cobalt_free.as_deref()));
    b.push_str(&f.checkbox("countersigned", "countersigned only", p.countersigned.as_deref()));
    b.push_str(&f.input("max_dy_tb", "Max Dy+Tb mass fraction", p.max_dy_tb.as_deref(), "e.g. 0.005"));
    b.push_str(&f.input("max_supply_hhi", "Max supply concentration (HHI)", p.max_supply_hhi.as_deref(), "0 to 10000"));
    b.push_str(&f.input("country", "Producer country", p.country.as_deref(), "e.g. DE"));
    let mut labs: Vec<(&str, &str)> = vec![("", "any")];
    labs.extend(names.labs());
    if let Some(current) = p.lab.as_deref().filter(|l| !l.is_empty() && !labs.iter().any(|(id, _)| id == l)) {
        labs.push((current, current));
    }
    b.push_str(&f.select("lab", "Lab", p.lab.as_deref(), &labs));
    b.push_str(&f.select(
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
    b.push_str("</fieldset></div></details><button type=\"submit\">Search</button></form>");

    let (r, relax) = match results {
        Err(_) => return page("Search", &b),
        Ok(r) => r,
    };
    b.push_str("<div class=\"results\"><section aria-labelledby=\"results-title\">");
    let _ = write!(b, "<h2 id=\"results-title\">{} material{}</h2>", r.total, if r.total == 1 { "" } else { "s" });
    if r.total == 0 {
        zero_results(&mut b, p, relax);
    } else {
        hits_table(&mut b, p, r, names);
    }
    let _ = write!(
        b,
        "<p class=\"note\">Supply concentration: Herfindahl–Hirschman index of producing-country shares, {} (approximate).</p></section>",
        esc(&r.supply_source)
    );
    if r.total > 0 {
        facets(&mut b, p, r, names);
    }
    b.push_str("</div>");
    page("Search", &b)
}

fn zero_results(b: &mut String, p: &SearchParams, relax: &[Relaxation]) {
    b.push_str("<div class=\"empty\" id=\"no-results\"><p>No material matches every filter.</p>");
    let helpful: Vec<&Relaxation> = relax.iter().filter(|r| r.total > 0).collect();
    if helpful.is_empty() {
        b.push_str("<p>Dropping any single filter finds nothing either; <a href=\"/\">start a new search</a>.</p>");
    } else {
        b.push_str("<p>Relax a filter:</p><ul>");
        for r in helpful {
            let kept: Vec<(&'static str, String)> =
                pairs(p).into_iter().filter(|(k, _)| !r.dropped.contains(k) && *k != "page").collect();
            let _ = write!(
                b,
                "<li><a href=\"{}\">without {}</a>: {} material{}</li>",
                esc(&query_link(kept)),
                esc(r.label),
                r.total,
                if r.total == 1 { "" } else { "s" }
            );
        }
        b.push_str("</ul>");
    }
    b.push_str("</div>");
}

fn hits_table(b: &mut String, p: &SearchParams, r: &SearchResults, names: &Names) {
    let property_header = match r.hits.iter().find_map(|h| h.property.as_ref()) {
        Some(m) => format!("{} (mean of specimens)", esc(&property_label(&m.property))),
        None => "Property (mean of specimens)".to_owned(),
    };
    let _ = write!(
        b,
        "<table class=\"hits\"><thead><tr><th scope=\"col\">Material</th><th scope=\"col\">Producer</th><th scope=\"col\">Class</th><th scope=\"col\">Labs</th><th scope=\"col\">{property_header}</th><th scope=\"col\">Fit</th><th scope=\"col\">Rare-earth free</th><th scope=\"col\">Supply HHI</th></tr></thead><tbody>"
    );
    for h in &r.hits {
        let labs: Vec<String> =
            h.labs.iter().map(|l| format!("<a href=\"/labs/{}\">{}</a>", url(l), esc(names.org(l)))).collect();
        let value = h.property.as_ref().map_or(String::from("–"), |m| {
            format!(
                "<span class=\"num\">{}</span>{} <span class=\"note\">mean, n = {}, {} batch{}</span>",
                esc(&quantity(m.value, &m.unit, 4)),
                m.temperature_c.map(|t| format!(" at {} °C", sig(t, 4))).unwrap_or_default(),
                m.measurements,
                m.batches,
                if m.batches == 1 { "" } else { "es" }
            )
        });
        let fit = h.fit.as_ref().map_or(String::from("–"), |f| {
            format!(
                "<a href=\"/fit/{}/{}?version={}\" class=\"{}\">{}</a> ({}/{} met)",
                url(&f.profile),
                url(&h.id),
                url(&f.profile_version),
                super::verdict_class(verdict_code(f.verdict)),
                verdict_label(f.verdict),
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
            esc(&class_label(&h.material_class)),
            labs.join(", "),
            value,
            fit,
            ref_free,
            h.content.supply_hhi.map(|x| sig(x, 3)).unwrap_or_else(|| "–".into()),
        );
    }
    b.push_str("</tbody></table>");
    if let Some(m) = r.hits.iter().find_map(|h| h.property.as_ref()) {
        let _ = write!(
            b,
            "<p class=\"note\">Values are the mean of the specimens in the temperature window, in {}; fit reports compare the basis a requirement asks for (e.g. <a href=\"/glossary#b-basis\">B-basis</a>), which is lower.</p>",
            esc(unit_label(&m.unit))
        );
    }
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
}

fn facets(b: &mut String, p: &SearchParams, r: &SearchResults, names: &Names) {
    b.push_str("<aside class=\"facets\" aria-label=\"Refine\"><h2>Refine</h2>");
    for (title, name, list) in [
        ("Class", "material_class", &r.facets.material_class),
        ("Producer country", "country", &r.facets.country),
        ("Lab", "lab", &r.facets.lab),
        ("Rare-earth free", "rare_earth_free", &r.facets.rare_earth_free),
    ] {
        let _ = write!(b, "<h3>{title}</h3><ul>");
        for f in list {
            let text = match name {
                "material_class" => class_label(&f.value),
                "lab" => names.org(&f.value).to_owned(),
                "rare_earth_free" if f.value == "true" => "yes".to_owned(),
                "rare_earth_free" if f.value == "false" => "no".to_owned(),
                _ => f.value.clone(),
            };
            if f.value == "unknown" {
                let _ = write!(b, "<li>unknown ({})</li>", f.count);
            } else {
                let _ = write!(
                    b,
                    "<li><a href=\"{}\">{}</a> ({})</li>",
                    esc(&link_with(p, name, &f.value)),
                    esc(&text),
                    f.count
                );
            }
        }
        b.push_str("</ul>");
    }
    b.push_str("</aside>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_its_field() {
        let e = FormError::from_message("parameter 'min': 'abc' is not a number");
        assert_eq!(e.parameter.as_deref(), Some("min"));
        assert_eq!(e.message, "'abc' is not a number");
        assert_eq!(FormError::from_message("storage down").parameter, None);
    }

    #[test]
    fn relaxing_drops_the_named_parameters() {
        let p = SearchParams {
            temperature: Some("150".into()),
            tolerance: Some("5".into()),
            q: Some("x".into()),
            ..Default::default()
        };
        let q = without(&p, &["temperature", "tolerance"]);
        assert_eq!(pairs(&q), vec![("q", "x".to_owned())]);
    }
}

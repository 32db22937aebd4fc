//! Application profiles in the browser: the index of every profile id with its issuer and
//! latest version, and one profile's page — what it asks of a material, requirement by
//! requirement, in units and words, which versions exist and who signed them, and where to find
//! the materials that meet it.

use std::fmt::Write as _;

use super::{Names, esc, page, url};
use crate::display::{basis_anchor, basis_label, class_label, property_label, quantity, with_unit};
use crate::profile::{Comparator, Criticality, Profile};
use crate::registry::evidence::ProfileSummary;

/// Significant digits of thresholds.
const DIGITS: usize = 4;

fn issuer_label<'a>(names: &'a Names, organisation: &'a str) -> &'a str {
    if organisation == crate::profile::issued::REGISTRY_ISSUER {
        "the registry operator"
    } else {
        names.org(organisation)
    }
}

/// `/profiles`: the latest version of every profile id.
pub fn profiles_page(profiles: &[ProfileSummary], names: &Names) -> String {
    let mut b = String::from(
        "<h1>Application profiles</h1><p>What an application asks of a material, requirement by requirement. \
         A profile belongs to the organisation that issued it; each version is signed and never changes.</p>",
    );
    let latest: Vec<&ProfileSummary> = profiles.iter().filter(|p| p.latest).collect();
    if latest.is_empty() {
        b.push_str("<p>No profile is registered.</p>");
        return page("Application profiles", &b);
    }
    b.push_str("<table id=\"profiles\"><thead><tr><th scope=\"col\">Profile</th><th scope=\"col\">Material class</th><th scope=\"col\">Issued by</th><th scope=\"col\">Latest version</th><th scope=\"col\">Requirements</th></tr></thead><tbody>");
    for p in latest {
        let _ = write!(
            b,
            "<tr><th scope=\"row\"><a href=\"/profiles/{}\">{}</a>{}</th><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            url(&p.id),
            esc(&p.title),
            if p.illustrative { " <span class=\"badge\">illustrative</span>" } else { "" },
            esc(&class_label(&p.material_class)),
            esc(issuer_label(names, &p.organisation)),
            esc(&p.version),
            p.requirements
        );
    }
    b.push_str("</tbody></table>");
    page("Application profiles", &b)
}

/// `/profiles/{id}`: one version of a profile (the latest unless `?version=`), its requirements
/// and the other versions of its id.
pub fn profile_page(profile: &Profile, issuer: &str, versions: &[ProfileSummary], names: &Names) -> String {
    let mut b = format!(
        "<h1>{}</h1><p>{} · {} · profile <code>{}</code> version {} issued by {}{}</p>",
        esc(&profile.title),
        esc(&profile.application),
        esc(&class_label(profile.material_class.as_str())),
        esc(&profile.id),
        esc(&profile.version),
        esc(issuer_label(names, issuer)),
        if profile.illustrative { " · <span class=\"badge\">illustrative profile</span>" } else { "" }
    );
    if !profile.description.is_empty() {
        let _ = write!(b, "<p>{}</p>", esc(&profile.description));
    }
    let _ = write!(
        b,
        "<p><a href=\"/?profile={}\">Materials of this class, with their verdicts against this profile</a></p>",
        url(&profile.id)
    );
    b.push_str("<h2>Requirements</h2><table id=\"requirements\"><thead><tr><th scope=\"col\">Requirement</th><th scope=\"col\">Property</th><th scope=\"col\">Condition</th><th scope=\"col\">Threshold</th><th scope=\"col\">Basis</th><th scope=\"col\">At least</th><th scope=\"col\">Test standard</th><th scope=\"col\">Criticality</th></tr></thead><tbody>");
    for r in &profile.requirements {
        let threshold = match (r.comparator, r.threshold_high) {
            (_, Some(hi)) => {
                format!("{} – {}", crate::display::sig(r.threshold, DIGITS), quantity(hi, &r.unit, DIGITS))
            }
            (Comparator::AtLeast, None) => format!("≥ {}", quantity(r.threshold, &r.unit, DIGITS)),
            (Comparator::AtMost, None) => format!("≤ {}", quantity(r.threshold, &r.unit, DIGITS)),
            (Comparator::Between, None) => quantity(r.threshold, &r.unit, DIGITS),
        };
        let conditions: Vec<String> = r
            .conditions
            .iter()
            .map(|(name, c)| {
                let value = with_unit(&crate::display::sig(c.value, DIGITS), &c.unit);
                let tolerance = if c.tolerance > 0.0 {
                    format!(" ± {}", with_unit(&crate::display::sig(c.tolerance, DIGITS), &c.unit))
                } else {
                    String::new()
                };
                format!("{} {value}{tolerance}", name.replace('_', " "))
            })
            .collect();
        let condition = if conditions.is_empty() { "–".to_owned() } else { conditions.join(", ") };
        let criticality = match r.criticality {
            Criticality::Critical => "critical",
            Criticality::Major => "major",
            Criticality::Minor => "minor",
        };
        let _ = write!(
            b,
            "<tr data-requirement=\"{}\"><th scope=\"row\"><code>{}</code>{}</th><td>{}</td><td>{}</td><td class=\"num\">{}</td><td><a href=\"/glossary#{}\">{}</a>{}</td><td>{} specimens from {} batches</td><td>{}</td><td>{criticality}</td></tr>",
            esc(&r.id),
            esc(&r.id),
            if r.note.is_empty() { String::new() } else { format!("<br><small>{}</small>", esc(&r.note)) },
            esc(&property_label(&r.property)),
            esc(&condition),
            esc(&threshold),
            basis_anchor(r.basis),
            esc(basis_label(r.basis)),
            if r.interpolation { " (interpolation between tested conditions accepted)" } else { "" },
            r.min_specimens,
            r.min_batches,
            esc(&r.standards.join(", ")),
        );
    }
    b.push_str("</tbody></table>");
    b.push_str("<h2>Versions</h2><table id=\"versions\"><thead><tr><th scope=\"col\">Version</th><th scope=\"col\">Issued by</th><th scope=\"col\">Signed content (SHA-256)</th></tr></thead><tbody>");
    for v in versions {
        let _ = write!(
            b,
            "<tr><th scope=\"row\"><a href=\"/profiles/{}?version={}\">{}</a>{}</th><td>{}</td><td>{}</td></tr>",
            url(&v.id),
            url(&v.version),
            esc(&v.version),
            if v.latest { " (latest)" } else { "" },
            esc(issuer_label(names, &v.organisation)),
            v.sha256.as_deref().map_or_else(
                || "not signed (registered before profiles were signed)".to_owned(),
                |h| format!("<code class=\"digest\">{}</code>", esc(h))
            ),
        );
    }
    b.push_str("</tbody></table>");
    page(&profile.title, &b)
}

//! HTML pages for people: server-rendered, no JavaScript, one bundled stylesheet. Every string
//! that comes from a package, a request or the database goes through [`esc`]. Rendering only:
//! the data comes from the registry (`http::pages` calls both). Words and numbers are shown
//! through `crate::display`: units, property and class names, verdicts, rounding.
//!
//! One file per page kind: `search`, `material` (the datasheet and its plots), `package`
//! (provenance), `fit` (the fit report), `lab`; `glossary` explains the statistical bases.

pub mod charts;
mod fit;
mod glossary;
mod lab;
mod material;
mod package;
mod profile;
mod search;

use std::collections::BTreeMap;
use std::fmt::Write as _;

pub use fit::fit_page;
pub use glossary::glossary_page;
pub use lab::{lab_page, organisations_page};
pub use material::{datasheet_csv, material_page};
pub use package::{Provenance, package_page};
pub use profile::{profile_page, profiles_page};
pub use search::{FormError, RELAXABLE, Relaxation, pairs as search_pairs, search_page, without};

use crate::registry::auth::OrgKind;
use crate::registry::views::{Organisation, PackageStatus};

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

/// Organisation names by id, so pages show "Test Magnetics Lab" rather than `test-magnetics-lab`.
#[derive(Debug, Clone, Default)]
pub struct Names {
    orgs: BTreeMap<String, (String, OrgKind)>,
}

impl Names {
    pub fn new(organisations: &[Organisation]) -> Names {
        Names { orgs: organisations.iter().map(|o| (o.id.clone(), (o.name.clone(), o.kind))).collect() }
    }

    /// The organisation's name, or its id when it is not registered here.
    pub fn org<'a>(&'a self, id: &'a str) -> &'a str {
        self.orgs.get(id).map_or(id, |(name, _)| name.as_str())
    }

    /// Labs as (id, name), by name.
    pub fn labs(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut labs: Vec<(&str, &str)> = self
            .orgs
            .iter()
            .filter(|(_, (_, kind))| *kind == OrgKind::Lab)
            .map(|(id, (name, _))| (id.as_str(), name.as_str()))
            .collect();
        labs.sort_by(|a, b| a.1.cmp(b.1));
        labs.into_iter()
    }

    /// A link to the organisation's page, with its name.
    pub fn link(&self, id: &str) -> String {
        format!("<a href=\"/labs/{}\">{}</a>", url(id), esc(self.org(id)))
    }
}

/// The CSS class of a status, verdict or key state: `ok`, `bad` or `warn`.
pub fn verdict_class(code: &str) -> &'static str {
    match code {
        "active" | "met" | "qualified" | "passed" | "ok" => "ok",
        "withdrawn" | "not_met" | "not_qualified" | "revoked" | "failed" | "compromised" => "bad",
        _ => "warn",
    }
}

pub fn package_status(s: PackageStatus) -> &'static str {
    match s {
        PackageStatus::Active => "active",
        PackageStatus::Superseded => "superseded",
        PackageStatus::Withdrawn => "withdrawn",
    }
}

/// Every table scrolls inside its own box on a narrow screen instead of widening the page.
fn scrolling_tables(body: &str) -> String {
    body.replace("<table", "<div class=\"scroll\"><table").replace("</table>", "</table></div>")
}

/// A whole page around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t} · prequal</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head><body>\
<a class=\"skip\" href=\"#main\">Skip to content</a>\
<header><a class=\"brand\" href=\"/\">prequal</a><nav aria-label=\"Site\"><a href=\"/\">Search</a> <a href=\"/labs\">Organisations</a> <a href=\"/profiles\">Profiles</a> <a href=\"/glossary\">Glossary</a> <a href=\"/docs/\">API</a></nav></header>\
<main id=\"main\">{body}</main><footer>Qualification data packages: signed by labs, verified by the registry. Figures marked synthetic or illustrative are examples.</footer></body></html>",
        t = esc(title),
        body = scrolling_tables(body)
    )
}

pub fn error_page(status: u16, message: &str) -> String {
    let title = match status {
        400 => "Bad request",
        401 | 403 => "Not allowed",
        404 => "Not found",
        _ => "Error",
    };
    page(
        title,
        &format!(
            "<h1>{title}</h1><p class=\"error\" role=\"alert\">{}</p><p class=\"note\">HTTP status {status}.</p><p><a href=\"/\">Back to search</a></p>",
            esc(message)
        ),
    )
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

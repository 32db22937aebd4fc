//! Organisation pages: the index of organisations, and one organisation with its keys, the
//! packages it authored and the packages it countersigned.

use std::fmt::Write as _;

use super::{esc, page, url, verdict_class};
use crate::display::{class_label, timestamp_label};
use crate::registry::auth::OrgKind;
use crate::registry::views::{Organisation, OrganisationDetail, PackageList, PackageSummary};

fn kind_label(kind: OrgKind) -> &'static str {
    match kind {
        OrgKind::Lab => "test lab",
        OrgKind::Oem => "manufacturer (OEM)",
        OrgKind::Certifier => "certification body",
        OrgKind::Mirror => "mirror operator",
        OrgKind::Operator => "registry operator",
    }
}

fn package_rows(b: &mut String, packages: &[PackageSummary]) {
    b.push_str("<table><thead><tr><th scope=\"col\">Package</th><th scope=\"col\">Material</th><th scope=\"col\">Class</th><th scope=\"col\">Status</th><th scope=\"col\">Registered</th></tr></thead><tbody>");
    for p in packages {
        let status = super::package_status(p.status);
        let _ = write!(
            b,
            "<tr><td><a href=\"/packages/{}\">{} {}</a>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            url(&p.digest),
            esc(&p.name),
            esc(&p.version),
            if p.synthetic { " <span class=\"badge\">synthetic</span>" } else { "" },
            esc(&p.designation),
            esc(&class_label(&p.material_class)),
            verdict_class(status),
            status,
            esc(&timestamp_label(&p.registered_at))
        );
    }
    b.push_str("</tbody></table>");
}

pub fn lab_page(org: &OrganisationDetail, authored: &PackageList, countersigned: &[PackageSummary]) -> String {
    let o = &org.organisation;
    let mut b = format!(
        "<h1>{}</h1><p>{} · {} · registered {} · id <code>{}</code></p><h2>Signing keys</h2><table><thead><tr><th scope=\"col\">Key</th><th scope=\"col\">Status</th><th scope=\"col\">Added</th><th scope=\"col\">Revoked</th></tr></thead><tbody>",
        esc(&o.name),
        kind_label(o.kind),
        esc(&o.country),
        esc(&timestamp_label(&o.created_at)),
        esc(&o.id),
    );
    for k in &org.keys {
        let _ = write!(
            b,
            "<tr><td><code>{}</code></td><td class=\"{}\">{}{}</td><td>{}</td><td>{}</td></tr>",
            esc(&k.key_id),
            verdict_class(&k.status),
            esc(&k.status),
            if k.compromised { " (compromised)" } else { "" },
            esc(&timestamp_label(&k.added_at)),
            esc(&k.revoked_at.as_deref().map(timestamp_label).unwrap_or_else(|| "–".into()))
        );
    }
    b.push_str("</tbody></table>");
    if authored.total > 0 || o.kind == OrgKind::Lab {
        let _ = write!(b, "<h2>Packages authored ({})</h2>", authored.total);
        package_rows(&mut b, &authored.packages);
    }
    if !countersigned.is_empty() || o.kind == OrgKind::Certifier {
        let _ = write!(b, "<h2>Packages countersigned ({})</h2>", countersigned.len());
        package_rows(&mut b, countersigned);
    }
    page(&o.name, &b)
}

pub fn organisations_page(orgs: &[Organisation]) -> String {
    let mut b = String::from(
        "<h1>Organisations</h1><p>Labs publish packages, certification bodies countersign them, manufacturers read them.</p><table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Kind</th><th scope=\"col\">Country</th><th scope=\"col\">Registered</th></tr></thead><tbody>",
    );
    let mut sorted: Vec<&Organisation> = orgs.iter().collect();
    sorted.sort_by(|a, b| (a.kind.as_str(), &a.name).cmp(&(b.kind.as_str(), &b.name)));
    for o in sorted {
        let _ = write!(
            b,
            "<tr><td><a href=\"/labs/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            url(&o.id),
            esc(&o.name),
            kind_label(o.kind),
            esc(&o.country),
            esc(&timestamp_label(&o.created_at))
        );
    }
    b.push_str("</tbody></table>");
    page("Organisations", &b)
}

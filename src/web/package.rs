//! The package page: what it holds and where it comes from — signers and countersigners with
//! their keys' standing, each verification check and its result, the transparency-log entry
//! with links to its inclusion proof and the checkpoint, and the witnesses that cosigned it.

use std::fmt::Write as _;

use super::{Names, esc, package_status, page, url, verdict_class};
use crate::display::{class_label, property_label, sig, timestamp_label, unit_label, with_unit};
use crate::registry::views::{DatasetView, InclusionProof, PackageDetail};

/// The package's place in the transparency log, as far as the registry can show it.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The inclusion proof of its publication entry in the current tree (none before the log
    /// has sequenced it, or on a registry without a log).
    pub inclusion: Option<InclusionProof>,
    /// The current signed checkpoint (C2SP signed note) with the witness cosignatures stored for it.
    pub checkpoint: Option<String>,
}

impl Provenance {
    /// The names on the checkpoint's signature lines after the log's own: the witnesses.
    pub fn witnesses(&self) -> Vec<String> {
        let Some(note) = &self.checkpoint else { return Vec::new() };
        let Some((_, signatures)) = note.split_once("\n\n") else { return Vec::new() };
        signatures
            .lines()
            .filter_map(|l| l.strip_prefix("— "))
            .filter_map(|l| l.split_whitespace().next())
            .skip(1)
            .map(str::to_owned)
            .collect()
    }

    /// Origin, size and root hash of the checkpoint.
    fn head(&self) -> Option<(&str, &str, &str)> {
        let mut lines = self.checkpoint.as_deref()?.lines();
        Some((lines.next()?, lines.next()?, lines.next()?))
    }
}

fn conditions_label(c: &serde_json::Value) -> (String, bool) {
    let Some(map) = c.as_object() else { return (String::new(), false) };
    let mut varies = false;
    let parts: Vec<String> = map
        .iter()
        .map(|(name, v)| {
            let unit = v["unit"].as_str().unwrap_or("");
            let words = name.replace('_', " ");
            match (v["min"].as_f64(), v["max"].as_f64(), v["value"].as_f64()) {
                (Some(lo), Some(hi), _) if (hi - lo).abs() > 1e-9 => {
                    varies = true;
                    format!("{words} {}", with_unit(&format!("{}–{}", sig(lo, 4), sig(hi, 4)), unit))
                }
                (Some(lo), _, _) => format!("{words} {}", with_unit(&sig(lo, 4), unit)),
                (_, _, Some(x)) => format!("{words} {}", with_unit(&sig(x, 4), unit)),
                _ => words,
            }
        })
        .collect();
    (parts.join(", "), varies)
}

fn dataset_row(b: &mut String, ds: &DatasetView, material_link: &str) {
    let (conditions, varies) = conditions_label(&ds.conditions);
    let u = unit_label(&ds.unit);
    // A mean over several temperatures describes no condition: the datasheet splits it.
    let mean = if varies {
        format!("by condition on the <a href=\"{material_link}#datasheet\">datasheet</a>")
    } else {
        esc(&with_unit(&sig(ds.mean, 4), &ds.unit))
    };
    let _ = write!(
        b,
        "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        esc(&ds.id),
        esc(&property_label(&ds.property)),
        esc(&conditions),
        ds.specimens,
        ds.batches,
        mean,
        esc(&format!(
            "{} – {}{}",
            sig(ds.min, 4),
            sig(ds.max, 4),
            if u.is_empty() { String::new() } else { format!(" {u}") }
        ))
    );
}

pub fn package_page(d: &PackageDetail, provenance: &Provenance, names: &Names) -> String {
    let s = &d.summary;
    let status = package_status(s.status);
    let producer = d.manifest["material"]["producer"]["name"].as_str().unwrap_or("");
    let material_link = format!("/materials/{}", url(&crate::fit::material_id(producer, &s.designation)));
    let mut b = format!(
        "<h1>{} {}</h1><p>{}</p><p>Material <a href=\"{}\"><strong>{}</strong></a> ({}) · lab {} · releasability {} · status <span class=\"{}\">{}</span>{}</p>",
        esc(&s.name),
        esc(&s.version),
        esc(&s.title),
        material_link,
        esc(&s.designation),
        esc(&class_label(&s.material_class)),
        names.link(&s.organisation),
        esc(&s.releasability),
        verdict_class(status),
        status,
        if s.synthetic { " · <span class=\"badge\">synthetic data</span>" } else { "" },
    );
    let licence = d.manifest["license"].as_str().unwrap_or("not stated");
    let terms = d.manifest["terms"]["citation"].as_str().unwrap_or("");
    let _ = write!(
        b,
        "<p>Licence <strong>{}</strong>{} · registered {}</p><p>Digest <code>{}</code></p>",
        esc(licence),
        if terms.is_empty() { String::new() } else { format!(" · {}", esc(terms)) },
        esc(&timestamp_label(&s.registered_at)),
        esc(&s.digest)
    );
    if let Some(w) = &s.withdrawn {
        let _ = write!(b, "<p class=\"error\">Withdrawn {}: {}</p>", esc(&timestamp_label(&w.at)), esc(&w.reason));
    }
    for r in &s.suspect_reasons {
        let _ = write!(b, "<p class=\"error\">Suspect: {}</p>", esc(r));
    }

    b.push_str("<h2 id=\"provenance\">Provenance</h2><h3>Signatures</h3><table id=\"signatures\"><thead><tr><th scope=\"col\">Role</th><th scope=\"col\">Organisation</th><th scope=\"col\">Key</th><th scope=\"col\">Key status</th><th scope=\"col\">Added</th><th scope=\"col\">Source</th></tr></thead><tbody>");
    for sig_ in &d.signatures {
        let role = match sig_.kind.as_str() {
            "author" => "signer (publishing lab)",
            "countersignature" => "countersigner",
            other => other,
        };
        let key_state = if sig_.key_compromised { "compromised" } else { sig_.key_status.as_str() };
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td class=\"{}\">{}{}</td><td>{}</td><td>{}</td></tr>",
            esc(role),
            names.link(&sig_.organisation),
            esc(&sig_.key_id),
            verdict_class(key_state),
            esc(&sig_.key_status),
            match (&sig_.key_revoked_at, sig_.key_compromised) {
                (Some(at), true) => format!(" (compromised, revoked {})", esc(&timestamp_label(at))),
                (Some(at), false) => format!(" (revoked {})", esc(&timestamp_label(at))),
                (None, true) => " (compromised)".into(),
                (None, false) => String::new(),
            },
            esc(&timestamp_label(&sig_.added_at)),
            esc(&sig_.source)
        );
    }
    b.push_str("</tbody></table>");

    let v = &d.verification;
    let result = v["result"].as_str().unwrap_or("");
    let passed = result == "verified";
    let _ = write!(
        b,
        "<h3>Verification</h3><p>Result: <strong class=\"{}\">{}</strong> on upload, {} by {}. Anyone can repeat it offline: <code>prequal verify {}-{}.zip</code>.</p><table id=\"checks\"><thead><tr><th scope=\"col\">Check</th><th scope=\"col\">Result</th></tr></thead><tbody>",
        if passed { "ok" } else { "bad" },
        esc(result),
        esc(&timestamp_label(v["verified_at"].as_str().unwrap_or(""))),
        esc(v["verifier"].as_str().unwrap_or("")),
        esc(&s.name),
        esc(&s.version),
    );
    for check in v["checks"].as_array().into_iter().flatten() {
        // The registry stores a package only when every check passed.
        let _ = write!(
            b,
            "<tr><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(check.as_str().unwrap_or("")),
            if passed { "ok" } else { "warn" },
            if passed { "passed" } else { "not recorded" }
        );
    }
    b.push_str("</tbody></table>");

    b.push_str("<h3>Transparency log</h3>");
    match (&provenance.inclusion, provenance.head()) {
        (Some(p), head) => {
            let _ = write!(
                b,
                "<p id=\"log-entry\">Published as log entry <strong>{}</strong>, included in the tree of {} entries: <a href=\"/v1/log/proof/inclusion?digest={}\">inclusion proof</a> · <a href=\"/log/checkpoint\">signed checkpoint</a> · <a href=\"/v1/log/sealed/{}\">the entry</a>.</p>",
                p.leaf_index,
                p.tree_size,
                url(&s.digest),
                p.leaf_index
            );
            if let Some((origin, size, root)) = head {
                let _ = write!(
                    b,
                    "<p>Checkpoint: origin <code>{}</code>, size {}, root hash <code>{}</code>.</p>",
                    esc(origin),
                    esc(size),
                    esc(root)
                );
            }
        }
        (None, _) => b.push_str("<p class=\"note\">This registry holds no log entry for the package yet.</p>"),
    }
    let witnesses = provenance.witnesses();
    if witnesses.is_empty() {
        b.push_str("<p id=\"witnesses\">No witness has cosigned the current checkpoint yet.</p>");
    } else {
        let _ = write!(
            b,
            "<p id=\"witnesses\">Cosigned by {} witness{}: {}.</p>",
            witnesses.len(),
            if witnesses.len() == 1 { "" } else { "es" },
            witnesses.iter().map(|w| format!("<code>{}</code>", esc(w))).collect::<Vec<_>>().join(", ")
        );
    }
    let _ = write!(
        b,
        "<p><a href=\"{}\">Download the package</a> ({} bytes, SHA-256 <code>{}</code>)</p>",
        esc(&d.download_url),
        s.size_bytes,
        esc(&d.file_sha256)
    );

    b.push_str("<h2>Datasets</h2><table id=\"datasets\"><thead><tr><th scope=\"col\">Dataset</th><th scope=\"col\">Property</th><th scope=\"col\">Conditions</th><th scope=\"col\">Specimens</th><th scope=\"col\">Batches</th><th scope=\"col\">Mean</th><th scope=\"col\">Range</th></tr></thead><tbody>");
    for ds in &d.datasets {
        dataset_row(&mut b, ds, &material_link);
    }
    b.push_str("</tbody></table>");
    let curves: Vec<crate::package::manifest::Curve> =
        d.manifest.get("curves").and_then(|c| serde_json::from_value(c.clone()).ok()).unwrap_or_default();
    if !curves.is_empty() {
        let _ = write!(
            b,
            "<h2>Demagnetisation curves</h2><p>Plotted on the <a href=\"{material_link}\">material's page</a>.</p><table><thead><tr><th scope=\"col\">Curve</th><th scope=\"col\">Kind</th><th scope=\"col\">Temperature</th><th scope=\"col\">Units</th><th scope=\"col\">File</th><th scope=\"col\">Description</th></tr></thead><tbody>"
        );
        for c in &curves {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>H in {}, J/B in {}</td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&c.id),
                esc(c.kind.as_str()),
                esc(&with_unit(&sig(c.temperature.value, 4), &c.temperature.unit)),
                esc(unit_label(&c.field_unit)),
                esc(unit_label(&c.flux_density_unit)),
                esc(&c.file),
                esc(c.description.as_deref().unwrap_or(""))
            );
        }
        b.push_str("</tbody></table>");
    }
    page(&format!("{} {}", s.name, s.version), &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn witnesses_are_the_signers_after_the_log() {
        let p = Provenance {
            inclusion: None,
            checkpoint: Some("example.org/log\n5\nAAAA\n\n— example.org/log sig1\n— witness.example/w1 sig2\n".into()),
        };
        assert_eq!(p.witnesses(), vec!["witness.example/w1".to_owned()]);
        assert_eq!(p.head(), Some(("example.org/log", "5", "AAAA")));
    }
}

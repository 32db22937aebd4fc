//! The fit report: the verdict in words, each requirement with its basis, threshold, value and
//! margin in units, the evidence cited, the remaining test plan, and the candidates chart.

use std::fmt::Write as _;

use super::{Names, charts, esc, page, url, verdict_class};
use crate::display::{
    basis_anchor, basis_label, condition_label, property_label, quantity, sig, status_code, unit_label, verdict_code,
    verdict_label,
};
use crate::fit::{FitReport, SourceRole, Status, Verdict};
use crate::profile::{Comparator, Profile};
use crate::registry::materials::AshbyChart;

/// Significant digits of values in the report.
const DIGITS: usize = 4;

pub fn fit_page(report: &FitReport, profile: &Profile, chart: Option<&AshbyChart>, names: &Names) -> String {
    let verdict = verdict_code(report.verdict);
    let mut b = format!(
        "<h1>{} for {}</h1><p><a href=\"/materials/{}\">{}</a> · {} · profile <code>{}</code> version {} issued by {}{}</p><p class=\"verdict\">Verdict: <strong class=\"{}\" id=\"verdict\" data-verdict=\"{verdict}\">{}</strong>. {}</p>",
        esc(&report.material.designation),
        esc(&profile.title),
        url(&report.material.id),
        esc(&report.material.designation),
        esc(&profile.application),
        esc(&report.profile.id),
        esc(&report.profile.version),
        esc(if report.profile.issuer.is_empty() {
            &report.profile.issuing_body
        } else {
            names.org(&report.profile.issuer)
        }),
        if profile.illustrative { " · <span class=\"badge\">illustrative profile</span>" } else { "" },
        verdict_class(verdict),
        verdict_label(report.verdict),
        esc(&report.summary)
    );
    let failed: Vec<&str> =
        report.requirements.iter().filter(|r| r.status == Status::NotMet).map(|r| r.id.as_str()).collect();
    b.push_str("<h2>Requirements</h2><table id=\"requirements\"><thead><tr><th scope=\"col\">Requirement</th><th scope=\"col\">Property</th><th scope=\"col\">Condition</th><th scope=\"col\">Basis</th><th scope=\"col\">Threshold</th><th scope=\"col\">Value</th><th scope=\"col\">Margin</th><th scope=\"col\">Specimens (batches)</th><th scope=\"col\">Status</th><th scope=\"col\">Evidence</th></tr></thead><tbody>");
    for r in &report.requirements {
        let status = status_code(r.status);
        let threshold = match (r.comparator, r.threshold_high) {
            (_, Some(hi)) => format!("{} – {}", sig(r.threshold, DIGITS), quantity(hi, &r.unit, DIGITS)),
            (Comparator::AtLeast, None) => format!("≥ {}", quantity(r.threshold, &r.unit, DIGITS)),
            (Comparator::AtMost, None) => format!("≤ {}", quantity(r.threshold, &r.unit, DIGITS)),
            (Comparator::Between, None) => quantity(r.threshold, &r.unit, DIGITS),
        };
        let margin = match (r.margin, r.margin_percent) {
            (Some(m), Some(p)) => format!("{}{} ({p:+.1} %)", if m > 0.0 { "+" } else { "" }, quantity(m, &r.unit, 3)),
            (Some(m), None) => format!("{}{}", if m > 0.0 { "+" } else { "" }, quantity(m, &r.unit, 3)),
            _ => "–".into(),
        };
        let evidence: Vec<String> = r
            .citations
            .iter()
            .map(|c| {
                format!(
                    "<a href=\"/packages/{}\">{} {}</a> <code>{}</code> ({})",
                    url(&c.digest),
                    esc(&c.package),
                    esc(&c.version),
                    esc(&c.dataset),
                    esc(names.org(&c.organisation))
                )
            })
            .collect();
        let _ = write!(
            b,
            "<tr data-requirement=\"{}\" data-status=\"{status}\"><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td><a href=\"/glossary#{}\">{}</a></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            esc(&r.id),
            esc(&r.id),
            esc(&property_label(&r.property)),
            esc(&condition_label(&r.condition)),
            basis_anchor(r.basis),
            basis_label(r.basis),
            esc(&threshold),
            esc(&r.value.map(|v| quantity(v, &r.unit, DIGITS)).unwrap_or_else(|| "–".into())),
            esc(&margin),
            if r.specimens > 0 { format!("{} ({})", r.specimens, r.batches) } else { "–".into() },
            verdict_class(status),
            r.status.label(),
            if evidence.is_empty() { "–".into() } else { evidence.join("<br>") }
        );
    }
    b.push_str("</tbody></table><h2>How each value was reached</h2><dl id=\"routes\">");
    for r in &report.requirements {
        let _ = write!(b, "<dt>{}</dt><dd>{}", esc(&r.id), esc(&condition_label(&r.explanation)));
        if !r.statistics.is_empty() {
            let _ = write!(b, "<br><span class=\"note\">Statistics: {}</span>", esc(&r.statistics));
        }
        b.push_str("</dd>");
    }
    b.push_str("</dl><h2>Sources of evidence</h2><table id=\"sources\"><thead><tr><th scope=\"col\">Source</th><th scope=\"col\">Use</th><th scope=\"col\">Packages</th><th scope=\"col\">Why</th></tr></thead><tbody>");
    for src in &report.sources {
        let role = match src.role {
            SourceRole::Baseline => "baseline",
            SourceRole::Equivalent => "pooled (equivalent)",
            SourceRole::KeptApart => "kept apart",
        };
        let _ = write!(
            b,
            "<tr data-role=\"{}\"><td>{}</td><td class=\"{}\">{role}</td><td>{}</td><td>{}</td></tr>",
            if src.role == SourceRole::KeptApart { "kept_apart" } else { "used" },
            esc(&src.source),
            if src.role == SourceRole::KeptApart { "bad" } else { "ok" },
            esc(&src.packages.join("; ")),
            esc(&src.reason)
        );
    }
    b.push_str("</tbody></table><h2>Remaining test plan</h2>");
    if report.remaining_tests.is_empty() {
        match report.verdict {
            Verdict::Qualified => b.push_str("<p class=\"ok\">No test remains: every requirement is met.</p>"),
            Verdict::NotQualified => {
                let _ = write!(
                    b,
                    "<p class=\"bad\" id=\"no-test-remains\">No test is missing, but the tested evidence fails {}: more tests of this material will not qualify it.</p>",
                    esc(&failed.join(", "))
                );
            }
            Verdict::Incomplete => b.push_str("<p>No test is listed; see the requirements above.</p>"),
        }
    } else {
        if report.verdict == Verdict::NotQualified {
            let _ = write!(
                b,
                "<p class=\"bad\">Even with these tests the material fails {} on the evidence so far.</p>",
                esc(&failed.join(", "))
            );
        }
        b.push_str("<table id=\"remaining\"><thead><tr><th scope=\"col\">Requirement</th><th scope=\"col\">Property</th><th scope=\"col\">Condition</th><th scope=\"col\">Standards</th><th scope=\"col\">Specimens</th><th scope=\"col\">Batches</th><th scope=\"col\">Why</th></tr></thead><tbody>");
        for t in &report.remaining_tests {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&t.requirement),
                esc(&property_label(&t.property)),
                esc(&condition_label(&t.condition)),
                esc(&t.standards.join(", ")),
                t.specimens_needed,
                t.batches_needed,
                esc(&t.reason)
            );
        }
        b.push_str("</tbody></table>");
    }
    let labs: Vec<String> = report.reuse.labs.iter().map(|l| names.link(l)).collect();
    let _ = write!(
        b,
        "<p>Prior testing reused: {} specimens from {} datasets; labs: {}.</p>",
        report.reuse.specimens_reused,
        report.reuse.datasets_reused,
        if labs.is_empty() { "none".into() } else { labs.join(", ") }
    );
    if !report.ignored.is_empty() {
        b.push_str("<h2>Datasets left out</h2><ul>");
        for i in &report.ignored {
            let _ = write!(b, "<li>{}</li>", esc(&condition_label(i)));
        }
        b.push_str("</ul>");
    }
    if let Some(c) = chart {
        let points: Vec<(String, f64, f64)> = c.points.iter().map(|p| (p.designation.clone(), p.hcj, p.br)).collect();
        let title = format!("Mean Br vs mean HcJ at {} °C", sig(c.temperature_c, 4));
        let _ = write!(
            b,
            "<h2>Candidates at {} °C</h2><figure class=\"plot\" id=\"ashby\">{}<figcaption>Mean Br against mean HcJ of each magnet's counting evidence within the profile's temperature window (means, not the basis values the verdicts use); the shaded region meets the profile's minimums ({}, {}).</figcaption></figure>",
            sig(c.temperature_c, 4),
            charts::ashby(&title, &points, c.hcj_min, c.br_min, &report.material.designation),
            c.hcj_min.map(|v| quantity(v, "kA/m", 4)).unwrap_or_else(|| "–".into()),
            c.br_min.map(|v| quantity(v, "T", 3)).unwrap_or_else(|| "–".into()),
        );
    }
    let _ = write!(
        b,
        "<p class=\"note\">Units: values, thresholds and margins in the requirement's unit ({}). <a href=\"/glossary\">What the bases mean</a>. Machine-readable: <a href=\"/v1/fit?profile={}&amp;version={}&amp;material={}\">JSON</a>.</p>",
        esc(&report
            .requirements
            .iter()
            .map(|r| unit_label(&r.unit))
            .filter(|u| !u.is_empty())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join(", ")),
        url(&report.profile.id),
        url(&report.profile.version),
        url(&report.material.id)
    );
    page(&format!("{} – {}", report.material.designation, profile.title), &b)
}

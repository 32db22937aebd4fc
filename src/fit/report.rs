//! The fit report as a person reads it in a terminal.

use std::fmt::Write as _;

use super::{FitReport, RankEntry, Status, fmt_num};

fn comparator(r: &super::RequirementResult) -> String {
    let unit = crate::units::symbol(&r.unit);
    match r.comparator {
        crate::profile::Comparator::AtLeast => format!("≥ {} {unit}", fmt_num(r.threshold)),
        crate::profile::Comparator::AtMost => format!("≤ {} {unit}", fmt_num(r.threshold)),
        crate::profile::Comparator::Between => {
            format!("{}–{} {unit}", fmt_num(r.threshold), fmt_num(r.threshold_high.unwrap_or(f64::NAN)))
        }
    }
}

fn with_unit(v: f64, unit: &str) -> String {
    let symbol = crate::units::symbol(unit);
    if symbol.is_empty() { fmt_num(v) } else { format!("{} {symbol}", fmt_num(v)) }
}

/// A plain-text report: verdict, a requirement table, then each requirement with its route,
/// evidence and notes, the remaining test plan, and what was not used.
pub fn render_text(report: &FitReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — {} ({})\nprofile {} {} issued by {}{}\nverdict: {}\n{}\n",
        report.material.designation,
        report.material.producer,
        report.material.id,
        report.profile.id,
        report.profile.version,
        if report.profile.issuer.is_empty() || report.profile.issuer == report.profile.issuing_body {
            report.profile.issuing_body.clone()
        } else {
            format!("{} ({})", report.profile.issuer, report.profile.issuing_body)
        },
        if report.profile.illustrative { " (illustrative)" } else { "" },
        report.verdict.label(),
        report.summary
    );
    let _ = writeln!(
        out,
        "{:<16} {:<26} {:<18} {:<24} {:<22} {:>14} {:>26}  n/batches",
        "requirement", "property", "required", "condition", "status", "value", "margin"
    );
    for r in &report.requirements {
        let cond = r.condition.replace("temperature ", "T ").replace(" ± ", "±");
        let value = r.value.map(|v| with_unit(v, &r.unit)).unwrap_or_else(|| "—".into());
        let sign = |m: f64| if m >= 0.0 { "+" } else { "" };
        let margin = match (r.margin, r.margin_percent) {
            (Some(m), Some(p)) => format!("{}{} ({p:+.1} %)", sign(m), with_unit(m, &r.unit)),
            (Some(m), None) => format!("{}{}", sign(m), with_unit(m, &r.unit)),
            _ => "—".into(),
        };
        let status = match r.status {
            Status::Met => "met",
            Status::NotMet => "NOT MET",
            Status::InsufficientEvidence => "insufficient evidence",
            Status::NotTested => "not tested",
        };
        let _ = writeln!(
            out,
            "{:<16} {:<26} {:<18} {:<24} {:<22} {:>14} {:>26}  {}/{}{}",
            r.id,
            r.property,
            comparator(r),
            cond,
            status,
            value,
            margin,
            r.specimens,
            r.batches,
            if r.matching == "interpolated" { " (interpolated)" } else { "" }
        );
    }
    let _ = writeln!(out, "\nrequirements:");
    for r in &report.requirements {
        let _ = writeln!(
            out,
            "\n  {} — {} {} {} at {}: {}",
            r.id,
            r.property,
            r.basis.label(),
            comparator(r),
            r.condition,
            r.status.label()
        );
        if !r.explanation.is_empty() {
            let _ = writeln!(out, "    {}", r.explanation);
        }
        if !r.statistics.is_empty() {
            let _ = writeln!(out, "    route: {}", r.statistics);
        }
        for c in &r.citations {
            let _ = writeln!(
                out,
                "    evidence: {}@{} dataset '{}' ({} specimens) {} signed by {}{}",
                c.package,
                c.version,
                c.dataset,
                c.specimens,
                c.digest,
                if c.signed_by.is_empty() { "—".to_owned() } else { c.signed_by.join(", ") },
                if c.countersigned_by.is_empty() {
                    String::new()
                } else {
                    format!("; countersigned by {}", c.countersigned_by.join(", "))
                }
            );
        }
    }
    if !report.remaining_tests.is_empty() {
        let _ = writeln!(out, "\nremaining tests:");
        for t in &report.remaining_tests {
            let _ = writeln!(
                out,
                "  - {} ({}): {} at {}; {} specimen(s) from {} batch(es); standards: {} — {}",
                t.requirement,
                format!("{:?}", t.criticality).to_lowercase(),
                t.property,
                t.condition,
                t.specimens_needed,
                t.batches_needed,
                t.standards.join(", "),
                t.reason
            );
        }
    } else if report.verdict == super::Verdict::Qualified {
        let _ = writeln!(out, "\nno test remains");
    }
    let _ = writeln!(
        out,
        "\nreused: {} of {} requirements met with {} specimens from {} dataset(s) of {}; remaining: {} test(s), {} specimen(s)",
        report.reuse.requirements_met,
        report.reuse.requirements_total,
        report.reuse.specimens_reused,
        report.reuse.datasets_reused,
        if report.reuse.labs.is_empty() { "no lab".to_owned() } else { report.reuse.labs.join(", ") },
        report.reuse.tests_remaining,
        report.reuse.specimens_remaining
    );
    if !report.ignored.is_empty() {
        let _ = writeln!(out, "\nnot used:");
        for i in &report.ignored {
            let _ = writeln!(out, "  {i}");
        }
    }
    out
}

/// A ranking table.
pub fn render_ranking(entries: &[RankEntry]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>4}  {:<48} {:<14} {:>5} {:>7} {:>5}  specimens to test",
        "rank", "material", "verdict", "met", "not met", "open"
    );
    for e in entries {
        let _ = writeln!(
            out,
            "{:>4}  {:<48} {:<14} {:>5} {:>7} {:>5}  {}",
            e.rank,
            format!("{} ({})", e.material.designation, e.material.producer),
            e.verdict.label(),
            format!("{}/{}", e.met, e.total),
            e.not_met,
            e.open,
            e.specimens_remaining
        );
    }
    out
}

//! The fit report as a person reads it in a terminal.

use std::fmt::Write as _;

use super::{FitReport, RankEntry, Status, fmt_num};

fn comparator(r: &super::RequirementResult) -> String {
    match r.comparator {
        crate::profile::Comparator::AtLeast => format!("≥ {} {}", fmt_num(r.threshold), r.unit),
        crate::profile::Comparator::AtMost => format!("≤ {} {}", fmt_num(r.threshold), r.unit),
        crate::profile::Comparator::Between => {
            format!("{}–{} {}", fmt_num(r.threshold), fmt_num(r.threshold_high.unwrap_or(f64::NAN)), r.unit)
        }
    }
}

/// A plain-text report: verdict, a requirement table, the remaining test plan, the citations.
pub fn render_text(report: &FitReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — {} ({})\nprofile {} {}{}\nverdict: {:?}\n{}\n",
        report.material.designation,
        report.material.producer,
        report.material.id,
        report.profile.id,
        report.profile.version,
        if report.profile.illustrative { " (illustrative)" } else { "" },
        report.verdict,
        report.summary
    );
    let _ = writeln!(
        out,
        "{:<16} {:<26} {:<18} {:<24} {:<22} {:>12} {:>9}  n/batches",
        "requirement", "property", "required", "condition", "status", "value", "margin"
    );
    for r in &report.requirements {
        let cond = r.condition.replace("temperature ", "T ");
        let value = r.value.map(|v| format!("{} {}", fmt_num(v), r.unit)).unwrap_or_else(|| "—".into());
        let margin = r.margin_percent.map(|m| format!("{m:+.1} %")).unwrap_or_else(|| "—".into());
        let status = match r.status {
            Status::Met => "met",
            Status::NotMet => "NOT MET",
            Status::InsufficientEvidence => "insufficient evidence",
            Status::NotTested => "not tested",
        };
        let _ = writeln!(
            out,
            "{:<16} {:<26} {:<18} {:<24} {:<22} {:>12} {:>9}  {}/{}{}",
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
    let _ = writeln!(out, "\nevidence:");
    for r in &report.requirements {
        for c in &r.citations {
            let _ = writeln!(
                out,
                "  {:<16} {}@{} dataset '{}' ({} specimens) {} signed by {}{}",
                r.id,
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
        if !r.explanation.is_empty() {
            let _ = writeln!(out, "  {:<16} {}", "", r.explanation);
        }
        if !r.statistics.is_empty() {
            let _ = writeln!(out, "  {:<16} statistics: {}", "", r.statistics);
        }
    }
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
            format!("{:?}", e.verdict),
            format!("{}/{}", e.met, e.total),
            e.not_met,
            e.open,
            e.specimens_remaining
        );
    }
    out
}

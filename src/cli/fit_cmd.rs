//! `prequal fit`: a material's evidence against an application profile, offline on package files
//! or from a registry; and ranking of materials.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;

use super::Outcome;
use crate::fit::{self, Evidence, MaterialRef};
use crate::package::{Limits, verify_file};
use crate::profile::Profile;

#[derive(Args, Debug)]
pub struct FitArgs {
    /// Package files to use as evidence (offline). Without them, --registry is asked.
    packages: Vec<PathBuf>,
    /// A built-in profile id (e.g. ev-traction-magnet-180c), a profile id in the registry, or a
    /// profile JSON file.
    #[arg(long)]
    profile: String,
    /// Ask this registry instead of reading package files.
    #[arg(long, env = "PREQUAL_REGISTRY")]
    registry: Option<String>,
    /// Material id (see `GET /v1/materials`); with --registry.
    #[arg(long)]
    material: Option<String>,
    /// With --registry: the profile version to fit against, to reproduce a report (default: the
    /// latest, i.e. the highest semantic version its issuer registered).
    #[arg(long)]
    profile_version: Option<String>,
    /// Rank every material (offline: every material among the files).
    #[arg(long)]
    rank: bool,
    /// API token for reading non-public packages.
    #[arg(long, env = "PREQUAL_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Print the result as JSON (for scripts).
    #[arg(long)]
    json: bool,
}

fn load_profile(spec: &str) -> Result<Profile, String> {
    let path = Path::new(spec);
    if path.is_file() {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        return Profile::parse(&path.display().to_string(), &bytes).map_err(|e| e.to_string());
    }
    let builtin = crate::profile::builtin().map_err(|e| e.to_string())?;
    let ids: Vec<String> = builtin.iter().map(|p| p.id.clone()).collect();
    builtin
        .into_iter()
        .find(|p| p.id == spec)
        .ok_or_else(|| format!("no profile file or built-in profile '{spec}' (built-in: {})", ids.join(", ")))
}

pub(super) fn fit(args: FitArgs) -> Outcome {
    if args.packages.is_empty() {
        return match &args.registry {
            Some(url) => remote(&args, url),
            None => {
                eprintln!("error: give package files, or --registry URL");
                Outcome::Failed
            }
        };
    }
    let profile = match load_profile(&args.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Outcome::Failed;
        }
    };
    let mut materials: BTreeMap<String, (MaterialRef, Vec<Evidence>)> = BTreeMap::new();
    for path in &args.packages {
        let verified = match verify_file(path, Limits::default()) {
            Ok(v) => v,
            Err(rejection) => {
                eprintln!("{}: refused, not used as evidence:\n{rejection}", path.display());
                return Outcome::Refused;
            }
        };
        if let Some(bad) = verified.signatures().iter().find(|s| !s.is_cryptographically_valid()) {
            eprintln!(
                "{}: signature {} is invalid: {}",
                path.display(),
                bad.file,
                bad.problem.as_deref().unwrap_or("")
            );
            return Outcome::Refused;
        }
        if verified.signatures().is_empty() {
            eprintln!("warning: {} is unsigned", path.display());
        }
        let m = verified.manifest();
        let id = fit::material_id(&m.material.producer.name, &m.material.designation);
        let entry = materials.entry(id.clone()).or_insert_with(|| {
            (
                MaterialRef {
                    id,
                    designation: m.material.designation.clone(),
                    producer: m.material.producer.name.clone(),
                    material_class: m.material.class.as_str().to_owned(),
                },
                Vec::new(),
            )
        });
        entry.1.push(fit::evidence_from_verified(&verified));
    }
    // A profile applies to its material class only. One material of another class is refused;
    // a ranking leaves such materials out and says so (stderr, and `excluded` in --json), and is
    // refused when nothing of the profile's class is left.
    let (applicable, excluded): (Vec<_>, Vec<_>) = materials
        .into_values()
        .map(|(m, ev)| {
            let mismatch = fit::check_applies(&profile, &m).err();
            (m, ev, mismatch)
        })
        .partition(|(_, _, mismatch)| mismatch.is_none());
    let excluded: Vec<fit::ClassMismatch> = excluded.into_iter().filter_map(|(_, _, e)| e).collect();
    if applicable.is_empty() {
        for e in &excluded {
            eprintln!("error: [{}] {e}", e.code());
        }
        return Outcome::Failed;
    }
    let ranking = args.rank || applicable.len() + excluded.len() > 1;
    if ranking {
        for e in &excluded {
            eprintln!("left out of the ranking: [{}] {e}", e.code());
        }
    }
    let materials: Vec<(MaterialRef, Vec<Evidence>)> = applicable.into_iter().map(|(m, ev, _)| (m, ev)).collect();
    if ranking {
        let ranked = fit::rank(&profile, materials);
        if args.json {
            let value = serde_json::json!({
                "profile": {"id": profile.id, "version": profile.version, "title": profile.title},
                "materials": ranked.iter().map(|(e, _)| e).collect::<Vec<_>>(),
                "reports": ranked.iter().map(|(_, r)| r).collect::<Vec<_>>(),
                "excluded": excluded.iter().map(|e| serde_json::json!({
                    "code": e.code(),
                    "material_class": e.subject_class,
                    "message": e.to_string(),
                })).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
        } else {
            println!("{} {} — {}\n", profile.id, profile.version, profile.title);
            let entries: Vec<_> = ranked.iter().map(|(e, _)| e.clone()).collect();
            print!("{}", fit::render_ranking(&entries));
            for (_, report) in &ranked {
                println!("\n{}", "-".repeat(100));
                print!("{}", fit::render_text(report));
            }
        }
    } else if let Some((m, evidence)) = materials.into_iter().next() {
        let report = fit::fit(&profile, m, &evidence);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        } else {
            print!("{}", fit::render_text(&report));
        }
    }
    Outcome::Ok
}

fn remote(args: &FitArgs, registry: &str) -> Outcome {
    let base = registry.trim_end_matches('/');
    let mut url = if args.rank || args.material.is_none() {
        format!("{base}/v1/fit/ranking?profile={}", args.profile)
    } else {
        format!("{base}/v1/fit?profile={}&material={}", args.profile, args.material.as_deref().unwrap_or(""))
    };
    if let Some(v) = &args.profile_version {
        url.push_str(&format!("&version={v}"));
    }
    let mut req = super::push_cmd::agent().get(&url);
    if let Some(t) = &args.token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut res = match req.call() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: could not reach {url}: {e}");
            return Outcome::Failed;
        }
    };
    let status = res.status().as_u16();
    let body: serde_json::Value = match res.body_mut().with_config().limit(256 << 20).read_json() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {url}: unreadable answer: {e}");
            return Outcome::Failed;
        }
    };
    if status != 200 {
        eprintln!(
            "refused ({status} {}): {}",
            body["error"]["code"].as_str().unwrap_or("?"),
            body["error"]["message"].as_str().unwrap_or("")
        );
        // A profile of another class is a wrong question (exit 2), as offline.
        let wrong_class = body["error"]["code"] == fit::ClassMismatch::CODE;
        return if status >= 500 || wrong_class { Outcome::Failed } else { Outcome::Refused };
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
        return Outcome::Ok;
    }
    if let Some(materials) = body["materials"].as_array() {
        println!(
            "{} {} (issued by {}) — {}\n",
            body["profile"]["id"].as_str().unwrap_or(""),
            body["profile"]["version"].as_str().unwrap_or(""),
            body["profile"]["issuer"].as_str().unwrap_or(""),
            body["profile"]["title"].as_str().unwrap_or("")
        );
        println!(
            "{:>4}  {:<48} {:<14} {:>6} {:>7} {:>5}  material id",
            "rank", "material", "verdict", "met", "not met", "open"
        );
        for m in materials {
            println!(
                "{:>4}  {:<48} {:<14} {:>6} {:>7} {:>5}  {}",
                m["rank"],
                format!(
                    "{} ({})",
                    m["material"]["designation"].as_str().unwrap_or(""),
                    m["material"]["producer"].as_str().unwrap_or("")
                ),
                m["verdict"].as_str().unwrap_or(""),
                format!("{}/{}", m["met"], m["total"]),
                m["not_met"],
                m["open"],
                m["material"]["id"].as_str().unwrap_or("")
            );
        }
        return Outcome::Ok;
    }
    match serde_json::from_value::<fit::FitReport>(body) {
        Ok(report) => print!("{}", fit::render_text(&report)),
        Err(e) => {
            eprintln!("error: unexpected report shape: {e}");
            return Outcome::Failed;
        }
    }
    Outcome::Ok
}

#[derive(Args, Debug)]
pub struct EquivalencyArgs {
    /// The qualified base: package files about the material.
    #[arg(long, required = true, num_args = 1..)]
    qualified: Vec<PathBuf>,
    /// The new source's package (a second site, a new lot).
    #[arg(long)]
    sample: PathBuf,
    /// Significance level of the tests.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Print the result as JSON (for scripts).
    #[arg(long)]
    json: bool,
}

fn verified_evidence(path: &Path) -> Result<Evidence, Outcome> {
    match verify_file(path, Limits::default()) {
        Ok(v) => Ok(fit::evidence_from_verified(&v)),
        Err(rejection) => {
            eprintln!("{}: refused:\n{rejection}", path.display());
            Err(Outcome::Refused)
        }
    }
}

pub(super) fn equivalency(args: EquivalencyArgs) -> Outcome {
    if !(args.alpha > 0.0 && args.alpha < 0.5) {
        eprintln!("error: --alpha must be between 0 and 0.5");
        return Outcome::Failed;
    }
    let mut qualified = Vec::new();
    for p in &args.qualified {
        match verified_evidence(p) {
            Ok(e) => qualified.push(e),
            Err(o) => return o,
        }
    }
    let sample = match verified_evidence(&args.sample) {
        Ok(e) => e,
        Err(o) => return o,
    };
    let report = fit::equivalency(&qualified, &sample, args.alpha);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        println!(
            "equivalency of {} against {} package(s), alpha {}",
            report.sample,
            report.qualified.len(),
            report.alpha
        );
        println!(
            "{:<30} {:<14} {:>8} {:>4} {:>4}  {:<6} detail",
            "property", "dataset", "T (°C)", "n", "n_q", "result"
        );
        for p in &report.properties {
            println!(
                "{:<30} {:<14} {:>8} {:>4} {:>4}  {:<6} {}",
                p.property,
                p.dataset,
                p.temperature_c.map(|t| format!("{t:.0}")).unwrap_or_else(|| "—".into()),
                p.sample_specimens,
                p.qualified_specimens,
                match p.pass {
                    Some(true) => "pass",
                    Some(false) => "FAIL",
                    None => "—",
                },
                p.note
            );
        }
        println!("overall: {}", if report.pass { "equivalent" } else { "not shown equivalent" });
    }
    if report.pass { Outcome::Ok } else { Outcome::Refused }
}

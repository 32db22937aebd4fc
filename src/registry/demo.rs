//! `prequal serve --demo`: loads the sample packages with their (fictional) organisations and
//! test keys, plus a demo operator and a demo OEM, so a new user sees real content at once.
//! Loading is idempotent: a second start finds everything in place.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::auth::{OrgKind, Principal, Role};
use super::error::RegistryError;
use super::views::{NewKey, NewOrganisation, NewToken};
use super::{Registry, Upload};

#[derive(Deserialize)]
struct Samples {
    organisations: Vec<SampleOrg>,
    packages: Vec<SamplePackage>,
}

#[derive(Deserialize)]
struct SampleOrg {
    id: String,
    name: String,
    kind: OrgKind,
    country: String,
    public_key: String,
}

#[derive(Deserialize)]
struct SamplePackage {
    package: String,
    signers: Vec<String>,
}

/// What the demo loader did.
#[derive(Debug, Default)]
pub struct DemoReport {
    pub organisations_added: usize,
    pub packages_published: usize,
    pub packages_present: usize,
    /// Where the demo tokens were written, when they were created by this run.
    pub tokens_file: Option<PathBuf>,
    pub operator_token: Option<String>,
}

/// Demo organisations that are not labs: who runs the registry and who reads it.
const DEMO_ORGS: [(&str, &str, OrgKind, &str); 2] = [
    ("demo-operator", "Demo registry operator", OrgKind::Operator, "US"),
    ("demo-oem", "Demo OEM (fictional motor and pack maker)", OrgKind::Oem, "DE"),
];

/// The folder holding `samples.json`: the one given, else `./sample-packages`, else the one
/// in the source tree this binary was built from.
pub fn find_samples(given: Option<&Path>) -> Result<PathBuf, RegistryError> {
    let candidates: Vec<PathBuf> = match given {
        Some(p) => vec![p.to_path_buf()],
        None => vec![PathBuf::from("sample-packages"), Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-packages")],
    };
    candidates.into_iter().find(|p| p.join("samples.json").is_file()).ok_or_else(|| {
        RegistryError::bad_request(
            "no sample-packages/samples.json found; pass --samples DIR (the repository's sample-packages folder)",
        )
    })
}

pub fn load(registry: &Registry, samples_dir: &Path, data_dir: &Path) -> Result<DemoReport, RegistryError> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| RegistryError::bad_request(format!("{}: {e}", p.display())));
    let samples: Samples = serde_json::from_slice(&read(&samples_dir.join("samples.json"))?)
        .map_err(|e| RegistryError::bad_request(format!("samples.json: {e}")))?;
    let mut report = DemoReport::default();
    let mut orgs: Vec<NewOrganisation> = DEMO_ORGS
        .iter()
        .map(|(id, name, kind, country)| NewOrganisation {
            id: (*id).to_owned(),
            name: (*name).to_owned(),
            kind: *kind,
            country: (*country).to_owned(),
        })
        .collect();
    orgs.extend(samples.organisations.iter().map(|o| NewOrganisation {
        id: o.id.clone(),
        name: o.name.clone(),
        kind: o.kind,
        country: o.country.clone(),
    }));
    for org in &orgs {
        match registry.create_organisation(org) {
            Ok(_) => report.organisations_added += 1,
            Err(RegistryError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    for o in &samples.organisations {
        match registry.add_key(&o.id, &NewKey { public_key: o.public_key.clone() }) {
            Ok(_) | Err(RegistryError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    for p in &samples.packages {
        let Some(lab) = samples.organisations.iter().find(|o| Some(&o.id) == p.signers.first()) else {
            return Err(RegistryError::bad_request(format!("{}: no signing lab listed", p.package)));
        };
        let bytes = read(&samples_dir.join(&p.package))?;
        let mut file = registry.store.blobs.temp_file().map_err(|e| RegistryError::Unavailable(e.to_string()))?;
        file.write_all(&bytes).map_err(|e| RegistryError::Unavailable(e.to_string()))?;
        let upload = Upload { file, sha256_hex: hex::encode(Sha256::digest(&bytes)), size: bytes.len() as u64 };
        let loader = Principal {
            token_id: "demo-loader".into(),
            organisation: lab.id.clone(),
            country: lab.country.clone(),
            role: Role::Lab,
        };
        let (_, created) = registry.publish(&loader, upload)?;
        if created {
            report.packages_published += 1;
        } else {
            report.packages_present += 1;
        }
    }
    let tokens_file = data_dir.join("demo-tokens.json");
    if !tokens_file.exists() {
        let mut tokens = serde_json::Map::new();
        let mut wanted: Vec<(String, Role)> =
            vec![("demo-operator".into(), Role::Operator), ("demo-oem".into(), Role::Reader)];
        for o in &samples.organisations {
            let role = if o.kind == OrgKind::Certifier { Role::Certifier } else { Role::Lab };
            wanted.push((o.id.clone(), role));
        }
        for (org, role) in wanted {
            let created = registry.create_token(&NewToken { organisation: org.clone(), role, label: "demo".into() })?;
            if role == Role::Operator {
                report.operator_token = Some(created.token.clone());
            }
            tokens.insert(org, serde_json::json!({"role": role.as_str(), "token": created.token}));
        }
        crate::package::signing::write_new_private_file(
            &tokens_file,
            &serde_json::to_vec_pretty(&tokens).unwrap_or_default(),
        )
        .map_err(|e| RegistryError::Unavailable(format!("{}: {e}", tokens_file.display())))?;
        report.tokens_file = Some(tokens_file);
    }
    Ok(report)
}

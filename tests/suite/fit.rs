#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The fit engine on the sample packages gives the outcomes an engineer expects from the data,
//! every number cites its datasets, gaps come with the tests still needed, and units do not
//! change answers.

use crate::common;

use std::collections::BTreeMap;

use common::samples_dir;
use prequal::fit::{self, Evidence, FitReport, MaterialRef, Status, Verdict};
use prequal::package::{Limits, verify_file};
use prequal::profile::{self, Profile};

fn sample(name: &str) -> (MaterialRef, Evidence) {
    let v = verify_file(&samples_dir().join("packages").join(format!("{name}.zip")), Limits::default()).unwrap();
    let m = v.manifest();
    let material = MaterialRef {
        id: fit::material_id(&m.material.producer.name, &m.material.designation),
        designation: m.material.designation.clone(),
        producer: m.material.producer.name.clone(),
        material_class: m.material.class.as_str().to_owned(),
    };
    (material, fit::evidence_from_verified(&v))
}

fn builtin(id: &str) -> Profile {
    profile::builtin().unwrap().into_iter().find(|p| p.id == id).unwrap()
}

fn report(profile: &str, sample_name: &str) -> FitReport {
    let (m, ev) = sample(sample_name);
    fit::fit(&builtin(profile), m, &[ev])
}

fn statuses(r: &FitReport) -> BTreeMap<String, Status> {
    r.requirements.iter().map(|x| (x.id.clone(), x.status)).collect()
}

fn check_traceable(r: &FitReport) {
    for req in &r.requirements {
        if req.value.is_some() && req.matching == "measured" {
            let cited: usize = req.citations.iter().map(|c| c.specimens).sum();
            assert_eq!(cited, req.specimens, "{}: every specimen is cited", req.id);
            assert!(req.citations.iter().all(|c| c.digest.starts_with("sha256:") && !c.dataset.is_empty()));
        }
        assert!(!req.explanation.is_empty(), "{}: explained", req.id);
    }
}

#[test]
fn ev_180c_sh_grade_runs_out_of_coercivity_while_the_diffused_grade_holds() {
    let sh = report("ev-traction-magnet-180c", "ndfeb-n42sh-baseline");
    let gbd = report("ev-traction-magnet-180c", "ndfeb-gbd-dy-uh");
    let ferrite = report("ev-traction-magnet-180c", "ferrite-sr-y30bh");
    for r in [&sh, &gbd, &ferrite] {
        check_traceable(r);
    }
    assert_eq!(statuses(&sh)["hcj-180"], Status::NotMet, "{}", fit::render_text(&sh));
    assert_eq!(sh.verdict, Verdict::NotQualified);
    let hcj = sh.requirements.iter().find(|r| r.id == "hcj-180").unwrap();
    assert!(hcj.value.unwrap() < 650.0 && hcj.margin.unwrap() < -150.0, "{hcj:?}");
    assert!(hcj.model.is_some(), "a B-basis names its statistical model");

    let s = statuses(&gbd);
    assert_eq!(s["hcj-180"], Status::Met, "{}", fit::render_text(&gbd));
    assert_eq!(s["br-180"], Status::Met);
    assert_eq!(s["bhmax-180"], Status::Met);
    // Flux loss was measured after exposure at 150 °C only: the 180 °C requirement is a gap.
    assert_eq!(s["flux-loss-180"], Status::NotTested);
    assert_eq!(gbd.verdict, Verdict::Incomplete);
    let plan: Vec<&str> = gbd.remaining_tests.iter().map(|t| t.requirement.as_str()).collect();
    assert_eq!(plan, ["flux-loss-180"]);
    let t = &gbd.remaining_tests[0];
    assert_eq!((t.specimens_needed, t.batches_needed), (5, 2));
    assert!(t.standards.contains(&"IEC TR 62518".to_owned()));
    assert!(gbd.reuse.specimens_reused >= 45 && gbd.reuse.requirements_met == 4, "{:?}", gbd.reuse);
    let hcj = gbd.requirements.iter().find(|r| r.id == "hcj-180").unwrap();
    let (v, mean) = (hcj.value.unwrap(), 945.8);
    assert!(v < mean && v > 900.0, "B-basis below the mean: {v}");

    assert_eq!(statuses(&ferrite)["br-180"], Status::NotMet, "ferrite falls short on remanence");
    assert_eq!(ferrite.verdict, Verdict::NotQualified);
}

#[test]
fn ev_150c_both_ndfeb_grades_qualify() {
    for name in ["ndfeb-n42sh-baseline", "ndfeb-gbd-dy-uh"] {
        let r = report("ev-traction-magnet-150c", name);
        check_traceable(&r);
        assert_eq!(r.verdict, Verdict::Qualified, "{name}:\n{}", fit::render_text(&r));
        assert!(r.remaining_tests.is_empty());
    }
}

#[test]
fn loudspeaker_profile_demands_both_ends_and_interpolates_only_inside_the_tested_range() {
    let ferrite = report("loudspeaker-magnet", "ferrite-sr-y30bh");
    check_traceable(&ferrite);
    assert_eq!(ferrite.verdict, Verdict::Qualified, "{}", fit::render_text(&ferrite));
    let hot = ferrite.requirements.iter().find(|r| r.id == "hcj-hot").unwrap();
    assert_eq!(hot.matching, "interpolated");
    assert!(hot.explanation.contains("between 20") && hot.explanation.contains("150"), "{}", hot.explanation);
    let cold = ferrite.requirements.iter().find(|r| r.id == "hcj-cold").unwrap();
    assert_eq!(cold.matching, "measured");
    assert!((cold.value.unwrap() - 196.4).abs() < 0.5, "minimum of the -40 °C specimens");

    // Iron nitride was never tested in the cold: no extrapolation, a remaining test instead.
    let fen = report("loudspeaker-magnet", "iron-nitride-fe16n2-illustrative");
    let s = statuses(&fen);
    assert_eq!(s["hcj-cold"], Status::NotTested, "{}", fit::render_text(&fen));
    assert_eq!(fen.verdict, Verdict::Incomplete);
    let cold = fen.requirements.iter().find(|r| r.id == "hcj-cold").unwrap();
    assert!(cold.explanation.contains("tested at 20"), "{}", cold.explanation);
    assert_eq!(fen.remaining_tests[0].requirement, "hcj-cold");
}

#[test]
fn cells_against_storage_and_traction_profiles() {
    let lfp = report("stationary-storage-cell", "lfp-cell-prismatic");
    check_traceable(&lfp);
    let s = statuses(&lfp);
    assert_eq!(s["propagation"], Status::NotTested, "{}", fit::render_text(&lfp));
    assert_eq!(s["cycle-life-25"], Status::Met);
    assert_eq!(lfp.verdict, Verdict::Incomplete);
    assert_eq!(lfp.remaining_tests.len(), 1);
    assert!(lfp.remaining_tests[0].standards.contains(&"UL 9540A".to_owned()));

    let na = report("ev-traction-cell", "sodium-ion-cell-cylindrical");
    assert_eq!(statuses(&na)["energy"], Status::NotMet, "{}", fit::render_text(&na));
    let lfp_ev = report("ev-traction-cell", "lfp-cell-prismatic");
    assert_eq!(lfp_ev.verdict, Verdict::Qualified, "{}", fit::render_text(&lfp_ev));
    // DCIR is "at most": the basis is an upper bound, above the mean.
    let dcir = lfp_ev.requirements.iter().find(|r| r.id == "dcir").unwrap();
    assert!(dcir.value.unwrap() > 0.4221, "{dcir:?}");
}

#[test]
fn ranking_puts_the_diffused_grade_first_at_180c() {
    let materials: Vec<(MaterialRef, Vec<Evidence>)> =
        ["ndfeb-n42sh-baseline", "ndfeb-gbd-dy-uh", "ferrite-sr-y30bh", "iron-nitride-fe16n2-illustrative"]
            .iter()
            .map(|n| {
                let (m, e) = sample(n);
                (m, vec![e])
            })
            .collect();
    let ranked = fit::rank(&builtin("ev-traction-magnet-180c"), materials);
    let order: Vec<&str> = ranked.iter().map(|(e, _)| e.material.designation.as_str()).collect();
    assert_eq!(order[0], "40UH-GBD (fictional grade name)", "{order:?}");
    assert_eq!(ranked[0].0.rank, 1);
    assert!(ranked.iter().skip(1).all(|(e, _)| e.verdict == Verdict::NotQualified));
}

#[test]
fn units_do_not_change_answers() {
    // The 180 °C profile restated in kOe, MGOe and °F gives the same statuses and values.
    let base = builtin("ev-traction-magnet-180c");
    let mut restated = base.clone();
    for r in &mut restated.requirements {
        match r.unit.as_str() {
            "kA/m" => {
                r.threshold /= 79.577_471_545_947_67;
                r.unit = "kOe".into();
            }
            "kJ/m3" => {
                r.threshold /= 7.957_747_154_594_767;
                r.unit = "MG.Oe".into();
            }
            _ => {}
        }
        if let Some(t) = r.conditions.get_mut("temperature") {
            t.value = t.value * 9.0 / 5.0 + 32.0;
            t.tolerance *= 9.0 / 5.0;
            t.unit = "[degF]".into();
        }
    }
    restated.check("restated").unwrap();
    let mut wrong = base.clone();
    wrong.requirements[0].unit = "MGOe".into();
    assert!(wrong.check("wrong").is_err(), "an unknown unit is refused, never read as zero evidence");
    let (m, ev) = sample("ndfeb-gbd-dy-uh");
    let a = fit::fit(&base, m.clone(), std::slice::from_ref(&ev));
    let b = fit::fit(&restated, m, &[ev]);
    for (x, y) in a.requirements.iter().zip(&b.requirements) {
        assert_eq!(x.status, y.status, "{}", x.id);
        if let (Some(vx), Some(vy)) = (x.value, y.value) {
            let factor = match y.unit.as_str() {
                "kOe" => 79.577_471_545_947_67,
                "MG.Oe" => 7.957_747_154_594_767,
                _ => 1.0,
            };
            assert!((vx - vy * factor).abs() < 1e-6 * vx.abs().max(1.0), "{}: {vx} vs {vy}", x.id);
        }
    }
}

fn second_site(dir: &std::path::Path, name: &str, hcj_factor: f64) -> std::path::PathBuf {
    common::second_site_package(dir, name, hcj_factor, &common::test_key(1))
}

#[test]
fn equivalency_of_a_second_site() {
    let dir = tempfile::tempdir().unwrap();
    let qualified = vec![sample("ndfeb-n42sh-baseline").1];
    let evidence = |p: &std::path::Path| fit::evidence_from_verified(&verify_file(p, Limits::default()).unwrap());

    let same = evidence(&second_site(dir.path(), "site-b-same", 1.0));
    let r = fit::equivalency(&qualified, &same, 0.05);
    assert!(r.pass, "{r:#?}");
    let hcj: Vec<_> = r.properties.iter().filter(|p| p.property == "intrinsic_coercivity").collect();
    assert_eq!(hcj.len(), 3, "20, 150 and 180 °C");
    assert!(hcj.iter().all(|p| p.sample_specimens == 15 && p.qualified_specimens == 15));

    let weaker = evidence(&second_site(dir.path(), "site-b-weaker", 0.93));
    let r = fit::equivalency(&qualified, &weaker, 0.05);
    assert!(!r.pass);
    for p in &r.properties {
        let expect = p.property != "intrinsic_coercivity";
        assert_eq!(p.pass, Some(expect), "{}: {}", p.property, p.note);
    }
    let p = r.properties.iter().find(|p| p.property == "intrinsic_coercivity").unwrap();
    assert!(p.mean_limit.unwrap() < 1651.0 && p.sample_mean.unwrap() < p.mean_limit.unwrap(), "{p:?}");
    // Lower-is-better properties are tested on the maximum individual.
    assert_eq!(fit::better_side("irreversible_flux_loss"), prequal::stats::Side::Upper);
}

#[test]
fn another_site_joins_the_evidence_only_through_equivalency() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = |p: &std::path::Path| fit::evidence_from_verified(&verify_file(p, Limits::default()).unwrap());
    let (m, base) = sample("ndfeb-n42sh-baseline");
    let profile = builtin("ev-traction-magnet-150c");
    let alone = fit::fit(&profile, m.clone(), std::slice::from_ref(&base));
    assert_eq!(alone.sources.len(), 1);
    assert_eq!(alone.sources[0].role, fit::SourceRole::Baseline);

    // A site whose coercivity is 7 % lower fails equivalency: kept apart, not pooled.
    let weaker = evidence(&second_site(dir.path(), "site-b-weaker", 0.93));
    let r = fit::fit(&profile, m.clone(), &[base.clone(), weaker]);
    let roles: Vec<fit::SourceRole> = r.sources.iter().map(|s| s.role).collect();
    assert_eq!(roles, [fit::SourceRole::Baseline, fit::SourceRole::KeptApart], "{:#?}", r.sources);
    let apart = &r.sources[1];
    assert!(apart.source.contains("Plant B"), "{}", apart.source);
    assert!(
        apart.reason.contains("not equivalent") && apart.reason.contains("intrinsic_coercivity"),
        "{}",
        apart.reason
    );
    assert_eq!(apart.equivalency.len(), 1);
    assert!(!apart.equivalency[0].pass);
    assert_eq!(r.packages.len(), 1, "only the baseline is pooled: {:?}", r.packages);
    assert!(r.summary.contains("kept apart"), "{}", r.summary);
    assert!(r.ignored.iter().any(|i| i.contains("site-b-weaker") && i.contains("kept apart")), "{:?}", r.ignored);
    for (a, b) in alone.requirements.iter().zip(&r.requirements) {
        assert_eq!((a.status, a.value, a.specimens), (b.status, b.value, b.specimens), "{}", a.id);
    }
    assert_eq!(r.verdict, alone.verdict);

    // A site that reproduces the results passes: pooled, and its datasets are cited.
    let same = evidence(&second_site(dir.path(), "site-b-same", 1.0));
    let r = fit::fit(&profile, m, &[base, same]);
    let roles: Vec<fit::SourceRole> = r.sources.iter().map(|s| s.role).collect();
    assert_eq!(roles, [fit::SourceRole::Baseline, fit::SourceRole::Equivalent]);
    assert!(r.sources[1].reason.contains("equivalent to the baseline"), "{}", r.sources[1].reason);
    assert_eq!(r.packages.len(), 2);
    let hcj = r.requirements.iter().find(|x| x.property == "intrinsic_coercivity").unwrap();
    let cited: std::collections::BTreeSet<&str> = hcj.citations.iter().map(|c| c.package.as_str()).collect();
    assert_eq!(cited.len(), 2, "{:?}", hcj.citations);
}

#[test]
fn ranking_many_materials_in_parallel_matches_one_by_one() {
    let (m, ev) = sample("ndfeb-gbd-dy-uh");
    let (m2, ev2) = sample("ndfeb-n42sh-baseline");
    let profile = builtin("ev-traction-magnet-180c");
    let materials: Vec<(MaterialRef, Vec<Evidence>)> = (0..100)
        .map(|i| {
            let (base, e) = if i % 2 == 0 { (&m, &ev) } else { (&m2, &ev2) };
            let mut mr = base.clone();
            mr.id = format!("{}-{i:03}", base.id);
            (mr, vec![e.clone()])
        })
        .collect();
    let ranked = fit::rank(&profile, materials.clone());
    assert_eq!(ranked.len(), 100);
    assert!(ranked.iter().take(50).all(|(e, _)| e.material.id.contains("40uh")), "diffused grades first");
    for (entry, report) in &ranked {
        let (mr, e) = materials.iter().find(|(mr, _)| mr.id == entry.material.id).unwrap();
        assert_eq!(*report, fit::fit(&profile, mr.clone(), e), "{}", mr.id);
    }
    let ranks: Vec<usize> = ranked.iter().map(|(e, _)| e.rank).collect();
    assert_eq!(ranks, (1..=100).collect::<Vec<_>>());
}

/// Curves are not properties: the N42SH sample with its demagnetisation curves removed gives the
/// same evidence and the same fit report, number for number, for every magnet profile.
#[test]
fn demagnetisation_curves_do_not_change_evidence_or_fits() {
    // Signed by the sample's own signers, so the citations match too.
    let key = |org: &str| {
        prequal::package::SecretKey::read(&samples_dir().join(format!("keys/test-only-{org}.secret.json"))).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let without = common::custom_package_with_files(
        dir.path(),
        "ndfeb-n42sh-baseline",
        "no-curves",
        |m| {
            m.as_object_mut().unwrap().remove("curves").unwrap();
        },
        |src| std::fs::remove_dir_all(src.join("curves")).unwrap(),
        &[&key("test-magnetics-lab"), &key("test-certifier")],
    );
    let plain = verify_file(&without, Limits::default()).unwrap();
    assert!(plain.curves().is_empty());
    let plain_ev = fit::evidence_from_verified(&plain);
    let (material, with_ev) = sample("ndfeb-n42sh-baseline");
    assert_ne!(plain_ev.digest, with_ev.digest);
    assert_eq!(plain_ev.datasets, with_ev.datasets);
    let magnet_profiles: Vec<Profile> =
        profile::builtin().unwrap().into_iter().filter(|p| p.material_class.as_str() == "permanent_magnet").collect();
    assert!(magnet_profiles.len() >= 2);
    for p in &magnet_profiles {
        let with = serde_json::to_string(&fit::fit(p, material.clone(), std::slice::from_ref(&with_ev))).unwrap();
        let plain = serde_json::to_string(&fit::fit(p, material.clone(), std::slice::from_ref(&plain_ev))).unwrap();
        assert!(with.contains(&with_ev.digest), "the report cites the package");
        assert_eq!(with.replace(&with_ev.digest, &plain_ev.digest), plain, "{}", p.id);
    }
}

mod unit_invariance {
    //! The same data and requirement written in any compatible unit give the same verdict and
    //! the same basis value, converted, to 1e-9 relative (basis values are computed in SI, on
    //! the absolute temperature scale).
    use std::sync::Arc;

    use prequal::fit::{self, Evidence, EvidenceDataset, EvidenceRow, MaterialRef};
    use prequal::profile::Profile;
    use prequal::units::Unit;
    use proptest::prelude::*;

    /// (property, unit codes of one dimension, a plausible SI centre, class)
    const CASES: [(&str, [&str; 3], f64, &str); 3] = [
        ("thermal_runaway_onset", ["Cel", "K", "[degF]"], 473.15, "battery_cell"),
        ("intrinsic_coercivity", ["kA/m", "kOe", "A/m"], 1.6e6, "permanent_magnet"),
        ("remanence", ["T", "kG", "mT"], 1.3, "permanent_magnet"),
    ];

    fn profile(property: &str, class: &str, unit: &str, threshold: f64, basis: &str, comparator: &str) -> Profile {
        let json = serde_json::json!({
            "id": "unit-check", "version": "1.0.0", "title": "unit check", "application": "test",
            "issuing_body": "test", "material_class": class,
            "requirements": [{
                "id": "r", "property": property, "comparator": comparator, "threshold": threshold,
                "unit": unit, "conditions": { "temperature": { "value": 60.0, "unit": "Cel", "tolerance": 5.0 } },
                "basis": basis, "min_specimens": 5, "min_batches": 1, "standards": ["IEC 62619"],
                "criticality": "critical"
            }]
        });
        Profile::parse("unit-check", json.to_string().as_bytes()).unwrap()
    }

    fn evidence(property: &str, unit: &str, values_si: &[f64], batches: usize) -> Evidence {
        let u = Unit::parse(unit).unwrap();
        let conditions = Arc::new([("temperature".to_owned(), (333.15, "K".to_owned()))].into_iter().collect());
        Evidence {
            digest: "sha256:00".into(),
            name: "p".into(),
            version: "1".into(),
            organisation: "lab".into(),
            signers: Vec::new(),
            source: Default::default(),
            datasets: vec![EvidenceDataset {
                id: "d".into(),
                property: property.into(),
                unit: unit.into(),
                standard: "IEC 62619:2022".into(),
                rows: values_si
                    .iter()
                    .enumerate()
                    .map(|(i, v)| EvidenceRow {
                        specimen: format!("s{i}"),
                        batch: Arc::from(format!("b{}", i % batches).as_str()),
                        value: u.from_si(*v),
                        conditions: Arc::clone(&conditions),
                    })
                    .collect(),
            }],
        }
    }

    fn material(class: &str) -> MaterialRef {
        MaterialRef { id: "m".into(), designation: "m".into(), producer: "p".into(), material_class: class.into() }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn same_answer_in_every_unit(
            case in 0usize..3,
            spread in prop::collection::vec(-1.0f64..1.0, 5..30),
            batches in 1usize..4,
            basis in prop::sample::select(vec!["typical", "minimum", "b_basis", "a_basis"]),
            comparator in prop::sample::select(vec!["at_least", "at_most"]),
            offset in -0.2f64..0.2,
            data_unit in 0usize..3,
            req_unit in 0usize..3,
        ) {
            let (property, units, centre, class) = CASES[case];
            let values: Vec<f64> = spread.iter().map(|d| centre * (1.0 + 0.05 * d)).collect();
            let threshold_si = centre * (1.0 + offset);
            let reference = Unit::parse(units[0]).unwrap();
            let restated = Unit::parse(units[req_unit]).unwrap();
            let p0 = profile(property, class, units[0], reference.from_si(threshold_si), basis, comparator);
            let p1 = profile(property, class, units[req_unit], restated.from_si(threshold_si), basis, comparator);
            let e0 = evidence(property, units[0], &values, batches);
            let e1 = evidence(property, units[data_unit], &values, batches);
            let r0 = fit::fit(&p0, material(class), &[e0]);
            let r1 = fit::fit(&p1, material(class), &[e1]);
            let (a, b) = (&r0.requirements[0], &r1.requirements[0]);
            prop_assert_eq!(a.status, b.status, "{} vs {}", a.explanation, b.explanation);
            prop_assert_eq!(r0.verdict, r1.verdict);
            prop_assert_eq!(&a.model, &b.model);
            if let (Some(va), Some(vb)) = (a.value, b.value) {
                let (sa, sb) = (reference.to_si(va), restated.to_si(vb));
                prop_assert!((sa - sb).abs() <= 1e-9 * sa.abs(), "{} {} vs {} {}", va, units[0], vb, units[req_unit]);
                let (pa, pb) = (a.margin_percent.unwrap(), b.margin_percent.unwrap());
                prop_assert!((pa - pb).abs() <= 1e-6 * pa.abs().max(1.0), "margin {} % vs {} %", pa, pb);
            }
        }
    }
}

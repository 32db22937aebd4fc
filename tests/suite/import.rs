//! `prequal import` through the real binary: exports written here from the formats' published
//! descriptions (BDF column labels and sign convention; a hysteresigraph's H, J, B columns with
//! units), values checked against closed-form answers computed independently of the importer,
//! refused exports leaving the folder untouched, and init → import → check → pack → sign → verify.

use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn prequal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prequal")).args(args).env("RUST_LOG", "off").output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn init(dir: &Path, class: &str) {
    ok(&prequal(&["init", "--class", class, s(dir)]));
}

/// Every file of a folder with its bytes: a refused import must leave this unchanged.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The `value` column of a dataset CSV, by specimen.
fn values(file: &Path) -> BTreeMap<String, f64> {
    let mut reader = csv::Reader::from_path(file).unwrap();
    let headers = reader.headers().unwrap().clone();
    let at = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (specimen, value) = (at("specimen"), at("value"));
    reader.records().map(|r| r.unwrap()).map(|r| (r[specimen].to_owned(), r[value].parse().unwrap())).collect()
}

const MU0: f64 = 4e-7 * PI;

/// A straight-line intrinsic curve J(H) = Br·(1 + H/HcJ), from H = +50 kA/m to −1.15·HcJ, 50
/// points; B = μ0·H + J. Closed form: HcB = Br/(Br/HcJ + μ0), (BH)max = Br²/(4·(Br/HcJ + μ0)) at
/// H = −Br/(2·(Br/HcJ + μ0)). Both J and B are straight lines in H, so interpolating between
/// points is exact and the importer must find these values to rounding.
struct Line {
    br_t: f64,
    hcj_a_per_m: f64,
}

impl Line {
    fn slope(&self) -> f64 {
        self.br_t / self.hcj_a_per_m + MU0
    }
    fn hcb_ka_per_m(&self) -> f64 {
        self.br_t / self.slope() / 1e3
    }
    fn bh_max_kj_per_m3(&self) -> f64 {
        self.br_t * self.br_t / (4.0 * self.slope()) / 1e3
    }
    fn points(&self) -> Vec<(f64, f64, f64)> {
        let (start, end) = (50e3, -1.15 * self.hcj_a_per_m);
        (0..50)
            .map(|i| {
                let h = start + (end - start) * i as f64 / 49.0;
                let j = self.br_t * (1.0 + h / self.hcj_a_per_m);
                (h, j, MU0 * h + j)
            })
            .collect()
    }
    /// The export in kA/m and T with both J and B.
    fn export_si(&self) -> String {
        let mut out = String::from("H (kA/m),J (T),B (T)\n");
        for (h, j, b) in self.points() {
            out.push_str(&format!("{:.6},{j:.7},{b:.7}\n", h / 1e3));
        }
        out
    }
    /// The export in CGS units (kOe, kG) with J only, as some hysteresigraphs write it.
    fn export_cgs(&self) -> String {
        let oersted = 1000.0 / (4.0 * PI);
        let mut out = String::from("Point,H [kOe],J [kG]\n");
        for (i, (h, j, _)) in self.points().into_iter().enumerate() {
            out.push_str(&format!("{i},{:.7},{:.7}\n", h / oersted / 1e3, j * 10.0));
        }
        out
    }
}

fn magnet_values(dir: &Path, tag: &str, specimen: &str) -> (f64, f64, f64, f64) {
    let v = |name: &str| values(&dir.join(format!("datasets/{name}-{tag}c.csv")))[specimen];
    (v("remanence"), v("hcj"), v("hcb"), v("bhmax"))
}

#[test]
fn hysteresis_export_gives_the_closed_form_values_of_a_straight_line_curve() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("magnet");
    init(&src, "permanent_magnet");
    let n42sh = Line { br_t: 1.30, hcj_a_per_m: 1600e3 };
    let ferrite = Line { br_t: 0.39, hcj_a_per_m: 240e3 };
    let (a, b) = (tmp.path().join("S01.csv"), tmp.path().join("S02.csv"));
    std::fs::write(&a, n42sh.export_si()).unwrap();
    std::fs::write(&b, ferrite.export_cgs()).unwrap();

    ok(&prequal(&["import", "hysteresis", s(&a), "--into", s(&src), "--temperature", "20Cel", "--batch", "L1"]));
    // The second specimen joins the same curve file and datasets (K, CGS units, J only).
    ok(&prequal(&["import", "hysteresis", s(&b), "--into", s(&src), "--temperature", "293.15K"]));

    for (specimen, line) in [("S01", &n42sh), ("S02", &ferrite)] {
        let (br, hcj, hcb, bh) = magnet_values(&src, "20", specimen);
        assert!((br - line.br_t).abs() < 2e-4, "{specimen} Br {br}");
        assert!((hcj - line.hcj_a_per_m / 1e3).abs() < 0.02, "{specimen} HcJ {hcj}");
        assert!((hcb - line.hcb_ka_per_m()).abs() < 0.02, "{specimen} HcB {hcb} vs {}", line.hcb_ka_per_m());
        assert!((bh - line.bh_max_kj_per_m3()).abs() < 0.02, "{specimen} (BH)max {bh} vs {}", line.bh_max_kj_per_m3());
    }
    // Worked numbers, so a reader can check the closed form by hand: N42SH-like line.
    assert!((n42sh.hcb_ka_per_m() - 1.3 / (1.3 / 1.6e6 + MU0) / 1e3).abs() < 1e-9);

    let curve = std::fs::read_to_string(src.join("curves/demag-20.csv")).unwrap();
    assert_eq!(curve.lines().count(), 1 + 100, "header and 50 points per specimen");
    assert!(curve.starts_with("specimen,batch,H,J,B\nS01,L1,50.0000,"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join("prequal.json")).unwrap()).unwrap();
    let curves = manifest["curves"].as_array().unwrap();
    assert_eq!(curves.len(), 1);
    assert_eq!(curves[0]["kind"], "J-H+B-H");
    assert_eq!(curves[0]["temperature"]["value"], 20.0);
    let hcj = manifest["datasets"].as_array().unwrap().iter().find(|d| d["id"] == "hcj-20c").unwrap();
    assert!(hcj["description"].as_str().unwrap().contains("linearly interpolated"), "{hcj}");
    assert_eq!(manifest["material"]["lots"], serde_json::json!([{"id": "L1"}]));

    // The same specimen twice is refused, nothing written.
    let before = snapshot(&src);
    let out = prequal(&["import", "hysteresis", s(&a), "--into", s(&src), "--temperature", "20Cel"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[import_conflict]"));
    assert_eq!(snapshot(&src), before);
}

#[test]
fn refused_exports_name_file_line_and_column_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let magnet = tmp.path().join("magnet");
    init(&magnet, "permanent_magnet");
    let cell = tmp.path().join("cell");
    init(&cell, "battery_cell");
    let line = Line { br_t: 1.3, hcj_a_per_m: 1000e3 };
    let good = line.export_si();
    let mut rows: Vec<String> = good.lines().map(str::to_owned).collect();
    rows[4] = "-12.5,1.2x,1.18".into();
    let non_numeric = rows.join("\n") + "\n";
    let no_polarisation = good.replace("J (T),B (T)", "M (T),Q (T)");
    // Stops at −0.5·HcJ: J never reaches 0 in the second quadrant.
    let short: String = good.lines().take(25).map(|l| format!("{l}\n")).collect();
    // Demagnetising field written as positive magnitudes: no second quadrant at all.
    let mirrored = "H (kA/m),J (T)\n0,1.3\n500,0.65\n1000,0\n1100,-0.13\n".to_owned();

    let bdf_good = bdf_export(&[2.0, 1.9]);
    let bdf_non_numeric = bdf_good.replacen("\n7200,3.6,1,1,", "\n7200,3.6,1,one,", 1);
    let bdf_no_current = bdf_good.replace("Current / A", "Current / mA");

    // B disagrees with μ0·H + J on line 4 (the third point).
    let mut rows: Vec<String> = good.lines().map(str::to_owned).collect();
    let cells: Vec<&str> = rows[3].split(',').collect();
    rows[3] = format!("{},{},0.2", cells[0], cells[1]);
    let inconsistent = rows.join("\n") + "\n";

    let cases: [(&Path, &str, String, &str, &str); 8] = [
        (&magnet, "hysteresis", inconsistent, "curve_inconsistent", "line 4, column 'B'"),
        (&magnet, "hysteresis", non_numeric, "csv_not_numeric", "line 5, column 'J (T)'"),
        (&magnet, "hysteresis", no_polarisation, "csv_invalid", "missing column 'J (unit)' or 'B (unit)'"),
        (&magnet, "hysteresis", short, "import_not_derivable", "cannot derive HcJ"),
        (&magnet, "hysteresis", mirrored, "import_not_derivable", "second-quadrant"),
        (&cell, "bdf", bdf_non_numeric, "csv_not_numeric", "line 3, column 'Cycle Count / 1'"),
        (&cell, "bdf", bdf_no_current, "csv_invalid", "missing column 'Current / A'"),
        (&cell, "bdf", bdf_export(&[0.0]), "import_not_derivable", "no cycle discharges"),
    ];
    for (dir, importer, text, code, detail) in cases {
        let export = tmp.path().join("export.csv");
        std::fs::write(&export, &text).unwrap();
        let before = snapshot(dir);
        let mut args = vec!["import", importer, s(&export), "--into", s(dir), "--batch", "L1"];
        if importer == "hysteresis" {
            args.extend(["--temperature", "20Cel"]);
        }
        let out = prequal(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{importer} {code}: {stderr}");
        assert!(stderr.contains(&format!("[{code}]")), "{code}: {stderr}");
        assert!(stderr.contains(detail), "{detail}: {stderr}");
        assert!(stderr.contains(s(&export)), "the message names the file: {stderr}");
        assert!(stderr.contains("nothing written"), "{stderr}");
        assert_eq!(snapshot(dir), before, "{importer} {code}: the folder changed");
    }
    // The wrong class of folder is refused too.
    let export = tmp.path().join("good.csv");
    std::fs::write(&export, &good).unwrap();
    let out = prequal(&["import", "hysteresis", s(&export), "--into", s(&cell), "--temperature", "20Cel"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("permanent_magnet"));
}

/// A BDF export of constant-current cycles at 25 °C: charge at +1 A for 2 h (BDF: positive current
/// charges), then discharge at −1 A for `hours[k]` h from 3.5 V to 2.5 V. Cycle k's discharge
/// capacity is hours[k] A·h and its energy 3.0 V × hours[k] W·h (trapezoids are exact on lines).
fn bdf_export(hours: &[f64]) -> String {
    let mut out = String::from(
        "Test Time / s,Voltage / V,Current / A,Cycle Count / 1,Step Count / 1,Ambient Temperature / degC\n",
    );
    let mut t = 0.0;
    let mut step = 0;
    for (k, h) in hours.iter().enumerate() {
        let cycle = k + 1;
        step += 1;
        out.push_str(&format!("{t},3.0,1,{cycle},{step},24.5\n"));
        t += 7200.0;
        out.push_str(&format!("{t},3.6,1,{cycle},{step},25.5\n"));
        step += 1;
        out.push_str(&format!("{t},3.5,-1,{cycle},{step},24.5\n"));
        t += h * 3600.0;
        out.push_str(&format!("{t},2.5,-1,{cycle},{step},25.5\n"));
    }
    out
}

#[test]
fn bdf_exports_give_capacity_cycle_life_and_energy_density() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("cell");
    init(&src, "battery_cell");
    // Fades 5 % of the first capacity per cycle: 2.0, 1.9, … 1.6 (80 %), 1.5: four cycles above
    // and the fifth at exactly 80 % (not below), so the cycle life is 5.
    let fading: Vec<f64> = (0..8).map(|k| 2.0 - 0.1 * k as f64).collect();
    let steady = [2.0, 1.98, 1.96];
    let a = tmp.path().join("SINTEF__C01__20261201_001.bdf.csv");
    let b = tmp.path().join("SINTEF__C02__20261201_001.bdf.csv");
    std::fs::write(&a, bdf_export(&fading)).unwrap();
    std::fs::write(&b, bdf_export(&steady)).unwrap();
    let out = prequal(&[
        "import",
        "bdf",
        s(&a),
        s(&b),
        "--into",
        s(&src),
        "--batch",
        "L1",
        "--nominal-capacity-ah",
        "2.0",
        "--cell-mass-g",
        "50",
    ]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stdout).contains("volumetric_energy_density: give --cell-volume-cm3"));

    let capacity = values(&src.join("datasets/capacity.csv"));
    assert_eq!(capacity, BTreeMap::from([("C01".to_owned(), 2.0), ("C02".to_owned(), 2.0)]));
    let life = values(&src.join("datasets/cycle-life.csv"));
    assert_eq!(life, BTreeMap::from([("C01".to_owned(), 5.0), ("C02".to_owned(), 3.0)]));
    // 6 W·h / 0.050 kg.
    let energy = values(&src.join("datasets/energy-gravimetric.csv"));
    assert_eq!(energy["C01"], 120.0);
    // Conditions: mean ambient 25 °C, 1 A / 2 A·h = 0.5 /h, window 2.5–3.6 V.
    let text = std::fs::read_to_string(src.join("datasets/capacity.csv")).unwrap();
    assert_eq!(
        text,
        "specimen,batch,temperature,c_rate,voltage_min,voltage_max,value\n\
         C01,L1,25.00,0.5000,2.5000,3.6000,2.0000\n\
         C02,L1,25.00,0.5000,2.5000,3.6000,2.0000\n"
    );
    let cycles = std::fs::read_to_string(src.join("cycling/C01.csv")).unwrap();
    assert_eq!(cycles.lines().count(), 1 + 8);
    assert!(cycles.contains("\n5,1.6000,4.8000,80.00\n"), "{cycles}");

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join("prequal.json")).unwrap()).unwrap();
    let dataset = |id: &str| manifest["datasets"].as_array().unwrap().iter().find(|d| d["id"] == id).unwrap().clone();
    let cycle_life = dataset("cycle-life");
    assert_eq!(cycle_life["conditions"]["end_of_life_state_of_health"]["value"], 80.0);
    assert_eq!(cycle_life["conditions"]["c_rate"]["column"], "c_rate");
    let description = cycle_life["description"].as_str().unwrap();
    assert!(description.contains("Run-outs (lower bounds): C02 (still at 98.0 % after 3 cycles)"), "{description}");
    assert!(!description.contains("C01 ("), "C01 faded below 80 %: {description}");
    assert_eq!(manifest["attachments"].as_array().unwrap().len(), 2);
}

/// Replaces every `FILL IN` placeholder with a plausible value, as a lab would.
fn fill_in(v: &mut serde_json::Value, path: &str, name: &str) {
    match v {
        serde_json::Value::Object(obj) => obj.iter_mut().for_each(|(k, v)| fill_in(v, &format!("{path}.{k}"), name)),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| fill_in(v, path, name)),
        serde_json::Value::String(text) if text.starts_with("FILL IN") => {
            *text = match path.rsplit('.').next().unwrap() {
                "name" if path == ".name" => name.into(),
                "country" => "DE".into(),
                "date" | "produced" => "2026-05-01".into(),
                other => format!("A lab's {other}"),
            }
        }
        _ => {}
    }
}

fn fill_check_pack_sign_verify(
    tmp: &Path,
    src: &Path,
    name: &str,
    composition: serde_json::Value,
) -> serde_json::Value {
    let path = src.join("prequal.json");
    let mut manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    fill_in(&mut manifest, "", name);
    manifest["material"]["composition"] = composition;
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    ok(&prequal(&["check", s(src)]));
    let pkg = tmp.join(format!("{name}.zip"));
    let key = tmp.join(format!("{name}.secret.json"));
    ok(&prequal(&["keygen", "--out", s(&key)]));
    // `pack --key` packs and signs: init, import, pack are the lab's three commands.
    let packed = prequal(&["pack", s(src), "--out", s(&pkg), "--key", s(&key), "--json"]);
    ok(&packed);
    let packed: serde_json::Value = serde_json::from_slice(&packed.stdout).unwrap();
    assert!(packed["signature"]["signature_file"].as_str().unwrap().starts_with("signatures/"), "{packed}");
    let out = prequal(&["verify", s(&pkg), "--json"]);
    ok(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn init_import_fill_in_check_pack_sign_verify() {
    let tmp = tempfile::tempdir().unwrap();

    let cell = tmp.path().join("cell");
    init(&cell, "battery_cell");
    let export = tmp.path().join("LAB__C07__20261201_001.bdf.csv");
    std::fs::write(&export, bdf_export(&[2.0, 1.9, 1.7, 1.5])).unwrap();
    ok(&prequal(&[
        "import",
        "bdf",
        s(&export),
        "--into",
        s(&cell),
        "--batch",
        "L1",
        "--cell-mass-g",
        "48",
        "--temperature",
        "296.15K",
    ]));
    // A temperature given on the command line wins over the export's ambient column.
    let capacity = std::fs::read_to_string(cell.join("datasets/capacity.csv")).unwrap();
    assert!(capacity.contains("\nC07,L1,23.00,"), "{capacity}");
    let report = fill_check_pack_sign_verify(
        tmp.path(),
        &cell,
        "bdf-import-cell",
        serde_json::json!([
            {"element": "C", "mass_fraction": 0.35}, {"element": "O", "mass_fraction": 0.25},
            {"element": "Fe", "mass_fraction": 0.25}, {"element": "P", "mass_fraction": 0.15}
        ]),
    );
    let datasets: Vec<(&str, u64)> = report["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["id"].as_str().unwrap(), d["measurements"].as_u64().unwrap()))
        .collect();
    assert_eq!(datasets, [("capacity", 1), ("energy-gravimetric", 1), ("cycle-life", 1)]);

    let magnet = tmp.path().join("magnet");
    init(&magnet, "permanent_magnet");
    let export = tmp.path().join("L1-S01.csv");
    std::fs::write(&export, Line { br_t: 1.3, hcj_a_per_m: 1600e3 }.export_si()).unwrap();
    ok(&prequal(&[
        "import",
        "hysteresis",
        s(&export),
        "--into",
        s(&magnet),
        "--temperature",
        "20Cel",
        "--batch",
        "L1",
    ]));
    let report = fill_check_pack_sign_verify(
        tmp.path(),
        &magnet,
        "hysteresis-import-magnet",
        serde_json::json!([
            {"element": "Fe", "mass_fraction": 0.66}, {"element": "Nd", "mass_fraction": 0.29},
            {"element": "B", "mass_fraction": 0.01}, {"element": "Dy", "mass_fraction": 0.04}
        ]),
    );
    assert_eq!(report["datasets"].as_array().unwrap().len(), 4);
    assert_eq!(report["curves"][0]["points"], 50);
    assert_eq!(report["curves"][0]["kind"], "J-H+B-H");
}

//! Battery cycler time series in the Battery Data Format (BDF) → battery-cell datasets.
//!
//! BDF is the Battery Data Alliance's (LF Energy) table convention for cycler data: one file per
//! cell, a header row naming each column by its preferred label `Quantity / unit` (or its
//! machine-readable name), units fixed by the format. Specification: the `README.md` of
//! <https://github.com/battery-data-alliance/battery-data-format> (BDF ontology 1.3.0), whose terms
//! this module reads:
//!
//! | preferred label | machine-readable name | used for |
//! |---|---|---|
//! | `Test Time / s` (required) | `test_time_second` | integrating current and power |
//! | `Voltage / V` (required) | `voltage_volt` | energy, the voltage window |
//! | `Current / A` (required) | `current_ampere` | BDF sign convention: **positive charges, negative discharges** |
//! | `Cycle Count / 1` | `cycle_count` | grouping rows into cycles (absent: one cycle) |
//! | `Ambient Temperature / degC` | `ambient_temperature_celsius` | the test temperature |
//! | `Cycle Discharging Capacity / Ah`, `… Energy / Wh` | `cycle_discharging_capacity_ah`, `cycle_discharging_energy_wh` | per-cycle values, reset at each cycle |
//! | `Discharging Capacity / Ah`, `… Energy / Wh` | `discharging_capacity_ah`, `discharging_energy_wh` | cumulative since test start: differences per cycle |
//!
//! Other columns are ignored. A cycle's discharge capacity (energy) comes from the first of: the
//! cycle column's largest value, the cumulative column's increase over the cycle (a fall read as a
//! reset to zero: exports written to BDF's earlier wording reset it per step), or the
//! trapezoidal integral of the discharge current (power V·I) over test time. Cycles whose
//! discharge capacity is under 1 % of the file's largest (rest, charge-only) are not counted.
//!
//! Mapped onto the `battery_cell` vocabulary: `capacity` (the first counted cycle's discharge
//! capacity), `cycle_life` (counted cycles whose capacity stays at or above the end-of-life share
//! of the first one's, before the first that falls below; a cell that never falls below counts
//! every cycle it ran: a lower bound, said in the dataset's description), and, given the cell's
//! mass or volume, `gravimetric_energy_density` / `volumetric_energy_density` from the first
//! cycle's discharge energy. The vocabulary has no plain energy property, so energy per cycle goes
//! only into the per-cycle attachment. Conditions per row: `temperature` (mean ambient
//! temperature), `c_rate` (time-weighted mean discharge current ÷ nominal capacity), and the
//! voltage window as the extension conditions `x-prequal.voltage_min` / `x-prequal.voltage_max`
//! (the vocabulary has no voltage-window condition).

use std::io::Read;
use std::path::Path;

use serde_json::{Value, json};

use super::source::{Section, SourceFolder, Table};
use super::{fixed, number, specimen_from_file_name};
use crate::package::{PackageError, Rejection};

/// One BDF quantity: its preferred label and machine-readable name.
#[derive(Debug, Clone, Copy)]
struct Quantity {
    label: &'static str,
    name: &'static str,
}

const fn q(label: &'static str, name: &'static str) -> Quantity {
    Quantity { label, name }
}

const TEST_TIME: Quantity = q("Test Time / s", "test_time_second");
const VOLTAGE: Quantity = q("Voltage / V", "voltage_volt");
const CURRENT: Quantity = q("Current / A", "current_ampere");
const CYCLE: Quantity = q("Cycle Count / 1", "cycle_count");
const AMBIENT: Quantity = q("Ambient Temperature / degC", "ambient_temperature_celsius");
const CYCLE_CAPACITY: Quantity = q("Cycle Discharging Capacity / Ah", "cycle_discharging_capacity_ah");
const CYCLE_ENERGY: Quantity = q("Cycle Discharging Energy / Wh", "cycle_discharging_energy_wh");
const CAPACITY: Quantity = q("Discharging Capacity / Ah", "discharging_capacity_ah");
const ENERGY: Quantity = q("Discharging Energy / Wh", "discharging_energy_wh");

/// Required columns, then the optional ones this importer reads, in the order of
/// `Sample::optional` (the `AT_…` positions).
const REQUIRED: [Quantity; 3] = [TEST_TIME, VOLTAGE, CURRENT];
const OPTIONAL: [Quantity; 6] = [CYCLE, AMBIENT, CYCLE_CAPACITY, CYCLE_ENERGY, CAPACITY, ENERGY];
const AT_CYCLE: usize = 0;
const AT_AMBIENT: usize = 1;
const AT_CYCLE_CAPACITY: usize = 2;
const AT_CYCLE_ENERGY: usize = 3;
const AT_CAPACITY: usize = 4;
const AT_ENERGY: usize = 5;

/// A cycle counts when its discharge capacity is at least this share of the file's largest.
const COUNTED_CYCLE_SHARE: f64 = 0.01;

/// What the lab tells the importer beside the files.
#[derive(Debug, Clone)]
pub struct BdfOptions {
    /// The specimen id (one file only); default: the cell name of a BDF file name, or the stem.
    pub specimen: Option<String>,
    /// The lot; default: the material's only lot.
    pub batch: Option<String>,
    /// Nominal capacity for the C-rate; default: the first cycle's discharge capacity.
    pub nominal_capacity_ah: Option<f64>,
    /// Test temperature in °C, for an export without ambient temperatures (it then wins over them).
    pub temperature_c: Option<f64>,
    pub cell_mass_g: Option<f64>,
    pub cell_volume_cm3: Option<f64>,
    /// End of life, % of the first cycle's discharge capacity (80 by default).
    pub end_of_life_percent: f64,
}

/// One row of the export.
#[derive(Debug, Clone)]
struct Sample {
    time_s: f64,
    voltage_v: f64,
    current_a: f64,
    /// In the order of [`OPTIONAL`]; None where the column is absent or the cell empty.
    optional: [Option<f64>; 6],
}

/// What the rows of one cycle add up to (rows are folded as they are read: cycle-life exports
/// run to millions of rows, which are never held in memory).
#[derive(Debug, Clone, Default)]
struct CycleTotals {
    cycle: f64,
    /// ∫ discharge current dt and ∫ V · discharge current dt, A·h and W·h.
    integral_ah: f64,
    integral_wh: f64,
    /// Largest per-cycle discharging capacity and energy the export reports.
    cycle_column_ah: Option<f64>,
    cycle_column_wh: Option<f64>,
    /// How much the cumulative discharging capacity and energy rose during the cycle.
    cumulative_ah: f64,
    cumulative_wh: f64,
}

/// An export folded into per-cycle totals and whole-test figures.
#[derive(Debug, Clone, Default)]
struct Series {
    cycles: Vec<CycleTotals>,
    /// Which optional columns hold a value anywhere, in the order of [`OPTIONAL`].
    has: [bool; 6],
    /// The last cumulative discharging capacity and energy read.
    last_cumulative: [Option<f64>; 2],
    ambient_sum: f64,
    ambient_count: u64,
    voltage_min_v: f64,
    voltage_max_v: f64,
    /// Charge and time over steps between two discharging samples.
    discharged_ah: f64,
    discharge_hours: f64,
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

impl Series {
    /// Adds a row; `previous` is the row before it.
    fn add(&mut self, previous: Option<&Sample>, s: &Sample) {
        let cycle = s.optional[AT_CYCLE].unwrap_or(0.0);
        if self.cycles.last().is_none_or(|c| c.cycle != cycle) {
            self.cycles.push(CycleTotals { cycle, ..CycleTotals::default() });
        }
        for (k, v) in s.optional.iter().enumerate() {
            self.has[k] |= v.is_some();
        }
        if let Some(t) = s.optional[AT_AMBIENT] {
            self.ambient_sum += t;
            self.ambient_count += 1;
        }
        if previous.is_none() {
            (self.voltage_min_v, self.voltage_max_v) = (s.voltage_v, s.voltage_v);
        }
        self.voltage_min_v = self.voltage_min_v.min(s.voltage_v);
        self.voltage_max_v = self.voltage_max_v.max(s.voltage_v);
        let Some(current) = self.cycles.last_mut() else { return };
        current.cycle_column_ah = max_opt(current.cycle_column_ah, s.optional[AT_CYCLE_CAPACITY]);
        current.cycle_column_wh = max_opt(current.cycle_column_wh, s.optional[AT_CYCLE_ENERGY]);
        // BDF 1.3 defines the cumulative columns as never resetting; exports written to the
        // earlier wording ("within a given interval") reset them per step. A fall is read as a
        // reset to zero, so both kinds add up to what was discharged.
        let rise = |last: Option<f64>, now: Option<f64>| match (last, now) {
            (Some(a), Some(b)) if b >= a => b - a,
            (Some(_), Some(b)) => b,
            _ => 0.0,
        };
        current.cumulative_ah += rise(self.last_cumulative[0], s.optional[AT_CAPACITY]);
        current.cumulative_wh += rise(self.last_cumulative[1], s.optional[AT_ENERGY]);
        self.last_cumulative =
            [s.optional[AT_CAPACITY].or(self.last_cumulative[0]), s.optional[AT_ENERGY].or(self.last_cumulative[1])];
        // A step between two rows belongs to the later row's cycle; trapezoids.
        if let Some(a) = previous {
            let hours = (s.time_s - a.time_s) / 3600.0;
            let dq = (discharge(a.current_a) + discharge(s.current_a)) / 2.0 * hours;
            current.integral_ah += dq;
            current.integral_wh +=
                (a.voltage_v * discharge(a.current_a) + s.voltage_v * discharge(s.current_a)) / 2.0 * hours;
            if a.current_a < 0.0 && s.current_a < 0.0 {
                self.discharged_ah += dq;
                self.discharge_hours += hours;
            }
        }
    }
}

/// One counted cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct CycleValues {
    /// The export's cycle count (0 when it has none).
    pub cycle: f64,
    pub discharge_capacity_ah: f64,
    pub discharge_energy_wh: f64,
}

/// Everything derived from one cell's export.
#[derive(Debug, Clone, PartialEq)]
pub struct CellSummary {
    pub specimen: String,
    pub cycles: Vec<CycleValues>,
    /// Which column (or integral) the capacities and energies came from.
    pub capacity_source: String,
    pub energy_source: String,
    pub temperature_c: f64,
    pub mean_discharge_current_a: f64,
    /// The nominal capacity the C-rate divides by, and whether the lab gave it.
    pub nominal_capacity_ah: f64,
    pub nominal_given: bool,
    pub c_rate_per_h: f64,
    pub voltage_min_v: f64,
    pub voltage_max_v: f64,
    pub cycle_life: u64,
    /// True when the capacity never fell below the end of life: `cycle_life` is a lower bound.
    pub run_out: bool,
}

/// Reads one export: every row, each required cell a number.
fn read_series(reader: &mut dyn Read, file: &str) -> Result<Series, Vec<PackageError>> {
    let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(reader);
    let headers = match csv.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            return Err(vec![PackageError::CsvInvalid { file: file.into(), line: 1, detail: e.to_string() }]);
        }
    };
    let find = |q: Quantity| headers.iter().position(|h| h.trim() == q.label || h.trim() == q.name);
    let mut problems = Vec::new();
    let required: Vec<usize> = REQUIRED
        .iter()
        .filter_map(|q| {
            let i = find(*q);
            if i.is_none() {
                problems.push(PackageError::CsvInvalid {
                    file: file.into(),
                    line: 1,
                    detail: format!(
                        "missing column '{}' (BDF requires it; machine-readable name '{}'); the header has: {}",
                        q.label,
                        q.name,
                        headers.iter().collect::<Vec<_>>().join(", ")
                    ),
                });
            }
            i
        })
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    let optional: Vec<Option<usize>> = OPTIONAL.iter().map(|q| find(*q)).collect();
    let mut series = Series::default();
    let mut previous: Option<Sample> = None;
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                problems.push(PackageError::CsvInvalid { file: file.into(), line, detail: e.to_string() });
                break;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        let mut cell = |i: usize, label: &str| match number(record.get(i).unwrap_or(""), file, line, label) {
            Ok(v) => Some(v),
            Err(p) => {
                problems.push(p);
                None
            }
        };
        let (t, v, c) =
            (cell(required[0], TEST_TIME.label), cell(required[1], VOLTAGE.label), cell(required[2], CURRENT.label));
        let mut values = [None; 6];
        for (k, index) in optional.iter().enumerate() {
            if let Some(i) = *index
                && !record.get(i).unwrap_or("").trim().is_empty()
            {
                values[k] = cell(i, OPTIONAL[k].label);
            }
        }
        if let (Some(time_s), Some(voltage_v), Some(current_a)) = (t, v, c) {
            if let Some(last) = previous.as_ref().map(|s| s.time_s)
                && time_s < last
            {
                problems.push(PackageError::CsvInvalid {
                    file: file.into(),
                    line,
                    detail: format!(
                        "'{}' goes back from {last} to {time_s}; BDF test time never decreases",
                        TEST_TIME.label
                    ),
                });
            }
            let sample = Sample { time_s, voltage_v, current_a, optional: values };
            series.add(previous.as_ref(), &sample);
            previous = Some(sample);
        }
        if problems.len() >= 20 {
            break;
        }
    }
    if previous.is_none() && problems.is_empty() {
        problems.push(PackageError::CsvInvalid { file: file.into(), line: 1, detail: "the export has no rows".into() });
    }
    if problems.is_empty() { Ok(series) } else { Err(problems) }
}

/// The discharge current of a sample: BDF's negative current, as a positive number.
fn discharge(current_a: f64) -> f64 {
    (-current_a).max(0.0)
}

/// Derives a cell's values from its folded export.
fn summarise(series: &Series, file: &str, specimen: String, opts: &BdfOptions) -> Result<CellSummary, PackageError> {
    let not_derivable =
        |what: &str, detail: String| PackageError::ImportNotDerivable { file: file.into(), what: what.into(), detail };
    // Per-cycle values from the export's own columns where it has them, else the integrals.
    let per_cycle = |per_cycle: usize, cumulative: usize| -> (Vec<f64>, String) {
        let pick = |c: &CycleTotals| match per_cycle {
            AT_CYCLE_CAPACITY => (c.cycle_column_ah, c.cumulative_ah, c.integral_ah),
            _ => (c.cycle_column_wh, c.cumulative_wh, c.integral_wh),
        };
        if series.has[per_cycle] {
            let values = series
                .cycles
                .iter()
                .map(|c| {
                    let (col, _, integral) = pick(c);
                    col.unwrap_or(integral)
                })
                .collect();
            return (values, format!("the '{}' column", OPTIONAL[per_cycle].label));
        }
        if series.has[cumulative] {
            let values = series.cycles.iter().map(|c| pick(c).1).collect();
            return (values, format!("the increase of the '{}' column over each cycle", OPTIONAL[cumulative].label));
        }
        let values = series.cycles.iter().map(|c| pick(c).2).collect();
        let integrand = if per_cycle == AT_CYCLE_CAPACITY {
            "the discharge current".to_owned()
        } else {
            format!("'{}' × the discharge current", VOLTAGE.label)
        };
        (values, format!("integrating {integrand} (BDF: negative '{}') over '{}'", CURRENT.label, TEST_TIME.label))
    };
    let (capacities, capacity_source) = per_cycle(AT_CYCLE_CAPACITY, AT_CAPACITY);
    let (energies, energy_source) = per_cycle(AT_CYCLE_ENERGY, AT_ENERGY);
    let largest = capacities.iter().copied().fold(0.0, f64::max);
    if largest <= 0.0 {
        return Err(not_derivable(
            "a discharge capacity",
            format!("no cycle discharges ('{}' is never negative; in BDF negative current discharges)", CURRENT.label),
        ));
    }
    let cycles: Vec<CycleValues> = series
        .cycles
        .iter()
        .zip(capacities.iter().zip(&energies))
        .filter(|(_, (cap, _))| **cap >= COUNTED_CYCLE_SHARE * largest)
        .map(|(totals, (&cap, &energy))| CycleValues {
            cycle: totals.cycle,
            discharge_capacity_ah: cap,
            discharge_energy_wh: energy,
        })
        .collect();
    let first = cycles.first().map_or(largest, |c| c.discharge_capacity_ah);
    let threshold = opts.end_of_life_percent / 100.0 * first;
    let kept = cycles.iter().take_while(|c| c.discharge_capacity_ah >= threshold).count();
    let run_out = kept == cycles.len();

    let temperature_c = match opts.temperature_c {
        Some(t) => t,
        None if series.ambient_count > 0 => series.ambient_sum / series.ambient_count as f64,
        None => {
            return Err(not_derivable(
                "the test temperature",
                format!("the export has no '{}' values; give --temperature", AMBIENT.label),
            ));
        }
    };
    // Over the steps between two discharging rows: the time-weighted mean discharge current.
    let mean_discharge_current_a =
        if series.discharge_hours > 0.0 { series.discharged_ah / series.discharge_hours } else { 0.0 };
    let nominal_capacity_ah = opts.nominal_capacity_ah.unwrap_or(first);
    Ok(CellSummary {
        specimen,
        capacity_source,
        energy_source,
        temperature_c,
        mean_discharge_current_a,
        nominal_capacity_ah,
        nominal_given: opts.nominal_capacity_ah.is_some(),
        c_rate_per_h: mean_discharge_current_a / nominal_capacity_ah,
        voltage_min_v: series.voltage_min_v,
        voltage_max_v: series.voltage_max_v,
        cycle_life: kept as u64,
        run_out,
        cycles,
    })
}

/// Reads and summarises one export given as a reader (tests and the CLI share it).
pub fn summarise_export(
    reader: &mut dyn Read,
    file: &str,
    specimen: String,
    opts: &BdfOptions,
) -> Result<CellSummary, Vec<PackageError>> {
    let series = read_series(reader, file)?;
    summarise(&series, file, specimen, opts).map_err(|p| vec![p])
}

/// What an import wrote.
#[derive(Debug, Clone)]
pub struct BdfImport {
    pub cells: Vec<CellSummary>,
    pub written: Vec<String>,
    /// Properties not derived, with the reason (e.g. no cell mass given).
    pub skipped: Vec<String>,
}

const CONDITION_COLUMNS: [&str; 4] = ["temperature", "c_rate", "voltage_min", "voltage_max"];

fn conditions(extra: Option<(&str, Value)>) -> Value {
    let mut c = json!({
        "temperature": {"unit": "Cel", "column": "temperature"},
        "c_rate": {"unit": "/h", "column": "c_rate"},
        "x-prequal.voltage_min": {"unit": "V", "column": "voltage_min"},
        "x-prequal.voltage_max": {"unit": "V", "column": "voltage_max"}
    });
    if let (Some((name, value)), Some(obj)) = (extra, c.as_object_mut()) {
        obj.insert(name.into(), value);
    }
    c
}

const CONDITIONS_TEXT: &str = "Conditions per row: temperature = mean 'Ambient Temperature / degC' of the export (or --temperature); c_rate = time-weighted mean discharge current / nominal capacity (--nominal-capacity-ah, else the first cycle's discharge capacity); x-prequal.voltage_min and x-prequal.voltage_max = lowest and highest 'Voltage / V'. Each cell's per-cycle values are attached as cycling/<specimen>.csv.";

/// Imports `files` (one cell each) into the source folder `dir`. Nothing is written unless every
/// file is read and every value derived.
pub fn import(dir: &Path, files: &[&Path], opts: &BdfOptions) -> Result<BdfImport, Rejection> {
    let mut source = SourceFolder::open(dir)?;
    source.require_class("battery_cell", "bdf")?;
    if files.len() > 1 && opts.specimen.is_some() {
        return Err(PackageError::ImportConflict {
            path: "--specimen".into(),
            detail: "names one specimen; with several files each is named after its file".into(),
        }
        .into());
    }
    for (name, value) in [
        ("--nominal-capacity-ah", opts.nominal_capacity_ah),
        ("--cell-mass-g", opts.cell_mass_g),
        ("--cell-volume-cm3", opts.cell_volume_cm3),
    ] {
        if let Some(v) = value
            && !(v.is_finite() && v > 0.0)
        {
            return Err(PackageError::ImportConflict {
                path: name.into(),
                detail: format!("{v} is not a positive number"),
            }
            .into());
        }
    }
    if !(opts.end_of_life_percent > 0.0 && opts.end_of_life_percent < 100.0) {
        return Err(PackageError::ImportConflict {
            path: "--end-of-life".into(),
            detail: format!("{} is not a percentage between 0 and 100", opts.end_of_life_percent),
        }
        .into());
    }
    let batch = source.resolve_batch(opts.batch.as_deref())?;
    let mut problems = Vec::new();
    let mut cells = Vec::new();
    for path in files {
        let label = path.display().to_string();
        let specimen = opts.specimen.clone().unwrap_or_else(|| specimen_from_file_name(path));
        let read = std::fs::File::open(path)
            .map_err(|e| vec![PackageError::io(&label, e)])
            .and_then(|mut f| summarise_export(&mut f, &label, specimen, opts));
        match read {
            Ok(cell) => cells.push(cell),
            Err(found) => problems.extend(found),
        }
    }
    if !problems.is_empty() {
        return Err(Rejection { problems });
    }
    source.ensure_method(
        "performance",
        "IEC 62660-1:2018",
        "cycler make and model, channel range, temperature chamber",
    );
    source.ensure_method("cycle-life", "IEC 62660-1:2018", "cycler and chamber used for cycling");

    let row = |cell: &CellSummary, value: String| -> Vec<String> {
        vec![
            cell.specimen.clone(),
            batch.clone(),
            fixed(cell.temperature_c, 2),
            fixed(cell.c_rate_per_h, 4),
            fixed(cell.voltage_min_v, 4),
            fixed(cell.voltage_max_v, 4),
            value,
        ]
    };
    let header: Vec<&'static str> =
        ["specimen", "batch"].into_iter().chain(CONDITION_COLUMNS).chain(["value"]).collect();
    let first_cycle = |cell: &CellSummary| cell.cycles.first().cloned();
    let table = |id: &str, property: &str, unit: &str, method: &str, description: String, conditions: Value| Table {
        section: Section::Datasets,
        id: id.into(),
        entry: json!({"property": property, "unit": unit, "method": method, "description": description, "conditions": conditions}),
        same: &["property", "unit", "conditions"],
        header: header.clone(),
        rows: Vec::new(),
        note: None,
    };

    let mut capacity = table(
        "capacity",
        "capacity",
        "A.h",
        "performance",
        format!(
            "Discharge capacity of each cell's first cycle with a discharge, imported from Battery Data Format (BDF) cycler exports by `prequal import bdf`. {CONDITIONS_TEXT}"
        ),
        conditions(None),
    );
    let eol = opts.end_of_life_percent;
    let mut cycle_life = table(
        "cycle-life",
        "cycle_life",
        "{cycles}",
        "cycle-life",
        format!(
            "Cycles each cell ran before its discharge capacity first fell below {eol} % of its first cycle's, imported from BDF exports by `prequal import bdf`. A cell still at or above {eol} % when its test ended counts every cycle it ran: a lower bound, named below. {CONDITIONS_TEXT}"
        ),
        conditions(Some(("end_of_life_state_of_health", json!({"unit": "%", "value": eol})))),
    );
    let mut gravimetric = table(
        "energy-gravimetric",
        "gravimetric_energy_density",
        "W.h/kg",
        "performance",
        format!(
            "Discharge energy of each cell's first cycle with a discharge divided by the cell's mass (--cell-mass-g, named below), from BDF exports by `prequal import bdf`. {CONDITIONS_TEXT}"
        ),
        conditions(None),
    );
    let mut volumetric = table(
        "energy-volumetric",
        "volumetric_energy_density",
        "W.h/L",
        "performance",
        format!(
            "Discharge energy of each cell's first cycle with a discharge divided by the cell's volume (--cell-volume-cm3, named below), from BDF exports by `prequal import bdf`. {CONDITIONS_TEXT}"
        ),
        conditions(None),
    );
    let mut notes = (Vec::new(), Vec::new(), Vec::new());
    for cell in &cells {
        let Some(first) = first_cycle(cell) else { continue };
        capacity.rows.push(row(cell, fixed(first.discharge_capacity_ah, 4)));
        cycle_life.rows.push(row(cell, cell.cycle_life.to_string()));
        if cell.run_out {
            let last =
                cell.cycles.last().map_or(100.0, |c| 100.0 * c.discharge_capacity_ah / first.discharge_capacity_ah);
            notes.0.push(format!("{} (still at {} % after {} cycles)", cell.specimen, fixed(last, 1), cell.cycle_life));
        }
        if let Some(mass) = opts.cell_mass_g {
            gravimetric.rows.push(row(cell, fixed(first.discharge_energy_wh / (mass / 1000.0), 2)));
            notes.1.push(format!("{}: {mass} g", cell.specimen));
        }
        if let Some(volume) = opts.cell_volume_cm3 {
            volumetric.rows.push(row(cell, fixed(first.discharge_energy_wh / (volume / 1000.0), 2)));
            notes.2.push(format!("{}: {volume} cm³", cell.specimen));
        }
    }
    if !notes.0.is_empty() {
        cycle_life.note = Some(format!("Run-outs (lower bounds): {}.", notes.0.join("; ")));
    }
    if !notes.1.is_empty() {
        gravimetric.note = Some(format!("Cell mass: {}.", notes.1.join("; ")));
    }
    if !notes.2.is_empty() {
        volumetric.note = Some(format!("Cell volume: {}.", notes.2.join("; ")));
    }
    let mut skipped = Vec::new();
    let mut tables = vec![capacity, cycle_life];
    if opts.cell_mass_g.is_some() {
        tables.push(gravimetric);
    } else {
        skipped.push("gravimetric_energy_density: give --cell-mass-g".to_owned());
    }
    if opts.cell_volume_cm3.is_some() {
        tables.push(volumetric);
    } else {
        skipped.push("volumetric_energy_density: give --cell-volume-cm3".to_owned());
    }
    for t in tables {
        source.add_table(t)?;
    }
    for cell in &cells {
        let file_name: String = cell
            .specimen
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
            .collect();
        let first = cell.cycles.first().map_or(1.0, |c| c.discharge_capacity_ah);
        let rows: Vec<Vec<String>> = cell
            .cycles
            .iter()
            .map(|c| {
                vec![
                    fixed(c.cycle, 0),
                    fixed(c.discharge_capacity_ah, 4),
                    fixed(c.discharge_energy_wh, 4),
                    fixed(100.0 * c.discharge_capacity_ah / first, 2),
                ]
            })
            .collect();
        let mut text = String::from("cycle,discharge_capacity_ah,discharge_energy_wh,capacity_retention_percent\n");
        for r in rows {
            text.push_str(&r.join(","));
            text.push('\n');
        }
        let description = format!(
            "Per-cycle discharge capacity and energy of {} ({} counted cycles), by `prequal import bdf` from a BDF export: capacity from {}, energy from {}; nominal capacity {} A·h ({}); mean discharge current {} A; cycle life {} cycles to {eol} % of the first cycle's capacity{}.",
            cell.specimen,
            cell.cycles.len(),
            cell.capacity_source,
            cell.energy_source,
            fixed(cell.nominal_capacity_ah, 4),
            if cell.nominal_given {
                "given with --nominal-capacity-ah"
            } else {
                "the first cycle's discharge capacity"
            },
            fixed(cell.mean_discharge_current_a, 4),
            cell.cycle_life,
            if cell.run_out { " (run-out: a lower bound)" } else { "" }
        );
        source.add_attachment(&format!("cycling/{file_name}.csv"), &description, "text/csv", text)?;
    }
    let written = source.commit()?;
    Ok(BdfImport { cells, written, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> BdfOptions {
        BdfOptions {
            specimen: None,
            batch: None,
            nominal_capacity_ah: Some(2.0),
            temperature_c: None,
            cell_mass_g: None,
            cell_volume_cm3: None,
            end_of_life_percent: 80.0,
        }
    }

    /// Constant-current cycles: charge at +1 A for 2 h, discharge at −1 A for `hours[k]` h.
    fn export(hours: &[f64]) -> String {
        let mut out =
            String::from("Test Time / s,Voltage / V,Current / A,Cycle Count / 1,Ambient Temperature / degC\n");
        let mut t = 0.0;
        for (k, h) in hours.iter().enumerate() {
            let cycle = k + 1;
            out.push_str(&format!("{t},3.0,1.0,{cycle},25\n"));
            t += 7200.0;
            out.push_str(&format!("{t},3.6,1.0,{cycle},25\n"));
            out.push_str(&format!("{t},3.5,-1.0,{cycle},25\n"));
            t += h * 3600.0;
            out.push_str(&format!("{t},2.5,-1.0,{cycle},25\n"));
            out.push_str(&format!("{t},2.6,0,{cycle},25\n"));
        }
        out
    }

    #[test]
    fn integrates_constant_current_cycles() {
        let text = export(&[2.0, 1.9, 1.5, 1.4]);
        let cell = summarise_export(&mut text.as_bytes(), "c.csv", "S1".into(), &opts()).unwrap();
        let caps: Vec<f64> = cell.cycles.iter().map(|c| (c.discharge_capacity_ah * 1e9).round() / 1e9).collect();
        assert_eq!(caps, vec![2.0, 1.9, 1.5, 1.4]);
        // Energy: 1 A × mean voltage 3.0 V × hours.
        assert!((cell.cycles[0].discharge_energy_wh - 6.0).abs() < 1e-9);
        // 1.5 < 0.8 × 2.0: two cycles before the fall.
        assert_eq!((cell.cycle_life, cell.run_out), (2, false));
        assert!((cell.c_rate_per_h - 0.5).abs() < 1e-12);
        assert_eq!((cell.voltage_min_v, cell.voltage_max_v, cell.temperature_c), (2.5, 3.6, 25.0));
    }

    #[test]
    fn a_cell_that_never_fades_is_a_run_out() {
        let text = export(&[2.0, 1.95, 1.9]);
        let cell = summarise_export(&mut text.as_bytes(), "c.csv", "S1".into(), &opts()).unwrap();
        assert_eq!((cell.cycle_life, cell.run_out), (3, true));
    }

    #[test]
    fn machine_readable_names_and_capacity_columns() {
        let text = "test_time_second,voltage_volt,current_ampere,cycle_count,discharging_capacity_ah\n\
                    0,3.5,-1,1,0\n3600,3.0,-1,1,0.98\n3600,3.6,0.5,2,0.98\n7200,3.5,-1,2,0.98\n10800,3.0,-1,2,1.95\n";
        let o = BdfOptions { temperature_c: Some(23.0), ..opts() };
        let cell = summarise_export(&mut text.as_bytes(), "c.csv", "S1".into(), &o).unwrap();
        let caps: Vec<f64> = cell.cycles.iter().map(|c| (c.discharge_capacity_ah * 1e6).round() / 1e6).collect();
        assert_eq!(caps, vec![0.98, 0.97]);
        assert!(cell.capacity_source.contains("Discharging Capacity / Ah"));
        assert_eq!(cell.temperature_c, 23.0);
    }

    #[test]
    fn a_cumulative_column_that_resets_per_step_still_adds_up() {
        // Cycle 1 discharges 0.5 A·h in each of two steps, the column restarting at the second.
        let text = "Test Time / s,Voltage / V,Current / A,Cycle Count / 1,Discharging Capacity / Ah\n\
                    0,3.5,-1,1,0\n1800,3.2,-1,1,0.5\n1800,3.2,-1,1,0\n3600,3.0,-1,1,0.5\n\
                    3600,3.6,1,2,0.5\n7200,3.5,-1,2,0.9\n";
        let o = BdfOptions { temperature_c: Some(25.0), ..opts() };
        let cell = summarise_export(&mut text.as_bytes(), "c.csv", "S1".into(), &o).unwrap();
        let caps: Vec<f64> = cell.cycles.iter().map(|c| (c.discharge_capacity_ah * 1e9).round() / 1e9).collect();
        assert_eq!(caps, vec![1.0, 0.4]);
    }

    #[test]
    fn refusals_name_file_line_and_column() {
        let text = "Test Time / s,Voltage / V,Current / A\n0,3.5,-1\n10,x,-1\n";
        let problems = summarise_export(&mut text.as_bytes(), "c.csv", "S1".into(), &opts()).unwrap_err();
        assert_eq!(problems[0].code(), "csv_not_numeric");
        assert!(problems[0].to_string().contains("c.csv, line 3, column 'Voltage / V'"), "{}", problems[0]);
        let text = "Test Time / s,Current / A\n0,-1\n";
        let problems = summarise_export(&mut text.as_bytes(), "c.csv", "S1".into(), &opts()).unwrap_err();
        assert!(problems[0].to_string().contains("missing column 'Voltage / V'"), "{}", problems[0]);
        let text = "Test Time / s,Voltage / V,Current / A\n0,3.5,1\n10,3.6,1\n";
        let problems = summarise_export(&mut text.as_bytes(), "c.csv", "S1".into(), &opts()).unwrap_err();
        assert_eq!(problems[0].code(), "import_not_derivable");
    }
}

//! `prequal import`: instrument exports into a package source folder (see `crate::import`).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::Outcome;
use crate::import::{bdf, hysteresis, parse_temperature};
use crate::package::{PackageError, Rejection};

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(subcommand)]
    command: ImportCommand,
}

#[derive(Subcommand, Debug)]
enum ImportCommand {
    /// Battery cycler exports in the Battery Data Format (one cell per file): adds the capacity
    /// and cycle-life datasets (and energy densities, given the cell's mass or volume) with their
    /// cycling conditions, and each cell's per-cycle values as an attachment.
    Bdf {
        /// BDF files (CSV, header `Test Time / s,Voltage / V,Current / A,…`), one cell each.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The source folder (made by `prequal init --class battery_cell`).
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
        /// Specimen id (one file only); default: the cell name of a BDF file name
        /// (`Institution__Cell__Date…`), else the file name without extensions.
        #[arg(long, value_name = "ID")]
        specimen: Option<String>,
        /// Lot id of the cells, added to material.lots when new; default: the material's only lot.
        #[arg(long, value_name = "ID")]
        batch: Option<String>,
        /// Nominal capacity for the C-rate condition; default: the first cycle's discharge capacity.
        #[arg(long, value_name = "AH")]
        nominal_capacity_ah: Option<f64>,
        /// Test temperature with its UCUM unit (e.g. 25Cel), for exports without an
        /// `Ambient Temperature / degC` column; given, it wins over that column.
        #[arg(long, allow_hyphen_values = true)]
        temperature: Option<String>,
        /// Cell mass in grams: adds gravimetric energy density (first cycle's discharge energy / mass).
        #[arg(long, value_name = "G")]
        cell_mass_g: Option<f64>,
        /// Cell volume in cm³: adds volumetric energy density (first cycle's discharge energy / volume).
        #[arg(long, value_name = "CM3")]
        cell_volume_cm3: Option<f64>,
        /// End of life for cycle life, in % of the first cycle's discharge capacity.
        #[arg(long, value_name = "PERCENT", default_value_t = 80.0)]
        end_of_life: f64,
    },
    /// A hysteresigraph export (CSV with `H (kA/m)` and `J (T)` and/or `B (T)` columns, one
    /// specimen): adds its demagnetisation curve and Br, HcJ, HcB and (BH)max at the temperature.
    Hysteresis {
        /// The export (CSV; units in the header: A/m, kA/m, MA/m, Oe, kOe; T, mT, G, kG).
        file: PathBuf,
        /// The source folder (made by `prequal init --class permanent_magnet`).
        #[arg(long, value_name = "DIR")]
        into: PathBuf,
        /// Test temperature with its UCUM unit, e.g. 20Cel, -40Cel, 423.15K.
        #[arg(long, allow_hyphen_values = true)]
        temperature: String,
        /// Specimen id; default: the file name without extensions.
        #[arg(long, value_name = "ID")]
        specimen: Option<String>,
        /// Lot id of the specimen, added to material.lots when new; default: the material's only lot.
        #[arg(long, value_name = "ID")]
        batch: Option<String>,
    },
}

fn refused(rejection: &Rejection) -> Outcome {
    eprintln!("import refused, nothing written: {} problem(s)", rejection.problems.len());
    for p in &rejection.problems {
        eprintln!("  [{}] {}", p.code(), p);
    }
    if rejection.problems.iter().all(|p| matches!(p, PackageError::Io { .. })) {
        Outcome::Failed
    } else {
        Outcome::Refused
    }
}

fn next_steps(dir: &Path, written: &[String]) {
    println!("  wrote {}", written.join(", "));
    println!(
        "next: write the lab's description and the material's in {}/prequal.json (every `FILL IN`), then `prequal check {}`",
        dir.display(),
        dir.display()
    );
}

pub(super) fn import(args: ImportArgs) -> Outcome {
    match args.command {
        ImportCommand::Bdf {
            files,
            into,
            specimen,
            batch,
            nominal_capacity_ah,
            temperature,
            cell_mass_g,
            cell_volume_cm3,
            end_of_life,
        } => {
            let temperature_c = match temperature.as_deref().map(parse_temperature).transpose() {
                Ok(t) => t,
                Err(problem) => return refused(&problem.into()),
            };
            let opts = bdf::BdfOptions {
                specimen,
                batch,
                nominal_capacity_ah,
                temperature_c,
                cell_mass_g,
                cell_volume_cm3,
                end_of_life_percent: end_of_life,
            };
            let files: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
            match bdf::import(&into, &files, &opts) {
                Err(r) => refused(&r),
                Ok(done) => {
                    for c in &done.cells {
                        let first = c.cycles.first().map_or(0.0, |x| x.discharge_capacity_ah);
                        println!(
                            "{}: {} cycles, capacity {first:.4} A·h, cycle life {} cycles{} at {:.1} °C, {:.3} C, {:.3}–{:.3} V",
                            c.specimen,
                            c.cycles.len(),
                            c.cycle_life,
                            if c.run_out { " (run-out: lower bound)" } else { "" },
                            c.temperature_c,
                            c.c_rate_per_h,
                            c.voltage_min_v,
                            c.voltage_max_v
                        );
                    }
                    for s in &done.skipped {
                        println!("  not derived: {s}");
                    }
                    next_steps(&into, &done.written);
                    Outcome::Ok
                }
            }
        }
        ImportCommand::Hysteresis { file, into, temperature, specimen, batch } => {
            let opts = hysteresis::HysteresisOptions { specimen, batch, temperature };
            match hysteresis::import(&into, &file, &opts) {
                Err(r) => refused(&r),
                Ok(done) => {
                    let d = done.derived;
                    println!(
                        "{}: {} points at {} °C: Br {:.4} T, HcJ {:.1} kA/m, HcB {:.1} kA/m, (BH)max {:.1} kJ/m³",
                        done.specimen,
                        done.points,
                        done.temperature_c,
                        d.remanence_t,
                        d.hcj_ka_per_m,
                        d.hcb_ka_per_m,
                        d.bh_max_kj_per_m3
                    );
                    next_steps(&into, &done.written);
                    Outcome::Ok
                }
            }
        }
    }
}

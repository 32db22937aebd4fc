//! The `prequal` command line: argument parsing, human and JSON output, exit codes.
//!
//! Exit codes: 0 success; 1 the input was checked and refused (a package failed verification,
//! a source directory has problems); 2 the command could not run (bad arguments, unreadable
//! files, a key that already exists).

mod admin_cmd;
mod fit_cmd;
mod import_cmd;
mod log_cmds;
mod mirror_cmd;
mod package_cmds;
mod profile_cmd;
mod progress;
mod push_cmd;
mod serve_cmds;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::package::Limits;

#[derive(Parser, Debug)]
#[command(name = "prequal", version, about = "Qualification data-package registry and lab tool")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generate an Ed25519 signing key (secret key file, mode 0600) and print its key id.
    Keygen {
        /// Where to write the secret key file (refuses to overwrite).
        #[arg(long)]
        out: PathBuf,
        /// A note stored in the key file, e.g. the lab's name.
        #[arg(long)]
        comment: Option<String>,
        /// Print the result as JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Start a package source folder: a template prequal.json (every value to write marked
    /// `FILL IN`), the dataset CSV headers the vocabulary expects, and a README.md explaining
    /// each field.
    Init {
        /// The folder to create (must not exist, or be empty).
        dir: PathBuf,
        /// The material class: permanent_magnet or battery_cell.
        #[arg(long, value_enum, required_unless_present = "from")]
        class: Option<ClassArg>,
        /// Start from an existing package (.zip): keeps its lab, material, methods and datasets,
        /// with empty CSV files and the next version.
        #[arg(long, value_name = "PACKAGE")]
        from: Option<PathBuf>,
        /// Print what was written as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Turn instrument exports into datasets and curves of a source folder: battery cycler files
    /// in the Battery Data Format (`bdf`), hysteresigraph curves (`hysteresis`).
    Import(import_cmd::ImportArgs),
    /// Check a package source directory without writing anything: the manifest against its
    /// schema, units, lots, every CSV cell. Reports every problem at once, each with its JSON path
    /// or file, line and column.
    Check {
        /// The source directory (holding prequal.json).
        dir: PathBuf,
        /// Print the result as JSON (problems with code, field and message).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Build a package from a source directory (prequal.json + CSV files + attachments).
    Pack {
        /// The source directory.
        dir: PathBuf,
        /// The package file to write.
        #[arg(long)]
        out: PathBuf,
        /// Store entries uncompressed instead of deflating them.
        #[arg(long)]
        store: bool,
        /// Sign the package with this secret key file (from `prequal keygen`) once it is packed,
        /// as `prequal sign` does.
        #[arg(long, value_name = "KEY_FILE")]
        key: Option<PathBuf>,
        /// Print the result as JSON (for scripts).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Add a detached signature to a package (the package digest does not change).
    Sign {
        /// The package file (.zip) written by `prequal pack`.
        package: PathBuf,
        /// Secret key file written by `prequal keygen`.
        #[arg(long)]
        key: PathBuf,
        /// Print the result as JSON (for scripts).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Check a package offline: structure, hashes, manifest, data and signatures. Given an
    /// evidence bundle (`prequal evidence export`), also its log entry, inclusion proof,
    /// checkpoint signature and witness quorum, still offline (needs --log-key).
    Verify {
        /// A package file (.zip), or an evidence bundle written by `prequal evidence export`.
        package: PathBuf,
        /// For an evidence bundle: the log's verifier key `<origin>+<key id>+<base64>`.
        #[arg(long, value_name = "VKEY")]
        log_key: Option<String>,
        /// For an evidence bundle: a witness's verifier key; repeat for several.
        #[arg(long = "witness", value_name = "VKEY")]
        witnesses: Vec<String>,
        /// For an evidence bundle: how many distinct named witnesses must have cosigned its
        /// checkpoint (default: all named).
        #[arg(long)]
        quorum: Option<usize>,
        /// Trust set: JSON file of key id -> organisation, role, status.
        #[arg(long)]
        trust: Option<PathBuf>,
        /// Accept a package without signatures (checks structure and data only).
        #[arg(long)]
        allow_unsigned: bool,
        /// Print the result as JSON (for scripts).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Run the registry (SQLite under ./prequal-data unless --db names PostgreSQL).
    Serve(serve_cmds::ServeArgs),
    /// Follow another registry as a verifying, read-only mirror (serves the read API and pages).
    Mirror(mirror_cmd::MirrorArgs),
    /// Manage organisations, keys and API tokens directly in the registry's database.
    Admin(admin_cmd::AdminArgs),
    /// Fit a material's evidence against an application requirement profile: which requirements
    /// are met, at what basis, and which tests remain. Offline on package files, or --registry.
    Fit(fit_cmd::FitArgs),
    /// Test whether a new source (second site, new lot) is equivalent to a material's qualified
    /// data (mean and minimum-individual tests per property and temperature). Exit 1 if not.
    Equivalency(fit_cmd::EquivalencyArgs),
    /// A registry's transparency log: witness keys, cosigning as a witness, checking the log
    /// against a quorum of witnesses, and checking split-view evidence offline.
    Log(log_cmds::LogArgs),
    /// Offline evidence bundles for a package (export; `prequal verify` checks them).
    Evidence(log_cmds::EvidenceArgs),
    /// Requirement profiles: sign a profile version with the issuer's key, push it to a registry.
    Profile(profile_cmd::ProfileArgs),
    /// Upload a package to a registry.
    Push {
        /// The signed package file (.zip) to upload.
        package: PathBuf,
        /// Registry base URL.
        #[arg(long, env = "PREQUAL_REGISTRY", default_value = "http://127.0.0.1:8080")]
        registry: String,
        /// A lab API token.
        #[arg(long, env = "PREQUAL_TOKEN", hide_env_values = true)]
        token: String,
        /// Print the result as JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
}

/// The material classes `prequal init` has templates for.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "snake_case")]
enum ClassArg {
    PermanentMagnet,
    BatteryCell,
}

impl From<ClassArg> for crate::package::vocabulary::MaterialClass {
    fn from(c: ClassArg) -> Self {
        match c {
            ClassArg::PermanentMagnet => Self::PermanentMagnet,
            ClassArg::BatteryCell => Self::BatteryCell,
        }
    }
}

/// Limits for reading packages; the defaults are the registry's.
#[derive(Args, Debug, Clone)]
struct LimitArgs {
    /// Maximum total uncompressed size of a package, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_total_size: Option<u64>,
    /// Maximum uncompressed size of one file in a package, in bytes.
    #[arg(long, value_name = "BYTES")]
    max_file_size: Option<u64>,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        let mut limits = Limits::default();
        if let Some(v) = self.max_total_size {
            limits.max_total_uncompressed = v;
        }
        if let Some(v) = self.max_file_size {
            limits.max_entry_size = v;
        }
        limits
    }
}

/// Outcome of a command: exit status with its meaning.
pub(crate) enum Outcome {
    Ok,
    Refused,
    Failed,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> ExitCode {
        match o {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::Refused => ExitCode::from(1),
            Outcome::Failed => ExitCode::from(2),
        }
    }
}

/// Lets a closed pipe end the command the way it ends other Unix tools (`prequal … | head`):
/// Rust ignores SIGPIPE, which turns every later `println!` into a panic on a broken pipe. The
/// server and the mirror keep ignoring it: a client hanging up must never stop them.
fn quiet_broken_pipe() {
    #[cfg(unix)]
    // SAFETY: called once at start-up, before any thread is spawned; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Runs the command line and returns the process exit code.
pub fn run() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_) | Command::Mirror(_)) {
        quiet_broken_pipe();
    }
    let outcome = match cli.command {
        Command::Keygen { out, comment, json } => package_cmds::keygen(&out, comment.as_deref(), json),
        Command::Init { dir, class, from, json } => {
            package_cmds::init(&dir, class.map(Into::into), from.as_deref(), json)
        }
        Command::Import(args) => import_cmd::import(args),
        Command::Check { dir, json, limits } => package_cmds::check(&dir, json, limits.limits()),
        Command::Pack { dir, out, store, key, json, limits } => {
            package_cmds::pack(&dir, &out, store, key.as_deref(), json, limits.limits())
        }
        Command::Sign { package, key, json, limits } => package_cmds::sign(&package, &key, json, limits.limits()),
        Command::Verify { package, log_key, witnesses, quorum, trust, allow_unsigned, json, limits } => {
            let evidence = package_cmds::EvidenceArgs { log_key, witnesses, quorum };
            package_cmds::verify(&package, &evidence, trust.as_deref(), allow_unsigned, json, limits.limits())
        }
        Command::Log(args) => log_cmds::log(args),
        Command::Evidence(args) => log_cmds::evidence(args),
        Command::Serve(args) => serve_cmds::serve(args),
        Command::Mirror(args) => mirror_cmd::mirror(args),
        Command::Fit(args) => fit_cmd::fit(args),
        Command::Equivalency(args) => fit_cmd::equivalency(args),
        Command::Profile(args) => profile_cmd::profile(args),
        Command::Admin(args) => admin_cmd::admin(args),
        Command::Push { package, registry, token, json } => push_cmd::push(&package, &registry, &token, json),
    };
    outcome.into()
}

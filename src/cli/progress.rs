//! Progress bars for long work (pack, verify, push, evidence export's download, a mirror's
//! first sync): on stderr, and only when stderr is a
//! terminal and the output is not `--json`, so pipes, logs and scripts never see them.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Work below this many bytes finishes before a bar would be worth drawing.
const SHOW_FROM: u64 = 8 << 20;

/// A byte-counting bar of `len` bytes, or a hidden one.
pub(crate) fn bar(len: u64, message: &'static str, json: bool) -> ProgressBar {
    if json || len < SHOW_FROM || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message);
    // Drawn at once: work that ends between two refreshes still showed it was under way.
    bar.tick();
    bar
}

/// A bar counting `len` items (`unit`: "entries"), or a hidden one below `show_from` items.
pub(crate) fn count_bar(len: u64, show_from: u64, message: &'static str, unit: &str, json: bool) -> ProgressBar {
    if json || len < show_from || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(&format!("{{msg}} [{{bar:40}}] {{pos}}/{{len}} {unit} eta {{eta}}"))
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message);
    bar.tick();
    bar
}

/// Fits and rankings allocate many small values (rows, strings, vectors) across threads;
/// mimalloc handles that pattern markedly faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    prequal::cli::run()
}

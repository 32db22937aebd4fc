fn main() -> std::process::ExitCode {
    prequal::cli::run()
}

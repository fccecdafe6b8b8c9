//! The `scrm` binary: see `scrm --help`.

fn main() -> anyhow::Result<()> {
    scrm::cli::run()
}

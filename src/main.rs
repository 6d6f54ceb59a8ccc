//! The `frontdoor` command: serve, ask, eval, check, config, the back office's reports.
//!
//! Wiring only: parse the command line, load the configuration, start logging where the
//! command wants it, and hand over to the command's module under `frontdoor::cli`.

// mimalloc instead of glibc's malloc: the engine build allocates on every core and frees on
// another (per-thread glibc arenas made a 100x knowledge base's vectors phase 3x slower when
// one more pass moved to worker threads), and the server allocates per request on every worker.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use frontdoor::cli::{self, Cli};
use frontdoor::config::Config;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(&cli.flags())?;
    if cli.command.logs() {
        cli::init_tracing(config.log_format);
    }
    cli::dispatch(cli.command, config)
}

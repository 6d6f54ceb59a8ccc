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
    return_freed_memory_promptly();
    let cli = Cli::parse();
    let config = Config::load(&cli.flags())?;
    if cli.command.logs() {
        cli::init_tracing(config.log_format);
    }
    cli::dispatch(cli.command, config)
}

/// mimalloc (v3) keeps freed memory resident for 1 s before it returns it to the system. A
/// content load frees large arrays phase after phase (features, vectors, the training layout),
/// which then stayed resident beside the next phase's: the 100× knowledge base's load peaked
/// at 490 MB instead of 430 MB. 10 ms (mimalloc v2's default) returns them while the next
/// phase runs; the load took as long either way. `MIMALLOC_PURGE_DELAY` still decides when set.
fn return_freed_memory_promptly() {
    /// `mi_option_purge_delay` in mimalloc v3's `mimalloc.h` (the bindings name no constant).
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: called first thing in `main`, before any other thread exists (the function
        // is not thread safe); it only changes an allocator setting.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 10) }
    }
}

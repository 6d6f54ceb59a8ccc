//! `frontdoor inbox`: receive account managers' webhook pings and print each new one as the
//! manager reads it.

use std::io::Write;

use anyhow::Context;

use crate::config::Config;
use crate::escalation::inbox;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, default_value = inbox::DEFAULT_ADDR)]
    addr: String,
}

pub async fn run(config: Config, a: Args) -> anyhow::Result<()> {
    let addr = a.addr;
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let secret = config.webhook_secret.clone();
    // the bound address, not the asked one: `--addr 127.0.0.1:0` picks a free port
    let at = listener.local_addr()?;
    if secret.is_some() {
        tracing::info!("inbox listening: http://{at}/hooks/<name>; signatures are checked");
    } else {
        tracing::warn!(
            "inbox listening: http://{at}/hooks/<name>; FRONTDOOR_WEBHOOK_SECRET is not set, \
             so signatures are not checked"
        );
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = tokio::spawn(inbox::run(listener, secret, tx, crate::shutdown::signal()));
    // Ends when the server stops and drops its sender.
    while let Some(ping) = rx.recv().await {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", ping.render())?;
        out.flush()?;
    }
    server.await??;
    Ok(())
}

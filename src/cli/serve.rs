//! `frontdoor serve`: the web chat API, the back office, and the bots whose tokens are set,
//! with their background tasks, until SIGINT or SIGTERM.
//!
//! One [`Shutdown`] handle is created here and a clone goes to every task; the signal fires
//! it, the HTTP server finishes its in-flight requests, and `serve` then waits for the tasks
//! that may be in the middle of something worth finishing (a delivery, a poll).

use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;

use crate::channels::discord::{self, DiscordSettings};
use crate::channels::telegram::TelegramAdapter;
use crate::config::Config;
use crate::http::AppState;
use crate::shutdown::{self, Shutdown};

#[derive(clap::Args)]
pub struct Args {}

pub async fn run(config: Config) -> anyhow::Result<()> {
    tracing::info!(config = ?config, "starting");
    let mut state = crate::app::build(&config).await?;
    let (trigger, shutdown) = shutdown::channel();
    let telegram = start_telegram(&config, &mut state, &shutdown).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = ?state.chat.store.backend(), "web chat API listening: http://{addr}/");

    // Escalation pings: undelivered ones from before a restart go out now.
    let worker =
        tokio::spawn(crate::app::outbox_worker(&config, &state).run(shutdown.clone().signalled()));
    // SPA renewal alerts: checked at start and daily; the outbox worker delivers them.
    tokio::spawn(crate::backoffice::renewals::run_daily(
        state.chat.store.clone(),
        state.chat.knowledge.clone(),
        state.chat.outbox_wake.clone(),
        shutdown.clone().signalled(),
    ));
    // Monthly report reviews: the account manager is reminded once of a report left
    // unreviewed; checked at start and hourly.
    tokio::spawn(crate::backoffice::review::reminders::run_hourly(
        state.chat.store.clone(),
        state.chat.knowledge.clone(),
        state.chat.outbox_wake.clone(),
        shutdown.clone(),
    ));
    // Announcements: running ones fanned out to linked Telegram and Discord users, within
    // their clients' coverage hours; the outbox worker sends them.
    let fanout = tokio::spawn(
        crate::announce::fanout::Fanout::new(
            state.chat.store.clone(),
            state.chat.knowledge.clone(),
            state.chat.outbox_wake.clone(),
        )
        .run(shutdown.clone()),
    );
    if config.reload_interval_secs > 0 {
        tokio::spawn(state.live_knowledge().watch(
            Duration::from_secs(config.reload_interval_secs),
            shutdown.clone(),
        ));
    }
    #[cfg(unix)]
    tokio::spawn(reload_on_hangup(state.clone(), shutdown.clone()));
    let discord = start_discord(&config, &state, &shutdown);
    tokio::spawn(async move {
        shutdown::signal().await;
        trigger.fire();
    });
    crate::http::run(listener, state, shutdown.signalled()).await?;
    // Let a delivery in flight finish and record its result.
    let _ = worker.await;
    let _ = fanout.await;
    if let Some(t) = telegram {
        let _ = t.await;
    }
    if let Some(d) = discord {
        let _ = d.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// The Telegram bot, if its token is set: in webhook mode it answers through the HTTP server
/// (`state.telegram`); otherwise it long-polls in its own task, returned here.
async fn start_telegram(
    config: &Config,
    state: &mut AppState,
    shutdown: &Shutdown,
) -> anyhow::Result<Option<JoinHandle<()>>> {
    let Some(token) = &config.channels.telegram.bot_token else {
        return Ok(None);
    };
    let mut bot = TelegramAdapter::new(
        token.expose(),
        &config.channels.telegram.api_url,
        state.chat.clone(),
    )
    .map_err(anyhow::Error::msg)?
    .with_outlets(state.web.outlets.clone());
    if config.channels.telegram.webhook_url.is_some() {
        // Webhook mode: Telegram posts to /telegram/webhook on any replica.
        if let Err(e) = bot.prepare().await {
            tracing::warn!(error = %e, "telegram: could not fetch the bot's name yet (group mentions need it)");
        }
        state.telegram = Some(bot);
        state.telegram_webhook_secret = config.channels.telegram.webhook_secret.clone();
        tracing::info!(
            "telegram webhook mode: POST /telegram/webhook (register once with `frontdoor telegram-webhook`)"
        );
        return Ok(None);
    }
    state.telegram = Some(bot.clone());
    let stopped = shutdown.clone().signalled();
    Ok(Some(tokio::spawn(async move {
        if let Err(e) = bot.run(stopped).await {
            tracing::error!(error = %e, "telegram bot stopped");
        }
    })))
}

/// The Discord bot, if its token is set, in its own task.
fn start_discord(config: &Config, state: &AppState, shutdown: &Shutdown) -> Option<JoinHandle<()>> {
    let token = config.channels.discord.bot_token.as_ref()?;
    let settings = DiscordSettings {
        proxy: (config.channels.discord.api_url != "https://discord.com")
            .then(|| config.channels.discord.api_url.clone()),
        guild_clients: config.channels.discord.guild_clients.clone(),
        shards: config.channels.discord.shards,
        outlets: state.web.outlets.clone(),
    };
    let (token, chat, stopped) = (
        token.expose().to_string(),
        state.chat.clone(),
        shutdown.clone().signalled(),
    );
    Some(tokio::spawn(async move {
        if let Err(e) = discord::run(&token, chat, settings, stopped).await {
            tracing::error!(error = %e, "discord bot stopped");
        }
    }))
}

/// SIGHUP reloads the content, as daemons do.
#[cfg(unix)]
async fn reload_on_hangup(state: AppState, mut shutdown: Shutdown) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    let live = state.live_knowledge();
    loop {
        tokio::select! {
            got = hup.recv() => {
                if got.is_none() {
                    return;
                }
                // Errors are logged inside; the previous knowledge stays.
                let _ = live.reload().await;
            }
            _ = shutdown.recv() => return,
        }
    }
}

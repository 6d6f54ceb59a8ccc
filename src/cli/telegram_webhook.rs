//! `frontdoor telegram-webhook`: register the webhook URL (and its secret) with Telegram, once
//! per deployment, when several replicas serve Telegram through the webhook.

use anyhow::bail;

use crate::channels::telegram::TelegramAdapter;
use crate::config::Config;
use crate::dialogue::service::{ChatService, share};

#[derive(clap::Args)]
pub struct Args {}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let (Some(token), Some(url), Some(secret)) = (
        &config.channels.telegram.bot_token,
        &config.channels.telegram.webhook_url,
        &config.channels.telegram.webhook_secret,
    ) else {
        bail!(
            "set TELEGRAM_BOT_TOKEN, FRONTDOOR_TELEGRAM_WEBHOOK_URL and FRONTDOOR_TELEGRAM_WEBHOOK_SECRET"
        );
    };
    let store = crate::store::connect(&config.database_url).await?;
    let k = crate::app::load_knowledge(&config.content_dir, &config.engine)?;
    let chat = ChatService::new(store, share(k), config.dialogue.clone());
    let bot = TelegramAdapter::new(token.expose(), &config.channels.telegram.api_url, chat)
        .map_err(anyhow::Error::msg)?;
    bot.set_webhook(url, secret.expose())
        .await
        .map_err(anyhow::Error::msg)?;
    println!("Telegram will post updates to {url}");
    Ok(())
}

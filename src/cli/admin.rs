//! `frontdoor admin`: back-office users and API tokens.

use anyhow::bail;
use clap::Subcommand;

use crate::backoffice::access::{new_secret, secret_hash};
use crate::backoffice::users::{UserRequest, create_user};
use crate::config::Config;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a back-office user. The password comes from standard input (--password-stdin)
    /// or FRONTDOOR_NEW_PASSWORD, never from the command line (which `ps` shows).
    CreateUser {
        #[arg(long)]
        username: String,
        /// admin, sso_lead, account_manager or client_lead.
        #[arg(long, default_value = "admin")]
        role: String,
        /// Client codes, comma-separated (account managers: their clients; client leads: one).
        #[arg(long, value_delimiter = ',')]
        clients: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Create an API token for a user (printed once; only its hash is stored).
    CreateToken {
        #[arg(long)]
        username: String,
        /// What the token is for.
        #[arg(long, default_value = "script")]
        name: String,
    },
}

pub async fn run(config: Config, a: Args) -> anyhow::Result<()> {
    let store = crate::store::connect(&config.database_url).await?;
    match a.command {
        AdminCommand::CreateUser {
            username,
            role,
            clients,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_string()
            } else {
                std::env::var("FRONTDOOR_NEW_PASSWORD").map_err(|_| {
                    anyhow::anyhow!("give the password on standard input with --password-stdin, or in FRONTDOOR_NEW_PASSWORD")
                })?
            };
            let k = crate::app::load_knowledge(&config.content_dir, &config.engine)?;
            let request = UserRequest {
                username: username.clone(),
                password,
                role,
                clients,
            };
            // In the words the API answers with (an internal failure is not detailed).
            let id = create_user(store.as_ref(), &k, request)
                .await
                .map_err(|e| anyhow::anyhow!("{}", crate::http::ApiError::from(e)))?;
            println!("created user {username} (id {id})");
        }
        AdminCommand::CreateToken { username, name } => {
            let Some(user) = store.user_by_name(&username).await? else {
                bail!("no user {username}");
            };
            let token = new_secret(crate::http::backoffice::auth::TOKEN_PREFIX);
            let now = chrono::Utc::now().timestamp_millis();
            store
                .create_api_token(user.id, &secret_hash(&token), &name, now)
                .await?;
            println!("{token}");
        }
    }
    Ok(())
}

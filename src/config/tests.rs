//! Tests of the configuration's layering and checks.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_then_env_then_flags() {
    let c = Config::load_from(&Flags::default(), &env(&[])).unwrap();
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert!(c.database_url.expose().ends_with("data/frontdoor.db"));

    let e = env(&[
        ("FRONTDOOR_LISTEN", "127.0.0.1:9000"),
        ("FRONTDOOR_DATA_DIR", "/tmp/x"),
    ]);
    let c = Config::load_from(&Flags::default(), &e).unwrap();
    assert_eq!(c.listen.port(), 9000);
    assert_eq!(c.database_url.expose(), "sqlite:///tmp/x/frontdoor.db");

    let flags = Flags {
        listen: Some("127.0.0.1:9100".into()),
        ..Flags::default()
    };
    let c = Config::load_from(&flags, &e).unwrap();
    assert_eq!(c.listen.port(), 9100, "flags beat the environment");
}

#[test]
fn file_sits_between_defaults_and_env() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frontdoor.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:7000\"\ncontent_dir = \"/srv/content\"\n[engine]\noos_threshold = 0.4\n",
    )
    .unwrap();
    let flags = Flags {
        config_file: Some(path.clone()),
        ..Flags::default()
    };
    let c = Config::load_from(&flags, &env(&[])).unwrap();
    assert_eq!(c.listen.port(), 7000);
    assert_eq!(c.content_dir, PathBuf::from("/srv/content"));
    assert_eq!(c.engine.oos_threshold, Some(0.4));
    let c = Config::load_from(&flags, &env(&[("FRONTDOOR_LISTEN", "127.0.0.1:7001")])).unwrap();
    assert_eq!(c.listen.port(), 7001);
}

#[test]
fn bad_file_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frontdoor.toml");
    std::fs::write(&path, "listen = \"127.0.0.1:7000\"\n\nbogus_key = 3\n").unwrap();
    let flags = Flags {
        config_file: Some(path),
        ..Flags::default()
    };
    let err = Config::load_from(&flags, &env(&[]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("frontdoor.toml:3"), "{err}");
    assert!(err.contains("bogus_key"), "{err}");
}

#[test]
fn channel_sections_come_from_the_file_and_the_old_variables_win() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frontdoor.toml");
    std::fs::write(
        &path,
        "[channels.telegram]\napi_url = \"http://127.0.0.1:8081/\"\n\n[channels.discord]\napi_url = \"http://proxy.internal\"\nshards = \"0-1/4\"\n\n[channels.discord.guild_clients]\n\"123456789012345678\" = \"ACME\"\n",
    )
    .unwrap();
    let flags = Flags {
        config_file: Some(path.clone()),
        ..Flags::default()
    };
    let c = Config::load_from(&flags, &env(&[])).unwrap();
    assert_eq!(c.channels.telegram.api_url, "http://127.0.0.1:8081");
    assert_eq!(c.channels.discord.api_url, "http://proxy.internal");
    assert_eq!(
        c.channels.discord.guild_clients.get(&123456789012345678),
        Some(&"ACME".to_string())
    );
    assert_eq!(c.channels.discord.shards.map(|s| s.total), Some(4));
    let c = Config::load_from(
        &flags,
        &env(&[
            ("FRONTDOOR_TELEGRAM_API_URL", "http://local-bot-api"),
            ("FRONTDOOR_DISCORD_SHARDS", "2/4"),
            ("TELEGRAM_BOT_TOKEN", "1:t"),
        ]),
    )
    .unwrap();
    assert_eq!(c.channels.telegram.api_url, "http://local-bot-api");
    assert_eq!(c.channels.discord.shards.map(|s| s.first), Some(2));
    assert!(c.channels.telegram.bot_token.is_some());
    // Tokens stay out of the file.
    std::fs::write(&path, "[channels.telegram]\nbot_token = \"1:t\"\n").unwrap();
    assert!(Config::load_from(&flags, &env(&[])).is_err());
}

#[test]
fn discord_shard_ranges() {
    let shards = |v: &str| {
        Config::load_from(&Flags::default(), &env(&[("FRONTDOOR_DISCORD_SHARDS", v)]))
            .map(|c| c.channels.discord.shards)
    };
    let range = |first, last, total| Some(ShardRange { first, last, total });
    assert_eq!(shards("0-1/4").unwrap(), range(0, 1, 4));
    assert_eq!(shards(" 3/4 ").unwrap(), range(3, 3, 4));
    assert_eq!(
        Config::load_from(&Flags::default(), &env(&[]))
            .unwrap()
            .channels
            .discord
            .shards,
        None
    );
    for bad in ["4/4", "2-1/4", "0-1", "a-b/c", "0/0", "-1/4"] {
        let err = shards(bad).unwrap_err().to_string();
        assert!(err.starts_with("FRONTDOOR_DISCORD_SHARDS"), "{bad}: {err}");
    }
}

#[test]
fn secrets_never_shown() {
    let e = env(&[
        (
            "FRONTDOOR_DATABASE_URL",
            "postgres://fd:hunter2@db.internal:5432/fd",
        ),
        ("TELEGRAM_BOT_TOKEN", "123456:ABC-very-secret"),
        ("DISCORD_BOT_TOKEN", "discord-secret-token"),
        ("FRONTDOOR_ADMIN_TOKEN", "admin-secret-token"),
    ]);
    let c = Config::load_from(&Flags::default(), &e).unwrap();
    let shown = format!("{c:?}\n{}", c.to_masked_toml());
    for secret in [
        "hunter2",
        "ABC-very-secret",
        "discord-secret-token",
        "admin-secret-token",
    ] {
        assert!(!shown.contains(secret), "{secret} leaked in:\n{shown}");
    }
    assert!(
        shown.contains("postgres://fd:********@db.internal:5432/fd"),
        "{shown}"
    );
    assert!(c.database_url.is_postgres());
}

#[test]
fn invalid_values_are_named() {
    let err = Config::load_from(
        &Flags::default(),
        &env(&[("FRONTDOOR_LISTEN", "localhost")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("listen:"), "{err}");
    let err = Config::load_from(
        &Flags::default(),
        &env(&[("FRONTDOOR_DATABASE_URL", "mysql://x")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("FRONTDOOR_DATABASE_URL"), "{err}");
}

#[test]
fn request_webhooks_from_the_file_with_their_secrets_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("case-systems")).unwrap();
    std::fs::write(
        dir.path().join("case-systems/jira.json"),
        "{\"summary\": \"{{reference}}\"}",
    )
    .unwrap();
    let path = dir.path().join("frontdoor.toml");
    std::fs::write(
        &path,
        r#"public_url = "https://frontdoor.sso.example/"

[requests]
webhook_max_attempts = 12

[[requests.webhook]]
name = "jira"
url = "https://sso.atlassian.net/rest/servicedeskapi/request"
events = ["request.created"]
template = "case-systems/jira.json"
headers = { "X-ExperimentalApi" = "opt-in" }
headers_from_env = { Authorization = "JIRA_AUTH" }

[[requests.webhook]]
url = "http://127.0.0.1:9010/frontdoor"
template_inline = '{"ref": "{{reference}}"}'
"#,
    )
    .unwrap();
    let flags = Flags {
        config_file: Some(path.clone()),
        ..Flags::default()
    };
    let e = env(&[
        ("JIRA_AUTH", "Basic c2VjcmV0LXVzZXI6c2VjcmV0LXRva2Vu"),
        ("FRONTDOOR_REQUEST_WEBHOOK_SECRET", "hook-signing-secret"),
    ]);
    let c = Config::load_from(&flags, &e).unwrap();
    assert_eq!(
        c.public_url.as_deref(),
        Some("https://frontdoor.sso.example")
    );
    let r = &c.requests;
    assert_eq!(r.webhook_max_attempts, 12);
    assert_eq!(r.webhooks.len(), 2);
    let jira = &r.webhooks[0];
    assert_eq!(jira.name, "jira");
    assert_eq!(jira.events, ["request.created"]);
    assert_eq!(
        jira.template.as_deref(),
        Some("{\"summary\": \"{{reference}}\"}"),
        "read relative to the configuration file"
    );
    assert_eq!(
        jira.headers_from_env[0].value.expose(),
        "Basic c2VjcmV0LXVzZXI6c2VjcmV0LXRva2Vu"
    );
    let other = &r.webhooks[1];
    assert_eq!(other.name, "1");
    assert_eq!(other.events, ["request.created", "request.updated"]);
    assert_eq!(other.template_source.as_deref(), Some("inline"));
    // The token and the signing secret are never shown; the variable's name is.
    let shown = format!("{c:?}\n{}", c.to_masked_toml());
    for secret in ["c2VjcmV0LXVzZXI6c2VjcmV0LXRva2Vu", "hook-signing-secret"] {
        assert!(!shown.contains(secret), "{secret} leaked in:\n{shown}");
    }
    assert!(shown.contains("JIRA_AUTH"), "{shown}");
    assert!(shown.contains("[[requests.webhook]]"), "{shown}");
}

#[test]
fn a_bad_request_webhook_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frontdoor.toml");
    let flags = Flags {
        config_file: Some(path.clone()),
        ..Flags::default()
    };
    let err = |toml: &str, e: &[(&str, &str)]| {
        std::fs::write(&path, toml).unwrap();
        Config::load_from(&flags, &env(e)).unwrap_err().to_string()
    };
    let shown = path.display().to_string();
    let e = err("[[requests.webhook]]\nurl = \"not a url\"\n", &[]);
    assert!(
        e.starts_with(&format!("{shown}: requests.webhook[0].url:")),
        "{e}"
    );
    let e = err("[[requests.webhook]]\nurl = \"ftp://x.example/\"\n", &[]);
    assert!(e.contains("requests.webhook[0].url"), "{e}");
    let e = err(
        "[[requests.webhook]]\nurl = \"https://x.example/\"\n[[requests.webhook]]\nurl = \"https://y.example/\"\ntemplate = \"missing.json\"\n",
        &[],
    );
    assert!(
        e.contains("requests.webhook[1].template: cannot read"),
        "{e}"
    );
    assert!(e.contains("missing.json"), "{e}");
    let e = err(
        "[[requests.webhook]]\nurl = \"https://x.example/\"\nevents = [\"request.deleted\"]\n",
        &[],
    );
    assert!(e.contains("requests.webhook[0].events"), "{e}");
    let e = err(
        "[[requests.webhook]]\nurl = \"https://x.example/\"\nheaders_from_env = { Authorization = \"JIRA_AUTH\" }\n",
        &[],
    );
    assert!(
        e.contains("requests.webhook[0].headers_from_env.Authorization: the environment variable JIRA_AUTH is not set"),
        "{e}"
    );
    let e = err(
        "[[requests.webhook]]\nurl = \"https://x.example/\"\nheaders_from_env = { Authorization = \"JIRA_AUTH\" }\n",
        &[("JIRA_AUTH", "line\nbreak-secret")],
    );
    assert!(
        e.contains("JIRA_AUTH is not a valid Authorization header value"),
        "{e}"
    );
    assert!(!e.contains("break-secret"), "{e}");
    let e = err(
        "[[requests.webhook]]\nname = \"a b\"\nurl = \"https://x.example/\"\n",
        &[],
    );
    assert!(e.contains("requests.webhook[0].name"), "{e}");
    let e = err(
        "[[requests.webhook]]\nurl = \"https://x.example/\"\nsecret = \"s\"\n",
        &[],
    );
    assert!(e.contains("unknown field `secret`"), "{e}");
    let e = err("public_url = \"frontdoor.example\"\n", &[]);
    assert!(e.starts_with("public_url:"), "{e}");
}

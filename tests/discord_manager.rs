//! A Discord account manager acts from the ping's buttons and commands (the real serenity
//! client against the fake Discord); someone else pressing the same buttons is refused and
//! nothing changes.

mod common;

use common::channels::{Channels, OLIVER_DISCORD, Options, PRIYA_DISCORD, web_say, web_socket};
use common::fake_discord::{self, dm_channel_of};

/// The texts the bot posted in `channel`.
async fn posted(c: &Channels, channel: &str, what: &str, needle: &str) {
    c.discord
        .until(what, 30, |d| {
            d.accepted_texts_to(channel)
                .iter()
                .any(|t| t.contains(needle))
                .then_some(())
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discord_manager_acknowledges_and_resolves_from_the_pings_buttons() {
    for (name, store, _dir) in common::backends("discord_manager").await {
        // Priya's pings go to her Discord DM first.
        let c = Channels::start(
            store,
            Options {
                priya_routes: format!(
                    "discord_user = \"{PRIYA_DISCORD}\"\nroute_order = [\"discord\", \"webhook\"]\nwebhook = \"{{hooks}}/hooks/priya\""
                ),
                ..Options::default()
            },
        )
        .await;
        let session = "discord-manager-web";
        let body = web_say(&c, session, "I want to talk to a real person please").await;
        assert_eq!(body["outcome"], "escalated", "[{name}] {body}");
        let id = c
            .escalation_of(body["conversation"].as_str().unwrap())
            .await;
        let mut ws = web_socket(&c, session).await;
        let priya_dm = dm_channel_of(PRIYA_DISCORD);

        // The ping arrives in Priya's DM with Acknowledge / Resolve buttons.
        let ping = c
            .discord
            .until("the ping in Priya's DM", 30, |d| {
                d.accepted_to(&priya_dm).into_iter().find(|m| {
                    m["content"]
                        .as_str()
                        .unwrap_or_default()
                        .contains(&format!("#{id}"))
                })
            })
            .await;
        let buttons = &ping["components"][0]["components"];
        assert_eq!(
            buttons[0]["custom_id"],
            format!("esc:ack:{id}"),
            "[{name}] {ping}"
        );
        assert_eq!(
            buttons[1]["custom_id"],
            format!("esc:resolve:{id}"),
            "[{name}] {ping}"
        );

        // Someone who is no manager presses Acknowledge: refused, nothing changes.
        let stranger = "655555555555555555";
        c.discord.dispatch(
            "INTERACTION_CREATE",
            fake_discord::button(
                "440000000000000001",
                &dm_channel_of(stranger),
                (stranger, "Mallory"),
                &format!("esc:ack:{id}"),
            ),
        );
        posted(
            &c,
            &dm_channel_of(stranger),
            "the stranger's refusal",
            "Only account managers",
        )
        .await;
        assert_eq!(c.status(id).await, "open", "[{name}]");

        // Oliver manages another client: pressing Resolve is refused too.
        c.discord.dispatch(
            "INTERACTION_CREATE",
            fake_discord::button(
                "440000000000000002",
                &dm_channel_of(OLIVER_DISCORD),
                (OLIVER_DISCORD, "Oliver"),
                &format!("esc:resolve:{id}"),
            ),
        );
        posted(
            &c,
            &dm_channel_of(OLIVER_DISCORD),
            "Oliver's refusal",
            "is not an account manager of this escalation's client",
        )
        .await;
        assert_eq!(c.status(id).await, "open", "[{name}]");
        assert!(
            c.relays(id).await.is_empty(),
            "[{name}] nothing relayed to the client"
        );

        // Priya acknowledges from the button: the client hears it.
        c.discord.dispatch(
            "INTERACTION_CREATE",
            fake_discord::button(
                "440000000000000003",
                &priya_dm,
                (PRIYA_DISCORD, "Priya"),
                &format!("esc:ack:{id}"),
            ),
        );
        posted(
            &c,
            &priya_dm,
            "Priya's acknowledgement",
            &format!("Done: escalation #{id} is acknowledged."),
        )
        .await;
        let frame = common::channels::next_frame(&mut ws).await;
        assert_eq!(frame["outcome"], "manager_acknowledged", "[{name}] {frame}");
        // The button press was a manager action, not a client turn in Priya's DM.
        assert!(
            c.store
                .turn_context("discord", &priya_dm)
                .await
                .unwrap()
                .is_none(),
            "[{name}] the ping's button did not open a client conversation"
        );

        // A reply in the ping's DM, as a reply to the ping message.
        let mut reply = fake_discord::message(
            "440000000000000004",
            &priya_dm,
            (PRIYA_DISCORD, "Priya"),
            "Payroll re-runs your payslip at 3pm.",
        );
        let mut replied = fake_discord::message(
            "300000000000000001",
            &priya_dm,
            (fake_discord::BOT_ID, "frontdoor"),
            ping["content"].as_str().unwrap(),
        );
        replied["author"] = fake_discord::user(fake_discord::BOT_ID, "frontdoor", true);
        reply["referenced_message"] = replied;
        reply["message_reference"] =
            serde_json::json!({"message_id": "300000000000000001", "channel_id": priya_dm});
        c.discord.dispatch("MESSAGE_CREATE", reply);
        let frame = common::channels::next_frame(&mut ws).await;
        assert_eq!(frame["outcome"], "manager_reply", "[{name}] {frame}");
        assert!(
            frame["replies"][0]["text"]
                .as_str()
                .unwrap()
                .contains("re-runs your payslip"),
            "[{name}] {frame}"
        );

        // Priya resolves from the button: resolved, and the client gets the survey.
        c.discord.dispatch(
            "INTERACTION_CREATE",
            fake_discord::button(
                "440000000000000005",
                &priya_dm,
                (PRIYA_DISCORD, "Priya"),
                &format!("esc:resolve:{id}"),
            ),
        );
        let frame = common::channels::next_frame(&mut ws).await;
        assert_eq!(frame["outcome"], "manager_resolved", "[{name}] {frame}");
        assert_eq!(c.status(id).await, "resolved", "[{name}]");
        let e = c.store.escalation(id).await.unwrap().unwrap();
        assert_eq!(e.acknowledged_by.as_deref(), Some("Priya Shah"), "[{name}]");
        c.stop().await;
    }
}

//! A session's messages that arrive together: each steps on the state the one before it leaves,
//! while that one is still being written (the turn hands its session over once it is queued).
//! On SQLite and PostgreSQL, through the real dialogue service and store.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, TimeZone, Utc};
use frontdoor::dialogue::Input;
use frontdoor::dialogue::service::{ChatService, Inbound, Outbound};
use frontdoor::store::{IdentityClaim, Store};
use futures::future::join_all;

fn ann() -> IdentityClaim {
    IdentityClaim {
        channel: "telegram".into(),
        external_id: "4242".into(),
        display_name: Some("Ann Lee".into()),
        client_code: Some("ACME".into()),
    }
}

fn monday() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
}

/// What Ann says in her Telegram chat: she is named on every message, as Telegram does.
fn from_ann(input: Input, id: &str) -> Inbound {
    Inbound {
        channel: "telegram".into(),
        session_key: "chat-4242".into(),
        identity: Some(ann()),
        input,
        channel_message_id: Some(id.into()),
        now: monday(),
    }
}

fn text(t: &str, id: &str) -> Inbound {
    from_ann(Input::Text(t.into()), id)
}

async fn service(store: &Arc<dyn Store>) -> ChatService {
    let k = common::shipped();
    frontdoor::app::seed_clients(store.as_ref(), &k)
        .await
        .expect("seed clients");
    ChatService::new(
        store.clone(),
        Arc::new(std::sync::RwLock::new(k)),
        frontdoor::config::DialogueSettings::default(),
    )
}

fn said(out: &Outbound) -> String {
    out.replies
        .iter()
        .map(|r| r.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The channel ids of the inbound messages the conversation logged, in the log's order.
async fn logged(store: &Arc<dyn Store>, conversation: &str) -> Vec<String> {
    store
        .transcript(conversation)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "in")
        .map(|m| m.channel_message_id.unwrap_or_default())
        .collect()
}

/// The conversation's version: one per turn kept.
async fn version(store: &Arc<dyn Store>, conversation: &str) -> i64 {
    store
        .conversation(conversation)
        .await
        .unwrap()
        .expect("the conversation")
        .version
}

/// Send these at once: `join_all` polls them in order, so they take the session in that order.
async fn at_once(chat: &ChatService, messages: Vec<Inbound>) -> Vec<Outbound> {
    join_all(messages.into_iter().map(|m| chat.handle(m)))
        .await
        .into_iter()
        .map(|r| r.expect("every message answered"))
        .collect()
}

#[tokio::test]
async fn a_form_answered_in_one_breath_is_filled_in_the_order_it_was_written() {
    for (name, store, _dir) in common::backends("pipelined_form").await {
        let chat = service(&store).await;
        let first = chat
            .handle(text("I need a new vendor set up in the system", "m1"))
            .await
            .unwrap();
        assert!(
            said(&first).contains("registered company name"),
            "[{name}] {first:?}"
        );

        // The name and the VAT number together: the second must step on the state the first
        // leaves (asking for the VAT number), not on the one before it.
        let before = chat.turn_counts().handed_over.load(Ordering::Relaxed);
        let out = at_once(
            &chat,
            vec![
                text("Brightwell Office Supplies Ltd", "m2"),
                text("GB123456789", "m3"),
            ],
        )
        .await;
        assert!(
            said(&out[0]).contains("UK VAT registration number"),
            "[{name}] {out:?}"
        );
        assert!(
            said(&out[1]).contains("bank details be confirmed"),
            "[{name}] {out:?}"
        );
        let bank = out[1]
            .replies
            .iter()
            .flat_map(|r| r.buttons.iter())
            .find(|b| b.label.contains("Vendor will email"))
            .map(|b| b.payload.clone())
            .expect("the bank-details buttons");
        let out = chat
            .handle(from_ann(Input::Button(bank), "m4"))
            .await
            .unwrap();
        assert!(
            said(&out).contains("accounts contact email"),
            "[{name}] {out:?}"
        );

        let out = at_once(
            &chat,
            vec![
                text("accounts@brightwell.example", "m5"),
                text("services", "m6"),
            ],
        )
        .await;
        assert!(said(&out[0]).contains("Which category"), "[{name}] {out:?}");
        let summary = said(&out[1]);
        assert!(
            summary.contains("Vendor name: **Brightwell Office Supplies Ltd**"),
            "[{name}] {summary}"
        );
        assert!(
            summary.contains("Vat number: **GB123456789**"),
            "[{name}] {summary}"
        );
        assert!(
            summary.contains("Category: **Services**"),
            "[{name}] {summary}"
        );
        assert!(
            chat.turn_counts().handed_over.load(Ordering::Relaxed) >= before + 3,
            "[{name}] the bursts' turns handed their session over before they were written"
        );

        let submit = out[1]
            .replies
            .iter()
            .flat_map(|r| r.buttons.iter())
            .find(|b| b.label == "Submit")
            .map(|b| b.payload.clone())
            .expect("the summary's buttons");
        let out = chat
            .handle(from_ann(Input::Button(submit), "m7"))
            .await
            .unwrap();
        assert_eq!(out.outcome, "request_opened", "[{name}] {out:?}");

        // The log holds every message once, in the order written; the conversation moved once
        // per message.
        let inbound = logged(&store, &first.conversation_id).await;
        assert_eq!(
            inbound,
            ["m1", "m2", "m3", "m4", "m5", "m6", "m7"],
            "[{name}]"
        );
        assert_eq!(version(&store, &first.conversation_id).await, 7, "[{name}]");
        assert_eq!(
            chat.sessions_in_flight(),
            0,
            "[{name}] no session left behind"
        );
    }
}

#[tokio::test]
async fn a_message_refused_mid_burst_makes_the_ones_after_it_step_again_on_what_was_kept() {
    for (name, store, _dir) in common::backends("pipelined_refusal").await {
        let chat = service(&store).await;
        let first = chat
            .handle(text("how do I reset my password", "p1"))
            .await
            .unwrap();
        let again_before = chat.turn_counts().stepped_again.load(Ordering::Relaxed);

        // The second is the first again (a channel redelivering it): it steps, hands the
        // session over and is refused as a duplicate. The third stepped on the state the
        // refused one would have left, and the fourth on the third's: both must step again on
        // what was kept, the third only once the fourth is settled (on PostgreSQL the fourth,
        // written after the third's second step, would otherwise find the version it expects).
        let out = at_once(
            &chat,
            vec![
                text("when is payday", "p2"),
                text("how do I reset my password", "p1"),
                text("I need a new laptop", "p3"),
                text("where is my payslip", "p4"),
            ],
        )
        .await;
        assert!(!out[0].duplicate, "[{name}]");
        assert!(
            out[1].duplicate,
            "[{name}] the redelivery is answered from the log"
        );
        assert_eq!(said(&out[1]), said(&first), "[{name}]");
        assert!(!out[2].duplicate && !out[3].duplicate, "[{name}]");
        assert!(
            chat.turn_counts().stepped_again.load(Ordering::Relaxed) >= again_before + 2,
            "[{name}] the third and fourth messages stepped again"
        );

        let mut inbound = logged(&store, &first.conversation_id).await;
        assert_eq!(inbound[..2], ["p1", "p2"], "[{name}] {inbound:?}");
        // The two that stepped again may be kept in either order, as between two replicas.
        inbound[2..].sort();
        assert_eq!(inbound[2..], ["p3", "p4"], "[{name}] each kept once");
        assert_eq!(version(&store, &first.conversation_id).await, 4, "[{name}]");
        assert_eq!(chat.sessions_in_flight(), 0, "[{name}]");
    }
}

/// Poll `turn` until this service has handed one more session over, and return it unfinished.
async fn until_handed_over<F: std::future::Future + Unpin>(chat: &ChatService, mut turn: F) -> F {
    let before = chat.turn_counts().handed_over.load(Ordering::Relaxed);
    while chat.turn_counts().handed_over.load(Ordering::Relaxed) == before {
        tokio::select! {
            biased;
            _ = &mut turn => panic!("answered before it handed the session over"),
            _ = tokio::task::yield_now() => {}
        }
    }
    turn
}

#[tokio::test]
async fn a_client_gone_mid_burst_does_not_break_the_chain() {
    for (name, store, _dir) in common::backends("pipelined_gone").await {
        let chat = service(&store).await;
        let first = chat
            .handle(text("how do I reset my password", "g1"))
            .await
            .unwrap();
        let again_before = chat.turn_counts().stepped_again.load(Ordering::Relaxed);

        // The second message is queued and hands the session over; the third is queued behind
        // it and hands over too, and then its client goes away (its request is dropped). The
        // fourth must still step on the third's state: the third's fate is told by a task of
        // its own, not by the request that went away.
        let second =
            until_handed_over(&chat, Box::pin(chat.handle(text("when is payday", "g2")))).await;
        let third = until_handed_over(
            &chat,
            Box::pin(chat.handle(text("I need a new laptop", "g3"))),
        )
        .await;
        drop(third);
        let fourth = chat
            .handle(text("where is my payslip", "g4"))
            .await
            .expect("the fourth is answered");
        assert!(!fourth.duplicate, "[{name}]");
        second.await.expect("the second is answered");
        // On SQLite nothing else makes a turn step again (its writer keeps the order); on
        // PostgreSQL a later batch finishing first may.
        if name == "sqlite" {
            assert_eq!(
                chat.turn_counts().stepped_again.load(Ordering::Relaxed),
                again_before,
                "[{name}] the fourth found the third in flight and stepped on it"
            );
        }

        // The third was queued before its client left. On SQLite it is written behind the
        // second, so it is logged, in order. On PostgreSQL its batch may run before the
        // second's and find the conversation a version behind; with nobody left to step it
        // again it is not kept (its client was never told it was).
        let inbound = logged(&store, &first.conversation_id).await;
        if name == "sqlite" {
            assert_eq!(inbound, ["g1", "g2", "g3", "g4"], "[{name}]");
        } else {
            assert!(
                inbound == ["g1", "g2", "g3", "g4"] || inbound == ["g1", "g2", "g4"],
                "[{name}] {inbound:?}"
            );
        }
        assert_eq!(
            version(&store, &first.conversation_id).await,
            inbound.len() as i64,
            "[{name}] one version per message kept"
        );
        assert_eq!(chat.sessions_in_flight(), 0, "[{name}]");
    }
}

//! "Did you mean": a question the engine is unsure about gets suggestions instead of "I don't
//! know", over the real chat API; a press answers that article and is logged as a knowledge gap
//! ("asked X, chose Y") that `gaps --promote` can make an example. On SQLite and PostgreSQL.

mod common;

use common::TestServer;
use serde_json::{Value, json};

async fn post(client: &reqwest::Client, url: &str, body: Value) -> Value {
    let r = client
        .post(format!("{url}/api/v1/chat"))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    r.json().await.expect("json body")
}

/// A server on the shipped content with the product's engine settings (answer threshold and
/// suggestion band as `frontdoor serve` uses them).
async fn server(store: std::sync::Arc<dyn frontdoor::store::Store>) -> TestServer {
    let config = frontdoor::app::engine_config(&Default::default());
    let k = frontdoor::knowledge::Knowledge::load(&common::repo_root(), config)
        .unwrap_or_else(|e| panic!("content must load:\n{e}"));
    TestServer::start_with_knowledge(store, &common::repo_root(), Default::default(), None, k).await
}

#[tokio::test]
async fn an_unsure_answer_offers_suggestions_and_the_choice_is_remembered() {
    for (name, store, _dir) in common::backends("did_you_mean").await {
        let server = server(store.clone()).await;
        let http = reqwest::Client::new();
        let user = json!({"id": "ann.lee@acme.example", "name": "Ann Lee", "client": "ACME"});

        // user: book a room in austin
        let body = post(
            &http,
            &server.url,
            json!({"session": "dym-1", "text": "book a room in austin", "user": user}),
        )
        .await;
        assert_eq!(body["outcome"], "suggest", "{name}: {body}");
        let suggestions = body["suggestions"].as_array().expect("suggestions");
        assert!(!suggestions.is_empty() && suggestions.len() <= 3, "{body}");
        assert_eq!(suggestions[0]["intent"], "finance-travel-booking", "{body}");
        assert_eq!(suggestions[0]["title"], "Book business travel and hotels");
        // bot: Did you mean one of these? [Book business travel and hotels] ... [None of these]
        let buttons = body["replies"][0]["buttons"].as_array().expect("buttons");
        assert_eq!(
            buttons.last().expect("a button")["label"],
            "None of these",
            "{body}"
        );

        // user: [Book business travel and hotels]
        let body = post(
            &http,
            &server.url,
            json!({"session": "dym-1", "payload": "intent:finance-travel-booking"}),
        )
        .await;
        assert_eq!(body["outcome"], "answered", "{name}: {body}");
        assert_eq!(body["intent"], "finance-travel-booking");
        assert!(body.get("suggestions").is_none(), "{body}");

        // the back office sees "asked X, chose Y"
        let facts = store.gap_facts(None, 0, i64::MAX).await.expect("gap facts");
        let chosen: Vec<(&str, Option<&str>)> = facts
            .iter()
            .filter(|g| g.kind == "suggestion_chosen")
            .map(|g| (g.text.as_str(), g.intent.as_deref()))
            .collect();
        assert_eq!(
            chosen,
            vec![("book a room in austin", Some("finance-travel-booking"))],
            "{name}"
        );
        assert!(
            facts.iter().any(|g| g.kind == "suggested"),
            "{name}: the suggestion itself is a gap"
        );
    }
}

#[tokio::test]
async fn none_of_these_goes_on_as_a_fallback_does() {
    let (_, store, _dir) = common::backends("did_you_mean_none").await.remove(0);
    let server = server(store.clone()).await;
    let http = reqwest::Client::new();
    let body = post(
        &http,
        &server.url,
        json!({"session": "dym-2", "text": "book a room in austin"}),
    )
    .await;
    assert_eq!(body["outcome"], "suggest", "{body}");
    let body = post(
        &http,
        &server.url,
        json!({"session": "dym-2", "payload": "something_else"}),
    )
    .await;
    assert_eq!(body["outcome"], "fallback", "{body}");
    assert!(
        body["replies"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("in other words"),
        "{body}"
    );
}

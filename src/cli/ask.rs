//! `frontdoor ask`: one question answered from the command line, without a server.

use crate::config::Config;
use crate::engine::Decision;
use crate::knowledge::render;

#[derive(clap::Args)]
pub struct Args {
    text: String,
    /// Print the same JSON object as the chat API.
    #[arg(long)]
    json: bool,
    /// Explain the classification: rule, matching examples and terms, runner-up, margin.
    #[arg(long)]
    explain: bool,
    /// Answer as a user of this client.
    #[arg(long)]
    client: Option<String>,
}

pub fn run(config: &Config, a: Args) -> anyhow::Result<()> {
    let text = a.text.as_str();
    let k = crate::app::load_knowledge(&config.content_dir, &config.engine)?;
    if a.explain {
        println!("{}", k.engine.explain(text));
        return Ok(());
    }
    // The same dialogue step as the chat API, on a fresh conversation, without a store.
    let event = crate::dialogue::Event {
        input: crate::dialogue::Input::Text(text.to_string()),
        channel: "cli".into(),
        user: crate::dialogue::UserContext {
            client: a.client,
            ..Default::default()
        },
        now: chrono::Utc::now(),
        gate: crate::dialogue::Gate::Live,
    };
    let step = crate::dialogue::step(Default::default(), &event, &k, &config.dialogue);
    if a.json {
        let out = serde_json::json!({
            "conversation": null,
            "replies": step.replies.iter().map(|r| serde_json::json!({
                "text": r.text,
                "html": render::to_html(&r.text),
                "buttons": r.buttons,
            })).collect::<Vec<_>>(),
            "intent": step.intent,
            "confidence": step.confidence,
            "outcome": step.outcome.as_str(),
            "suggestions": crate::dialogue::suggestions_of(step.outcome.as_str(), &step.replies),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for r in &step.replies {
        println!("{}", render::to_plain(&r.text));
        if !r.buttons.is_empty() {
            let labels: Vec<String> = r.buttons.iter().map(|b| format!("[{}]", b.label)).collect();
            println!("{}", labels.join(" "));
        }
        println!();
    }
    let c = k.engine.classify(text);
    let decision = match &c.decision {
        Decision::Intent(i) => i.clone(),
        Decision::Clarify(a, b) => format!("clarify({a}, {b})"),
        Decision::Suggest(list) => format!("suggest({})", list.join(", ")),
        Decision::Fallback => "fallback".into(),
    };
    eprintln!(
        "intent: {decision}  confidence: {:.2}  outcome: {}",
        c.confidence,
        step.outcome.as_str()
    );
    Ok(())
}

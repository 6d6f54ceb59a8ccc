//! Rasa in and out, through the real binary: a Rasa team's project becomes a content directory
//! that `check` passes and `serve` answers from; `eval` measures the engine on their NLU file;
//! our content exported to Rasa 3.x has Rasa's documented shape and imports back with the same
//! intents and example counts. The fixture is Rasa's public helpdesk demo
//! (`tests/fixtures/rasa/helpdesk-assistant`, Apache-2.0); the expectations about it are read
//! from its YAML by this file, not from our reader.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use yaml_rust2::{Yaml, YamlLoader};

fn helpdesk() -> PathBuf {
    common::repo_root().join("tests/fixtures/rasa/helpdesk-assistant")
}

/// The real binary with no configuration of the developer's.
fn frontdoor(args: &[&str], cwd: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_frontdoor"))
        .args(args)
        .current_dir(cwd)
        .env_remove("FRONTDOOR_CONFIG")
        .env_remove("FRONTDOOR_CONTENT_DIR")
        .output()
        .expect("run frontdoor");
    eprintln!(
        "$ frontdoor {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `- intent: name` blocks of an NLU file and their `- ` example lines, read line by line.
fn intents_in(nlu: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in nlu.lines() {
        if let Some(name) = line.strip_prefix("- intent: ") {
            current = Some(name.trim().to_string());
            out.insert(name.trim().to_string(), 0);
        } else if line.starts_with("- ") {
            current = None;
        } else if let Some(name) = &current
            && line.trim_start().starts_with("- ")
        {
            *out.get_mut(name).expect("intent") += 1;
        }
    }
    out
}

fn import(project: &Path, out: &Path) -> Output {
    frontdoor(
        &["import-rasa", path(project), "--out", path(out)],
        out.parent().expect("parent"),
    )
}

#[test]
fn the_helpdesk_project_imports_every_intent_and_says_what_it_left_out() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out_dir = tmp.path().join("content");
    let run = import(&helpdesk(), &out_dir);
    assert!(run.status.success(), "import-rasa failed");
    let printed = stdout(&run);

    let nlu = std::fs::read_to_string(helpdesk().join("data/nlu.yml")).expect("nlu.yml");
    let rasa = intents_in(&nlu);
    assert_eq!(
        rasa.len(),
        14,
        "the fixture's intents, counted from its YAML"
    );
    let k = common::load_content(&out_dir);
    assert_eq!(
        k.intents.len(),
        rasa.len(),
        "one Frontdoor intent per Rasa intent"
    );
    let skipped_duplicates = printed.matches("one example belongs to one intent").count();
    let mut imported_examples = 0;
    for (name, count) in &rasa {
        let intent = k
            .intents
            .get(name)
            .unwrap_or_else(|| panic!("Rasa intent {name} was not imported"));
        assert!(intent.examples.len() <= *count, "{name}");
        imported_examples += intent.examples.len();
    }
    assert_eq!(
        imported_examples + skipped_duplicates,
        rasa.values().sum::<usize>(),
        "every example is imported, or listed as an example of another intent"
    );

    // Annotations are stripped to their text; the inline synonyms become a vocabulary group
    // with the declared `synonym: high`.
    let inform = &k.intents["inform"].examples;
    assert!(
        inform.contains(&"it should be a low priority".to_string()),
        "{inform:?}"
    );
    assert!(!inform.iter().any(|e| e.contains('[') || e.contains('{')));
    // What answers what: a story "intent then utter_…" gives the reply; out_of_scope is ours.
    assert_eq!(
        k.intents["out_of_scope"].action,
        frontdoor::knowledge::Action::OutOfScope
    );
    assert!(
        k.intents["bot_challenge"]
            .replies
            .contains(&"I am a bot, powered by Rasa.".to_string())
    );
    assert_eq!(
        k.intents["open_incident"].action,
        frontdoor::knowledge::Action::Help
    );

    // Left out, at the line where each thing is written in the Rasa files.
    let domain = std::fs::read_to_string(helpdesk().join("domain.yml")).expect("domain.yml");
    let line_of = |text: &str, needle: &str| {
        text.lines()
            .position(|l| l == needle)
            .unwrap_or_else(|| panic!("{needle:?} in the fixture"))
            + 1
    };
    let form_line = line_of(&domain, "  open_incident_form:");
    let slot_line = line_of(&domain, "  caller_id:");
    let stories =
        std::fs::read_to_string(helpdesk().join("data/stories.yml")).expect("stories.yml");
    let story_line = line_of(&stories, "- story: open incident form interrupted");
    for expected in [
        format!("domain.yml:{form_line}: form open_incident_form: a form is a Frontdoor service"),
        format!("domain.yml:{slot_line}: slot caller_id:"),
        format!(
            "stories.yml:{story_line}: story \"open incident form interrupted\": a multi-turn flow"
        ),
        "action action_open_incident: custom action code".to_string(),
        "response utter_ask_email: answers no imported intent".to_string(),
    ] {
        assert!(printed.contains(&expected), "missing {expected:?}");
    }
    let report =
        std::fs::read_to_string(out_dir.join("rasa-import-report.txt")).expect("report file");
    assert_eq!(report, printed, "the report file says what stdout says");
}

#[test]
fn check_passes_on_the_imported_content_and_serve_answers_from_it() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out_dir = tmp.path().join("content");
    assert!(import(&helpdesk(), &out_dir).status.success());

    let check = frontdoor(&["--content", path(&out_dir), "check"], tmp.path());
    assert!(check.status.success(), "check failed on the import");
    assert!(
        stdout(&check)
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("ok:"))
    );

    // The real server on that content answers a question with the imported reply.
    let data = tmp.path().join("data");
    let mut child = common::KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_frontdoor"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--content",
                path(&out_dir),
            ])
            .args(["--data-dir", path(&data)])
            .current_dir(tmp.path())
            .env_clear()
            .env("FRONTDOOR_LOG", "info,sqlx=warn,tower_http=warn")
            .env("NO_COLOR", "1")
            .env("FRONTDOOR_RELOAD_INTERVAL_SECS", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start serve"),
    );
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.split("listening: http://").nth(1) {
                let _ = tx.send(at.split(['/', ' ']).next().unwrap_or_default().to_string());
            }
            eprintln!("server: {line}");
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("the server reports its address");
    let (status, body) = post_chat(&addr, r#"{"session": "rasa-1", "text": "are you a bot?"}"#);
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value =
        serde_json::from_str(body.split("\r\n\r\n").nth(1).unwrap_or_default()).expect("JSON");
    assert_eq!(answer["intent"], "bot_challenge", "{answer}");
    assert_eq!(answer["replies"][0]["text"], "I am a bot, powered by Rasa.");
}

fn post_chat(addr: &str, json: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "POST /api/v1/chat HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )
    .expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

#[test]
fn eval_measures_the_engine_on_a_rasa_nlu_file() {
    let nlu = helpdesk().join("data/nlu.yml");
    let run = frontdoor(
        &["eval", "--train", path(&nlu), "--holdout", "5", "--json"],
        &common::repo_root(),
    );
    assert!(run.status.success());
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON report");
    let nlu_text = std::fs::read_to_string(&nlu).expect("nlu.yml");
    let every_fifth: usize = intents_in(&nlu_text).values().map(|n| n / 5).sum();
    assert_eq!(report["test_rows"], every_fifth, "{report}");
    let accuracy = report["top1_accuracy"].as_f64().expect("accuracy");
    assert!((0.5..=1.0).contains(&accuracy), "{accuracy}");
    // The same in words, as a person runs it.
    let run = frontdoor(
        &["eval", "--train", path(&nlu), "--holdout", "5"],
        &common::repo_root(),
    );
    assert!(run.status.success());
    assert!(stdout(&run).to_lowercase().contains("accuracy"));
}

fn load_yaml(file: &Path) -> Yaml {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .remove(0)
}

fn keys(y: &Yaml) -> BTreeSet<String> {
    y.as_hash()
        .map(|h| {
            h.keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn set(words: &[&str]) -> BTreeSet<String> {
    words.iter().map(|w| w.to_string()).collect()
}

#[test]
fn the_export_has_rasa_shape_and_imports_back_with_the_same_intents() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let rasa_dir = tmp.path().join("rasa");
    let run = frontdoor(
        &[
            "--content",
            path(&common::repo_root()),
            "export-rasa",
            "--out",
            path(&rasa_dir),
        ],
        tmp.path(),
    );
    assert!(run.status.success());

    // Rasa 3.x training data format: documented keys only, examples as `- ` lines.
    let nlu = load_yaml(&rasa_dir.join("data/nlu.yml"));
    assert!(keys(&nlu).is_subset(&set(&["version", "nlu"])));
    assert_eq!(nlu["version"].as_str(), Some("3.1"));
    let mut nlu_intents = BTreeSet::new();
    for item in nlu["nlu"].as_vec().expect("nlu list") {
        let k = keys(item);
        let kind = ["intent", "synonym", "regex", "lookup"]
            .into_iter()
            .find(|kind| k.contains(*kind))
            .unwrap_or_else(|| panic!("unknown nlu item {k:?}"));
        assert!(k.is_subset(&set(&[kind, "examples", "metadata"])), "{k:?}");
        let examples = item["examples"].as_str().expect("an examples block");
        assert!(!examples.trim().is_empty(), "{kind} with no examples");
        for line in examples.lines() {
            let text = line
                .strip_prefix("- ")
                .unwrap_or_else(|| panic!("{line:?}"));
            assert!(!text.trim().is_empty(), "an empty example");
        }
        if kind == "intent" {
            nlu_intents.insert(item["intent"].as_str().expect("name").to_string());
        }
    }
    let domain = load_yaml(&rasa_dir.join("domain.yml"));
    assert!(keys(&domain).is_subset(&set(&["version", "intents", "responses"])));
    let domain_intents: BTreeSet<String> = domain["intents"]
        .as_vec()
        .expect("intents")
        .iter()
        .map(|i| i.as_str().expect("intent name").to_string())
        .collect();
    assert_eq!(
        domain_intents, nlu_intents,
        "the domain lists exactly the trained intents"
    );
    let responses = domain["responses"].as_hash().expect("responses");
    for (name, variations) in responses {
        assert!(name.as_str().is_some_and(|n| n.starts_with("utter_")));
        for v in variations.as_vec().expect("variations") {
            assert!(keys(v) == set(&["text"]) && !v["text"].as_str().unwrap_or("").is_empty());
        }
    }
    let rules = load_yaml(&rasa_dir.join("data/rules.yml"));
    for rule in rules["rules"].as_vec().expect("rules") {
        assert_eq!(keys(rule), set(&["rule", "steps"]));
        let steps = rule["steps"].as_vec().expect("steps");
        assert!(domain_intents.contains(steps[0]["intent"].as_str().expect("intent step")));
        assert!(responses.contains_key(&steps[1]["action"]));
    }

    // Back in: the same intents with the same numbers of examples.
    let back = tmp.path().join("back");
    assert!(
        import(&rasa_dir, &back).status.success(),
        "import of the export"
    );
    let shipped = common::shipped();
    let again = common::load_content(&back);
    for (name, intent) in &shipped.intents {
        let got = again
            .intents
            .get(name)
            .unwrap_or_else(|| panic!("intent {name} did not come back"));
        assert_eq!(
            got.examples.len(),
            intent.examples.len(),
            "examples of {name}"
        );
        if let frontdoor::knowledge::Action::Article(a) = &intent.action {
            assert_eq!(again.articles[a].title, shipped.articles[a].title);
            assert_eq!(again.articles[a].body, shipped.articles[a].body);
        }
    }
    assert_eq!(again.intents.len(), shipped.intents.len());
}

#[test]
fn malformed_yaml_is_an_error_at_its_file_and_line() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let project = tmp.path().join("bot");
    std::fs::create_dir_all(project.join("data")).expect("mkdir");
    let nlu = project.join("data/nlu.yml");
    std::fs::write(
        &nlu,
        "version: \"3.1\"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n- intent: bye\n  examples: [unclosed\n",
    )
    .expect("write");
    let run = import(&project, &tmp.path().join("out"));
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains(&format!("{}:8:", nlu.display())), "{err}");

    // Valid YAML, but an example line that is not `- text`: the line of that example.
    std::fs::write(
        &nlu,
        "version: \"3.1\"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    hello there\n",
    )
    .expect("write");
    let run = import(&project, &tmp.path().join("out2"));
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains(&format!(
            "{}:6: an example line starts with `- `",
            nlu.display()
        )),
        "{err}"
    );
    assert!(
        !tmp.path().join("out2").exists(),
        "nothing written on an error"
    );
}

/// A project laid out differently from the demo: Rasa 2.x, NLU split over `data/nlu/*.yml`,
/// no domain.yml, retrieval intents answered by `utter_faq/…` responses, examples as a list with
/// metadata, an intent with metadata, a regex named after an intent, a lookup table.
#[test]
fn another_layout_imports_with_retrieval_intents_as_articles() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let project = tmp.path().join("bank-bot");
    std::fs::create_dir_all(project.join("data/nlu")).expect("mkdir");
    std::fs::write(
        project.join("data/nlu/faq.yml"),
        r#"version: "2.0"
nlu:
- intent: faq/ask_opening_hours
  examples: |
    - when does the branch open
    - what time do you close on saturday
    - branch opening times
- intent: faq/ask_card_fees
  examples:
  - text: how much does the debit card cost
    metadata:
      source: survey
  - text: is there a yearly card fee
  - are card payments abroad charged
responses:
  utter_faq/ask_opening_hours:
  - text: "Branches open **9:00 to 17:00**, Monday to Saturday."
  utter_faq/ask_card_fees:
  - text: "The debit card is free; payments abroad cost 1%."
"#,
    )
    .expect("write");
    std::fs::write(
        project.join("data/nlu/transfers.yml"),
        r#"version: "2.0"
nlu:
- intent: transfer_money
  metadata:
    sentiment: neutral
  examples: |
    - send [50](amount) pounds to [Sam](person)
    - transfer money to my savings account
    - pay my rent to [my landlord]{"entity": "person", "value": "landlord"}
    - move money between my accounts
- regex: transfer_money
  examples: |
    - (?i)\btransfer\b
- lookup: account_type
  examples: |
    - savings account
    - current account
    - checking account
"#,
    )
    .expect("write");
    let out_dir = tmp.path().join("content");
    let run = import(&project, &out_dir);
    assert!(run.status.success());
    let printed = stdout(&run);
    let k = common::load_content(&out_dir);
    let hours = &k.articles["faq-ask-opening-hours"];
    assert_eq!(hours.category, "faq");
    assert!(hours.body.contains("9:00 to 17:00"));
    assert_eq!(k.articles["faq-ask-card-fees"].questions.len(), 3);
    let transfer = &k.intents["transfer_money"];
    assert_eq!(transfer.rules, vec![r"(?i)\btransfer\b".to_string()]);
    assert!(
        transfer
            .examples
            .contains(&"send 50 pounds to Sam".to_string())
    );
    assert!(
        printed.contains("faq/ask_opening_hours -> faq-ask-opening-hours (article, 3 examples)")
    );
    assert!(printed.contains("nlu/transfers.yml:4: intent transfer_money: metadata"));
    assert!(printed.contains("nlu/faq.yml:11: example metadata"));
    let check = frontdoor(&["--content", path(&out_dir), "check"], tmp.path());
    assert!(check.status.success());
}

/// One NLU file without its stories or domain: every intent still comes in, none has an answer
/// to import (each is listed to review), and the organisation is named after the project.
#[test]
fn a_single_nlu_file_imports_on_its_own() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out_dir = tmp.path().join("content");
    let nlu = helpdesk().join("data/nlu.yml");
    let run = import(&nlu, &out_dir);
    assert!(run.status.success());
    let k = common::load_content(&out_dir);
    let rasa = intents_in(&std::fs::read_to_string(&nlu).expect("nlu.yml"));
    assert_eq!(k.intents.len(), rasa.len());
    assert_eq!(k.organisation.name, "helpdesk-assistant");
    let to_review = stdout(&run).matches("no response answers it").count();
    assert_eq!(to_review, rasa.len() - 1, "all but out_of_scope");
}

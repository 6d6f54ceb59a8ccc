//! The request hook's bodies: placeholders, escaping, events per receiver, keys, config errors.

use serde_json::{Value, json};

use super::*;

fn webhook(template: Option<&str>) -> RequestWebhook {
    RequestWebhook {
        name: "cases".into(),
        url: "https://cases.example/hook".into(),
        events: vec!["request.created".into(), "request.updated".into()],
        template_source: template.map(|_| "inline".into()),
        template: template.map(str::to_string),
        headers: Default::default(),
        headers_from_env: Vec::new(),
        key: "frontdoor.toml: requests.webhook[0]".into(),
    }
}

fn request(inputs: Value) -> RequestRow {
    RequestRow {
        id: 7,
        reference: "REQ-1042".into(),
        client_code: Some("ACME".into()),
        service_id: "vendor-setup".into(),
        status: "in_progress".into(),
        priority: "urgent".into(),
        inputs: inputs.to_string(),
        opened_at: 1_767_225_600_000,
        due_at: 1_767_312_000_000,
        updated_at: 1_767_229_200_123,
        ..RequestRow::default()
    }
}

fn moved(note: &str) -> Vec<NewRequestEvent> {
    vec![NewRequestEvent {
        kind: "status".into(),
        from_status: Some("open".into()),
        to_status: Some("in_progress".into()),
        actor: "dana@sso.example".into(),
        source: "backoffice".into(),
        note: Some(note.into()),
        idempotency_key: None,
    }]
}

#[test]
fn what_a_client_typed_cannot_break_the_body() {
    let template = r#"{
  "title": "{{reference}}: {{service_name}} for {{client_name}}",
  "text": "{{inputs_text}}\n\nLast change:\n{{change}}",
  "note": "{{note}}",
  "fields": {{inputs}},
  "assignee": {{assignee}},
  "link": "{{link}}"
}"#;
    let hook = RequestHook::from_config(
        &webhook(Some(template)),
        Some("https://frontdoor.sso.example"),
    )
    .unwrap();
    let typed = "Acme \"Widgets\" Ltd\nSecond line\t\\ — ünïcødé 🚀 \u{7}";
    let r = request(json!({"vendor_name": typed, "vat_number": "GB123456789"}));
    let body = hook.body(
        HookEvent::Updated,
        "k",
        &r,
        &moved("Picked up: \"soon\""),
        None,
    );
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}:\n{body}"));
    assert_eq!(v["title"], "REQ-1042:  for ");
    assert_eq!(
        v["text"],
        format!(
            "Vat number: GB123456789\nVendor name: {typed}\n\nLast change:\nStatus: open → in_progress (by dana@sso.example, backoffice)\nPicked up: \"soon\""
        )
    );
    assert_eq!(v["note"], "Picked up: \"soon\"");
    assert_eq!(v["fields"]["vendor_name"], typed);
    assert_eq!(v["assignee"], Value::Null);
    assert_eq!(
        v["link"],
        "https://frontdoor.sso.example/admin/requests/REQ-1042"
    );
}

#[test]
fn names_come_from_the_knowledge() {
    let k = crate::knowledge::Knowledge::load(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        crate::engine::EngineConfig::default(),
    )
    .unwrap();
    let hook = RequestHook::from_config(&webhook(None), None).unwrap();
    let r = request(
        json!({"vendor_name": "Acme Widgets Ltd", "vat_number": "GB123456789", "zz_extra": 1}),
    );
    let hooks = [hook];
    let rows = rows(&hooks, &k, HookEvent::Created, &r, &[]);
    assert_eq!(rows.len(), 1);
    let (key, ping) = &rows[0];
    assert_eq!(
        key,
        "request-REQ-1042-hook-cases-request.created-1767229200123"
    );
    assert_eq!(ping.kind, KIND);
    let route: HookRoute = serde_json::from_str(&ping.route).unwrap();
    assert_eq!(
        route,
        HookRoute {
            hook: "cases".into(),
            url: "https://cases.example/hook".into(),
            event: "request.created".into(),
        }
    );
    let v: Value = serde_json::from_str(&ping.payload).unwrap();
    assert_eq!(v["event"], "request.created");
    assert_eq!(v["idempotency_key"], key.as_str());
    assert_eq!(v["request"]["reference"], "REQ-1042");
    assert_eq!(v["request"]["client_name"], k.clients["ACME"].name.as_str());
    assert_eq!(
        v["request"]["service_name"],
        k.services["vendor-setup"].name.as_str()
    );
    assert_eq!(v["request"]["inputs"]["vendor_name"], "Acme Widgets Ltd");
    assert_eq!(v["request"]["link"], "/admin/requests/REQ-1042");
    assert!(v["request"]["due_local"].is_string(), "{v}");
    assert_eq!(v["changes"], json!([]));
    // The readable inputs follow the form's order, then what the form does not know.
    let text = hooks[0].body(HookEvent::Created, key, &r, &[], Some(&k));
    let templated = RequestHook::from_config(&webhook(Some(r#"{"t": "{{inputs_text}}"}"#)), None)
        .unwrap()
        .body(HookEvent::Created, key, &r, &[], Some(&k));
    assert_eq!(text, ping.payload, "rendering is deterministic");
    assert_eq!(
        serde_json::from_str::<Value>(&templated).unwrap()["t"],
        "Vendor name: Acme Widgets Ltd\nVat number: GB123456789\nZz extra: 1"
    );
}

#[test]
fn each_receiver_gets_the_events_it_asked_for() {
    let k = crate::knowledge::Knowledge::load(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        crate::engine::EngineConfig::default(),
    )
    .unwrap();
    let mut created_only = webhook(None);
    created_only.name = "jira".into();
    created_only.events = vec!["request.created".into()];
    let hooks = [
        RequestHook::from_config(&created_only, None).unwrap(),
        RequestHook::from_config(&webhook(None), None).unwrap(),
    ];
    let r = request(json!({}));
    let names = |event| {
        rows(&hooks, &k, event, &r, &moved("x"))
            .into_iter()
            .map(|(_, p)| serde_json::from_str::<HookRoute>(&p.route).unwrap().hook)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(HookEvent::Created), ["jira", "cases"]);
    assert_eq!(names(HookEvent::Updated), ["cases"]);
}

#[test]
fn a_bad_template_is_a_config_error_naming_its_key() {
    let err = RequestHook::from_config(&webhook(Some(r#"{"a": "{{referance}}"}"#)), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("frontdoor.toml: requests.webhook[0].template (inline): line 1: unknown placeholder {{referance}}"),
        "{err}"
    );
    // Quoting a placeholder that is already JSON: the sample request shows it.
    let err = RequestHook::from_config(&webhook(Some(r#"{"a": {{reference}}"#)), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not render to JSON"), "{err}");
    let err = RequestHook::from_config(&webhook(Some(r#"{"a": "x" "b"}"#)), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not render to JSON"), "{err}");
}

#[test]
fn the_shipped_jira_example_renders_what_jira_expects() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/case-systems/jira-service-management.json"),
    )
    .unwrap();
    let hook = RequestHook::from_config(&webhook(Some(&text)), None).unwrap();
    let r = request(json!({"vendor_name": "Acme \"Widgets\"\nLtd"}));
    let body = hook.body(HookEvent::Created, "k", &r, &[], None);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["serviceDeskId"].is_string(), "{v}");
    assert!(v["requestTypeId"].is_string(), "{v}");
    let fields = v["requestFieldValues"].as_object().unwrap();
    assert!(
        fields["summary"].as_str().unwrap().starts_with("REQ-1042"),
        "{v}"
    );
    assert!(
        fields["description"]
            .as_str()
            .unwrap()
            .contains("Vendor name: Acme \"Widgets\"\nLtd"),
        "{v}"
    );
}

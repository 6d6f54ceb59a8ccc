//! The monthly report's review, over real HTTP on both backends. Priya (ACME's account
//! manager) and Alice (ACME's client lead) each comment on a month's report — Alice's comment
//! is an action agreed — and each marks her side reviewed; the next month's report reads out
//! what was said and the action with its status, in JSON, HTML and CSV. The awaiting list
//! shows the report until both sides have marked it; GLOBEX's client lead can neither see nor
//! comment on ACME's review; the forms of the report page do the same for people signed in. A
//! report still unreviewed five days after its month reminds the account manager once.

mod common;

use chrono::{TimeZone, Utc};
use common::{ADMIN_TOKEN, TestServer};
use frontdoor::backoffice::review::{self, month_of, next_month, previous_month};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

const PASSWORD: &str = "a long enough password";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn create_user(server: &TestServer, username: &str, role: &str, clients: &[&str]) {
    let r = http()
        .post(format!("{}/api/v1/admin/users", server.url))
        .bearer_auth(ADMIN_TOKEN)
        .json(
            &json!({"username": username, "password": PASSWORD, "role": role, "clients": clients}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{username}: {}", r.text().await.unwrap());
}

/// A signed-in back-office user: their session cookie, and an API token they made with it.
struct Staff {
    cookie: String,
    token: String,
}

impl Staff {
    async fn sign_in(server: &TestServer, username: &str) -> Staff {
        let r = http()
            .post(format!("{}/admin/login", server.url))
            .form(&[("username", username), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        let cookie = r
            .headers()
            .get(SET_COOKIE)
            .and_then(|c| c.to_str().ok())
            .and_then(|c| c.split(';').next())
            .unwrap_or_else(|| panic!("{username} signs in"))
            .to_string();
        let r = http()
            .post(format!("{}/api/v1/admin/tokens", server.url))
            .header(COOKIE, &cookie)
            .json(&json!({"name": "review script"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let token = r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        Staff { cookie, token }
    }

    /// The JSON API with the API token: (status, body).
    async fn api(
        &self,
        server: &TestServer,
        method: &str,
        path: &str,
        body: Value,
    ) -> (u16, Value) {
        api_as(server, &self.token, method, path, body).await
    }

    async fn page(&self, server: &TestServer, path: &str) -> (StatusCode, String) {
        let r = http()
            .get(format!("{}{path}", server.url))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// Submit a form of the report page: (status, redirect target or the page shown).
    async fn submit(
        &self,
        server: &TestServer,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, String) {
        let r = http()
            .post(format!("{}{path}", server.url))
            .header(COOKIE, &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_string());
        (status, location.unwrap_or(r.text().await.unwrap()))
    }
}

async fn api_as(
    server: &TestServer,
    bearer: &str,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let url = format!("{}{path}", server.url);
    let req = match method {
        "GET" => http().get(url),
        _ => http().post(url).json(&body),
    };
    let r = req.bearer_auth(bearer).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The months of the test, as ACME's calendar has them today: `reviewed` ended a month ago or
/// more; `next` is the month after it (ended too); `this` is running.
fn months() -> (String, String, String) {
    let k = common::shipped();
    let this = month_of(&k.clients["ACME"], Utc::now());
    let next = previous_month(&this).unwrap();
    let reviewed = previous_month(&next).unwrap();
    (reviewed, next, this)
}

fn awaits(list: &Value, client: &str, month: &str) -> Option<Value> {
    list.as_array()
        .unwrap()
        .iter()
        .find(|a| a["client"] == client && a["month"] == month)
        .cloned()
}

#[tokio::test]
async fn both_sides_review_a_report_and_the_next_report_reads_it_out() {
    let (m, next, this) = months();
    for (name, store, _dir) in common::backends("report_review").await {
        let server = TestServer::start(store.clone()).await;
        create_user(
            &server,
            "priya.shah@northwind.example",
            "account_manager",
            &["ACME"],
        )
        .await;
        create_user(&server, "alice.acme", "client_lead", &["ACME"]).await;
        create_user(&server, "gil.globex", "client_lead", &["GLOBEX"]).await;
        let priya = Staff::sign_in(&server, "priya.shah@northwind.example").await;
        let alice = Staff::sign_in(&server, "alice.acme").await;
        let gil = Staff::sign_in(&server, "gil.globex").await;
        let review = format!("/api/v1/admin/clients/ACME/reports/{m}/review");

        // The ended month awaits both sides.
        let (status, list) = priya
            .api(&server, "GET", "/api/v1/admin/reviews", json!(null))
            .await;
        assert_eq!(status, 200, "[{name}] {list}");
        let waiting = awaits(&list, "ACME", &m).unwrap_or_else(|| panic!("[{name}] {list}"));
        assert_eq!(waiting["missing"], json!(["sso", "client"]), "[{name}]");
        assert!(
            waiting["days_since_month_end"].as_i64().unwrap() >= 28,
            "[{name}] {waiting}"
        );
        assert!(
            awaits(&list, "GLOBEX", &m).is_none(),
            "[{name}] Priya sees ACME only"
        );

        // Priya comments for the SSO; Alice for ACME, agreeing an action.
        let (status, c) = priya
            .api(
                &server,
                "POST",
                &format!("{review}/comments"),
                json!({"text": "Containment fell when the new payroll form went live"}),
            )
            .await;
        assert_eq!(status, 201, "[{name}] {c}");
        assert_eq!(
            (c["side"].as_str(), c["role"].as_str()),
            (Some("sso"), Some("account_manager"))
        );
        let (status, action) = alice
            .api(
                &server,
                "POST",
                &format!("{review}/comments"),
                json!({"text": "Our cost-centre owners will be briefed on the inputs",
                       "action": {"owner": "Alice (ACME finance)", "due": this}}),
            )
            .await;
        assert_eq!(status, 201, "[{name}] {action}");
        assert_eq!(action["side"], "client");
        assert_eq!(
            action["action"]["status"], "open",
            "[{name}] due this month"
        );

        // GLOBEX's lead cannot read or write ACME's review, nor see it awaiting.
        let (status, e) = gil.api(&server, "GET", &review, json!(null)).await;
        assert_eq!(status, 403, "[{name}] {e}");
        let (status, _) = gil
            .api(
                &server,
                "POST",
                &format!("{review}/comments"),
                json!({"text": "sneaky"}),
            )
            .await;
        assert_eq!(status, 403, "[{name}]");
        let (status, _) = gil
            .api(&server, "POST", &format!("{review}/reviewed"), json!(null))
            .await;
        assert_eq!(status, 403, "[{name}]");
        let (_, list) = gil
            .api(&server, "GET", "/api/v1/admin/reviews", json!(null))
            .await;
        assert!(awaits(&list, "ACME", &m).is_none(), "[{name}] {list}");

        // Refusals, each with its reason.
        for (who, method, path, body, code, why) in [
            (
                ADMIN_TOKEN,
                "GET",
                "/api/v1/admin/clients/NOPE/reports/2026-10/review".to_string(),
                json!(null),
                404,
                "unknown client",
            ),
            (
                ADMIN_TOKEN,
                "GET",
                "/api/v1/admin/clients/ACME/reports/2026-13/review".to_string(),
                json!(null),
                400,
                "month",
            ),
            (
                ADMIN_TOKEN,
                "POST",
                format!("{review}/reviewed"),
                json!(null),
                403,
                "marks no side",
            ),
            (
                priya.token.as_str(),
                "POST",
                format!("/api/v1/admin/clients/ACME/reports/{this}/review/reviewed"),
                json!(null),
                422,
                "has not ended",
            ),
            (
                priya.token.as_str(),
                "POST",
                format!("{review}/comments"),
                json!({"text": "   "}),
                422,
                "1 to 4000",
            ),
            (
                priya.token.as_str(),
                "POST",
                format!("{review}/comments"),
                json!({"text": "x", "action": {"owner": "Priya", "due": previous_month(&m).unwrap()}}),
                422,
                "before the month reviewed",
            ),
            (
                priya.token.as_str(),
                "POST",
                format!("{review}/actions/{}/done", c["id"]),
                json!(null),
                404,
                "no action agreed",
            ),
        ] {
            let (status, e) = api_as(&server, who, method, &path, body).await;
            assert_eq!(status, code, "[{name}] {method} {path}: {e}");
            assert!(
                e["error"].as_str().unwrap_or_default().contains(why),
                "[{name}] {path}: {e}"
            );
        }

        // Each side marks; marking again changes nothing.
        let (status, r) = priya
            .api(&server, "POST", &format!("{review}/reviewed"), json!(null))
            .await;
        assert_eq!(status, 200, "[{name}] {r}");
        assert_eq!(
            (r["reviewed"].as_bool(), r["missing"].clone()),
            (Some(false), json!(["client"]))
        );
        let (_, list) = alice
            .api(&server, "GET", "/api/v1/admin/reviews", json!(null))
            .await;
        assert_eq!(
            awaits(&list, "ACME", &m).unwrap()["missing"],
            json!(["client"]),
            "[{name}]"
        );
        let (_, r) = alice
            .api(&server, "POST", &format!("{review}/reviewed"), json!(null))
            .await;
        assert_eq!(r["reviewed"], true, "[{name}] {r}");
        let (_, again) = priya
            .api(&server, "POST", &format!("{review}/reviewed"), json!(null))
            .await;
        assert_eq!(again["marks"], r["marks"], "[{name}] the first marks stand");
        let by: Vec<&str> = r["marks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["by"].as_str().unwrap())
            .collect();
        assert_eq!(
            by,
            ["priya.shah@northwind.example", "alice.acme"],
            "[{name}]"
        );
        let (_, list) = priya
            .api(&server, "GET", "/api/v1/admin/reviews", json!(null))
            .await;
        assert!(
            awaits(&list, "ACME", &m).is_none(),
            "[{name}] reviewed: no longer awaiting"
        );

        // The next month's report reads out the review: JSON, then the page, then CSV.
        let (status, report) = alice
            .api(
                &server,
                "GET",
                &format!("/api/v1/admin/clients/ACME/report?month={next}"),
                json!(null),
            )
            .await;
        assert_eq!(status, 200, "[{name}] {report}");
        let previous = &report["review_of_previous_month"];
        assert_eq!(
            (previous["month"].as_str(), previous["reviewed"].as_bool()),
            (Some(m.as_str()), Some(true))
        );
        let texts: Vec<&str> = previous["comments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["text"].as_str().unwrap())
            .collect();
        assert_eq!(
            texts,
            [
                "Containment fell when the new payroll form went live",
                "Our cost-centre owners will be briefed on the inputs",
            ],
            "[{name}]"
        );
        assert_eq!(
            previous["comments"][1]["action"]["owner"],
            "Alice (ACME finance)"
        );

        // Priya closes the action: the report now says so.
        let (status, done) = priya
            .api(
                &server,
                "POST",
                &format!("{review}/actions/{}/done", action["id"]),
                json!(null),
            )
            .await;
        assert_eq!(
            (status, done["action"]["status"].as_str()),
            (200, Some("done")),
            "[{name}] {done}"
        );
        let (status, page) = alice
            .page(&server, &format!("/admin/clients/ACME/report?month={next}"))
            .await;
        assert_eq!(status, 200, "[{name}]");
        assert!(
            page.contains(&format!("<h2>Review of {m}</h2>")),
            "[{name}] {page}"
        );
        assert!(page.contains("Containment fell when the new payroll form went live"));
        assert!(
            page.contains(&format!(
                "<td>Alice (ACME finance)</td><td>{this}</td><td>done</td>"
            )),
            "[{name}] {page}"
        );

        let k = common::shipped();
        let now = Utc::now().timestamp_millis();
        let csv =
            frontdoor::backoffice::report::monthly_reviewed(store.as_ref(), &k, "ACME", &next, now)
                .await
                .unwrap()
                .to_csv();
        assert!(
            csv.contains(&format!("ACME,{next},review,month reviewed,{m}\n")),
            "[{name}] {csv}"
        );
        assert!(
            csv.contains(&format!("ACME,{next},review,reviewed,true\n")),
            "[{name}] {csv}"
        );
        assert!(
            csv.contains(&format!("ACME,{next},review_action,{} owner Alice (ACME finance) due {this} done,Our cost-centre owners will be briefed on the inputs\n", action["id"])),
            "[{name}] {csv}"
        );
        // A month with no review before it says so rather than leaving the section out.
        let (_, report) = alice
            .api(
                &server,
                "GET",
                &format!("/api/v1/admin/clients/ACME/report?month={m}"),
                json!(null),
            )
            .await;
        assert_eq!(
            report["review_of_previous_month"]["comments"],
            json!([]),
            "[{name}]"
        );
        assert_eq!(report["review_of_previous_month"]["reviewed"], false);
        server.stop().await;
    }
}

#[tokio::test]
async fn the_report_page_forms_comment_and_mark_reviewed() {
    let (m, _, this) = months();
    for (name, store, _dir) in common::backends("report_review_forms").await {
        let server = TestServer::start(store.clone()).await;
        create_user(
            &server,
            "priya.shah@northwind.example",
            "account_manager",
            &["ACME"],
        )
        .await;
        create_user(&server, "alice.acme", "client_lead", &["ACME"]).await;
        create_user(&server, "gil.globex", "client_lead", &["GLOBEX"]).await;
        let priya = Staff::sign_in(&server, "priya.shah@northwind.example").await;
        let alice = Staff::sign_in(&server, "alice.acme").await;
        let gil = Staff::sign_in(&server, "gil.globex").await;
        let page = format!("/admin/clients/ACME/report?month={m}");
        let base = format!("/admin/clients/ACME/reports/{m}");

        // The awaiting list, then the report page with its forms.
        let (status, list) = priya.page(&server, "/admin/reviews").await;
        assert_eq!(status, 200, "[{name}]");
        assert!(
            list.contains(&format!("href=\"{page}#review\"")),
            "[{name}] {list}"
        );
        assert!(list.contains("the SSO and client"), "[{name}] {list}");
        let (status, html) = priya.page(&server, &page).await;
        assert_eq!(status, 200, "[{name}]");
        assert!(
            html.contains(&format!("action=\"{base}/comments\"")),
            "[{name}] {html}"
        );
        assert!(html.contains("Mark reviewed for the SSO side"), "[{name}]");
        assert!(
            html.contains("Awaiting the SSO and client sides."),
            "[{name}]"
        );

        // A comment with an action agreed; an empty one is refused on the page, with why.
        let (status, to) = priya
            .submit(
                &server,
                &format!("{base}/comments"),
                &[
                    ("text", "Escalations at month end waited overnight"),
                    ("action_owner", "Priya"),
                    ("action_due", this.as_str()),
                ],
            )
            .await;
        assert_eq!(
            (status, to.as_str()),
            (303, format!("{page}#review").as_str()),
            "[{name}]"
        );
        let (status, refused) = priya
            .submit(&server, &format!("{base}/comments"), &[("text", " ")])
            .await;
        assert_eq!(status, 422, "[{name}]");
        assert!(
            refused.contains("Not done:</strong> the comment must have 1 to 4000 characters"),
            "[{name}] {refused}"
        );
        let (status, refused) = priya
            .submit(
                &server,
                &format!("{base}/comments"),
                &[("text", "half an action"), ("action_owner", "Priya")],
            )
            .await;
        assert_eq!(status, 422, "[{name}]");
        assert!(
            refused.contains("needs both an owner and a due month"),
            "[{name}]"
        );

        // A cross-site post with Priya's cookie is refused; GLOBEX's lead gets nothing.
        let r = http()
            .post(format!("{}{base}/reviewed", server.url))
            .header(COOKIE, &priya.cookie)
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "[{name}]");
        let (status, _) = gil.page(&server, &page).await;
        assert_eq!(status, 403, "[{name}]");
        let (status, _) = gil
            .submit(&server, &format!("{base}/comments"), &[("text", "hello")])
            .await;
        assert_eq!(status, 403, "[{name}]");

        // Both sides press "mark reviewed".
        let (status, _) = priya
            .submit(&server, &format!("{base}/reviewed"), &[])
            .await;
        assert_eq!(status, 303, "[{name}]");
        let (_, html) = alice.page(&server, &page).await;
        assert!(
            html.contains(
                "SSO side marked reviewed by priya.shah@northwind.example (account_manager)"
            ),
            "[{name}] {html}"
        );
        assert!(
            html.contains("Mark reviewed for the client side"),
            "[{name}]"
        );
        assert!(
            html.contains("Escalations at month end waited overnight"),
            "[{name}]"
        );
        let (status, _) = alice
            .submit(&server, &format!("{base}/reviewed"), &[])
            .await;
        assert_eq!(status, 303, "[{name}]");
        let (_, html) = alice.page(&server, &page).await;
        assert!(html.contains("Reviewed by both sides."), "[{name}] {html}");
        assert!(!html.contains("Mark reviewed for the"), "[{name}]");
        let (_, list) = priya.page(&server, "/admin/reviews").await;
        assert!(
            !list.contains(&format!("href=\"{page}#review\"")),
            "[{name}] {list}"
        );

        // The action is closed from the page.
        let c = review::review(
            store.as_ref(),
            &common::shipped(),
            "ACME",
            &m,
            Utc::now().timestamp_millis(),
        )
        .await
        .unwrap();
        let id = c.actions().next().unwrap().0.id;
        let (status, _) = alice
            .submit(&server, &format!("{base}/actions/{id}/done"), &[])
            .await;
        assert_eq!(status, 303, "[{name}]");
        let (_, html) = priya.page(&server, &page).await;
        assert!(
            html.contains(&format!("Priya, due {this}: <strong>done</strong>")),
            "[{name}] {html}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn an_unreviewed_report_reminds_the_account_manager_once() {
    use frontdoor::backoffice::review::reminders::{remind, reminder_key};
    use frontdoor::store::ReviewMarkRow;
    let (receiver, url) = common::webhook::Webhook::start().await;
    let content = common::content_copy();
    common::set_acme_primary_routes(content.path(), &format!("webhook = \"{url}/hooks/priya\""));
    let k = std::sync::Arc::new(common::load_content(content.path()));
    assert_eq!(k.organisation.review_reminder_days, 5, "as shipped");

    // 6 Nov 2026: October ended five days ago (London is on GMT). September and August are in
    // the window too; both sides reviewed those, and the SSO has marked October.
    let at = |d, h| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
    for (name, store, data) in common::backends("review_reminder").await {
        receiver.clear();
        frontdoor::app::seed_clients(store.as_ref(), &k)
            .await
            .unwrap();
        let mark = |month: &str, side: &str| ReviewMarkRow {
            client_code: "ACME".into(),
            month: month.into(),
            side: side.into(),
            marked_by: "someone".into(),
            role: "account_manager".into(),
            marked_at: 1,
        };
        for (month, side) in [
            ("2026-08", "sso"),
            ("2026-08", "client"),
            ("2026-09", "sso"),
            ("2026-09", "client"),
            ("2026-10", "sso"),
        ] {
            store.mark_reviewed(&mark(month, side)).await.unwrap();
        }
        // Reviews of the other clients are not this test's subject: mark theirs.
        for client in ["GLOBEX", "INITECH"] {
            for month in ["2026-08", "2026-09", "2026-10"] {
                for side in ["sso", "client"] {
                    store
                        .mark_reviewed(&ReviewMarkRow {
                            client_code: client.into(),
                            ..mark(month, side)
                        })
                        .await
                        .unwrap();
                }
            }
        }

        let early = remind(store.as_ref(), &k, at(5, 23)).await.unwrap();
        assert!(
            early.queued.is_empty(),
            "[{name}] four days after: not yet ({early:?})"
        );
        let first = remind(store.as_ref(), &k, at(6, 9)).await.unwrap();
        assert_eq!(first.queued, vec!["ACME 2026-10".to_string()], "[{name}]");
        let again = remind(store.as_ref(), &k, at(6, 10)).await.unwrap();
        assert!(again.queued.is_empty(), "[{name}] {again:?}");
        assert_eq!(again.already, vec!["ACME 2026-10".to_string()]);
        // A restarted server (a new connection to the same database) remembers it too.
        if let common::BackendData::Sqlite(dir) = &data {
            let reopened = frontdoor::store::SqliteStore::open(&dir.path().join("frontdoor.db"))
                .await
                .unwrap();
            let after_restart = remind(&reopened, &k, at(7, 9)).await.unwrap();
            assert!(
                after_restart.queued.is_empty(),
                "[{name}] {after_restart:?}"
            );
        }

        let worker = common::outbox::worker(
            store.clone(),
            std::sync::Arc::new(std::sync::RwLock::new(k.clone())),
            &url,
            "review-secret",
            None,
            std::sync::Arc::new(tokio::sync::Notify::new()),
        );
        for _ in 0..3 {
            worker.tick(at(6, 10)).await.unwrap();
        }
        let hits = receiver.hits("/hooks/priya");
        assert_eq!(hits.len(), 1, "[{name}] exactly one reminder");
        assert_eq!(
            hits[0].header("x-frontdoor-event"),
            "report.review_reminder"
        );
        assert_eq!(
            hits[0].header("idempotency-key"),
            format!("{}-route-0", reminder_key("ACME", "2026-10"))
        );
        let body = hits[0].json();
        assert_eq!(
            (body["client"]["code"].as_str(), body["month"].as_str()),
            (Some("ACME"), Some("2026-10"))
        );
        assert_eq!(
            body["missing"],
            json!(["client"]),
            "[{name}] the SSO had marked it"
        );
        assert_eq!(body["days_since_month_end"], 5);
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .contains("Not yet marked reviewed by the client, 5 days after the month ended"),
            "{body}"
        );

        // Once the client marks it, nothing is due any more.
        store
            .mark_reviewed(&mark("2026-10", "client"))
            .await
            .unwrap();
        let later = remind(store.as_ref(), &k, at(20, 9)).await.unwrap();
        assert_eq!(later, Default::default(), "[{name}]");
    }
}

#[test]
fn a_bad_reminder_delay_is_an_error_at_its_line() {
    let content = common::content_copy();
    common::edit_content(
        content.path(),
        "knowledge-base/sso.toml",
        "review_reminder_days = 5",
        "review_reminder_days = 0",
    );
    let report = frontdoor::knowledge::check::check(
        content.path(),
        frontdoor::engine::EngineConfig::default(),
        false,
    );
    let text = std::fs::read_to_string(content.path().join("knowledge-base/sso.toml")).unwrap();
    let line = text
        .lines()
        .position(|l| l.starts_with("review_reminder_days"))
        .unwrap()
        + 1;
    let errors: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains(&format!("knowledge-base/sso.toml:{line}:"))
                && e.contains("review_reminder_days must be between 1 and 28")),
        "{errors:?}"
    );
    assert_eq!(next_month("2026-12").as_deref(), Some("2027-01"));
}

//! The web chat in a real browser: Debian's Chromium, driven over the DevTools protocol by
//! chromiumoxide, against the real server on 127.0.0.1:0 serving the demo page and the widget.
//!
//! Skips loudly where there is no `chromium` on the PATH (or at `FRONTDOOR_TEST_CHROMIUM`);
//! `.ci/run` installs it and sets `FRONTDOOR_TEST_REQUIRE=chromium`, so in CI a missing browser
//! is a failure, not a skip.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::{Element, Page};
use common::TestServer;
use common::wait::PATIENCE;
use frontdoor::store::Store;
use futures::StreamExt;
use serde_json::json;

/// Evaluate a JavaScript expression until it is truthy. The browser works asynchronously (socket
/// frames, fetches, rendering), so the test waits for the page to reach a state instead of
/// sleeping; the deadline only turns a hang into a clear failure.
async fn wait_for(page: &Page, expr: &str, what: &str) {
    let truthy = || async {
        page.evaluate(format!("!!({expr})"))
            .await
            .ok()
            .and_then(|r| r.into_value::<bool>().ok())
            .unwrap_or(false)
            .then_some(())
    };
    let waited = tokio::time::timeout(
        PATIENCE,
        common::wait::until_async(what, PATIENCE * 2, truthy),
    )
    .await;
    if waited.is_err() {
        let log = text_of(page, "#fd-messages").await;
        panic!("timed out waiting for {what} (`{expr}`); conversation so far:\n{log}");
    }
}

async fn text_of(page: &Page, selector: &str) -> String {
    page.evaluate(format!(
        "(document.querySelector({}) || {{}}).innerText || ''",
        json!(selector)
    ))
    .await
    .ok()
    .and_then(|r| r.into_value::<String>().ok())
    .unwrap_or_default()
}

async fn count(page: &Page, selector: &str) -> usize {
    page.evaluate(format!(
        "document.querySelectorAll({}).length",
        json!(selector)
    ))
    .await
    .expect("evaluate")
    .into_value::<usize>()
    .expect("a number")
}

/// The last quick-reply button with this label (the newest message's options).
async fn quick_reply(page: &Page, label: &str) -> Element {
    let buttons = page
        .find_elements(".fd-msg.fd-bot .fd-quick:not([disabled])")
        .await
        .expect("quick replies");
    for b in buttons.into_iter().rev() {
        if b.inner_text()
            .await
            .ok()
            .flatten()
            .as_deref()
            .map(str::trim)
            == Some(label)
        {
            return b;
        }
    }
    panic!(
        "no enabled quick reply `{label}`; conversation:\n{}",
        text_of(page, "#fd-messages").await
    );
}

async fn ask(page: &Page, text: &str) {
    let input = page.find_element("#fd-input").await.expect("input box");
    input.click().await.expect("focus input");
    input.type_str(text).await.expect("type");
    input.press_key("Enter").await.expect("enter sends");
}

#[tokio::test]
async fn widget_in_a_real_browser() {
    let Some(chromium) = common::chromium() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(
        frontdoor::store::SqliteStore::open(&dir.path().join("frontdoor.db"))
            .await
            .expect("sqlite"),
    );
    let server = TestServer::start(store.clone()).await;
    let profile = tempfile::tempdir().expect("profile dir");
    let config = BrowserConfig::builder()
        .chrome_executable(chromium)
        .no_sandbox()
        .new_headless_mode()
        .user_data_dir(profile.path())
        .window_size(1280, 900)
        .viewport(None)
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-gpu",
        ])
        .build()
        .expect("browser config");
    let (mut browser, mut handler) = Browser::launch(config).await.expect("launch chromium");
    // The handler drives the DevTools connection; it must be polled for anything to happen.
    // Events it cannot decode are reported as errors and are harmless, so keep polling.
    let driver = tokio::spawn(async move { while handler.next().await.is_some() {} });

    let page = browser
        .new_page(format!("{}/", server.url))
        .await
        .expect("open demo page");
    wait_for(
        &page,
        "document.querySelector('#fd-launcher')",
        "the launcher",
    )
    .await;

    // Open the widget and ask a question: the answer arrives with "did this answer" buttons.
    page.find_element("#fd-launcher")
        .await
        .expect("launcher")
        .click()
        .await
        .expect("click launcher");
    wait_for(
        &page,
        "!document.querySelector('#fd-panel').hidden && document.activeElement.id === 'fd-input'",
        "the panel to open with the input focused",
    )
    .await;
    ask(&page, "how do I reset my password").await;
    wait_for(
        &page,
        "[...document.querySelectorAll('.fd-msg.fd-user')].some(m => m.innerText.includes('reset my password'))",
        "the question in the log",
    )
    .await;
    wait_for(
        &page,
        "[...document.querySelectorAll('.fd-msg.fd-bot')].some(m => /Reset a forgotten or expired password/.test(m.innerText)) && document.querySelector('.fd-msg.fd-bot .fd-quick:not([disabled])')",
        "the password article with quick replies",
    )
    .await;
    let answer = text_of(&page, "#fd-messages").await;
    assert!(
        answer.contains("Did this answer your question?"),
        "{answer}"
    );

    // Yes → resolved → the one-tap pulse survey (five buttons) → thanks.
    quick_reply(&page, "Yes")
        .await
        .click()
        .await
        .expect("click Yes");
    wait_for(
        &page,
        "document.querySelectorAll('.fd-survey .fd-quick:not([disabled])').length === 5",
        "the 1–5 survey",
    )
    .await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    page.save_screenshot(
        ScreenshotParams::builder().build(),
        shots.join("widget-survey.png"),
    )
    .await
    .expect("screenshot");
    quick_reply(&page, "5")
        .await
        .click()
        .await
        .expect("click 5");
    wait_for(
        &page,
        "/thank/i.test([...document.querySelectorAll('.fd-msg.fd-bot')].pop().innerText)",
        "the thanks after the survey",
    )
    .await;
    let conversation: String = page
        .evaluate("localStorage.getItem('frontdoor:conversation')")
        .await
        .expect("evaluate")
        .into_value()
        .expect("the conversation id is kept in localStorage");
    let surveys = store
        .transcript(&conversation)
        .await
        .expect("transcript")
        .into_iter()
        .filter(|m| m.direction == "in")
        .map(|m| m.payload.unwrap_or(m.text))
        .collect::<Vec<_>>();
    assert!(
        surveys.iter().any(|p| p == "survey:5"),
        "the survey tap reached the store: {surveys:?}"
    );

    // Hostile text, typed by the user and pushed by the server, is shown as text.
    let xss = r#"<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>"#;
    ask(&page, xss).await;
    wait_for(
        &page,
        "[...document.querySelectorAll('.fd-msg.fd-user')].some(m => m.innerText.includes('<img src=x'))",
        "the hostile text shown literally",
    )
    .await;
    let pushed = json!({
        "push": true,
        "conversation": conversation,
        "replies": [{"text": "<img src=y onerror=\"window.__xss=3\"> from your account manager"}]
    });
    assert_eq!(
        server.push(&conversation, &pushed.to_string()),
        1,
        "the widget's socket is open"
    );
    wait_for(
        &page,
        "[...document.querySelectorAll('.fd-msg.fd-bot')].some(m => m.innerText.includes('<img src=y'))",
        "the pushed message shown literally",
    )
    .await;
    assert_eq!(
        count(&page, "#fd-messages img, #fd-messages script").await,
        0
    );
    let injected: bool = page
        .evaluate("window.__xss !== undefined")
        .await
        .expect("evaluate")
        .into_value()
        .expect("bool");
    assert!(!injected, "no script ran");

    page.save_screenshot(
        ScreenshotParams::builder().build(),
        shots.join("widget.png"),
    )
    .await
    .expect("screenshot");

    // A reload keeps the session: the history comes back from the server.
    page.reload().await.expect("reload");
    wait_for(
        &page,
        "[...document.querySelectorAll('.fd-msg.fd-user')].some(m => m.innerText.includes('reset my password'))",
        "the history after a reload",
    )
    .await;
    let history = text_of(&page, "#fd-messages").await;
    assert!(
        history.contains("Did this answer your question?"),
        "{history}"
    );
    let after: String = page
        .evaluate("localStorage.getItem('frontdoor:conversation')")
        .await
        .expect("evaluate")
        .into_value()
        .expect("string");
    assert_eq!(after, conversation, "same conversation after the reload");

    // The conversation goes on after the reload.
    ask(&page, "thanks").await;
    // The bot's answer, shown after the user's "thanks" (the user's own message appearing
    // proves nothing about the bot).
    let after_thanks = "(() => { const all = [...document.querySelectorAll('#fd-messages .fd-msg')]; \
        const u = all.findLastIndex(m => m.classList.contains('fd-user') && m.innerText.includes('thanks')); \
        return u < 0 ? '' : all.slice(u + 1).filter(m => m.classList.contains('fd-bot')).map(m => m.innerText).join('\\n'); })()";
    wait_for(
        &page,
        after_thanks,
        "the bot's answer to \"thanks\" after the reload",
    )
    .await;
    let shown: String = page
        .evaluate(after_thanks)
        .await
        .expect("evaluate")
        .into_value()
        .expect("string");
    let log = store.transcript(&conversation).await.expect("transcript");
    let thanks = log
        .iter()
        .rposition(|m| m.direction == "in" && m.text == "thanks")
        .expect("the typed \"thanks\" is in the log");
    let answer: Vec<&str> = log[thanks + 1..]
        .iter()
        .filter(|m| m.direction == "out")
        .map(|m| m.text.as_str())
        .collect();
    assert!(!answer.is_empty(), "the bot answered \"thanks\": {log:?}");
    let first_line = answer[0].lines().next().unwrap_or_default().trim();
    assert!(
        shown.contains(first_line),
        "the page shows the bot's answer {answer:?}; it shows:\n{shown}"
    );

    // A 360 px phone: the panel fits the screen.
    let narrow = browser
        .new_page(format!("{}/", server.url))
        .await
        .expect("second page");
    narrow
        .execute(
            chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams::new(
                360, 740, 2.0, true,
            ),
        )
        .await
        .expect("phone metrics");
    wait_for(
        &narrow,
        "document.querySelector('#fd-panel')",
        "the widget on a phone",
    )
    .await;
    narrow
        .evaluate("window.FrontdoorWidget.open()")
        .await
        .expect("open");
    wait_for(
        &narrow,
        "!document.querySelector('#fd-panel').hidden",
        "the panel on a phone",
    )
    .await;
    let fits: bool = narrow
        .evaluate("(() => { const r = document.querySelector('#fd-panel').getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth + 0.5 && r.width > 300; })()")
        .await
        .expect("evaluate")
        .into_value()
        .expect("bool");
    assert!(fits, "the panel fits a 360 px screen");
    narrow
        .save_screenshot(
            ScreenshotParams::builder().build(),
            shots.join("widget-phone.png"),
        )
        .await
        .expect("phone screenshot");
    eprintln!("screenshots in {}", shots.display());

    browser.close().await.expect("close browser");
    let _ = browser.wait().await;
    driver.abort();
    server.stop().await;
}

/// Launch headless Chromium with a fresh profile (the network is closed here: no extras).
async fn launch(
    chromium: PathBuf,
    profile: &std::path::Path,
) -> (Browser, tokio::task::JoinHandle<()>) {
    let config = BrowserConfig::builder()
        .chrome_executable(chromium)
        .no_sandbox()
        .new_headless_mode()
        .user_data_dir(profile)
        .window_size(1280, 1000)
        .viewport(None)
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-gpu",
        ])
        .build()
        .expect("browser config");
    let (browser, mut handler) = Browser::launch(config).await.expect("launch chromium");
    let driver = tokio::spawn(async move { while handler.next().await.is_some() {} });
    (browser, driver)
}

#[tokio::test]
async fn dashboard_in_a_real_browser() {
    let Some(chromium) = common::chromium() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(
        frontdoor::store::SqliteStore::open(&dir.path().join("frontdoor.db"))
            .await
            .expect("sqlite"),
    );
    let server = TestServer::start(store.clone()).await;
    // An admin, and some traffic of ACME's staff: an answer, fallbacks (one hostile), a
    // request for a human.
    let hash = frontdoor::backoffice::access::hash_password("dashboard password").unwrap();
    store
        .create_user(
            &frontdoor::store::NewUser {
                username: "ada".into(),
                password_hash: hash,
                role: "admin".into(),
                client_scope: vec![],
                manager_id: None,
            },
            chrono::Utc::now().timestamp_millis(),
        )
        .await
        .unwrap()
        .expect("new user");
    let http = reqwest::Client::new();
    for (i, text) in [
        "how do I reset my password",
        "what is the airspeed of an unladen swallow",
        "<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>",
        "I want to talk to a real person please",
    ]
    .iter()
    .enumerate()
    {
        let r = http
            .post(format!("{}/api/v1/chat", server.url))
            .json(&json!({"session": format!("dash-{i}"), "text": text,
                "user": {"id": "ann.lee@acme.example", "name": "Ann Lee", "client": "ACME"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    let profile = tempfile::tempdir().expect("profile dir");
    let (mut browser, driver) = launch(chromium, profile.path()).await;
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&shots).expect("screenshot dir");

    // The dashboard sends an anonymous visitor to the sign-in form.
    let page = browser
        .new_page(format!("{}/admin", server.url))
        .await
        .expect("open dashboard");
    wait_for(
        &page,
        "document.querySelector('#username')",
        "the sign-in form",
    )
    .await;
    for (selector, value) in [("#username", "ada"), ("#password", "dashboard password")] {
        let input = page.find_element(selector).await.expect("field");
        input.click().await.expect("focus");
        input.type_str(value).await.expect("type");
    }
    page.find_element("button[type=submit]")
        .await
        .expect("submit")
        .click()
        .await
        .expect("sign in");
    wait_for(
        &page,
        "location.pathname === '/admin' && document.querySelector('h1') && document.querySelector('h1').innerText.startsWith('Overview')",
        "the overview after sign-in",
    )
    .await;
    let overview = text_of(&page, "main").await;
    for name in ["Acme Manufacturing", "Globex Retail", "Initech Labs"] {
        assert!(overview.contains(name), "{name} in:\n{overview}");
    }
    assert!(count(&page, "main svg rect").await >= 1, "a daily chart");
    page.save_screenshot(
        ScreenshotParams::builder().full_page(true).build(),
        shots.join("dashboard-overview.png"),
    )
    .await
    .expect("screenshot");

    // ACME's page: KPI cards, charts, statement.
    page.goto(format!("{}/admin/clients/ACME", server.url))
        .await
        .expect("client page");
    wait_for(
        &page,
        "document.querySelectorAll('.card').length >= 10",
        "KPI cards",
    )
    .await;
    let client = text_of(&page, "main").await;
    assert!(
        client.contains("Self-service") && client.contains("Recharge statement"),
        "{client}"
    );
    assert!(count(&page, "svg[aria-label='Contacts by weekday and hour'] rect").await == 168);
    page.save_screenshot(
        ScreenshotParams::builder().full_page(true).build(),
        shots.join("dashboard-client.png"),
    )
    .await
    .expect("screenshot");

    // The printable monthly report.
    page.goto(format!("{}/admin/clients/ACME/report", server.url))
        .await
        .expect("report page");
    wait_for(&page, "document.querySelector('h1') && document.querySelector('h1').innerText.startsWith('Monthly report')", "the report").await;
    page.save_screenshot(
        ScreenshotParams::builder().full_page(true).build(),
        shots.join("dashboard-report.png"),
    )
    .await
    .expect("screenshot");

    // Knowledge gaps: the fallbacks are listed, the hostile one as inert text.
    page.goto(format!("{}/admin/gaps", server.url))
        .await
        .expect("gaps page");
    wait_for(
        &page,
        "document.querySelector('tbody tr')",
        "the gaps table",
    )
    .await;
    let gaps = text_of(&page, "main").await;
    assert!(gaps.contains("unladen swallow"), "{gaps}");
    assert!(
        gaps.contains("<img src=x"),
        "hostile text shown as text:\n{gaps}"
    );
    assert_eq!(count(&page, "main img, main script").await, 0);
    let xss = page
        .evaluate("window.__xss === undefined")
        .await
        .expect("evaluate")
        .into_value::<bool>()
        .expect("bool");
    assert!(xss, "no script ran");
    page.save_screenshot(
        ScreenshotParams::builder().full_page(true).build(),
        shots.join("dashboard-gaps.png"),
    )
    .await
    .expect("screenshot");

    // The escalations queue shows the request for a human.
    page.goto(format!("{}/admin/escalations", server.url))
        .await
        .expect("escalations page");
    wait_for(
        &page,
        "document.querySelector('tbody tr td.n')",
        "an escalation row",
    )
    .await;
    assert!(text_of(&page, "tbody").await.contains("ACME"));
    page.save_screenshot(
        ScreenshotParams::builder().full_page(true).build(),
        shots.join("dashboard-escalations.png"),
    )
    .await
    .expect("screenshot");

    // Sign out: back to the form, and the dashboard is closed again.
    page.find_element("header form button")
        .await
        .expect("sign out button")
        .click()
        .await
        .expect("sign out");
    wait_for(
        &page,
        "location.pathname === '/admin/login'",
        "the sign-in form again",
    )
    .await;
    page.goto(format!("{}/admin", server.url))
        .await
        .expect("dashboard");
    wait_for(
        &page,
        "location.pathname === '/admin/login'",
        "a redirect to sign-in",
    )
    .await;
    eprintln!("dashboard screenshots in {}", shots.display());

    browser.close().await.expect("close browser");
    let _ = browser.wait().await;
    driver.abort();
    server.stop().await;
}

/// The widget's banner: while an announcement for the visitor's client runs, the panel shows
/// it (the demo page's visitor is ACME's); another client's, a chat-only one, and one that has
/// ended are not shown; a dismissed one stays dismissed in this browser.
#[tokio::test]
async fn announcement_banner_in_a_real_browser() {
    let Some(chromium) = common::chromium() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn Store> = Arc::new(
        frontdoor::store::SqliteStore::open(&dir.path().join("frontdoor.db"))
            .await
            .expect("sqlite"),
    );
    let server = TestServer::start(store.clone()).await;
    let now = chrono::Utc::now().timestamp_millis();
    let announce = |title: &str, client: &str, channel: &str| frontdoor::store::NewAnnouncement {
        title: title.into(),
        body: format!("{title}: details for the staff."),
        clients: vec![client.into()],
        channels: vec![channel.into()],
        active_days: None,
        article_id: None,
        urgent: false,
        starts_at: now - 60_000,
        ends_at: now + 3_600_000,
        created_by: "ada".into(),
    };
    let payroll = store
        .create_announcement(
            &announce("Payroll cut-off moves to the 20th", "ACME", "web"),
            now,
        )
        .await
        .unwrap();
    let vpn = store
        .create_announcement(
            &announce("VPN maintenance Saturday 06:00", "ACME", "web"),
            now,
        )
        .await
        .unwrap();
    for other in [
        announce("GLOBEX office move", "GLOBEX", "web"),
        announce("Telegram-only notice", "ACME", "telegram"),
    ] {
        store.create_announcement(&other, now).await.unwrap();
    }
    let profile = tempfile::tempdir().expect("profile dir");
    let (mut browser, driver) = launch(chromium, profile.path()).await;
    let page = browser
        .new_page(format!("{}/", server.url))
        .await
        .expect("open demo page");
    wait_for(
        &page,
        "document.querySelector('#fd-launcher')",
        "the launcher",
    )
    .await;
    page.find_element("#fd-launcher")
        .await
        .expect("launcher")
        .click()
        .await
        .expect("click launcher");
    let banner = "#fd-announcements";
    wait_for(
        &page,
        "document.querySelectorAll('#fd-announcements .fd-announcement').length === 2 && !document.querySelector('#fd-announcements').hidden",
        "ACME's two banners",
    )
    .await;
    let shown = text_of(&page, banner).await;
    assert!(
        shown.contains("Payroll cut-off moves to the 20th"),
        "{shown}"
    );
    assert!(
        shown.contains("VPN maintenance Saturday 06:00: details for the staff."),
        "{shown}"
    );
    assert!(
        !shown.contains("GLOBEX office move"),
        "another client's: {shown}"
    );
    assert!(
        !shown.contains("Telegram-only"),
        "not a web announcement: {shown}"
    );
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    page.save_screenshot(
        ScreenshotParams::builder().build(),
        shots.join("widget-announcements.png"),
    )
    .await
    .expect("screenshot");

    // Dismissed: gone now, and after a reload of the page.
    page.find_element(&format!(
        ".fd-announcement[data-id='{payroll}'] .fd-announcement-dismiss"
    ))
    .await
    .expect("the payroll banner's dismiss button")
    .click()
    .await
    .expect("dismiss");
    wait_for(
        &page,
        "document.querySelectorAll('.fd-announcement').length === 1",
        "one banner left",
    )
    .await;
    page.reload().await.expect("reload");
    wait_for(
        &page,
        "document.querySelector('#fd-announcements') && document.querySelector('#fd-announcements').dataset.loaded",
        "the banners after the reload",
    )
    .await;
    assert_eq!(count(&page, ".fd-announcement").await, 1);
    assert!(!text_of(&page, banner).await.contains("Payroll"));

    // Ended: after the end nothing is shown (the panel asks again when it opens).
    assert!(
        store
            .end_announcement(vpn, chrono::Utc::now().timestamp_millis())
            .await
            .unwrap()
    );
    page.reload().await.expect("reload");
    wait_for(
        &page,
        "document.querySelector('#fd-announcements') && document.querySelector('#fd-announcements').dataset.loaded",
        "the banners after the end",
    )
    .await;
    assert_eq!(count(&page, ".fd-announcement").await, 0);
    assert!(
        page.evaluate("document.querySelector('#fd-announcements').hidden")
            .await
            .expect("evaluate")
            .into_value::<bool>()
            .expect("a bool")
    );

    browser.close().await.expect("close browser");
    let _ = browser.wait().await;
    driver.abort();
    server.stop().await;
}

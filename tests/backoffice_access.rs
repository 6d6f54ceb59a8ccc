//! The back office's access matrix, walked over real HTTP on both backends: every role signs in
//! with a password (session cookie) and with an API token, and every page and API answers as
//! `src/backoffice/access.rs` says — nothing answers anonymously.

mod common;

use common::{ADMIN_TOKEN, TestServer};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

const PASSWORD: &str = "a long enough password";

/// How a request authenticates.
#[derive(Clone, Debug)]
enum Auth {
    Anonymous,
    Cookie(String),
    Bearer(String),
}

async fn get(server: &TestServer, path: &str, auth: &Auth) -> (StatusCode, String) {
    let mut req = http().get(format!("{}{path}", server.url));
    req = match auth {
        Auth::Anonymous => req,
        Auth::Cookie(c) => req.header(COOKIE, format!("fd_session={c}")),
        Auth::Bearer(t) => req.bearer_auth(t),
    };
    let r = req.send().await.unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_string());
    let body = r.text().await.unwrap();
    (status, location.unwrap_or(body))
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

/// Sign in through the login form; the session cookie's value.
async fn login(server: &TestServer, username: &str, password: &str) -> Option<String> {
    let r = http()
        .post(format!("{}/admin/login", server.url))
        .form(&[
            ("username", username),
            ("password", password),
            ("next", "/admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookie = r.headers().get(SET_COOKIE)?.to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    Some(
        cookie
            .split(';')
            .next()?
            .strip_prefix("fd_session=")?
            .to_string(),
    )
}

async fn token_for(server: &TestServer, cookie: &str) -> String {
    let r = http()
        .post(format!("{}/api/v1/admin/tokens", server.url))
        .header(COOKIE, format!("fd_session={cookie}"))
        .json(&json!({"name": "matrix"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn every_role_sees_exactly_what_the_matrix_says() {
    for (name, store, _dir) in common::backends("access_matrix").await {
        let server = TestServer::start(store.clone()).await;
        create_user(&server, "ada.admin", "admin", &[]).await;
        create_user(&server, "sam.lead", "sso_lead", &[]).await;
        create_user(
            &server,
            "priya.shah@northwind.example",
            "account_manager",
            &["ACME"],
        )
        .await;
        create_user(&server, "gail.globex", "client_lead", &["GLOBEX"]).await;

        // Paths and which roles get a 200 (others a 403); anonymous always 401 / redirect.
        let month = "2026-11";
        let matrix: Vec<(String, [bool; 4])> = vec![
            // [admin, sso_lead, account_manager(ACME), client_lead(GLOBEX)]
            ("/admin".into(), [true, true, true, true]),
            (
                format!("/admin/clients/ACME?month={month}"),
                [true, true, true, false],
            ),
            (
                format!("/admin/clients/GLOBEX?month={month}"),
                [true, true, false, true],
            ),
            (
                format!("/admin/clients/ACME/report?month={month}"),
                [true, true, true, false],
            ),
            (
                "/admin/clients/GLOBEX?from=2026-11-01&to=2026-11-20".into(),
                [true, true, false, true],
            ),
            (
                "/api/v1/admin/clients/ACME/kpis?from=2026-11-01&to=2026-11-20".into(),
                [true, true, true, false],
            ),
            (
                "/api/v1/admin/clients/GLOBEX/demand".into(),
                [true, true, false, true],
            ),
            ("/admin/escalations".into(), [true, true, true, false]),
            // Every role follows the requests of its clients (the list is scoped)...
            ("/admin/requests".into(), [true, true, true, true]),
            (
                "/admin/requests?client=GLOBEX&status=all".into(),
                [true, true, false, true],
            ),
            ("/admin/gaps".into(), [true, true, true, false]),
            ("/admin/users".into(), [true, false, false, false]),
            ("/api/v1/admin/me".into(), [true, true, true, true]),
            ("/api/v1/admin/clients".into(), [true, true, true, true]),
            (
                format!("/api/v1/admin/clients/INITECH/report?month={month}"),
                [true, true, false, false],
            ),
            (
                format!("/api/v1/admin/clients/GLOBEX/statement?month={month}&format=csv"),
                [true, true, false, true],
            ),
            (
                "/api/v1/admin/escalations".into(),
                [true, true, true, false],
            ),
            ("/api/v1/admin/gaps".into(), [true, true, true, false]),
            ("/api/v1/admin/users".into(), [true, false, false, false]),
            ("/api/v1/admin/tokens".into(), [true, true, true, true]),
            ("/metrics".into(), [true, true, false, false]),
            // The roll-out is read as the client's KPIs are.
            (
                "/api/v1/admin/clients/ACME/rollout".into(),
                [true, true, true, false],
            ),
            (
                "/api/v1/admin/clients/GLOBEX/rollout".into(),
                [true, true, false, true],
            ),
        ];
        let users = [
            "ada.admin",
            "sam.lead",
            "priya.shah@northwind.example",
            "gail.globex",
        ];
        // Sign-ins are rate-limited: each user's session and token are kept for the checks below.
        let mut signed_in = Vec::new();
        for (i, user) in users.iter().enumerate() {
            let cookie = login(&server, user, PASSWORD)
                .await
                .unwrap_or_else(|| panic!("[{name}] {user} signs in"));
            let token = token_for(&server, &cookie).await;
            assert!(token.starts_with("fdt_"));
            signed_in.push((cookie.clone(), token.clone()));
            for auth in [Auth::Cookie(cookie.clone()), Auth::Bearer(token.clone())] {
                for (path, allowed) in &matrix {
                    let (status, body) = get(&server, path, &auth).await;
                    let want = if allowed[i] {
                        StatusCode::OK
                    } else {
                        StatusCode::FORBIDDEN
                    };
                    assert_eq!(status, want, "[{name}] {user} {auth:?} GET {path}: {body}");
                }
            }
        }
        // Anonymous: pages redirect to the login form (keeping where to go back), APIs say 401.
        for (path, _) in &matrix {
            let (status, body) = get(&server, path, &Auth::Anonymous).await;
            if path.starts_with("/admin") {
                assert_eq!(status, StatusCode::SEE_OTHER, "[{name}] {path}");
                assert!(
                    body.starts_with("/admin/login?next=%2F")
                        || body.starts_with("/admin/login?next=/"),
                    "{body}"
                );
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "[{name}] {path}: {body}");
            }
            let (status, _) = get(&server, path, &Auth::Bearer("fdt_forged".into())).await;
            assert!(
                status == StatusCode::UNAUTHORIZED || status == StatusCode::SEE_OTHER,
                "[{name}] forged token on {path}: {status}"
            );
        }
        // Only an admin switches a roll-out mode: by API token, and by the client page's form
        // (the session cookie, from our own page).
        for (i, (user, (cookie, token))) in users.iter().zip(&signed_in).enumerate() {
            let r = http()
                .put(format!("{}/api/v1/admin/clients/ACME/rollout", server.url))
                .bearer_auth(token)
                .json(&serde_json::json!({"discord": "shadow"}))
                .send()
                .await
                .unwrap();
            let want = if i == 0 {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(r.status(), want, "[{name}] {user} PUT rollout");
            let r = http()
                .post(format!("{}/admin/clients/ACME/rollout", server.url))
                .header(reqwest::header::COOKIE, format!("fd_session={cookie}"))
                .form(&[("web", "off"), ("telegram", "live"), ("discord", "shadow")])
                .send()
                .await
                .unwrap();
            let want = if i == 0 {
                StatusCode::SEE_OTHER
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(r.status(), want, "[{name}] {user} rollout form");
        }
        let admin = signed_in[0].0.clone();
        let (_, page) = get(&server, "/admin/clients/ACME", &Auth::Cookie(admin.clone())).await;
        assert!(
            page.contains(r#"<option value="off" selected>off</option>"#),
            "[{name}] the page shows web off"
        );
        assert!(page.contains("back office (ada.admin)"), "[{name}]");
        let (_, body) = get(
            &server,
            "/api/v1/admin/clients/ACME/rollout",
            &Auth::Cookie(admin),
        )
        .await;
        let rollout: Value = serde_json::from_str(&body).unwrap();
        // discord live → shadow (API), web live → off (form): two audited changes, by ada.
        let changes = rollout["changes"].as_array().unwrap();
        assert_eq!(changes.len(), 2, "[{name}] {rollout}");
        assert!(changes.iter().all(|c| c["actor"] == "ada.admin"));

        // Scopes filter lists, not only single pages.
        let cookie = login(&server, "priya.shah@northwind.example", PASSWORD)
            .await
            .unwrap();
        let (_, body) = get(
            &server,
            "/api/v1/admin/clients",
            &Auth::Cookie(cookie.clone()),
        )
        .await;
        let clients: Value = serde_json::from_str(&body).unwrap();
        let codes: Vec<&str> = clients
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["ACME"], "[{name}]");
        let lead = login(&server, "sam.lead", PASSWORD).await.unwrap();
        let (_, body) = get(&server, "/api/v1/admin/clients", &Auth::Cookie(lead)).await;
        assert_eq!(
            serde_json::from_str::<Value>(&body)
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            3
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn sign_in_sessions_and_tokens_fail_safe() {
    let (_, store, _dir) = common::backends("access_sessions").await.remove(0);
    let server = TestServer::start(store.clone()).await;
    create_user(&server, "ada.admin", "admin", &[]).await;

    // Wrong password and unknown user: the same redirect back to the form, no cookie.
    for (user, pw) in [("ada.admin", "wrong password!"), ("nobody", PASSWORD)] {
        assert!(login(&server, user, pw).await.is_none(), "{user}");
    }
    let r = http()
        .get(format!("{}/admin/login?error=1", server.url))
        .send()
        .await
        .unwrap();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("Wrong username or password")
    );

    // Weak passwords, bad roles and scopes are refused with reasons; duplicates conflict.
    for (body, status) in [
        (
            json!({"username": "x", "password": "short", "role": "admin"}),
            422,
        ),
        (
            json!({"username": "x", "password": PASSWORD, "role": "emperor"}),
            422,
        ),
        (
            json!({"username": "x", "password": PASSWORD, "role": "client_lead"}),
            422,
        ),
        (
            json!({"username": "x", "password": PASSWORD, "role": "account_manager", "clients": ["NOPE"]}),
            422,
        ),
        (
            json!({"username": "ada.admin", "password": PASSWORD, "role": "admin"}),
            409,
        ),
        (
            json!({"username": "x", "password": PASSWORD, "role": "admin", "extra": 1}),
            422,
        ),
    ] {
        let r = http()
            .post(format!("{}/api/v1/admin/users", server.url))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{body}");
        let err: Value = r.json().await.unwrap();
        assert!(err["error"].as_str().is_some_and(|e| !e.is_empty()));
    }

    let cookie = login(&server, "ada.admin", PASSWORD).await.unwrap();
    let token = token_for(&server, &cookie).await;
    // The database keeps hashes only: neither secret is stored as given.
    let users = store.users().await.unwrap();
    assert!(users[0].password_hash.starts_with("$argon2id$"));
    assert!(
        store
            .session_user(&cookie, chrono::Utc::now().timestamp_millis())
            .await
            .unwrap()
            .is_none()
    );
    assert!(!format!("{:?}", users[0]).contains("argon2"));

    // A cookie-authenticated write from another site is refused (CSRF); a token is not a cookie.
    let r = http()
        .post(format!("{}/api/v1/admin/tokens", server.url))
        .header(COOKIE, format!("fd_session={cookie}"))
        .header("origin", "https://evil.example")
        .json(&json!({"name": "csrf"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Revoke the token: it stops working at once.
    let tokens: Value = http()
        .get(format!("{}/api/v1/admin/tokens", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = tokens[0]["id"].as_i64().unwrap();
    assert!(tokens[0]["last_used_at"].as_i64().is_some());
    let r = http()
        .delete(format!("{}/api/v1/admin/tokens/{id}", server.url))
        .header(COOKIE, format!("fd_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (status, _) = get(&server, "/api/v1/admin/me", &Auth::Bearer(token)).await;
    assert_eq!(status, 401);

    // Sign out: the session is gone server-side, not only the cookie.
    let r = http()
        .post(format!("{}/admin/logout", server.url))
        .header(COOKIE, format!("fd_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (status, _) = get(&server, "/api/v1/admin/me", &Auth::Cookie(cookie)).await;
    assert_eq!(status, 401);

    // Only local paths are followed after sign-in (no open redirect).
    let r = http()
        .post(format!("{}/admin/login", server.url))
        .form(&[
            ("username", "ada.admin"),
            ("password", PASSWORD),
            ("next", "//evil.example/admin"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()[LOCATION], "/admin");
    server.stop().await;
}

//! The auth matrix (every way a token can be wrong), roles, refresh rotation and reuse, and
//! the `token issue` / `token revoke` commands.

use jsonwebtoken::{EncodingKey, Header};
use orders::auth::{Claims, Role};
use serde_json::json;

use crate::api_helpers::{SECRET, TestApp, spawn_app};

fn now() -> i64 {
    orders::domain::Timestamp::now().millis() / 1000
}

fn claims(role: &str) -> Claims {
    Claims {
        sub: "someone".to_owned(),
        role: role.to_owned(),
        iat: now(),
        exp: now() + 600,
        nbf: None,
        iss: "orders".to_owned(),
        aud: "orders-api".to_owned(),
        jti: "j".to_owned(),
    }
}

fn b64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

/// Replaces the payload of a signed token, keeping its signature.
fn tampered(app: &TestApp) -> String {
    let token = app.signed(&claims("reader"));
    let parts: Vec<&str> = token.split('.').collect();
    let payload = serde_json::to_string(&claims("admin")).unwrap();
    format!("{}.{}.{}", parts[0], b64(&payload), parts[2])
}

async fn status_with(app: &TestApp, authorization: Option<&str>) -> (u16, String) {
    let headers: Vec<(&str, &str)> = authorization.map(|a| ("authorization", a)).into_iter().collect();
    let reply = app.call("GET", "/orders", None, None, &headers).await;
    (reply.status, reply.text)
}

#[tokio::test]
async fn every_bad_token_is_401_and_only_a_valid_one_passes() {
    let app = spawn_app().await;
    let none_alg =
        format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&serde_json::to_string(&claims("admin")).unwrap()));
    let wrong_secret = jsonwebtoken::encode(
        &Header::default(),
        &claims("admin"),
        &EncodingKey::from_secret(b"another-secret-that-is-long-enough-too!!"),
    )
    .unwrap();
    let hs512 = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS512),
        &claims("admin"),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let with = |change: fn(&mut Claims)| {
        let mut c = claims("admin");
        change(&mut c);
        app.signed(&c)
    };
    let mut no_exp = serde_json::to_value(claims("admin")).unwrap();
    no_exp.as_object_mut().unwrap().remove("exp");
    let no_exp =
        jsonwebtoken::encode(&Header::default(), &no_exp, &EncodingKey::from_secret(SECRET.as_bytes())).unwrap();
    let cases: Vec<(&str, Option<String>, u16)> = vec![
        ("missing header", None, 401),
        ("not a bearer scheme", Some(format!("Basic {}", b64("a:b"))), 401),
        ("bearer without a token", Some("Bearer ".to_owned()), 401),
        ("malformed token", Some("Bearer not.a.jwt".to_owned()), 401),
        ("alg none", Some(format!("Bearer {none_alg}")), 401),
        ("another algorithm (HS512)", Some(format!("Bearer {hs512}")), 401),
        ("wrong secret", Some(format!("Bearer {wrong_secret}")), 401),
        ("expired", Some(format!("Bearer {}", with(|c| c.exp = now() - 3600))), 401),
        ("no exp", Some(format!("Bearer {no_exp}")), 401),
        ("not yet valid (nbf)", Some(format!("Bearer {}", with(|c| c.nbf = Some(now() + 3600)))), 401),
        ("issued in the future", Some(format!("Bearer {}", with(|c| c.iat = now() + 3600))), 401),
        ("wrong iss", Some(format!("Bearer {}", with(|c| c.iss = "elsewhere".to_owned()))), 401),
        ("wrong aud", Some(format!("Bearer {}", with(|c| c.aud = "other-api".to_owned()))), 401),
        ("tampered claims", Some(format!("Bearer {}", tampered(&app))), 401),
        ("unknown role", Some(format!("Bearer {}", with(|c| c.role = "root".to_owned()))), 401),
        ("valid reader", Some(format!("Bearer {}", app.signed(&claims("reader")))), 200),
        ("scheme is case-insensitive", Some(format!("bearer {}", app.signed(&claims("reader")))), 200),
    ];
    for (what, authorization, status) in cases {
        let (got, body) = status_with(&app, authorization.as_deref()).await;
        assert_eq!(got, status, "{what}: {body}");
    }
    // The reason is said in words a client can act on, never the parser's internals.
    for (authorization, why) in [
        (format!("Bearer {}", with(|c| c.exp = now() - 3600)), "it has expired"),
        (format!("Bearer {no_exp}"), "its claims are missing or malformed"),
        (format!("Bearer {wrong_secret}"), "its signature does not match"),
        ("Bearer not.a.jwt".to_owned(), "it is malformed"),
    ] {
        let (_, body) = status_with(&app, Some(&authorization)).await;
        assert!(body.contains(&format!("the access token is not valid: {why}")), "{why}: {body}");
    }
}

#[tokio::test]
async fn roles_gate_order_writes_and_catalogue_writes() {
    let app = spawn_app().await;
    let order = json!({"datetime": "2030-01-01T00:00:00Z", "totalfee": 1, "services": [123]}).to_string();
    let service = json!({"name": "New"}).to_string();
    let cases = [
        ("reader reads", "GET", "/services", Role::Reader, None, 200),
        ("reader creates an order", "POST", "/orders", Role::Reader, Some(&order), 403),
        ("writer creates an order", "POST", "/orders", Role::Writer, Some(&order), 201),
        ("writer adds a service", "POST", "/services", Role::Writer, Some(&service), 403),
        ("writer deletes a service", "DELETE", "/services/789", Role::Writer, None, 403),
        ("admin adds a service", "POST", "/services", Role::Admin, Some(&service), 201),
        ("reader reads metrics", "GET", "/metrics", Role::Reader, None, 200),
    ];
    for (what, method, path, role, body, status) in cases {
        let reply = app.call(method, path, Some(role), body.map(String::as_str), &[]).await;
        assert_eq!(reply.status, status, "{what}: {}", reply.text);
    }
}

async fn refresh(app: &TestApp, token: &str) -> crate::api_helpers::Reply {
    app.call("POST", "/auth/refresh", None, Some(&json!({"refresh_token": token}).to_string()), &[]).await
}

#[tokio::test]
async fn a_refresh_token_rotates_once_and_its_reuse_revokes_the_family() {
    let app = spawn_app().await;
    let issued = app.tokens().issue(&app.store, "svc", Role::Writer, None, true).await.unwrap();
    let first = issued.refresh_token.unwrap();
    let rotated = refresh(&app, &first).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    assert_eq!(rotated.header("cache-control"), Some("no-store"), "tokens are never cached");
    let body = rotated.json();
    let second = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    let access = body["access_token"].as_str().unwrap();
    let created = app
        .call(
            "POST",
            "/orders",
            None,
            Some(r#"{"totalfee": 1, "services": [123]}"#),
            &[("authorization", &format!("Bearer {access}"))],
        )
        .await;
    assert_eq!(created.status, 201, "the new access token carries the role: {}", created.text);
    let reused = refresh(&app, &first).await;
    assert_eq!((reused.status, reused.problem_type().as_str()), (401, "unauthorized"), "a used token is refused");
    let after_reuse = refresh(&app, &second).await;
    assert_eq!(after_reuse.status, 401, "reuse revoked the whole family, the newest token too");
    assert_eq!(refresh(&app, "made-up").await.status, 401);
    let bad = app.call("POST", "/auth/refresh", None, Some(r#"{"token": 1}"#), &[]).await;
    assert_eq!(bad.status, 422);
}

#[tokio::test]
async fn token_issue_prints_a_working_token_and_revoke_kills_refresh_tokens() {
    let app = spawn_app().await;
    let db = app.db();
    let issue = |extra: &[&str]| {
        let mut cmd = db.cli();
        cmd.env("ORDERS__AUTH__JWT_SECRET", SECRET).args(["token", "issue", "--subject", "ci", "--role", "writer"]);
        cmd.args(extra).assert().success().get_output().stdout.clone()
    };
    let bare = String::from_utf8(issue(&[])).unwrap();
    assert_eq!(bare.trim().split('.').count(), 3, "a bare JWT: {bare}");
    let (status, _) = status_with(&app, Some(&format!("Bearer {}", bare.trim()))).await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_slice(&issue(&["--refresh", "-o", "json"])).unwrap();
    assert_eq!(json["expires_in"], 900);
    let refresh_token = json["refresh_token"].as_str().unwrap().to_owned();
    db.cli().env("ORDERS__AUTH__JWT_SECRET", SECRET).args(["token", "revoke", "--subject", "ci"]).assert().success();
    assert_eq!(refresh(&app, &refresh_token).await.status, 401, "revoked");
    db.cli()
        .env("ORDERS__AUTH__JWT_SECRET", SECRET)
        .args(["token", "issue", "--subject", "ci", "--role", "root"])
        .assert()
        .code(5);
}

#[tokio::test]
async fn without_a_configured_secret_one_is_generated_owner_only_and_reused() {
    use std::os::unix::fs::PermissionsExt as _;
    let app = spawn_app().await;
    let db = app.db();
    let data = db.dir.path().join("data");
    let issue = || {
        db.cli()
            .env_remove("ORDERS__AUTH__JWT_SECRET")
            .env("XDG_DATA_HOME", &data)
            .args(["token", "issue", "--subject", "a", "--role", "reader"])
            .assert()
            .success()
            .get_output()
            .stderr
            .clone()
    };
    let first = String::from_utf8(issue()).unwrap();
    let file = data.join("orders/jwt-secret");
    assert!(first.contains(&file.display().to_string()), "says where: {first}");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read(&file).unwrap().len() >= 32);
    let second = String::from_utf8(issue()).unwrap();
    assert!(!second.contains("created"), "the second run reuses the file: {second}");
}

#[tokio::test]
async fn serve_refuses_a_secret_shorter_than_32_bytes() {
    let app = spawn_app().await;
    let output = app
        .db()
        .cli()
        .env("ORDERS__AUTH__JWT_SECRET", "too-short")
        .args(["serve", "--addr", "127.0.0.1:0"])
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8(output).unwrap();
    assert!(stderr.contains("at least 32 bytes"), "{stderr}");
}

#[tokio::test]
async fn an_expired_refresh_token_is_refused() {
    let app = spawn_app().await;
    let token = "an-expired-refresh-token";
    let expired = orders::store::NewRefreshToken {
        hash: orders::auth::hash_token(token),
        subject: "old".to_owned(),
        role: "reader".to_owned(),
        family: "f".to_owned(),
        expires_at: orders::domain::Timestamp::from_millis(orders::domain::Timestamp::now().millis() - 1000),
    };
    app.store.add_refresh_token(&expired).await.unwrap();
    let reply = refresh(&app, token).await;
    assert_eq!((reply.status, reply.header("www-authenticate")), (401, Some("Bearer")));
}

#[tokio::test]
async fn token_issue_honours_ttl_and_refuses_a_malformed_one() {
    let app = spawn_app().await;
    let issue = |ttl: &str| {
        let mut cmd = app.db().cli();
        cmd.env("ORDERS__AUTH__JWT_SECRET", SECRET).args([
            "token",
            "issue",
            "--subject",
            "s",
            "--role",
            "reader",
            "--ttl",
            ttl,
            "-o",
            "json",
        ]);
        cmd.assert()
    };
    let output = issue("2h").success().get_output().stdout.clone();
    let issued: serde_json::Value = serde_json::from_slice(&output).unwrap();
    assert_eq!(issued["expires_in"], 7200);
    assert!(issued.get("refresh_token").is_none(), "no refresh token unless asked");
    issue("soon").code(5);
}

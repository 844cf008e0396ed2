//! Security headers on every answer: the API's, its errors, ingestion's and
//! the tracking script's.

use crate::apis;
use axum::body::Body;
use axum::http::{Request, header};
use tower::ServiceExt;

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    for api in apis().await {
        let l = api.label();
        let bearer = format!("Bearer {}", api.token);
        let cases: [(&str, &str, Option<&str>, bool); 7] = [
            ("GET", "/api/v1/contacts", Some(&bearer), true),
            ("GET", "/api/v1/contacts", None, false),
            ("GET", "/api/v1/no-such-route", Some(&bearer), true),
            ("POST", "/v1/track", None, false),
            ("GET", "/js/smarketing.js", None, false),
            ("GET", "/healthz", None, false),
            ("GET", "/api/v1/openapi.json", None, false),
        ];
        for (method, uri, auth, authenticated) in cases {
            for tls in [false, true] {
                let mut req = Request::builder().method(method).uri(uri);
                if let Some(a) = auth {
                    req = req.header(header::AUTHORIZATION, a);
                }
                if tls {
                    req = req.header("x-forwarded-proto", "https");
                }
                let res = api
                    .router
                    .clone()
                    .oneshot(req.body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                let h = res.headers();
                let at = format!("{l} {method} {uri} ({})", res.status());
                let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
                assert!(csp.contains("frame-ancestors 'none'"), "{at}: {csp}");
                assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{at}");
                assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{at}");
                assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "{at}");
                assert_eq!(
                    h.get(header::CACHE_CONTROL)
                        .is_some_and(|v| v == "no-store"),
                    authenticated,
                    "{at}: {:?}",
                    h.get(header::CACHE_CONTROL)
                );
                assert_eq!(
                    h.get(header::STRICT_TRANSPORT_SECURITY).is_some(),
                    tls,
                    "{at}"
                );
            }
        }
    }
}

//! SPEC section 6: HTTP on the WebSocket's port.

use d_back_tests::server::{quiet_mock, with_plugin};
use d_back_tests::{TestServer, http, plugins, scratch};

#[tokio::test]
async fn version_endpoint_reports_the_host_version() {
    let server = TestServer::start(quiet_mock()).await;
    let reply = http(server.addr, "GET", "/api/version", &[], b"").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.json(),
        serde_json::json!({"version": d_back::VERSION})
    );
    server.stop().await;
}

#[tokio::test]
async fn built_in_page_is_served_without_a_static_dir() {
    let server = TestServer::start(quiet_mock()).await;
    for path in ["/", "/index.html"] {
        let reply = http(server.addr, "GET", path, &[], b"").await;
        assert_eq!(reply.status, 200);
        assert!(
            reply
                .header("content-type")
                .unwrap()
                .starts_with("text/html")
        );
        assert!(reply.text().contains("d-back"));
    }
    let head = http(server.addr, "HEAD", "/", &[], b"").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        http(server.addr, "GET", "/missing.js", &[], b"")
            .await
            .status,
        404
    );
    let post = http(server.addr, "POST", "/", &[], b"x").await;
    assert_eq!(post.status, 405);
    server.stop().await;
}

#[tokio::test]
async fn static_dir_serves_files_and_nothing_outside_it() {
    let root = scratch::dir("static");
    let public = root.join("public");
    std::fs::create_dir_all(public.join("js")).unwrap();
    std::fs::write(public.join("index.html"), "<h1>index</h1>").unwrap();
    std::fs::write(public.join("js/app.js"), "let a = 1;").unwrap();
    std::fs::write(public.join("style.css"), "body{}").unwrap();
    std::fs::write(root.join("secret.txt"), "do not serve").unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.join("secret.txt"), public.join("link.txt")).unwrap();
        std::fs::create_dir_all(root.join("private")).unwrap();
        std::fs::write(root.join("private/index.html"), "do not serve").unwrap();
        std::os::unix::fs::symlink(root.join("private"), public.join("linked-dir")).unwrap();
    }

    let mut settings = quiet_mock();
    settings.static_dir = Some(public.clone());
    let server = TestServer::start(settings).await;

    let index = http(server.addr, "GET", "/", &[], b"").await;
    assert_eq!(
        (index.status, index.text().as_str()),
        (200, "<h1>index</h1>")
    );
    let js = http(server.addr, "GET", "/js/app.js?v=3", &[], b"").await;
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let css = http(server.addr, "GET", "/style.css", &[], b"").await;
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(http(server.addr, "GET", "/js/", &[], b"").await.status, 404);

    for path in [
        "/../secret.txt",
        "/js/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/%252e%252e/secret.txt",
        "/..%5csecret.txt",
        "/%00/../secret.txt",
        "/link.txt",
        "/linked-dir/",
        "/linked-dir/index.html",
        "/..\\secret.txt",
        "/js\\..\\..\\secret.txt",
        "/%2e%2e%5csecret.txt",
        "/js/%2e%2e/%2e%2e/secret.txt",
        "/js/%252e%252e/%252e%252e/secret.txt",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        &format!("/{}", root.join("secret.txt").display()),
    ] {
        let reply = http(server.addr, "GET", path, &[], b"").await;
        assert!(
            reply.status == 404 || reply.status == 403 || reply.status == 400,
            "{path}: {}",
            reply.status
        );
        assert!(
            !reply.text().contains("do not serve"),
            "{path} leaked the file"
        );
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(root);
}

#[tokio::test]
async fn plugin_static_request_comes_before_static_files() {
    let wasm = plugins::hostile();
    let server = TestServer::start(with_plugin("static-plugin", &wasm, &[])).await;
    let hello = http(server.addr, "GET", "/hello?x=1", &[], b"").await;
    assert_eq!(hello.status, 200);
    assert_eq!(hello.text(), "hello from a plugin");
    assert_eq!(
        hello.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let teapot = http(server.addr, "GET", "/teapot", &[], b"").await;
    assert_eq!(
        (teapot.status, teapot.text().as_str()),
        (418, "short and stout")
    );
    // `none` falls through to static serving (here the built-in page).
    let page = http(server.addr, "GET", "/", &[], b"").await;
    assert!(page.text().contains("d-back"));
    // /api/version is the host's, whatever the plugin says.
    let version = http(server.addr, "GET", "/api/version", &[], b"").await;
    assert_eq!(version.status, 200);
    server.stop().await;
}

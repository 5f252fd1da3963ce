//! The starters plugin authors copy (`examples/`), one per language, built
//! from source the way their READMEs say and run: each serves the members
//! its config names and greets on its timer.

use d_back_plugin_build::Language;
use d_back_tests::server::with_plugin;
use d_back_tests::{TestServer, plugins};
use serde_json::{Value, json};

const SNOWFLAKE: &str = "100000000000000001";

/// The one server every starter offers, named `name`.
async fn starter_serves_its_members_and_greets(language: Language, name: &str) {
    let wasm = plugins::example(language);
    let settings = with_plugin(
        &format!("example-{}", language.name()),
        &wasm,
        &[("members", "alice, bob, carol"), ("greet_ms", "200")],
    );
    let server = TestServer::start(settings).await;
    let (mut client, list) = server.client().await;
    assert_eq!(
        list,
        json!({"type":"server-list","data":{SNOWFLAKE:
            {"id":"hello","name":name,"passworded":false,"default":true}}}),
        "{language:?}"
    );
    let joined = client.join(Value::Null).await;
    let names: Vec<&str> = joined["data"]["users"]
        .as_object()
        .unwrap_or_else(|| panic!("{language:?}: {joined}"))
        .values()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"], "{language:?}");
    assert_eq!(
        client.recv_type("message").await,
        json!({"type":"message","server":SNOWFLAKE,
            "data":{"uid":"1000","message":"hello!","channel":"1"}}),
        "{language:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rust_starter_from_the_readme_works() {
    starter_serves_its_members_and_greets(Language::Rust, "Hello World").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_javascript_starter_works() {
    starter_serves_its_members_and_greets(Language::JavaScript, "Hello from JavaScript").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_starter_works() {
    starter_serves_its_members_and_greets(Language::Python, "Hello World").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_go_starter_works() {
    starter_serves_its_members_and_greets(Language::Go, "Hello World").await;
}

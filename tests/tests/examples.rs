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
    serves_its_members_and_greets(language, &plugins::example(language), name).await;
}

/// The starter built from `wasm` serves what the starters serve.
async fn serves_its_members_and_greets(language: Language, wasm: &std::path::Path, name: &str) {
    let wasm = wasm.to_path_buf();
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

/// `cargo xtask new` copies: no build outputs, the WIT inside; each builds
/// in a folder outside the repository and serves like the original.
async fn copied_starter_works(language: Language, name: &str) {
    let wasm = plugins::starter_copy(language);
    serves_its_members_and_greets(language, &wasm, name).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copied_rust_starter_builds_outside_the_repository() {
    copied_starter_works(Language::Rust, "Hello World").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copied_javascript_starter_builds_outside_the_repository() {
    copied_starter_works(Language::JavaScript, "Hello from JavaScript").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copied_python_starter_builds_outside_the_repository() {
    copied_starter_works(Language::Python, "Hello World").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copied_go_starter_builds_outside_the_repository() {
    copied_starter_works(Language::Go, "Hello World").await;
}

#[test]
fn a_copy_carries_no_build_outputs() {
    let dest = d_back_tests::scratch::path("starter-clean");
    let root = d_back_tests::manifest_dir().join("..");
    for language in Language::ALL {
        let folder = dest.join(language.name());
        d_back_plugin_build::starter::create(&root, language, &folder).unwrap();
        for outputs in ["target", "node_modules", ".venv", "dist", "__pycache__"] {
            assert!(
                !folder.join(outputs).exists(),
                "{language:?} copied {outputs}"
            );
        }
        assert!(folder.join("wit/world.wit").exists());
        let refused = d_back_plugin_build::starter::create(&root, language, &folder);
        assert!(refused.is_err(), "a folder that is not empty is refused");
    }
    assert!(
        dest.join("go/sdk/go.mod").exists(),
        "the Go SDK comes along"
    );
    let _ = std::fs::remove_dir_all(&dest);
}

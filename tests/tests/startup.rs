//! Start-up fails early and says why, naming the file at fault.

use std::path::PathBuf;

use d_back::runtime::{PluginSource, PluginSpec};
use d_back::{Server, Settings};
use tokio::net::TcpListener;

async fn start_error(settings: Settings) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    match Server::with_listener(listener, settings).await {
        Ok(_) => panic!("the server started"),
        Err(error) => error.to_string(),
    }
}

fn with_plugin_file(path: PathBuf) -> Settings {
    let mut settings = Settings::new();
    settings.plugin = PluginSpec::new("broken", PluginSource::File(path));
    settings
}

#[tokio::test]
async fn a_missing_plugin_file_is_named() {
    let error = start_error(with_plugin_file("/nonexistent/provider.wasm".into())).await;
    assert!(
        error.contains("cannot read plugin /nonexistent/provider.wasm"),
        "{error}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_component_is_refused() {
    let path = d_back_tests::scratch::path("not-wasm.wasm");
    std::fs::write(&path, b"this is not WebAssembly").unwrap();
    let error = start_error(with_plugin_file(path.clone())).await;
    assert!(
        error.contains("plugin broken is not a valid component"),
        "{error}"
    );
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_component_of_another_world_is_refused() {
    // A component that exports nothing the provider world needs.
    let path = d_back_tests::scratch::path("empty.wasm");
    // The smallest valid component: the component-model preamble alone.
    std::fs::write(&path, [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]).unwrap();
    let error = start_error(with_plugin_file(path.clone())).await;
    assert!(
        error.contains("does not fit the d-back:plugin@0.1.0 provider world"),
        "{error}"
    );
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn a_plugin_built_against_another_wit_is_refused_naming_export_and_field() {
    let settings = with_plugin_file(d_back_tests::plugins::mismatched());
    let error = start_error(settings).await;
    assert!(
        error.contains("export `d-back:plugin/callbacks@0.1.0#get-user-data`"),
        "{error}"
    );
    assert!(error.contains("role-colo"), "names the field: {error}");
    assert!(error.contains("wit/world.wit"), "{error}");
}

#[tokio::test]
async fn a_missing_static_dir_is_named() {
    let mut settings = Settings::new();
    settings.static_dir = Some("/nonexistent/public".into());
    let error = start_error(settings).await;
    assert!(
        error.contains("static directory /nonexistent/public"),
        "{error}"
    );
}

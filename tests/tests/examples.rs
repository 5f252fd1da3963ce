//! The README's "write your own plugin" example, built from source and run.

use d_back_tests::server::with_plugin;
use d_back_tests::{TestServer, plugins};
use serde_json::{Value, json};

#[tokio::test]
async fn hello_plugin_from_the_readme_serves_its_members_and_greets() {
    let settings = with_plugin(
        "hello",
        &plugins::hello_example(),
        &[("members", "alice, bob, carol"), ("greet_ms", "200")],
    );
    let server = TestServer::start(settings).await;
    let (mut client, list) = server.client().await;
    assert_eq!(
        list,
        json!({"type":"server-list","data":{"100000000000000001":
            {"id":"hello","name":"Hello World","passworded":false,"default":true}}})
    );
    let joined = client.join(Value::Null).await;
    let names: Vec<&str> = joined["data"]["users"]
        .as_object()
        .unwrap()
        .values()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    assert_eq!(
        client.recv_type("message").await,
        json!({"type":"message","server":"100000000000000001",
            "data":{"uid":"1000","message":"hello!","channel":"1"}})
    );
    server.stop().await;
}

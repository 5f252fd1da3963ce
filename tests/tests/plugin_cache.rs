//! The host-side cache of server and member lists.

use std::time::Duration;

use d_back_tests::server::with_plugin;
use d_back_tests::{TestServer, logs, plugins};
use futures_util::future::join_all;
use serde_json::json;

fn calls(plugin: &str, callback: &str) -> usize {
    logs::lines_with(&[
        &format!("plugin=\"{plugin}\""),
        &format!("callback=\"{callback}\""),
        "d_back::runtime::plugin: plugin call",
    ])
    .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_joins_within_the_ttl_make_one_call_per_key() {
    let mut settings = with_plugin("h-cache", &plugins::hostile(), &[]);
    settings.plugin.cache_ttl = Duration::from_secs(4);
    let server = TestServer::start(settings).await;
    let answers = join_all((0..10).map(|_| async {
        let (mut client, _) = server.client().await;
        client.join(json!("calm")).await
    }))
    .await;
    for answer in &answers {
        assert_eq!(answer["data"]["users"]["1001"]["username"], "Calm One");
    }
    assert_eq!(calls("h-cache", "get-server-data"), 1);
    assert_eq!(calls("h-cache", "get-user-data"), 1);

    // Another server is another key.
    let (mut client, _) = server.client().await;
    client.join(json!("trouble")).await;
    assert_eq!(calls("h-cache", "get-user-data"), 2);

    // Past the TTL the plugin is asked again.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    client.join(json!("calm")).await;
    assert_eq!(calls("h-cache", "get-user-data"), 3);
    assert_eq!(calls("h-cache", "get-server-data"), 2);
    server.stop().await;
}

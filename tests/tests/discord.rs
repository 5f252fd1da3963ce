//! The Discord provider against a fake Discord API on loopback, through the
//! host's allow-listed outgoing HTTP.

use std::time::Duration;

use d_back::model::{PresenceUpdate, Status};
use d_back::protocol::texts;
use d_back::runtime::{AllowedHost, ConfigValue};
use d_back_tests::fake_discord::{
    ANN_TOKEN, BIG_BOTS, BIG_GUILD, BIG_MEMBERS, BOB_TOKEN, BOT_TOKEN, FIRST_MEMBER, FakeDiscord,
    SMALL_GUILD, expected_color, expected_name,
};
use d_back_tests::server::with_plugin;
use d_back_tests::{Client, TestServer, logs, plugins};
use serde_json::{Value, json};

fn guilds() -> String {
    json!([
        {"snowflake": BIG_GUILD, "id": "big", "name": "The Big Guild", "passworded": true, "client_id": "999"},
        {"snowflake": SMALL_GUILD, "id": "small", "name": "Small Talk", "default": true},
    ])
    .to_string()
}

/// The real plugin, allowed to reach the fake API (plain HTTP, its port only).
fn discord_settings(name: &str, fake: &FakeDiscord, api_base: &str) -> d_back::Settings {
    let mut settings = with_plugin(name, &plugins::discord(), &[("api_base", api_base)]);
    let config = &mut settings.plugin.config;
    config.insert("guilds".into(), ConfigValue::plain(guilds()));
    config.insert("bot_token".into(), ConfigValue::secret(BOT_TOKEN));
    settings
        .plugin
        .egress
        .allowed
        .push(AllowedHost::parse(&fake.addr.to_string(), true).unwrap());
    settings.plugin.limits.deadline = Duration::from_secs(10);
    settings.plugin.limits.fuel = 20_000_000_000;
    settings
}

fn members_path(guild: &str) -> String {
    format!("/api/v10/guilds/{guild}/members")
}

async fn join_big_as_ann(client: &mut Client) -> Value {
    client
        .connect_with(json!({"server":"big","discordToken":ANN_TOKEN,"discordUser":{"id":"42","username":"ann"}}))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_come_with_their_role_colors_from_every_page() {
    let fake = FakeDiscord::start().await;
    let server = TestServer::start(discord_settings("discord-members", &fake, &fake.base())).await;
    let (mut client, list) = server.client().await;
    assert_eq!(
        list["data"][BIG_GUILD],
        json!({"id":"big","name":"The Big Guild","passworded":true,"default":false})
    );
    let joined = join_big_as_ann(&mut client).await;
    assert_eq!(joined["type"], "server-join", "{joined}");
    assert_eq!(joined["data"]["clientId"], "999");
    let users = joined["data"]["users"].as_object().unwrap();
    assert_eq!(
        users.len() as u64,
        BIG_MEMBERS - BIG_BOTS,
        "every page, bots skipped"
    );
    for n in BIG_BOTS..BIG_MEMBERS {
        let uid = (FIRST_MEMBER + n).to_string();
        let user = &users[&uid];
        assert_eq!(user["username"], expected_name(n).as_str(), "{uid}");
        assert_eq!(user["roleColor"], expected_color(n), "{uid}");
        assert_eq!(user["status"], "offline");
    }
    assert_eq!(
        fake.hits(&members_path(BIG_GUILD)),
        2,
        "two pages of members"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_accepts_only_the_tokens_owner_in_that_guild() {
    let fake = FakeDiscord::start().await;
    let server = TestServer::start(discord_settings("discord-oauth", &fake, &fake.base())).await;
    let (mut client, _) = server.client().await;
    // Claims another id than the token's owner.
    let impostor = client
        .connect_with(json!({"server":"big","discordToken":ANN_TOKEN,"discordUser":{"id":"43","username":"bob"}}))
        .await;
    Client::assert_error(&impostor, texts::DISCORD_AUTH_FAILED);
    // The token's owner is not in this guild.
    let outsider = client
        .connect_with(json!({"server":"big","discordToken":BOB_TOKEN,"discordUser":{"id":"43","username":"bob"}}))
        .await;
    Client::assert_error(&outsider, texts::DISCORD_AUTH_FAILED);
    let unknown = client
        .connect_with(json!({"server":"big","discordToken":"forged-token-x9","discordUser":{"id":"42","username":"ann"}}))
        .await;
    Client::assert_error(&unknown, texts::DISCORD_AUTH_FAILED);
    assert_eq!(join_big_as_ann(&mut client).await["type"], "server-join");
    server.stop().await;
    // The bot token (a secret) and the OAuth2 tokens never reach the log.
    let text = logs::text();
    for secret in [BOT_TOKEN, ANN_TOKEN, BOB_TOKEN, "forged-token-x9"] {
        assert!(!text.contains(secret), "{secret} was logged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_member_lists_do_not_reach_discord_again_within_the_ttl() {
    let fake = FakeDiscord::start().await;
    let mut settings = discord_settings("discord-cache", &fake, &fake.base());
    settings.plugin.cache_ttl = Duration::from_secs(60);
    let server = TestServer::start(settings).await;
    for _ in 0..3 {
        let (mut client, _) = server.client().await;
        let joined = client.join(json!("small")).await;
        assert_eq!(joined["data"]["users"].as_object().unwrap().len(), 2);
    }
    assert_eq!(fake.hits(&members_path(SMALL_GUILD)), 1);
    assert_eq!(
        fake.hits(&format!("/api/v10/guilds/{SMALL_GUILD}/roles")),
        1
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_good_member_list_is_served_while_discord_fails() {
    let fake = FakeDiscord::start().await;
    let server = TestServer::start(discord_settings("discord-5xx", &fake, &fake.base())).await;
    let (mut client, _) = server.client().await;
    let before = client.join(json!("small")).await;
    assert_eq!(before["data"]["users"]["7001"]["roleColor"], "#00ff00");
    fake.set_failing(true);
    let during = client.join(json!("small")).await;
    assert_eq!(during, before);
    logs::wait_for(&[
        "plugin=\"discord-5xx\"",
        "callback=\"get-user-data\"",
        "Discord answered 503",
        "serving the last good answer",
    ])
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_within_the_call() {
    let fake = FakeDiscord::start().await;
    let server = TestServer::start(discord_settings("discord-429", &fake, &fake.base())).await;
    fake.rate_limit_once(&members_path(SMALL_GUILD));
    let (mut client, _) = server.client().await;
    let joined = client.join(json!("small")).await;
    assert_eq!(joined["data"]["users"].as_object().unwrap().len(), 2);
    assert_eq!(
        fake.hits(&members_path(SMALL_GUILD)),
        2,
        "the 429, then the retry"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_outside_the_allow_list_is_refused() {
    let fake = FakeDiscord::start().await;
    // Same server, other name: the allow-list holds 127.0.0.1:port only.
    let base = format!("http://localhost:{}/api/v10", fake.addr.port());
    let server = TestServer::start(discord_settings("discord-denied", &fake, &base)).await;
    let (mut client, _) = server.client().await;
    let joined = client.join(json!("small")).await;
    assert_eq!(joined["data"]["users"], json!({}));
    logs::wait_for(&[
        "plugin=discord-denied",
        "outgoing HTTP request denied",
        "localhost",
    ])
    .await;
    logs::wait_for(&[
        "plugin=\"discord-denied\"",
        "callback=\"get-user-data\"",
        "HttpRequestDenied",
    ])
    .await;
    assert_eq!(fake.hits(&members_path(SMALL_GUILD)), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_presence_shows_in_a_later_join() {
    let fake = FakeDiscord::start().await;
    let server = TestServer::start(discord_settings("discord-presence", &fake, &fake.base())).await;
    let (mut first, _) = server.client().await;
    assert_eq!(
        first.join(json!("small")).await["data"]["users"]["7001"]["status"],
        "offline"
    );
    let online = PresenceUpdate {
        uid: "7001".into(),
        status: Status::Online,
        username: None,
        role_color: None,
        delete: false,
    };
    server
        .broadcaster
        .broadcast_presence(SMALL_GUILD, &online)
        .unwrap();
    let (mut later, _) = server.client().await;
    let users = later.join(json!("small")).await["data"]["users"].clone();
    assert_eq!(users["7001"]["status"], "online");
    assert_eq!(users["7002"]["status"], "offline");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_past_the_size_cap_fails_the_call() {
    let fake = FakeDiscord::start().await;
    let mut settings = discord_settings("discord-capped", &fake, &fake.base());
    // The big guild's member pages are far larger than this.
    settings.plugin.egress.max_response_bytes = 16 * 1024;
    let server = TestServer::start(settings).await;
    let (mut client, _) = server.client().await;
    let joined = join_big_as_ann(&mut client).await;
    assert_eq!(joined["data"]["users"], json!({}));
    logs::wait_for(&[
        "plugin=\"discord-capped\"",
        "callback=\"get-user-data\"",
        "response body size exceeds limit",
    ])
    .await;
    // Small answers still fit.
    let small = client.join(json!("small")).await;
    assert_eq!(small["data"]["users"].as_object().unwrap().len(), 2);
    server.stop().await;
}

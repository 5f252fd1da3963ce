//! A provider built against a world that differs from the host's in one
//! place: the `user` record's `role-color` field is called `role-colour`,
//! as a plugin built against a stale or hand-edited WIT would have it. The
//! host must refuse it at start-up, naming the export and the field.

mod bindings {
    wit_bindgen::generate!({
        inline: r#"
            package d-back:plugin@0.1.0;

            interface types {
                enum status { online, idle, dnd, offline }
                record server {
                    snowflake: string, id: string, name: string,
                    passworded: bool, is-default: bool, password: option<string>,
                }
                record user { uid: string, username: string, status: status, role-colour: string }
                record discord-user { id: string, username: string, raw-json: string }
                record static-response { status: option<u16>, content-type: string, body: list<u8> }
                record presence-event {
                    server: string, uid: string, status: status,
                    username: option<string>, role-color: option<string>, remove: bool,
                }
                record message-event { server: string, uid: string, message: string, channel: string }
                record client-id-event { server: string, client-id: string }
                variant event {
                    presence(presence-event),
                    message(message-event),
                    client-id(client-id-event),
                }
            }

            interface host {
                enum level { trace, debug, info, warn, error }
                log: func(level: level, message: string);
                config-get: func(key: string) -> option<string>;
                config-all: func() -> list<tuple<string, string>>;
            }

            interface callbacks {
                use types.{server, user, discord-user, static-response};
                get-server-data: func() -> result<list<server>, string>;
                get-user-data: func(server: string) -> result<list<user>, string>;
                static-request: func(path: string) -> result<option<static-response>, string>;
                validate-discord-user: func(token: string, user: discord-user, server: string) -> result<bool, string>;
                get-client-id: func(server: string) -> result<option<string>, string>;
            }

            interface activity {
                use types.{event};
                record timer { name: string, interval-ms: u32 }
                timers: func() -> list<timer>;
                on-timer: func(name: string, servers: list<string>) -> result<list<event>, string>;
            }

            world provider {
                import host;
                export callbacks;
                export activity;
            }
        "#,
    });
}

use bindings::d_back::plugin::types::{DiscordUser, Event, Server, StaticResponse, User};
use bindings::exports::d_back::plugin::activity::{self, Timer};
use bindings::exports::d_back::plugin::callbacks;

struct Mismatched;

impl callbacks::Guest for Mismatched {
    fn get_server_data() -> Result<Vec<Server>, String> {
        Ok(Vec::new())
    }

    fn get_user_data(_server: String) -> Result<Vec<User>, String> {
        Ok(Vec::new())
    }

    fn static_request(_path: String) -> Result<Option<StaticResponse>, String> {
        Ok(None)
    }

    fn validate_discord_user(
        _token: String,
        _user: DiscordUser,
        _server: String,
    ) -> Result<bool, String> {
        Ok(false)
    }

    fn get_client_id(_server: String) -> Result<Option<String>, String> {
        Ok(None)
    }
}

impl activity::Guest for Mismatched {
    fn timers() -> Vec<Timer> {
        Vec::new()
    }

    fn on_timer(_name: String, _servers: Vec<String>) -> Result<Vec<Event>, String> {
        Ok(Vec::new())
    }
}

bindings::export!(Mismatched with_types_in bindings);

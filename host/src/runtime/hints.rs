//! What a plugin's failure most likely means, for its author: the errors a
//! plugin gets from the sandbox or from its language's bindings are true
//! but say nothing of d-back ("No such file or directory (os error 44)",
//! "expected a string, received [undefined]"). The host adds a line that
//! does, where the text makes the cause clear.

use super::callback::Callback;
use super::error::PluginError;

/// Texts of the errors WASI gives a plugin that reaches for a file or a
/// socket it was not granted (and what Rust, Go, JavaScript and Python
/// make of them).
const SANDBOX_ERRORS: &[&str] = &[
    "os error 44",
    "os error 2)",
    "os error 76",
    "os error 63",
    "No such file or directory",
    "Permission denied",
    "Operation not permitted",
    "not capable",
    "Capabilities insufficient",
    "EACCES",
    "ENOENT",
    "ENOTCAPABLE",
];

/// Texts of the errors language bindings give when an answer does not have
/// the WIT's shape (componentize-js, componentize-py).
const SHAPE_ERRORS: &[&str] = &[
    "expected a ",
    "received [",
    "has no attribute",
    "AttributeError",
    "TypeError",
    "KeyError",
    "is not a valid",
    "could not convert",
];

/// A line for the author of the plugin that failed with `cause` in
/// `callback`, when the cause suggests one.
pub fn hint(callback: Callback, cause: &PluginError) -> Option<String> {
    let text = match cause {
        PluginError::Trap(text) | PluginError::Returned(text) => text,
        _ => return None,
    };
    if SANDBOX_ERRORS.iter().any(|needle| text.contains(needle)) {
        return Some(
            "the sandbox denied it: plugins get no files and no sockets; outgoing HTTP goes \
             only to the hosts in [plugin] allow_hosts (allow_plain_http for http://)"
                .to_string(),
        );
    }
    if matches!(cause, PluginError::Trap(_)) && SHAPE_ERRORS.iter().any(|n| text.contains(n)) {
        return shape(callback)
            .map(|shape| format!("the answer does not have the WIT's shape: {shape}"));
    }
    None
}

/// What `callback` must answer, with each record's fields (and their
/// JavaScript and Python names where those differ).
fn shape(callback: Callback) -> Option<&'static str> {
    Some(match callback {
        Callback::GetServerData => {
            "get-server-data returns result<list<server>, string>; server is record { snowflake: string, id: string, name: string, passworded: bool, is-default: bool, password: option<string> } (JavaScript: isDefault; Python: is_default)"
        }
        Callback::GetUserData => {
            "get-user-data returns result<list<user>, string>; user is record { uid: string, username: string, status: status, role-color: string } (JavaScript: roleColor, status a string such as 'online'; Python: role_color, status a Status enum member such as Status.ONLINE)"
        }
        Callback::StaticRequest => {
            "static-request returns result<option<static-response>, string>; static-response is record { status: option<u16>, content-type: string, body: list<u8> } (JavaScript: contentType, body a Uint8Array; Python: content_type, body bytes)"
        }
        Callback::ValidateDiscordUser => "validate-discord-user returns result<bool, string>",
        Callback::GetClientId => "get-client-id returns result<option<string>, string>",
        Callback::Timers => {
            "timers returns list<timer>; timer is record { name: string, interval-ms: u32 } (JavaScript: intervalMs; Python: interval_ms)"
        }
        Callback::OnTimer => {
            "on-timer returns result<list<event>, string>; event is variant { presence(presence-event), message(message-event), client-id(client-id-event) } (JavaScript: { tag: 'message', val: {...} }; Python: Event_Message(...))"
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_and_shape_errors_authors_meet_are_explained() {
        for text in [
            "cannot open a file: No such file or directory (os error 44)",
            "cannot open a socket: Permission denied (os error 2)",
            "open /data/x: errno ENOTCAPABLE",
        ] {
            let hint = hint(Callback::GetUserData, &PluginError::Returned(text.into()));
            assert!(hint.is_some_and(|h| h.contains("sandbox denied")), "{text}");
        }
        let js = PluginError::Trap("expected a string, received [undefined]".into());
        let hint = hint(Callback::GetUserData, &js).unwrap();
        assert!(
            hint.contains("user is record") && hint.contains("roleColor"),
            "{hint}"
        );
        let python = PluginError::Trap("'str' object has no attribute 'value'".into());
        let hint = super::hint(Callback::GetUserData, &python).unwrap();
        assert!(hint.contains("Status.ONLINE"), "{hint}");
        assert!(
            super::hint(
                Callback::GetUserData,
                &PluginError::Returned("no such guild".into())
            )
            .is_none()
        );
        assert!(super::hint(Callback::GetUserData, &PluginError::OutOfFuel(1)).is_none());
    }
}

//! Bytes a browser sends in, the frame the server answers with out: never a
//! panic, always a JSON object the client can read.

#![no_main]

use d_back_fuzz::protocol::inbound::parse_binary_frame;
use d_back_fuzz::protocol::{ServerFrame, parse_client_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = match std::str::from_utf8(data) {
        Ok(text) => {
            let as_text = parse_client_frame(text);
            assert_eq!(
                as_text,
                parse_binary_frame(data),
                "text and binary frames differ"
            );
            as_text
        }
        Err(_) => parse_binary_frame(data),
    };
    let answer = match &parsed {
        Ok(request) => ServerFrame::ServerJoin {
            users: &[],
            requested: &request.server,
            server_name: "fuzz",
            client_id: request.credentials.discord_token.as_deref(),
        }
        .to_json(),
        Err(error) => ServerFrame::Error(error.message()).to_json(),
    };
    let value: serde_json::Value = serde_json::from_str(&answer).expect("answer is JSON");
    assert!(value["type"].is_string());
    if let Ok(request) = parsed {
        assert!(!request.server.is_empty());
        assert_eq!(request.server.trim(), request.server);
        let shown = format!("{request:?}");
        if let Some(token) = request.credentials.discord_token.filter(|t| t.len() > 12) {
            assert!(!shown.contains(&token), "token in Debug output");
        }
    }
});

//! Text from a plugin made safe for the log.

/// `text` on one line: control characters (line breaks, escape sequences),
/// Unicode line and paragraph separators and direction overrides are
/// written as escapes, so nothing a plugin writes can start a line of its
/// own or disguise itself as the host's.
pub fn one_line(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    let mut clean = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            clean.extend(c.escape_default());
        } else {
            clean.push(c);
        }
    }
    clean.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_can_start_a_new_line() {
        assert_eq!(one_line("plain text"), "plain text");
        let forged =
            "ok\n2026-01-01T00:00:00Z  INFO d_back::ws::join: accepted\r\x1b[2K\u{2028}x\u{202e}";
        let clean = one_line(forged);
        assert!(!clean.chars().any(|c| c.is_control()));
        assert!(!clean.contains('\u{2028}') && !clean.contains('\u{202e}'));
        assert!(clean.starts_with("ok\\n2026"));
    }
}

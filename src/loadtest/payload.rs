//! PURE: the harness's message payloads and the demo games' replies.
//!
//! A data message is `"<seq>:<t>:"` padded with `x` to the configured size, where `t` is the
//! intended send time in nanoseconds since the run's epoch (all clients share one process and
//! one epoch, so any client can compute a delivery latency from it).

/// Writes the payload for message `seq` intended at `t_ns` into `out`, `size` bytes long
/// (longer when the numbers need it).
pub(crate) fn encode(out: &mut String, seq: u64, t_ns: u64, size: usize) {
    use std::fmt::Write as _;
    out.clear();
    // Writing to a String cannot fail.
    let _ = write!(out, "{seq}:{t_ns}:");
    while out.len() < size {
        out.push('x');
    }
}

/// The sequence number and intended send time of a harness payload.
pub(crate) fn decode(text: &str) -> Option<(u64, u64)> {
    let mut parts = text.splitn(3, ':');
    let seq = parts.next()?.parse().ok()?;
    let t = parts.next()?.parse().ok()?;
    parts.next()?;
    Some((seq, t))
}

/// What a server sent, as far as the harness cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply<'a> {
    /// The chat game's `{"type":"welcome",…}`.
    Welcome,
    /// The chat game's broadcast `{"pid":P,"message":M}`.
    Chat {
        /// The sender.
        pid: &'a str,
        /// The text it sent.
        message: &'a str,
    },
    /// A compact JWS (a result token).
    Token(&'a str),
    /// Anything else: for the echo game, the echoed payload.
    Other(&'a str),
}

/// Classifies a text message from the server.
pub(crate) fn classify(text: &str) -> Reply<'_> {
    if text.starts_with("eyJ") && text.bytes().filter(|&b| b == b'.').count() == 2 {
        return Reply::Token(text);
    }
    if !text.starts_with('{') {
        return Reply::Other(text);
    }
    if text.contains("\"type\":\"welcome\"") {
        return Reply::Welcome;
    }
    match (
        json_str(text, "\"pid\":\""),
        json_str(text, "\"message\":\""),
    ) {
        (Some(pid), Some(message)) => Reply::Chat { pid, message },
        _ => Reply::Other(text),
    }
}

/// The value after `pattern` (`"key":"`) in a flat JSON object whose values need no escapes
/// (the chat game's replies to harness payloads). `None` when absent or escaped.
fn json_str<'a>(text: &'a str, pattern: &str) -> Option<&'a str> {
    let start = text.find(pattern)? + pattern.len();
    let len = text[start..].find('"')?;
    let value = &text[start..start + len];
    if value.ends_with('\\') {
        return None;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_pads() {
        let mut s = String::new();
        encode(&mut s, 42, 123_456_789, 32);
        assert_eq!(s.len(), 32);
        assert_eq!(decode(&s), Some((42, 123_456_789)));
        encode(&mut s, u64::MAX, u64::MAX, 24);
        assert_eq!(decode(&s), Some((u64::MAX, u64::MAX)));
        assert_eq!(decode("hello"), None);
        assert_eq!(decode("1:2"), None);
    }

    #[test]
    fn replies_are_classified() {
        assert_eq!(
            classify(r#"{"pid":"p1","sid":"s","type":"welcome"}"#),
            Reply::Welcome
        );
        assert_eq!(
            classify(r#"{"type":"welcome","pid":"p1","sid":"s"}"#),
            Reply::Welcome
        );
        assert_eq!(
            classify(r#"{"message":"1:2:xx","pid":"p7"}"#),
            Reply::Chat {
                pid: "p7",
                message: "1:2:xx"
            }
        );
        assert_eq!(
            classify("eyJhbGc.eyJzaWQ.c2ln"),
            Reply::Token("eyJhbGc.eyJzaWQ.c2ln")
        );
        assert_eq!(classify("1:2:xx"), Reply::Other("1:2:xx"));
        assert_eq!(
            classify(r#"{"pid":"p\"","message":"m"}"#),
            Reply::Other(r#"{"pid":"p\"","message":"m"}"#)
        );
    }
}

//! The demo games behind `examples/serve.rs` and the load-test harness. Their wire behaviour is
//! a public contract (the harness and the tests rely on it):
//!
//! - [`Chat`]: sends `{"type":"welcome","pid":P,"sid":S}` to a player when it joins or
//!   reconnects; broadcasts every text message M from player P to the whole session as
//!   `{"pid":P,"message":M}`; the text `{"type":"end","result":R}` ends the session with result R.
//! - [`Echo`]: sends nothing on join; sends each message (text or binary) back to its sender only.

use crate::game::{Ctx, Game, Message, Player};
use crate::jwt::NoClaims;

/// The demo chat room (see the module docs).
#[derive(Debug, Default)]
pub struct Chat;

impl Chat {
    fn welcome(p: &Player<NoClaims>, ctx: &mut Ctx<'_>) {
        let welcome = serde_json::json!({"type": "welcome", "pid": p.id(), "sid": p.session()});
        ctx.send(p.id(), welcome);
    }
}

/// The one control message of [`Chat`]: `{"type":"end","result":R}`.
fn end_request(text: &str) -> Option<serde_json::Value> {
    if !text.starts_with('{') || !text.contains("\"end\"") {
        return None;
    }
    let mut v: serde_json::Value = serde_json::from_str(text).ok()?;
    let obj = v.as_object_mut()?;
    if obj.get("type")?.as_str()? != "end" {
        return None;
    }
    Some(obj.remove("result").unwrap_or(serde_json::Value::Null))
}

impl Game for Chat {
    type Claims = NoClaims;

    fn start(_first: &Player<NoClaims>, _ctx: &mut Ctx<'_>) -> Self {
        Self
    }

    fn on_join(&mut self, p: &Player<NoClaims>, ctx: &mut Ctx<'_>) {
        Self::welcome(p, ctx);
    }

    fn on_reconnect(&mut self, p: &Player<NoClaims>, ctx: &mut Ctx<'_>) {
        Self::welcome(p, ctx);
    }

    fn on_message(&mut self, p: &Player<NoClaims>, m: &Message, ctx: &mut Ctx<'_>) {
        let Some(text) = m.as_text() else { return };
        if let Some(result) = end_request(text) {
            ctx.end(result);
            return;
        }
        ctx.broadcast(serde_json::json!({"pid": p.id(), "message": text}));
    }
}

/// The demo echo game (see the module docs).
#[derive(Debug, Default)]
pub struct Echo;

impl Game for Echo {
    type Claims = NoClaims;

    fn start(_first: &Player<NoClaims>, _ctx: &mut Ctx<'_>) -> Self {
        Self
    }

    fn on_message(&mut self, p: &Player<NoClaims>, m: &Message, ctx: &mut Ctx<'_>) {
        ctx.send(p.id(), m.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::end_request;

    #[test]
    fn end_request_is_recognised_only_with_type_end() {
        assert_eq!(
            end_request(r#"{"type":"end","result":{"winner":"a"}}"#),
            Some(serde_json::json!({"winner":"a"}))
        );
        assert_eq!(
            end_request(r#"{"type":"end"}"#),
            Some(serde_json::Value::Null)
        );
        assert_eq!(end_request(r#"{"type":"chat","result":"end"}"#), None);
        assert_eq!(end_request("end"), None);
        assert_eq!(end_request(r#"{"type":"end""#), None);
    }
}

//! Each message scores a point; first to 3 wins. Run in `keygen`'s DIR; tokens need a `name`.
use jwt_game_server::{Ctx, Game, Keys, Message, Player, Server, Signer};

#[derive(serde::Deserialize)]
struct Claims {
    name: String, // an extra claim of the login token
}

#[derive(Default)]
struct FirstToThree(std::collections::HashMap<String, u32>); // points per player

impl Game for FirstToThree {
    type Claims = Claims;
    fn start(_first: &Player<Claims>, _ctx: &mut Ctx<'_>) -> Self {
        Self::default()
    }
    fn on_message(&mut self, p: &Player<Claims>, _m: &Message, ctx: &mut Ctx<'_>) {
        let points = self.0.entry(p.id().to_owned()).or_default();
        *points += 1;
        ctx.send(p.id(), format!("you have {points}"));
        if *points == 3 {
            ctx.broadcast(format!("{} wins", p.claims().name));
            ctx.end(serde_json::json!({ "winner": p.id() }));
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .bind(std::env::args().nth(1).unwrap_or("127.0.0.1:9000".into()))
        .keys(Keys::from_jwks_file("login.jwks.json")?)
        .result_signer(Signer::from_jwk_file("result.jwk")?)
        .game::<FirstToThree>()
        .build()?
        .start()?;
    println!("listening on {}", server.local_addr());
    server.wait();
    Ok(())
}

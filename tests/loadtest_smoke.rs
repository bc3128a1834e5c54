//! The harness core against an embedded server, tiny workloads (each well under 10 s):
//! counts are asserted, timings are not.
#![cfg(feature = "loadtest")]

use jwt_game_server::loadtest::{
    self, GameKind, LaunchOptions, LoadConfig, Pacing, Report, Scenario, ServerKind, TokenVia,
};
use std::time::Duration;

fn small(scenario: Scenario, connections: usize) -> LoadConfig {
    let mut c = LoadConfig::new(scenario);
    c.connections = connections;
    c.session_size = 2;
    c.duration = Duration::from_millis(700);
    c.threads = 2;
    c.drain = Duration::from_secs(3);
    c.connect_timeout = Duration::from_secs(5);
    c.connect_phase_timeout = Duration::from_secs(8);
    c
}

fn run_against(kind: ServerKind, config: &LoadConfig, game: GameKind) -> Report {
    let mut opts = LaunchOptions::new(game);
    opts.io_threads = Some(1);
    opts.workers = Some(1);
    let server = loadtest::launch(kind, &opts).expect("server starts");
    loadtest::run(config, &server.target).expect("run completes")
}

fn assert_clean(r: &Report) {
    assert!(r.errors.is_empty(), "errors: {:?}", r.errors);
    assert_eq!(r.connected, r.connections as u64, "{r:?}");
    assert_eq!(r.connected_in_connect_phase, r.connections as u64);
}

#[test]
fn echo_returns_every_message_sent() {
    let config = small(Scenario::Echo, 40);
    let r = run_against(ServerKind::Ours, &config, GameKind::Echo);
    assert_clean(&r);
    assert!(r.messages_sent > 0);
    assert_eq!(r.messages_returned, r.messages_sent);
    assert_eq!(r.messages_received, r.messages_sent);
    assert_eq!(r.messages_lost, 0);
    assert_eq!(r.rtt.map(|p| p.count), Some(r.messages_sent));
}

#[test]
fn open_loop_echo_with_query_tokens_loses_nothing() {
    let mut config = small(Scenario::Echo, 20);
    config.pacing = Pacing::Open { rate: 2_000.0 };
    config.token_via = TokenVia::Query;
    let r = run_against(ServerKind::Ours, &config, GameKind::Echo);
    assert_clean(&r);
    assert!(r.messages_sent > 0);
    assert_eq!(r.messages_returned, r.messages_sent);
}

#[test]
fn connect_waits_for_every_welcome() {
    let config = small(Scenario::Connect, 60);
    let r = run_against(ServerKind::Ours, &config, GameKind::Chat);
    assert_clean(&r);
    assert_eq!(r.welcome.map(|p| p.count), Some(60));
    assert_eq!(r.handshake.map(|p| p.count), Some(60));
}

#[test]
fn chat_broadcasts_reach_the_whole_session() {
    let config = small(Scenario::Chat, 20);
    let r = run_against(ServerKind::Ours, &config, GameKind::Chat);
    assert_clean(&r);
    assert_eq!(r.messages_returned, r.messages_sent);
    // Sessions of 2: each message reaches its sender and one other player.
    assert_eq!(r.messages_received, 2 * r.messages_sent);
}

#[test]
fn bad_tokens_are_all_refused_with_their_codes() {
    for via in [TokenVia::Header, TokenVia::Message] {
        let mut config = small(Scenario::BadTokens, 30);
        config.token_via = via;
        let r = run_against(ServerKind::Ours, &config, GameKind::Echo);
        assert!(r.errors.is_empty(), "{via:?} errors: {:?}", r.errors);
        assert_eq!(r.connected, 15, "{via:?}: the valid half connects");
        let refused: u64 = r.refused.values().sum();
        assert_eq!(refused, r.bad_attempted, "{via:?}: {:?}", r.refused);
        for code in ["signature_invalid", "token_expired", "token_malformed"] {
            assert!(
                r.refused.get(code).is_some_and(|n| *n > 0),
                "{via:?}: {code}"
            );
        }
        assert_eq!(r.messages_returned, r.messages_sent);
    }
}

#[test]
fn churn_verifies_every_result_token() {
    let mut config = small(Scenario::Churn, 8);
    config.duration = Duration::from_secs(1);
    let r = run_against(ServerKind::Ours, &config, GameKind::Chat);
    assert!(r.errors.is_empty(), "errors: {:?}", r.errors);
    assert!(r.sessions_completed > 0);
    // Every completed session: 2 players plus the late joiner.
    assert_eq!(r.results_verified, 3 * r.sessions_completed);
    assert_eq!(r.late_results_verified, r.sessions_completed);
}

#[test]
fn idle_connections_stay_open() {
    let config = small(Scenario::Idle, 100);
    let r = run_against(ServerKind::Ours, &config, GameKind::Echo);
    assert_clean(&r);
    assert_eq!(r.messages_sent, 0);
}

#[test]
fn floor_echoes_like_the_server() {
    let config = small(Scenario::Echo, 20);
    let r = run_against(ServerKind::Floor, &config, GameKind::Echo);
    assert_clean(&r);
    assert_eq!(r.messages_returned, r.messages_sent);
}

#[test]
fn floor_cannot_play_bad_tokens() {
    let config = small(Scenario::BadTokens, 10);
    let server =
        loadtest::launch(ServerKind::Floor, &LaunchOptions::new(GameKind::Echo)).expect("floor");
    assert!(matches!(
        loadtest::run(&config, &server.target),
        Err(loadtest::LoadError::Unsupported { .. })
    ));
}

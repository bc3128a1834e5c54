//! Per-thread counters, merged when read; Prometheus text.

/// A merged snapshot of the server's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Sockets accepted since start.
    pub connections_accepted: u64,
    /// Sockets open now.
    pub connections_open: u64,
    /// Connections admitted (token verified) since start.
    pub connections_authenticated: u64,
    /// Connections refused for a token (any auth error) since start.
    pub auth_failures: u64,
    /// Sessions live now.
    pub sessions_live: u64,
    /// Sessions started since start.
    pub sessions_started: u64,
    /// Sessions ended since start.
    pub sessions_ended: u64,
    /// Ended sessions held in the archive now.
    pub sessions_archived: u64,
    /// WebSocket data messages received from clients.
    pub messages_in: u64,
    /// WebSocket data messages sent to clients.
    pub messages_out: u64,
    /// Result tokens signed.
    pub result_tokens: u64,
    /// Connections closed for exceeding the outbound byte cap.
    pub slow_consumers_closed: u64,
    /// Game-logic panics caught.
    pub game_panics: u64,
}

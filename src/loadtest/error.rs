//! Why a load-test run could not be set up or finished.

use std::fmt;
use std::io;

/// An error setting up or running a load test. Failures of individual connections are not
/// errors: they are counted by kind in the [`Report`](crate::loadtest::Report).
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// A bad option (the text says which).
    Config(String),
    /// A socket, file, poll or thread could not be created.
    Io(io::Error),
    /// A key could not be loaded or a verifier built.
    Key(crate::ConfigError),
    /// The embedded server did not start.
    Server(crate::Error),
    /// A server process could not be started or did not announce its address.
    Spawn {
        /// The program.
        program: String,
        /// What went wrong (and how to fix it).
        reason: String,
    },
    /// The scenario needs something this target does not offer.
    Unsupported {
        /// The scenario.
        scenario: &'static str,
        /// The target.
        target: String,
        /// What is missing.
        reason: &'static str,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(m) => write!(f, "configuration: {m}"),
            Self::Io(e) => write!(f, "i/o error: {e}"),
            Self::Key(e) => write!(f, "key: {e}"),
            Self::Server(e) => write!(f, "server: {e}"),
            Self::Spawn { program, reason } => write!(f, "cannot start {program}: {reason}"),
            Self::Unsupported {
                scenario,
                target,
                reason,
            } => write!(
                f,
                "scenario {scenario} is not supported by {target}: {reason}"
            ),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Key(e) => Some(e),
            Self::Server(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for LoadError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<crate::ConfigError> for LoadError {
    fn from(e: crate::ConfigError) -> Self {
        Self::Key(e)
    }
}

impl From<crate::Error> for LoadError {
    fn from(e: crate::Error) -> Self {
        Self::Server(e)
    }
}

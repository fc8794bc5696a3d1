//! What every handler shares.

use std::ops::Deref;
use std::sync::Arc;

use porchlight_store::{BlobStore, Store};

use crate::auth::guard::SigninGuard;
use crate::auth::password::Hasher;
use crate::auth::secrets::ServerSecret;
use crate::clock::Clock;
use crate::config::Config;
use crate::live::LiveRelay;
use crate::notify::Notifier;
use crate::tlog::LogSigner;

#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    pub store: Store,
    /// Clip payloads (ciphertext), streamed in and out.
    pub blobs: BlobStore,
    pub clock: Arc<dyn Clock>,
    pub hasher: Hasher,
    pub secret: ServerSecret,
    pub guard: SigninGuard,
    pub notifier: Notifier,
    /// Signs the transparency log's checkpoints.
    pub log: LogSigner,
    /// Live view: hubs' control connections and viewers' streams.
    pub live: LiveRelay,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

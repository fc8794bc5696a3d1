//! `porchlight hub run`: every camera recording at once, the uploader draining the spool,
//! and the local endpoint — until a shutdown signal.
//!
//! ```text
//!                     ┌─▶ live streams (sealed per viewer) ─▶ control connection ─▶ server relay
//!  camera source ─▶ recorder (pre-roll, motion, triggers) ─▶ plaintext fMP4 in recording/
//!      (one task each)                                            │ clip complete
//!                                                                 ▼
//!                         seal to the verified chain (age) ─▶ spool/ (fsync) ─▶ uploader ─▶ server
//! ```
//!
//! Plaintext exists only on the hub, in its private state folder, for the length of one clip;
//! what leaves the house is sealed. A camera that fails reconnects on its own; the uploader
//! retries with backoff and a clip leaves the spool only once the server has it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use porchlight_client::E2eError;
use porchlight_client::crypto::{HubSecret, VerifiedChain};
use porchlight_client::hub::{self as hubs, HubHome};
use porchlight_media::EventKind;
use serde::Serialize;
use tokio::sync::{Notify, broadcast, mpsc, watch};

use crate::config::HubRunConfig;
use crate::live::LiveTap;
use crate::spool::{Spool, SpoolError, SpoolStats};

/// Where clips are recorded (plaintext, private) before they are sealed.
pub const RECORDING_DIR: &str = "recording";
/// The upload queue, in the state folder.
pub const SPOOL_DIR: &str = "spool";
/// Event notices waiting for the live connection.
const NOTICE_QUEUE: usize = 16;
/// The spool's bound when no configuration says otherwise: 2 GiB.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 2 << 30;

/// Why the hub could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(transparent)]
    E2e(#[from] E2eError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "this hub has never verified its owner's device chain and the server cannot be reached \
         ({0}); start it once while the server is up"
    )]
    NoChain(String),
    #[error("the local endpoint cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// What a camera is doing, for the status endpoint.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CameraStatus {
    /// `connecting`, `streaming`, or `failed: …; retrying in … ms`.
    pub state: String,
    pub recording: bool,
    /// Turned off by the owner's signed settings.
    pub off: bool,
    pub clips_recorded: u64,
    pub clips_failed: u64,
    pub last_event: Option<String>,
}

/// What the uploader is doing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UploadStatus {
    /// `connected`, `waiting`, or the last error.
    pub state: String,
    pub uploaded: u64,
    pub rejected: u64,
}

/// What live view is doing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LiveStatus {
    /// `connected`, or why the control connection is down.
    pub state: String,
    /// Streams being sent now.
    pub streams: usize,
}

/// The whole hub, as `GET /status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HubStatus {
    pub cameras: BTreeMap<String, CameraStatus>,
    pub upload: UploadStatus,
    pub spool: SpoolStats,
    pub live: LiveStatus,
    pub settings: crate::settings::SettingsStatus,
}

/// What every part of a running hub shares.
#[derive(Debug)]
pub struct Hub {
    pub(crate) home: HubHome,
    pub(crate) secret: HubSecret,
    pub(crate) spool: Spool,
    pub(crate) recording_dir: PathBuf,
    chain: RwLock<Option<Arc<VerifiedChain>>>,
    /// The chains of household members given a camera of this hub, each verified from the
    /// root the owner's chain names: their devices are sealed to and may watch live.
    members: RwLock<Arc<Vec<VerifiedChain>>>,
    /// Wakes the uploader when a clip is queued.
    pub(crate) queued: Notify,
    /// Set when the server says the owner's chain changed: the uploader fetches and verifies
    /// it again at once, rather than at its next periodic check.
    chain_stale: AtomicBool,
    cameras: Mutex<BTreeMap<String, CameraStatus>>,
    upload: Mutex<UploadStatus>,
    /// Each camera's trigger channel, for the local endpoint.
    triggers: BTreeMap<String, mpsc::Sender<EventKind>>,
    /// Each camera's frames for live streams.
    pub(crate) live: BTreeMap<String, LiveTap>,
    /// Sealed event notices for the live connection to pass on (a doorbell press).
    pub(crate) notices: broadcast::Sender<Vec<u8>>,
    live_state: Mutex<LiveStatus>,
    /// The owner's signed settings in force (`crate::settings`).
    pub(crate) settings: crate::settings::SettingsState,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Milliseconds since the Unix epoch, by the hub's clock.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .unwrap_or(0)
}

impl Hub {
    /// The chain clips are sealed to: the last one verified from the server.
    pub(crate) fn chain(&self) -> Option<Arc<VerifiedChain>> {
        self.chain
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The server said the chain changed: have the uploader fetch it now.
    pub(crate) fn chain_changed(&self) {
        self.chain_stale.store(true, Ordering::SeqCst);
        self.queued.notify_one();
    }

    /// Whether the chain must be fetched again now (and no longer, once asked).
    pub(crate) fn take_chain_stale(&self) -> bool {
        self.chain_stale.swap(false, Ordering::SeqCst)
    }

    pub(crate) fn set_chain(&self, chain: VerifiedChain) {
        *self
            .chain
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(chain));
    }

    /// The members' chains clips are sealed to: the last ones verified.
    pub(crate) fn members(&self) -> Arc<Vec<VerifiedChain>> {
        self.members
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// After the owner's chain was verified from the server: the members' chains too. A
    /// member chain the server serves that does not verify is not used (the kept one is),
    /// and a failure to fetch keeps what the hub had: sealing then names fewer devices, never
    /// a device the owner did not give the camera to.
    pub(crate) async fn refresh_members(
        &self,
        client: &porchlight_client::Client,
        chain: &VerifiedChain,
    ) {
        let members = match hubs::verified_members(&self.home, client, chain).await {
            Ok(refreshed) => {
                for (root, error) in &refreshed.refused {
                    tracing::warn!(member = %&root.to_hex()[..16], %error, "a household member's chain was refused; using the one kept");
                }
                refreshed.chains
            }
            Err(error) => {
                tracing::warn!(%error, "could not fetch household members' chains; using the ones kept");
                hubs::cached_members(&self.home, chain).unwrap_or_default()
            }
        };
        *self
            .members
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(members);
    }

    pub(crate) fn camera_status(&self, name: &str, change: impl FnOnce(&mut CameraStatus)) {
        change(lock(&self.cameras).entry(name.to_owned()).or_default());
    }

    pub(crate) fn upload_status(&self, change: impl FnOnce(&mut UploadStatus)) {
        change(&mut lock(&self.upload));
    }

    pub(crate) fn live_status(&self, change: impl FnOnce(&mut LiveStatus)) {
        change(&mut lock(&self.live_state));
    }

    pub fn status(&self) -> HubStatus {
        HubStatus {
            cameras: lock(&self.cameras).clone(),
            upload: lock(&self.upload).clone(),
            spool: self.spool.stats(),
            live: lock(&self.live_state).clone(),
            settings: self.settings.status(),
        }
    }

    /// Tells the owner's connected devices of an event on `camera` as it happens: a notice
    /// sealed to the chain's devices and signed with the hub key, passed to the live
    /// connection. Nothing is kept when that connection is down: the clip carries the event.
    pub(crate) fn notify(&self, camera: &str, kind: EventKind) {
        if self.notices.receiver_count() == 0 {
            return;
        }
        let Some(chain) = self.chain() else {
            return;
        };
        let body = porchlight_client::crypto::NoticeBody {
            id: format!("{:032x}", rand::random::<u128>()),
            camera: camera.to_owned(),
            kind: kind.as_str().to_owned(),
            at_ms: now_ms(),
        };
        let recipients =
            chain.recipients_for_camera(self.secret.public().as_bytes(), camera, &self.members());
        match porchlight_client::crypto::seal_notice(&self.secret, &recipients, &body.to_json()) {
            Ok(notice) => {
                let _ = self.notices.send(notice);
            }
            Err(e) => tracing::warn!(%camera, error = %e, "could not seal an event notice"),
        }
    }

    /// Sends an event to a camera's recorder; false if there is no such camera.
    pub async fn trigger(&self, camera: &str, kind: EventKind) -> bool {
        match self.triggers.get(camera) {
            Some(tx) => tx.send(kind).await.is_ok(),
            None => false,
        }
    }
}

/// The server's chain (and a signed-in client), else — while the server is out of reach —
/// the chain kept from the last time it was, verified again from the pinned root.
pub async fn connect_or_cached(
    home: &HubHome,
) -> Result<(Option<porchlight_client::Client>, VerifiedChain), HubError> {
    match hubs::connect(home, now_ms()).await {
        Ok((client, chain)) => Ok((Some(client), chain)),
        Err(E2eError::HubNotInChain) => Err(E2eError::HubNotInChain.into()),
        Err(e) => match hubs::cached_chain(home)? {
            Some(chain) => {
                tracing::warn!(error = %e, "server unreachable: sealing to the chain verified last");
                Ok((None, chain))
            }
            None => Err(HubError::NoChain(e.to_string())),
        },
    }
}

/// Runs the hub in `state` (paired with `porchlight hub pair`) with `config` until
/// `shutdown` turns true. Reports the local endpoint's address through `bound` once it
/// listens (tests and `--json` use it).
pub async fn run(
    state: PathBuf,
    config: HubRunConfig,
    mut shutdown: watch::Receiver<bool>,
    bound: Option<tokio::sync::oneshot::Sender<Option<std::net::SocketAddr>>>,
) -> Result<(), HubError> {
    let home = HubHome::open(&state).map_err(E2eError::from)?;
    home.require_config()?;
    let secret = home.require_secret()?;
    let spool = Spool::open(state.join(SPOOL_DIR), config.spool_max_bytes)?;
    let recording_dir = state.join(RECORDING_DIR);
    clear_recordings(&recording_dir)?;

    // A chain to seal to before any camera starts.
    let (_, chain) = connect_or_cached(&home).await?;
    // Refreshed by the uploader as soon as it reaches the server.
    let members = hubs::cached_members(&home, &chain).unwrap_or_default();
    // The settings applied before a restart, else hub.toml's until signed ones arrive.
    let kept_settings = match hubs::kept_settings(&home) {
        Ok(kept) => kept,
        Err(error) => {
            tracing::warn!(%error, "the kept hub settings cannot be read; using hub.toml's");
            None
        }
    };

    let mut triggers = BTreeMap::new();
    let mut live = BTreeMap::new();
    let mut receivers = Vec::new();
    for camera in &config.cameras {
        let (tx, rx) = mpsc::channel(16);
        triggers.insert(camera.name.clone(), tx);
        live.insert(camera.name.clone(), LiveTap::default());
        receivers.push((camera.clone(), rx));
    }
    let hub = Arc::new(Hub {
        home,
        secret,
        spool,
        recording_dir,
        members: RwLock::new(Arc::new(members)),
        chain: RwLock::new(Some(Arc::new(chain))),
        queued: Notify::new(),
        chain_stale: AtomicBool::new(false),
        cameras: Mutex::new(BTreeMap::new()),
        upload: Mutex::new(UploadStatus::default()),
        triggers,
        live,
        notices: broadcast::channel(NOTICE_QUEUE).0,
        live_state: Mutex::new(LiveStatus {
            state: "connecting".to_owned(),
            streams: 0,
        }),
        settings: crate::settings::SettingsState::new(kept_settings),
    });

    let mut tasks = tokio::task::JoinSet::new();
    match config.listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| HubError::Listen {
                    addr: addr.to_string(),
                    source,
                })?;
            let local = listener.local_addr().ok();
            tracing::info!(addr = ?local, "local endpoint listening");
            if let Some(bound) = bound {
                let _ = bound.send(local);
            }
            tasks.spawn(crate::local::serve(
                Arc::clone(&hub),
                listener,
                shutdown.clone(),
            ));
        }
        None => {
            if let Some(bound) = bound {
                let _ = bound.send(None);
            }
        }
    }
    for (camera, rx) in receivers {
        tasks.spawn(crate::recording::record_camera(
            Arc::clone(&hub),
            camera,
            config.recording,
            rx,
            shutdown.clone(),
        ));
    }
    tasks.spawn(crate::uploader::upload_loop(
        Arc::clone(&hub),
        shutdown.clone(),
    ));
    tasks.spawn(crate::live::live_loop(Arc::clone(&hub), shutdown.clone()));
    tasks.spawn(crate::settings::settings_loop(
        Arc::clone(&hub),
        shutdown.clone(),
    ));
    tracing::info!(cameras = config.cameras.len(), "hub running");

    stopped(&mut shutdown).await;
    // Cameras finish and seal their current clips; the uploader stops between uploads.
    let grace = tokio::time::sleep(Duration::from_secs(30));
    tokio::pin!(grace);
    loop {
        tokio::select! {
            next = tasks.join_next() => if next.is_none() { break },
            () = &mut grace => {
                tracing::warn!("hub tasks did not stop within 30 s; leaving them");
                break;
            }
        }
    }
    Ok(())
}

/// Completes once `shutdown` turns true (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Recordings left by a crash are incomplete plaintext: remove them.
fn clear_recordings(dir: &std::path::Path) -> Result<(), HubError> {
    let io = |source| HubError::Io {
        path: dir.display().to_string(),
        source,
    };
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        _ => {}
    }
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io)
}

//! The uploader: takes the oldest sealed clip from the spool, uploads it, and removes it
//! only once the server has acknowledged it. Retries with backoff while the server is out of
//! reach; a clip the server refuses for good is moved aside (`spool/rejected/`), never
//! retried for ever in front of the others.
//!
//! Exactly once: every clip carries an upload key chosen when it was sealed, and the server
//! answers a repeated key with the clip it already made. So a hub killed after the server
//! stored a clip but before the spool forgot it sends it again on restart, harmlessly.

use std::sync::Arc;
use std::time::Duration;

use porchlight_client::hub::{self as hubs, upload_sealed};
use porchlight_client::{Client, ClientError, E2eError};
use tokio::sync::watch;

use crate::run::{Hub, now_ms, stopped};

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often the uploader checks the owner's chain (a device added or removed changes whom
/// new clips are sealed to) when the server has not said it changed.
const CHAIN_REFRESH: Duration = Duration::from_secs(60);

/// What to do after a failed upload.
enum Next {
    /// The server is out of reach or busy: try again later.
    Retry,
    /// The server refuses this clip and always will.
    Reject,
    /// The clip's file is gone (evicted while it uploaded).
    Forget,
}

fn classify(error: &E2eError, file_exists: bool) -> Next {
    match error {
        _ if !file_exists => Next::Forget,
        E2eError::Client(ClientError::Api { status, .. })
            if (400..500).contains(status) && !matches!(status, 401 | 403 | 408 | 429) =>
        {
            Next::Reject
        }
        _ => Next::Retry,
    }
}

pub(crate) async fn upload_loop(hub: Arc<Hub>, mut shutdown: watch::Receiver<bool>) {
    let mut client: Option<Client> = None;
    let mut backoff = FIRST_BACKOFF;
    let mut last_refresh = tokio::time::Instant::now();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let stale = hub.take_chain_stale();
        if client.is_none() || stale || last_refresh.elapsed() >= CHAIN_REFRESH {
            match hubs::connect(&hub.home, now_ms()).await {
                Ok((connected, chain)) => {
                    hub.refresh_members(&connected, &chain).await;
                    hub.set_chain(chain);
                    client = Some(connected);
                    last_refresh = tokio::time::Instant::now();
                    backoff = FIRST_BACKOFF;
                    hub.upload_status(|s| s.state = "connected".to_owned());
                }
                Err(e) => {
                    client = None;
                    let text = format!("server unreachable: {e}");
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "uploader cannot reach the server");
                    hub.upload_status(|s| s.state = text);
                    if !pause(&mut shutdown, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        let oldest = match hub.spool.oldest() {
            Ok(oldest) => oldest,
            Err(e) => {
                tracing::error!(error = %e, "reading the spool");
                if !pause(&mut shutdown, backoff).await {
                    return;
                }
                continue;
            }
        };
        let Some(entry) = oldest else {
            tokio::select! {
                () = hub.queued.notified() => {}
                () = tokio::time::sleep(CHAIN_REFRESH) => {}
                () = stopped(&mut shutdown) => return,
            }
            continue;
        };
        let Some(connected) = client.as_ref() else {
            continue;
        };
        let meta = &entry.meta;
        let result = upload_sealed(
            &hub.home,
            connected,
            &meta.upload_key,
            &meta.statement,
            &entry.path,
            now_ms(),
        )
        .await;
        match result {
            Ok((created, clip)) => {
                tracing::info!(seq = entry.seq, clip = %clip.id, created, camera = %meta.camera, "clip uploaded");
                if let Err(e) = hub.spool.remove(&entry) {
                    tracing::error!(error = %e, "removing an uploaded clip from the spool");
                }
                hub.upload_status(|s| s.uploaded += 1);
                backoff = FIRST_BACKOFF;
            }
            Err(e) => match classify(&e, entry.path.exists()) {
                Next::Forget => {
                    let _ = hub.spool.remove(&entry);
                }
                Next::Reject => {
                    tracing::error!(seq = entry.seq, error = %e, "the server refused a clip; moved aside");
                    if let Err(e) = hub.spool.reject(&entry) {
                        tracing::error!(error = %e, "moving a refused clip aside");
                    }
                    hub.upload_status(|s| s.rejected += 1);
                }
                Next::Retry => {
                    let text = format!("upload failed: {e}");
                    tracing::warn!(seq = entry.seq, error = %e, retry_in_ms = backoff.as_millis() as u64, "upload failed");
                    hub.upload_status(|s| s.state = text);
                    client = None;
                    if !pause(&mut shutdown, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            },
        }
    }
}

/// Sleeps `for_`, unless the hub stops first (then false).
async fn pause(shutdown: &mut watch::Receiver<bool>, for_: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(for_) => true,
        () = stopped(shutdown) => false,
    }
}

//! The router and the running server: listener, background tasks, graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use porchlight_proto::ErrorCode;
use porchlight_store::{BlobStore, Store, StoreError, StoreOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::guard::SigninGuard;
use crate::auth::password::{HashError, Hasher};
use crate::auth::secrets::ServerSecret;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::ApiError;
use crate::notify::{DeliveryWorker, Notifier, NotifyError};
use crate::openapi::ApiDoc;
use crate::routes::{
    access, accounts, clips, devices, feed, household, hub_settings, hubs, lifecycle, live, log,
    ops, push, research, shares, staff,
};
use crate::state::{AppState, Shared};
use crate::telemetry;
use crate::tlog::LogSigner;
use crate::web::{APP_CSP, NONE_CSP, WebApp};

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(accounts::signup))
        .routes(routes!(accounts::signup_confirm))
        .routes(routes!(accounts::login))
        .routes(routes!(accounts::logout))
        .routes(routes!(accounts::csrf_token))
        .routes(routes!(accounts::me))
        .routes(routes!(accounts::sessions))
        .routes(routes!(accounts::revoke_session))
        .routes(routes!(accounts::change_password))
        .routes(routes!(accounts::totp_reset))
        .routes(routes!(accounts::totp_reset_confirm))
        .routes(routes!(lifecycle::password_forgot))
        .routes(routes!(lifecycle::password_reset))
        .routes(routes!(lifecycle::change_email))
        .routes(routes!(lifecycle::confirm_email))
        .routes(routes!(lifecycle::undo_email_change))
        .routes(routes!(accounts::activity))
        .routes(routes!(accounts::notifications))
        .routes(routes!(accounts::mark_notifications_read))
        .routes(routes!(devices::get_chain, devices::append_chain))
        .routes(routes!(devices::register_device, devices::list_devices))
        .routes(routes!(hubs::create_pairing))
        .routes(routes!(hubs::pairing))
        .routes(routes!(hubs::hub_pair))
        .routes(routes!(hubs::hub_challenge))
        .routes(routes!(hubs::hub_token))
        .routes(routes!(hubs::list_hubs))
        .routes(routes!(hubs::hub_chain))
        .routes(routes!(
            hub_settings::get_settings,
            hub_settings::put_settings
        ))
        .routes(routes!(hub_settings::hub_get_settings))
        .routes(routes!(hub_settings::hub_report_settings))
        .routes(routes!(household::hub_members))
        .routes(routes!(household::members))
        .routes(routes!(household::owners))
        .routes(routes!(clips::upload_clip))
        .routes(routes!(clips::list_cameras))
        .routes(routes!(clips::update_camera))
        .routes(routes!(clips::list_clips))
        .routes(routes!(clips::get_clip, clips::delete_clip))
        .routes(routes!(clips::clip_payload))
        .routes(routes!(clips::replace_header))
        .routes(routes!(live::hub_live))
        .routes(routes!(live::camera_live))
        .routes(routes!(live::events_live))
        .routes(routes!(live::trigger_camera))
        .routes(routes!(log::log_key))
        .routes(routes!(log::checkpoint, log::sign_checkpoint))
        .routes(routes!(log::inclusion))
        .routes(routes!(log::consistency))
        .routes(routes!(log::entries))
        .routes(routes!(staff::staff_login))
        .routes(routes!(staff::figures))
        .routes(routes!(staff::create_request, staff::my_requests))
        .routes(routes!(staff::approve_break_glass))
        .routes(routes!(staff::alerts))
        .routes(routes!(staff::grant_devices))
        .routes(routes!(staff::grant_cameras))
        .routes(routes!(staff::grant_clips))
        .routes(routes!(research::record_consent, research::list_consents))
        .routes(routes!(research::recipient))
        .routes(routes!(research::upload_item))
        .routes(routes!(research::withdraw_item))
        .routes(routes!(research::match_items))
        .routes(routes!(research::staff_items))
        .routes(routes!(research::staff_item))
        .routes(routes!(research::staff_label))
        .routes(routes!(access::list))
        .routes(routes!(access::approve))
        .routes(routes!(access::deny))
        .routes(routes!(access::revoke))
        .routes(routes!(shares::account_chain))
        .routes(routes!(shares::share_clip, shares::list_shares))
        .routes(routes!(shares::revoke_share))
        .routes(routes!(shares::shared_with_me))
        .routes(routes!(shares::shared_clip_detail))
        .routes(routes!(shares::shared_payload))
        .routes(routes!(feed::create_post))
        .routes(routes!(feed::list_feed))
        .routes(routes!(feed::my_posts))
        .routes(routes!(feed::post_video))
        .routes(routes!(feed::delete_post))
        .routes(routes!(push::push_key))
        .routes(routes!(
            push::get_subscription,
            push::put_subscription,
            push::delete_subscription
        ))
}

/// The OpenAPI document of every route: generated from the handlers, completed with what
/// every route answers by construction (see [`crate::openapi`]).
pub fn openapi() -> serde_json::Value {
    crate::openapi::complete(api_router().into_openapi())
}

/// The whole application, testable without a socket, with the web app built into the binary.
pub fn router(state: AppState) -> Router {
    router_with_web(state, WebApp::embedded())
}

/// The whole application, serving `web` as the browser app.
pub fn router_with_web(state: AppState, web: WebApp) -> Router {
    let max_body = state.config.max_body_bytes;
    // Over TLS served here, browsers are told never to use plain HTTP for this host.
    let hsts = if state.config.tls.enabled() {
        crate::tls::hsts(state.config.tls.hsts_max_age_secs)
    } else {
        None
    };
    let (routes, api) = api_router().split_for_parts();
    let api = Arc::new(crate::openapi::complete(api));
    routes
        .route(
            "/api/openapi.json",
            get(move || {
                let api = Arc::clone(&api);
                async move { Json(api.as_ref().clone()) }
            }),
        )
        .fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
            let web = web.clone();
            async move { web.answer(&method, uri.path(), &headers) }
        })
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(telemetry::track))
        .layer(
            tower::ServiceBuilder::new()
                .layer(axum::error_handling::HandleErrorLayer::new(timed_out))
                .timeout(REQUEST_TIMEOUT),
        )
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(panicked))
        // Outermost, so that no answer leaves without them: not a timeout, not a panic.
        .layer(axum::middleware::from_fn(security_headers))
        .layer(tower::util::option_layer(hsts.map(|value| {
            SetResponseHeaderLayer::overriding(header::STRICT_TRANSPORT_SECURITY, value)
        })))
}

/// The headers every answer carries, the app's files and the API's alike. A browser reads
/// them; other clients ignore them.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let html = headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
        let csp = if html { APP_CSP } else { NONE_CSP };
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    // The app's files say `no-cache` (revalidate); everything else is never stored.
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            header::HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
        // The app itself may ask where the browser is (a feed post's area, reduced to its grid
        // cell on the device); nothing framed or cross-origin may, and no page uses the
        // camera or microphone.
        (
            header::HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(self)",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// A request that takes longer than this is answered `503` and its work dropped, so a stuck
/// store or a slow client cannot hold a connection and its task forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

async fn timed_out(_: tower::BoxError) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Unavailable,
        "the request took too long; try again",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "this route does not take that method",
    )
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal(&"a handler panicked").into_response()
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("data folder {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("could not listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error(transparent)]
    Log(#[from] crate::tlog::LogError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    #[error(transparent)]
    Acme(#[from] crate::acme::AcmeError),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens the stores and builds the shared state.
pub async fn build_state(config: Config, clock: Arc<dyn Clock>) -> Result<AppState, ServeError> {
    let data_err = |source| ServeError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    };
    prepare_data_dir(&config).map_err(data_err)?;
    let secret =
        ServerSecret::load_or_create(&config.data_dir.join("server-secret")).map_err(data_err)?;
    let mut options = StoreOptions::new(config.effective_database_url());
    options.max_connections =
        (config.database_max_connections > 0).then_some(config.database_max_connections);
    let store = Store::open(&options).await?;
    let tagged = research::tag_items_stored_by_key(&store).await?;
    if tagged > 0 {
        tracing::info!(
            items = tagged,
            "research items stored under their withdrawal key now carry its tag"
        );
    }
    let blobs = BlobStore::open_folder(config.data_dir.join(BLOB_DIR))
        .await
        .map_err(|e| ServeError::DataDir {
            path: config.data_dir.join(BLOB_DIR).display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
    telemetry::init_metrics();
    Ok(AppState::new(Shared {
        hasher: Hasher::new(
            config.signin.hash_concurrency,
            config.signin.hash_queue_limit,
        )?,
        guard: SigninGuard::new(&config.signin),
        notifier: Notifier::new(&config.notify),
        log: LogSigner::load(&config.data_dir, &config.log.origin)?,
        live: crate::live::LiveRelay::default(),
        secret,
        store,
        blobs,
        clock,
        config,
    }))
}

/// The blob folder inside the data folder (clip payloads, ciphertext only).
pub const BLOB_DIR: &str = "blobs";

/// The embedded database's file name inside the data folder.
pub const DATABASE_FILE: &str = "porchlight.db";

/// Creates the data folder private to the server (0700) and, for the embedded database, the
/// SQLite file private too (0600) before SQLite makes it: it holds password hashes and TOTP
/// secrets, and SQLite gives its WAL and shared-memory files the database file's mode.
fn prepare_data_dir(config: &Config) -> std::io::Result<()> {
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
    dir.create(&config.data_dir)?;
    if config.database_url.is_empty() {
        let mut file = std::fs::OpenOptions::new();
        file.write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
        file.open(config.data_dir.join(DATABASE_FILE))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config.data_dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                mode = format!("{:o}", mode & 0o777),
                "the data folder is readable by other users; chmod 700 it"
            );
        }
    }
    Ok(())
}

/// A server listening and serving in the background.
#[derive(Debug)]
pub struct RunningServer {
    pub addr: SocketAddr,
    /// Where plain HTTP is redirected to HTTPS (`tls.redirect_listen`).
    pub redirect_addr: Option<SocketAddr>,
    /// Whether `addr` speaks TLS.
    pub tls: bool,
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    serve: JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Stops accepting, lets requests in flight finish, stops the background tasks.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.shutdown.send(true);
        // Live connections are upgraded out of the HTTP server's reach: ended here.
        self.state.live.shut_down();
        let served = self
            .serve
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        for task in self.tasks {
            let _ = task.await;
        }
        self.state.store.close().await;
        served.map_err(ServeError::Io)
    }
}

/// Binds `config.listen` (port 0 picks a free one) and serves until [`RunningServer::shutdown`].
pub async fn start(config: Config, clock: Arc<dyn Clock>) -> Result<RunningServer, ServeError> {
    start_with_web(config, clock, WebApp::embedded()).await
}

/// [`start`], serving `web` as the browser app in place of the one built in.
pub async fn start_with_web(
    config: Config,
    clock: Arc<dyn Clock>,
    web: WebApp,
) -> Result<RunningServer, ServeError> {
    let listen = config.listen.clone();
    let state = build_state(config, clock).await?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: listen.clone(),
            source,
        })?;
    let addr = listener.local_addr()?;
    let (shutdown, watcher) = watch::channel(false);

    let worker = DeliveryWorker::new(
        state.store.clone(),
        Arc::clone(&state.clock),
        state.config.notify.clone(),
        &state.secret,
        state.config.public_url.clone(),
        state.notifier.waker(),
    )?;
    let tasks = vec![
        tokio::spawn(worker.run(watcher.clone())),
        tokio::spawn(maintain(state.clone(), watcher.clone())),
        tokio::spawn(enforce_retention(state.clone(), watcher.clone())),
        tokio::spawn(crate::tlog::run_appender(state.clone(), watcher.clone())),
    ];
    let mut tasks = tasks;
    let app =
        router_with_web(state.clone(), web).into_make_service_with_connect_info::<SocketAddr>();
    let stopped = |mut stop: watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    let mut redirect_addr = None;
    let serve = if state.config.tls.enabled() {
        let tls_config = &state.config.tls;
        let http01 = crate::tls::Http01::default();
        let certs = match (tls_config.files(), &tls_config.acme) {
            (Some((cert, key)), _) => {
                let certs = Arc::new(crate::tls::CertStore::open(cert, key)?);
                tasks.push(tokio::spawn(crate::tls::watch_files(
                    Arc::clone(&certs),
                    Duration::from_secs(tls_config.reload_secs),
                    watcher.clone(),
                )));
                certs
            }
            (None, Some(acme)) => {
                let acme = crate::acme::Acme::new(
                    acme.clone(),
                    &state.config.data_dir,
                    Arc::clone(&http01),
                );
                let certs = Arc::new(crate::tls::CertStore::holding(acme.initial()?));
                tasks.push(tokio::spawn(acme.run(Arc::clone(&certs), watcher.clone())));
                certs
            }
            (None, None) => unreachable!("tls.enabled() says one of them is set"),
        };
        let tls = crate::tls::server_config(certs)
            .map_err(|e| ServeError::Io(std::io::Error::other(e)))?;
        if let Some(plain) = &tls_config.redirect_listen {
            let plain_listener = tokio::net::TcpListener::bind(plain)
                .await
                .map_err(|source| ServeError::Listen {
                    addr: plain.clone(),
                    source,
                })?;
            redirect_addr = Some(plain_listener.local_addr()?);
            let redirect =
                crate::tls::redirect_router(state.config.public_url.clone(), addr.port(), http01);
            let stop = stopped(watcher.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = axum::serve(plain_listener, redirect)
                    .with_graceful_shutdown(stop)
                    .await
                {
                    tracing::error!(cause = %e, "the plain-HTTP listener stopped");
                }
            }));
        }
        let listener = crate::tls::TlsListener::new(listener, tls)?;
        let stop = stopped(watcher.clone());
        tokio::spawn(async move {
            axum::serve(axum::serve::ListenerExt::tap_io(listener, |_| {}), app)
                .with_graceful_shutdown(stop)
                .await
        })
    } else {
        let stop = stopped(watcher.clone());
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
        })
    };
    Ok(RunningServer {
        addr,
        redirect_addr,
        tls: state.config.tls.enabled(),
        state,
        shutdown,
        tasks,
        serve,
    })
}

/// Serves until SIGTERM or Ctrl-C, then shuts down gracefully.
pub async fn run(config: Config) -> Result<(), ServeError> {
    let server = start(config, Arc::new(SystemClock)).await?;
    tracing::info!(addr = %server.addr, tls = server.tls, redirect = ?server.redirect_addr, backend = ?server.state.store.backend(), "porchlight serving");
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Prunes what has expired: sessions, pending sign-ups, old sign-in failures and blocks.
async fn maintain(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        let now = state.now_ms();
        let idle_cutoff = now - state.config.session.idle_timeout_secs.saturating_mul(1000);
        let window = now - state.config.signin.failure_window_secs.saturating_mul(1000);
        let pruned = async {
            state.store.prune_sessions(now, idle_cutoff).await?;
            state.store.prune_pending_signups(now).await?;
            state.store.prune_email_tokens(now).await?;
            state.store.prune_pairings(now).await?;
            state.store.prune_hub_credentials(now).await?;
            state.store.prune_login_records(window, now).await
        };
        if let Err(e) = pruned.await {
            tracing::warn!(cause = %e, "maintenance pass failed");
        }
        state.guard.shrink();
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Deletes clips past their camera's retention, every `clips.retention_sweep_secs`.
async fn enforce_retention(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let every = Duration::from_secs(state.config.clips.retention_sweep_secs);
    loop {
        match clips::sweep_retention(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "retention: old clips deleted"),
            Err(e) => tracing::warn!(cause = %e, "retention sweep failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

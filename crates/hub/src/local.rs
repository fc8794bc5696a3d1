//! The hub's local endpoint, on the home network (loopback by default): a doorbell button or
//! a home-automation system presses `POST /cameras/{name}/doorbell`; `POST
//! /cameras/{name}/trigger` records a clip by hand; `GET /status` shows cameras, uploads and
//! the spool. It reveals no video and no keys.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use porchlight_media::EventKind;
use tokio::sync::watch;

use crate::run::Hub;

pub(crate) async fn serve(
    hub: Arc<Hub>,
    listener: tokio::net::TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let app = Router::new()
        .route("/status", get(status))
        .route("/cameras/{name}/doorbell", post(doorbell))
        .route("/cameras/{name}/trigger", post(manual))
        .with_state(hub);
    let stopped = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stopped)
        .await
    {
        tracing::error!(error = %e, "local endpoint failed");
    }
}

async fn status(State(hub): State<Arc<Hub>>) -> Json<crate::run::HubStatus> {
    Json(hub.status())
}

async fn doorbell(State(hub): State<Arc<Hub>>, Path(name): Path<String>) -> Response {
    event(&hub, &name, EventKind::Doorbell).await
}

async fn manual(State(hub): State<Arc<Hub>>, Path(name): Path<String>) -> Response {
    event(&hub, &name, EventKind::Manual).await
}

async fn event(hub: &Hub, name: &str, kind: EventKind) -> Response {
    if hub.trigger(name, kind).await {
        (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"camera": name, "event": kind.as_str()})),
        )
            .into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "no camera by that name"})),
        )
            .into_response()
    }
}

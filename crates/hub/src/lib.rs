//! Porchlight's hub, the program that runs at home beside the cameras.
//!
//! It owns the camera sources (pulling video from IP cameras), recording (each camera's
//! recorder and motion detector feeding clips to disk), sealing into the durable upload spool,
//! the uploader, the local endpoint for doorbell presses and status, and live view (the
//! outbound control connection and a sealed stream per viewer). It does not own media formats
//! (`porchlight-media`: access units, fMP4, clip cutting) nor sealing (`porchlight-crypto`);
//! it feeds them.

pub mod config;
mod live;
mod local;
pub mod recording;
pub mod run;
pub mod settings;
pub mod source;
pub mod spool;
mod uploader;

pub use config::{ConfigError, HubRunConfig};
pub use recording::seal_to_spool;
pub use run::{HubError, HubStatus, run};

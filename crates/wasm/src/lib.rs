//! The browser's end of Porchlight's cryptography: thin `wasm-bindgen` bindings over
//! `porchlight-crypto`, so the web app verifies the device chain, signs links and re-wraps
//! clip headers with the very code the CLI and the hub run.
//!
//! The work is done in [`core`], plain Rust with string errors, tested natively; this file
//! only turns its errors into JavaScript exceptions. Values cross the boundary as JSON text
//! (small and few) or bytes (keys, headers); secret bytes handed in are copied into types
//! that wipe themselves, and the JavaScript side wipes its copy after the call.

pub mod clip;
pub mod core;
#[cfg(test)]
mod fixtures;
pub mod household;
pub mod listing;
pub mod log;
pub mod mp4;
pub mod notice;
pub mod research;
pub mod sharing;

use wasm_bindgen::prelude::*;

fn js(e: String) -> JsError {
    JsError::new(&e)
}

/// A fresh device key pair; the secret half as bytes, for the app to wrap and store.
#[wasm_bindgen(js_name = deviceGenerate)]
pub fn device_generate() -> Vec<u8> {
    core::device_generate().to_vec()
}

/// `{sign_key, age_recipient, fingerprint}` of a device secret.
#[wasm_bindgen(js_name = devicePublic)]
pub fn device_public(secret: &[u8]) -> Result<String, JsError> {
    core::device_public(secret).map_err(js)
}

/// The fingerprint of public keys as the server lists them (to compare with another screen).
#[wasm_bindgen(js_name = fingerprintOf)]
pub fn fingerprint_of(sign_key: &str, age_recipient: &str) -> Result<String, JsError> {
    core::fingerprint_of(sign_key, age_recipient).map_err(js)
}

/// An SVG drawing of `text` as a QR code (no script, no external reference).
#[wasm_bindgen(js_name = qrSvg)]
pub fn qr_svg(text: &str) -> Result<String, JsError> {
    core::qr_svg(text).map_err(js)
}

/// The account's device chain as this browser checked it.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Chain(core::Chain);

/// A chain started by this browser: its first link, and the key recovery code to show once.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Genesis {
    chain: core::Chain,
    links: String,
    recovery_code: String,
}

#[wasm_bindgen]
impl Genesis {
    /// The chain, for the app to keep using.
    #[wasm_bindgen(js_name = intoChain)]
    pub fn into_chain(self) -> Chain {
        Chain(self.chain)
    }

    /// `{"links": [...]}` for `POST /api/chain`.
    #[wasm_bindgen(getter)]
    pub fn links(&self) -> String {
        self.links.clone()
    }

    /// The key recovery code (shown once; never stored by the app).
    #[wasm_bindgen(getter, js_name = recoveryCode)]
    pub fn recovery_code(&self) -> String {
        self.recovery_code.clone()
    }
}

#[wasm_bindgen]
impl Chain {
    /// Starts an account's chain: link 0 names this device and a fresh recovery key.
    pub fn start(secret: &[u8], device_name: &str) -> Result<Genesis, JsError> {
        let (chain, links, recovery_code) = core::Chain::start(secret, device_name).map_err(js)?;
        Ok(Genesis {
            chain,
            links,
            recovery_code,
        })
    }

    /// Verifies `links` (`{"links": [...]}` as the server serves them) from the pinned trust
    /// (`{"root", "seen_seq", "seen_hash"}`), or pins link 0 when `trust` is absent.
    pub fn verify(links: &str, trust: Option<String>) -> Result<Chain, JsError> {
        core::Chain::verify(links, trust.as_deref())
            .map(Chain)
            .map_err(js)
    }

    /// Verifies another account's `links` from the root (hex) it is known by: the owner of a
    /// share, or the account a clip is shared with. Nothing is pinned.
    #[wasm_bindgen(js_name = verifyFromRoot)]
    pub fn verify_from_root(links: &str, root: &str) -> Result<Chain, JsError> {
        core::Chain::verify_from_root(links, root)
            .map(Chain)
            .map_err(js)
    }

    /// Verifies `links` for a browser restored by the key recovery code: link 0 must name the
    /// code's key, and becomes the pin.
    #[wasm_bindgen(js_name = verifyByRecovery)]
    pub fn verify_by_recovery(links: &str, recovery_code: &str) -> Result<Chain, JsError> {
        core::Chain::verify_by_recovery(links, recovery_code)
            .map(Chain)
            .map_err(js)
    }

    /// Whether this verification pinned the root (first sight of the chain).
    #[wasm_bindgen(getter, js_name = pinnedNow)]
    pub fn pinned_now(&self) -> bool {
        self.0.pinned_now()
    }

    /// What to remember: `{"root", "seen_seq", "seen_hash"}`.
    pub fn trust(&self) -> String {
        self.0.trust()
    }

    /// Who is in the chain: devices (with fingerprints), hubs, members, the recovery key.
    pub fn view(&self) -> String {
        self.0.view()
    }

    /// Signs the next link with this device's secret; `op` is
    /// `{"add_device": {...}} | {"remove_device": {...}} | {"add_hub": {...}} | {"remove_hub": {...}}`.
    /// Returns `{"links": [link]}` for `POST /api/chain`; the chain moves on only if it signs.
    pub fn append(&mut self, secret: &[u8], op: &str) -> Result<String, JsError> {
        self.0.append(secret, op).map_err(js)
    }

    /// As [`Chain::append`], signed by the key recovery code's key.
    #[wasm_bindgen(js_name = appendByRecovery)]
    pub fn append_by_recovery(&mut self, recovery_code: &str, op: &str) -> Result<String, JsError> {
        self.0.append_by_recovery(recovery_code, op).map_err(js)
    }

    /// Takes the household members' chains (`GET /api/household/members`, as JSON text),
    /// keeping those that verify from the roots this chain names and are no older than the
    /// positions `kept` (what the last call returned, or ""). Returns the positions to keep.
    #[wasm_bindgen(js_name = setMembers)]
    pub fn set_members(&mut self, members: &str, kept: &str) -> Result<String, JsError> {
        self.0.set_members(members, kept).map_err(js)
    }

    /// A clip header (base64) re-wrapped to every device now in the chain and to the devices
    /// of the household members given the clip's camera (`hubKey` hex and `camera`, from the
    /// clip's detail), opened with this device's secret. Base64 out.
    pub fn rewrap(
        &self,
        header: &str,
        secret: &[u8],
        hub_key: &str,
        camera: &str,
    ) -> Result<String, JsError> {
        self.0.rewrap(header, secret, hub_key, camera).map_err(js)
    }

    /// As [`Chain::rewrap`], opened with the key recovery code's key.
    #[wasm_bindgen(js_name = rewrapByRecovery)]
    pub fn rewrap_by_recovery(
        &self,
        header: &str,
        recovery_code: &str,
        hub_key: &str,
        camera: &str,
    ) -> Result<String, JsError> {
        self.0
            .rewrap_by_recovery(header, recovery_code, hub_key, camera)
            .map_err(js)
    }
}

/// Which clips of a listing may be shown: `clips` is a JSON array of listing entries
/// (`GET /api/clips`'s `clips`, or `GET /api/shared`'s, with `chain` the owner's); the answer
/// is a JSON array in the same order, `{"id", "verified": true, "hub_name"}` or
/// `{"id", "verified": false, "refused": {"code", "reason"}}` (see [`listing::check_listing`]).
/// `ofOwner`: `chain` is another account's (a share's owner), and the reasons say so.
#[wasm_bindgen(js_name = checkListing)]
pub fn check_listing(chain: &Chain, clips: &str, of_owner: bool) -> Result<String, JsError> {
    listing::check_listing(chain.0.verified(), clips, of_owner).map_err(js)
}

/// The households this account belongs to, as this device verified them (see
/// [`household::Households`]).
#[wasm_bindgen]
#[derive(Debug)]
pub struct Households(household::Households);

/// A camera another account gave this one: the owner's chain that gives it, and its hub's
/// key from that chain.
#[wasm_bindgen]
#[derive(Debug)]
pub struct GivenCamera {
    chain: porchlight_crypto::VerifiedChain,
    hub_key: String,
}

#[wasm_bindgen]
impl GivenCamera {
    /// The owner's chain, to open clips and check live answers under.
    pub fn chain(&self) -> Chain {
        Chain(core::Chain::of_owner(self.chain.clone()))
    }

    /// The camera's hub key (hex), as the owner's chain names it.
    #[wasm_bindgen(getter, js_name = hubKey)]
    pub fn hub_key(&self) -> String {
        self.hub_key.clone()
    }
}

#[wasm_bindgen]
impl Households {
    /// Verifies `GET /api/household/owners` (JSON text) for the account of `own`, against
    /// the positions kept from the last call (`kept`, or empty).
    pub fn verify(own: &Chain, served: &str, kept: &str) -> Result<Households, JsError> {
        household::Households::verify(own.0.verified().root(), served, kept)
            .map(Households)
            .map_err(js)
    }

    /// The positions to keep for next time.
    pub fn positions(&self) -> String {
        self.0.positions()
    }

    /// `{"owners": [{"root", "cameras": [{"hub_key", "camera", "hub_name"}]}],
    /// "refused": [{"root", "reason"}]}`.
    pub fn view(&self) -> String {
        self.0.view()
    }

    /// The listing check of `GET /api/clips` (see [`check_listing`]), each clip under the
    /// chain that vouches for it: `own` for the account's own hubs, a household owner's for
    /// a camera that owner gives this account.
    #[wasm_bindgen(js_name = checkListing)]
    pub fn check_listing(&self, own: &Chain, clips: &str) -> Result<String, JsError> {
        self.0.check_listing(own.0.verified(), clips).map_err(js)
    }

    /// The owner's chain that gives this account camera `camera` of hub `hubKey` (hex): what
    /// a clip of it is opened under. None when no household gives it.
    #[wasm_bindgen(js_name = ownerOfCamera)]
    pub fn owner_of_camera(&self, hub_key: &str, camera: &str) -> Option<Chain> {
        self.0
            .owner_of_camera(hub_key, camera)
            .map(|c| Chain(core::Chain::of_owner(c.clone())))
    }

    /// The camera a household gives this account under the name its hub signs.
    #[wasm_bindgen(js_name = givenCamera)]
    pub fn given_camera(&self, camera: &str) -> Option<GivenCamera> {
        self.0
            .given_camera(camera)
            .map(|(chain, hub_key)| GivenCamera {
                chain: chain.clone(),
                hub_key,
            })
    }
}

/// Checks and opens one event notice (base64, from `GET /api/events/live`) with this
/// device's secret against the verified chain. Answers JSON: `{"opened": true, "id", "kind",
/// "camera", "hub_name", "hub_key", "at_ms"}`, or `{"opened": false, "code", "reason"}` for a
/// notice that fails the check (nothing of its content). Throws only for an unusable secret.
#[wasm_bindgen(js_name = openNotice)]
pub fn open_notice(chain: &Chain, notice: &str, secret: &[u8]) -> Result<String, JsError> {
    let device = core::secret(secret).map_err(js)?;
    let opened = notice::open(chain.0.verified(), notice, &device);
    serde_json::to_string(&opened).map_err(|e| JsError::new(&e.to_string()))
}

/// A recorded clip being opened as it downloads (see [`clip::ClipOpener`]).
#[wasm_bindgen]
#[derive(Debug)]
pub struct ClipOpener(clip::ClipOpener);

#[wasm_bindgen]
impl ClipOpener {
    /// Checks the clip's details (`GET /api/clips/{id}`, as JSON text) against the chain and
    /// prepares to open its payload with this device's secret.
    #[wasm_bindgen(constructor)]
    pub fn new(chain: &Chain, detail: &str, secret: &[u8]) -> Result<ClipOpener, JsError> {
        clip::ClipOpener::new(chain.0.verified(), detail, secret)
            .map(ClipOpener)
            .map_err(js)
    }

    /// `{id, camera, start_ms, duration_ms, hub_name}` as the hub signed them.
    #[wasm_bindgen(getter)]
    pub fn checked(&self) -> String {
        self.0.checked().to_owned()
    }

    /// The next downloaded bytes in; the plaintext now authenticated out.
    pub fn push(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, JsError> {
        self.0.push(ciphertext).map_err(js)
    }

    /// The download ended: the rest of the plaintext, after the whole-payload check.
    pub fn finish(&mut self) -> Result<Vec<u8>, JsError> {
        self.0.finish().map_err(js)
    }
}

/// The opened clip split into whole MP4 boxes for `MediaSource` (see [`mp4::Mp4Feed`]).
#[wasm_bindgen]
#[derive(Debug, Default)]
pub struct Mp4Feed(mp4::Mp4Feed);

#[wasm_bindgen]
impl Mp4Feed {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Mp4Feed {
        Mp4Feed::default()
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<u8>, JsError> {
        self.0.push(bytes).map_err(js)
    }

    pub fn finish(&self) -> Result<(), JsError> {
        self.0.finish().map_err(js)
    }

    /// `avc1.PPCCLL`, once the init segment has passed.
    #[wasm_bindgen(getter)]
    pub fn codec(&self) -> Option<String> {
        self.0.codec()
    }

    /// The events the hub sealed in the clip (JSON text), once that box has passed.
    #[wasm_bindgen(getter)]
    pub fn metadata(&self) -> Option<String> {
        self.0.metadata()
    }
}

/// A hub pairing in progress (see [`clip::Pairing`]).
#[wasm_bindgen]
#[derive(Debug)]
pub struct Pairing(clip::Pairing);

#[wasm_bindgen]
impl Pairing {
    /// A new single-use code for `server_url`, naming the account's root.
    #[wasm_bindgen(constructor)]
    pub fn new(server_url: &str, chain: &Chain) -> Result<Pairing, JsError> {
        clip::Pairing::new(server_url, chain.0.verified())
            .map(Pairing)
            .map_err(js)
    }

    #[wasm_bindgen(getter)]
    pub fn code(&self) -> String {
        self.0.code()
    }

    /// The code as an SVG QR drawing.
    #[wasm_bindgen(js_name = qrSvg)]
    pub fn qr_svg(&self) -> Result<String, JsError> {
        core::qr_svg(&self.0.code()).map_err(js)
    }

    #[wasm_bindgen(getter)]
    pub fn verifier(&self) -> String {
        self.0.verifier()
    }

    /// The hub's key if its proof shows it holds this code; an error otherwise.
    #[wasm_bindgen(js_name = checkHub)]
    pub fn check_hub(&self, hub_key: &str, proof: &str) -> Result<String, JsError> {
        self.0.check_hub(hub_key, proof).map_err(js)
    }
}

/// A check of the account's transparency-log entries (see [`log::LogCheck`]).
#[wasm_bindgen]
#[derive(Debug)]
pub struct LogCheck(Option<log::LogCheck>);

#[wasm_bindgen]
impl LogCheck {
    /// Step 1: the kept pin (or none), the log key, the listing and the latest checkpoint.
    pub fn begin(
        pin: Option<String>,
        key: &str,
        listing: &str,
        checkpoint: &str,
    ) -> Result<LogCheck, JsError> {
        log::LogCheck::begin(pin.as_deref(), key, listing, checkpoint)
            .map(|c| LogCheck(Some(c)))
            .map_err(js)
    }

    /// The proofs to fetch, as JSON.
    pub fn needs(&self) -> String {
        self.0
            .as_ref()
            .map(log::LogCheck::needs)
            .unwrap_or_default()
    }

    /// Step 2: the proofs; the report as JSON. A check finishes once.
    pub fn finish(
        &mut self,
        consistency: Option<String>,
        inclusion: &str,
    ) -> Result<String, JsError> {
        let check = self
            .0
            .take()
            .ok_or_else(|| JsError::new("this check has finished already"))?;
        Ok(check.finish(consistency.as_deref(), inclusion))
    }
}

/// Watching a camera live (DESIGN §5): this device's signed offer, the hub's answer checked
/// against the verified chain (so the server cannot answer in the hub's place), then every
/// frame authenticated under the forward-secret stream key before it is handed out.
#[wasm_bindgen]
pub struct LiveView {
    chain: porchlight_crypto::VerifiedChain,
    hub: porchlight_crypto::HubKey,
    pending: Option<porchlight_crypto::PendingView>,
    opener: Option<porchlight_crypto::FrameOpener>,
}

impl std::fmt::Debug for LiveView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveView")
            .field("answered", &self.opener.is_some())
            .finish_non_exhaustive()
    }
}

/// One opened live frame.
#[wasm_bindgen]
#[derive(Debug)]
pub struct LiveFrame {
    init: bool,
    keyframe: bool,
    skipped: u64,
    payload: Vec<u8>,
}

#[wasm_bindgen]
impl LiveFrame {
    /// The init segment (`ftyp` + `moov`), as opposed to a fragment.
    #[wasm_bindgen(getter)]
    pub fn init(&self) -> bool {
        self.init
    }

    /// A fragment that starts with a keyframe: decoding can resume here after a gap.
    #[wasm_bindgen(getter)]
    pub fn keyframe(&self) -> bool {
        self.keyframe
    }

    /// Frames missing before this one (dropped by the relay for a slow viewer).
    #[wasm_bindgen(getter)]
    pub fn skipped(&self) -> f64 {
        self.skipped as f64
    }

    /// The opened bytes (whole MP4 boxes).
    #[wasm_bindgen(getter)]
    pub fn payload(&self) -> Vec<u8> {
        self.payload.clone()
    }
}

#[wasm_bindgen]
impl LiveView {
    /// An offer for `camera` on the hub `hub_key` (hex), signed with this device's secret.
    #[wasm_bindgen(constructor)]
    pub fn new(
        chain: &Chain,
        hub_key: &str,
        camera: &str,
        secret: &[u8],
        now_ms: f64,
    ) -> Result<LiveView, JsError> {
        let mut key = [0u8; 32];
        hex::decode_to_slice(hub_key, &mut key)
            .map_err(|_| JsError::new("the camera's hub key is not hex"))?;
        let hub = porchlight_crypto::HubKey::from_bytes(key)
            .map_err(|e| JsError::new(&format!("the camera's hub key: {e}")))?;
        let device = porchlight_crypto::DeviceSecret::from_bytes(secret)
            .map_err(|e| JsError::new(&format!("this browser's device key: {e}")))?;
        let pending =
            porchlight_crypto::PendingView::start(&device, camera, now_ms.max(0.0) as u64)
                .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(LiveView {
            chain: chain.0.verified().clone(),
            hub,
            pending: Some(pending),
            opener: None,
        })
    }

    /// The offer's bytes: the first message on the viewer's WebSocket.
    pub fn offer(&self) -> Result<Vec<u8>, JsError> {
        self.pending
            .as_ref()
            .map(|p| p.offer_bytes().to_vec())
            .ok_or_else(|| JsError::new("the offer was answered already"))
    }

    /// Checks the hub's answer (base64, as the server relays it).
    pub fn answer(&mut self, answer: &str) -> Result<(), JsError> {
        use base64::Engine;
        let pending = self
            .pending
            .take()
            .ok_or_else(|| JsError::new("a second answer"))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(answer)
            .map_err(|_| JsError::new("the hub's answer is not base64"))?;
        let opener = pending
            .finish(&bytes, &self.chain, &self.hub)
            .map_err(|e| JsError::new(&format!("the hub's answer does not verify: {e}")))?;
        self.opener = Some(opener);
        Ok(())
    }

    /// Opens one sealed frame; an altered, replayed or reordered frame is an error.
    pub fn open(&mut self, frame: &[u8]) -> Result<LiveFrame, JsError> {
        let opener = self
            .opener
            .as_mut()
            .ok_or_else(|| JsError::new("a frame before the hub's answer"))?;
        let opened = opener
            .open(frame)
            .map_err(|e| JsError::new(&format!("a live frame was refused: {e}")))?;
        let (init, keyframe) = match opened.kind {
            porchlight_crypto::FrameKind::Init => (true, false),
            porchlight_crypto::FrameKind::Fragment { keyframe } => (false, keyframe),
        };
        Ok(LiveFrame {
            init,
            keyframe,
            skipped: opened.skipped,
            payload: opened.payload,
        })
    }
}

/// Research (DESIGN §9): a consent receipt signed with this device's key for the verified
/// chain's account; base64 of its bytes for `POST /api/consents`.
#[wasm_bindgen(js_name = consentReceipt)]
pub fn consent_receipt(
    chain: &Chain,
    secret: &[u8],
    action: &str,
    scope_kind: &str,
    scope_id: &str,
    now_ms: f64,
) -> Result<String, JsError> {
    research::consent_receipt(
        chain.0.verified(),
        secret,
        action,
        scope_kind,
        scope_id,
        now_ms as i64,
    )
    .map_err(js)
}

/// The research withdrawal key (hex) of a clip, from its header (base64), with this device's
/// key: only the account's devices can compute it, and it is sent only to withdraw.
#[wasm_bindgen(js_name = withdrawalKey)]
pub fn withdrawal_key(header: &str, secret: &[u8]) -> Result<String, JsError> {
    research::withdrawal_key(header, secret).map_err(js)
}

/// The research withdrawal tag (hex) of a clip: what its research item is stored under.
#[wasm_bindgen(js_name = withdrawalTag)]
pub fn withdrawal_tag(header: &str, secret: &[u8]) -> Result<String, JsError> {
    research::withdrawal_tag(header, secret).map_err(js)
}

/// A research item made on this device as the clip downloads (see [`research::ResearchItem`]).
#[wasm_bindgen]
#[derive(Debug)]
pub struct ResearchItem(research::ResearchItem);

#[wasm_bindgen]
impl ResearchItem {
    /// Checks the clip's details against the chain, as the player does, and starts sealing
    /// to the research program's age `recipient`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        chain: &Chain,
        detail: &str,
        secret: &[u8],
        recipient: &str,
    ) -> Result<ResearchItem, JsError> {
        research::ResearchItem::new(chain.0.verified(), detail, secret, recipient)
            .map(ResearchItem)
            .map_err(js)
    }

    /// The clip's withdrawal tag (hex).
    #[wasm_bindgen(getter, js_name = withdrawalTag)]
    pub fn withdrawal_tag(&self) -> String {
        self.0.withdrawal_tag().to_owned()
    }

    /// The clip's UTC day (`YYYY-MM-DD`).
    #[wasm_bindgen(getter)]
    pub fn day(&self) -> String {
        self.0.day().to_owned()
    }

    /// The next downloaded bytes of the sealed payload.
    pub fn push(&mut self, ciphertext: &[u8]) -> Result<(), JsError> {
        self.0.push(ciphertext).map_err(js)
    }

    /// The download ended: the sealed item (one age file), once the payload is checked.
    pub fn finish(&mut self) -> Result<Vec<u8>, JsError> {
        self.0.finish().map_err(js)
    }
}

/// A share's header: the clip's header (base64) opened with this device's secret and its file
/// key wrapped to the devices of `sharee`, the other account's verified chain. Base64 out.
#[wasm_bindgen(js_name = shareHeader)]
pub fn share_header(header: &str, secret: &[u8], sharee: &Chain) -> Result<String, JsError> {
    sharing::share_header(header, secret, sharee.0.verified()).map_err(js)
}

/// A clip opened and stripped of its metadata as it downloads (see [`sharing::StrippedClip`]).
#[wasm_bindgen]
#[derive(Debug)]
pub struct StrippedClip(sharing::StrippedClip);

#[wasm_bindgen]
impl StrippedClip {
    #[wasm_bindgen(constructor)]
    pub fn new(chain: &Chain, detail: &str, secret: &[u8]) -> Result<StrippedClip, JsError> {
        sharing::StrippedClip::new(chain.0.verified(), detail, secret)
            .map(StrippedClip)
            .map_err(js)
    }

    pub fn push(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>, JsError> {
        self.0.push(ciphertext).map_err(js)
    }

    pub fn finish(&mut self) -> Result<Vec<u8>, JsError> {
        self.0.finish().map_err(js)
    }
}

/// `plaintext` sealed as one age file to the research recipient (a feed post's research copy).
#[wasm_bindgen(js_name = sealToResearch)]
pub fn seal_to_research(plaintext: &[u8], recipient: &str) -> Result<Vec<u8>, JsError> {
    research::seal_to_research(plaintext, recipient).map_err(js)
}

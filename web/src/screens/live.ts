// Live view: this device's signed offer goes to the camera's hub through the server's relay;
// the hub's answer is checked against the verified chain by the Rust crypto, and every frame
// is opened there before it reaches the MediaSource. The server relays bytes it cannot read.

import * as api from "../api";
import * as account from "../account";
import * as store from "../store";
import type { CameraInfo, HubInfo } from "../types";
import { onLeave } from "../router";
import { h, message, notice, show } from "../ui";
import * as household from "../household";
import { LiveView, Mp4Feed } from "../wasm";
import type { Chain } from "../wasm";

const ENDINGS: Record<string, string> = {
  hub_offline: "The hub is offline, so there is no live video right now.",
  hub_gone: "The hub went offline.",
  camera_offline: "The camera is not streaming right now.",
  device_removed: "This device was removed from the account.",
  session_ended: "This session ended. Sign in again.",
};

/** Keeps about this much video buffered behind the live edge. */
const KEEP_SECONDS = 10;

let current: { socket: WebSocket; view: LiveView } | null = null;

function stop(): void {
  if (!current) return;
  current.socket.close();
  current.view.free();
  current = null;
}

export async function live(params: Record<string, string>): Promise<void> {
  stop();
  const id = params.id ?? "";
  const cameras = (await api.get<{ cameras: CameraInfo[] }>("/api/cameras")).cameras;
  const camera = cameras.find((c) => c.id === id);
  if (!camera) return show("Camera not found", notice("warning", "This camera is not one you can see."));
  // The hub's key comes from a verified chain, never from the server alone: the account's
  // own for its cameras, the chain of the owner that gives a household camera otherwise.
  const own = await account.verifiedChain();
  let target: { chain: Chain; hubKey: string; hubName: string } | null = null;
  let notGiven = household.NOT_GIVEN;
  if (camera.owned) {
    const hubs = (await api.get<{ hubs: HubInfo[] }>("/api/hubs")).hubs;
    const hub = hubs.find((x) => x.id === camera.hub_id);
    if (hub) target = { chain: own, hubKey: hub.hub_key, hubName: hub.name };
  } else {
    const households = await household.households(own);
    notGiven = household.whyNotGiven(households);
    const given = households.givenCamera(camera.name);
    if (given) {
      const chain = given.chain();
      const hubKey = given.hubKey;
      given.free();
      target = { chain, hubKey, hubName: account.viewOf(chain).hubs.find((x) => x.key === hubKey)?.name ?? "" };
    }
  }
  const video = h("video", { muted: true, playsinline: true, autoplay: true, "aria-label": `Live video from ${camera.name}` });
  const status = h("div", { role: "status", "aria-live": "polite", "data-testid": "live-status" }, "Asking the hub for live video…");
  const stopButton = h("button", { type: "button", class: "secondary" }, "Stop");
  show(
    `${camera.name}, live`,
    h("div", { class: "player" }, video),
    status,
    h("div", { class: "actions" }, stopButton, h("a", { href: `/cameras/${encodeURIComponent(id)}`, "data-link": true }, "Back to the camera")),
  );
  if (!target) {
    video.parentElement?.remove();
    status.replaceChildren(notice(camera.owned ? "warning" : "danger", camera.owned ? "This camera's hub is not one you can see." : notGiven));
    return;
  }
  const hub = { name: target.hubName };
  const { chain, hubKey } = target;
  const view = await store.withDeviceKey((s) => new LiveView(chain, hubKey, camera.name, s, Date.now()));
  // The media source opens before the socket does: the socket's "open" and "message"
  // listeners below must be in place before it can open, or the offer is never sent.
  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  await new Promise((r) => source.addEventListener("sourceopen", r, { once: true }));
  const deviceId = await store.deviceId();
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/api/cameras/${encodeURIComponent(id)}/live`, [
    "porchlight",
    `porchlight-device.${deviceId}`,
  ]);
  socket.binaryType = "arraybuffer";
  current = { socket, view };
  stopButton.addEventListener("click", () => {
    stop();
    status.replaceChildren("Stopped.");
  });

  let buffer: SourceBuffer | null = null;
  const queue: Uint8Array[] = [];
  let needKeyframe = true;
  let failed = false;

  const fail = (text: string, danger = false) => {
    failed = true;
    status.replaceChildren(notice(danger ? "danger" : "warning", text));
    stop();
  };
  const pump = () => {
    if (!buffer || buffer.updating || queue.length === 0) return;
    const next = queue.shift()!;
    try {
      // Bound what the browser holds: drop what is well behind the live edge.
      const ranges = buffer.buffered;
      if (ranges.length > 0 && video.currentTime - ranges.start(0) > KEEP_SECONDS * 2) {
        queue.unshift(next);
        buffer.remove(ranges.start(0), video.currentTime - KEEP_SECONDS);
        return;
      }
      buffer.appendBuffer(next as Uint8Array<ArrayBuffer>);
    } catch (e) {
      fail(`The browser could not play the live video: ${message(e)}`);
    }
  };
  const chase = () => {
    // Stay near the live edge if playback fell behind (a slow tab, a dropped frame).
    const ranges = buffer?.buffered;
    if (ranges && ranges.length > 0) {
      const end = ranges.end(ranges.length - 1);
      if (end - video.currentTime > 2) video.currentTime = end - 0.3;
    }
    if (video.paused) void video.play().catch(() => {});
  };

  socket.addEventListener("open", () => socket.send(view.offer() as Uint8Array<ArrayBuffer>));
  socket.addEventListener("message", (event) => {
    if (failed || !current) return;
    if (typeof event.data === "string") {
      let notice_: { type: string; answer?: string; code?: string; message?: string };
      try {
        notice_ = JSON.parse(event.data);
      } catch {
        return fail("The server sent something this page does not understand.", true);
      }
      if (notice_.type === "answer") {
        try {
          view.answer(notice_.answer ?? "");
        } catch (e) {
          return fail(`${message(e)}. Live video was not shown.`, true);
        }
        status.replaceChildren(`Live from hub "${hub.name}"${camera.owned ? "" : " of the household that gives you this camera"} · sealed by the hub, opened on this device.`);
        status.setAttribute("data-live", "true");
      } else if (notice_.type === "end") {
        fail(ENDINGS[notice_.code ?? ""] ?? `Live video ended: ${notice_.message ?? notice_.code ?? ""}`);
      }
      return;
    }
    let frame;
    try {
      frame = view.open(new Uint8Array(event.data as ArrayBuffer));
    } catch (e) {
      return fail(`${message(e)}. Live video stopped: a frame was changed on the way.`, true);
    }
    try {
      if (frame.skipped > 0) needKeyframe = true;
      const payload = frame.payload;
      if (frame.init) {
        if (!buffer) {
          const feed = new Mp4Feed();
          feed.push(payload);
          const codec = feed.codec;
          feed.free();
          if (!codec) return fail("The hub's live video has no video track this page can play.", true);
          buffer = source.addSourceBuffer(`video/mp4; codecs="${codec}"`);
          buffer.mode = "sequence";
          buffer.addEventListener("updateend", () => {
            pump();
            chase();
          });
        }
        queue.push(payload);
        needKeyframe = true;
      } else if (buffer && (frame.keyframe || !needKeyframe)) {
        needKeyframe = false;
        queue.push(payload);
      }
      pump();
    } finally {
      frame.free();
    }
  });
  socket.addEventListener("close", () => {
    if (!failed && current?.socket === socket) fail("The live connection closed.");
  });
  onLeave(stop);
}

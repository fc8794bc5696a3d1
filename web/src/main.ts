// Boots the app: the Rust crypto, this browser's device id, the session if there is one,
// then the screen the address names.

import * as api from "./api";
import * as account from "./account";
import * as events from "./events";
import { go, otherwise, redirect, route, start } from "./router";
import { signIn, signUp, signedOut } from "./screens/auth";
import { activity, cameras, devices, sessions } from "./screens/account";
import { pending } from "./screens/device";
import { camera, clip } from "./screens/clips";
import { hubs } from "./screens/hubs";
import { access } from "./screens/access";
import { live } from "./screens/live";
import { mine as researchMine } from "./screens/research";
import { feed, mine as feedMine, shared, sharedClip } from "./screens/sharing";
import * as store from "./store";
import { h, message, notice, show } from "./ui";
import { loadCrypto } from "./wasm";

const PUBLIC = new Set(["/signin", "/signup", "/signed-out"]);

function nav(): void {
  const bar = document.getElementById("nav");
  if (!bar) return;
  if (!account.signedIn()) {
    bar.replaceChildren();
    return;
  }
  const link = (href: string, text: string) => h("a", { href, "data-link": true }, text);
  const out = h("button", { type: "button", class: "link" }, "Sign out");
  out.addEventListener("click", async () => {
    events.stop();
    try {
      await account.signOut();
    } finally {
      await go("/signed-out");
    }
  });
  bar.replaceChildren(
    link("/cameras", "Cameras"),
    link("/hubs", "Hubs"),
    link("/devices", "Devices"),
    link("/sessions", "Sessions"),
    link("/activity", "Activity"),
    link("/access", "Access"),
    link("/research", "Research"),
    link("/shared", "Shared"),
    link("/feed", "Feed"),
    out,
  );
  for (const a of bar.querySelectorAll("a")) {
    if (location.pathname === a.pathname || location.pathname.startsWith(`${a.pathname}/`)) a.setAttribute("aria-current", "page");
  }
}

type Screen = (params: Record<string, string>) => Promise<void> | void;

function guarded(screen: Screen): Screen {
  return async (params) => {
    nav();
    // Doorbell presses and other notices, for as long as this browser is signed in.
    if (account.signedIn()) events.follow();
    else events.stop();
    try {
      await screen(params);
    } catch (e) {
      if (e instanceof api.ApiError && e.status === 401) {
        await account.resume().catch(() => null);
        if (!account.signedIn()) return go("/signin", true);
      }
      if (e instanceof api.ApiError && e.code === "device_not_approved") return go("/device", true);
      show("Something went wrong", notice("danger", message(e)));
    }
  };
}

function offlineBanner(): void {
  const banner = document.getElementById("offline");
  if (!banner) return;
  const update = () => (banner.hidden = navigator.onLine);
  window.addEventListener("online", update);
  window.addEventListener("offline", update);
  update();
}

async function boot(): Promise<void> {
  offlineBanner();
  await loadCrypto();
  api.useDevice(await store.deviceId());
  await account.resume();

  route("/signin", guarded(signIn));
  route("/signup", guarded(signUp));
  route("/signed-out", guarded(signedOut));
  route("/device", guarded(pending));
  route("/cameras", guarded(cameras));
  route("/cameras/:id", guarded(camera));
  route("/cameras/:id/live", guarded(live));
  route("/clips/:id", guarded(clip));
  route("/hubs", guarded(hubs));
  route("/devices", guarded(devices));
  route("/sessions", guarded(sessions));
  route("/activity", guarded(activity));
  route("/access", guarded(access));
  route("/research", guarded(researchMine));
  route("/shared", guarded(shared));
  route("/shared/:id", guarded(sharedClip));
  route("/feed", guarded(feed));
  route("/feed/mine", guarded(feedMine));
  otherwise(guarded(() => go("/cameras", true)));
  redirect((path) => {
    if (!account.signedIn() && !PUBLIC.has(path)) return "/signin";
    if (account.signedIn() && (path === "/signin" || path === "/signup")) return "/cameras";
    return null;
  });
  start();
  await go(location.pathname, true);
}

boot().catch((e: unknown) => {
  show("Porchlight could not start", notice("danger", message(e)));
});

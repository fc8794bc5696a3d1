// Boots the app: the Rust crypto, this browser's device id, the session if there is one,
// then the screen the address names.

import * as api from "./api";
import * as account from "./account";
import * as events from "./events";
import { go, otherwise, redirect, route, start } from "./router";
import { signIn, signUp, signedOut } from "./screens/auth";
import { confirmEmail, undoEmail } from "./screens/email";
import { forgot, reset } from "./screens/password";
import { activity, devices, sessions } from "./screens/account";
import { eventList } from "./screens/eventlist";
import { home } from "./screens/home";
import { pending } from "./screens/device";
import { camera, clip } from "./screens/clips";
import { householdScreen } from "./screens/household";
import { hubs } from "./screens/hubs";
import { access } from "./screens/access";
import { live } from "./screens/live";
import { mine as researchMine } from "./screens/research";
import { SETTINGS, settings } from "./screens/menu";
import { feed, invitation, mine as feedMine, shared, sharedClip } from "./screens/sharing";
import * as store from "./store";
import { h, message, notice, show } from "./ui";
import { loadCrypto } from "./wasm";

// The pages an emailed link opens are public: the token in their fragment is the authority.
const PUBLIC = new Set(["/signin", "/signup", "/signed-out", "/forgot", "/reset", "/email/confirm", "/email/undo"]);
/** Where an invitation's fragment waits while its reader signs in (read back by the invitation screen). */
const INVITE = "porchlight.invite";

function nav(): void {
  const bar = document.getElementById("nav");
  if (!bar) return;
  // Signed out, or a browser still waiting to be approved: none of it would work yet.
  if (!account.signedIn() || location.pathname === "/device") {
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
  // The everyday screens lead, then Settings (the account's address, this browser's
  // notifications, the menu of the rest); on a phone the rest sit behind it (one line at
  // 390 px), on a wide screen they are in the bar as well.
  const settingsLink = link("/settings", "Settings");
  out.classList.add("wide-only");
  const others = SETTINGS.map(([href, title]) => {
    const a = link(href, title === "Access log" ? "Access" : title);
    a.classList.add("wide-only");
    return a;
  });
  bar.replaceChildren(link("/cameras", "Home"), link("/events", "Events"), link("/shared", "Shared"), link("/feed", "Feed"), settingsLink, ...others, out);
  const here = (href: string) => location.pathname === href || location.pathname.startsWith(`${href}/`);
  for (const a of bar.querySelectorAll("a")) {
    if (here(a.pathname)) a.setAttribute("aria-current", "page");
  }
  if (SETTINGS.some(([href]) => here(href))) settingsLink.setAttribute("aria-current", "page");
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
      if (e instanceof api.ApiError && e.status === 404) return notFound();
      show("Something went wrong", notice("danger", message(e)));
    }
  };
}

/** A link to something that is not there (or not this account's to see: the server answers
 * both alike), said in words rather than the server's code. */
function notFound(): void {
  const what = location.pathname.startsWith("/clips/")
    ? "This clip is not here. It may have been deleted, or passed its camera's keeping time, or the link is not whole."
    : location.pathname.startsWith("/cameras/")
      ? "This camera is not here. It may have been removed, or the link is not whole."
      : location.pathname.startsWith("/shared/")
        ? "This shared clip is not here. Its owner may have stopped sharing it or deleted it."
        : "There is nothing at this address.";
  show("Not found", notice("warning", what), h("p", {}, h("a", { href: "/cameras", "data-link": true }, "Back to your cameras")));
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
  route("/forgot", guarded(forgot));
  route("/reset", guarded(reset));
  route("/email/confirm", guarded(confirmEmail));
  route("/email/undo", guarded(undoEmail));
  route("/device", guarded(pending));
  route("/cameras", guarded(home));
  route("/events", guarded(eventList));
  route("/cameras/:id", guarded(camera));
  route("/cameras/:id/live", guarded(live));
  route("/clips/:id", guarded(clip));
  route("/hubs", guarded(hubs));
  route("/devices", guarded(devices));
  route("/sessions", guarded(sessions));
  route("/activity", guarded(activity));
  route("/access", guarded(access));
  route("/research", guarded(researchMine));
  route("/settings", guarded(settings));
  route("/settings/household", guarded(householdScreen));
  route("/shared", guarded(shared));
  route("/shared/:id", guarded(sharedClip));
  route("/invite", guarded(invitation));
  route("/feed", guarded(feed));
  route("/feed/mine", guarded(feedMine));
  otherwise(guarded(() => go("/cameras", true)));
  redirect((path) => {
    // An invitation opened while signed out waits for the sign-in (its root is in the
    // fragment, which the redirect would drop).
    if (!account.signedIn() && path === "/invite" && location.hash) sessionStorage.setItem(INVITE, location.hash);
    if (account.signedIn() && path === "/cameras" && sessionStorage.getItem(INVITE)) return "/invite";
    if (!account.signedIn() && !PUBLIC.has(path)) return "/signin";
    if (account.signedIn() && (path === "/signin" || path === "/signup")) return "/cameras";
    return null;
  });
  start();
  await go(location.pathname + location.search, true);
}

/** The service worker that keeps the app's shell for when the network is gone (`sw.ts`). A
 * browser without one, or a refusal, leaves the app as it is. */
function keepShell(): void {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});
}

keepShell();
boot().catch((e: unknown) => {
  // Opened from the kept shell with no network: say so plainly and start once it is back.
  if (!navigator.onLine) {
    show("You are offline", notice("warning", "Porchlight opens your cameras over the network. It starts again by itself when the connection is back."));
    window.addEventListener("online", () => location.reload(), { once: true });
    return;
  }
  show("Porchlight could not start", notice("danger", message(e)));
});

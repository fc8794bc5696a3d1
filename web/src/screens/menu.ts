// Settings and privacy: the screens a household visits now and then (hubs, devices, sessions,
// activity, the access log, research) and the account's email address, gathered behind one
// entry so that the everyday ones (cameras, shared clips, the feed) lead the navigation on a
// phone.

import * as account from "../account";
import { go } from "../router";
import { h, show } from "../ui";
import { emailSection } from "./email";
import { pushControl } from "./notifications";

/** The places under Settings, with what each is for. */
export const SETTINGS: [href: string, title: string, what: string][] = [
  ["/hubs", "Hubs", "The boxes at home that record your cameras; pair a new one."],
  ["/settings/household", "Household", "The people who watch your cameras on their own devices; add, give cameras, remove."],
  ["/devices", "Devices", "The phones, browsers and computers that hold your keys; approve or remove one."],
  ["/sessions", "Sessions", "Where you are signed in; sign out of one, or everywhere."],
  ["/activity", "Activity", "Sign-ins, failed attempts, lock-outs and security changes."],
  ["/access", "Access log", "Every time staff touched your account, checked on this device; requests to approve."],
  ["/research", "Research", "Your research consents, and which of your clips are in research."],
];

export async function settings(): Promise<void> {
  // Read again: the address may have been confirmed from another tab or device.
  await account.refresh();
  const out = h("button", { type: "button", class: "secondary" }, "Sign out");
  out.addEventListener("click", async () => {
    try {
      await account.signOut();
    } finally {
      await go("/signed-out");
    }
  });
  show(
    "Settings and privacy",
    h(
      "ul",
      { class: "rows menu", "aria-label": "Settings and privacy" },
      ...SETTINGS.map(([href, title, what]) =>
        h("li", { class: "row" }, h("a", { href, "data-link": true }, title), h("span", { class: "muted" }, what)),
      ),
    ),
    emailSection(),
    pushControl(),
    h("div", { class: "actions" }, out),
  );
}

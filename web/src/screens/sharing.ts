// Sharing a clip with another account, what is shared with this one, and the neighbourhood
// feed: posting (after a confirmation that names everything that becomes public), browsing by
// neighbourhood and area, and this account's own posts.

import { ChainAlarm } from "../account";
import { ApiError } from "../api";
import { refusedWarning } from "../listing";
import { play } from "../player";
import * as sharing from "../sharing";
import type { FeedPost, MyFeedPost, ShareInfo } from "../sharing";
import type { ClipDetail } from "../types";
import { field, form, h, message, notice, show, svg, time, when } from "../ui";
import { qrSvg } from "../wasm";

const hourText = (ms: number) =>
  new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" }) + " UTC";

/** An in-page confirmation with the lines it asks about, a button to go ahead and one back. */
export function confirmBox(title: string, lines: (string | Node)[], yes: string, run: () => Promise<void>, cancel: () => void, danger = false): HTMLElement {
  const id = `confirm-${Math.random().toString(36).slice(2)}`;
  const alert = h("div", { class: "alert", role: "alert", "aria-live": "assertive" });
  const ok = h("button", { type: "button", class: danger ? "danger" : "" }, yes);
  const back = h("button", { type: "button", class: "secondary" }, "Cancel");
  ok.addEventListener("click", async () => {
    ok.disabled = back.disabled = true;
    alert.classList.remove("shown");
    try {
      await run();
    } catch (e) {
      alert.textContent = message(e);
      alert.classList.add("shown");
      ok.disabled = back.disabled = false;
    }
  });
  back.addEventListener("click", cancel);
  setTimeout(() => ok.focus(), 0);
  return h(
    "section",
    { class: "confirm", role: "group", "aria-labelledby": id },
    h("h3", { id }, title),
    h("ul", {}, ...lines.map((l) => h("li", {}, l))),
    alert,
    h("div", { class: "actions" }, ok, back),
  );
}

// ---- on a clip: share and post ----

/** The sharing part of an owned clip's screen: its shares, a new share, and posting. */
export function clipSharing(detail: ClipDetail): HTMLElement {
  const list = h("div", {});
  const status = h("p", { role: "status", "aria-live": "polite" });
  const drawShares = async () => {
    let shares: ShareInfo[];
    try {
      shares = await sharing.sharesOf(detail.id);
    } catch (e) {
      list.replaceChildren(notice("warning", message(e)));
      return;
    }
    list.replaceChildren(
      shares.length === 0
        ? h("p", { class: "muted", "data-shares": "0" }, "Not shared with anyone.")
        : h(
            "ul",
            { class: "rows", "aria-label": "Shares of this clip", "data-shares": String(shares.length) },
            ...shares.map((s) => {
              const row = h("li", { class: "row" });
              const fp = sharing.rootFingerprint(s.sharee_root);
              const revoke = h("button", { type: "button", class: "secondary", "aria-label": `Revoke the share with ${fp}` }, "Revoke…");
              revoke.addEventListener("click", () => {
                row.replaceChildren(
                  confirmBox(
                    `Revoke the share with ${fp}?`,
                    [
                      "That account's devices can no longer download or open this clip from Porchlight.",
                      "Copies already downloaded are beyond reach: revoking cannot take back what they saved.",
                    ],
                    "Revoke share",
                    async () => {
                      await sharing.unshare(detail.id, s.id);
                      status.textContent = `Share with ${fp} revoked. Copies already downloaded are beyond reach.`;
                      await drawShares();
                    },
                    () => void drawShares(),
                    true,
                  ),
                );
              });
              row.append(h("span", {}, "Account ", h("code", {}, fp), ", shared ", time(s.created_at_ms)), h("div", { class: "actions" }, revoke));
              return row;
            }),
          ),
    );
  };
  // People whose invitation this browser took are offered by name; anyone else by the
  // account root they give (64 hex digits).
  const rootField = field("Their account root", "root", { autocomplete: "off", spellcheck: "false" }, "64 hexadecimal digits, from the Shared screen of their account. Their devices, as their device list names them, can then open this clip.");
  const rootInput = rootField.querySelector("input");
  const choose = h("select", { id: "share-with", name: "contact" });
  const chooseField = h("div", { class: "field" }, h("label", { for: "share-with" }, "Share with"), choose);
  chooseField.hidden = true;
  const showRoot = () => {
    const byRoot = choose.value === "" || chooseField.hidden;
    rootField.hidden = !byRoot;
    if (rootInput) rootInput.required = byRoot;
  };
  choose.addEventListener("change", showRoot);
  showRoot();
  void sharing.contacts().then((people) => {
    if (people.length === 0) return;
    choose.replaceChildren(
      ...people.map((c) => h("option", { value: c.root }, `${c.name} (${sharing.rootFingerprint(c.root)})`)),
      h("option", { value: "" }, "Someone else: paste their account root…"),
    );
    chooseField.hidden = false;
    showRoot();
  });
  const shareForm = form(
    "Share this clip",
    "Share",
    [chooseField, rootField],
    async (values, f) => {
      const root = !chooseField.hidden && values.contact ? values.contact : (values.root ?? "");
      const made = await sharing.share(detail.id, root);
      f.reset();
      showRoot();
      const known = (await sharing.contacts()).find((c) => c.root === made.sharee_root);
      status.textContent = `Shared with ${known ? `${known.name} (${sharing.rootFingerprint(made.sharee_root)})` : sharing.rootFingerprint(made.sharee_root)}: sealed on this device to their devices.`;
      await drawShares();
    },
  );
  void drawShares();
  const postBox = h("div", {});
  const openPost = h("button", { type: "button", class: "secondary" }, "Post to the neighbourhood feed…");
  openPost.addEventListener("click", () => postBox.replaceChildren(postDialog(detail, () => postBox.replaceChildren())));
  return h(
    "section",
    { class: "research", "aria-labelledby": "sharing-title" },
    h("h2", { id: "sharing-title" }, "Sharing"),
    status,
    list,
    shareForm,
    h("div", { class: "actions" }, openPost),
    postBox,
  );
}

/** The area field: a grid cell, filled from this device's location on request (reduced to
 * its cell here, before it is shown, kept or sent) or typed. */
function areaField(initial: string, hint: string, required: boolean): HTMLElement {
  const box = field("Area", "area", { required, inputmode: "decimal", placeholder: "51.51,-0.12", value: initial, autocomplete: "off" }, hint);
  const input = box.querySelector("input");
  const status = h("p", { class: "hint", role: "status", "aria-live": "polite" });
  const locate = h("button", { type: "button", class: "secondary" }, "Use my location");
  locate.addEventListener("click", async () => {
    locate.disabled = true;
    status.textContent = "Finding this device's area…";
    try {
      const cell = await sharing.locateCell();
      if (input) input.value = cell;
      status.textContent = `Area ${cell}: only this grid cell is used; the exact point was not kept.`;
    } catch (e) {
      status.textContent = message(e);
    } finally {
      locate.disabled = false;
    }
  });
  box.append(h("div", { class: "actions" }, locate), status);
  return box;
}

/** The post dialog: neighbourhood and area (a 0.01° grid cell, from the browser's location or
 * typed, remembered on this device), then a confirmation that names everything that becomes
 * public. */
function postDialog(detail: ClipDetail, close: () => void): HTMLElement {
  const box = h("div", {});
  const draw = (place: sharing.Place | undefined) => {
    const ask = form(
      "Post to the neighbourhood feed",
      "Review the post…",
      [
        field("Neighbourhood", "neighbourhood", { required: true, maxlength: "64", value: place?.neighbourhood ?? "" }, "The name the feed lists it under, e.g. Mill Road."),
        areaField(place?.area ?? "", "A 0.01° grid cell (about 1 km across). Your location is reduced to its cell on this device; the point is never sent.", true),
      ],
      async (values) => {
        const neighbourhood = (values.neighbourhood ?? "").trim();
        if (!neighbourhood) throw new Error("Name the neighbourhood.");
        const area = sharing.areaOf(values.area ?? "");
        const hour = sharing.hourOf(detail.start_ms);
        box.replaceChildren(
          confirmBox(
            "Post this clip publicly?",
            [
              `The video of this clip from camera ${detail.camera_name} becomes public, stripped of its metadata.`,
              `Its hour: ${hourText(hour)}.`,
              `Neighbourhood: ${neighbourhood}.`,
              `Area: grid cell ${area} (about 1 km across; your exact location is not sent).`,
              "Every signed-in Porchlight user can watch it.",
              "It also goes into the research dataset, sealed to the research program's key.",
              "Delete it any time from My posts; that also withdraws its research copy. Copies people already downloaded are beyond reach.",
            ],
            "Post publicly",
            async () => {
              const done = await sharing.post(detail.id, neighbourhood, area);
              await sharing.keepMyPlace({ neighbourhood, area }).catch(() => undefined);
              const copy =
                done.research === "added" ? " Its research copy is added." : done.research === "already" ? " Its research copy was there already." : "";
              box.replaceChildren(notice("info", `Posted to ${done.post.neighbourhood}, area ${done.post.area}.${copy} `, h("a", { href: "/feed/mine", "data-link": true }, "My posts")));
            },
            () => box.replaceChildren(ask),
          ),
        );
      },
    );
    box.replaceChildren(ask);
  };
  draw(undefined);
  void sharing.myPlace().then(
    (place) => place && draw(place),
    () => undefined,
  );
  const cancel = h("button", { type: "button", class: "link" }, "Close");
  cancel.addEventListener("click", close);
  return h("div", {}, box, cancel);
}

// ---- shared with me ----

export async function shared(): Promise<void> {
  let root = "";
  try {
    root = await sharing.ownRoot();
  } catch (e) {
    if (e instanceof ChainAlarm) return show("Shared with me", notice("danger", h("strong", {}, "Verification failed. "), message(e)));
    throw e;
  }
  const { shown: clips, refused } = await sharing.sharedWithMe();
  const link = sharing.invitationLink(root);
  const copy = h("button", { type: "button", class: "secondary" }, "Copy the link");
  const copied = h("span", { role: "status", "aria-live": "polite", class: "muted" });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(link);
      copied.textContent = "Copied.";
    } catch {
      copied.textContent = "Select the link above and copy it.";
    }
  });
  show(
    "Shared with me",
    h(
      "section",
      { class: "invite", "aria-labelledby": "invite-title" },
      h("h2", { id: "invite-title" }, "Your invitation"),
      h("p", {}, "To have clips shared with you, send this link to their owner, or let them scan the code. It names your account and nothing else; their device checks it before they share."),
      h("p", {}, h("a", { href: link, "data-testid": "invite-link", class: "root" }, link)),
      h("div", { class: "actions" }, copy, copied),
      h("figure", { class: "qr" }, svg(qrSvg(link), "QR code of your invitation link")),
      h(
        "details",
        {},
        h("summary", {}, "Your account root"),
        h("p", {}, h("code", { "data-testid": "own-root", class: "root" }, root), ` (check: ${sharing.rootFingerprint(root)}).`),
      ),
    ),
    h("h2", {}, "Clips shared with you"),
    refusedWarning(refused),
    clips.length === 0
      ? h("p", { class: "empty" }, "Nothing is shared with you.")
      : h(
          "ul",
          { class: "rows", "aria-label": "Clips shared with me" },
          ...clips.map((c) =>
            h(
              "li",
              { class: "row" },
              h("a", { href: `/shared/${encodeURIComponent(c.share_id)}`, "data-link": true }, `${c.camera_name}, `, time(c.start_ms)),
              h("span", { class: "muted" }, `From account ${sharing.rootFingerprint(c.owner_root)}, ${Math.round(c.duration_ms / 1000)} s`),
            ),
          ),
        ),
  );
}

/** An invitation link opened (`/invite#ROOT`): who it is from, checked, kept by name. */
export function invitation(): void {
  // From the link itself, or kept while its reader signed in first.
  const hash = location.hash || sessionStorage.getItem("porchlight.invite") || "";
  sessionStorage.removeItem("porchlight.invite");
  const root = decodeURIComponent(hash.replace(/^#/, ""));
  const status = h("div", { role: "status", "aria-live": "polite" });
  let fingerprint = "";
  try {
    fingerprint = sharing.rootFingerprint(sharing.parseRoot(root));
  } catch (e) {
    return show("Invitation", notice("warning", "This invitation link is not whole: ", message(e), " Ask for the link again."));
  }
  show(
    "Invitation",
    h("p", {}, "Someone invites you to share clips with them. Their account: ", h("code", { class: "nowrap" }, fingerprint), "."),
    h("p", { class: "muted" }, "Their device list is checked against the link before it is kept. The name is kept on this device only."),
    status,
    form("Keep this contact", "Keep contact", [field("Their name", "name", { maxlength: "64", autocomplete: "off" }, "So that you can pick them when you share a clip.")], async (v) => {
      const kept = await sharing.acceptInvitation(root, v.name ?? "");
      history.replaceState(null, "", "/invite");
      status.replaceChildren(
        notice("info", `${kept.name} is in your contacts: open one of your clips and choose them under Sharing.`),
        h("p", {}, h("a", { href: "/cameras", "data-link": true }, "Go to your cameras")),
      );
    }),
  );
}

export async function sharedClip(params: Record<string, string>): Promise<void> {
  const id = params.id ?? "";
  let opened;
  try {
    opened = await sharing.openShared(id);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      return show("Shared clip", notice("warning", "This clip is not shared with you (any more)."));
    }
    return show("Shared clip", notice("danger", h("strong", {}, "Verification failed. "), message(e)));
  }
  const { detail, chain } = opened;
  const video = h("video", { controls: true, playsinline: true, muted: true, "aria-label": `Shared clip from ${detail.clip.camera_name}` });
  const status = h("div", { role: "status", "aria-live": "polite" }, "Opening the clip on this device…");
  show(
    `${detail.clip.camera_name}, ${when(detail.clip.start_ms)}`,
    h("p", { class: "muted" }, `Shared by account ${sharing.rootFingerprint(detail.owner_root)}; checked against that account's device list.`),
    h("div", { class: "player" }, video),
    status,
    h("p", {}, h("a", { href: "/shared", "data-link": true }, "Back to Shared with me")),
  );
  try {
    const played = await play(video, chain, detail.clip, sharing.sharedPayloadPath(id));
    status.replaceChildren(`Checked: recorded by hub "${played.checked.hub_name}" of the owner's account, opened on this device.`);
    await played.done;
    status.setAttribute("data-verified", "true");
    status.append(" The whole clip matches what the hub signed.");
  } catch (e) {
    status.replaceChildren(notice("danger", h("strong", {}, "This clip did not open. "), message(e)));
  }
}

// ---- the feed ----

function postRow(p: FeedPost, extra: Node[] = []): HTMLElement {
  const row = h("li", { class: "row" });
  const watch = h("button", { type: "button", class: "secondary", "aria-label": `Play the post of ${hourText(p.hour_ms)} in ${p.neighbourhood}` }, "Play");
  watch.addEventListener("click", async () => {
    watch.disabled = true;
    const video = h("video", { controls: true, playsinline: true, muted: true, "aria-label": `Post from ${p.neighbourhood}` });
    const said = h("p", { role: "status", "aria-live": "polite" });
    row.append(h("div", { class: "player" }, video), said);
    try {
      await sharing.playPost(video, p);
      said.textContent = "Loaded.";
      said.setAttribute("data-loaded", "true");
    } catch (e) {
      said.replaceChildren(notice("danger", message(e)));
    }
  });
  row.append(
    h("span", {}, `${p.neighbourhood} · area ${p.area} · ${hourText(p.hour_ms)}`),
    h("div", { class: "actions" }, watch, ...extra),
  );
  return row;
}

export async function feed(): Promise<void> {
  const place = await sharing.myPlace().catch(() => undefined);
  const list = h("ul", { class: "rows", "aria-label": "Posts" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Older posts");
  const status = h("p", { role: "status", "aria-live": "polite" });
  let query = { neighbourhood: "", area: "" };
  let cursor: string | undefined;
  const load = async (first: boolean) => {
    const page = await sharing.feedPage(query.neighbourhood, query.area, first ? undefined : cursor);
    if (first) list.replaceChildren();
    list.append(...page.posts.map((p) => postRow(p)));
    cursor = page.next_cursor;
    more.hidden = !cursor;
    status.textContent = list.children.length === 0 ? "No posts here yet." : `${list.children.length} post${list.children.length === 1 ? "" : "s"} shown.`;
  };
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      await load(false);
    } catch (e) {
      status.textContent = message(e);
    } finally {
      more.disabled = false;
    }
  });
  const search = form(
    "Find posts",
    "Show posts",
    [
      field("Neighbourhood", "neighbourhood", { required: true, maxlength: "64", value: place?.neighbourhood ?? "" }),
      areaField(place?.area ?? "", "Optional: posts from this 0.01° grid cell only. Leave it empty for the whole neighbourhood.", false),
    ],
    async (values) => {
      const area = (values.area ?? "").trim();
      query = { neighbourhood: (values.neighbourhood ?? "").trim(), area: area ? sharing.areaOf(area) : "" };
      await load(true);
    },
  );
  show(
    "Neighbourhood feed",
    h("p", { class: "muted" }, "Clips neighbours chose to make public, by neighbourhood, area and hour. ", h("a", { href: "/feed/mine", "data-link": true }, "My posts")),
    search,
    status,
    list,
    more,
  );
  // Where this device posts from is where it most likely looks: its neighbourhood first.
  if (place) {
    query = { neighbourhood: place.neighbourhood, area: "" };
    await load(true);
  }
}

export async function mine(): Promise<void> {
  const status = h("p", { role: "status", "aria-live": "polite" });
  const box = h("div", {});
  const draw = async () => {
    const posts = await sharing.myPosts();
    box.replaceChildren(
      posts.length === 0
        ? h("p", { class: "empty" }, "You have not posted anything.")
        : h(
            "ul",
            { class: "rows", "aria-label": "My posts" },
            ...posts.map((p: MyFeedPost) => {
              const del = h("button", { type: "button", class: "danger", "aria-label": `Delete the post of ${hourText(p.hour_ms)} in ${p.neighbourhood}` }, "Delete…");
              const row = postRow(p, [del]);
              del.addEventListener("click", () => {
                row.replaceChildren(
                  confirmBox(
                    "Delete this post?",
                    [
                      "It leaves the feed for everyone, and its research copy is withdrawn.",
                      "Copies people already downloaded are beyond reach.",
                    ],
                    "Delete post",
                    async () => {
                      const withdrawn = await sharing.unpost(p);
                      status.textContent = `Post deleted${withdrawn ? " and its research copy withdrawn" : ""}.`;
                      await draw();
                    },
                    () => void draw(),
                    true,
                  ),
                );
              });
              return row;
            }),
          ),
    );
  };
  show("My posts", h("p", {}, h("a", { href: "/feed", "data-link": true }, "Neighbourhood feed")), status, box);
  await draw();
}


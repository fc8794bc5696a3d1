// Research on the owner's terms: consent per camera or per clip (signed on this device, each
// with a confirmation that says what it means and that it can be withdrawn), "Add to research"
// for a consented clip, and "What of mine is in research", computed on this device.

import { ApiError } from "../api";
import * as api from "../api";
import * as account from "../account";
import * as research from "../research";
import type { ConsentList, MyItem, ScopeKind } from "../research";
import type { CameraInfo, ClipDetail } from "../types";
import { h, message, notice, show, time } from "../ui";

let confirmCount = 0;

/** An in-page confirmation: what the step means, then a button to do it and one to go back. */
function confirmation(
  title: string,
  lines: string[],
  yes: string,
  run: () => Promise<void>,
  cancel: () => void,
  danger = false,
): HTMLElement {
  const id = `confirm-${++confirmCount}`;
  const alert = h("div", { class: "alert", role: "alert", "aria-live": "assertive" });
  const ok = h("button", { type: "button", class: danger ? "danger" : "" }, yes);
  const back = h("button", { type: "button", class: "secondary" }, "Cancel");
  ok.addEventListener("click", async () => {
    ok.disabled = true;
    back.disabled = true;
    alert.classList.remove("shown");
    try {
      await run();
    } catch (e) {
      alert.textContent = message(e);
      alert.classList.add("shown");
      ok.disabled = false;
      back.disabled = false;
    }
  });
  back.addEventListener("click", cancel);
  const box = h(
    "section",
    { class: "confirm", role: "group", "aria-labelledby": id },
    h("h3", { id }, title),
    ...lines.map((l) => h("p", {}, l)),
    alert,
    h("div", { class: "actions" }, ok, back),
  );
  setTimeout(() => ok.focus(), 0);
  return box;
}

function giveLines(kind: ScopeKind, name: string): string[] {
  return [
    kind === "camera"
      ? `Clips of ${name} that you add to research are copied into Porchlight's research dataset, used to improve detection.`
      : `This clip (${name}) may be added to Porchlight's research dataset, used to improve detection.`,
    "Each item is made on this device: opened here, stripped of its metadata (times, device and software names, the events list), sealed so that only the research program can open it, and filed under its day alone, never under your account. Annotators may watch and label it.",
    "This consent is signed by this device and recorded in your account's transparency log.",
    "You can withdraw it at any time; withdrawing also takes every item of yours that it covers out of the dataset. Copies annotators made before then are not in Porchlight's reach.",
  ];
}

function withdrawLines(kind: ScopeKind, name: string): string[] {
  return [
    `No more clips of ${kind === "camera" ? name : "this clip"} can be added to research under this consent.`,
    "Every research item of yours that it covers is withdrawn now: this device finds them by the tags it computes from its own clips, and each is deleted.",
    "The withdrawal is signed by this device and recorded in your transparency log. You can give consent again later.",
  ];
}

/** The research part of a camera's or a clip's screen: its consent, given or withdrawn here. */
export function consentPanel(kind: ScopeKind, id: string, name: string, changed: () => void = () => {}): HTMLElement {
  const box = h("div", { class: "research-consent" });
  const status = h("p", { role: "status", "aria-live": "polite" });
  const render = async (said?: string) => {
    let list: ConsentList;
    try {
      list = await research.consents();
    } catch (e) {
      box.replaceChildren(notice("warning", message(e)));
      return;
    }
    const live = research.isLive(list, kind, id);
    const what = kind === "camera" ? "this camera" : "this clip";
    status.textContent = said ?? "";
    const state = h(
      "p",
      { "data-consent": live ? "given" : "none" },
      live ? `Research consent is given for ${what}.` : `No research consent for ${what}.`,
    );
    const open = h("button", { type: "button", class: live ? "secondary" : "" }, live ? "Withdraw research consent…" : "Give research consent…");
    open.addEventListener("click", () => {
      const back = () => void render();
      box.replaceChildren(
        live
          ? confirmation(`Withdraw research consent for ${name}?`, withdrawLines(kind, name), "Withdraw consent", async () => {
              const n = await research.recordConsent("withdraw", kind, id);
              changed();
              await render(`Consent withdrawn; ${n} research item${n === 1 ? "" : "s"} of yours withdrawn with it.`);
            }, back, true)
          : confirmation(`Give research consent for ${name}?`, giveLines(kind, name), "Give consent", async () => {
              await research.recordConsent("give", kind, id);
              changed();
              await render("Consent given: signed by this device and recorded in your transparency log.");
            }, back),
      );
    });
    box.replaceChildren(state, h("div", { class: "actions" }, open), status);
  };
  void render();
  return box;
}

function researchOff(e: unknown): boolean {
  return e instanceof ApiError && e.code === "research_off";
}

/** A clip's research section: its own consent, and adding it to (or withdrawing it from) the
 * dataset when a consent covers it. */
export function clipResearch(detail: ClipDetail): HTMLElement {
  if (!account.me().research_program) return noProgram();
  const items = h("div", { class: "research-item" });
  const status = h("p", { role: "status", "aria-live": "polite" });
  const render = async (said?: string) => {
    status.textContent = said ?? "";
    try {
      const list = await research.consents();
      // Without any consent ever given, or a feed post of this clip, nothing of it can be in
      // research: the dataset is not asked (a server without a research program answers 503).
      if (list.receipts.length === 0 && !(await research.postedToFeed(detail.id))) {
        items.replaceChildren(
          h("p", { class: "muted", "data-research": "out" }, "Not in research. Give consent for this clip or its camera to add it."),
          status,
        );
        return;
      }
      const mine = await research.withdrawalOf(detail);
      const present = await research.presentTags(mine ? [mine.tag] : []);
      if (mine && present.has(mine.tag)) {
        const out = h("button", { type: "button", class: "danger" }, "Withdraw from research");
        out.addEventListener("click", async () => {
          out.disabled = true;
          try {
            await research.withdrawItem(mine);
            await render("Withdrawn: the research item made from this clip is deleted.");
          } catch (e) {
            out.disabled = false;
            status.textContent = message(e);
          }
        });
        items.replaceChildren(h("p", { "data-research": "in" }, "This clip is in the research dataset (found by this device)."), h("div", { class: "actions" }, out), status);
        return;
      }
      if (!research.covers(list, detail)) {
        items.replaceChildren(
          h("p", { class: "muted", "data-research": "out" }, "Not in research. Give consent for this clip or its camera to add it."),
          status,
        );
        return;
      }
      const add = h("button", { type: "button" }, "Add to research");
      add.addEventListener("click", async () => {
        add.disabled = true;
        status.textContent = "Opening the clip on this device, stripping its metadata and sealing it to the research key…";
        try {
          const item = await research.addItem(detail.id);
          await render(`Added to research as an item of ${item.day}: metadata stripped, sealed to the research program's key.`);
        } catch (e) {
          add.disabled = false;
          status.textContent = message(e);
        }
      });
      items.replaceChildren(
        h("p", { class: "muted", "data-research": "out" }, "Not in research. A consent covers this clip."),
        h("div", { class: "actions" }, add),
        status,
      );
    } catch (e) {
      items.replaceChildren(researchOff(e) ? h("p", { class: "muted" }, "This server has no research program.") : notice("warning", message(e)));
    }
  };
  void render();
  return h(
    "section",
    { class: "research", "aria-labelledby": "research-title" },
    h("h2", { id: "research-title" }, "Research"),
    consentPanel("clip", detail.id, `this clip from ${detail.camera_name}`, () => void render()),
    items,
  );
}

/** The research section on a server without a research program: nothing to consent to, and
 * the dataset is never asked (it would only answer 503). */
function noProgram(): HTMLElement {
  return h(
    "section",
    { class: "research", "aria-labelledby": "research-title", "data-research": "off" },
    h("h2", { id: "research-title" }, "Research"),
    h("p", { class: "muted" }, "This server has no research program: none of your clips can be used for research here."),
  );
}

/** A camera's research section (its owner's only). */
export function cameraResearch(cam: CameraInfo): HTMLElement {
  if (!account.me().research_program) return noProgram();
  return h(
    "section",
    { class: "research", "aria-labelledby": "research-title" },
    h("h2", { id: "research-title" }, "Research"),
    consentPanel("camera", cam.id, cam.name),
    h("p", { class: "muted" }, h("a", { href: "/research", "data-link": true }, "What of mine is in research")),
  );
}

/** "What of mine is in research": live consents, and the items of this account's clips,
 * found by matching on this device; each can be withdrawn. */
export async function mine(): Promise<void> {
  const status = h("p", { role: "status", "aria-live": "polite" });
  const consentsBox = h("div", {});
  const itemsBox = h("div", { "aria-busy": "true" }, h("p", { class: "muted" }, "Matching your clips against the dataset on this device…"));
  show(
    "What of mine is in research",
    h(
      "p",
      { class: "muted" },
      "Research items carry no account. This device works out a private tag for each of your clips and asks which of them are in the dataset. Only your devices can withdraw an item, and nobody can list what the dataset holds.",
    ),
    status,
    h("h2", {}, "Consents"),
    consentsBox,
    h("h2", {}, "Your clips in research"),
    itemsBox,
  );
  const cameras = (await api.get<{ cameras: CameraInfo[] }>("/api/cameras")).cameras;
  const cameraName = (id: string) => cameras.find((c) => c.id === id)?.name ?? "a camera";
  const drawConsents = async () => {
    const list = await research.consents();
    consentsBox.replaceChildren(
      list.live.length === 0
        ? h("p", { class: "empty" }, "No research consent is given.")
        : h(
            "ul",
            { class: "rows", "aria-label": "Consents" },
            ...list.live.map((s) => {
              const name = s.scope_kind === "camera" ? cameraName(s.scope_id) : "a clip";
              const row = h("li", { class: "row" });
              const out = h("button", { type: "button", class: "secondary", "aria-label": `Withdraw consent for ${s.scope_kind === "camera" ? `camera ${name}` : `clip ${s.scope_id}`}` }, "Withdraw…");
              out.addEventListener("click", () => {
                row.replaceChildren(
                  confirmation(`Withdraw research consent for ${name}?`, withdrawLines(s.scope_kind, name), "Withdraw consent", async () => {
                    const n = await research.recordConsent("withdraw", s.scope_kind, s.scope_id);
                    status.textContent = `Consent withdrawn; ${n} research item${n === 1 ? "" : "s"} of yours withdrawn with it.`;
                    await Promise.all([drawConsents(), drawItems()]);
                  }, () => void drawConsents(), true),
                );
              });
              row.append(
                s.scope_kind === "camera"
                  ? h("span", {}, `Camera ${name}`)
                  : h("a", { href: `/clips/${encodeURIComponent(s.scope_id)}`, "data-link": true }, "A clip"),
                out,
              );
              return row;
            }),
          ),
    );
  };
  const drawItems = async () => {
    itemsBox.setAttribute("aria-busy", "true");
    let items: MyItem[];
    try {
      items = await research.myItems();
    } catch (e) {
      itemsBox.removeAttribute("aria-busy");
      itemsBox.replaceChildren(researchOff(e) ? h("p", { class: "muted" }, "This server has no research program.") : notice("warning", message(e)));
      return;
    }
    itemsBox.removeAttribute("aria-busy");
    itemsBox.replaceChildren(
      items.length === 0
        ? h("p", { class: "empty", "data-items": "0" }, "None of your clips is in research.")
        : h(
            "ul",
            { class: "rows", "aria-label": "Your clips in research", "data-items": String(items.length) },
            ...items.map((m) => {
              const out = h("button", { type: "button", class: "danger", "aria-label": `Withdraw the clip of ${m.clip.camera_name} from research` }, "Withdraw");
              out.addEventListener("click", async () => {
                out.disabled = true;
                try {
                  await research.withdrawItem(m.withdrawal);
                  status.textContent = `Withdrawn: the item made from the clip of ${m.clip.camera_name} is deleted.`;
                  await drawItems();
                } catch (e) {
                  out.disabled = false;
                  status.textContent = message(e);
                }
              });
              return h(
                "li",
                { class: "row" },
                h("a", { href: `/clips/${encodeURIComponent(m.clip.id)}`, "data-link": true }, m.clip.camera_name, ", ", time(m.clip.start_ms)),
                out,
              );
            }),
          ),
    );
  };
  await Promise.all([drawConsents(), drawItems()]);
}

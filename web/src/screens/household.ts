// The household screen (Settings → Household): the people who watch this account's cameras
// on their own devices, added from a contact (an invitation link they sent) so that nobody
// types a root; the cameras each may watch; removing one. Every change is a chain link this
// browser signs, after which the owned clips are re-wrapped. Below, the households this
// account belongs to, each checked against its owner's device list.

import * as account from "../account";
import type { RewrapReport } from "../account";
import { ChainAlarm } from "../account";
import * as api from "../api";
import * as household from "../household";
import type { CameraRef, Givable, Member } from "../household";
import * as sharing from "../sharing";
import type { CameraInfo } from "../types";
import { field, form, h, message, notice, show } from "../ui";
import { confirmBox } from "./sharing";
import { shownName } from "./settings";

let boxCount = 0;

/** Checkboxes for the cameras that can be given, `given` ticked; read back with `picked`. */
function cameraChoices(legend: string, cameras: Givable[], given: CameraRef[]): HTMLFieldSetElement {
  const set = h("fieldset", { class: "choices" }, h("legend", {}, legend));
  if (cameras.length === 0) set.append(h("p", { class: "muted" }, "No camera of yours to give yet: pair a hub first."));
  for (const c of cameras) {
    const id = `cam-${++boxCount}`;
    const ticked = given.some((g) => g.hub_key === c.ref.hub_key && g.camera === c.ref.camera);
    set.append(
      h(
        "div",
        { class: "check" },
        h("input", { type: "checkbox", id, "data-hub": c.ref.hub_key, "data-camera": c.ref.camera, checked: ticked }),
        h("label", { for: id }, shownName(c.camera)),
      ),
    );
  }
  return set;
}

function picked(set: HTMLElement): CameraRef[] {
  return [...set.querySelectorAll<HTMLInputElement>("input[type=checkbox]:checked")].map((box) => ({
    hub_key: box.dataset.hub ?? "",
    camera: box.dataset.camera ?? "",
  }));
}

function names(refs: CameraRef[], cameras: Givable[]): string {
  if (refs.length === 0) return "no cameras";
  return refs
    .map((r) => {
      const known = cameras.find((c) => c.ref.hub_key === r.hub_key && c.ref.camera === r.camera);
      return known ? shownName(known.camera) : r.camera;
    })
    .join(", ");
}

function rewrapped(report: RewrapReport): string {
  const n = report.rewrapped;
  const done = `${n} clip${n === 1 ? "" : "s"} re-sealed on this device`;
  return report.failed.length === 0 ? `${done}.` : `${done}; ${report.failed.length} could not be and still name the devices they did.`;
}

export async function householdScreen(): Promise<void> {
  let view;
  try {
    view = account.viewOf(await account.verifiedChain());
  } catch (e) {
    if (e instanceof ChainAlarm) return show("Household", notice("danger", h("strong", {}, "Verification failed. "), message(e)));
    throw e;
  }
  const status = h("div", { role: "status", "aria-live": "polite", "data-testid": "household-status" });
  const membersBox = h("section", { "aria-labelledby": "members-title" });
  const addBox = h("section", { "aria-labelledby": "add-title" });
  const belongBox = h("section", { "aria-labelledby": "belong-title" });
  show(
    "Household",
    h(
      "p",
      { class: "muted" },
      "People in your household watch the cameras you give them, recorded and live, on their own devices with their own account. " +
        "Your hub seals those cameras' clips to their devices; the server cannot add anyone.",
    ),
    status,
    membersBox,
    addBox,
    belongBox,
  );

  const redraw = async (said?: string) => {
    view = account.viewOf(await account.verifiedChain());
    const cameras = await household.givable(view);
    const people = await sharing.contacts();
    drawMembers(membersBox, view.members, cameras, people, redraw, status);
    drawAdd(addBox, view.members, cameras, people, redraw);
    if (said) status.replaceChildren(notice("info", said));
  };
  await redraw();
  await drawBelonging(belongBox);
}

type Redraw = (said?: string) => Promise<void>;

function drawMembers(box: HTMLElement, members: Member[], cameras: Givable[], people: sharing.Contact[], redraw: Redraw, status: HTMLElement): void {
  const title = h("h2", { id: "members-title" }, "Members");
  if (members.length === 0) {
    box.replaceChildren(title, h("p", { class: "empty", "data-members": "0" }, "No one else is in your household."));
    return;
  }
  const list = h("ul", { class: "rows", "aria-label": "Household members", "data-members": String(members.length) });
  for (const m of members) {
    const row = h("li", { class: "row member" });
    const fp = sharing.rootFingerprint(m.root);
    const contact = people.find((c) => c.root === m.root);
    const choices = cameraChoices(`Cameras ${m.label} may watch`, cameras, m.cameras);
    const save = h("button", { type: "button", class: "secondary" }, "Save cameras");
    save.addEventListener("click", async () => {
      save.disabled = true;
      status.replaceChildren("Signing the change on this device and re-sealing clips…");
      try {
        const chosen = picked(choices);
        const report = await household.giveCameras(m.root, chosen);
        await redraw(`${m.label} may now watch ${names(chosen, cameras)}. ${rewrapped(report)}`);
      } catch (e) {
        status.replaceChildren(notice("danger", message(e)));
        save.disabled = false;
      }
    });
    const remove = h("button", { type: "button", class: "danger", "aria-label": `Remove ${m.label} from the household` }, "Remove…");
    remove.addEventListener("click", () => {
      row.replaceChildren(
        confirmBox(
          `Remove ${m.label} from the household?`,
          [
            "Their devices can no longer watch your cameras, live or recorded: new clips are not sealed to them, and stored ones are re-sealed without them.",
            "Copies they already downloaded are beyond reach.",
          ],
          "Remove member",
          async () => {
            const report = await household.removeMember(m.root);
            await redraw(`${m.label} is no longer in your household. ${rewrapped(report)}`);
          },
          () => void redraw(),
          true,
        ),
      );
    });
    row.append(
      h("strong", {}, m.label),
      h("span", { class: "muted" }, "Account ", h("code", { class: "nowrap" }, fp), contact && contact.name !== m.label ? ` · your contact ${contact.name}` : ""),
      h("span", {}, `Watches: ${names(m.cameras, cameras)}`),
      choices,
      h("div", { class: "actions" }, save, remove),
    );
    list.append(row);
  }
  box.replaceChildren(title, list);
}

function drawAdd(box: HTMLElement, members: Member[], cameras: Givable[], people: sharing.Contact[], redraw: Redraw): void {
  const candidates = people.filter((c) => !members.some((m) => m.root === c.root));
  const choose = h("select", { id: "member-who", name: "contact" });
  const chooseField = h("div", { class: "field" }, h("label", { for: "member-who" }, "Who"), choose);
  const rootField = field("Their account root", "root", { autocomplete: "off", spellcheck: "false" }, "64 hexadecimal digits, from the Shared screen of their account.");
  const rootInput = rootField.querySelector("input");
  const labelField = field("Name in your household", "label", { maxlength: "64", autocomplete: "off" }, "Shown on your devices and in your device list, e.g. Sam.");
  const labelInput = labelField.querySelector("input");
  choose.replaceChildren(
    ...candidates.map((c) => h("option", { value: c.root }, `${c.name} (${sharing.rootFingerprint(c.root)})`)),
    h("option", { value: "" }, "Someone else: paste their account root…"),
  );
  chooseField.hidden = candidates.length === 0;
  const sync = () => {
    const byRoot = chooseField.hidden || choose.value === "";
    rootField.hidden = !byRoot;
    if (rootInput) rootInput.required = byRoot;
    const contact = candidates.find((c) => c.root === choose.value);
    if (labelInput && contact) labelInput.value = contact.name;
  };
  choose.addEventListener("change", sync);
  sync();
  const choices = cameraChoices("Cameras they may watch", cameras, []);
  const add = form("Add to the household", "Add to household", [chooseField, rootField, labelField, choices], async (values) => {
    const root = !chooseField.hidden && values.contact ? values.contact : (values.root ?? "");
    const chosen = picked(choices);
    const report = await household.addMember(root, values.label ?? "", chosen);
    await redraw(`${(values.label ?? "").trim() || "The new member"} is in your household and may watch ${names(chosen, cameras)}. ${rewrapped(report)}`);
  });
  box.replaceChildren(
    h("h2", { id: "add-title" }, "Add someone"),
    h(
      "p",
      {},
      "Ask them for their invitation link (on their Shared screen) and open it on this device: they become a contact you pick here. ",
      "Their devices, as their own device list names them, can then watch the cameras you tick.",
    ),
    add,
  );
}

async function drawBelonging(box: HTMLElement): Promise<void> {
  const title = h("h2", { id: "belong-title" }, "Households you belong to");
  const invite = h("p", { class: "muted" }, "To be added to someone else's household, send them your invitation link from ", h("a", { href: "/shared", "data-link": true }, "Shared"), ".");
  let checked;
  try {
    checked = household.viewOf(await household.households(await account.verifiedChain()));
  } catch (e) {
    box.replaceChildren(title, notice("danger", "The households' device lists could not be checked: ", message(e)), invite);
    return;
  }
  const people = await sharing.contacts();
  const mine = (await api.get<{ cameras: CameraInfo[] }>("/api/cameras")).cameras.filter((c) => !c.owned);
  const refused = checked.refused.map((r) =>
    notice("warning", `A household's device list was refused (account ${sharing.rootFingerprint(r.root)}): ${r.reason}. Its cameras are not shown.`),
  );
  if (checked.owners.length === 0) {
    box.replaceChildren(title, ...refused, h("p", { class: "empty" }, "You are not in anyone else's household."), invite);
    return;
  }
  const list = h("ul", { class: "rows", "aria-label": "Households you belong to" });
  for (const owner of checked.owners) {
    const known = people.find((c) => c.root === owner.root);
    const who = known ? `${known.name} (${sharing.rootFingerprint(owner.root)})` : `account ${sharing.rootFingerprint(owner.root)}`;
    const cams = owner.cameras.map((c) => {
      const listed = mine.find((m) => m.name === c.camera);
      return listed ? h("a", { href: `/cameras/${encodeURIComponent(listed.id)}`, "data-link": true }, shownName(listed)) : h("span", {}, c.camera);
    });
    list.append(
      h(
        "li",
        { class: "row" },
        h("strong", {}, `Household of ${who}`),
        cams.length === 0 ? h("span", { class: "muted" }, "No cameras given to you yet.") : h("span", {}, "Cameras: ", ...cams.flatMap((c, i) => (i === 0 ? [c] : [", ", c]))),
        h("span", { class: "muted" }, known ? "Checked against their device list, from the invitation you kept." : "Checked against their device list. Compare this account with the one they gave you."),
      ),
    );
  }
  box.replaceChildren(title, ...refused, list, invite);
}

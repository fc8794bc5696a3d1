// A camera's settings (how long its clips are kept, the name the app shows for it) and
// deleting a clip: the owner's alone, as the server enforces. The name a camera's hub signs
// never changes; the label is only shown, so clips are still checked against the signed name.

import * as api from "../api";
import { go } from "../router";
import type { CameraInfo, ClipDetail } from "../types";
import { field, form, h, when } from "../ui";
import { confirmBox } from "./sharing";

/** The retention choices offered; a value set elsewhere (the CLI) is offered too. */
const RETENTION_DAYS = [1, 3, 7, 14, 30, 60, 90];
const MAX_LABEL_CHARS = 64;

/** What the app calls a camera: the owner's label, or the name its hub signs. */
export function shownName(cam: CameraInfo): string {
  return cam.label ?? cam.name;
}

const daysText = (n: number) => `${n} day${n === 1 ? "" : "s"}`;

/** Where a flash message waits for the next screen (the Cameras screens show it). */
function flashNext(text: string): void {
  sessionStorage.setItem("porchlight.flash", text);
}

/** The settings panel of an owned camera's screen; `saved` gets the camera as stored. */
export function cameraSettings(cam: CameraInfo, saved: (cam: CameraInfo) => void): HTMLElement {
  const status = h("p", { role: "status", "aria-live": "polite", "data-testid": "settings-status" });
  const current = h("p", { class: "muted", "data-testid": "settings-current" });
  const describe = (c: CameraInfo) => {
    current.textContent = `Now: clips are kept ${daysText(c.retention_days)}; shown as “${shownName(c)}”.`;
  };
  describe(cam);
  const choices = [...new Set([...RETENTION_DAYS, cam.retention_days])].sort((a, b) => a - b);
  const select = h(
    "select",
    { id: "retention-days", name: "retention_days" },
    ...choices.map((n) => h("option", { value: String(n), ...(n === cam.retention_days ? { selected: true } : {}) }, daysText(n))),
  );
  const settingsForm = form(
    "Camera settings",
    "Save settings",
    [
      h(
        "div",
        { class: "field" },
        h("label", { for: "retention-days" }, "Keep clips for"),
        select,
        h("p", { class: "hint" }, "Older clips are deleted from the server for every device. Copies already saved are not."),
      ),
      field(
        "Name shown in the app",
        "label",
        { value: cam.label ?? "", placeholder: cam.name, maxlength: String(MAX_LABEL_CHARS), autocomplete: "off" },
        `Its hub calls it “${cam.name}”, and every clip is still checked against that name. Leave empty to show it.`,
      ),
    ],
    async (values) => {
      status.textContent = "";
      const updated = await api.patch<CameraInfo>(`/api/cameras/${encodeURIComponent(cam.id)}`, {
        retention_days: Number(values.retention_days),
        label: (values.label ?? "").trim(),
      });
      describe(updated);
      status.textContent = "Saved.";
      saved(updated);
    },
  );
  return h(
    "section",
    { class: "settings", "aria-labelledby": "settings-title" },
    h("h2", { id: "settings-title" }, "Camera settings"),
    current,
    settingsForm,
    status,
  );
}

/** "Delete clip" on an owned clip's screen, with an in-page confirmation; afterwards the
 * camera's timeline, saying it was deleted. */
export function clipDeletion(detail: ClipDetail, cameraName: string): HTMLElement {
  const box = h("section", { class: "deletion", "aria-labelledby": "delete-title" });
  const stamp = when(detail.start_ms);
  const idle = () => {
    const button = h("button", { type: "button", class: "danger" }, "Delete clip");
    button.addEventListener("click", () => {
      box.replaceChildren(
        confirmBox(
          `Delete this clip of ${cameraName}, ${stamp}?`,
          [
            "It is deleted from Porchlight for every device of your account and your household, and for anyone you shared it with.",
            "Copies already downloaded or saved are beyond reach: deleting cannot take them back.",
            "The deletion is recorded in your access log.",
          ],
          "Delete for everyone",
          async () => {
            await api.del(`/api/clips/${encodeURIComponent(detail.id)}`);
            flashNext(`Clip of ${stamp} deleted.`);
            await go(`/cameras/${encodeURIComponent(detail.camera_id)}`);
          },
          idle,
          true,
        ),
      );
    });
    box.replaceChildren(h("h2", { id: "delete-title" }, "Delete"), h("div", { class: "actions" }, button));
  };
  idle();
  return box;
}

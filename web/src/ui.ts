// Small DOM helpers. Text always goes in as text (never as HTML), so nothing a server or a
// device name says can become markup.

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | ((e: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === "function") el.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) el.setAttribute(name, "");
    else if (value !== false) el.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

let fieldCount = 0;

/** A labelled input; the label names it for screen readers. */
export function field(
  label: string,
  name: string,
  attrs: Record<string, string | boolean> = {},
  hint?: string,
): HTMLElement {
  const id = `f${++fieldCount}-${name}`;
  const hintId = hint ? `${id}-hint` : undefined;
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    h("input", { id, name, ...(hintId ? { "aria-describedby": hintId } : {}), ...attrs }),
    hint ? h("p", { class: "hint", id: hintId ?? "" }, hint) : null,
  );
}

/** A form whose submit runs `action` with its values; the button waits while it runs and
 * the error, if any, is shown in the form's alert region. */
export function form(
  label: string,
  submit: string,
  fields: Node[],
  action: (values: Record<string, string>, form: HTMLFormElement) => Promise<void>,
): HTMLFormElement {
  const alert = h("div", { class: "alert", role: "alert", "aria-live": "assertive" });
  const button = h("button", { type: "submit" }, submit);
  const f = h("form", { "aria-label": label, novalidate: false }, ...fields, alert, button);
  f.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.textContent = "";
    alert.classList.remove("shown");
    button.disabled = true;
    f.setAttribute("aria-busy", "true");
    const values: Record<string, string> = {};
    new FormData(f).forEach((v, k) => (values[k] = typeof v === "string" ? v : ""));
    try {
      await action(values, f);
    } catch (e) {
      alert.textContent = message(e);
      alert.classList.add("shown");
    } finally {
      button.disabled = false;
      f.removeAttribute("aria-busy");
    }
  });
  return f;
}

export function message(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** A notice above the page: info, warning or danger. */
export function notice(kind: "info" | "warning" | "danger", ...children: Child[]): HTMLElement {
  return h("div", { class: `notice ${kind}`, role: kind === "danger" ? "alert" : "status" }, ...children);
}

// The app's one way of writing a moment: local time, to the second ("Dec 7, 2026, 6:22:05 PM"
// in English); under a heading that already names the day, the time of day alone.
const dateAndTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const clock = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });
const dayName = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });

/** A moment as text: the date and the time to the second, in local time. */
export function when(ms: number): string {
  return dateAndTime.format(new Date(ms));
}

/** A moment's time of day to the second, for rows under a heading that names the day. */
export function timeOfDay(ms: number): string {
  return clock.format(new Date(ms));
}

/** A day as a heading: "Monday, December 7". */
export function day(ms: number): string {
  return dayName.format(new Date(ms));
}

/** A moment in a saved file's name, local time: "2026-12-07 18-22-05". */
export function fileStamp(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}-${two(d.getMinutes())}-${two(d.getSeconds())}`;
}

/** A `<time>` element: the date and time ([`when`]), or only the time of day. */
export function time(ms: number, only: "time" | "both" = "both"): HTMLTimeElement {
  const d = new Date(ms);
  return h("time", { datetime: d.toISOString() }, only === "time" ? timeOfDay(ms) : when(ms));
}

/** Replaces the page's main content and moves focus to its heading, for screen readers. */
export function show(title: string, ...content: Child[]): void {
  const main = document.getElementById("main");
  if (!main) return;
  const heading = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(heading, ...content.filter((c): c is Node | string => !!c));
  document.title = `${title} · Porchlight`;
  heading.focus();
}

/** Inserts an SVG drawing made by the Rust crypto (a QR code), parsed as SVG, not as HTML. */
export function svg(markup: string, label: string): Element {
  const doc = new DOMParser().parseFromString(markup, "image/svg+xml");
  const root = doc.documentElement;
  if (root.nodeName !== "svg" || doc.querySelector("script, foreignObject")) {
    return h("p", {}, "The QR code could not be drawn.");
  }
  root.setAttribute("role", "img");
  root.setAttribute("aria-label", label);
  return document.importNode(root, true);
}

// Client-side routes: the server answers index.html for any of these paths, and links with
// `data-link` move between them without a reload.

type Screen = (params: Record<string, string>) => void | Promise<void>;

const routes: [RegExp, string[], Screen][] = [];
let fallback: Screen = () => {};
let guard: (path: string) => string | null = () => null;

export function route(pattern: string, screen: Screen): void {
  const names: string[] = [];
  const re = new RegExp(
    `^${pattern.replace(/:([a-z_]+)/g, (_, n: string) => {
      names.push(n);
      return "([^/]+)";
    })}$`,
  );
  routes.push([re, names, screen]);
}

export function otherwise(screen: Screen): void {
  fallback = screen;
}

/** Where to send a path instead (sign-in when signed out, say), or null to let it through. */
export function redirect(rule: (path: string) => string | null): void {
  guard = rule;
}

/** Moves to `address`: a path, with a query the screen reads from `location.search`. */
export async function go(address: string, replace = false): Promise<void> {
  const [path = "", query] = address.split("?", 2);
  const search = query ? `?${query}` : "";
  const target = guard(path) ?? path;
  // Replacing the current entry keeps its fragment (an invitation's root lives there).
  if (replace || target !== path) history.replaceState(null, "", target === location.pathname ? `${target}${search}${location.hash}` : target);
  else if (location.pathname + location.search !== target + search) history.pushState(null, "", target + search);
  await render(target);
}

let leaving: (() => void)[] = [];

/** Runs `fn` when the app moves to another screen (a live stream stops, say). */
export function onLeave(fn: () => void): void {
  leaving.push(fn);
}

async function render(path: string): Promise<void> {
  const done = leaving;
  leaving = [];
  for (const fn of done) fn();
  for (const [re, names, screen] of routes) {
    const m = re.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1] ?? "")));
    await screen(params);
    return;
  }
  await fallback({});
}

export function start(): void {
  window.addEventListener("popstate", () => void go(location.pathname + location.search, true));
  document.addEventListener("click", (event) => {
    const link = (event.target as Element | null)?.closest?.("a[data-link]");
    if (!link || !(link instanceof HTMLAnchorElement)) return;
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    void go(link.pathname + link.search);
  });
}

import { errorText, type Problem, problemOf } from "./format.js";

export { batchPath } from "./format.js";

/** A failed API call, with what its error body says (see problemOf). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly problem: Problem,
  ) {
    super(message);
  }
}

/**
 * A token given in the page's address leaves the address bar (and the history) at once; the tab
 * keeps it for reloads. It goes along as a header (fetch), or as a query where no header can be
 * set (EventSource); links never carry it.
 */
const token = takeToken();

function takeToken(): string {
  const params = new URLSearchParams(location.search);
  const given = params.get("access_token");
  if (!given) {
    try {
      return sessionStorage.getItem("docbatch-token") ?? "";
    } catch {
      return "";
    }
  }
  try {
    sessionStorage.setItem("docbatch-token", given);
  } catch {
    // A tab without storage asks for the token again on reload.
  }
  params.delete("access_token");
  const query = params.toString();
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
  return given;
}

// Bound, not called by name: the page must not contain CSS-like `url(` text (see the CSP test).
const objectLink = URL.createObjectURL.bind(URL);

/** Opens a text route in a new tab: with a token, fetched with the header, so no URL carries it. */
export function openWithToken(link: HTMLAnchorElement): void {
  link.addEventListener("click", (event) => {
    if (!token) return;
    event.preventDefault();
    void (async () => {
      const res = await fetch(link.getAttribute("href") ?? "/", {
        headers: { authorization: `Bearer ${token}` },
      });
      const type = res.headers.get("content-type") ?? "text/plain";
      window.open(objectLink(new Blob([await res.text()], { type })), "_blank");
    })();
  });
}

export function withToken(path: string): string {
  return token ? `${path}${path.includes("?") ? "&" : "?"}access_token=${encodeURIComponent(token)}` : path;
}

export async function api<T>(
  path: string,
  init: { method?: string; type?: string; body?: string } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (init.type) headers["content-type"] = init.type;
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, {
    method: init.method ?? "GET",
    headers,
    ...(init.body !== undefined ? { body: init.body } : {}),
    cache: "no-store",
  });
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) throw new ApiError(errorText(res.status, body), problemOf(res.status, body));
  return body as T;
}

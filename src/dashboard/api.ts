import { errorText } from "./format.js";

/** A token given in the page's address goes along as a header (fetch) or a query (EventSource, links). */
const token = new URLSearchParams(location.search).get("access_token") ?? "";

export const batchPath = (id: string): string => `/v1/batches/${encodeURIComponent(id)}`;

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
  if (!res.ok) throw new Error(errorText(res.status, body));
  return body as T;
}

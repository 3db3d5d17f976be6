// Talking to the server: the access token (kept for this tab only) and requests that carry it.

const KEY = "asr-token";

// A 401: the page asks for the token (again) instead of showing a bare error.
export class AuthError extends Error {}

export const getToken = () => sessionStorage.getItem(KEY) || "";

export function setToken(token) {
  if (token) sessionStorage.setItem(KEY, token);
  else sessionStorage.removeItem(KEY);
}

// A link like /?token=... still works, but the token moves to sessionStorage and out of the
// address bar, so it stays out of the history, bookmarks and screenshots.
export function adoptUrlToken() {
  const url = new URL(location.href);
  if (!url.searchParams.has("token")) return;
  setToken(url.searchParams.get("token"));
  url.searchParams.delete("token");
  history.replaceState(history.state, "", url.pathname + url.search + url.hash);
}

// fetch() with the token as a bearer header; a 401 throws AuthError.
export async function api(path, options = {}) {
  const headers = new Headers(options.headers);
  if (getToken()) headers.set("Authorization", "Bearer " + getToken());
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401) throw new AuthError("the server did not accept the token");
  return response;
}

// The one-line message of an error response ({"error": ...}), or its status when it has none.
export function errorText(body, status) {
  try {
    return JSON.parse(body).error || `error ${status}`;
  } catch {
    return `error ${status}`;
  }
}

// A browser cannot set headers on a websocket, so the stream's token goes in its URL (the
// server takes either).
export function streamUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = getToken() ? "?token=" + encodeURIComponent(getToken()) : "";
  return `${scheme}//${location.host}/v1/stream${query}`;
}

// The API client: the token lives in sessionStorage (this tab only); any 401 returns to the login.
const TOKEN_KEY = "elasticjob.token";
const USER_KEY = "elasticjob.user";

export class ApiError extends Error {
  constructor(status, message, fields) {
    super(message);
    this.status = status;
    // Field violations (google.rpc.BadRequest) by JSON field name.
    this.fields = fields;
  }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN_KEY); },
  get user() { return sessionStorage.getItem(USER_KEY) || ""; },
  save(token, user) { sessionStorage.setItem(TOKEN_KEY, token); sessionStorage.setItem(USER_KEY, user); },
  clear() { sessionStorage.removeItem(TOKEN_KEY); sessionStorage.removeItem(USER_KEY); },
};

let onUnauthenticated = () => {};
export function whenUnauthenticated(handler) { onUnauthenticated = handler; }

function fieldViolations(body) {
  const fields = {};
  for (const detail of (body && body.details) || []) {
    for (const violation of detail.fieldViolations || []) {
      if (violation.field) fields[violation.field] = violation.description || body.message;
    }
  }
  return fields;
}

// One call: JSON in, JSON out. `body` is sent as JSON unless it is a string (raw body routes).
export async function call(method, path, body, { query } = {}) {
  const headers = {};
  if (session.token) headers.accessToken = session.token;
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
    }
    const text = params.toString();
    if (text) url += "?" + text;
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload, cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, "the server did not answer: " + error.message, {});
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (response.status === 401 && !path.endsWith("/api/login")) {
    session.clear();
    onUnauthenticated();
    throw new ApiError(401, "your session has ended: log in again", {});
  }
  if (!response.ok) {
    const message = (data && data.message) || (typeof data === "string" && data) || response.statusText;
    throw new ApiError(response.status, message, fieldViolations(data));
  }
  return data;
}

export const get = (path, query) => call("GET", path, undefined, { query });
export const post = (path, body) => call("POST", path, body === undefined ? "" : body);
export const put = (path, body) => call("PUT", path, body);
export const del = (path, body) => call("DELETE", path, body);

export async function login(username, password) {
  const data = await call("POST", "/api/login", { username, password });
  session.save(data.accessToken, username);
}

// A path segment, encoded (job and app names, task ids).
export const seg = (text) => encodeURIComponent(text);

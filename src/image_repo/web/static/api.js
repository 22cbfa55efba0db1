// What every page shares: the API token, calls to the JSON API, and pictures.
// The token lives in this browser's local storage and goes out as
// `Authorization: Bearer`; there are no cookies.

const TOKEN_KEY = "image-repo.token";

export const settings = JSON.parse(document.body.dataset.settings || "{}");

export function token() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function mayWrite() {
  return Boolean(token()) || settings.anonymousUpload;
}

/** An error answer of the API: its status and the server's own `detail`. */
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && problem.detail) || `The server answered ${status}.`);
    this.status = status;
    this.problem = problem;
  }
}

export function authHeaders() {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  return headers;
}

/** Call the API; the JSON answer, null for 204, or an ApiError. */
export async function api(path, { method = "GET", json } = {}) {
  const headers = authHeaders();
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body });
  } catch {
    throw new ApiError(0, { detail: "The server could not be reached." });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** A blob: URL for a file that needs the token (reads are not public here). */
export async function privateUrl(path) {
  const response = await fetch(path, { headers: { Authorization: `Bearer ${token()}` } });
  if (!response.ok) throw new ApiError(response.status, null);
  return URL.createObjectURL(await response.blob());
}

/** Build an element: el("a", {href: "/"}, "text", child). Text is never parsed as HTML. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export function pageUrl(id) {
  return `/view/${id}`;
}

export function thumbnailUrl(id, size) {
  return `/image/${id}/thumbnail?size=${size}`;
}

export function title(record) {
  return record.original_name || `Image ${record.id}`;
}

export function altText(record) {
  const kind = record.source === "generated" ? "Generated picture" : "Picture";
  return `${kind} ${title(record)}, ${record.width} × ${record.height} ${record.format}`;
}

/**
 * Show a thumbnail: `srcset` over the preset sizes (the width each really has:
 * never enlarged), so the browser picks one for the screen; the format is the
 * browser's own (it asks for WebP in `Accept`). Without public reads the one
 * size goes through fetch, with the token.
 */
export function showThumbnail(img, record, { sizes, size = 256 }) {
  const longest = Math.max(record.width, record.height);
  const candidates = new Map();
  for (const preset of settings.thumbnailSizes || [size]) {
    const scale = Math.min(1, preset / longest);
    const width = Math.max(1, Math.round(record.width * scale));
    if (!candidates.has(width)) candidates.set(width, thumbnailUrl(record.id, preset));
  }
  const shown = thumbnailUrl(record.id, size);
  const scale = Math.min(1, size / longest);
  img.width = Math.max(1, Math.round(record.width * scale));
  img.height = Math.max(1, Math.round(record.height * scale));
  img.alt = altText(record);
  if (settings.publicRead) {
    img.sizes = sizes;
    img.srcset = [...candidates].map(([width, url]) => `${url} ${width}w`).join(", ");
    img.src = shown;
  } else {
    privateUrl(shown).then((url) => { img.src = url; }, () => img.classList.add("broken"));
  }
}

/** A grid cell: the thumbnail, linking to the image's page. */
export function card(record, caption = title(record)) {
  const img = el("img", { loading: "lazy", decoding: "async" });
  showThumbnail(img, record, {
    sizes: "(max-width: 600px) 48vw, (max-width: 1100px) 24vw, 220px",
  });
  return el(
    "li",
    { class: "card", dataset: { id: record.id } },
    el("a", { href: pageUrl(record.id) }, img, el("span", { class: "caption" }, caption)),
  );
}

/** The token field in the header; `onChange` runs when the token is saved or forgotten. */
export function setupTokenPanel(onChange = () => {}) {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token-input");
  const status = document.getElementById("token-status");
  const summary = document.getElementById("token-summary");

  async function check() {
    summary.textContent = token() ? "API token ✓" : "API token";
    if (!token()) {
      status.textContent = "No token: you see what is public.";
      return;
    }
    try {
      const tokens = await api("/tokens");
      status.textContent = `Token accepted (${tokens.length} token(s) on this account).`;
    } catch (error) {
      status.textContent = error.status === 401 ? "The server does not accept this token." : error.message;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = input.value.trim();
    if (!value) return;
    localStorage.setItem(TOKEN_KEY, value);
    input.value = "";
    check();
    onChange();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    check();
    onChange();
  });
  check();
}

export function formatBytes(bytes) {
  const units = ["bytes", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatDate(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

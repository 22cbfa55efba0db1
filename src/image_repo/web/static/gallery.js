// The gallery: the grid (cursor pages, endless scrolling), the filters (kept in
// the URL), uploads with a progress bar each, and generation jobs.
import { ApiError, api, authHeaders, card, el, mayWrite, pageUrl, setupTokenPanel } from "./api.js";

const DEFAULT_LIMIT = "48";
const PARALLEL_UPLOADS = 2;
const JOB_WAIT_SECONDS = 2; // how stale a job's progress may get on screen

const grid = document.getElementById("grid");
const listStatus = document.getElementById("list-status");
const moreButton = document.getElementById("more");
const filters = document.getElementById("filters");

// ---- the grid ----

const list = { cursor: null, done: false, loading: false, run: 0, count: 0 };

/** The API's list parameters: the page's own URL ones, passed through as they are. */
function listParams() {
  const params = new URLSearchParams();
  for (const [name, value] of new URLSearchParams(location.search)) {
    if (value !== "") params.append(name, value);
  }
  if (!params.has("limit")) params.set("limit", DEFAULT_LIMIT);
  return params;
}

function filtered() {
  return [...listParams().keys()].some((name) => name !== "limit");
}

function addCard(record, { first = false } = {}) {
  if (grid.querySelector(`[data-id="${record.id}"]`)) return;
  const cell = card(record);
  if (first) grid.prepend(cell);
  else grid.append(cell);
  list.count += 1;
}

function nearTheEnd() {
  return moreButton.getBoundingClientRect().top < window.innerHeight + 600;
}

async function loadPage() {
  if (list.loading || list.done) return;
  list.loading = true;
  const run = list.run;
  listStatus.textContent = "Loading…";
  const params = listParams();
  if (list.cursor) params.set("cursor", list.cursor);
  try {
    const page = await api(`/image/list?${params}`);
    if (run !== list.run) return;
    page.items.forEach((record) => addCard(record));
    list.cursor = page.next_cursor;
    list.done = !page.next_cursor;
    listStatus.textContent = list.count
      ? `${list.count} image${list.count === 1 ? "" : "s"}${list.done ? "" : " so far"}.`
      : filtered() ? "No images match these filters." : "No images yet: upload one.";
  } catch (error) {
    if (run !== list.run) return;
    list.done = true;
    listStatus.textContent = error.message;
  } finally {
    if (run === list.run) {
      list.loading = false;
      moreButton.hidden = list.done;
    }
  }
  // The observer only speaks on a change: keep going while the end is in view.
  if (run === list.run && !list.done && nearTheEnd()) loadPage();
}

function reloadGrid() {
  Object.assign(list, { cursor: null, done: false, loading: false, count: 0 });
  list.run += 1;
  grid.replaceChildren();
  loadPage();
}

new IntersectionObserver((entries) => {
  if (entries.some((entry) => entry.isIntersecting)) loadPage();
}, { rootMargin: "600px 0px" }).observe(moreButton);
moreButton.addEventListener("click", loadPage);

// ---- filters: the URL holds their state ----

function showFiltersFromUrl() {
  const params = new URLSearchParams(location.search);
  const active = [...params.keys()].filter((name) => name !== "limit").length;
  document.getElementById("filter-count").textContent = active ? `(${active} on)` : "";
  for (const control of filters.elements) {
    if (!control.name) continue;
    if (control.type === "checkbox") control.checked = params.get(control.name) === control.value;
    else control.value = params.get(control.name) || "";
  }
}

filters.addEventListener("submit", (event) => {
  event.preventDefault();
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(filters)) {
    if (value !== "") params.append(name, value);
  }
  const limit = new URLSearchParams(location.search).get("limit");
  if (limit) params.set("limit", limit);
  history.pushState(null, "", params.size ? `?${params}` : location.pathname);
  showFiltersFromUrl();
  reloadGrid();
});
window.addEventListener("popstate", () => {
  showFiltersFromUrl();
  reloadGrid();
});

// ---- uploads ----

const fileInput = document.getElementById("file-input");
const dropZone = document.getElementById("drop-zone");
const uploadResults = document.getElementById("upload-results");
const uploadQueue = [];
let uploading = 0;

function resultItem(list, name, label) {
  const progress = el("progress", { max: 100, value: 0, "aria-label": label });
  const outcome = el("span", { class: "outcome" }, "Waiting…");
  const item = el("li", { class: "result", dataset: { state: "waiting" } },
    el("span", { class: "name" }, name), progress, outcome);
  list.prepend(item);
  return { item, progress, outcome };
}

function settle(entry, state, text, link) {
  entry.item.dataset.state = state;
  entry.outcome.replaceChildren(text, ...(link ? [" ", link] : []));
}

function openLink(id, text = "Open") {
  return el("a", { href: pageUrl(id) }, text);
}

function upload(file, entry) {
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open("POST", "/image/upload");
    for (const [name, value] of Object.entries(authHeaders())) request.setRequestHeader(name, value);
    request.responseType = "json";
    entry.item.dataset.state = "sending";
    entry.outcome.textContent = "Uploading…";
    request.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      entry.progress.value = Math.round((event.loaded / event.total) * 100);
      if (event.loaded === event.total) entry.outcome.textContent = "Checking and storing…";
    });
    request.addEventListener("load", () => {
      entry.progress.value = 100;
      const body = request.response;
      if (request.status === 201) {
        settle(entry, "stored", "Stored.", openLink(body.id));
        if (!filtered()) addCard(body, { first: true });
      } else if (request.status === 200 && body && body.duplicate) {
        settle(entry, "yours", "Already yours.", openLink(body.id, "Open it"));
      } else {
        settle(entry, "refused", `Refused: ${new ApiError(request.status, body).message}`);
      }
      resolve();
    });
    request.addEventListener("error", () => {
      settle(entry, "refused", "The upload did not reach the server.");
      resolve();
    });
    const form = new FormData();
    form.append("image", file, file.name);
    request.send(form);
  });
}

function nextUpload() {
  while (uploading < PARALLEL_UPLOADS && uploadQueue.length) {
    uploading += 1;
    uploadQueue.shift()().finally(() => {
      uploading -= 1;
      nextUpload();
    });
  }
}

function uploadFiles(files) {
  for (const file of files) {
    const entry = resultItem(uploadResults, file.name, `Upload of ${file.name}`);
    uploadQueue.push(() => upload(file, entry));
  }
  nextUpload();
}

fileInput.addEventListener("change", () => {
  uploadFiles([...fileInput.files]);
  fileInput.value = "";
});
for (const type of ["dragenter", "dragover"]) {
  dropZone.addEventListener(type, (event) => {
    event.preventDefault();
    dropZone.classList.add("dragging");
  });
}
dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dragging"));
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropZone.classList.remove("dragging");
  if (mayWrite()) uploadFiles([...event.dataTransfer.files]);
});
// A file dropped beside the zone must not replace the page.
window.addEventListener("dragover", (event) => event.preventDefault());
window.addEventListener("drop", (event) => event.preventDefault());

// ---- generation ----

const generateForm = document.getElementById("generate-form");
const jobs = document.getElementById("jobs");

async function loadStyles() {
  const select = document.getElementById("style");
  try {
    for (const style of await api("/image/styles")) {
      select.append(el("option", { value: style.name, title: style.description }, style.name));
    }
  } catch {
    // Styles are optional: the prompt alone still works.
  }
}

function showJob(entry, job) {
  entry.item.dataset.state = job.status;
  entry.progress.value = job.progress;
  entry.outcome.textContent = `${job.stage}…`;
}

async function follow(job, entry) {
  while (job.status === "queued" || job.status === "running") {
    showJob(entry, job);
    job = await api(`${job.url}?wait=${JOB_WAIT_SECONDS}`);
  }
  showJob(entry, job);
  if (job.status === "failed") {
    settle(entry, "failed", `Failed: ${job.error.message} (${job.error.code})`);
    return;
  }
  const record = await api(`/image/${job.image_id}/details`);
  settle(entry, "succeeded", job.duplicate ? "Done (already stored)." : "Done.", openLink(job.image_id));
  if (job.notice) entry.item.append(el("p", { class: "hint" }, job.notice));
  if (!filtered()) addCard(record, { first: true });
}

generateForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(generateForm);
  const body = { prompt: data.get("prompt").trim() };
  for (const name of ["style", "aspect_ratio"]) if (data.get(name)) body[name] = data.get(name);
  const entry = resultItem(jobs, `“${body.prompt}”`, `Generation of ${body.prompt}`);
  try {
    await follow(await api("/image/generate", { method: "POST", json: body }), entry);
  } catch (error) {
    settle(entry, "failed", `Failed: ${error.message}`);
  }
});

// ---- who may write ----

function showWriteAccess() {
  const allowed = mayWrite();
  document.getElementById("token-hint").hidden = allowed;
  fileInput.disabled = !allowed;
  dropZone.classList.toggle("disabled", !allowed);
  for (const control of generateForm.elements) control.disabled = !allowed;
}

document.getElementById("token-hint-link").addEventListener("click", () => {
  document.getElementById("token-panel").open = true;
  document.getElementById("token-input").focus();
});

// On a phone the grid comes first: generate and filters start folded.
const wide = window.matchMedia("(min-width: 700px)").matches;
for (const panel of document.querySelectorAll("details[data-open-when-wide]")) {
  panel.open = wide || (panel.id === "filters-panel" && filtered());
}

setupTokenPanel(() => {
  showWriteAccess();
  reloadGrid();
});
showWriteAccess();
showFiltersFromUrl();
loadStyles();
loadPage();

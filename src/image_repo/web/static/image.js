// One image's page: the picture, its record and EXIF, provenance, similar
// images, download and delete.
import {
  api, card, el, formatBytes, formatDate, mayWrite, privateUrl, settings, setupTokenPanel,
  showThumbnail, title,
} from "./api.js";

const view = document.getElementById("image-view");
const id = view.dataset.imageId;
const status = document.getElementById("image-status");
const body = document.getElementById("image-body");

function rows(tbody, entries) {
  const shown = entries.filter(([, value]) => value !== null && value !== undefined && value !== "");
  tbody.replaceChildren(...shown.map(([label, value]) =>
    el("tr", {}, el("th", { scope: "row" }, label), el("td", {}, value))));
  return shown.length;
}

function exposureTime(seconds) {
  if (seconds == null) return null;
  return seconds >= 1 ? `${seconds} s` : `1/${Math.round(1 / seconds)} s`;
}

function exposure(record) {
  const parts = [
    exposureTime(record.exposure_time),
    record.f_number != null ? `f/${record.f_number}` : null,
    record.iso != null ? `ISO ${record.iso}` : null,
    record.focal_length != null ? `${record.focal_length} mm` : null,
  ].filter(Boolean);
  return parts.length ? parts.join(" · ") : null;
}

function camera(record) {
  const make = record.camera_make || "";
  const model = record.camera_model || "";
  if (model.toLowerCase().startsWith(make.toLowerCase())) return model || null;
  return `${make} ${model}`.trim();
}

function degrees(value, positive, negative) {
  return `${Math.abs(value).toFixed(5)}° ${value < 0 ? negative : positive}`;
}

function location(record) {
  if (record.latitude == null || record.longitude == null) return null;
  const { latitude: lat, longitude: lon } = record;
  const map = `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=15/${lat}/${lon}`;
  return el("span", {},
    `${degrees(lat, "N", "S")}, ${degrees(lon, "E", "W")} `,
    el("a", { href: map, rel: "noopener noreferrer", class: "map-link" }, "Show on a map"));
}

function altitude(metres) {
  if (metres == null) return null;
  return `${Math.abs(metres)} m ${metres < 0 ? "below" : "above"} sea level`;
}

function takenAt(record) {
  if (!record.taken_at) return null;
  const [date, time] = record.taken_at.split("T");
  const clock = time.replace(/(\.\d+)?([+-]\d\d:\d\d)?$/, "");
  return `${date} ${clock}${record.taken_at_offset ? ` (UTC${record.taken_at_offset})` : " (camera's local time)"}`;
}

function exifValue(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function showExif(exif) {
  const sections = Object.entries(exif).filter(([, tags]) => Object.keys(tags).length);
  document.getElementById("exif-section").hidden = !sections.length;
  document.getElementById("exif-tables").replaceChildren(...sections.map(([section, tags]) => {
    const tbody = el("tbody");
    rows(tbody, Object.entries(tags).map(([tag, value]) => [tag, exifValue(value)]));
    return el("table", { class: "facts-table" }, el("caption", {}, section), tbody);
  }));
}

function show(record) {
  document.title = `${title(record)} · image-repo`;
  document.getElementById("image-title").textContent = title(record);
  const img = document.getElementById("large-image");
  showThumbnail(img, record, { sizes: "(max-width: 900px) 100vw, 60vw", size: 1024 });
  document.getElementById("large-caption").textContent =
    `${record.width} × ${record.height} ${record.format}, ${formatBytes(record.file_size)}`;

  rows(document.getElementById("record-table"), [
    ["File name", record.original_name],
    ["Format", `${record.format} (${record.mime_type})`],
    ["Size", `${record.width} × ${record.height} pixels`],
    ["File size", formatBytes(record.file_size)],
    ["Frames", record.frame_count > 1 ? String(record.frame_count) : null],
    ["Transparency", record.has_alpha ? "yes" : null],
    ["Uploaded", formatDate(record.uploaded_at)],
    ["Owner", record.owner || "nobody (an anonymous upload)"],
    ["Source", record.source === "generated" ? "generated" : "uploaded"],
    ["SHA-512 of the pixels", el("code", { title: record.sha512 }, `${record.sha512.slice(0, 16)}…`)],
  ]);
  document.getElementById("camera-section").hidden = !rows(document.getElementById("camera-table"), [
    ["Camera", camera(record)],
    ["Lens", record.lens],
    ["Exposure", exposure(record)],
    ["Taken", takenAt(record)],
    ["Location", location(record)],
    ["Altitude", altitude(record.altitude)],
  ]);
  const provenance = record.provenance;
  document.getElementById("provenance-section").hidden = !provenance;
  if (provenance) {
    rows(document.getElementById("provenance-table"), [
      ["Prompt", provenance.prompt],
      ["Final prompt", provenance.final_prompt],
      ["Style", provenance.style],
      ["Backend", provenance.backend],
      ["Model", provenance.model],
      ["Aspect ratio", provenance.aspect_ratio],
      ["Generated", provenance.generated_at ? formatDate(provenance.generated_at) : null],
      ["Job", provenance.job_id],
    ]);
  }
  showExif(record.exif || {});
  if (!settings.publicRead) privateDownloads(record);
  document.getElementById("delete-button").hidden = !mayWrite();
  status.textContent = "";
  body.hidden = false;
}

/** Without public reads a plain link cannot carry the token: fetch, then save. */
function privateDownloads(record) {
  for (const [linkId, asFile] of [["download-link", true], ["original-link", false]]) {
    const link = document.getElementById(linkId);
    link.addEventListener("click", async (event) => {
      event.preventDefault();
      const url = await privateUrl(`/image/${record.id}`);
      const anchor = el("a", { href: url, download: asFile ? title(record) : null, target: "_blank" });
      anchor.click();
    });
  }
}

async function showSimilar() {
  const section = document.getElementById("similar-section");
  let answer;
  try {
    answer = await api(`/image/${id}/similar`);
  } catch {
    return; // not offered by this server (404), or not now: leave the section out
  }
  const items = answer.items || [];
  document.getElementById("similar-status").textContent = items.length ? "" : "No similar images.";
  document.getElementById("similar-grid").replaceChildren(
    ...items.map(({ image, distance }) => card(image, `${title(image)} (distance ${distance})`)));
  section.hidden = false;
}

async function load() {
  try {
    show(await api(`/image/${id}/details`));
  } catch (error) {
    status.textContent = error.message;
    return;
  }
  showSimilar();
}

// ---- delete ----

const dialog = document.getElementById("delete-dialog");
document.getElementById("delete-button").addEventListener("click", () => dialog.showModal());
dialog.addEventListener("close", async () => {
  if (dialog.returnValue !== "delete") return;
  dialog.returnValue = "";
  try {
    await api(`/image/${id}`, { method: "DELETE" });
  } catch (error) {
    status.textContent = `Not deleted: ${error.message}`;
    return;
  }
  body.hidden = true;
  document.getElementById("similar-section").hidden = true;
  status.replaceChildren(`Image ${id} was deleted. `, el("a", { href: "/" }, "Back to the gallery"));
  status.focus();
});

setupTokenPanel(() => {
  document.getElementById("delete-button").hidden = !mayWrite();
});
load();

// lingalign serve: the page. Plain DOM code, no build step. Every text from the server or a model
// goes into the page through textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "text") node.textContent = value;
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function notice(box, message, isError = false) {
  $(box).append(el("div", { class: isError ? "error" : "", text: message }));
}

async function getJSON(url) {
  const response = await fetch(url);
  const data = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

let info = null;

// ---- tabs ---------------------------------------------------------------------------------------

function showTab(name) {
  for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== name;
  for (const link of document.querySelectorAll("nav a[data-tab]")) link.classList.toggle("active", link.dataset.tab === name);
  if (name === "browse") loadTasks();
  if (name === "progress") refreshProgress();
}

for (const link of document.querySelectorAll("nav a[data-tab]")) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    history.pushState(null, "", link.getAttribute("href"));
    showTab(link.dataset.tab);
  });
}
window.addEventListener("popstate", () => showTab(tabFromPath()));

function tabFromPath() {
  const name = location.pathname.replace(/^\//, "");
  return ["chat", "browse", "progress"].includes(name) ? name : "chat";
}

// ---- chat ---------------------------------------------------------------------------------------

let controller = null;
const columns = {};

function renderModelChoice() {
  const box = $("model-choice");
  for (const model of info.models) {
    const label = el("label", { title: model.path });
    label.append(el("input", { type: "checkbox", value: model.label, checked: "" }), ` ${model.label} `,
                 el("span", { class: "badge", text: model.prompt_format, title: "prompt format it was trained with" }));
    box.append(label);
  }
  for (const missing of info.unavailable) {
    box.append(el("span", { class: "muted", text: `${missing.label} (${missing.reason})` }));
  }
  if (!info.models.length) {
    notice("chat-notices", "No model is loaded: start lingalign serve with a run folder that has models, or with --model LABEL=PATH.", true);
    $("send").disabled = true;
  }
}

function chosenModels() {
  return [...document.querySelectorAll("#model-choice input:checked")].map((box) => box.value);
}

function makeColumns(labels) {
  const box = $("columns");
  box.replaceChildren();
  for (const label of labels) {
    const model = info.models.find((m) => m.label === label);
    const status = el("span", { class: "status", text: "queued" });
    const answer = el("div", { class: "answer" });
    const foot = el("div", { class: "foot" });
    box.append(el("div", { class: "col", "data-model": label },
      el("h2", {}, label, el("span", { class: "badge", text: model.prompt_format }), status), answer, foot));
    columns[label] = { status, answer, foot };
  }
}

function setStatus(label, text, kind = "") {
  const column = columns[label];
  if (!column) return;
  column.status.textContent = text;
  column.status.className = `status ${kind}`;
}

// The request's place in the server's queue: one line, rewritten each time it moves up, gone when its turn comes.
function showQueuePosition(position, waitSeconds) {
  let line = $("queue-status");
  if (position <= 0) {  // its turn: the models start one after the other
    if (line) line.remove();
    return;
  }
  if (!line) {
    line = el("div", { id: "queue-status" });
    $("chat-notices").append(line);
  }
  const before = position === 1 ? "1 request is" : `${position} requests are`;
  line.textContent = `In the queue: position ${position} (${before} served before yours; one generation runs at a ` +
                     `time), about ${waitSeconds} s.`;
  for (const label of Object.keys(columns)) setStatus(label, `queued: position ${position}`);
}

// A refused request (503 when the queue is full) or a bad one: the server's line, with the retry time if it has one.
function showRefusal(response, data) {
  const retry = response.headers.get("Retry-After");
  let message = data.error || `${response.status} ${response.statusText}`;
  if (response.status === 503 && retry && !message.includes(`${retry} s`)) message += ` (retry in ${retry} s)`;
  $("columns").replaceChildren();
  notice("chat-notices", message, true);
}

function handleEvent(name, data) {
  const column = columns[data.model];
  if (name === "queued") {
    showQueuePosition(data.position, data.wait_seconds);
  } else if (name === "notice") {
    notice("chat-notices", data.message);
  } else if (name === "start" && column) {
    setStatus(data.model, "generating…", "generating");
  } else if (name === "token" && column) {
    column.answer.textContent += data.text;
  } else if (name === "done" && column) {
    column.answer.textContent = data.text;
    if (!data.text) column.answer.append(el("span", { class: "muted", text: "(empty answer: the model ended at once)" }));
    setStatus(data.model, data.stopped === "length" ? "done (max new tokens)" : "done");
    column.foot.replaceChildren(
      el("span", { class: "badge lang", text: data.lang, title: `detected language: ${data.lang_name} (p=${data.lang_score})` }),
      el("span", { text: `${data.new_tokens} tokens · ${data.seconds} s` }));
  } else if (name === "error") {
    if (column) { setStatus(data.model, "error", "error"); column.answer.textContent = data.message; }
    else notice("chat-notices", data.message, true);
  }
}

function parseEvent(raw) {
  let name = "message";
  const data = [];
  for (const line of raw.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return data.length ? [name, JSON.parse(data.join("\n"))] : null;
}

async function sendChat(event) {
  event.preventDefault();
  $("chat-notices").replaceChildren();
  const prompt = $("prompt").value;
  if (!prompt.trim()) { notice("chat-notices", "The prompt is empty: type a question or an instruction.", true); return; }
  const labels = chosenModels();
  if (!labels.length) { notice("chat-notices", "Choose at least one model.", true); return; }
  const sampling = document.querySelector("input[name=decoding]:checked").value === "sampling";
  const body = { prompt, input: $("input").value, models: labels, sampling,
                 max_new_tokens: Number($("max-new").value) || 128 };
  if (sampling) {
    body.temperature = Number($("temperature").value);
    body.top_p = Number($("top-p").value);
    if ($("seed").value !== "") body.seed = Number($("seed").value);
  }
  makeColumns(labels);
  controller = new AbortController();
  $("send").disabled = true;
  $("stop").disabled = false;
  try {
    const response = await fetch("/api/chat", { method: "POST", headers: { "Content-Type": "application/json" },
                                                body: JSON.stringify(body), signal: controller.signal });
    if (!response.ok) {
      showRefusal(response, await response.json().catch(() => ({})));
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const parsed = parseEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (parsed) handleEvent(...parsed);
      }
    }
  } catch (error) {
    if ($("queue-status")) $("queue-status").remove();
    if (error.name === "AbortError") {
      for (const [label, column] of Object.entries(columns)) {
        if (!column.status.textContent.startsWith("done")) setStatus(label, "stopped");
      }
    } else {
      notice("chat-notices", `The connection to the server failed: ${error.message}`, true);
    }
  } finally {
    controller = null;
    $("send").disabled = false;
    $("stop").disabled = true;
  }
}

$("chat-form").addEventListener("submit", sendChat);
$("stop").addEventListener("click", () => controller && controller.abort());
for (const radio of document.querySelectorAll("input[name=decoding]")) {
  radio.addEventListener("change", () => { $("sampling-options").hidden = radio.value !== "sampling" || !radio.checked; });
}
$("prompt").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("chat-form").requestSubmit();
});

// ---- predictions browser ------------------------------------------------------------------------

let tasks = null;
let offset = 0;
const PAGE = 25;

function fillSelect(select, values, keepFirst) {
  const previous = select.value;
  const first = [...select.options].slice(0, keepFirst);
  select.replaceChildren(...first, ...values.map((v) => el("option", { value: v, text: v })));
  const all = [...select.options].map((o) => o.value);
  select.value = all.includes(previous) ? previous : all[0];
}

async function loadTasks() {
  if (tasks) return;
  $("browse-notices").replaceChildren();
  try {
    tasks = (await getJSON("/api/tasks")).tasks;
  } catch (error) {
    notice("browse-notices", error.message, true);
    return;
  }
  if (!tasks.length) { notice("browse-notices", "No predictions in this run yet (eval/<model>/predictions/)."); return; }
  fillSelect($("task"), tasks.map((t) => t.task), 0);
  const params = new URLSearchParams(location.search);
  if (params.get("task")) $("task").value = params.get("task");
  for (const [key, id] of [["disagree", "disagree"]]) $(id).checked = params.get(key) === "1";
  for (const [key, id] of [["gap", "gap"], ["wrong_lang", "wrong-lang"], ["score_model", "score-model"], ["min", "min"], ["max", "max"], ["q", "q"]]) {
    if (params.has(key)) $(id).dataset.wanted = params.get(key);
  }
  taskChanged(params.get("metric"));
}

function taskChanged(metric) {
  const task = tasks.find((t) => t.task === $("task").value) || tasks[0];
  $("task").value = task.task;
  fillSelect($("metric"), task.metrics, 0);
  if (metric && task.metrics.includes(metric)) $("metric").value = metric;
  fillSelect($("wrong-lang"), task.models, 3);
  fillSelect($("score-model"), task.models, 3);
  for (const id of ["gap", "wrong-lang", "score-model", "min", "max", "q"]) {
    if ($(id).dataset.wanted !== undefined) { $(id).value = $(id).dataset.wanted; delete $(id).dataset.wanted; }
  }
  offset = 0;
  loadItems();
}

function filterParams() {
  const params = new URLSearchParams({ task: $("task").value });
  if ($("metric").value) params.set("metric", $("metric").value);
  if ($("disagree").checked) { params.set("disagree", "1"); params.set("gap", $("gap").value || "50"); }
  if ($("wrong-lang").value) params.set("wrong_lang", $("wrong-lang").value);
  if ($("score-model").value) {
    params.set("score_model", $("score-model").value);
    params.set("min", $("min").value || "0");
    params.set("max", $("max").value || "100");
  }
  if ($("q").value.trim()) params.set("q", $("q").value.trim());
  return params;
}

async function loadItems() {
  const params = filterParams();
  history.replaceState(null, "", `/browse?${params}`);
  params.set("offset", offset);
  params.set("limit", PAGE);
  $("browse-notices").replaceChildren();
  let data;
  try {
    data = await getJSON(`/api/items?${params}`);
  } catch (error) {
    notice("browse-notices", error.message, true);
    return;
  }
  const per = data.models.map((m) => {
    const s = data.summary[m];
    const mean = s.mean == null ? "–" : s.mean.toFixed(1);
    return `${m}: mean ${data.metric || ""} ${mean}` + (data.kind === "choice" ? "" : `, ${s.wrong_lang} in another language`);
  });
  $("browse-summary").textContent = `${data.matched} of ${data.total} items (${data.kind}, answers expected in ${data.lang || "?"}) · ${per.join(" · ")}`;
  const head = el("tr", {}, el("th", { text: "item" }), el("th", { text: data.kind === "translation" ? "source" : "question" }),
                  el("th", { text: data.kind === "translation" ? "reference" : "gold" }),
                  ...data.models.map((m) => el("th", { text: m })));
  const rows = data.items.map((item) => {
    const question = el("td", {}, item.question || item.source || "");
    if (item.context) question.append(el("details", {}, el("summary", { text: item.question || item.source ? "passage" : "prompt" }),
                                          el("div", { class: "pred", text: item.context })));
    const cells = data.models.map((m) => {
      const pred = item.preds[m];
      if (!pred) return el("td", { class: "muted", text: "(no prediction)" });
      const scores = Object.entries(pred.scores).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(" · ");
      const lang = pred.lang ? el("span", { class: `badge ${pred.wrong_lang ? "wrong" : "lang"}`, text: pred.lang }) : null;
      return el("td", {}, el("div", { class: "pred", text: pred.text }), el("div", { class: "score" }, lang, lang ? " " : "", scores));
    });
    return el("tr", {}, el("td", { text: item.id }), question, el("td", { text: item.gold.join(" | ") }), ...cells);
  });
  $("items").replaceChildren(head, ...rows);
  $("items").dataset.query = params.toString();  // which filters the table shows (tests wait for it)
  const last = Math.min(data.offset + data.items.length, data.matched);
  $("page").textContent = data.matched ? `${data.offset + 1}–${last} of ${data.matched}` : "no item matches";
  $("prev").disabled = data.offset === 0;
  $("next").disabled = last >= data.matched;
}

$("task").addEventListener("change", () => taskChanged());
$("filters").addEventListener("change", (event) => { if (event.target.id !== "task") { offset = 0; loadItems(); } });
$("filters").addEventListener("submit", (event) => { event.preventDefault(); offset = 0; loadItems(); });
$("prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); loadItems(); });
$("next").addEventListener("click", () => { offset += PAGE; loadItems(); });

// ---- progress -----------------------------------------------------------------------------------

async function refreshProgress() {
  if ($("progress").hidden) return;
  let data;
  try {
    data = await getJSON("/api/progress");
  } catch (error) {
    $("progress-notices").replaceChildren();
    notice("progress-notices", error.message, true);
    return;
  }
  $("progress-notices").replaceChildren();
  const done = data.steps.filter((s) => s.status === "done").length;
  const age = data.seconds_since_write;
  $("progress-status").textContent = `${done} of ${data.steps.length} steps done` +
    (age == null ? "" : ` · last write ${age < 120 ? `${age} s` : `${Math.round(age / 60)} min`} ago`) +
    (data.active ? " · the run looks active" : "");
  const head = el("tr", {}, el("th", { text: "step" }), el("th", { text: "status" }), el("th", { text: "time" }), el("th", { text: "so far" }));
  const rows = data.steps.map((s) => el("tr", {}, el("td", { text: s.step }),
    el("td", { class: `st-${s.status}`, text: s.status + (s.error ? `: ${s.error}` : "") }),
    el("td", { text: s.seconds != null ? `${s.seconds} s` : "" }), el("td", { text: s.detail || "" })));
  $("steps").replaceChildren(head, ...rows);
  $("loss-chart").hidden = !data.loss_chart;
  if (data.loss_chart && $("loss-chart").src !== data.loss_chart) $("loss-chart").src = data.loss_chart;
}

setInterval(() => { if ($("auto-refresh").checked) refreshProgress(); }, 5000);

// ---- start --------------------------------------------------------------------------------------

(async () => {
  try {
    info = await getJSON("/api/info");
  } catch (error) {
    notice("chat-notices", `Cannot reach the server: ${error.message}`, true);
    return;
  }
  $("run-name").textContent = info.run ? `· ${info.run}` : "· models";
  document.title = `lingalign serve${info.run ? `: ${info.run}` : ""}`;
  $("report-link").hidden = !info.report;
  $("max-new").max = info.limits.max_new_tokens;
  renderModelChoice();
  showTab(tabFromPath());
})();

// Small DOM helpers. Text always goes in as text, never as HTML.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(node, ...children) {
  const focus = focusedIn(node);
  node.replaceChildren();
  append(node, children);
  if (focus) restoreFocus(node, focus);
}

// A redrawn list keeps the keyboard's place: the focused control is found again by its id, or
// by its row's data-key and its label, and focused again.
function focusedIn(node) {
  const active = document.activeElement;
  if (!active || active === document.body || !node.contains(active)) return null;
  const row = active.closest("[data-key]");
  return {
    id: active.id,
    row: row ? row.dataset.key : null,
    label: active.getAttribute("aria-label") || active.textContent,
    tag: active.tagName,
  };
}

function restoreFocus(node, focus) {
  let target = focus.id ? node.querySelector(`#${CSS.escape(focus.id)}`) : null;
  if (!target && focus.row) {
    const row = [...node.querySelectorAll("[data-key]")].find((candidate) => candidate.dataset.key === focus.row);
    target = row && [...row.querySelectorAll(focus.tag)]
      .find((candidate) => (candidate.getAttribute("aria-label") || candidate.textContent) === focus.label);
  }
  if (target) target.focus({ preventScroll: true });
}

export function badge(text, kind) {
  return h("span", { class: `badge ${kind}` }, text);
}

export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(undefined, { hour12: false });
}

const notice = () => document.getElementById("notice");
let noticeTimer;
export function tell(message, { error = false } = {}) {
  const box = notice();
  box.textContent = message;
  box.classList.toggle("error", error);
  box.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { box.hidden = true; }, error ? 12000 : 5000);
}

// A modal confirmation; resolves to true when confirmed.
export function confirmDialog(title, body, action) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  replace(document.getElementById("confirm-body"), body);
  document.getElementById("confirm-ok").textContent = action;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "cancel";
    dialog.showModal();
  });
}

// A labelled form field; `input` is the control. Errors for it go in its .field-error.
export function field(label, input, { hint, wide, id } = {}) {
  const controlId = id || input.id || `f-${input.name}`;
  input.id = controlId;
  const error = h("div", { class: "field-error", id: `${controlId}-error`, "aria-live": "polite" });
  input.setAttribute("aria-describedby", `${controlId}-error${hint ? ` ${controlId}-hint` : ""}`);
  const isCheck = input.type === "checkbox";
  return h("div", { class: `field${wide ? " wide" : ""}${isCheck ? " check" : ""}`, dataset: { field: input.name } },
    isCheck ? [input, h("label", { for: controlId }, label)] : [h("label", { for: controlId }, label), input],
    hint ? h("div", { class: "hint", id: `${controlId}-hint` }, hint) : null,
    error);
}

// Show the API's error beside its field (or at the form's top), clearing earlier ones.
export function showErrors(form, error) {
  for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  const general = form.querySelector(".form-error");
  if (general) general.textContent = "";
  if (!error) return;
  const fields = { ...(error.fields || {}) };
  if (Object.keys(fields).length === 0 && error.message) {
    // Messages name their field first ("cpuCount must be ..."): put it beside that field.
    const named = [...form.querySelectorAll("[name]")].map((n) => n.name)
      .find((name) => error.message.startsWith(name + " ") || error.message.startsWith(name + ":"));
    if (named) fields[named] = error.message;
  }
  let placed = false;
  for (const [name, message] of Object.entries(fields)) {
    const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!input) continue;
    input.setAttribute("aria-invalid", "true");
    const box = form.querySelector(`#${CSS.escape(input.id)}-error`);
    if (box) box.textContent = message;
    if (!placed) input.focus();
    placed = true;
  }
  if (!placed && general) general.textContent = error.message;
}

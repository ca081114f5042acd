// Apps: the list, publish / modify, disable / enable, delete (naming the jobs that go with it).
import { call, del, get, post, seg } from "../api.js";
import { badge, confirmDialog, field, h, replace, showErrors, tell } from "../dom.js";

async function appsWithState() {
  const apps = (await get("/api/app/list")) || [];
  const flags = await Promise.all(apps.map((app) =>
    get(`/api/app/${seg(app.appName)}/disable`).catch((failure) => { if (failure.status === 401) throw failure; return null; })));
  return apps.map((app, index) => ({ ...app, disabled: flags[index] === true }));
}

export async function render(main) {
  const filter = h("input", { type: "search", id: "app-filter", name: "filter", placeholder: "name or URL" });
  const body = h("tbody", { id: "apps-rows" });
  const table = h("table", { "aria-label": "Apps" },
    h("thead", {}, h("tr", {}, ["Name", "URL", "CPUs", "Memory MB", "Bootstrap script", "State", "Actions"]
      .map((text) => h("th", { scope: "col" }, text)))), body);
  replace(main, h("h1", {}, "Apps"),
    h("div", { class: "toolbar" },
      h("label", { for: "app-filter" }, "Filter", filter),
      h("a", { class: "button", href: "#/apps/new", id: "publish-app" }, "Publish app")),
    h("div", { class: "scroll" }, table));
  let apps = [];
  const draw = () => {
    const text = filter.value.trim().toLowerCase();
    const shown = apps.filter((a) => !text || a.appName.toLowerCase().includes(text) || (a.appURL || "").toLowerCase().includes(text));
    if (!shown.length) { replace(body, h("tr", {}, h("td", { colspan: 7, class: "empty" }, apps.length ? "No app matches." : "No app published yet."))); return; }
    replace(body, shown.map((app) => h("tr", { dataset: { app: app.appName, key: app.appName } },
      h("td", {}, h("strong", {}, app.appName)),
      h("td", { class: "mono" }, app.appURL),
      h("td", { class: "num" }, app.cpuCount),
      h("td", { class: "num" }, app.memoryMB),
      h("td", { class: "mono" }, app.bootstrapScript),
      h("td", {}, app.disabled ? badge("disabled", "bad") : badge("enabled", "ok")),
      h("td", {}, h("div", { class: "actions" },
        h("a", { class: "button secondary", href: `#/apps/${seg(app.appName)}/edit`, "aria-label": `Modify ${app.appName}` }, "Modify"),
        h("button", { type: "button", class: "secondary", "aria-label": `${app.disabled ? "Enable" : "Disable"} ${app.appName}`,
          onclick: () => toggle(app) }, app.disabled ? "Enable" : "Disable"),
        h("button", { type: "button", class: "danger", "aria-label": `Delete ${app.appName}`, onclick: () => remove(app) }, "Delete"))))));
  };
  const refresh = async () => { apps = await appsWithState(); draw(); };
  async function toggle(app) {
    try {
      await post(`/api/app/${seg(app.appName)}/${app.disabled ? "enable" : "disable"}`);
      tell(`App ${app.appName} ${app.disabled ? "enabled" : "disabled"}.`);
      await refresh();
    } catch (failure) { tell(failure.message, { error: true }); }
  }
  async function remove(app) {
    const jobs = ((await get("/api/job/jobs")) || []).filter((job) => job.appName === app.appName).map((job) => job.jobName);
    const what = h("div", {},
      h("p", {}, `Delete the app ${app.appName}? Its executors are shut down.`),
      jobs.length
        ? [h("p", {}, `These ${jobs.length} jobs are deregistered with it:`), h("ul", { id: "delete-jobs" }, jobs.map((name) => h("li", {}, name)))]
        : h("p", {}, "No job uses it."));
    if (!(await confirmDialog(`Delete app ${app.appName}`, what, "Delete app and its jobs"))) return;
    try {
      await del(`/api/app/${seg(app.appName)}`);
      tell(`App ${app.appName} deleted${jobs.length ? ` with ${jobs.join(", ")}` : ""}.`);
      await refresh();
    } catch (failure) { tell(failure.message, { error: true }); }
  }
  filter.addEventListener("input", draw);
  await refresh();
  return { refresh };
}

const APP_FIELDS = [
  ["appName", "Name", "text", { hint: "1 to 100 of A-Z a-z 0-9 _ . -" }],
  ["appURL", "URL", "text", { wide: true, hint: "http, https or file URL of a tarball or a script" }],
  ["bootstrapScript", "Bootstrap script", "text", { wide: true, hint: "path in the app, or a command, that runs one shard" }],
  ["cpuCount", "CPUs for the executor", "number", { step: "any" }],
  ["memoryMB", "Memory (MB) for the executor", "number", { step: "any" }],
  ["eventTraceSamplingCount", "Trace 1 in N daemon runs (0: all)", "number", { step: "1" }],
  ["appCacheEnable", "Agents cache the downloaded app", "checkbox", {}],
];

export async function renderForm(main, [appName]) {
  const editing = appName !== undefined;
  const existing = editing ? await get(`/api/app/${seg(appName)}`) : {};
  const inputs = {};
  const fields = APP_FIELDS.map(([name, label, type, options]) => {
    const input = h("input", { name, type, id: `app-${name}`, step: options.step });
    if (type === "checkbox") input.checked = editing ? Boolean(existing[name]) : true;
    else if (existing[name] !== undefined) input.value = existing[name];
    if (name === "appName" && editing) input.readOnly = true;
    inputs[name] = input;
    return field(label, input, { hint: options.hint, wide: options.wide });
  });
  const form = h("form", { class: "grid", novalidate: true, "aria-labelledby": "app-form-title" },
    fields,
    h("div", { class: "field wide" }, h("div", { class: "field-error form-error", role: "alert" }),
      h("div", { class: "actions" },
        h("button", { type: "submit", id: "app-submit" }, editing ? "Save changes" : "Publish"),
        h("a", { class: "button secondary", href: "#/apps" }, "Cancel"))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const [name, , type] of APP_FIELDS) {
      const input = inputs[name];
      if (type === "checkbox") body[name] = input.checked;
      else if (input.value !== "") body[name] = input.value;
    }
    try {
      await call(editing ? "PUT" : "POST", "/api/app", body);
      tell(`App ${body.appName} ${editing ? "modified" : "published"}.`);
      location.hash = "#/apps";
    } catch (failure) { showErrors(form, failure); }
  });
  replace(main, h("h1", { id: "app-form-title" }, editing ? `Modify app ${appName}` : "Publish an app"), form);
  (editing ? inputs.appURL : inputs.appName).focus();
}

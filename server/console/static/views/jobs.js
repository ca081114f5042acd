// Jobs: the list with a filter and state badges, the register / update form with a live cron
// preview, and a job's page (its state, its last runs, trigger / disable / enable / deregister).
import { call, del, get, post, seg } from "../api.js";
import { badge, confirmDialog, field, h, replace, showErrors, tell, when } from "../dom.js";
import { jobsWithState } from "./dashboard.js";

async function quiet(promise, fallback) {
  try { return await promise; } catch (failure) { if (failure.status === 401) throw failure; return fallback; }
}

function runningByJob(running) {
  const counts = {};
  for (const task of running || []) {
    const name = task.metaInfo && task.metaInfo.jobName;
    if (name) counts[name] = (counts[name] || 0) + 1;
  }
  return counts;
}

export async function render(main) {
  const filter = h("input", { type: "search", id: "job-filter", name: "filter", placeholder: "job, app or cron" });
  const body = h("tbody", { id: "jobs-rows" });
  const table = h("table", { "aria-label": "Jobs" },
    h("thead", {}, h("tr", {}, ["Job", "App", "Type", "Cron", "Shards", "State"].map((text) => h("th", { scope: "col" }, text)))), body);
  replace(main, h("h1", {}, "Jobs"),
    h("div", { class: "toolbar" },
      h("label", { for: "job-filter" }, "Filter", filter),
      h("a", { class: "button", href: "#/jobs/new", id: "register-job" }, "Register job")),
    h("div", { class: "scroll" }, table));
  let jobs = [], running = {}, ready = {};
  const draw = () => {
    const text = filter.value.trim().toLowerCase();
    const shown = jobs.filter((j) => !text || [j.jobName, j.appName, j.cron].some((v) => (v || "").toLowerCase().includes(text)));
    if (!shown.length) { replace(body, h("tr", {}, h("td", { colspan: 6, class: "empty" }, jobs.length ? "No job matches." : "No job registered yet."))); return; }
    replace(body, shown.map((job) => h("tr", { dataset: { job: job.jobName, key: job.jobName } },
      h("td", {}, h("a", { href: `#/jobs/${seg(job.jobName)}` }, job.jobName)),
      h("td", {}, job.appName),
      h("td", {}, job.jobExecutionType),
      h("td", { class: "mono" }, job.cron || ""),
      h("td", { class: "num" }, job.shardingTotalCount),
      h("td", {}, job.disabled ? badge("disabled", "bad") : badge("enabled", "ok"), " ",
        running[job.jobName] ? badge(`${running[job.jobName]} running`, "info") : null, " ",
        ready[job.jobName] ? badge(`${ready[job.jobName]} ready`, "warn") : null))));
  };
  const refresh = async () => {
    const [list, tasks, queued] = await Promise.all([
      jobsWithState(), quiet(get("/api/job/tasks/running"), []), quiet(get("/api/job/tasks/ready"), [])]);
    jobs = list;
    running = runningByJob(tasks);
    ready = Object.fromEntries((queued || []).map((entry) => [entry.jobName, Number(entry.times) || 0]));
    draw();
  };
  filter.addEventListener("input", draw);
  await refresh();
  return { refresh };
}

const JOB_FIELDS = [
  ["jobName", "Name", "text", { hint: "1 to 100 of A-Z a-z 0-9 _ . -" }],
  ["appName", "App", "text", {}],
  ["jobExecutionType", "Type", "select", { options: ["TRANSIENT", "DAEMON"] }],
  ["cron", "Cron (Quartz, seconds first)", "text", { hint: "e.g. 0/5 * * * * ? — the next fire times show below" }],
  ["shardingTotalCount", "Shards", "number", { step: "1" }],
  ["shardingItemParameters", "Shard parameters", "text", { hint: "e.g. 0=red,1=green" }],
  ["cpuCount", "CPUs per shard", "number", { step: "any" }],
  ["memoryMB", "Memory (MB) per shard", "number", { step: "any" }],
  ["jobParameter", "Job parameter", "text", {}],
  ["jobErrorHandlerType", "On failure", "select", { options: ["", "LOG", "THROW", "IGNORE"] }],
  ["jobExecutorServiceHandlerType", "Shards run", "select", { options: ["", "CPU", "SINGLE_THREAD"] }],
  ["description", "Description", "text", { wide: true }],
  ["failover", "Fail over shards lost with their agent", "checkbox", {}],
  ["misfire", "Run fires missed while busy", "checkbox", {}],
];

export async function renderForm(main, [jobName]) {
  const editing = jobName !== undefined;
  const [existing, apps] = await Promise.all([
    editing ? get(`/api/job/jobs/${seg(jobName)}`) : {}, quiet(get("/api/app/list"), [])]);
  const inputs = {};
  const preview = h("div", { class: "preview", id: "cron-preview", "aria-live": "polite" }, "Type a cron expression to see when it fires.");
  const appNames = h("datalist", { id: "job-app-names" }, (apps || []).map((a) => h("option", { value: a.appName })));
  const fields = JOB_FIELDS.map(([name, label, type, options]) => {
    let input;
    if (name === "appName") {
      // A text box with the published apps as suggestions.
      input = h("input", { name, type: "text", id: "job-appName", list: "job-app-names", autocomplete: "off" });
    } else if (type === "select") {
      input = h("select", { name, id: `job-${name}` }, options.options.map((choice) => h("option", { value: choice }, choice || "(default)")));
    } else {
      input = h("input", { name, type, id: `job-${name}`, step: options.step, autocomplete: "off" });
    }
    if (type === "checkbox") input.checked = editing ? Boolean(existing[name]) : name === "failover";
    else if (existing[name] !== undefined && existing[name] !== null) input.value = existing[name];
    if (name === "jobName" && editing) input.readOnly = true;
    inputs[name] = input;
    const wrapper = field(label, input, { hint: options.hint, wide: options.wide });
    if (name === "cron") wrapper.append(preview);
    if (name === "appName") wrapper.append(appNames);
    return wrapper;
  });
  if (!editing) { inputs.shardingTotalCount.value = 1; inputs.cpuCount.value = 0.1; inputs.memoryMB.value = 64; }
  let previewTimer, previewSeq = 0;
  const updatePreview = () => {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(async () => {
      const cron = inputs.cron.value.trim();
      const seq = ++previewSeq;
      if (!cron) { replace(preview, inputs.jobExecutionType.value === "DAEMON" ? "A DAEMON job needs a cron." : "No cron: the job runs only when triggered."); return; }
      try {
        const answer = await call("POST", "/api/cron/preview", { cron, count: 5 });
        if (seq !== previewSeq) return;
        inputs.cron.removeAttribute("aria-invalid");
        replace(preview, `Next fire times (${answer.timeZone}):`,
          (answer.fireTimes || []).length
            ? h("ol", {}, answer.fireTimes.map((t) => h("li", { class: "mono" }, t)))
            : h("div", {}, "It never fires again."));
      } catch (failure) {
        if (seq !== previewSeq) return;
        inputs.cron.setAttribute("aria-invalid", "true");
        replace(preview, h("span", { class: "field-error" }, failure.message));
      }
    }, 250);
  };
  inputs.cron.addEventListener("input", updatePreview);
  const form = h("form", { class: "grid", novalidate: true, "aria-labelledby": "job-form-title" },
    fields,
    h("div", { class: "field wide" }, h("div", { class: "field-error form-error", role: "alert" }),
      h("div", { class: "actions" },
        h("button", { type: "submit", id: "job-submit" }, editing ? "Update job" : "Register job"),
        h("a", { class: "button secondary", href: editing ? `#/jobs/${seg(jobName)}` : "#/jobs" }, "Cancel"))));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const [name, , type] of JOB_FIELDS) {
      const input = inputs[name];
      if (type === "checkbox") body[name] = input.checked;
      else if (input.value !== "") body[name] = input.value;
    }
    if (editing && existing.props) body.props = existing.props;
    try {
      await call(editing ? "PUT" : "POST", editing ? "/api/job/update" : "/api/job/register", body);
      tell(`Job ${body.jobName} ${editing ? "updated" : "registered"}.`);
      location.hash = `#/jobs/${seg(body.jobName)}`;
    } catch (failure) { showErrors(form, failure); }
  });
  replace(main, h("h1", { id: "job-form-title" }, editing ? `Update job ${jobName}` : "Register a job"), form);
  if (editing) updatePreview();
  (editing ? inputs.cron : inputs.jobName).focus();
}

// The job state answer (the operations API's JobState): known parts drawn, the whole as JSON too.
function outputLink(taskId, text = "output") {
  return h("a", { href: `#/output/${seg(taskId)}`, title: taskId, class: "output-link" }, text);
}

function stateView(state) {
  if (!state || typeof state !== "object") return h("p", { class: "empty" }, "No state available.");
  const parts = [];
  const reason = state.waitingReason;
  if (reason) {
    parts.push(h("p", { class: "notice error", id: "job-reason" },
      `Why nothing runs: ${reason}`, state.waitingSince ? ` (since ${when(state.waitingSince)})` : ""));
  }
  const items = [];
  if (state.enabled !== undefined) {
    const why = [state.jobDisabled ? "the job" : null, state.appDisabled ? "its app" : null].filter(Boolean).join(" and ");
    items.push(["Enabled", state.enabled ? badge("enabled", "ok") : badge(`disabled${why ? `: ${why}` : ""}`, "bad")]);
  }
  if (Array.isArray(state.nextFireTimes)) {
    items.push([`Next fires${state.zone ? ` (${state.zone})` : ""}`, state.nextFireTimes.length
      ? h("ol", { id: "job-next-fires" }, state.nextFireTimes.map((t) => h("li", { class: "mono" }, t))) : "none"]);
  }
  if (state.readyRuns !== undefined) items.push(["Runs waiting", String(state.readyRuns)]);
  if (items.length) parts.push(h("dl", { class: "kv" }, items.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])));
  if (state.lastRunsUnavailable) parts.push(h("p", { class: "hint" }, "The run history did not answer: last runs are not shown."));
  const shards = Array.isArray(state.shards) ? state.shards : [];
  if (shards.length) {
    parts.push(h("h3", {}, "Shards"), h("table", { "aria-label": "Shards", id: "job-shards" },
      h("thead", {}, h("tr", {}, ["Shard", "Task", "State", "Since", "Last run"].map((k) => h("th", { scope: "col" }, k)))),
      h("tbody", {}, shards.map((shard) => {
        const task = shard.currentTask || {};
        const last = shard.lastRun || null;
        const lastSuccess = last ? last.success : undefined; // absent while the run goes on
        const lastBadge = lastSuccess === undefined || lastSuccess === null
          ? badge("running", "info")
          : lastSuccess ? badge("succeeded", "ok") : badge("failed", "bad");
        return h("tr", {},
          h("td", { class: "num" }, shard.shardingItem ?? ""),
          h("td", {}, task.taskId ? outputLink(task.taskId) : "–"),
          h("td", {}, task.state ? badge(task.state, "info") : "idle"),
          h("td", {}, when(task.since)),
          h("td", {}, last
            ? [lastBadge, " ", when(last.completeTime || last.startTime),
              last.taskId ? [" ", outputLink(last.taskId)] : null,
              last.failureCause ? h("div", { class: "hint" }, last.failureCause.slice(0, 200)) : null]
            : "–"));
      }))));
  }
  const failover = Array.isArray(state.failover) ? state.failover : [];
  if (failover.length) {
    parts.push(h("h3", {}, "Waiting for failover"), h("ul", { id: "job-failover" }, failover.map((wait) =>
      h("li", {}, `shard ${wait.shardingItem ?? "?"}`, wait.attempts ? `, attempt ${wait.attempts}` : "",
        wait.retryAt ? `, next try ${when(wait.retryAt)}` : "",
        wait.originalTaskId ? [" (", outputLink(wait.originalTaskId, "last output"), ")"] : null))));
  }
  parts.push(h("details", {}, h("summary", {}, "Full state"), h("pre", { class: "mono", id: "job-state-json" }, JSON.stringify(state, null, 2))));
  return parts;
}

function runsTable(rows) {
  if (!rows || !rows.length) return h("p", { class: "empty" }, "No run recorded yet.");
  return h("table", { "aria-label": "Last runs" },
    h("thead", {}, h("tr", {}, ["Shard", "Started", "Completed", "Result", "Output"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", { id: "job-runs" }, rows.map((row) => h("tr", { dataset: { key: row.id || row.taskId } },
      h("td", { class: "num" }, row.shardingItem),
      h("td", {}, when(row.startTime)),
      h("td", {}, when(row.completeTime)),
      h("td", {}, row.completeTime ? (row.success ? badge("succeeded", "ok") : badge("failed", "bad")) : badge("running", "info"),
        row.failureCause ? h("div", { class: "hint" }, row.failureCause.slice(0, 200)) : null),
      h("td", {}, row.taskId ? outputLink(row.taskId) : "")))));
}

export async function renderDetail(main, [jobName]) {
  const title = h("h1", {}, `Job ${jobName}`);
  const actions = h("div", { class: "actions", role: "group", "aria-label": "Job actions" });
  const config = h("div", {});
  const state = h("div", { id: "job-state" });
  const running = h("div", { id: "job-running" });
  const lastRuns = h("div", {});
  replace(main, title, actions,
    h("div", { class: "cols" },
      h("section", { "aria-labelledby": "s-state" }, h("h2", { id: "s-state" }, "State"), state, h("h3", {}, "Tasks running"), running),
      h("section", { "aria-labelledby": "s-config" }, h("h2", { id: "s-config" }, "Configuration"), config)),
    h("section", { "aria-labelledby": "s-runs" }, h("h2", { id: "s-runs" }, "Last runs"), lastRuns));
  let disabled = false;
  const act = async (label, work) => {
    try { await work(); tell(`${label}: done.`); await refresh(); } catch (failure) { tell(`${label}: ${failure.message}`, { error: true }); }
  };
  const drawActions = (job) => replace(actions,
    h("button", { type: "button", id: "job-trigger", disabled: job.jobExecutionType === "DAEMON" || disabled,
      onclick: () => act("Trigger", () => post(`/api/job/${seg(jobName)}/trigger`)) }, "Trigger now"),
    disabled
      ? h("button", { type: "button", id: "job-enable", class: "secondary", onclick: () => act("Enable", () => post(`/api/job/${seg(jobName)}/enable`)) }, "Enable")
      : h("button", { type: "button", id: "job-disable", class: "secondary", onclick: () => act("Disable", () => post(`/api/job/${seg(jobName)}/disable`)) }, "Disable"),
    h("a", { class: "button secondary", href: `#/jobs/${seg(jobName)}/edit`, id: "job-edit" }, "Update"),
    h("button", { type: "button", class: "danger", id: "job-deregister", onclick: async () => {
      const ok = await confirmDialog(`Deregister ${jobName}`, h("p", {}, `Deregister the job ${jobName}? Its running tasks are killed and its waiting runs dropped.`), "Deregister");
      if (!ok) return;
      try { await del(`/api/job/${seg(jobName)}/deregister`); tell(`Job ${jobName} deregistered.`); location.hash = "#/jobs"; }
      catch (failure) { tell(failure.message, { error: true }); }
    } }, "Deregister"));
  async function refresh() {
    const [job, flag, jobState, tasks, executions] = await Promise.all([
      get(`/api/job/jobs/${seg(jobName)}`),
      quiet(get(`/api/job/${seg(jobName)}/disable`), false),
      quiet(get(`/api/job/${seg(jobName)}/state`), null),
      quiet(get("/api/job/tasks/running"), []),
      quiet(get("/api/job/events/executions", { jobName, per_page: 10, page: 1, sort: "startTime", order: "DESC" }), null),
    ]);
    disabled = flag === true;
    title.replaceChildren(`Job ${jobName} `, disabled ? badge("disabled", "bad") : badge("enabled", "ok"));
    drawActions(job);
    replace(config, h("dl", { class: "kv" }, Object.entries(job).map(([k, v]) => [h("dt", {}, k), h("dd", { class: "mono" }, typeof v === "object" ? JSON.stringify(v) : String(v))])));
    replace(state, stateView(jobState));
    const mine = (tasks || []).filter((t) => t.metaInfo && t.metaInfo.jobName === jobName);
    replace(running, mine.length
      ? h("ul", {}, mine.map((t) => h("li", {}, `shard ${(t.metaInfo.shardingItems || []).join(",")}: `, outputLink(t.id), h("span", { class: "hint mono" }, ` ${t.id}`))))
      : h("p", { class: "empty" }, "None."));
    replace(lastRuns, executions ? runsTable(executions.rows) : h("p", { class: "empty" }, "Run history is not available."));
  }
  await refresh();
  return { refresh };
}

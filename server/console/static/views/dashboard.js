// Dashboard: counts of apps, jobs and tasks, and task results over the last hour or 24 hours.
import { get, seg } from "../api.js";
import { h, replace } from "../dom.js";
import { resultsChart } from "../chart.js";

async function optional(promise, fallback) {
  try { return await promise; } catch (failure) { if (failure.status === 401) throw failure; return fallback; }
}

function card(label, value, id) {
  return h("div", { class: "card", id }, h("div", { class: "n" }, value ?? "–"), h("div", { class: "l" }, label));
}

export async function jobsWithState() {
  const jobs = (await get("/api/job/jobs")) || [];
  const flags = await Promise.all(jobs.slice(0, 500).map((job) =>
    optional(get(`/api/job/${seg(job.jobName)}/disable`), null)));
  return jobs.map((job, index) => ({ ...job, disabled: flags[index] === true }));
}

// The chart's period in hours, kept while the tab lives once chosen; until then the last hour
// when all the results are that recent, else the last 24 hours.
let chartHours = null;
const HOUR_MS = 3600 * 1000;

export async function render(main) {
  const cards = h("div", { class: "cards", "aria-label": "Counts" });
  const chart = h("div", { class: "chart" });
  const span = h("select", { id: "chart-span", "aria-label": "Chart period" },
    h("option", { value: "24" }, "last 24 hours"), h("option", { value: "1" }, "last hour"));
  span.value = String(chartHours ?? 24);
  replace(main, h("h1", {}, "Dashboard"), cards,
    h("div", { class: "toolbar" }, h("h2", { id: "chart-title" }, "Task results"), span), chart);
  let results = null;
  const drawChart = () => {
    if (!results) { replace(chart, h("p", { class: "empty" }, "No statistics available.")); return; }
    const recent = results.every((row) => Date.now() - new Date(row.statisticsTime).getTime() <= HOUR_MS);
    const hours = chartHours ?? (recent ? 1 : 24);
    span.value = String(hours);
    replace(chart, resultsChart(results, hours));
  };
  span.addEventListener("change", () => { chartHours = Number(span.value); drawChart(); });
  async function refresh() {
    let apps, jobs, running, ready, failover;
    [apps, jobs, running, ready, failover, results] = await Promise.all([
      get("/api/app/list"),
      jobsWithState(),
      optional(get("/api/job/tasks/running"), null),
      optional(get("/api/job/tasks/ready"), null),
      optional(get("/api/job/tasks/failover"), null),
      optional(get("/api/job/statistics/tasks/results", { since: "last24hours" }), null),
    ]);
    const count = (type, disabled) => jobs.filter((j) => j.jobExecutionType === type && j.disabled === disabled).length;
    const readyRuns = ready ? ready.reduce((sum, entry) => sum + (Number(entry.times) || 0), 0) : null;
    replace(cards,
      card("apps", (apps || []).length, "count-apps"),
      card("transient jobs enabled", count("TRANSIENT", false), "count-transient-enabled"),
      card("transient jobs disabled", count("TRANSIENT", true), "count-transient-disabled"),
      card("daemon jobs enabled", count("DAEMON", false), "count-daemon-enabled"),
      card("daemon jobs disabled", count("DAEMON", true), "count-daemon-disabled"),
      card("tasks running", running ? running.length : null, "count-running"),
      card("runs ready", readyRuns, "count-ready"),
      card("shards failing over", failover ? failover.length : null, "count-failover"));
    drawChart();
  }
  await refresh();
  return { refresh };
}

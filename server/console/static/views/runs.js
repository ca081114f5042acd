// Runs: executions and status traces, with the API's filters, sorting and paging.
import { get, seg } from "../api.js";
import { badge, h, replace, when } from "../dom.js";

const KINDS = {
  executions: {
    label: "Executions",
    path: "/api/job/events/executions",
    filters: [["jobName", "Job"], ["taskId", "Task id"], ["ip", "IP"], ["isSuccess", "Result", ["", "1", "0"]]],
    columns: [["jobName", "Job"], ["shardingItem", "Shard"], ["hostname", "Host"], ["ip", "IP"], ["source", "Source"],
      ["startTime", "Started"], ["completeTime", "Completed"], ["isSuccess", "Result"], ["taskId", "Task"]],
    defaultSort: "startTime",
  },
  statusTraces: {
    label: "Status traces",
    path: "/api/job/events/statusTraces",
    filters: [["jobName", "Job"], ["taskId", "Task id"], ["slaveId", "Agent id"], ["source", "Source", ["", "CLOUD_SCHEDULER", "CLOUD_EXECUTOR"]],
      ["executionType", "Execution type", ["", "READY", "FAILOVER"]], ["state", "State"]],
    columns: [["jobName", "Job"], ["shardingItems", "Shards"], ["state", "State"], ["source", "Source"], ["executionType", "Type"],
      ["slaveId", "Agent"], ["creationTime", "At"], ["message", "Message"], ["taskId", "Task"]],
    defaultSort: "creationTime",
  },
};

// Kept across visits and refreshes: which tab, the filters, the sort and the page.
const place = { kind: "executions", executions: {}, statusTraces: {} };

function cell(key, row) {
  const value = row[key === "isSuccess" ? "success" : key];
  if (key === "isSuccess") return row.completeTime ? (value ? badge("succeeded", "ok") : badge("failed", "bad")) : badge("running", "info");
  if (key === "startTime" || key === "completeTime" || key === "creationTime") return when(value);
  if (key === "taskId" && value) return h("a", { href: `#/output/${seg(value)}`, class: "output-link mono", title: value }, "output");
  if (key === "state") return badge(value, /FINISHED|RUNNING/.test(value || "") ? (value === "TASK_FINISHED" ? "ok" : "info") : /FAIL|LOST|ERROR|KILL|DROP/.test(value || "") ? "bad" : "warn");
  return value === undefined || value === null ? "" : String(value);
}

export async function render(main) {
  const tabs = h("div", { class: "tabs", role: "group", "aria-label": "History" });
  const filters = h("form", { class: "toolbar", id: "runs-filters" });
  const body = h("tbody", { id: "runs-rows" });
  const head = h("thead", {});
  const pager = h("div", { class: "pager" });
  const scroll = h("div", { class: "scroll", tabindex: "0", "aria-label": "Runs table" }, h("table", { "aria-label": "Runs" }, head, body));
  replace(main, h("h1", {}, "Runs"), tabs, filters, scroll, pager);

  const state = () => {
    const kind = KINDS[place.kind];
    const mine = place[place.kind];
    mine.page ??= 1; mine.perPage ??= 20; mine.sort ??= kind.defaultSort; mine.order ??= "DESC"; mine.filters ??= {};
    return mine;
  };

  const drawTabs = () => replace(tabs, Object.entries(KINDS).map(([key, kind]) =>
    h("button", { type: "button", "aria-pressed": String(place.kind === key), id: `tab-${key}`,
      onclick: () => { place.kind = key; drawAll(); refresh(); } }, kind.label)));

  const drawFilters = () => {
    const kind = KINDS[place.kind];
    const mine = state();
    const controls = kind.filters.map(([name, label, options]) => {
      const id = `filter-${name}`;
      const input = options
        ? h("select", { name, id }, options.map((o) => h("option", { value: o }, o === "" ? "any" : name === "isSuccess" ? (o === "1" ? "succeeded" : "failed") : o)))
        : h("input", { name, id, type: "search" });
      input.value = mine.filters[name] || "";
      return h("label", { for: id }, label, input);
    });
    const start = h("input", { name: "startTime", id: "filter-startTime", placeholder: "yyyy-MM-dd HH:mm:ss", size: 19 });
    const end = h("input", { name: "endTime", id: "filter-endTime", placeholder: "yyyy-MM-dd HH:mm:ss", size: 19 });
    start.value = mine.filters.startTime || ""; end.value = mine.filters.endTime || "";
    replace(filters, controls, h("label", { for: "filter-startTime" }, "From", start), h("label", { for: "filter-endTime" }, "To", end),
      h("button", { type: "submit", id: "runs-apply" }, "Apply"),
      h("button", { type: "button", class: "secondary", onclick: () => { mine.filters = {}; mine.page = 1; drawFilters(); refresh(); } }, "Clear"));
  };

  const drawHead = () => {
    const kind = KINDS[place.kind];
    const mine = state();
    replace(head, h("tr", {}, kind.columns.map(([key, label]) => {
      const sorted = mine.sort === key;
      return h("th", { scope: "col", "aria-sort": sorted ? (mine.order === "DESC" ? "descending" : "ascending") : "none" },
        h("button", { type: "button", onclick: () => {
          if (sorted) mine.order = mine.order === "DESC" ? "ASC" : "DESC"; else { mine.sort = key; mine.order = "DESC"; }
          mine.page = 1; drawHead(); refresh();
        } }, label, sorted ? (mine.order === "DESC" ? " ▼" : " ▲") : ""));
    })));
  };

  const drawAll = () => { drawTabs(); drawFilters(); drawHead(); };

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    const mine = state();
    mine.filters = Object.fromEntries([...new FormData(filters).entries()].filter(([, v]) => v !== ""));
    mine.page = 1;
    refresh();
  });

  async function refresh() {
    const kind = KINDS[place.kind];
    const mine = state();
    let answer;
    try {
      answer = await get(kind.path, { ...mine.filters, per_page: mine.perPage, page: mine.page, sort: mine.sort, order: mine.order });
    } catch (failure) {
      if (failure.status === 401) throw failure;
      replace(body, h("tr", {}, h("td", { colspan: kind.columns.length, class: "empty" }, `Could not read the history: ${failure.message}`)));
      replace(pager);
      return;
    }
    const rows = (answer && answer.rows) || [];
    const total = Number((answer && answer.total) || 0);
    const pages = Math.max(1, Math.ceil(total / mine.perPage));
    replace(body, rows.length
      ? rows.map((row) => h("tr", { dataset: { key: row.id } }, kind.columns.map(([key]) => h("td", { class: key === "shardingItem" ? "num" : "" }, cell(key, row)))))
      : h("tr", {}, h("td", { colspan: kind.columns.length, class: "empty" }, "Nothing recorded matches.")));
    const perPage = h("select", { id: "runs-per-page", "aria-label": "Rows per page" }, [10, 20, 50, 100].map((n) => h("option", { value: n }, `${n} per page`)));
    perPage.value = String(mine.perPage);
    perPage.addEventListener("change", () => { mine.perPage = Number(perPage.value); mine.page = 1; refresh(); });
    replace(pager,
      h("button", { type: "button", class: "secondary", id: "runs-prev", disabled: mine.page <= 1, onclick: () => { mine.page -= 1; refresh(); } }, "Previous"),
      h("span", { id: "runs-page" }, `Page ${mine.page} of ${pages} (${total} rows)`),
      h("button", { type: "button", class: "secondary", id: "runs-next", disabled: mine.page >= pages, onclick: () => { mine.page += 1; refresh(); } }, "Next"),
      perPage);
  }
  drawAll();
  await refresh();
  return { refresh };
}

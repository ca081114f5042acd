// The console's shell: hash routes, the login page, and the refresh of the current page.
import { ApiError, login, session, whenUnauthenticated } from "./api.js";
import { h, replace, tell } from "./dom.js";
import * as dashboard from "./views/dashboard.js";
import * as apps from "./views/apps.js";
import * as jobs from "./views/jobs.js";
import * as runs from "./views/runs.js";
import * as output from "./views/output.js";

// Lists are read again this often (ms); the page keeps its filter, scroll and paging.
export const REFRESH_MS = 4000;

const routes = [
  [/^#\/dashboard$/, dashboard.render, "dashboard"],
  [/^#\/apps$/, apps.render, "apps"],
  [/^#\/apps\/new$/, apps.renderForm, "apps"],
  [/^#\/apps\/([^/]+)\/edit$/, apps.renderForm, "apps"],
  [/^#\/jobs$/, jobs.render, "jobs"],
  [/^#\/jobs\/new$/, jobs.renderForm, "jobs"],
  [/^#\/jobs\/([^/]+)\/edit$/, jobs.renderForm, "jobs"],
  [/^#\/jobs\/([^/]+)$/, jobs.renderDetail, "jobs"],
  [/^#\/runs$/, runs.render, "runs"],
  [/^#\/output\/([^/]+)$/, output.render, "runs"],
];

let current = { stop: () => {} };
let afterLogin = "#/dashboard";

function renderLogin(main) {
  document.getElementById("top").hidden = true;
  const error = h("div", { class: "field-error form-error", role: "alert" });
  const username = h("input", { name: "username", id: "login-username", autocomplete: "username", required: true });
  const password = h("input", { name: "password", id: "login-password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in to ElasticJob-Cloud"),
    h("div", { class: "field" }, h("label", { for: "login-username" }, "User name"), username),
    h("div", { class: "field" }, h("label", { for: "login-password" }, "Password"), password),
    error,
    h("button", { type: "submit", id: "login-submit" }, "Log in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await login(username.value, password.value);
      location.hash = afterLogin;
      route();
    } catch (failure) {
      error.textContent = failure instanceof ApiError && failure.status === 401
        ? "Wrong user name or password." : failure.message;
      password.select();
    }
  });
  replace(main, form);
  username.focus();
}

function route() {
  current.stop();
  current = { stop: () => {} };
  const main = document.getElementById("main");
  const notice = document.getElementById("notice");
  if (notice.classList.contains("error")) notice.hidden = true; // an earlier page's trouble
  if (!session.token) {
    if (location.hash && location.hash !== "#/login") afterLogin = location.hash;
    if (location.hash !== "#/login") history.replaceState(null, "", "#/login");
    renderLogin(main);
    return;
  }
  if (!location.hash || location.hash === "#/login" || location.hash === "#/") {
    history.replaceState(null, "", "#/dashboard");
  }
  document.getElementById("top").hidden = false;
  document.getElementById("who").textContent = session.user;
  const found = routes.map(([pattern, render, nav]) => [location.hash.match(pattern), render, nav])
    .find(([match]) => match);
  if (!found) {
    replace(main, h("h1", {}, "Not found"), h("p", {}, h("a", { href: "#/dashboard" }, "Back to the dashboard")));
    return;
  }
  const [match, render, nav] = found;
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  replace(main);
  let timer = null;
  let stopped = false;
  const page = { refresh: null };
  current = { stop: () => { stopped = true; clearTimeout(timer); } };
  const tick = async () => {
    if (stopped || !page.refresh) return;
    try { await page.refresh(); } catch (failure) { if (failure.status !== 401) tell(failure.message, { error: true }); }
    if (!stopped) timer = setTimeout(tick, REFRESH_MS);
  };
  Promise.resolve(render(main, match.slice(1).map(decodeURIComponent)))
    .then((view) => {
      if (stopped || !view || !view.refresh) return;
      page.refresh = view.refresh;
      current.stop = () => { stopped = true; clearTimeout(timer); if (view.stop) view.stop(); };
      timer = setTimeout(tick, REFRESH_MS);
    })
    .catch((failure) => { if (failure.status !== 401) tell(failure.message, { error: true }); });
}

whenUnauthenticated(() => {
  // Several calls in flight may each answer 401: the login page is drawn once.
  if (document.getElementById("login-username")) return;
  route();
  tell("Your session has ended: log in again.", { error: true });
});
document.getElementById("logout").addEventListener("click", () => { session.clear(); afterLogin = "#/dashboard"; route(); });
window.addEventListener("hashchange", route);
route();

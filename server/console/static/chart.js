// Task results over time as an SVG bar chart (succeeded stacked under failed), drawn by hand.
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 960, HEIGHT = 260, LEFT = 48, BOTTOM = 28, TOP = 10, RIGHT = 10;
const OK = "#15803d", FAILED = "#b91c1c";

function el(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// `rows`: the statistics API's [{successCount, failedCount, statisticsTime}] (one per minute),
// drawn over the last `hours` hours.
export function resultsChart(rows, hours = 24) {
  const points = rows.map((row) => ({
    at: new Date(row.statisticsTime || row.creationTime || 0),
    ok: Number(row.successCount) || 0,
    failed: Number(row.failedCount) || 0,
  })).filter((p) => !Number.isNaN(p.at.getTime())).sort((a, b) => a.at - b.at);
  const wrap = document.createElement("figure");
  wrap.style.margin = "0";
  const end = points.length ? Math.max(Date.now(), points[points.length - 1].at.getTime()) : Date.now();
  const start = end - hours * 3600 * 1000;
  const shown = points.filter((p) => p.at.getTime() >= start);
  const totalOk = shown.reduce((s, p) => s + p.ok, 0);
  const totalFailed = shown.reduce((s, p) => s + p.failed, 0);
  const caption = document.createElement("figcaption");
  caption.className = "legend";
  const okLabel = document.createElement("span"); okLabel.style.setProperty("--c", OK);
  okLabel.textContent = `succeeded (${totalOk})`;
  const failedLabel = document.createElement("span"); failedLabel.style.setProperty("--c", FAILED);
  failedLabel.textContent = `failed (${totalFailed})`;
  caption.append(okLabel, failedLabel);
  const period = hours === 1 ? "hour" : `${hours} hours`;
  const svg = el("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img",
    "aria-label": `Task results in the last ${period}: ${totalOk} succeeded, ${totalFailed} failed` });
  const step = Math.max(1, Math.ceil(Math.max(0, ...shown.map((p) => p.ok + p.failed)) / 4)); // whole ticks
  const max = step * 4;
  const plotW = WIDTH - LEFT - RIGHT, plotH = HEIGHT - TOP - BOTTOM;
  const x = (t) => LEFT + ((t - start) / (end - start)) * plotW;
  const y = (v) => TOP + plotH - (v / max) * plotH;
  for (let i = 0; i <= 4; i++) {
    const value = step * i;
    svg.append(el("line", { x1: LEFT, x2: WIDTH - RIGHT, y1: y(value), y2: y(value), stroke: "#e5e7eb" }));
    svg.append(el("text", { x: LEFT - 6, y: y(value) + 4, "text-anchor": "end", "font-size": 11, fill: "#374151" }, value));
  }
  for (let tick = 0; tick <= 6; tick++) {
    const t = start + (tick * (end - start)) / 6;
    const label = new Date(t).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });
    svg.append(el("text", { x: x(t), y: HEIGHT - 8, "text-anchor": "middle", "font-size": 11, fill: "#374151" }, label));
  }
  const barW = Math.max(2, Math.min(24, (plotW / (hours * 60)) * 0.8));
  for (const p of shown) {
    const t = p.at.getTime();
    const title = `${p.at.toLocaleString(undefined, { hour12: false })}: ${p.ok} succeeded, ${p.failed} failed`;
    const okBar = el("rect", { x: x(t) - barW / 2, y: y(p.ok), width: barW, height: Math.max(0, y(0) - y(p.ok)), fill: OK });
    okBar.append(el("title", {}, title));
    const failedBar = el("rect", { x: x(t) - barW / 2, y: y(p.ok + p.failed), width: barW, height: Math.max(0, y(p.ok) - y(p.ok + p.failed)), fill: FAILED });
    failedBar.append(el("title", {}, title));
    svg.append(okBar, failedBar);
  }
  svg.append(el("line", { x1: LEFT, x2: WIDTH - RIGHT, y1: y(0), y2: y(0), stroke: "#6b7280" }));
  wrap.append(svg, caption);
  return wrap;
}

// A task's output: the tail of its sandbox's stdout or stderr, following it, or downloading it.
import { get, seg } from "../api.js";
import { h, replace, tell } from "../dom.js";

const TAIL_BYTES = 65536;
const CHUNK_BYTES = 1048576;
const KEEP_CHARS = 2_000_000; // the view keeps at most this much text

const read = (taskId, file, offset, length) =>
  get(`/api/job/tasks/${seg(taskId)}/output`, { file, offset, length });

// The executor's files hold every shard it ran, each line prefixed with "[job-item]".
function shardPrefix(taskId) {
  const [job, item] = taskId.split("@-@");
  return item === undefined ? null : `[${job}-${item}]`;
}

export async function render(main, [taskId]) {
  const file = h("select", { id: "output-file", name: "file" }, h("option", { value: "stdout" }, "stdout"), h("option", { value: "stderr" }, "stderr"));
  const follow = h("input", { type: "checkbox", id: "output-follow", checked: true });
  const prefix = shardPrefix(taskId);
  const shardOnly = h("input", { type: "checkbox", id: "output-shard-only", checked: prefix !== null, disabled: prefix === null });
  const download = h("button", { type: "button", class: "secondary", id: "output-download" }, "Download");
  const where = h("p", { class: "hint", id: "output-where" });
  const text = h("pre", { class: "output", id: "output-text", tabindex: "0", "aria-label": "Output" });
  replace(main, h("h1", {}, "Task output"), h("p", { class: "mono" }, taskId),
    h("div", { class: "toolbar" },
      h("label", { for: "output-file" }, "File", file),
      h("span", {}, follow, " ", h("label", { for: "output-follow" }, "Follow")),
      h("span", {}, shardOnly, " ", h("label", { for: "output-shard-only" }, `Only this shard's lines${prefix ? ` (${prefix})` : ""}`)),
      download),
    where, text);
  let next = 0;
  let raw = "";
  const draw = () => {
    const atBottom = text.scrollTop + text.clientHeight >= text.scrollHeight - 4;
    text.textContent = shardOnly.checked && prefix
      ? raw.split("\n").filter((line) => line.startsWith(prefix)).join("\n")
      : raw;
    if (atBottom || follow.checked) text.scrollTop = text.scrollHeight;
  };
  const append = (chunk) => {
    raw = (raw + chunk).slice(-KEEP_CHARS);
    draw();
  };
  shardOnly.addEventListener("change", draw);
  async function tail() {
    raw = "";
    text.textContent = "";
    try {
      const chunk = await read(taskId, file.value, undefined, TAIL_BYTES);
      next = Number(chunk.nextOffset);
      where.textContent = `${file.value} on ${chunk.hostname || "the agent"}: ${chunk.size} bytes${Number(chunk.offset) > 0 ? ", the last part shown" : ""}`;
      append(chunk.data);
    } catch (failure) {
      if (failure.status === 401) throw failure;
      where.textContent = `Could not read ${file.value}: ${failure.message}`;
    }
  }
  async function refresh() {
    if (!follow.checked) return;
    const chunk = await read(taskId, file.value, next, CHUNK_BYTES);
    if (chunk.data) append(chunk.data);
    next = Number(chunk.nextOffset);
    where.textContent = `${file.value} on ${chunk.hostname || "the agent"}: ${chunk.size} bytes`;
  }
  download.addEventListener("click", async () => {
    const parts = [];
    try {
      let offset = 0;
      for (;;) {
        const chunk = await read(taskId, file.value, offset, CHUNK_BYTES);
        if (Number(chunk.nextOffset) <= offset) break;
        parts.push(chunk.data);
        offset = Number(chunk.nextOffset);
        if (offset >= Number(chunk.size)) break;
      }
    } catch (failure) { tell(failure.message, { error: true }); return; }
    const link = h("a", { href: URL.createObjectURL(new Blob(parts, { type: "text/plain" })), download: `${taskId}.${file.value}.txt` });
    document.body.append(link);
    link.click();
    link.remove();
  });
  file.addEventListener("change", tail);
  await tail();
  return { refresh };
}

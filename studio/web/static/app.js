// prismarec curator page: keyboard review, bulk tagging, live preview. No build step.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf"]').content;

function toast(message, bad) {
  const el = document.getElementById("toast");
  el.textContent = message;
  el.className = bad ? "show bad" : "show";
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (el.className = ""), 2500);
}

async function post(url, body) {
  const resp = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
    body: JSON.stringify(body),
  });
  if (!resp.ok) {
    let detail = resp.statusText;
    try { detail = (await resp.json()).detail; } catch (e) { /* not JSON */ }
    throw new Error(detail);
  }
  return resp;
}

// -- review: g / b / 1-5 / u / arrows, a note, undo, auto-advance ---------------------------------------
function showVerdict(verdict, score, note) {
  // the signed-in curator's own line, built from text nodes only
  const list = document.getElementById("verdicts");
  const who = document.querySelector("#who b");
  const name = who ? who.textContent : "";
  for (const li of [...list.children]) if (li.dataset.curator === name || !li.dataset.curator) li.remove();
  if (!verdict) return;
  const li = document.createElement("li");
  li.className = `v ${verdict}`;
  li.dataset.curator = name;
  li.textContent = `${name}: ${verdict}${score ? " " + score + "/5" : ""}${note ? " — " + note : ""}`;
  list.prepend(li);
}

function setupReview(root) {
  const id = Number(root.dataset.render);
  const form = document.getElementById("verdict-form");
  const note = document.getElementById("note");
  const undo = document.getElementById("undo-btn");
  const autoNext = document.getElementById("auto-next");
  if (autoNext) {
    autoNext.checked = localStorage.getItem("prismarec-auto-next") === "1";
    autoNext.addEventListener("change", () => {
      localStorage.setItem("prismarec-auto-next", autoNext.checked ? "1" : "0");
      autoNext.blur();  // the keys tag again at once
    });
  }
  let current = form ? { verdict: form.dataset.verdict || null, score: Number(form.dataset.score) || null,
                          note: form.dataset.note || null } : {};
  const earlier = [];  // the verdicts this visit replaced, newest last: undo goes back through them
  const send = async (verdict, score, restoring = false) => {
    const text = restoring ? current.note : (note && note.value.trim() ? note.value.trim() : null);
    try {
      await post(`/api/renders/${id}/verdict`, { verdict, score, note: text, exact: restoring });
      if (!restoring) earlier.push(current);
      current = { verdict, score, note: text };
      showVerdict(verdict, score, text);
      if (undo) undo.disabled = earlier.length === 0;
      toast(`render ${id}: ${verdict}${score ? " " + score + "/5" : ""}`);
      if (autoNext && autoNext.checked && root.dataset.next) setTimeout(() => (location.href = `/render/${root.dataset.next}`), 400);
    } catch (e) { toast(e.message, true); }
  };
  // undo: the verdict before the last one comes back (withdrawn when there was none)
  const restore = async () => {
    if (!earlier.length) return;
    const previous = earlier.pop();
    if (previous.verdict) {
      current = previous;
      return send(previous.verdict, previous.score, true);
    }
    try {
      await post(`/api/renders/${id}/untag`, {});
      current = {};
      showVerdict(null);
      if (undo) undo.disabled = earlier.length === 0;
      toast(`render ${id}: verdict withdrawn`);
    } catch (e) { earlier.push(previous); toast(e.message, true); }
  };
  // g / b keep a score that agrees with them, so re-tagging never loses it
  const good = () => send("good", current.score >= 3 ? current.score : null);
  const bad = () => send("bad", current.score && current.score <= 2 ? current.score : null);
  if (form) {
    document.getElementById("delete-btn").addEventListener("click", async () => {
      if (!confirm(`Delete render ${id}, its verdicts and its file?`)) return;
      try {
        await post(`/api/renders/${id}/delete`, {});
        location.href = root.dataset.next ? `/render/${root.dataset.next}` : "/";
      } catch (e) { toast(e.message, true); }
    });
    form.querySelector('[data-verdict="good"]').addEventListener("click", good);
    form.querySelector('[data-verdict="bad"]').addEventListener("click", bad);
    undo.addEventListener("click", restore);
  }
  document.addEventListener("keydown", (ev) => {
    if (ev.target.closest("input, textarea, select")) return;
    if (ev.key === "g") good();
    else if (ev.key === "b") bad();
    else if (ev.key === "u") restore();
    else if (/^[1-5]$/.test(ev.key)) send(Number(ev.key) >= 3 ? "good" : "bad", Number(ev.key));
    else if (ev.key === "ArrowLeft" && root.dataset.prev) location.href = `/render/${root.dataset.prev}`;
    else if (ev.key === "ArrowRight" && root.dataset.next) location.href = `/render/${root.dataset.next}`;
  });
}

// -- gallery: bulk select and tag ----------------------------------------------------------------
function setupBulk(form) {
  const picked = () => [...document.querySelectorAll(".pick:checked")].map((c) => Number(c.value));
  document.addEventListener("change", () => (document.getElementById("bulk-count").textContent = picked().length));
  form.querySelectorAll("[data-bulk]").forEach((btn) =>
    btn.addEventListener("click", async () => {
      const ids = picked();
      if (!ids.length) return toast("select renders first", true);
      try {
        await post("/api/verdicts", { render_ids: ids, verdict: btn.dataset.bulk });
        toast(`${ids.length} render(s) tagged ${btn.dataset.bulk}`);
        setTimeout(() => location.reload(), 600);
      } catch (e) { toast(e.message, true); }
    }));
}

// -- tune: controls -> live preview, render, sweep -----------------------------------------------------
function readParams(form) {
  const params = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    if (el.dataset.kind === "bool") params[el.name] = el.checked;
    else if (el.dataset.kind === "number") {
      params[el.name] = el.value === "" ? null : Number(el.value);
    } else if (/^\d+$/.test(el.value)) params[el.name] = Number(el.value);  // a width typed or chosen
    else params[el.name] = el.value === "None" ? null : el.value;
  }
  return params;
}

// the controls set to a whole parameter set (a look from the strip)
function applyParams(form, params) {
  for (const el of form.elements) {
    if (!el.name || !(el.name in params)) continue;
    const v = params[el.name];
    if (el.dataset.kind === "bool") el.checked = Boolean(v);
    else el.value = v === null ? (el.dataset.kind === "number" ? "" : "None") : String(v);
    const slider = el.parentElement.querySelector(".slider");
    if (slider && v !== null) slider.value = v;
  }
}

// Prisma's filter row: the photo in its recommended looks and the painting filters; a click applies one
async function loadStrip(strip, form, base, onApply) {
  strip.replaceChildren(Object.assign(document.createElement("p"), { textContent: "finding looks…" }));
  const query = base.guide_id == null ? "" : `?guide=${base.guide_id}`;
  try {
    const resp = await fetch(`/api/looks/${base.photo_id}${query}`, { headers: { "X-CSRF-Token": csrf() } });
    if (!resp.ok) throw new Error((await resp.json()).detail || resp.statusText);
    const { looks } = await resp.json();
    strip.replaceChildren(...looks.map((look) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "look";
      button.title = `apply: ${look.label}`;
      const img = Object.assign(document.createElement("img"), { src: look.thumb, alt: look.label });
      button.append(img, Object.assign(document.createElement("span"), { textContent: look.label }));
      button.addEventListener("click", () => {
        applyParams(form, look.params);
        strip.querySelectorAll(".look").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
        onApply();
      });
      return button;
    }));
  } catch (e) { strip.replaceChildren(Object.assign(document.createElement("p"), { textContent: `no looks: ${e.message}` })); }
}

function setupTune(root) {
  const form = document.getElementById("controls");
  const img = document.getElementById("preview");
  const status = document.getElementById("preview-status");
  const base = { photo_id: Number(root.dataset.photo), guide_id: root.dataset.guide ? Number(root.dataset.guide) : null };
  const signedIn = Boolean(csrf());
  let timer = null;
  let generation = 0;
  const picker = document.getElementById("guide-picker");
  const thumb = document.getElementById("guide-thumb");
  picker.addEventListener("change", () => {
    base.guide_id = picker.value ? Number(picker.value) : null;
    thumb.hidden = !picker.value;
    if (picker.value) thumb.src = `/files/guide/${picker.value}?w=120`;
    refresh();
    if (strip) loadStrip(strip, form, base, refresh);
  });
  const strip = document.getElementById("strip");
  const split = document.getElementById("split");
  const showSplit = () => (img.style.clipPath = `inset(0 ${100 - Number(split.value)}% 0 0)`);
  split.addEventListener("input", showSplit);
  const refresh = () => {
    if (!signedIn) return;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++generation;
      status.textContent = "rendering preview…";
      try {
        const resp = await post("/api/preview", { ...base, params: readParams(form) });
        const blob = await resp.blob();
        if (mine !== generation) return; // a newer preview is on its way
        if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
        img.src = URL.createObjectURL(blob);
        img.dataset.generation = String(mine);
        img.classList.remove("stale");
        status.textContent = "preview up to date";
      } catch (e) {
        if (mine !== generation) return;
        img.classList.add("stale");  // the image shows earlier settings: say so
        status.textContent = `the preview shows earlier settings — ${e.message}`;
      }
    }, 250);
  };
  form.addEventListener("input", (ev) => {
    // a slider offers the common range; its number box takes any allowed value
    const label = ev.target.parentElement;
    if (ev.target.classList.contains("slider")) label.querySelector("input[type=number]").value = ev.target.value;
    else if (label.querySelector(".slider")) label.querySelector(".slider").value = ev.target.value;
    refresh();
  });
  const busy = (button, label) => { button.disabled = true; button.setAttribute("aria-busy", "true"); const was = button.textContent; button.textContent = label; return () => { button.disabled = false; button.removeAttribute("aria-busy"); button.textContent = was; }; };
  const renderBtn = document.getElementById("render-btn");
  renderBtn.addEventListener("click", async () => {
    if (renderBtn.disabled) return; // one render per click, never two for a double click
    const done = busy(renderBtn, "Rendering…");
    try {
      const data = await (await post("/api/render", { ...base, params: readParams(form) })).json();
      const job = await followJob(data.job);
      if (job.state === "finished") {
        toast(`saved render ${job.result.render_id}`);
        const link = document.getElementById("render-link");
        link.href = `/render/${job.result.render_id}`;
        link.hidden = false;
      } else toast(`render ${job.state}${job.result && job.result.error ? ": " + job.result.error : ""}`, job.state === "failed");
    } catch (e) { toast(e.message, true); }
    done();
  });
  document.getElementById("delete-photo-btn").addEventListener("click", async () => {
    if (!confirm("Delete this photo from the catalogue, with all its renders and their verdicts? (The photo's own file stays.)")) return;
    try {
      const data = await (await post(`/api/photos/${base.photo_id}/delete`, {})).json();
      toast(`photo deleted with ${data.renders} render(s)`);
      location.href = "/";
    } catch (e) { toast(e.message, true); }
  });
  document.getElementById("sweep-btn").addEventListener("click", async () => {
    try {
      const data = await (await post("/api/sweep", { ...base, params: readParams(form) })).json();
      toast(`queued a sweep of ${data.queued} renders`);
      const link = document.getElementById("sheet-link");
      link.hidden = false;
      link.dataset.queued = String(data.queued);
      const job = await followJob(data.job);
      if (job.state === "finished") {
        link.textContent = `sweep done (${job.result.rendered} new): open its contact sheet`;
        link.href = job.result.sheet;
      }
    } catch (e) { toast(e.message, true); }
  });
  refresh();
  if (strip) loadStrip(strip, form, base, refresh);
}

// a sweep's progress, ETA and cancel, polled once a second
function followJob(id) {
  // a render's or sweep's progress, time left and Cancel, polled once a second; resolves with the ended job
  const box = document.getElementById("job");
  const text = document.getElementById("job-status");
  const bar = document.getElementById("job-bar");
  const cancel = document.getElementById("job-cancel");
  box.hidden = false;
  cancel.disabled = false;
  cancel.onclick = async () => {
    cancel.disabled = true;
    try { await post(`/api/jobs/${id}/cancel`, {}); } catch (e) { toast(e.message, true); }
  };
  return new Promise((resolve) => {
    const poll = async () => {
      const job = await (await fetch(`/api/jobs/${id}`)).json();
      bar.max = job.total;
      bar.value = job.done;
      const eta = job.eta_s == null ? "" : `, about ${Math.ceil(job.eta_s)} s left`;
      const unit = job.kind === "render" ? "steps" : "renders";
      text.textContent = `${job.kind} ${job.state}: ${job.done} of ${job.total} ${unit}${eta}`;
      if (job.state === "queued" || job.state === "running") setTimeout(poll, job.kind === "render" ? 250 : 1000);
      else { cancel.disabled = true; resolve(job); }
    };
    poll();
  });
}

// -- contact sheet: tag the best render in one click ------------------------------------------------
function setupSheet() {
  document.querySelectorAll(".tag-best").forEach((btn) =>
    btn.addEventListener("click", async () => {
      try {
        await post(`/api/renders/${btn.dataset.render}/verdict`, { verdict: "good", score: 5 });
        btn.textContent = "tagged good 5";
        btn.disabled = true;
        toast(`render ${btn.dataset.render}: good 5/5`);
      } catch (e) { toast(e.message, true); }
    }));
}

document.addEventListener("DOMContentLoaded", () => {
  setupSheet();
  const review = document.getElementById("review");
  if (review) setupReview(review);
  const bulk = document.getElementById("bulk");
  if (bulk) setupBulk(bulk);
  const tune = document.getElementById("tune");
  if (tune) setupTune(tune);
});

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

// -- review: g / b / 1-5 / arrows ------------------------------------------------------------
function setupReview(root) {
  const id = Number(root.dataset.render);
  const send = async (verdict, score) => {
    try {
      await post(`/api/renders/${id}/verdict`, { verdict, score });
      const list = document.getElementById("verdicts");
      const who = document.querySelector("#who b");
      list.innerHTML = `<li class="v ${verdict}">${who ? who.textContent : ""}: ${verdict}${score ? " " + score + "/5" : ""}</li>`;
      toast(`render ${id}: ${verdict}${score ? " " + score + "/5" : ""}`);
    } catch (e) { toast(e.message, true); }
  };
  document.addEventListener("keydown", (ev) => {
    if (ev.target.closest("input, textarea, select")) return;
    if (ev.key === "g") send("good");
    else if (ev.key === "b") send("bad");
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
    } else params[el.name] = el.value === "None" ? null : el.value;
  }
  return params;
}

function setupTune(root) {
  const form = document.getElementById("controls");
  const img = document.getElementById("preview");
  const status = document.getElementById("preview-status");
  const base = { photo_id: Number(root.dataset.photo), guide_id: root.dataset.guide ? Number(root.dataset.guide) : null };
  let timer = null;
  let generation = 0;
  const refresh = () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++generation;
      status.textContent = "rendering preview…";
      try {
        const resp = await post("/api/preview", { ...base, params: readParams(form) });
        const blob = await resp.blob();
        if (mine !== generation) return;
        if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
        img.src = URL.createObjectURL(blob);
        img.dataset.generation = String(mine);
        status.textContent = "preview up to date";
      } catch (e) { status.textContent = e.message; }
    }, 250);
  };
  form.addEventListener("input", (ev) => {
    // a slider offers the common range; its number box takes any allowed value
    const label = ev.target.parentElement;
    if (ev.target.classList.contains("slider")) label.querySelector("input[type=number]").value = ev.target.value;
    else if (label.querySelector(".slider")) label.querySelector(".slider").value = ev.target.value;
    refresh();
  });
  document.getElementById("render-btn").addEventListener("click", async () => {
    try {
      const data = await (await post("/api/render", { ...base, params: readParams(form) })).json();
      toast(`saved render ${data.render_id}`);
    } catch (e) { toast(e.message, true); }
  });
  document.getElementById("sweep-btn").addEventListener("click", async () => {
    try {
      const data = await (await post("/api/sweep", { ...base, params: readParams(form) })).json();
      toast(`queued a sweep of ${data.queued} renders`);
      const link = document.getElementById("sheet-link");
      link.hidden = false;
      link.dataset.queued = String(data.queued);
    } catch (e) { toast(e.message, true); }
  });
  refresh();
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

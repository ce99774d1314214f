// Live updates without reloading: an attempt's status and score, and the instructor's queue.
"use strict";

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (cls) el.className = cls;
  return el;
}

function fmt(x) { return String(Math.round(x * 10000) / 10000); }

function showAttempt(box, a) {
  const status = document.getElementById("status");
  status.textContent = a.status;
  status.className = "status-" + a.status;
  box.dataset.status = a.status;
  if (a.score !== null && a.score !== undefined) {
    document.getElementById("score").textContent = fmt(a.score) + " / " + fmt(a.max_score);
    document.getElementById("withheld").textContent = a.withheld_tests ?
      "(" + a.withheld_tests + " hidden tests checked; not in this score yet)" : "";
    document.getElementById("score-line").hidden = false;
  }
  if (a.error) {
    const err = document.getElementById("error");
    err.textContent = a.error;
    err.hidden = false;
  }
  if (a.status === "graded" || a.status === "error") {
    document.getElementById("feedback-link").hidden = false;
    const table = document.getElementById("tests");
    while (table.rows.length > 1) table.deleteRow(1);
    for (const t of a.tests || []) {
      const row = table.insertRow();
      const what = row.insertCell();
      what.appendChild(document.createTextNode(t.description || t.name));
      if (t.output) what.appendChild(text("pre", t.output));
      row.appendChild(text("td", t.status, "status-" + t.status));
      row.appendChild(text("td", fmt(t.score) + " / " + fmt(t.max_score)));
    }
  }
}

async function follow(box) {
  let wait = 500;
  while (box.dataset.status === "queued" || box.dataset.status === "grading") {
    await new Promise(r => setTimeout(r, wait));
    wait = Math.min(wait * 1.3, 3000);
    try {
      const answer = await fetch("/api/submissions/" + box.dataset.id, {credentials: "same-origin"});
      if (answer.ok) showAttempt(box, await answer.json());
      else if (answer.status !== 429) return;
    } catch (e) { /* the service restarts: keep asking */ }
  }
}

async function watchQueue(section) {
  for (;;) {
    await new Promise(r => setTimeout(r, 2000));
    try {
      const answer = await fetch("/api/queue", {credentials: "same-origin"});
      if (!answer.ok) continue;
      const q = await answer.json();
      for (const el of section.querySelectorAll("[data-count]")) el.textContent = q.counts[el.dataset.count];
      document.getElementById("isolation").textContent = q.isolation || "starting";
    } catch (e) { /* keep asking */ }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("attempt");
  if (box) follow(box);
  const queue = document.getElementById("queue");
  if (queue && queue.dataset.live) watchQueue(queue);
});

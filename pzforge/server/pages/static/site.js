// pzforge's site: the little script the pages use (no framework, no build, no network beyond
// the site's own JSON). Everything works without it except copying, dialogs and live runs.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Share dialog and other dialogs: <button data-open-dialog="id">
  document.querySelectorAll("[data-open-dialog]").forEach((button) => {
    button.addEventListener("click", () => {
      const dialog = document.getElementById(button.dataset.openDialog);
      if (dialog && dialog.showModal) dialog.showModal();
    });
  });
  // Copy buttons: <button data-copy="input id">
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const input = document.getElementById(button.dataset.copy);
      if (!input) return;
      input.select();
      let done = false;
      try { await navigator.clipboard.writeText(input.value); done = true; } catch (e) { done = false; }
      const note = button.closest("dialog, .callout")?.querySelector(".copied");
      if (note) note.textContent = done ? "Copied." : "Selected: press Ctrl+C to copy.";
    });
  });
  // Repeated fieldsets (pipeline forms): <button data-add-item="template id" data-into="container id">
  document.querySelectorAll("[data-add-item]").forEach((button) => {
    button.addEventListener("click", () => {
      const template = document.getElementById(button.dataset.addItem);
      const into = document.getElementById(button.dataset.into);
      if (!template || !into) return;
      const index = into.querySelectorAll(":scope > fieldset").length;
      const html = template.innerHTML.replaceAll("__INDEX__", String(index)).replaceAll("__NUMBER__", String(index + 1));
      into.insertAdjacentHTML("beforeend", html);
      const first = into.lastElementChild.querySelector("input, select, textarea");
      if (first) first.focus();
    });
  });
  // Upload wizard, columns: choosing a role fills in its usual UCD (unless one was typed)
  document.querySelectorAll("form[data-ucds]").forEach((form) => {
    const ucds = JSON.parse(form.dataset.ucds);
    form.querySelectorAll("select[data-ucd-for]").forEach((select) => {
      select.addEventListener("change", () => {
        const input = document.getElementById(select.dataset.ucdFor);
        if (input && (!input.value || input.dataset.auto === "1")) {
          input.value = ucds[select.value] || "";
          input.dataset.auto = "1";
        }
      });
    });
  });
  // A run's live page: <section data-run-status="/runs/ID/status.json">
  // Logs show their end (the last lines are the news)
  document.querySelectorAll("pre.log").forEach((pre) => { pre.scrollTop = pre.scrollHeight; });
  const live = document.querySelector("[data-run-status]");
  if (live) followRun(live);
});

function followRun(section) {
  const url = section.dataset.runStatus;
  const set = (name, text) => {
    const el = section.querySelector(`[data-field="${name}"]`);
    if (el && el.textContent !== text) el.textContent = text;
  };
  const tick = async () => {
    let data;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) { setTimeout(tick, 5000); return; }
      data = await response.json();
    } catch (e) { setTimeout(tick, 5000); return; }
    const state = section.querySelector("[data-field=state]");
    if (state) { state.textContent = data.state; state.className = `state state-${data.state}`; }
    set("jobs", data.jobs);
    set("running", data.running);
    set("elapsed", data.elapsed);
    set("log", data.log);
    const bar = section.querySelector("progress");
    if (bar) { bar.max = Math.max(data.total, 1); bar.value = data.done; }
    const log = section.querySelector("[data-field=log]");
    if (log) log.scrollTop = log.scrollHeight;
    if (data.finished) {
      // the page itself shows the products and the report once the run is over
      if (section.dataset.finished !== "1") window.location.reload();
      return;
    }
    setTimeout(tick, 2000);
  };
  if (section.dataset.finished !== "1") setTimeout(tick, 1500);
}

// hearth admin UI: small enhancements only; every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Choosing how many rows to show applies at once.
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form && select.form.requestSubmit());
  }

  // Keyboard shortcuts: "/" focuses the filter box, "n" follows the page's "New ..." link.
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) return;
    const el = document.querySelector(`[data-key="${CSS.escape(event.key)}"]`);
    if (!el) return;
    event.preventDefault();
    if (el instanceof HTMLAnchorElement) el.click();
    else el.focus();
  });

  // Leaving a changed form asks first.
  for (const form of document.querySelectorAll("form[method='post']")) {
    let dirty = false;
    form.addEventListener("input", () => { dirty = true; });
    form.addEventListener("submit", () => { dirty = false; });
    window.addEventListener("beforeunload", (event) => {
      if (dirty) event.preventDefault();
    });
  }
});

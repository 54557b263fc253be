// Our own small script: keyboard sending, live character counts, copy buttons, tabs, scrolling.
(function () {
  "use strict";

  // Invalid forms answer 422 with their errors in place: swap those too.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "422", swap: true },
    { code: "[45]..", swap: false, error: true },
  ];

  function chatLog() { return document.getElementById("chat-log"); }

  function nearBottom(log) { return log.scrollHeight - log.scrollTop - log.clientHeight < 120; }

  function scrollDown() { const log = chatLog(); if (log) log.scrollTop = log.scrollHeight; }

  // Enter sends, Shift+Enter makes a new line.
  document.addEventListener("keydown", function (event) {
    const box = event.target;
    if (box.matches("#send-form textarea") && event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (box.value.trim()) htmx.trigger(box.form, "submit");
    }
  });

  // Live character count of a block's value against its limit.
  function updateCount(textarea) {
    const form = textarea.closest("form.block");
    if (!form) return;
    const limitInput = document.getElementById(textarea.dataset.limitFrom);
    const count = form.querySelector(".count");
    const limit = parseInt(limitInput && limitInput.value, 10) || 0;
    count.textContent = textarea.value.length;
    form.classList.toggle("over-limit", limit > 0 && textarea.value.length > limit);
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches("form.block textarea[name=value]")) updateCount(event.target);
    if (event.target.matches("form.block input[name=limit]")) {
      const textarea = event.target.closest("form.block").querySelector("textarea[name=value]");
      updateCount(textarea);
    }
  });

  // Copy a trace's JSON.
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    const text = source.content ? source.content.textContent : source.textContent;
    navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
  });

  // Tabs: mark the one clicked.
  document.addEventListener("click", function (event) {
    const tab = event.target.closest(".tabs .tab");
    if (!tab) return;
    tab.parentElement.querySelectorAll(".tab").forEach(function (t) { t.classList.remove("active"); });
    tab.classList.add("active");
  });

  // Keep the chat at its newest message while it streams, unless the reader scrolled up.
  let follow = true;
  document.addEventListener("htmx:wsBeforeMessage", function () { const log = chatLog(); follow = !log || nearBottom(log); });
  document.addEventListener("htmx:wsAfterMessage", function () { if (follow) scrollDown(); });
  document.addEventListener("htmx:afterSwap", function (event) { if (event.detail.target.id === "send-form") scrollDown(); });
  document.addEventListener("DOMContentLoaded", scrollDown);
})();

// Files dropped on a source's drop zone (or chosen in it) are uploaded at once.
(function () {
  "use strict";
  function zoneOf(event) { return event.target.closest && event.target.closest(".dropzone"); }
  document.addEventListener("dragover", function (event) {
    const zone = zoneOf(event);
    if (zone) { event.preventDefault(); zone.classList.add("over"); }
  });
  document.addEventListener("dragleave", function (event) {
    const zone = zoneOf(event);
    if (zone) zone.classList.remove("over");
  });
  document.addEventListener("drop", function (event) {
    const zone = zoneOf(event);
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove("over");
    const input = zone.querySelector("input[type=file]");
    input.files = event.dataTransfer.files;
    htmx.trigger(input.form, "submit");
  });
  document.addEventListener("change", function (event) {
    if (event.target.matches(".dropzone input[type=file]") && event.target.files.length) htmx.trigger(event.target.form, "submit");
  });
})();

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

  // A request that failed (a service down, a server error) says so in a banner, not silently.
  document.addEventListener("htmx:responseError", function (event) {
    const xhr = event.detail.xhr;
    window.playgroundError(xhr.status, xhr.getResponseHeader("Content-Type"), xhr.responseText);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    const banner = document.getElementById("request-error");
    if (banner && event.detail.successful) banner.remove();
  });

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

// A banner with what went wrong: the server's words when it sent plain text, else its status.
window.playgroundError = function (status, contentType, text) {
  let banner = document.getElementById("request-error");
  if (!banner) {
    banner = document.createElement("div");
    banner.id = "request-error";
    banner.className = "error banner";
    banner.setAttribute("role", "alert");
    document.body.prepend(banner);
  }
  const plain = (contentType || "").startsWith("text/plain");
  banner.textContent = plain && text ? text : "The server answered " + status + "; try again.";
};

// Files dropped on a source's drop zone (or chosen in it) are uploaded at once, one request per
// file, one after another: the upload limit is per file (UPLOAD_MAX_BYTES), and each file is listed
// as soon as it is stored.
(function () {
  "use strict";
  async function uploadEach(form, files) {
    const url = form.getAttribute("hx-post");
    const target = form.getAttribute("hx-target");
    const headers = Object.assign({"HX-Request": "true"}, JSON.parse(document.body.getAttribute("hx-headers") || "{}"));
    for (const file of Array.from(files)) {
      const body = new FormData();
      body.append("files", file, file.name);
      let response;
      try {
        response = await fetch(url, {method: "POST", body: body, headers: headers, credentials: "same-origin"});
      } catch (error) {
        window.playgroundError(0, "text/plain", "The upload of " + file.name + " did not reach the server; try again.");
        return;
      }
      const text = await response.text();
      if (response.ok || response.status === 422) htmx.swap(target, text, {swapStyle: "outerHTML"});
      if (!response.ok) {  // a refusal (the quota, a service down): the files after it wait
        if (response.status !== 422) window.playgroundError(response.status, response.headers.get("Content-Type"), text);
        return;
      }
    }
    const banner = document.getElementById("request-error");
    if (banner) banner.remove();
  }

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
    uploadEach(zone.closest("form"), event.dataTransfer.files);
  });
  document.addEventListener("change", function (event) {
    if (event.target.matches(".dropzone input[type=file]") && event.target.files.length) {
      uploadEach(event.target.form, event.target.files);
    }
  });
})();

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
  // Whether the page hears the agent's events: a turn started before the socket opens is not seen live
  document.addEventListener("htmx:wsOpen", function () { document.body.dataset.live = "on"; });
  document.addEventListener("htmx:wsClose", function () { document.body.dataset.live = "off"; });
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

// The tool editor: a textarea over a <pre><code> that shows the same text highlighted as Python.
// The textarea keeps the caret, selection, undo and form value; its text is transparent once the
// highlighting is in place (without this script it stays a plain textarea).
(function () {
  "use strict";
  const KEYWORDS = new Set(("False None True and as assert async await break class continue def del elif else except " +
    "finally for from global if import in is lambda nonlocal not or pass raise return try while with yield").split(" "));
  const BUILTINS = new Set(("abs all any bool bytes callable chr dict dir divmod enumerate filter float format frozenset " +
    "getattr hasattr hash hex id int isinstance issubclass iter len list map max min next object open ord pow print " +
    "range repr reversed round set setattr slice sorted str sum super tuple type zip Exception ValueError TypeError " +
    "KeyError IndexError RuntimeError NotImplementedError").split(" "));
  const TOKEN = new RegExp([
    "(#[^\\n]*)",  // 1 comment
    "((?:[rRbBuUfF]{1,2})?(?:\"\"\"[\\s\\S]*?(?:\"\"\"|(?![\\s\\S]))|'''[\\s\\S]*?(?:'''|(?![\\s\\S]))))",  // 2 triple-quoted, maybe unfinished
    "((?:[rRbBuUfF]{1,2})?(?:\"(?:[^\"\\\\\\n]|\\\\[\\s\\S])*\"?|'(?:[^'\\\\\\n]|\\\\[\\s\\S])*'?))",  // 3 one-line string
    "(^[ \\t]*@[A-Za-z_][\\w.]*)",  // 4 decorator, at the start of a line
    "(\\b(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|\\d[\\d_]*(?:\\.[\\d_]*)?(?:[eE][+-]?\\d+)?[jJ]?))",  // 5 number
    "([A-Za-z_][A-Za-z0-9_]*)",  // 6 name
  ].join("|"), "gm");

  function escape(text) { return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }

  function span(kind, html) { return '<span class="tok-' + kind + '">' + html + "</span>"; }

  function fstring(text) {  // the {expressions} of an f-string stand out; {{ and }} are literal braces
    return escape(text).replace(/\{\{|\}\}|\{[^{}]*\}/g, function (part) {
      return part === "{{" || part === "}}" ? part : span("interp", part);
    });
  }

  window.playgroundHighlight = function (source) {
    let html = "", last = 0, afterDef = false, match;
    TOKEN.lastIndex = 0;
    while ((match = TOKEN.exec(source)) !== null) {
      const text = match[0];
      html += escape(source.slice(last, match.index));
      last = match.index + text.length;
      if (match[1]) html += span("comment", escape(text));
      else if (match[2] || match[3]) {
        html += /^[rRbBuU]?[fF]/.test(text) ? '<span class="tok-string tok-fstring">' + fstring(text) + "</span>"
          : span("string", escape(text));
      } else if (match[4]) html += span("decorator", escape(text));
      else if (match[5]) html += span("number", escape(text));
      else if (KEYWORDS.has(text)) html += span("keyword", text);
      else if (afterDef) html += span("defname", text);
      else if (BUILTINS.has(text)) html += span("builtin", text);
      else html += text;
      afterDef = match[6] !== undefined && (text === "def" || text === "class");
    }
    // a final newline adds a line in a textarea but not in a <pre>: keep the two the same height
    return html + escape(source.slice(last)) + (source.endsWith("\n") || source === "" ? " " : "");
  };

  function parts(editor) {
    return {textarea: editor.querySelector("textarea"), pre: editor.querySelector("pre"),
            code: editor.querySelector("pre code"), mark: editor.querySelector(".error-line")};
  }

  function render(editor) {
    const p = parts(editor);
    p.code.innerHTML = window.playgroundHighlight(p.textarea.value);
    syncScroll(editor);
  }

  function syncScroll(editor) {
    const p = parts(editor);
    p.pre.scrollTop = p.textarea.scrollTop;
    p.pre.scrollLeft = p.textarea.scrollLeft;
  }

  // The line the schema preview blames, marked in the editor.
  function markErrorLine() {
    const preview = document.getElementById("schema-preview");
    document.querySelectorAll("[data-code-editor]").forEach(function (editor) {
      const p = parts(editor);
      const line = preview && parseInt(preview.dataset.errorLine, 10);
      if (!p.mark) return;
      p.mark.hidden = !line;
      if (!line) return;
      const style = getComputedStyle(p.textarea);
      p.mark.style.top = (parseFloat(style.paddingTop) + (line - 1) * parseFloat(style.lineHeight)) + "px";
      p.mark.title = preview.textContent.trim();
    });
  }

  function setUp(root) {
    const editors = Array.from(root.querySelectorAll ? root.querySelectorAll("[data-code-editor]") : []);
    if (root.matches && root.matches("[data-code-editor]")) editors.push(root);
    editors.forEach(function (editor) { render(editor); editor.classList.add("ready"); });
    markErrorLine();
  }
  htmx.onLoad(setUp);

  document.addEventListener("input", function (event) {
    const editor = event.target.closest && event.target.closest("[data-code-editor]");
    if (editor) render(editor);
  });
  document.addEventListener("scroll", function (event) {
    const editor = event.target.closest && event.target.closest("[data-code-editor]");
    if (editor) syncScroll(editor);
  }, true);  // scroll does not bubble

  function insert(textarea, text) {
    // execCommand keeps the browser's undo history; setRangeText where it is gone
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      textarea.setRangeText(text, textarea.selectionStart, textarea.selectionEnd, "end");
      textarea.dispatchEvent(new Event("input", {bubbles: true}));
    }
  }

  // Tab indents by 4 spaces, Shift+Tab takes up to 4 back, Enter keeps the line's indentation (one
  // level more after a colon). Escape, then Tab, leaves the editor, as a keyboard user expects.
  let leaving = false;
  document.addEventListener("keydown", function (event) {
    const textarea = event.target;
    if (!(textarea.matches && textarea.matches("[data-code-editor] textarea"))) return;
    if (event.key === "Escape") { leaving = true; return; }
    if (event.key === "Tab" && !leaving && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      if (!event.shiftKey) { insert(textarea, "    "); return; }
      const start = textarea.value.lastIndexOf("\n", textarea.selectionStart - 1) + 1;
      const spaces = textarea.value.slice(start, start + 4).match(/^ */)[0].length;
      if (spaces) {
        textarea.setSelectionRange(start, start + spaces);
        insert(textarea, "");
      }
    } else if (event.key === "Enter" && !event.isComposing && !event.shiftKey) {
      const before = textarea.value.slice(0, textarea.selectionStart);
      const line = before.slice(before.lastIndexOf("\n") + 1);
      const indent = line.match(/^[ \t]*/)[0] + (/:\s*(#.*)?$/.test(line) ? "    " : "");
      event.preventDefault();
      insert(textarea, "\n" + indent);
    }
    if (event.key !== "Shift") leaving = false;
  });

  document.addEventListener("htmx:afterSettle", markErrorLine);
})();

// The tool rule form shows the fields of the kind chosen (without this script it shows them all).
(function () {
  "use strict";
  function showKindFields(form) {
    const kind = form.querySelector("select[name=type]").value;
    form.querySelectorAll("[data-kinds]").forEach(function (field) {
      field.hidden = !field.dataset.kinds.split(" ").includes(kind);
    });
  }
  htmx.onLoad(function (root) {
    const forms = Array.from(root.querySelectorAll ? root.querySelectorAll("#rule-form") : []);
    if (root.id === "rule-form") forms.push(root);
    forms.forEach(showKindFields);
  });
  document.addEventListener("change", function (event) {
    if (event.target.matches("#rule-form select[name=type]")) showKindFields(event.target.form);
  });
})();

// A link that opens one of the agent page's tabs (after saving settings: the Context tab).
document.addEventListener("click", function (event) {
  const link = event.target.closest("[data-show-tab]");
  if (!link) return;
  event.preventDefault();
  const tab = Array.from(document.querySelectorAll(".tabs .tab")).find(function (t) {
    return t.textContent.trim() === link.dataset.showTab;
  });
  if (tab) tab.click();
});

// The config editor: line numbers beside the textarea, lines with problems marked, and a
// "Check" button that asks the server for the problems of the text without saving it.
"use strict";
(function () {
  function problemLines(root) {
    const lines = new Set();
    root.querySelectorAll(".codeai-problem[data-line]").forEach(function (item) {
      const line = parseInt(item.dataset.line, 10);
      if (line) lines.add(line);
    });
    return lines;
  }

  function setUp(editor) {
    const textarea = editor.querySelector("textarea");
    const gutter = editor.querySelector(".codeai-editor-gutter");
    let marked = problemLines(document);

    function draw() {
      const count = textarea.value.split("\n").length;
      const numbers = [];
      for (let line = 1; line <= count; line++) {
        const cls = marked.has(line) ? ' class="codeai-error-line"' : "";
        numbers.push("<span" + cls + ">" + line + "</span>");
      }
      gutter.innerHTML = numbers.join("");
      gutter.scrollTop = textarea.scrollTop;
    }

    textarea.addEventListener("input", draw);
    textarea.addEventListener("scroll", function () { gutter.scrollTop = textarea.scrollTop; });
    textarea.addEventListener("keydown", function (event) {
      // Tab indents instead of leaving the field (Shift+Tab still leaves it).
      if (event.key === "Tab" && !event.shiftKey) {
        event.preventDefault();
        textarea.setRangeText("    ", textarea.selectionStart, textarea.selectionEnd, "end");
        draw();
      }
    });
    new ResizeObserver(function () { gutter.style.height = textarea.offsetHeight + "px"; })
      .observe(textarea);

    const toolbar = document.createElement("p");
    toolbar.className = "codeai-editor-toolbar";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = "Check";
    const result = document.createElement("span");
    result.className = "codeai-check-result";
    result.setAttribute("aria-live", "polite");
    // The result replaces the stored verdict's panel (a saved config's "Problems"), which
    // no longer describes the text being edited; a new config gets a panel of its own.
    const panel = document.querySelector(".field-problems .readonly");
    const details = panel || document.createElement("div");
    toolbar.append(button, result);
    editor.after(toolbar);
    if (!panel) toolbar.after(details);

    button.addEventListener("click", function () {
      const body = new FormData();
      body.append("content", textarea.value);
      const token = document.querySelector("input[name=csrfmiddlewaretoken]");
      result.textContent = "checking…";
      fetch(editor.dataset.checkUrl, {
        method: "POST", body: body, credentials: "same-origin",
        headers: {"X-CSRFToken": token ? token.value : ""},
      }).then(function (response) { return response.json(); }).then(function (data) {
        result.textContent = data.valid ? "✓ no problems" : "✗ " + data.errors.length + " problem(s)";
        details.innerHTML = data.html;
        marked = problemLines(details);
        draw();
      }).catch(function () { result.textContent = "the check failed; try again"; });
    });
    draw();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".codeai-editor").forEach(setUp);
  });
})();

// The config editor: line numbers beside the textarea, lines with problems marked, DSL
// syntax coloured (keywords, strings, comments, exec text) in a <pre> under a textarea
// whose own text is transparent, and a "Check" button that asks the server for the
// problems of the text without saving it (the same check as saving).
"use strict";
(function () {
  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  // Where exec text that starts at `start` ends (the index of its closing "}"), as the
  // parser reads it (dsl.md change 8): braces nest outside quotes; quoted and escaped
  // braces are text; if that never closes the block, the first "}" does; -1: unclosed.
  function execEnd(text, start) {
    let depth = 1;
    for (let i = start; i < text.length; i++) {
      const c = text[i];
      if (c === "\\") {
        if (i + 1 >= text.length) break;
        i++;
      } else if (c === "'" || c === '"') {
        let j = i + 1;
        while (j < text.length && text[j] !== c) j += c === '"' && text[j] === "\\" ? 2 : 1;
        if (j >= text.length) break;
        i = j;
      } else if (c === "{") {
        depth++;
      } else if (c === "}" && --depth === 0) {
        return i;
      }
    }
    return text.indexOf("}", start);
  }

  const TOKEN = /\/\/[^\n]*|\/\*[\s\S]*?(?:\*\/|$)|"(?:[^"\\]|\\[\s\S])*"?|[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]*)?/g;

  // The text as HTML with a span per coloured token; everything else stays as it is.
  function highlight(text, keywords) {
    const out = [];
    let done = 0;
    function span(cls, from, to) {
      out.push(escapeHtml(text.slice(done, from)));
      out.push('<span class="codeai-tok-' + cls + '">' + escapeHtml(text.slice(from, to)) + "</span>");
      done = to;
    }
    TOKEN.lastIndex = 0;
    let match;
    while ((match = TOKEN.exec(text)) !== null) {
      const word = match[0], at = match.index;
      const first = word[0];
      if (first === "/") {
        span("comment", at, at + word.length);
      } else if (first === '"') {
        span("string", at, at + word.length);
      } else if (first >= "0" && first <= "9") {
        span("number", at, at + word.length);
      } else if (word === "exec" && /^\s*\{/.test(text.slice(at + 4, at + 64))) {
        span("keyword", at, at + 4);
        const open = text.indexOf("{", at + 4) + 1;
        const close = execEnd(text, open);
        const end = close < 0 ? text.length : close;
        out.push(escapeHtml(text.slice(done, open)));
        done = open;
        span("exec", open, end);
        TOKEN.lastIndex = end;
      } else if (keywords.has(word)) {
        span("keyword", at, at + word.length);
      }
    }
    out.push(escapeHtml(text.slice(done)));
    // A final newline needs a character after it to take up a line in the <pre>.
    return out.join("") + "\n";
  }

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
    const keywords = new Set((editor.dataset.keywords || "").split(" "));
    let marked = problemLines(document);

    const code = document.createElement("div");
    code.className = "codeai-editor-code";
    const colours = document.createElement("pre");
    colours.className = "codeai-editor-highlight";
    colours.setAttribute("aria-hidden", "true");
    textarea.before(code);
    code.append(colours, textarea);
    editor.classList.add("codeai-highlighting");
    // Whatever the admin's theme does to the textarea, the colours take the same metrics.
    const metrics = getComputedStyle(textarea);
    ["paddingTop", "paddingRight", "paddingBottom", "paddingLeft", "fontFamily", "fontSize",
      "lineHeight", "letterSpacing", "tabSize"].forEach(function (key) {
      colours.style[key] = metrics[key];
    });

    function paint() {
      colours.innerHTML = highlight(textarea.value, keywords);
      follow();
    }

    function follow() {
      gutter.scrollTop = textarea.scrollTop;
      colours.scrollTop = textarea.scrollTop;
      colours.scrollLeft = textarea.scrollLeft;
    }

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

    textarea.addEventListener("input", function () { draw(); paint(); });
    textarea.addEventListener("scroll", follow);
    textarea.addEventListener("keydown", function (event) {
      // Tab indents instead of leaving the field (Shift+Tab still leaves it).
      if (event.key === "Tab" && !event.shiftKey) {
        event.preventDefault();
        textarea.setRangeText("    ", textarea.selectionStart, textarea.selectionEnd, "end");
        draw();
        paint();
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
    paint();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".codeai-editor").forEach(setUp);
  });
})();

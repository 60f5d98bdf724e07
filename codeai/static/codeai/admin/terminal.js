// The output panel of an execution: while the run is queued or running, poll the output
// endpoint for the text after what is shown, append it, follow the end (unless the reader
// scrolled up), and stop once the run is complete (then reload the page once).
"use strict";
(function () {
  const POLL_MS = 1000;

  function follow(terminal) {
    let offset = parseInt(terminal.dataset.offset, 10) || 0;
    const live = document.querySelector(".codeai-live");
    // The panel's badge and the status and duration fields above it follow the run.
    const badges = [terminal.parentElement.querySelector(".codeai-badge"),
      document.querySelector(".field-status_badge .codeai-badge")].filter(Boolean);
    const duration = document.querySelector(".field-duration .readonly");
    terminal.scrollTop = terminal.scrollHeight;

    function showStatus(data) {
      badges.forEach(function (badge) {
        badge.className = "codeai-badge codeai-status-" + data.status;
        badge.textContent = data.status_label;
      });
      if (duration && data.duration) duration.textContent = data.duration;
    }

    function finish() {
      if (live) live.hidden = true;
      const cancel = document.getElementById("codeai-cancel");
      if (cancel) cancel.parentElement.remove();
      terminal.dataset.complete = "true";
      // Once, so that status, times, exit code and explanation above are the final ones.
      setTimeout(function () { window.location.reload(); }, POLL_MS);
    }

    function poll() {
      const url = terminal.dataset.url + "?offset=" + offset;
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) {
          if (!response.ok) throw new Error(response.status);
          return response.json();
        })
        .then(function (data) {
          if (data.output) {
            const atEnd = terminal.scrollHeight - terminal.scrollTop - terminal.clientHeight < 24;
            terminal.append(document.createTextNode(data.output));
            if (atEnd) terminal.scrollTop = terminal.scrollHeight;
          }
          offset = data.next_offset;
          showStatus(data);  // queued -> running shows while the page stays open
          if (data.complete) finish();
          else setTimeout(poll, POLL_MS);
        })
        .catch(function () { setTimeout(poll, POLL_MS * 3); });
    }

    if (terminal.dataset.complete !== "true") setTimeout(poll, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    const terminal = document.getElementById("codeai-output");
    if (terminal) follow(terminal);
  });
})();

// The console's few behaviours that need a script (everything works without it, less
// conveniently): printing the receipt, bar widths, and live updates of a case page.
(function () {
  "use strict";

  function bars(root) {
    root.querySelectorAll(".bar[data-w]").forEach(function (bar) {
      bar.style.width = Math.max(0, Math.min(100, parseFloat(bar.dataset.w) || 0)) + "%";
    });
  }

  // Never replace a form someone has opened or is typing in: announce the change instead
  // (with a link to reload). Checked when the change is heard and again before the swap.
  function editing(current) {
    return current.querySelector("details.action[open]") ||
      (document.activeElement && current.contains(document.activeElement) &&
       /^(INPUT|TEXTAREA|SELECT|BUTTON|SUMMARY)$/.test(document.activeElement.tagName));
  }

  function live() {
    var body = document.getElementById("case-body");
    if (!body || !window.EventSource || body.dataset.liveStarted) { return; }
    body.dataset.liveStarted = "1";
    var source = new EventSource(body.dataset.live);
    source.addEventListener("changed", function (event) {
      var current = document.getElementById("case-body");
      if (!current || event.data === current.dataset.version) { return; }
      if (editing(current) || !window.htmx) {
        var notice = document.getElementById("live-notice");
        if (notice) { notice.hidden = false; }
        return;
      }
      source.close();
      window.htmx.ajax("GET", window.location.pathname, {
        target: "#case-body", select: "#case-body", swap: "outerHTML"
      }).then(function () {
        var notice = document.getElementById("live-notice");
        if (notice) { notice.hidden = false; }
        live();
      });
    });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  function ready() {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
    bars(document);
    live();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
  document.addEventListener("htmx:afterSettle", function (event) { bars(event.target); });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var current = document.getElementById("case-body");
    if (current && event.detail.target === current && editing(current)) {
      event.detail.shouldSwap = false;
      var notice = document.getElementById("live-notice");
      if (notice) { notice.hidden = false; }
    }
  });
})();

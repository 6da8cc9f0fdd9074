// The operator dashboard's script: small, our own, optional for reading.
"use strict";
(function () {
  // The workspace fragments come from the embeddable UI, whose links name a page
  // (data-page, data-query) for its own script: point them at the dashboard's pages.
  document.querySelectorAll(".fragment[data-workspace] a[data-page]").forEach(function (a) {
    var base = "/dashboard/workspaces/" + encodeURIComponent(a.closest(".fragment").dataset.workspace);
    if (a.dataset.page === "event") {
      var id = new URLSearchParams(a.dataset.query || "").get("id") || "";
      a.href = base + "/events/" + encodeURIComponent(id);
    } else {
      a.href = base + "#" + a.dataset.page;
    }
  });
  // A page that shows a secret once (the answer to a POST) replaces its history entry, so
  // that a reload or going back loads the list, which has no secret, and nothing is posted again.
  var replace = document.body.dataset.replace;
  if (replace && window.history.replaceState) window.history.replaceState(null, "", replace);
})();

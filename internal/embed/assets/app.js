// Switchyard embed: the page inside the host's iframe. It speaks the postMessage contract of
// Meshes' embed (docs/embed.md): it announces itself with meshes:ready, takes its access token
// from the host's meshes:auth (never from a URL, never stored), asks for a new one with
// meshes:token-refresh before it expires or after a 401, says meshes:token-expired when none
// came, and reports meshes:navigate and meshes:resize. It talks to the host origin only: the
// server put it in the page, checked against the session's allowed origins.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="switchyard-host-origin"]');
  var hostOrigin = meta ? meta.getAttribute("content") : "";
  var main = document.getElementById("main");
  var status = document.getElementById("status");
  var token = null;
  var expiresAt = 0;
  var refreshTimer = null;
  var expiryTimer = null;
  // page is the page shown; want the page (and query) asked for last, loaded again when a new
  // token arrives after a 401.
  var page = document.body.getAttribute("data-page") || "dashboard";
  var want = { page: page, query: "" };
  var waitingForToken = false;

  function post(msg) {
    if (hostOrigin && window.parent !== window) {
      window.parent.postMessage(msg, hostOrigin);
    }
  }

  function say(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  function claims(jwt) {
    try {
      var part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part));
    } catch (e) {
      return null;
    }
  }

  function askForToken() {
    if (waitingForToken) return;
    waitingForToken = true;
    post({ type: "meshes:token-refresh" });
    clearTimeout(expiryTimer);
    // The token in hand is still good until it expires; after that, say so.
    var left = Math.max(expiresAt - Date.now(), 0);
    expiryTimer = setTimeout(function () {
      if (waitingForToken) {
        token = null;
        say("Your session has expired.");
        post({ type: "meshes:token-expired" });
      }
    }, left + 5000);
  }

  function schedule() {
    clearTimeout(refreshTimer);
    // Ask a minute before expiry (or at half the lifetime of a short token).
    var left = expiresAt - Date.now();
    var wait = Math.max(Math.min(left - 60000, left / 2), 0);
    refreshTimer = setTimeout(askForToken, wait);
  }

  function resize() {
    post({ type: "meshes:resize", height: Math.ceil(document.documentElement.scrollHeight) });
  }

  function load(next, query) {
    want = { page: next, query: query || "" };
    if (!token) return;
    var url = "/embed/pages/" + encodeURIComponent(next) + (query ? "?" + query : "");
    fetch(url, { headers: { Authorization: "Bearer " + token }, credentials: "omit", cache: "no-store" })
      .then(function (r) {
        if (r.status === 401) {
          askForToken();
          return null;
        }
        return r.text().then(function (html) {
          return { ok: r.ok, html: html };
        });
      })
      .then(function (res) {
        if (!res) return;
        main.innerHTML = res.html;
        if (res.ok && next !== page) {
          page = next;
          post({ type: "meshes:navigate", page: page });
        }
        say("");
        resize();
      })
      .catch(function () {
        say("Switchyard could not be reached. Try again in a moment.");
      });
  }

  window.addEventListener("message", function (e) {
    if (e.origin !== hostOrigin || e.source !== window.parent) return; // the host only
    var m = e.data;
    if (!m || m.type !== "meshes:auth" || typeof m.token !== "string") return;
    var c = claims(m.token);
    if (!c || typeof c.exp !== "number") return;
    var first = token === null;
    token = m.token;
    expiresAt = c.exp * 1000;
    waitingForToken = false;
    clearTimeout(expiryTimer);
    schedule();
    if (first) {
      post({ type: "meshes:navigate", page: page });
    }
    load(want.page, want.query);
  });

  document.addEventListener("click", function (e) {
    var a = e.target.closest ? e.target.closest("a[data-page]") : null;
    if (!a) return;
    e.preventDefault();
    load(a.getAttribute("data-page"), a.getAttribute("data-query") || "");
  });

  if (typeof ResizeObserver === "function") {
    new ResizeObserver(resize).observe(document.documentElement);
  }
  say("Waiting for the host page to sign in…");
  post({ type: "meshes:ready" });
})();

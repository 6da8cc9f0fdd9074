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
    // The body's own height: the document's scrollHeight never drops below the frame's height,
    // so a page that got shorter would keep the frame tall.
    var cs = window.getComputedStyle(document.body);
    var height = document.body.getBoundingClientRect().height + parseFloat(cs.marginTop) + parseFloat(cs.marginBottom);
    post({ type: "meshes:resize", height: Math.ceil(height) });
  }

  // load shows page next (with query); message, if any, is announced in the status line once
  // it is shown.
  function load(next, query, message) {
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
        enhance(main);
        if (res.ok && next !== page) {
          page = next;
          post({ type: "meshes:navigate", page: page });
        }
        say(message || "");
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
    // The token's lifetime by its own claims (exp - iat), counted from its arrival: this
    // browser's clock may be minutes off the server's, and exp read against it would ask for a
    // new token at once (and again for every new one) or only after a refusal. The host sends
    // a token it has just minted or refreshed, as the contract's flow has it.
    var life = typeof c.iat === "number" && c.exp > c.iat ? (c.exp - c.iat) * 1000 : c.exp * 1000 - Date.now();
    expiresAt = Date.now() + life;
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

  // Forms: <form data-api="METHOD /api/v1/…"> is sent as JSON with the session's token. A field
  // named a.b becomes {"a": {"b": …}}; a checkbox a boolean; data-json a parsed JSON value;
  // data-number a number; an empty text field is left out. The API's field errors
  // (error.data[{param, msg}]) are shown next to their inputs; on success the page is loaded
  // again, or the result shown (data-result), or an OAuth authorization opened (data-oauth).
  function setPath(obj, name, value) {
    var parts = name.split(".");
    for (var i = 0; i < parts.length - 1; i++) {
      if (typeof obj[parts[i]] !== "object" || obj[parts[i]] === null) obj[parts[i]] = {};
      obj = obj[parts[i]];
    }
    obj[parts[parts.length - 1]] = value;
  }

  function clearErrors(form) {
    Array.prototype.forEach.call(form.querySelectorAll(".field-error"), function (el) { el.remove(); });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (el) {
      el.removeAttribute("aria-invalid");
      var ids = (el.getAttribute("aria-describedby") || "").split(" ").filter(function (id) { return id.indexOf("-error") < 0; });
      if (ids.length && ids[0]) el.setAttribute("aria-describedby", ids.join(" "));
      else el.removeAttribute("aria-describedby");
    });
    var general = form.querySelector(".form-error");
    if (general) { general.textContent = ""; general.hidden = true; }
  }

  function fieldError(form, name, msg) {
    var input = null;
    Array.prototype.forEach.call(form.elements, function (el) { if (!input && el.name === name && !el.disabled) input = el; });
    if (!input) return false;
    var id = (input.id || name.replace(/\W/g, "-")) + "-error";
    var p = document.createElement("p");
    p.className = "field-error";
    p.id = id;
    p.textContent = msg;
    input.closest(".field") ? input.closest(".field").appendChild(p) : input.insertAdjacentElement("afterend", p);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", ((input.getAttribute("aria-describedby") || "") + " " + id).trim());
    return true;
  }

  function formError(form, text) {
    var general = form.querySelector(".form-error");
    if (!general) { say(text); return; }
    general.textContent = text;
    general.hidden = false;
  }

  function formBody(form) {
    var body = {};
    var bad = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) return;
      if (el.type === "checkbox") { setPath(body, el.name, el.checked); return; }
      var v = el.value;
      if (v === "") return;
      if (el.hasAttribute("data-json")) {
        try { v = JSON.parse(v); } catch (e) { bad.push([el.name, "must be valid JSON"]); return; }
      } else if (el.hasAttribute("data-number")) {
        v = Number(v);
      }
      setPath(body, el.name, v);
    });
    return { body: body, bad: bad };
  }

  function submit(form) {
    var spec = form.getAttribute("data-api").split(" ");
    var method = spec[0], path = spec[1];
    clearErrors(form);
    if (form.hasAttribute("data-oauth")) {
      var r = form.querySelector('[name="redirect_url"]');
      if (!r) {
        r = document.createElement("input");
        r.type = "hidden";
        r.name = "redirect_url";
        form.appendChild(r);
      }
      r.value = location.origin + "/embed/connected";
    }
    var built = formBody(form);
    if (built.bad.length) {
      built.bad.forEach(function (b) { fieldError(form, b[0], b[1]); });
      formError(form, "Check the highlighted fields.");
      return;
    }
    if (!token) { askForToken(); return; }
    var button = form.querySelector('[type="submit"]');
    if (button) button.disabled = true;
    fetch(path, {
      method: method, credentials: "omit", cache: "no-store",
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(built.body)
    }).then(function (r) {
      if (r.status === 401) {
        askForToken();
        throw new Error("Your session needed a new token: try again.");
      }
      return r.json().then(function (data) { return { ok: r.ok, status: r.status, data: data }; });
    }).then(function (res) {
      if (button) button.disabled = false;
      if (!res.ok) {
        var err = (res.data && res.data.error) || {};
        var unplaced = [];
        (err.data || []).forEach(function (fe) { if (!fieldError(form, fe.param, fe.msg)) unplaced.push(fe.param + " " + fe.msg); });
        formError(form, (err.message || "The request was refused.") + (unplaced.length ? " " + unplaced.join("; ") : ""));
        if (res.status === 409 && form.hasAttribute("data-conflict")) {
          // Someone saved a newer version: offer it (the page again) next to the message.
          var again = document.createElement("a");
          again.href = "#";
          again.setAttribute("data-page", page);
          again.setAttribute("data-query", want.query);
          again.setAttribute("data-conflict-reload", "");
          again.textContent = form.getAttribute("data-conflict");
          var general = form.querySelector(".form-error");
          if (general) { general.appendChild(document.createTextNode(" ")); general.appendChild(again); }
        }
        resize();
        return;
      }
      if (form.hasAttribute("data-oauth") && res.data.authorization_url) {
        window.open(res.data.authorization_url, "_blank", "noopener");
        say("Finish connecting in the new tab, then reload this page.");
        return;
      }
      var out = form.querySelector(".result");
      if (form.hasAttribute("data-result") && out) {
        out.textContent = JSON.stringify(res.data, null, 2);
        out.hidden = false;
        resize();
        return;
      }
      load(page, want.query, form.getAttribute("data-done") || "Saved.");
    }).catch(function (e) {
      if (button) button.disabled = false;
      formError(form, e && e.message && e.message.indexOf("try again") >= 0 ? e.message : "Switchyard could not be reached. Try again in a moment.");
    });
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    // <form data-page-form="events">: a filter, loaded as the page with the fields as its query.
    if (form.hasAttribute && form.hasAttribute("data-page-form")) {
      e.preventDefault();
      var params = new URLSearchParams();
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.value) params.append(el.name, el.value);
      });
      load(form.getAttribute("data-page-form"), params.toString());
      return;
    }
    if (!form.hasAttribute || !form.hasAttribute("data-api")) return;
    e.preventDefault();
    submit(form);
  });

  // The rule form: the actions of the chosen connection's integration, the inputs of the chosen
  // action, and the options of inputs fed by the connection's action data.
  function syncRuleForm(form) {
    var conn = form.querySelector('[name="connection"]');
    var action = form.querySelector('[name="metadata.action"]');
    if (!conn || !action) return;
    var chosen = conn.options[conn.selectedIndex];
    var type = chosen ? chosen.getAttribute("data-type") : "";
    var first = null;
    Array.prototype.forEach.call(action.options, function (o) {
      var fits = o.getAttribute("data-type") === type;
      o.hidden = !fits;
      o.disabled = !fits;
      if (fits && !first) first = o;
    });
    var sel = action.options[action.selectedIndex];
    if (!sel || sel.disabled) { if (first) first.selected = true; }
    var key = type + ":" + action.value;
    Array.prototype.forEach.call(form.querySelectorAll("fieldset[data-action]"), function (fs) {
      var on = fs.getAttribute("data-action") === key;
      fs.hidden = !on;
      fs.disabled = !on;
      if (!on) return;
      Array.prototype.forEach.call(fs.querySelectorAll("select[data-source]"), function (s) { fillSource(s, conn.value, action.value); });
    });
    resize();
  }

  function fillSource(select, connection, action) {
    if (!token || !connection) return;
    fetch("/api/v1/connections/" + encodeURIComponent(connection) + "/actions", {
      headers: { Authorization: "Bearer " + token, Accept: "application/json" }, credentials: "omit", cache: "no-store"
    }).then(function (r) { return r.ok ? r.json() : {}; }).then(function (data) {
      var items = ((data || {})[action] || {})[select.getAttribute("data-source")] || [];
      select.textContent = "";
      items.forEach(function (it) {
        var o = document.createElement("option");
        o.value = it.id != null ? it.id : it.value;
        o.textContent = it.name || it.label || o.value;
        select.appendChild(o);
      });
    }).catch(function () {});
  }

  // Fields that apply only under some values of another field (data-depends-on names it,
  // data-depends-values lists the values): shown and enabled while that field has one of them,
  // hidden and disabled (so not sent) otherwise — as the server's validation drops them.
  function syncDepends(form) {
    Array.prototype.forEach.call(form.querySelectorAll("[data-depends-on]"), function (box) {
      var ctl = null;
      Array.prototype.forEach.call(form.elements, function (el) { if (!ctl && el.name === box.getAttribute("data-depends-on")) ctl = el; });
      var v = !ctl || ctl.disabled ? null : ctl.type === "checkbox" ? String(ctl.checked) : ctl.value.toLowerCase();
      var on = v !== null && box.getAttribute("data-depends-values").split(",").indexOf(v) >= 0;
      box.hidden = !on;
      Array.prototype.forEach.call(box.querySelectorAll("input, select, textarea"), function (el) { el.disabled = !on; });
    });
  }

  function enhance(root) {
    Array.prototype.forEach.call(root.querySelectorAll("form"), function (form) {
      if (!form.querySelector("[data-depends-on]")) return;
      syncDepends(form);
      form.addEventListener("change", function () { syncDepends(form); resize(); });
    });
    Array.prototype.forEach.call(root.querySelectorAll("form[data-rule-form]"), function (form) {
      syncRuleForm(form);
      form.addEventListener("change", function (e) {
        if (e.target.name === "connection" || e.target.name === "metadata.action") syncRuleForm(form);
      });
    });
  }

  if (typeof ResizeObserver === "function") {
    new ResizeObserver(resize).observe(document.body);
  }
  say("Waiting for the host page to sign in…");
  post({ type: "meshes:ready" });
})();

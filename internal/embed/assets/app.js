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
  // loads counts the page loads started: only the last one's answer is shown, however the
  // answers arrive.
  var loads = 0;

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
    var seq = ++loads;
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
        if (!res || seq !== loads) return; // another page was asked for meanwhile
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
        if (seq === loads) say("Switchyard could not be reached. Try again in a moment.");
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

  // fieldError shows msg next to the input named name or, failing that, next to the element
  // whose data-param is name or the nearest part of it (the mapping editor's rows and controls:
  // "schema.fields[1].source.value"), with the rest of the name in front of the message.
  function fieldError(form, name, msg) {
    var input = null;
    Array.prototype.forEach.call(form.elements, function (el) { if (!input && el.name === name && !el.disabled) input = el; });
    if (!input) {
      var best = "";
      Array.prototype.forEach.call(form.querySelectorAll("[data-param]"), function (el) {
        var dp = el.getAttribute("data-param");
        if (el.disabled || el.closest("[hidden]") || dp.length < best.length) return;
        if (dp === name || name.indexOf(dp + ".") === 0 || name.indexOf(dp + "[") === 0) { input = el; best = dp; }
      });
      if (input && best !== name) msg = name.slice(best.length).replace(/^\./, "") + " " + msg;
    }
    if (!input) return false;
    var id = (input.id || name.replace(/\W/g, "-")) + "-error";
    var p = document.createElement("p");
    p.className = "field-error";
    p.id = id;
    p.textContent = msg;
    if (input.matches("fieldset, li")) input.appendChild(p);
    else if (input.closest(".field")) input.closest(".field").appendChild(p);
    else input.insertAdjacentElement("afterend", p);
    var folded = input.closest("details");
    if (folded && !folded.open) folded.open = true; // an error is never left out of sight
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
    // The page the form is on: shown again once it is saved, unless another was asked for meanwhile.
    var from = { page: page, query: want.query };
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
    if (form.mappingEditor) {
      // The rows are what is sent (through the JSON they keep the textarea in), unless the
      // JSON was edited last.
      var bad = form.mappingEditor.flush();
      if (bad.length) {
        bad.forEach(function (b) { fieldError(form, b[0], b[1]); });
        formError(form, "Check the highlighted fields.");
        resize();
        return;
      }
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
      var done = form.getAttribute("data-done") || "Saved.";
      if (want.page === from.page && want.query === from.query) load(from.page, from.query, done);
      else say(done);
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

  // The mapping editor (docs/embed.md): one row per destination field, built from the
  // server's <template>s and kept in step with the schema's JSON in the textarea, which stays
  // as the fallback and the advanced view. Rows to JSON on every edit; JSON to rows when the
  // textarea is changed and holds a schema the rows can show.
  function mappingEditor(form) {
    var box = form.querySelector("[data-mapping-editor]");
    var rows = box.querySelector("[data-map-rows]");
    var rowTpl = form.querySelector("template[data-map-row-template]");
    var trTpl = form.querySelector("template[data-map-transform-template]");
    var area = form.querySelector("#mapping-schema");
    var note = form.querySelector("[data-json-note]");
    var details = form.querySelector("[data-json-details]");
    var extra = {}; // keys of the schema the rows do not edit (meta), kept as they were
    var kinds = { "true": true, "false": false, "null": null };

    function q(el, m) { return el.querySelector('[data-m="' + m + '"]'); }
    function kindOf(v) { return v === null ? "null" : v === true ? "true" : v === false ? "false" : typeof v === "number" ? "number" : "text"; }
    function setKind(sel, input, v) {
      sel.value = kindOf(v);
      input.value = v === null || typeof v === "boolean" ? "" : String(v);
    }
    function setDest(ctl, v) {
      if (ctl.tagName === "SELECT" && v && !Array.prototype.some.call(ctl.options, function (o) { return o.value === v; })) {
        var o = document.createElement("option");
        o.value = v;
        o.textContent = v + " — not in the destination's fields";
        ctl.appendChild(o);
      }
      ctl.value = v || "";
    }

    function addTransform(row, t) {
      var li = trTpl.content.firstElementChild.cloneNode(true);
      t = t || { type: "to_string" };
      q(li, "type").value = t.type;
      q(li, "timezone").value = t.timezone || "";
      setKind(q(li, "kind"), q(li, "value"), t.value === undefined ? "" : t.value);
      q(li, "start").value = t.start === undefined ? "0" : String(t.start);
      q(li, "length").value = t.length === undefined || t.length === null ? "" : String(t.length);
      q(row, "transforms").appendChild(li);
      return li;
    }

    function addRow(f) {
      var row = rowTpl.content.firstElementChild.cloneNode(true);
      f = f || { dest: "", source: { type: "path", value: "" }, on_error: "skip_field" };
      var src = f.source || { type: "path", value: "" };
      setDest(q(row, "dest"), f.dest);
      q(row, "source.type").value = src.type === "literal" ? "literal" : "path";
      if (src.type === "literal") setKind(q(row, "source.kind"), q(row, "source.literal"), src.value);
      else q(row, "source.path").value = src.value || "";
      q(row, "on_error").value = f.on_error || "skip_field";
      row.mappingNotes = f.notes;
      (f.transforms || []).forEach(function (t) { addTransform(row, t); });
      rows.appendChild(row);
      return row;
    }

    // show hides (and disables, so nothing of them is sent or reached) the controls that do not
    // apply, and numbers rows and transforms: their data-param is where the API's errors go.
    function show() {
      Array.prototype.forEach.call(rows.children, function (row, i) {
        var p = "schema.fields[" + i + "]";
        row.querySelector("[data-row-n]").textContent = String(i + 1);
        row.setAttribute("data-param", p);
        var dest = q(row, "dest").value;
        row.querySelector("[data-row-dest]").textContent = dest ? ": " + dest : "";
        var destCtl = q(row, "dest"), info = row.querySelector("[data-dest-info]");
        var opt = destCtl.tagName === "SELECT" ? destCtl.options[destCtl.selectedIndex] : null;
        info.textContent = opt && opt.getAttribute("data-info") ? opt.getAttribute("data-info") : "";
        info.hidden = !info.textContent;
        // Described by the field's type and whether it is required, and by its error if any.
        info.id = "map-dest-info-" + i;
        var ids = (destCtl.getAttribute("aria-describedby") || "").split(" ").filter(function (id) { return id && id.indexOf("map-dest-info-") !== 0; });
        if (info.textContent) ids.unshift(info.id);
        if (ids.length) destCtl.setAttribute("aria-describedby", ids.join(" "));
        else destCtl.removeAttribute("aria-describedby");
        destCtl.setAttribute("data-param", p + ".dest");
        q(row, "source.type").setAttribute("data-param", p + ".source.type");
        q(row, "source.path").setAttribute("data-param", p + ".source.value");
        q(row, "source.literal").setAttribute("data-param", p + ".source.value");
        q(row, "on_error").setAttribute("data-param", p + ".on_error");
        q(row, "transforms").setAttribute("data-param", p + ".transforms");
        var type = q(row, "source.type").value;
        toggle(row, "[data-when]", function (el) {
          return el.getAttribute("data-when") === type && (!el.hasAttribute("data-when-kind") || /^(text|number)$/.test(q(row, el.getAttribute("data-when-kind")).value));
        });
        var n = i + 1;
        row.querySelector("[data-add-transform]").setAttribute("aria-label", "Add a transform to field " + n);
        row.querySelector("[data-add-transform]").disabled = q(row, "transforms").children.length >= 10;
        // Names start with the button's visible text (WCAG 2.5.3, label in name) and say which.
        row.querySelector("[data-remove-row]").setAttribute("aria-label", "Remove this field: field " + n + (dest ? ", " + dest : ""));
        Array.prototype.forEach.call(q(row, "transforms").children, function (li, j) {
          var tp = p + ".transforms[" + j + "]";
          li.setAttribute("data-param", tp);
          ["type", "timezone", "value", "start", "length"].forEach(function (m) { q(li, m).setAttribute("data-param", tp + "." + m); });
          if (document.getElementById("map-timezones")) q(li, "timezone").setAttribute("list", "map-timezones");
          q(li, "kind").setAttribute("data-param", tp + ".value");
          var t = q(li, "type").value;
          toggle(li, "[data-for]", function (el) {
            return el.getAttribute("data-for").split(" ").indexOf(t) >= 0 && (!el.hasAttribute("data-when-kind") || /^(text|number)$/.test(q(li, "kind").value));
          });
          var what = " transform " + (j + 1) + " of field " + n;
          li.querySelector("[data-move-up]").hidden = j === 0;
          li.querySelector("[data-move-up]").setAttribute("aria-label", "Move up" + what);
          li.querySelector("[data-remove-transform]").setAttribute("aria-label", "Remove" + what);
        });
      });
      box.querySelector("[data-map-empty]").hidden = rows.children.length > 0;
      box.querySelector("[data-add-row]").disabled = rows.children.length >= 250;
    }
    function toggle(root, sel, on) {
      Array.prototype.forEach.call(root.querySelectorAll(sel), function (el) {
        var yes = on(el);
        el.hidden = !yes;
        Array.prototype.forEach.call(el.querySelectorAll("input, select"), function (c) { c.disabled = !yes; });
      });
    }

    function scalar(kind, input, param, bad) {
      if (kind in kinds) return kinds[kind];
      if (kind === "number") {
        var n = input.value.trim() === "" ? NaN : Number(input.value);
        if (!isFinite(n)) bad.push([param, "must be a number"]);
        return n;
      }
      return input.value;
    }

    // read returns the schema the rows say, and what in them cannot be sent.
    function read() {
      var bad = [];
      var fields = Array.prototype.map.call(rows.children, function (row, i) {
        var p = "schema.fields[" + i + "]";
        var f = { dest: q(row, "dest").value.trim() };
        if (q(row, "source.type").value === "literal") {
          f.source = { type: "literal", value: scalar(q(row, "source.kind").value, q(row, "source.literal"), p + ".source.value", bad) };
        } else {
          f.source = { type: "path", value: q(row, "source.path").value.trim() };
        }
        var ts = Array.prototype.map.call(q(row, "transforms").children, function (li, j) {
          var t = { type: q(li, "type").value };
          var tp = p + ".transforms[" + j + "]";
          if (t.type === "to_date" || t.type === "to_datetime") {
            if (q(li, "timezone").value.trim()) t.timezone = q(li, "timezone").value.trim();
          } else if (t.type === "default") {
            t.value = scalar(q(li, "kind").value, q(li, "value"), tp + ".value", bad);
          } else if (t.type === "substring") {
            ["start", "length"].forEach(function (m) {
              var v = q(li, m).value;
              if (v !== "") t[m] = Number(v);
              else if (m === "start") bad.push([tp + ".start", "is required"]);
            });
          }
          return t;
        });
        if (ts.length) f.transforms = ts;
        f.on_error = q(row, "on_error").value;
        if (row.mappingNotes) f.notes = row.mappingNotes;
        return f;
      });
      var schema = { schema_version: 1, fields: fields };
      Object.keys(extra).forEach(function (k) { schema[k] = extra[k]; });
      return { schema: schema, bad: bad };
    }

    function toJSON() {
      var r = read();
      if (!r.bad.length) {
        area.value = JSON.stringify(r.schema, null, 2);
        note.hidden = true;
      }
      return r.bad;
    }

    // fromJSON rebuilds the rows from the textarea; false when it holds no schema they can show.
    function fromJSON() {
      var v;
      try { v = JSON.parse(area.value); } catch (e) { return false; }
      if (!v || typeof v !== "object" || !Array.isArray(v.fields) || !v.fields.every(function (f) { return f && typeof f === "object"; })) return false;
      extra = {};
      Object.keys(v).forEach(function (k) { if (k !== "fields" && k !== "schema_version") extra[k] = v[k]; });
      rows.textContent = "";
      v.fields.forEach(function (f) { addRow(f); });
      show();
      return true;
    }

    if (!fromJSON()) {
      // Not a schema the rows can show (the server sent it, so this should not happen): the
      // JSON alone, as without the script.
      return null;
    }
    box.hidden = false;
    details.open = false;
    // Suggestions for the time zone inputs: the browser's IANA names (the server accepts any
    // IANA name but Local; an unknown one fails the field when applied).
    if (typeof Intl === "object" && typeof Intl.supportedValuesOf === "function") {
      var zones = document.createElement("datalist");
      zones.id = "map-timezones";
      ["UTC"].concat(Intl.supportedValuesOf("timeZone")).forEach(function (z) {
        var o = document.createElement("option");
        o.value = z;
        zones.appendChild(o);
      });
      box.appendChild(zones);
    }

    box.addEventListener("click", function (e) {
      var b = e.target.closest("button");
      if (!b) return;
      var row = b.closest("[data-map-row]");
      if (b.hasAttribute("data-add-row")) {
        var r = addRow();
        show();
        q(r, "dest").focus();
      } else if (b.hasAttribute("data-remove-row")) {
        var next = row.nextElementSibling || row.previousElementSibling;
        row.remove();
        show();
        (next ? q(next, "dest") : box.querySelector("[data-add-row]")).focus();
      } else if (b.hasAttribute("data-add-transform")) {
        var li = addTransform(row);
        show();
        q(li, "type").focus();
      } else if (b.hasAttribute("data-remove-transform")) {
        b.closest("li").remove();
        show();
        row.querySelector("[data-add-transform]").focus();
      } else if (b.hasAttribute("data-move-up")) {
        var item = b.closest("li");
        if (item.previousElementSibling) item.parentNode.insertBefore(item, item.previousElementSibling);
        show();
        (item.querySelector("[data-move-up]:not([hidden])") || q(item, "type")).focus();
      } else {
        return;
      }
      toJSON();
      resize();
    });
    var edited = function () { show(); toJSON(); resize(); };
    box.addEventListener("input", edited);
    box.addEventListener("change", edited);
    area.addEventListener("change", function () {
      if (fromJSON()) { note.hidden = true; resize(); return; }
      note.textContent = "This is not a mapping the fields above can show: it is saved as it is written here.";
      note.hidden = false;
      resize();
    });
    var jsonLast = false;
    area.addEventListener("input", function () { jsonLast = true; });
    box.addEventListener("input", function () { jsonLast = false; });
    box.addEventListener("click", function () { jsonLast = false; });
    return {
      // flush writes the rows to the textarea before a save, unless the JSON was edited after
      // them; it returns what the rows cannot send ([param, message]).
      flush: function () { return jsonLast ? [] : toJSON(); }
    };
  }

  function enhance(root) {
    Array.prototype.forEach.call(root.querySelectorAll("form"), function (form) {
      if (form.querySelector("[data-mapping-editor]")) form.mappingEditor = mappingEditor(form);
    });
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

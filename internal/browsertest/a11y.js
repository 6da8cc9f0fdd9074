// The accessibility checks of browsertest (a11y.go), run in the page or frame under test.
// a11y.go wraps this source in a function and calls one of the operations at the end of it:
//   labels()        every form control, button, link and image has an accessible name
//   contrast()      every visible text meets WCAG 2.1 AA contrast against its background
//   keyboardStart() lists the elements Tab should reach, in order, and starts recording focus
//   keyboardEnd()   returns what Tab reached, with each element's focus style, and cleans up
// Each returns a JSON string (never empty, so that a poll takes it at once).
var A11Y = (function () {
  "use strict";

  // Colours: computed styles give rgb()/rgba() for sRGB colours; anything else is reported.
  function parse(c) {
    var m = /^rgba?\(([^)]*)\)$/.exec((c || "").trim());
    if (!m) return null;
    var p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
    if (p.length < 3 || p.some(isNaN)) return null;
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  }
  function over(top, bottom) {
    var a = top.a;
    return { r: top.r * a + bottom.r * (1 - a), g: top.g * a + bottom.g * (1 - a), b: top.b * a + bottom.b * (1 - a), a: 1 };
  }
  function luminance(c) {
    function ch(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
    return 0.2126 * ch(c.r) + 0.7152 * ch(c.g) + 0.0722 * ch(c.b);
  }
  function ratio(a, b) {
    var la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }
  function hex(c) {
    return "#" + [c.r, c.g, c.b].map(function (v) { return ("0" + Math.round(v).toString(16)).slice(-2); }).join("");
  }

  // background is the opaque colour behind el's content: its own background and its
  // ancestors', composed over the white canvas; null when a background image is in the way.
  function background(el) {
    var layers = [];
    for (var e = el; e && e.nodeType === 1; e = e.parentElement) {
      var cs = getComputedStyle(e);
      if (cs.backgroundImage && cs.backgroundImage !== "none") return null;
      var c = parse(cs.backgroundColor);
      if (c && c.a > 0) layers.push(c);
      if (c && c.a >= 1) break;
    }
    var bg = { r: 255, g: 255, b: 255, a: 1 };
    for (var i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
    return bg;
  }
  function opacity(el) {
    var o = 1;
    for (var e = el; e && e.nodeType === 1; e = e.parentElement) o *= parseFloat(getComputedStyle(e).opacity);
    return o;
  }

  function describe(el) {
    var d = el.tagName.toLowerCase();
    if (el.id) d += "#" + el.id;
    if (el.classList && el.classList.length) d += "." + Array.prototype.join.call(el.classList, ".");
    ["name", "data-page", "data-action", "data-status", "href", "type"].forEach(function (a) {
      if (el.hasAttribute(a) && !el.id) d += "[" + a + "=" + JSON.stringify(el.getAttribute(a)) + "]";
    });
    return d;
  }
  function shown(el) {
    if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: true, contentVisibilityAuto: true })) return false;
    var r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1; // 1 px clipped text is for screen readers only
  }
  function ownText(el) {
    var t = "";
    for (var n = el.firstChild; n; n = n.nextSibling) if (n.nodeType === 3) t += n.nodeValue;
    t = t.replace(/\s+/g, " ").trim();
    if (!t && (el.tagName === "INPUT" || el.tagName === "TEXTAREA") && el.type !== "checkbox" && el.type !== "radio") t = el.value.trim();
    if (!t && el.tagName === "SELECT" && el.selectedOptions.length) t = el.selectedOptions[0].textContent.trim();
    return t;
  }

  function contrast() {
    var fails = [], checked = 0, lowest = null;
    function measure(el, text, cs, placeholder) {
      var bg = background(el);
      var fg = parse(cs.color);
      if (!bg || !fg) {
        fails.push({ element: describe(el), text: text.slice(0, 40), problem: "colours not measurable: " + cs.color + " on " + (bg ? hex(bg) : "an image") });
        return;
      }
      fg = over({ r: fg.r, g: fg.g, b: fg.b, a: fg.a * opacity(el) }, bg);
      var size = parseFloat(cs.fontSize), weight = parseInt(cs.fontWeight, 10) || 400;
      var large = size >= 24 || (size >= 18.66 && weight >= 700);
      var need = large ? 3 : 4.5, got = ratio(fg, bg);
      checked++;
      var found = { element: describe(el) + (placeholder ? "::placeholder" : ""), text: text.slice(0, 40), fg: hex(fg), bg: hex(bg),
        ratio: Math.floor(got * 100) / 100, need: need };
      if (!lowest || got / need < lowest.ratio / lowest.need) lowest = found;
      if (got < need) fails.push(found);
    }
    Array.prototype.forEach.call(document.body.querySelectorAll("*"), function (el) {
      if (/^(SCRIPT|STYLE|TEMPLATE|OPTION|NOSCRIPT)$/.test(el.tagName) || el instanceof SVGElement) return;
      if (!shown(el)) return;
      // Disabled controls are exempt (WCAG 1.4.3: inactive user interface components).
      if (el.matches(":disabled") || el.closest("button:disabled")) return;
      var text = ownText(el);
      if (text) measure(el, text, getComputedStyle(el), false);
      var ph = el.getAttribute("placeholder");
      if (ph && !el.value && (el.tagName === "INPUT" || el.tagName === "TEXTAREA")) measure(el, ph, getComputedStyle(el, "::placeholder"), true);
    });
    return { checked: checked, fails: fails, lowest: lowest };
  }

  // name is el's accessible name, as far as these pages need: aria-labelledby, aria-label,
  // <label>, the content of buttons, links and summaries, then title.
  function name(el) {
    var t = "";
    var ids = el.getAttribute("aria-labelledby");
    if (ids) {
      t = ids.split(/\s+/).map(function (id) { var e = document.getElementById(id); return e ? e.textContent : ""; }).join(" ").trim();
      if (t) return t;
    }
    t = (el.getAttribute("aria-label") || "").trim();
    if (t) return t;
    if (el.labels && el.labels.length) {
      t = Array.prototype.map.call(el.labels, function (l) { return l.textContent; }).join(" ").trim();
      if (t) return t;
    }
    if (el.matches("button, a, summary")) {
      t = el.textContent.replace(/\s+/g, " ").trim();
      if (t) return t;
    }
    if (el.matches('input[type="submit"], input[type="button"]')) return el.value.trim();
    return (el.getAttribute("title") || "").trim();
  }

  function labels() {
    var fails = [], checked = 0;
    var sel = 'input:not([type="hidden"]), select, textarea, button, a[href], summary, [role="img"], [role="button"], nav, form[aria-label], section[aria-label], section[aria-labelledby]';
    Array.prototype.forEach.call(document.body.querySelectorAll(sel), function (el) {
      if (el.matches("nav, form, section") && !el.hasAttribute("aria-label") && !el.hasAttribute("aria-labelledby")) return;
      checked++;
      if (!name(el)) fails.push(describe(el));
    });
    return { checked: checked, fails: fails };
  }

  // Interactive elements: what a pointer can use must be reachable by Tab.
  var interactive = 'a, button, input:not([type="hidden"]), select, textarea, details > summary:first-of-type, [tabindex], [role="button"], [role="link"], [data-page]';

  function order(els) {
    var pos = els.filter(function (el) { return el.tabIndex > 0; }).sort(function (a, b) { return a.tabIndex - b.tabIndex; });
    return pos.concat(els.filter(function (el) { return el.tabIndex === 0; }));
  }

  function keyboardStart() {
    var expected = [], unreachable = [];
    Array.prototype.forEach.call(document.body.querySelectorAll(interactive), function (el) {
      if (el.matches(":disabled") || !el.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true })) return;
      if (el.tagName === "A" && !el.hasAttribute("href") && !el.hasAttribute("data-page") && !el.hasAttribute("tabindex")) return; // an anchor, not a link
      if (el.tabIndex < 0) {
        if (el.getAttribute("tabindex") !== "-1" || el.matches("a, button, input, select, textarea, summary, [role], [data-page]")) unreachable.push(describe(el));
        return;
      }
      expected.push(el);
    });
    expected = order(expected);
    expected.forEach(function (el, i) { el.setAttribute("data-a11y-n", String(i)); });
    var state = { seen: [] };
    state.listener = function (e) {
      var el = e.target;
      if (!(el instanceof Element) || el.hasAttribute("data-a11y-start")) return;
      var cs = getComputedStyle(el);
      var outline = parse(cs.outlineColor);
      var width = parseFloat(cs.outlineWidth) || 0;
      // "auto" is the browser's own two-colour ring, drawn to stand out on any background.
      var auto = cs.outlineStyle === "auto";
      var ring = auto || (cs.outlineStyle !== "none" && width >= 2);
      var shadow = cs.boxShadow && cs.boxShadow !== "none";
      var behind = background(el.parentElement || el);
      var outlineRatio = auto ? 21 : ring && outline && behind ? Math.floor(ratio(over(outline, behind), behind) * 100) / 100 : 0;
      state.seen.push({ n: el.getAttribute("data-a11y-n"), element: describe(el), focusVisible: el.matches(":focus-visible"),
        ring: ring, shadow: !!shadow, outline: outline ? hex(outline) : cs.outlineColor, outlineRatio: outlineRatio });
    };
    document.addEventListener("focusin", state.listener, true);
    var start = document.createElement("span");
    start.tabIndex = -1;
    start.setAttribute("data-a11y-start", "");
    document.body.insertBefore(start, document.body.firstChild);
    window.__a11y = state;
    start.focus();
    return { expected: expected.map(describe), unreachable: unreachable, focused: document.activeElement === start };
  }

  function keyboardEnd() {
    var state = window.__a11y || { seen: [] };
    document.removeEventListener("focusin", state.listener, true);
    Array.prototype.forEach.call(document.querySelectorAll("[data-a11y-n]"), function (el) { el.removeAttribute("data-a11y-n"); });
    var start = document.querySelector("[data-a11y-start]");
    if (start) start.remove();
    if (document.activeElement && document.activeElement.blur) document.activeElement.blur();
    delete window.__a11y;
    return { seen: state.seen };
  }

  return { labels: labels, contrast: contrast, keyboardStart: keyboardStart, keyboardEnd: keyboardEnd };
})();

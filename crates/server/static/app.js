// Pricetrack: the little the browser does. Pages work without it; with it,
// charts get hover and period switching, tables sort, and prices update live.
(function () {
  "use strict";
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  // ---- confirmations
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) e.preventDefault();
  });

  // ---- sortable tables
  function cellValue(row, index, numeric) {
    var cell = row.children[index];
    if (!cell) return "";
    if (numeric) {
      var v = cell.getAttribute("data-v");
      if (v === null) v = (cell.textContent || "").replace(/[^0-9.\-−]/g, "").replace("−", "-");
      var n = parseFloat(v);
      return isNaN(n) ? -Infinity : n;
    }
    return (cell.textContent || "").trim().toLowerCase();
  }
  function sortTable(table, th, dir) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute("data-sort") === "num";
    $$("thead th", table).forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      var c = x < y ? -1 : x > y ? 1 : 0;
      return dir === "ascending" ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function initSort(table) {
    $$("thead th[data-sort]", table).forEach(function (th) {
      th.tabIndex = 0;
      var sort = function () {
        sortTable(table, th, th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending");
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
    });
  }
  // A table redrawn by the server keeps the order the reader chose.
  function keepSort(from, to) {
    var th = $("thead th[aria-sort]", from);
    if (!th) return;
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var same = $("thead tr", to) && $("thead tr", to).children[index];
    if (same && same.hasAttribute("data-sort")) sortTable(to, same, th.getAttribute("aria-sort"));
  }
  $$("table.sortable").forEach(initSort);

  // ---- chart hover: crosshair and a tooltip with time and OHLCV
  var tooltip = null;
  function fmt(v, currency) {
    if (!isFinite(v)) return "—";
    var digits = Math.abs(v) >= 1 || v === 0 ? 2 : Math.abs(v) >= 0.01 ? 4 : 6;
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: currency, minimumFractionDigits: digits, maximumFractionDigits: digits }).format(v);
    } catch (_) { return v.toFixed(digits) + " " + currency; }
  }
  function fmtTime(t, intraday) {
    var d = new Date(t * 1000);
    var iso = d.toISOString();
    return intraday ? iso.slice(0, 10) + " " + iso.slice(11, 16) + " UTC" : iso.slice(0, 10);
  }
  function parseSeries(svg) {
    if (svg._series) return svg._series;
    var raw = svg.getAttribute("data-series") || "";
    svg._series = raw ? raw.split(";").map(function (r) { return r.split(",").map(Number); }) : [];
    var p = (svg.getAttribute("data-plot") || "").split(",").map(Number);
    svg._plot = { left: p[0], right: p[1], t0: p[2], t1: p[3], lo: p[4], hi: p[5], top: p[6], bottom: p[7] };
    return svg._series;
  }
  // The point nearest to a time, by bisection (series are in time order).
  function nearest(series, t) {
    var lo = 0, hi = series.length - 1;
    while (hi - lo > 1) {
      var mid = (lo + hi) >> 1;
      if (series[mid][0] < t) lo = mid; else hi = mid;
    }
    return Math.abs(series[lo][0] - t) <= Math.abs(series[hi][0] - t) ? lo : hi;
  }
  function showPoint(svg, index) {
    var series = parseSeries(svg);
    if (!series.length) return;
    index = Math.max(0, Math.min(series.length - 1, index));
    svg._index = index;
    var plot = svg._plot;
    var box = svg.getBoundingClientRect();
    var scale = svg.viewBox.baseVal.width / (box.width || 1);
    var row = series[index];
    var px = plot.left + (row[0] - plot.t0) / (plot.t1 - plot.t0) * (plot.right - plot.left);
    var closeV = row.length >= 6 ? row[4] : row[1];
    var py = plot.bottom - (closeV - plot.lo) / (plot.hi - plot.lo) * (plot.bottom - plot.top);
    var xh = $(".hover .xh", svg), yh = $(".hover .yh", svg);
    if (xh) { xh.setAttribute("x1", px); xh.setAttribute("x2", px); }
    if (yh) { yh.setAttribute("y1", py); yh.setAttribute("y2", py); }
    svg.classList.add("hovering");
    var cur = svg.getAttribute("data-currency") || "USD";
    var intraday = svg.getAttribute("data-intraday") === "true";
    if (!tooltip) { tooltip = document.createElement("div"); tooltip.className = "tooltip"; tooltip.setAttribute("role", "status"); }
    var host = svg.parentNode;
    if (tooltip.parentNode !== host) host.appendChild(tooltip);
    var lines = [];
    if (row.length >= 6) {
      lines = ["O " + fmt(row[1], cur), "H " + fmt(row[2], cur), "L " + fmt(row[3], cur), "C " + fmt(row[4], cur), "V " + Math.round(row[5]).toLocaleString()];
    } else {
      lines = ["Value " + fmt(row[1], cur)];
      if (row.length > 2 && isFinite(row[2])) lines.push("Invested " + fmt(row[2], cur));
    }
    tooltip.textContent = "";
    var b = document.createElement("b");
    b.textContent = fmtTime(row[0], intraday);
    tooltip.appendChild(b);
    lines.forEach(function (l) { var s = document.createElement("div"); s.textContent = l; tooltip.appendChild(s); });
    var left = px / scale + 12;
    if (left + 170 > box.width) left = px / scale - 180;
    tooltip.style.left = Math.max(0, left) + "px";
    tooltip.style.top = "8px";
    tooltip.hidden = false;
  }
  function hidePoint(svg) {
    svg.classList.remove("hovering");
    if (tooltip) tooltip.hidden = true;
  }
  // Mouse, pen and touch alike (pointer events); a touch that drags along
  // the chart follows the finger.
  function onPointer(e) {
    var svg = e.currentTarget;
    var series = parseSeries(svg);
    if (!series.length) return;
    var plot = svg._plot;
    var box = svg.getBoundingClientRect();
    var x = (e.clientX - box.left) * (svg.viewBox.baseVal.width / (box.width || 1));
    var t = plot.t0 + (x - plot.left) / (plot.right - plot.left) * (plot.t1 - plot.t0);
    showPoint(svg, nearest(series, t));
  }
  function onLeave(e) {
    if (e.pointerType === "touch" && e.type === "pointerleave") return;
    hidePoint(e.currentTarget);
  }
  // Keyboard: a focused chart steps through its points with the arrow keys
  // (Page Up/Down by tens, Home/End to the ends, Escape to hide).
  function onKey(e) {
    var svg = e.currentTarget;
    var series = parseSeries(svg);
    if (!series.length) return;
    var i = svg._index === undefined ? series.length - 1 : svg._index;
    var steps = { ArrowLeft: -1, ArrowRight: 1, ArrowDown: -1, ArrowUp: 1, PageDown: -10, PageUp: 10 };
    if (e.key in steps) i += steps[e.key];
    else if (e.key === "Home") i = 0;
    else if (e.key === "End") i = series.length - 1;
    else if (e.key === "Escape") { hidePoint(svg); return; }
    else return;
    e.preventDefault();
    showPoint(svg, i);
  }
  function initCharts(root) {
    $$("svg.chart[data-series]", root).forEach(function (svg) {
      svg.setAttribute("tabindex", "0");
      svg.addEventListener("pointermove", onPointer);
      svg.addEventListener("pointerdown", onPointer);
      svg.addEventListener("pointerleave", onLeave);
      svg.addEventListener("pointercancel", onLeave);
      svg.addEventListener("keydown", onKey);
      svg.addEventListener("focus", function () { showPoint(svg, svg._index === undefined ? parseSeries(svg).length - 1 : svg._index); });
      svg.addEventListener("blur", function () { hidePoint(svg); });
    });
  }
  initCharts(document);

  // ---- period / interval switching without a reload
  function loadFragment(figure, url) {
    figure.classList.add("loading");
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        figure.innerHTML = html;
        initCharts(figure);
        figure.classList.remove("loading");
      })
      .catch(function () { figure.classList.remove("loading"); });
  }
  function chartQuery(figure) { return figure.getAttribute("data-query") || ""; }
  // Charts are drawn for a desktop column; on a narrow screen the server
  // redraws them at the width they get, so their labels keep a legible size.
  function chartUrl(base, query, figure) {
    var w = Math.round(figure.clientWidth);
    if (w > 0 && w < 600) query = setParam(query, "width", String(w));
    return base + "?" + query;
  }
  function setParam(query, key, value) {
    var params = new URLSearchParams(query);
    params.set(key, value);
    return params.toString();
  }
  $$("[data-chart-target]").forEach(function (nav) {
    nav.addEventListener("click", function (e) {
      var a = e.target.closest("a");
      if (!a || e.metaKey || e.ctrlKey || e.shiftKey) return;
      var figure = document.getElementById(nav.getAttribute("data-chart-target"));
      if (!figure) return;
      e.preventDefault();
      var query;
      if (a.hasAttribute("data-period")) {
        query = "period=" + encodeURIComponent(a.getAttribute("data-period"));
      } else {
        query = setParam(chartQuery(figure), a.getAttribute("data-param"), a.getAttribute("data-value"));
        figure.setAttribute("data-query", query);
      }
      $$("a", a.parentNode).forEach(function (x) { x.removeAttribute("aria-current"); });
      a.setAttribute("aria-current", "true");
      // Keep the other selectors' links in step with the new query.
      $$("a[data-param]", nav).forEach(function (x) {
        var q = setParam(query, x.getAttribute("data-param"), x.getAttribute("data-value"));
        x.setAttribute("href", location.pathname + "?" + q);
      });
      history.replaceState(null, "", a.getAttribute("href"));
      loadFragment(figure, chartUrl(nav.getAttribute("data-chart-url"), query, figure));
    });
    var figure = document.getElementById(nav.getAttribute("data-chart-target"));
    if (figure && figure.clientWidth > 0 && figure.clientWidth < 600) {
      var query = figure.hasAttribute("data-query") ? chartQuery(figure) : location.search.replace(/^\?/, "");
      loadFragment(figure, chartUrl(nav.getAttribute("data-chart-url"), query, figure));
    }
  });

  // ---- live prices over Server-Sent Events
  var liveChart = $("[data-live-symbol]");
  var refreshTimer = null;
  function refreshChart() {
    if (!liveChart) return;
    var figure = document.getElementById(liveChart.getAttribute("data-chart-target"));
    if (!figure) return;
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      loadFragment(figure, chartUrl(liveChart.getAttribute("data-chart-url"), chartQuery(figure), figure));
    }, 150);
  }
  function applyBar(data) {
    var containers = $$('[data-symbol="' + (window.CSS && CSS.escape ? CSS.escape(data.symbol) : data.symbol) + '"]');
    containers.forEach(function (c) {
      ["last", "change", "pct", "range", "quote_time"].forEach(function (field) {
        var key = field === "pct" ? "change_pct" : field;
        if (data[key] === undefined) return;
        $$('[data-f="' + field + '"]', c).forEach(function (el) {
          if (el.textContent === data[key]) return;
          el.textContent = data[key];
          if (field === "change" || field === "pct") {
            el.classList.remove("up", "down", "flat");
            el.classList.add(data.dir || "flat");
          }
          if (field === "last") {
            el.classList.remove("flash-up", "flash-down");
            void el.offsetWidth;
            el.classList.add(data.dir === "down" ? "flash-down" : "flash-up");
          }
        });
      });
      if (data.spark) $$('[data-f="spark"]', c).forEach(function (el) { el.innerHTML = data.spark; });
    });
    if (liveChart && liveChart.getAttribute("data-live-symbol") === data.symbol) refreshChart();
    refreshParts();
  }
  // Parts of a page computed from many prices (a portfolio's value, the
  // dashboard's total and movers) are redrawn by the server: one request per
  // URL however many bars arrive together.
  var partsTimer = null;
  function refreshParts() {
    var urls = [];
    $$("[data-live-part][data-live-url]").forEach(function (el) {
      var u = el.getAttribute("data-live-url");
      if (urls.indexOf(u) < 0) urls.push(u);
    });
    if (!urls.length) return;
    clearTimeout(partsTimer);
    partsTimer = setTimeout(function () { urls.forEach(loadParts); }, 250);
  }
  function loadParts(url) {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        var t = document.createElement("template");
        t.innerHTML = html;
        $$("[data-live-part][id]", t.content).forEach(function (fresh) {
          var old = document.getElementById(fresh.id);
          if (!old) return;
          $$("table.sortable", fresh).forEach(function (table, i) {
            initSort(table);
            var before = $$("table.sortable", old)[i];
            if (before) keepSort(before, table);
          });
          old.replaceWith(fresh);
        });
      })
      .catch(function () { /* the next bar tries again */ });
  }
  var streamSymbols = document.body.getAttribute("data-stream");
  var status = $("#live-status");
  if (streamSymbols && window.EventSource) {
    var source = new EventSource("/api/v1/stream?symbols=" + encodeURIComponent(streamSymbols));
    source.addEventListener("open", function () {
      document.body.setAttribute("data-live", "on");
      if (status) { status.textContent = "Live"; status.className = "live-status on"; }
    });
    source.addEventListener("error", function () {
      document.body.setAttribute("data-live", "off");
      if (status) { status.textContent = "Reconnecting…"; status.className = "live-status on off"; }
    });
    source.addEventListener("bar", function (e) {
      try { applyBar(JSON.parse(e.data)); } catch (_) { /* ignore malformed events */ }
    });
  }

  // ---- forms: provider suggestions by kind, transaction fields by type
  $$("[data-suggest]").forEach(function (box) {
    var kind = $("[data-kind]", box), hint = $("[data-suggestions]", box);
    var provider = $('input[name="provider"]', box);
    var update = function () {
      var opt = kind.options[kind.selectedIndex];
      var list = (opt && opt.getAttribute("data-providers")) || "";
      if (hint) hint.textContent = list ? "Suggested: " + list.split(",").join(", ") : "";
      if (provider) provider.setAttribute("placeholder", list.split(",")[0] || "");
    };
    if (kind) { kind.addEventListener("change", update); update(); }
  });
  $$(".tx-form").forEach(function (box) {
    var type = $("[data-tx-type]", box);
    var update = function () {
      $$("label[data-for]", box).forEach(function (label) {
        var on = label.getAttribute("data-for").split(" ").indexOf(type.value) >= 0;
        label.classList.toggle("inactive", !on);
      });
    };
    if (type) { type.addEventListener("change", update); update(); }
  });
})();

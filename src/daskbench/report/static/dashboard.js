/* daskbench dashboard: filters on the index and runs pages, uPlot charts on test pages.
 * Data comes from data/runs.js (window.DASHBOARD_RUNS) and data/tests/<slug>.js
 * (window.DASHBOARD_TEST), loaded by <script> tags so that pages work from file:// too. */
(function () {
  "use strict";

  var COLORS = { line: "#0969da", regime: "#57606a", bad: "#cf222e", old: "#bc4c00",
                 good: "#1a7f37", ack: "#8c959f", failed: "#cf222e" };

  // Same formatting as daskbench.metrics.format_value.
  function fmt(v, unit) {
    if (v === null || v === undefined || isNaN(v)) return "-";
    var a = Math.abs(v);
    if (unit === "s") {
      if (a >= 100) return v.toFixed(0) + " s";
      if (a >= 1) return v.toFixed(2) + " s";
      if (a >= 1e-3) return (v * 1e3).toFixed(1) + " ms";
      return (v * 1e6).toFixed(0) + " µs";
    }
    if (unit === "B") {
      var units = [["TiB", Math.pow(2, 40)], ["GiB", Math.pow(2, 30)], ["MiB", Math.pow(2, 20)],
                   ["KiB", 1024]];
      for (var i = 0; i < units.length; i++) {
        if (a >= units[i][1]) return (v / units[i][1]).toFixed(2) + " " + units[i][0];
      }
      return v.toFixed(0) + " B";
    }
    var text = Number.isInteger(v) ? v.toLocaleString("en-US") : String(Number(v.toPrecision(4)));
    return unit && unit !== "count" ? text + " " + unit : text;
  }

  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c];
    });
  }

  // null: a change from exactly zero (no ratio).
  function pctText(pct) {
    return pct === null ? "from 0" : (pct > 0 ? "+" : "") + pct + "%";
  }

  function date(t) {
    return new Date(t * 1000).toISOString().slice(0, 16).replace("T", " ");
  }

  // -- index and runs pages: filters ---------------------------------------------------------

  function setupFilters(tableId) {
    var table = document.getElementById(tableId);
    if (!table) return;
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var controls = ["category", "label", "status"].map(function (k) {
      return [k, document.getElementById("f-" + k)];
    }).filter(function (p) { return p[1]; });
    var search = document.getElementById("f-search");
    var count = document.getElementById("f-count");
    function apply() {
      var shown = 0;
      var q = search ? search.value.trim().toLowerCase() : "";
      rows.forEach(function (row) {
        var ok = controls.every(function (p) {
          return !p[1].value || row.dataset[p[0]] === p[1].value;
        });
        if (ok && q) ok = (row.dataset.test || "").indexOf(q) >= 0;
        row.style.display = ok ? "" : "none";
        if (ok) shown++;
      });
      if (count) count.textContent = shown + " of " + rows.length + " shown";
    }
    controls.forEach(function (p) { p[1].addEventListener("change", apply); });
    if (search) search.addEventListener("input", apply);
    apply();
  }

  // -- test page: charts -----------------------------------------------------------------------

  function runInfo(index) {
    var table = window.DASHBOARD_RUNS;
    var row = table.runs[index];
    var out = {};
    table.fields.forEach(function (f, i) { out[f] = row[i]; });
    return out;
  }

  function changeColor(c) {
    if (c.ack) return COLORS.ack;
    if (c.kind === "improvement") return COLORS.good;
    return c.failing ? COLORS.bad : COLORS.old;
  }

  function drawMarks(u, lineage, metric) {
    var ctx = u.ctx;
    var box = u.bbox;
    var px = window.devicePixelRatio || 1;
    var xs = u.data[0];
    ctx.save();
    ctx.beginPath();
    ctx.rect(box.left, box.top, box.width, box.height);
    ctx.clip();
    // Regime medians: dotted horizontal segments.
    ctx.setLineDash([2 * px, 3 * px]);
    ctx.lineWidth = 1.5 * px;
    ctx.strokeStyle = COLORS.regime;
    metric.regimes.forEach(function (r) {
      var y = u.valToPos(r[2], "y", true);
      var x0 = u.valToPos(xs[r[0]], "x", true);
      var x1 = u.valToPos(xs[Math.min(r[1], xs.length) - 1], "x", true);
      ctx.beginPath();
      ctx.moveTo(x0, y);
      ctx.lineTo(x1, y);
      ctx.stroke();
    });
    // Change points: dashed vertical lines at the first bad run, labelled with the change.
    ctx.setLineDash([5 * px, 4 * px]);
    ctx.font = (11 * px) + "px system-ui, sans-serif";
    ctx.textAlign = "left";  // uPlot leaves the alignment of its last axis label behind
    ctx.textBaseline = "alphabetic";
    metric.changes.forEach(function (c) {
      var x = u.valToPos(xs[c.pos], "x", true);
      ctx.strokeStyle = changeColor(c);
      ctx.fillStyle = changeColor(c);
      ctx.lineWidth = 1.5 * px;
      ctx.beginPath();
      ctx.moveTo(x, box.top);
      ctx.lineTo(x, box.top + box.height);
      ctx.stroke();
      var text = pctText(c.pct) + (c.ack ? " (ack)" : "");
      var w = ctx.measureText(text).width;
      var tx = x + 3 * px + w > box.left + box.width ? x - 3 * px - w : x + 3 * px;
      ctx.fillText(text, tx, box.top + 12 * px);
    });
    // Failed runs: red crosses along the bottom edge.
    ctx.setLineDash([]);
    ctx.strokeStyle = COLORS.failed;
    ctx.lineWidth = 2 * px;
    var s = 4 * px;
    var yb = box.top + box.height - 6 * px;
    lineage.failed.forEach(function (pos) {
      var x = u.valToPos(xs[pos], "x", true);
      ctx.beginPath();
      ctx.moveTo(x - s, yb - s);
      ctx.lineTo(x + s, yb + s);
      ctx.moveTo(x + s, yb - s);
      ctx.lineTo(x - s, yb + s);
      ctx.stroke();
    });
    ctx.restore();
  }

  function tooltipHtml(lineage, metric, pos) {
    var run = runInfo(lineage.runs[pos]);
    var value = metric.values[pos];
    var lines = ["<b>" + esc(run.id) + "</b> · " + esc(date(run.t))];
    if (lineage.failed.indexOf(pos) >= 0) {
      var err = lineage.errors[String(pos)];
      lines.push('<span class="bad">failed' + (err ? ": " + esc(err.slice(0, 80)) : "") + "</span>");
    }
    lines.push("value: <b>" + esc(fmt(value, metric.unit)) + "</b>");
    lines.push("commit: " + esc(run.commit ? run.commit.slice(0, 12) : "-"));
    var versions = [];
    if (run.python) versions.push("python " + run.python);
    Object.keys(run.packages).forEach(function (k) { versions.push(k + " " + run.packages[k]); });
    if (versions.length) lines.push(esc(versions.join(", ")));
    metric.changes.forEach(function (c) {
      if (c.pos === pos) {
        lines.push("change point: " + pctText(c.pct) + " " + esc(c.kind) +
                   (c.ack ? " · acknowledged: " + esc(c.ack) : ""));
        (c.breakdown || []).forEach(function (b) {
          var delta = (b[2] || 0) - (b[1] || 0);
          lines.push("&nbsp;&nbsp;" + esc(b[0]) + " " + (delta > 0 ? "+" : "") +
                     esc(fmt(delta, "s")) + " (" + esc(fmt(b[1], "s")) + " → " +
                     esc(fmt(b[2], "s")) + ")");
        });
      }
    });
    return lines.join("<br>");
  }

  function makeChart(container, name, lineage, metric) {
    var box = document.createElement("div");
    box.className = "chart";
    box.dataset.metric = name;
    var unit = metric.unit ? " (" + metric.unit + ")" : "";
    var dir = metric.lower ? "lower is better" : "higher is better";
    box.innerHTML = "<h3>" + esc(name) + esc(unit) + ' <span class="muted">· ' + dir +
                    "</span></h3>";
    container.appendChild(box);
    var xs = lineage.runs.map(function (i) { return runInfo(i).t; });
    var tip = document.createElement("div");
    tip.className = "tip";
    var opts = {
      width: Math.max(300, box.clientWidth - 16),
      height: 230,
      legend: { show: false },
      scales: { x: { time: true } },
      series: [
        {},
        { label: name, stroke: COLORS.line, width: 1.5, spanGaps: true,
          points: { show: xs.length <= 400, size: 4, fill: COLORS.line } }
      ],
      axes: [
        { stroke: "#57606a", grid: { stroke: "#eaeef2" } },
        { stroke: "#57606a", grid: { stroke: "#eaeef2" }, size: 86,
          values: function (u, splits) { return splits.map(function (v) { return fmt(v, metric.unit); }); } }
      ],
      hooks: {
        draw: [function (u) { drawMarks(u, lineage, metric); }],
        setCursor: [function (u) {
          var idx = u.cursor.idx;
          if (idx === null || idx === undefined || u.cursor.left < 0) {
            tip.style.display = "none";
            return;
          }
          tip.innerHTML = tooltipHtml(lineage, metric, idx);
          tip.style.display = "block";
          var left = u.cursor.left + 12;
          if (left + tip.offsetWidth > u.over.clientWidth) left = u.cursor.left - tip.offsetWidth - 12;
          tip.style.left = Math.max(0, left) + "px";
          tip.style.top = Math.max(0, u.cursor.top - tip.offsetHeight - 8) + "px";
        }]
      }
    };
    var plot = new uPlot(opts, [xs, metric.values], box);
    plot.over.appendChild(tip);
    return plot;
  }

  // -- test page: time per activity, stacked ------------------------------------------------

  var ACTIVITY_COLORS = { compute: "#0969da", transfer: "#bf8700", disk_read: "#8250df",
                          disk_write: "#a475f9", serialize: "#bc4c00", p2p: "#1a7f37",
                          other: "#8c959f", idle: "#d0d7de" };

  function makeStackedChart(container, lineage) {
    var acts = lineage.activities;
    var box = document.createElement("div");
    box.className = "chart";
    box.dataset.metric = "activities";
    var keys = acts.names.map(function (n) {
      return '<span class="key" style="border-color:' + (ACTIVITY_COLORS[n] || "#57606a") +
             '"></span>' + esc(n);
    }).join(" ");
    box.innerHTML = "<h3>time per activity (s) " + '<span class="muted" title="summed over ' +
                    "the cluster's threads; transfer runs on the workers' event loops and " +
                    'overlaps the others">· stacked, thread-seconds</span></h3>' +
                    '<div class="legend">' + keys + "</div>";
    container.appendChild(box);
    var xs = lineage.runs.map(function (i) { return runInfo(i).t; });
    // Cumulative sums, bottom (first activity) to top; a run without a breakdown is a gap.
    var stacked = [];
    var running = xs.map(function () { return 0; });
    acts.values.forEach(function (column) {
      running = running.map(function (total, i) {
        return total === null || column[i] === null ? null : total + column[i];
      });
      stacked.push(running.slice());
    });
    // Drawn top first, each filled down to 0: the lower layers paint over the upper ones.
    var order = acts.names.map(function (_, i) { return acts.names.length - 1 - i; });
    var series = [{}];
    var data = [xs];
    order.forEach(function (k) {
      var color = ACTIVITY_COLORS[acts.names[k]] || "#57606a";
      series.push({ label: acts.names[k], stroke: color, fill: color, width: 1, spanGaps: false,
                    points: { show: false } });
      data.push(stacked[k]);
    });
    var tip = document.createElement("div");
    tip.className = "tip";
    var opts = {
      width: Math.max(300, box.clientWidth - 16),
      height: 230,
      legend: { show: false },
      // From 0: the areas are amounts of time.
      scales: { x: { time: true }, y: { range: function (u, lo, hi) { return [0, hi * 1.05]; } } },
      series: series,
      axes: [
        { stroke: "#57606a", grid: { stroke: "#eaeef2" } },
        { stroke: "#57606a", grid: { stroke: "#eaeef2" }, size: 86,
          values: function (u, splits) { return splits.map(function (v) { return fmt(v, "s"); }); } }
      ],
      hooks: {
        setCursor: [function (u) {
          var idx = u.cursor.idx;
          if (idx === null || idx === undefined || u.cursor.left < 0) {
            tip.style.display = "none";
            return;
          }
          var run = runInfo(lineage.runs[idx]);
          var lines = ["<b>" + esc(run.id) + "</b> · " + esc(date(run.t))];
          for (var k = acts.names.length - 1; k >= 0; k--) {
            lines.push(esc(acts.names[k]) + ": <b>" + esc(fmt(acts.values[k][idx], "s")) + "</b>");
          }
          tip.innerHTML = lines.join("<br>");
          tip.style.display = "block";
          var left = u.cursor.left + 12;
          if (left + tip.offsetWidth > u.over.clientWidth) left = u.cursor.left - tip.offsetWidth - 12;
          tip.style.left = Math.max(0, left) + "px";
          tip.style.top = Math.max(0, u.cursor.top - tip.offsetHeight - 8) + "px";
        }]
      }
    };
    var plot = new uPlot(opts, data, box);
    plot.over.appendChild(tip);
    return plot;
  }

  function setupTest() {
    var data = window.DASHBOARD_TEST;
    var container = document.getElementById("charts");
    if (!data || !window.DASHBOARD_RUNS || !container || typeof uPlot === "undefined") {
      throw new Error("dashboard data or uPlot did not load");
    }
    var plots = [];
    var tabs = Array.prototype.slice.call(document.querySelectorAll("#label-tabs .tab"));
    function show(label) {
      plots.forEach(function (p) { p.destroy(); });
      plots = [];
      container.innerHTML = "";
      tabs.forEach(function (t) { t.classList.toggle("active", t.dataset.label === label); });
      var lineage = data.labels[label];
      // Wall time first, then memory, then the rest (the order is decided in _data.py).
      (lineage.order || Object.keys(lineage.metrics).sort()).forEach(function (name, i) {
        plots.push(makeChart(container, name, lineage, lineage.metrics[name]));
        // Where the wall time went, next to it.
        if (i === 0 && lineage.activities) plots.push(makeStackedChart(container, lineage));
      });
      if (window.history && window.history.replaceState && location.protocol !== "file:") {
        window.history.replaceState(null, "", "#label=" + encodeURIComponent(label));
      }
    }
    tabs.forEach(function (t) { t.addEventListener("click", function () { show(t.dataset.label); }); });
    var wanted = decodeURIComponent((location.hash.match(/label=([^&]+)/) || [])[1] || "");
    var labels = Object.keys(data.labels);
    show(labels.indexOf(wanted) >= 0 ? wanted : labels[0]);
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        plots.forEach(function (p) {
          var w = Math.max(300, p.root.parentNode.clientWidth - 16);
          p.setSize({ width: w, height: 230 });
        });
      }, 100);
    });
  }

  var page = document.body.dataset.page;
  if (page === "index") setupFilters("tests");
  else if (page === "runs") setupFilters("runs");
  else if (page === "test") setupTest();
})();

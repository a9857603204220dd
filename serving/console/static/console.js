// Draws every [data-chart] element with uPlot: the score history (dates) and the survival curve.
(function () {
  "use strict";
  var COLOURS = { health: "#24292f", "good from": "#0072b2", "poor below": "#c0440a",
                  "still a customer": "#24292f" };

  function draw(el) {
    if (el.dataset.drawn) { return; }
    var spec = JSON.parse(el.dataset.chart);
    var names = Object.keys(spec.series).filter(function (k) { return k !== "x"; });
    var data = [spec.series.x].concat(names.map(function (k) { return spec.series[k]; }));
    var series = [{ label: spec.time ? "date" : "days" }].concat(names.map(function (k) {
      var dashed = k === "good from" || k === "poor below";
      return { label: k, stroke: COLOURS[k] || "#24292f", width: dashed ? 1.5 : 2,
               dash: dashed ? [6, 4] : undefined, points: { show: !dashed } };
    }));
    var range = spec.kind === "survival" ? [0, 1] : [0, 100];
    var opts = {
      width: Math.max(320, Math.min(el.clientWidth || 720, 900)), height: 240,
      scales: { x: { time: spec.time }, y: { range: range } },
      series: series,
      axes: [{ label: spec.time ? "" : "days from today" }, { label: spec.kind === "survival" ? "still a customer" : "health" }],
      hooks: spec.marker ? { draw: [function (u) { marker(u, spec.marker); }] } : {}
    };
    new uPlot(opts, data, el);
    el.dataset.drawn = "1";
  }

  function marker(u, mark) {
    var x = u.valToPos(mark.x, "x", true), ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = "#6f2dbd"; ctx.setLineDash([4, 4]); ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
    ctx.fillStyle = "#6f2dbd"; ctx.font = "12px system-ui, sans-serif";
    ctx.fillText(mark.label, x + 4, u.bbox.top + 12);
    ctx.restore();
  }

  function drawAll(root) { (root || document).querySelectorAll("[data-chart]").forEach(draw); }
  document.addEventListener("DOMContentLoaded", function () { drawAll(); });
  document.addEventListener("htmx:afterSwap", function (e) { drawAll(e.target); });
})();

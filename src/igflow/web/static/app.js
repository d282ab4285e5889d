// Sends the page's CSRF token with every htmx request (forms carry it as a hidden field).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) {
    event.detail.headers["X-CSRF-Token"] = meta.content;
  }
});

// Chair board: move the "now" line every minute (site-local minute given by the server at render).
(function () {
  var board = document.querySelector("svg.board[data-now-min]");
  if (!board) { return; }
  var line = board.querySelector("line.now");
  var start = Date.now();
  var nowMin = parseFloat(board.getAttribute("data-now-min"));
  var open = parseFloat(board.getAttribute("data-open-min"));
  var close = parseFloat(board.getAttribute("data-close-min"));
  var left = parseFloat(board.getAttribute("data-left"));
  var width = parseFloat(board.getAttribute("data-width"));
  function place() {
    if (!line) { return; }
    var minute = nowMin + (Date.now() - start) / 60000;
    if (minute < open || minute > close) { line.setAttribute("visibility", "hidden"); return; }
    var x = left + (minute - open) / (close - open) * width;
    line.setAttribute("x1", x);
    line.setAttribute("x2", x);
  }
  place();
  setInterval(place, 60000);
})();

// Chair side: elapsed time since the start, the current step and the next vitals due.
(function () {
  var table = document.querySelector("table#steps[data-started-ms]");
  var timer = document.getElementById("timer");
  if (!table || !timer) { return; }
  var started = parseInt(table.getAttribute("data-started-ms"), 10);
  var rows = table.querySelectorAll("tbody tr");
  var due = document.querySelectorAll(".due[data-minute]");
  function tick() {
    var minute = (Date.now() - started) / 60000;
    var current = -1;
    rows.forEach(function (row, k) {
      var from = parseFloat(row.getAttribute("data-start-min"));
      var len = parseFloat(row.getAttribute("data-minutes"));
      var on = minute >= from && minute < from + len;
      row.classList.toggle("current", on);
      if (on) { current = k; }
    });
    var next = null;
    due.forEach(function (d) {
      var m = parseFloat(d.getAttribute("data-minute"));
      d.classList.toggle("past", m < minute);
      if (next === null && m >= minute) { next = m; }
    });
    var text = "Minute " + Math.floor(minute);
    if (current >= 0) {
      var row = rows[current];
      var ends = parseFloat(row.getAttribute("data-start-min")) + parseFloat(row.getAttribute("data-minutes"));
      text += " · step " + (current + 1) + " of " + rows.length + ", next step in " + Math.max(0, Math.ceil(ends - minute)) + " min";
    }
    if (next !== null) { text += " · vitals due in " + Math.max(0, Math.ceil(next - minute)) + " min"; }
    timer.textContent = text;
  }
  tick();
  setInterval(tick, 15000);
})();

// Order and calculator forms: show the subcutaneous fields for an SC product, the IV fields otherwise
// (without JavaScript both stay visible, each under its legend).
(function () {
  var selects = document.querySelectorAll("select[data-sc-products]");
  selects.forEach(function (select) {
    var form = select.form;
    if (!form) { return; }
    var sc = select.getAttribute("data-sc-products").split(" ");
    function show() {
      var isSc = sc.indexOf(select.value) >= 0;
      // a hidden fieldset is disabled too, so what it holds is not sent
      form.querySelectorAll("fieldset.sc-fields").forEach(function (f) { f.hidden = f.disabled = !isSc; });
      form.querySelectorAll("fieldset.iv-fields").forEach(function (f) { f.hidden = f.disabled = isSc; });
    }
    select.addEventListener("change", show);
    show();
  });
})();

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

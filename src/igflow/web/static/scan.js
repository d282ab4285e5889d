// Scan a vial's GS1 DataMatrix with the phone's camera into the lot field (progressive enhancement).
// Only where the browser has BarcodeDetector and a camera: otherwise the field stays a text field to type
// the lot number into, and nothing here shows. The barcode's text is sent as it is; the server reads the
// GTIN, lot and expiry from it (igflow.inventory.gs1). No network requests, no libraries.
(function () {
  "use strict";
  var input = document.querySelector("[data-scan-target]");
  var controls = document.getElementById("scan-controls");
  if (!input || !controls || !("BarcodeDetector" in window) || !navigator.mediaDevices ||
      !navigator.mediaDevices.getUserMedia) {
    return;
  }
  var start = document.getElementById("scan-start");
  var stop = document.getElementById("scan-stop");
  var video = document.getElementById("scan-video");
  var status = document.getElementById("scan-status");
  var stream = null;
  var timer = null;
  var detector = null;

  function say(text) {
    if (status) { status.textContent = text; }
  }

  function finish() {
    if (timer) { clearTimeout(timer); timer = null; }
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
    video.hidden = true;
    stop.hidden = true;
    start.hidden = false;
  }

  function look() {
    detector.detect(video).then(function (codes) {
      if (codes.length && codes[0].rawValue) {
        input.value = codes[0].rawValue;
        input.dispatchEvent(new Event("change", { bubbles: true }));
        say("Scanned. Check the lot number, then carry on.");
        finish();
        return;
      }
      timer = setTimeout(look, 250);
    }).catch(function () { timer = setTimeout(look, 500); });
  }

  window.BarcodeDetector.getSupportedFormats().then(function (formats) {
    var wanted = ["data_matrix", "qr_code", "code_128"].filter(function (f) { return formats.indexOf(f) >= 0; });
    if (wanted.indexOf("data_matrix") < 0) { return; }  // vials carry a GS1 DataMatrix
    detector = new window.BarcodeDetector({ formats: wanted });
    controls.hidden = false;
    start.addEventListener("click", function () {
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
        .then(function (s) {
          stream = s;
          video.srcObject = s;
          video.hidden = false;
          start.hidden = true;
          stop.hidden = false;
          say("Hold the vial's square code in front of the camera.");
          return video.play();
        })
        .then(look)
        .catch(function () {
          finish();
          say("The camera is not available: type the lot number instead.");
        });
    });
    stop.addEventListener("click", function () { finish(); say(""); });
  }).catch(function () { /* no formats: leave the typed field */ });
})();

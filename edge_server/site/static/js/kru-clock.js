// The Site page's clock offer (issue 19): shown only when the Pi's clock was not synchronised
// and this browser's clock is well ahead of the Pi's. The server checks both again.
(function () {
  "use strict";
  var card = document.getElementById("clock");
  var form = document.getElementById("clock-offer");
  if (!card || !form || card.dataset.synchronised !== "no") return;
  var loaded = Date.now();
  // The Pi's time when the page was made, moved on by the time the page took to arrive.
  var piMs = Number(card.dataset.piMs) + (performance.now ? performance.now() : 0);
  var aheadMs = Number(card.dataset.aheadS) * 1000;
  if (loaded - piMs <= aheadMs) return;
  form.hidden = false;
  form.addEventListener("submit", function () {
    form.elements.browser_ms.value = String(Date.now());
  });
})();

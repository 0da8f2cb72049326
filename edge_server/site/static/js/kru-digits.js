/* Numbers in Khmer text use Khmer digits, those written by scripts too (issue 14 item 17):
 * KruDigits(43) is "៤៣" on a Khmer page and "43" on an English one. */
(function () {
  "use strict";
  var KHMER = "០១២៣៤៥៦៧៨៩";
  window.KruDigits = function (value) {
    var text = String(value);
    if (document.documentElement.lang !== "km") { return text; }
    return text.replace(/[0-9]/g, function (d) { return KHMER[d]; });
  };
})();

/* Optional help on the session forms: marking someone absent empties their minutes and Borg
   (the server ignores them for someone absent anyway); marking them present again brings back
   what was there. The forms work the same without this script. */
(function () {
  "use strict";
  var NUMBERS = 'input[name$="-done_run_min"], input[name$="-done_total_min"], input[name$="-borg"]';

  function follow(row, attendance) {
    row.querySelectorAll(NUMBERS).forEach(function (input) {
      if (attendance === "present") {
        if (input.value === "" && input.dataset.kept !== undefined) {
          input.value = input.dataset.kept;
        }
      } else if (input.value !== "") {
        input.dataset.kept = input.value;
        input.value = "";
      }
    });
  }

  document.querySelectorAll(".session-row").forEach(function (row) {
    row.querySelectorAll('input[type="radio"][name$="-attendance"]').forEach(function (radio) {
      radio.addEventListener("change", function () {
        if (radio.checked) {
          follow(row, radio.value);
        }
      });
    });
  });
})();

// cmvrx web page: the only script. No clinical logic: it fills the import box from a
// chosen file and opens the print dialog. Everything works without it (paste, Ctrl+P).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("input[type=file][data-fill]").forEach(function (input) {
    input.addEventListener("change", function () {
      var target = document.getElementById(input.getAttribute("data-fill"));
      var file = input.files && input.files[0];
      if (!target || !file) { return; }
      file.text().then(function (text) { target.value = text; target.focus(); });
    });
  });
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
});

// Draws each chart from the figure JSON next to it, then marks the page ready (data-ready).
(function () {
  "use strict";
  function drawAll() {
    var drawn = [];
    document.querySelectorAll("[data-figure]").forEach(function (element) {
      var figure = JSON.parse(document.getElementById(element.dataset.figure).textContent);
      drawn.push(Plotly.newPlot(element, figure.data, figure.layout,
        {responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"]}));
    });
    Promise.all(drawn).then(function () { document.documentElement.dataset.ready = "true"; });
  }
  document.querySelectorAll("form.filters select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  if (document.querySelector("[data-figure]")) {
    drawAll();
  } else {
    document.documentElement.dataset.ready = "true";
  }
}());

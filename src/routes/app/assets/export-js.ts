/**
 * Export page: while a run is pending or processing, re-fetch the runs table every 1.5 s and
 * swap it in; when the last one ends, reload once so the statistics include it.
 */
export const EXPORT_JS = `
(function () {
  var box = document.getElementById("runs");
  if (!box) return;
  var wasActive = box.getAttribute("data-active") === "true";
  function tick() {
    box = document.getElementById("runs");
    if (!box || box.getAttribute("data-active") !== "true") return;
    fetch(box.getAttribute("data-src"), { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var t = document.createElement("div");
        t.innerHTML = html;
        var fresh = t.querySelector("#runs");
        if (!fresh) return;
        box.replaceWith(fresh);
        if (fresh.getAttribute("data-active") === "true") setTimeout(tick, 1500);
        else if (wasActive) location.reload();
      })
      .catch(function () { setTimeout(tick, 5000); });
  }
  if (wasActive) setTimeout(tick, 1500);
})();
`;

// Progressive enhancement only: the pages work without this file.
// On a speech page reached as /doc/ID#CHUNK, mark every piece of that passage and bring it into view.
(function () {
  function markCited() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id || !/^c-[0-9a-f]+$/.test(id)) return;
    var previous = document.querySelectorAll(".seg.js-cited");
    for (var i = 0; i < previous.length; i++) previous[i].classList.remove("js-cited");
    var pieces = document.querySelectorAll(".speech-text .seg." + id);
    for (var j = 0; j < pieces.length; j++) pieces[j].classList.add("js-cited");
    if (pieces.length) pieces[0].scrollIntoView({ block: "center" });
  }
  window.addEventListener("hashchange", markCited);
  document.addEventListener("DOMContentLoaded", markCited);
})();

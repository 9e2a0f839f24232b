// Progressive enhancement only: the pages work without this file.
// On a speech page reached as /doc/ID#CHUNK, mark every piece of that passage and bring it into view.
(function () {
  // The sticky nav's height, which the passage's scroll-margin-top keeps clear of (it wraps on a phone).
  function measureNav() {
    var nav = document.querySelector("header.site");
    if (nav) document.documentElement.style.setProperty("--nav-height", nav.offsetHeight + "px");
  }
  function markCited() {
    measureNav();
    var id = decodeURIComponent(location.hash.slice(1));
    if (!/^c-[0-9a-f]+$/.test(id)) return;
    var previous = document.querySelectorAll(".js-cited");
    for (var i = 0; i < previous.length; i++) previous[i].classList.remove("js-cited", "in-cited");
    var pieces = document.querySelectorAll(".speech-text .seg." + id);
    for (var j = 0; j < pieces.length; j++) {
      pieces[j].classList.add("js-cited");
      // A ¶ of another passage that starts inside this one is shaded too, so the passage reads as one block.
      var before = pieces[j].previousElementSibling;
      if (j > 0 && before && before.classList.contains("anchor")) before.classList.add("js-cited", "in-cited");
    }
    // The start, not the centre: a passage taller than the window would have its first lines above it.
    if (pieces.length) pieces[0].scrollIntoView({ block: "start" });
  }
  window.addEventListener("hashchange", markCited);
  document.addEventListener("DOMContentLoaded", markCited);
  window.addEventListener("resize", measureNav);
})();

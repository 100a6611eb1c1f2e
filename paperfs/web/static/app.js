// paperfs web page: suggestions while typing, and drag-and-drop upload.
// Everything works without it (plain forms); no libraries, nothing from a network.
"use strict";
(function () {
  var box = document.getElementById("q"), list = document.getElementById("suggestions");
  if (box && list) {
    var timer = null, items = [], active = -1, asked = 0;
    function show(found) {
      items = found; active = -1; list.innerHTML = "";
      found.forEach(function (s, i) {
        var li = document.createElement("li");
        li.textContent = (s.field ? s.field + ": " : "") + s.text + " (" + s.count + ")";
        li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
        list.appendChild(li);
      });
      list.hidden = found.length === 0;
    }
    function pick(i) {
      box.value = items[i].query + " "; show([]); box.focus();
    }
    box.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var n = ++asked;
        fetch(box.dataset.suggest + "?q=" + encodeURIComponent(box.value), {credentials: "same-origin"})
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (found) { if (n === asked) show(found); })
          .catch(function () { show([]); });
      }, 120);
    });
    box.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        active = (active + (e.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
        Array.prototype.forEach.call(list.children, function (li, i) { li.className = i === active ? "active" : ""; });
      } else if (e.key === "Enter" && active >= 0) {
        e.preventDefault(); pick(active);
      } else if (e.key === "Escape") { show([]); }
    });
    box.addEventListener("blur", function () { setTimeout(function () { show([]); }, 150); });
  }

  var form = document.getElementById("upload"), drop = document.getElementById("drop");
  if (form && drop) {
    var state = document.getElementById("upload-state");
    function send(files) {
      if (!files.length) return;
      var data = new FormData();
      Array.prototype.forEach.call(files, function (f) { data.append("file", f, f.name); });
      state.textContent = "Uploading " + files.length + " file(s)…";
      fetch("/_/upload", {method: "POST", body: data, credentials: "same-origin",
                          headers: {"X-CSRF-Token": form.dataset.csrf, "Accept": "application/json"}})
        .then(function (r) { return r.json().catch(function () { return {}; }).then(function (j) { return [r, j]; }); })
        .then(function (rj) {
          state.textContent = rj[0].ok ? "Uploaded: " + rj[1].uploaded.join(", ") + ". It is filed in a few seconds."
                                       : "Upload failed (" + rj[0].status + ").";
        })
        .catch(function (e) { state.textContent = "Upload failed: " + e; });
    }
    ["dragenter", "dragover"].forEach(function (t) {
      drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      drop.addEventListener(t, function (e) { e.preventDefault(); drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (e) { send(e.dataTransfer.files); });
  }
})();

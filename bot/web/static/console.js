// The console's live parts, in plain JavaScript: forms marked data-live are sent in the background (what
// the bot says arrives over the event stream), and a playground's panes take new posts from server-sent
// events. Without JavaScript every form still works. Switches apply with their button, not on change: a
// keyboard user moving through a list must not reload the page at every step.
(function () {
  "use strict";
  function csrf() { return document.querySelector("meta[name=csrf-token]").content; }

  function toast(text) {
    const box = document.getElementById("toast");
    if (!box || !text) return;
    box.textContent = text;
    box.hidden = false;
    clearTimeout(box.hideLater);
    box.hideLater = setTimeout(function () { box.hidden = true; }, 6000);
  }

  function seat(body) {
    const panes = document.querySelector("[data-stream]");
    if (!panes) return;
    ["org", "customer", "thread", "as"].forEach(function (name) {
      if (!body.has(name)) body.set(name, panes.dataset["seat" + name.charAt(0).toUpperCase() + name.slice(1)]);
    });
  }

  document.addEventListener("submit", async function (event) {
    const form = event.target.closest("form[data-live]");
    if (!form) return;
    event.preventDefault();
    const body = new URLSearchParams(new FormData(form));
    seat(body);
    const buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    try {
      const response = await fetch(form.action, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRF-Token": csrf() },
      });
      const answer = await response.json().catch(function () { return { message: response.statusText }; });
      toast(answer.message);
      if (response.ok && form.dataset.live === "reset") {
        form.querySelector("input[name=text]").value = "";
        if (answer.nonce) form.querySelector("input[name=nonce]").value = answer.nonce;
      }
    } catch (error) {
      toast("Could not reach the server: " + error);
    } finally {
      buttons.forEach(function (b) { b.disabled = false; });
    }
  });

  const panes = document.querySelector("[data-stream]");
  if (panes) {
    document.querySelectorAll(".feed").forEach(function (feed) { feed.scrollTop = feed.scrollHeight; });
    const source = new EventSource(panes.dataset.stream);
    source.addEventListener("ready", function () { panes.dataset.live = "yes"; });
    source.addEventListener("error", function () { panes.dataset.live = "reconnecting"; });
    source.addEventListener("post", function (event) {
      const post = JSON.parse(event.data);
      const feed = document.getElementById(post.pane);
      if (!feed) return;
      const holder = document.createElement("template");
      holder.innerHTML = post.html.trim();
      const node = holder.content.firstElementChild;
      const old = document.getElementById(post.id);
      if (old) old.replaceWith(node); else feed.append(node);
      feed.scrollTop = feed.scrollHeight;
    });
  }
})();

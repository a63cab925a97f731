// mobile-jpki phone simulator: sends the person's actions to the server, shows what it renders.
// No framework, no CDN: every screen is rendered on the server (web/render.py).
(() => {
  "use strict";
  const base = document.body.dataset.simBase;
  const lastHtml = {};
  let queue = Promise.resolve();

  function apply(data) {
    for (const [name, html] of Object.entries(data.panels || {})) {
      // Replace a panel only when it changed, so polling never wipes what is being typed.
      if (lastHtml[name] === html) continue;
      const el = document.querySelector(`[data-panel="${name}"]`);
      if (el) el.innerHTML = html;
      lastHtml[name] = html;
    }
  }

  function send(path, body) {
    // One request at a time, in order: an event never overtakes the one before it.
    queue = queue
      .then(() => fetch(base + path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify(body),
      }))
      .then((r) => {
        if (r.status === 409) { window.location.reload(); return null; }
        // 429 (the sandbox's limits, e.g. "start over" too often): say why, keep the page.
        if (r.status === 429) { return r.json().then((p) => { window.alert(p.detail); return null; }); }
        return r.json();
      })
      .then((data) => { if (data) apply(data); })
      .catch((err) => console.error("simulator:", err));
    return queue;
  }

  function typed(phone) {
    const out = {};
    const panel = document.querySelector(`[data-panel="${phone}"]`);
    if (panel) panel.querySelectorAll("input[data-field]").forEach((i) => { out[i.dataset.field] = i.value; });
    return out;
  }

  function event(phone, type, name) {
    return send("/event", { phone, type, name: name || "", fields: typed(phone) });
  }

  document.addEventListener("click", (ev) => {
    const el = ev.target.closest("[data-action]");
    if (!el || el.disabled) return;
    ev.preventDefault();  // the server decides what a checkbox or button does
    const action = el.dataset.action;
    if (action === "operator") send("/operator", { action: el.dataset.name });
    else event(el.dataset.phone, action, el.dataset.name);
  });

  // The card can also be dragged onto a phone: that is the NFC tap.
  document.addEventListener("dragstart", (ev) => {
    if (ev.target.closest && ev.target.closest(".card")) ev.dataTransfer.setData("text/plain", "card");
  });
  document.addEventListener("dragover", (ev) => {
    if (ev.target.closest && ev.target.closest("[data-drop-card]")) ev.preventDefault();
  });
  document.addEventListener("drop", (ev) => {
    const target = ev.target.closest && ev.target.closest("[data-drop-card]");
    if (!target) return;
    ev.preventDefault();
    event(target.dataset.dropCard, "tap-card", "");
  });

  for (const name of ["old", "new", "operator"]) {
    const el = document.querySelector(`[data-panel="${name}"]`);
    if (el) lastHtml[name] = el.innerHTML;
  }
  // Push notifications and the old phone's instructions arrive by polling.
  window.setInterval(() => send("/poll", {}), 1000);
})();

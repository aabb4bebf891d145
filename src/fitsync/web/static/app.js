// FitSync's own few lines: the phone menu, live seat counts and messages, builder rows, copy buttons.
(() => {
  "use strict";
  // Phone menu: the CSS hides the nav behind the button only once this has run (html.js-menu).
  const toggle = document.querySelector(".menu-toggle");
  const menu = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
  if (menu) {
    const show = (open) => toggle.setAttribute("aria-expanded", String(open));
    toggle.addEventListener("click", () => show(toggle.getAttribute("aria-expanded") !== "true"));
    document.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || toggle.getAttribute("aria-expanded") !== "true") return;
      show(false);
      if (toggle.offsetParent !== null) toggle.focus();
    });
    document.documentElement.classList.add("js-menu");
  }
  // Live seats on the timetable (Server-Sent Events, same-site cookie session).
  const timetable = document.querySelector(".timetable[data-live]");
  if (timetable && "EventSource" in window) {
    const source = new EventSource(timetable.dataset.live);
    source.addEventListener("seats", (event) => {
      const seat = JSON.parse(event.data);
      const box = document.querySelector(`[data-class="${seat.class_id}"]`);
      if (!box) return;
      const left = seat.capacity - seat.booked;
      const text = box.querySelector(".seat-text");
      const bar = box.querySelector(".meter > span");
      if (text) text.textContent = seat.status === "cancelled" ? "Cancelled"
        : left > 0 ? `${left} of ${seat.capacity} left`
        : `Full${seat.waitlist ? ` · ${seat.waitlist} waiting` : ""}`;
      if (bar) bar.style.width = `${Math.round((100 * seat.booked) / seat.capacity)}%`;
      box.classList.add("flash");
      setTimeout(() => box.classList.remove("flash"), 1200);
    });
    window.addEventListener("pagehide", () => source.close());
  }
  // Builder: move and remove rows (their order on the page is the workout's order).
  const rows = document.getElementById("rows");
  if (rows) {
    const empty = document.getElementById("rows-empty");
    const sync = () => { if (empty) empty.hidden = rows.children.length > 0; };
    rows.addEventListener("click", (event) => {
      const button = event.target.closest("button");
      const row = button && button.closest("[data-row]");
      if (!row) return;
      if (button.dataset.move === "up" && row.previousElementSibling) rows.insertBefore(row, row.previousElementSibling);
      else if (button.dataset.move === "down" && row.nextElementSibling) rows.insertBefore(row.nextElementSibling, row);
      else if (button.hasAttribute("data-remove")) row.remove();
      else return;
      button.focus();
      sync();
    });
    document.body.addEventListener("htmx:afterSwap", sync);
    sync();
  }
  // Messages: new rows appear live (Server-Sent Events on the viewer's own channel).
  const thread = document.getElementById("thread");
  const inbox = document.getElementById("conversations");
  const feed = (thread && !thread.hasAttribute("data-paused") && thread.dataset.live) || (inbox && inbox.dataset.live);
  if (feed && "EventSource" in window) {
    const source = new EventSource(feed);
    let busy = false, again = false;
    const refresh = async () => {
      if (busy) { again = true; return; }
      busy = true;
      try {
        if (thread) {
          const last = thread.querySelector("li.msg:last-of-type");
          const url = `/messages/${thread.dataset.conversation}/rows` + (last ? `?after=${last.dataset.id}` : "");
          const response = await fetch(url, { credentials: "same-origin" });
          if (response.ok) {
            const holder = document.createElement("template");
            holder.innerHTML = (await response.text()).trim();
            holder.content.querySelectorAll("li.msg").forEach((li) => {
              if (!document.getElementById(li.id)) { li.classList.add("fresh"); thread.appendChild(li); }
            });
            const empty = document.getElementById("thread-empty");
            if (empty) empty.remove();
            thread.lastElementChild?.scrollIntoView({ block: "nearest" });
          }
        } else {
          const response = await fetch(inbox.dataset.refresh, { credentials: "same-origin" });
          if (response.ok) inbox.innerHTML = await response.text();
        }
      } finally {
        busy = false;
        if (again) { again = false; refresh(); }
      }
    };
    source.addEventListener("message", (event) => {
      const change = JSON.parse(event.data);
      if (!thread || change.conversation_id === thread.dataset.conversation) refresh();
    });
    window.addEventListener("pagehide", () => source.close());
  }
  // Copy buttons.
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const input = document.querySelector(button.dataset.copy);
      input.select();
      try { await navigator.clipboard.writeText(input.value); button.textContent = "Copied"; } catch { /* selected: Ctrl+C works */ }
    });
  });
})();

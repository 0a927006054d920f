// The web sandbox: post as the picked member, poll the group's timeline. No framework, no build.
"use strict";
(function () {
  const timeline = document.getElementById("timeline");
  const text = document.getElementById("text");
  const who = document.getElementById("who");
  const clock = document.getElementById("clock");
  let after = 0;

  function bubble(event) {
    const item = document.createElement("div");
    item.className = "event " + event.kind;
    item.dataset.id = event.id;
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = event.who + " · " + event.at;
    const body = document.createElement("div");
    body.className = "body";
    if (event.html) {
      body.innerHTML = event.html; // rendered and escaped on the server (web/markdown.py)
    } else {
      body.textContent = event.text;
    }
    item.append(meta, body);
    timeline.append(item);
    item.scrollIntoView({block: "end"});
  }

  async function poll() {
    for (;;) {
      try {
        const answer = await fetch("/sandbox/events?after=" + after);
        const data = await answer.json();
        if (data.reset) { timeline.textContent = ""; }
        for (const event of data.events) { bubble(event); after = event.id; }
        clock.textContent = data.now;
        if (data.as && who.value !== data.as) { who.value = data.as; }
      } catch (error) {
        await new Promise((done) => setTimeout(done, 1000));
      }
    }
  }

  async function send(message) {
    await fetch("/sandbox/say", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({as: who.value, text: message}),
    });
  }

  document.getElementById("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const message = text.value.trim();
    if (message) { text.value = ""; send(message); }
  });
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      document.getElementById("send").click();
    }
  });
  document.getElementById("ff").addEventListener("click", () => {
    send("/快进 " + document.getElementById("ff-target").value);
  });
  document.getElementById("reset").addEventListener("click", () => {
    if (confirm("重置沙盒？你的报送将被清除。")) { send("/重置"); }
  });
  poll();
})();

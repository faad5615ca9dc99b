// Easel's paint page: paint (or erase, or box) the area to change over the image, then send a
// mask the size of the image, transparent where painted, with the prompt and the model.
// Plain JavaScript, no build step, no third-party requests; mouse, touch, pen and keyboard.
"use strict";

(function () {
  const base = location.pathname.replace(/\/+$/, "");
  const $ = (id) => document.getElementById(id);
  const canvas = $("paint");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const cursor = $("cursor");
  const COLOUR = "#ff0080";
  const state = { tool: "brush", down: false, last: null, corner: null, penDown: false,
    at: null, undo: [], sending: false };

  function say(text) { $("message").textContent = text || ""; }

  async function load() {
    const response = await fetch(base + "/info", { credentials: "same-origin" });
    const info = await response.json();
    if (!response.ok) { showRefusal(info); return; }
    $("prompt").value = info.prompt || "";
    for (const model of info.models) {
      const option = new Option(model.label, model.id, false, model.id === info.model);
      $("model").add(option);
    }
    const picture = $("picture");
    picture.addEventListener("load", () => {
      canvas.width = picture.naturalWidth;
      canvas.height = picture.naturalHeight;
      state.at = { x: canvas.width / 2, y: canvas.height / 2 };
      $("editor").hidden = false;
      document.body.dataset.ready = "yes";
    });
    picture.addEventListener("error", () => say("The image didn't load; reload the page."));
    picture.src = base + "/image";
  }

  function showRefusal(body) {
    $("editor").hidden = true;
    $("hint").textContent = body.title || "This link can't be used";
    say(body.error || "");
  }

  // -- drawing -------------------------------------------------------------------------------
  function scale() { return canvas.width / canvas.getBoundingClientRect().width; }
  function width() { return Number($("size").value) * scale(); }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    const s = scale();
    return { x: (event.clientX - box.left) * s, y: (event.clientY - box.top) * s };
  }

  function snapshot() {
    state.undo.push(ctx.getImageData(0, 0, canvas.width, canvas.height));
    if (state.undo.length > 30) state.undo.shift();
  }

  function pen() {
    ctx.globalCompositeOperation = state.tool === "eraser" ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = COLOUR;
    ctx.lineWidth = width();
    ctx.lineCap = ctx.lineJoin = "round";
  }

  function dot(p) {
    pen();
    ctx.beginPath();
    ctx.arc(p.x, p.y, width() / 2, 0, Math.PI * 2);
    ctx.fill();
  }

  function line(from, to) {
    pen();
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
    ctx.stroke();
  }

  function box(from, to) {
    ctx.putImageData(state.undo[state.undo.length - 1], 0, 0);
    ctx.globalCompositeOperation = "source-over";
    ctx.fillStyle = COLOUR;
    ctx.fillRect(Math.min(from.x, to.x), Math.min(from.y, to.y),
      Math.abs(to.x - from.x), Math.abs(to.y - from.y));
  }

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    const p = point(event);
    snapshot();
    state.down = true;
    state.last = p;
    state.corner = p;
    if (state.tool !== "rect") dot(p);
  });
  canvas.addEventListener("pointermove", (event) => {
    const p = point(event);
    showCursor(p);
    if (!state.down) return;
    if (state.tool === "rect") box(state.corner, p);
    else line(state.last, p);
    state.last = p;
  });
  const lift = () => { state.down = false; state.last = null; };
  canvas.addEventListener("pointerup", lift);
  canvas.addEventListener("pointercancel", lift);
  canvas.addEventListener("pointerleave", () => { cursor.style.display = "none"; });

  function showCursor(p) {
    const s = scale();
    const size = width() / s;
    cursor.style.display = "block";
    cursor.style.width = cursor.style.height = size + "px";
    cursor.style.left = (p.x / s - size / 2) + "px";
    cursor.style.top = (p.y / s - size / 2) + "px";
  }

  // -- the buttons -----------------------------------------------------------------------------
  function choose(tool) {
    state.tool = tool;
    for (const name of ["brush", "eraser", "rect"]) {
      $("tool-" + name).setAttribute("aria-pressed", String(name === tool));
    }
    say(tool === "rect" ? "Rectangle: drag across the area, or press Enter at two corners." : "");
  }
  $("tool-brush").addEventListener("click", () => choose("brush"));
  $("tool-eraser").addEventListener("click", () => choose("eraser"));
  $("tool-rect").addEventListener("click", () => choose("rect"));

  function undo() {
    const previous = state.undo.pop();
    if (previous) ctx.putImageData(previous, 0, 0);
  }

  function invert() {
    snapshot();
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) {
      const painted = px[i + 3] >= 128;
      px[i] = 255; px[i + 1] = 0; px[i + 2] = 128; px[i + 3] = painted ? 0 : 255;
    }
    ctx.putImageData(data, 0, 0);
  }

  function clear() { snapshot(); ctx.clearRect(0, 0, canvas.width, canvas.height); }

  $("undo").addEventListener("click", undo);
  $("invert").addEventListener("click", invert);
  $("clear").addEventListener("click", clear);

  // -- the keyboard ----------------------------------------------------------------------------
  const STEPS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };

  canvas.addEventListener("keydown", (event) => {
    const step = STEPS[event.key];
    if (step) {
      event.preventDefault();
      const d = (event.shiftKey ? 40 : 10) * scale();
      const from = state.at;
      const to = { x: clamp(from.x + step[0] * d, canvas.width), y: clamp(from.y + step[1] * d, canvas.height) };
      if (state.penDown && state.tool !== "rect") line(from, to);
      state.at = to;
      showCursor(to);
    } else if (event.key === " ") {
      event.preventDefault();
      state.penDown = !state.penDown;
      if (state.penDown && state.tool !== "rect") { snapshot(); dot(state.at); }
      say(state.penDown ? "Brush down: the arrow keys paint." : "Brush up: the arrow keys move.");
    } else if (event.key === "Enter") {
      event.preventDefault();
      keyboardEnter();
    }
  });

  function keyboardEnter() {
    if (state.tool !== "rect") { snapshot(); dot(state.at); return; }
    if (!state.keyCorner) {
      state.corner = state.at; state.keyCorner = true;
      say("First corner set; move to the opposite corner and press Enter.");
      return;
    }
    snapshot();
    box(state.corner, state.at);
    state.keyCorner = false;
    say("");
  }

  function clamp(value, max) { return Math.max(0, Math.min(max, value)); }

  document.addEventListener("keydown", (event) => {
    const typing = ["TEXTAREA", "SELECT", "INPUT"].includes(document.activeElement.tagName);
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
      if (!typing) { event.preventDefault(); undo(); }
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const keys = { b: () => choose("brush"), e: () => choose("eraser"), r: () => choose("rect"),
      i: invert, "[": () => resize(-4), "]": () => resize(4) };
    const action = keys[event.key.toLowerCase()];
    if (action) { event.preventDefault(); action(); }
  });

  function resize(by) { $("size").value = String(Number($("size").value) + by); }

  // -- sending ---------------------------------------------------------------------------------
  function maskBlob() {
    const painted = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const out = document.createElement("canvas");
    out.width = canvas.width;
    out.height = canvas.height;
    const outCtx = out.getContext("2d");
    const mask = outCtx.createImageData(canvas.width, canvas.height);
    for (let i = 0; i < mask.data.length; i += 4) {
      // Transparent where painted (the area to change), opaque black where it stays.
      mask.data[i + 3] = painted.data[i + 3] >= 128 ? 0 : 255;
    }
    outCtx.putImageData(mask, 0, 0);
    return new Promise((resolve) => out.toBlob(resolve, "image/png"));
  }

  $("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (state.sending) return;
    state.sending = true;
    $("send").disabled = true;
    say("Sending…");
    try {
      const form = new FormData();
      form.append("prompt", $("prompt").value);
      form.append("model", $("model").value);
      form.append("mask", await maskBlob(), "mask.png");
      const response = await fetch(base, { method: "POST", body: form, credentials: "same-origin" });
      const body = await response.json();
      if (!response.ok) {
        if (response.status === 403 || response.status === 410) showRefusal(body);
        else say(body.error || "That didn't work; try again.");
        return;
      }
      say("");
      $("editor").hidden = true;
      $("hint").hidden = true;
      $("sent").hidden = false;
      follow();
    } catch (error) {
      say("I couldn't reach Easel; check your connection and press Send again.");
    } finally {
      state.sending = false;
      $("send").disabled = false;
    }
  });

  async function follow() {
    for (let i = 0; i < 900; i++) {
      try {
        const response = await fetch(base + "/status", { credentials: "same-origin" });
        const body = await response.json();
        $("progress").textContent = body.text || body.error || "";
        document.body.dataset.state = body.state || "";
        if (!response.ok || ["done", "failed", "cancelled", "gone"].includes(body.state)) return;
      } catch (error) {
        $("progress").textContent = "Lost touch with Easel; the edit goes on in Discord.";
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  load().catch(() => say("The page didn't load; reload it."));
})();

// The web chat: talks to this server's OpenAI API (/v1/models, /v1/chat/completions with
// stream: true), parses the server-sent events of the streamed answer by hand, shows the
// reasoning of thinking models in a collapsible block and the answer as Markdown.
// ?autotest=TEXT sends TEXT once the models are listed (used by tests/e2e/run_web_chat.sh),
// ?key=K fills the API key field, ?max_tokens=N caps the answers;
// body[data-state] is "streaming" while an answer arrives and "done" / "error" after.
"use strict";

var $ = function (id) { return document.getElementById(id); };
var conversation = [];          // OpenAI messages of the conversation
var controller = null;     // AbortController of the answer being streamed

function headers() {
  var h = { "Content-Type": "application/json" };
  var key = $("apikey").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function setState(state, status) {
  document.body.dataset.state = state;
  $("status").textContent = status || "";
  var busy = state === "streaming";
  $("send").disabled = busy;
  $("stop").disabled = !busy;
}

function addMessage(role, cls) {
  var div = document.createElement("div");
  div.className = "msg " + (cls || role);
  var label = document.createElement("div");
  label.className = "role";
  label.textContent = role;
  div.appendChild(label);
  var body = document.createElement("div");
  body.className = "body";
  div.appendChild(body);
  $("log").appendChild(div);
  return div;
}

function scrollDown() { $("log").scrollTop = $("log").scrollHeight; }

async function loadModels() {
  var select = $("model");
  try {
    var res = await fetch("/v1/models", { headers: headers() });
    var data = await res.json();
    if (!res.ok) throw new Error((data.error && data.error.message) || res.statusText);
    select.innerHTML = "";
    data.data.forEach(function (m) {
      var opt = document.createElement("option");
      opt.value = opt.textContent = m.id;
      select.appendChild(opt);
    });
    setState("idle", "");
    return true;
  } catch (e) {
    setState("error", "cannot list models: " + e.message + " (API key?)");
    return false;
  }
}

// Splits "<think>...</think>answer" when the server sends the reasoning inside the content.
function splitThink(text) {
  var m = /^\s*<think>([\s\S]*?)(<\/think>|$)([\s\S]*)$/.exec(text);
  if (!m) return { reasoning: "", content: text };
  return { reasoning: m[1], content: m[3] };
}

// ?max_tokens=N caps the answers (tests keep them short).
function request() {
  var r = { model: $("model").value, messages: conversation, stream: true };
  var max = parseInt(new URLSearchParams(location.search).get("max_tokens"), 10);
  if (max > 0) r.max_tokens = max;
  return r;
}

async function send(text) {
  conversation.push({ role: "user", content: text });
  addMessage("user").querySelector(".body").textContent = text;
  var div = addMessage("assistant");
  var body = div.querySelector(".body");
  var think = document.createElement("details");
  think.className = "think";
  think.open = true;
  think.innerHTML = "<summary>Thinking</summary><div class=\"think-body\"></div>";
  think.hidden = true;
  div.insertBefore(think, body);
  var reasoning = "", content = "";
  function render() {
    var parts = splitThink(content);
    var r = reasoning + parts.reasoning;
    if (r) { think.hidden = false; think.querySelector(".think-body").textContent = r.trim(); }
    if (parts.content.trim() && think.open && r) { think.open = false; }  // collapse once the answer starts
    body.innerHTML = renderMarkdown(parts.content);
    scrollDown();
  }

  controller = new AbortController();
  setState("streaming", "answering... (Stop to interrupt)");
  var finish = "";
  try {
    var res = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(), signal: controller.signal,
      body: JSON.stringify(request()),
    });
    if (!res.ok) {
      var err = await res.json().catch(function () { return {}; });
      throw new Error((err.error && err.error.message) || res.status + " " + res.statusText);
    }
    var reader = res.body.getReader(), decoder = new TextDecoder(), buffer = "";
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      // Server-sent events: blocks separated by a blank line, "data: " lines inside.
      var events = buffer.split(/\r?\n\r?\n/);
      buffer = events.pop();
      events.forEach(function (ev) {
        ev.split(/\r?\n/).forEach(function (line) {
          if (line.indexOf("data:") !== 0) return;
          var data = line.slice(5).trim();
          if (!data || data === "[DONE]") return;
          var obj = JSON.parse(data);
          if (obj.error) throw new Error(obj.error.message || "server error");
          var choice = obj.choices && obj.choices[0];
          if (!choice) return;
          var d = choice.delta || {};
          if (d.reasoning_content) reasoning += d.reasoning_content;
          if (d.content) content += d.content;
          if (choice.finish_reason) finish = choice.finish_reason;
        });
      });
      render();
    }
    render();
    setState("done", finish === "length" ? "stopped at the length limit" : "");
  } catch (e) {
    if (e.name === "AbortError") {
      setState("done", "stopped");
    } else {
      var errDiv = addMessage("error", "error");
      errDiv.querySelector(".body").textContent = e.message;
      setState("error", "");
    }
  }
  controller = null;
  conversation.push({ role: "assistant", content: splitThink(content).content });
}

$("form").addEventListener("submit", function (ev) {
  ev.preventDefault();
  var text = $("input").value.trim();
  if (!text || controller) return;
  $("input").value = "";
  send(text);
});
$("input").addEventListener("keydown", function (ev) {
  if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); $("form").requestSubmit(); }
});
$("stop").addEventListener("click", function () { if (controller) controller.abort(); });
$("reset").addEventListener("click", function () {
  if (controller) controller.abort();
  conversation = [];
  $("log").innerHTML = "";
  setState("idle", "");
});
$("apikey").value = localStorage.getItem("dragon.apiKey") || "";
$("apikey").addEventListener("change", function () {
  localStorage.setItem("dragon.apiKey", $("apikey").value.trim());
  loadModels();
});

(async function () {
  var params = new URLSearchParams(location.search);
  if (params.get("key")) $("apikey").value = params.get("key");  // for tests and bookmarks
  var ok = await loadModels();
  var auto = params.get("autotest");
  if (ok && auto) send(auto);
})();

// A small Markdown renderer for the chat: fenced code blocks, inline code, headings, lists,
// bold, italic, links (http/https only) and paragraphs. Everything the model wrote is
// HTML-escaped first, so its text can never become markup. An unclosed ``` (an answer still
// streaming) renders as a code block up to the end.
"use strict";

function escapeHtml(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
          .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

// Inline markup on one escaped line: code spans first (their content stays literal).
function renderInline(escaped) {
  return escaped.split(/(`[^`]+`)/).map(function (part) {
    if (part.length > 2 && part[0] === "`" && part[part.length - 1] === "`")
      return "<code>" + part.slice(1, -1) + "</code>";
    return part
      .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, "$1<em>$2</em>")
      .replace(/\[([^\]]+)\]\((https?:\/\/[^\s)"]+)\)/g,
               '<a href="$2" target="_blank" rel="noopener noreferrer">$1</a>');
  }).join("");
}

// Block structure of text without code fences.
function renderBlocks(text) {
  var out = [], para = [], list = null;
  function flushPara() {
    if (para.length) out.push("<p>" + para.join("<br>") + "</p>");
    para = [];
  }
  function flushList() {
    if (list) out.push("<" + list.tag + ">" + list.items.map(function (i) { return "<li>" + i + "</li>"; }).join("") +
                       "</" + list.tag + ">");
    list = null;
  }
  text.split("\n").forEach(function (raw) {
    var line = escapeHtml(raw), m;
    if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
      flushPara(); flushList();
      out.push("<h" + m[1].length + ">" + renderInline(m[2]) + "</h" + m[1].length + ">");
    } else if ((m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(line))) {
      flushPara();
      var tag = /\d/.test(m[1]) ? "ol" : "ul";
      if (list && list.tag !== tag) flushList();
      if (!list) list = { tag: tag, items: [] };
      list.items.push(renderInline(m[2]));
    } else if (/^\s*$/.test(line)) {
      flushPara(); flushList();
    } else {
      flushList();
      para.push(renderInline(line));
    }
  });
  flushPara(); flushList();
  return out.join("");
}

function renderMarkdown(text) {
  var out = [], fence = /```([^\n`]*)\n?([\s\S]*?)(?:```|$)/g, last = 0, m;
  while ((m = fence.exec(text)) !== null) {
    if (m.index === fence.lastIndex) { fence.lastIndex++; continue; }
    out.push(renderBlocks(text.slice(last, m.index)));
    var lang = m[1].trim().replace(/[^\w+-]/g, "");
    out.push('<pre><code' + (lang ? ' class="language-' + lang + '"' : "") + ">" + escapeHtml(m[2]) + "</code></pre>");
    last = fence.lastIndex;
  }
  out.push(renderBlocks(text.slice(last)));
  return out.join("");
}

if (typeof module !== "undefined") module.exports = { renderMarkdown: renderMarkdown, escapeHtml: escapeHtml };

// Unit tests of the Jinja engine's pieces. The language semantics are checked differentially:
// each snippet below is rendered by python3-jinja2 in HF's configuration (render_reference.py)
// and by dragon, and must give the same bytes (or both fail). Errors with positions and the
// render limits, which Python does not share, are checked directly.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/chat_template.h"
#include "chat/jinja_interpreter.h"
#include "chat/jinja_lexer.h"
#include "chat/jinja_parser.h"
#include "test_paths.h"
#include "util/error.h"

namespace dragon::chat {
namespace {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

// Language features, one small template each. Variables: see kContext.
const char* kSnippets[] = {
    // whitespace control, trim_blocks, lstrip_blocks
    "a\n{% if true %}\nb\n{% endif %}\nc",
    "a\n  {% if true %}\n  b\n  {% endif %}\nc",
    "a  {%- if true -%}  b  {%- endif -%}  c",
    "a\n  {%+ if true %}b{% endif +%}\nc",
    "{{ 'x' }}\n  {{ 'y' }}\n",
    "  {# comment #}\nx\n  {#- c -#}  y",
    "{% for i in [1,2] %}\n  {{ i }}\n{% endfor %}\n",
    "{%- for i in [1,2] -%}\n  {{- i -}}\n{%- endfor -%}",
    "x {% raw %}{{ not parsed }} {% if %}{% endraw %} y",
    "line\r\nwindows\rmac\n",
    "trailing newline dropped\n",
    "tabs\t{% if true %}\t{% endif %}\tend",
    // loops
    "{% for x in items %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
    "{% for x in items %}{{ loop.previtem }}|{{ loop.nextitem }}|{{ loop.cycle('a','b') }};{% endfor %}",
    "{% for x in [] %}x{% else %}empty{% endfor %}",
    "{% for x in items if x > 1 %}{{ x }}{{ loop.length }}{% endfor %}",
    "{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}",
    "{% for k in d %}{{ k }}{% endfor %}",
    "{% for c in 'héllo' %}{{ c }}-{% endfor %}",
    "{% for x in items %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}",
    "{% for a in [[1,2],[3]] %}{% for b in a %}{{ loop.index }}{{ b }}{% endfor %}/{{ loop.index }}{% endfor %}",
    "{% for i in range(3) %}{% set y = i * 2 %}{{ y }}{% endfor %}{{ y }}",
    "{% set y = 1 %}{% for i in items %}{% set y = y + i %}{{ y }}{% endfor %}{{ y }}",
    "{% for item in tree recursive %}{{ item.n }}{% if item.c %}[{{ loop(item.c) }}]{% endif %}{% endfor %}",
    "{% for x in none_value %}{% endfor %}",
    // set, namespace, with
    "{% set ns = namespace(a=1, b=[]) %}{% set ns.a = ns.a + 1 %}{{ ns.a }}{{ ns.b }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = (1,) %}{{ t }}",
    "{% set x %}block {{ 1 + 1 }}{% endset %}[{{ x }}]",
    "{% set x | upper %}shout{% endset %}{{ x }}",
    "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a }}",
    "{% set l = [1] %}{% set _ = l.append(2) %}{{ l }}",
    "{% set d2 = {'a': 1} %}{{ d2.update({'b': 2}) }}",
    "{% set l = [3, 1] %}{{ l.pop() }}{{ l }}{{ [1,2,3].pop(0) }}",
    // macros and call blocks
    "{% macro m(a, b='x', c=none) %}{{ a }}{{ b }}{{ c }}{% endmacro %}{{ m(1) }}|{{ m(1, 2, 3) }}|{{ m(a=5, c=6) }}",
    "{% macro m() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}",
    "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}",
    "{% macro wrap(t) %}<{{ t }}>{{ caller() }}</{{ t }}>{% endmacro %}{% call wrap('b') %}inner{% endcall %}",
    "{% macro row(x) %}{{ caller(x * 2) }}{% endmacro %}{% call(v) row(4) %}[{{ v }}]{% endcall %}",
    "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(4) }}",
    "{% macro g() %}{{ top }}{% endmacro %}{% set top = 'T' %}{{ g() }}",
    "{% filter upper %}abc {{ 'def' }}{% endfilter %}",
    "{% generation %}gen {{ 1 }}{% endgeneration %}",
    // expressions and operators
    "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }}",
    "{{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 1e3 }} {{ 1_000 }} {{ 0x1F }} {{ 1.5e-7 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 123456789.0 * 1000 }}",
    "{{ 1 < 2 < 3 }} {{ 3 > 2 > 5 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 != 2 }}",
    "{{ 'ab' ~ 1 ~ none ~ true }} {{ 'a' + 'b' }} {{ [1] + [2] }} {{ 'ab' * 3 }} {{ [0] * 2 }}",
    "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }} {{ 'x' not in 'abc' }}",
    "{{ true and 'yes' }} {{ false or 'fallback' }} {{ none or 0 }} {{ not none }} {{ not 1 }} {{ 0 and 1 }}",
    "{{ 'yes' if x else 'no' }} {{ 'a' if false }}. {{ 'n' if undefined_thing is defined else 'u' }}",
    "{{ \"it's\" }} {{ 'say \"hi\"' }} {{ 'tab\\tnew\\nline' }} {{ '\\u00e9\\x41' }} {{ 'adj' 'acent' }}",
    "{{ [1, 'a', none, true, 1.5, {'k': 'v'}, (1, 2), [], {}] }}",
    "{{ {'a': 1, 'b': [1, 2], 'c': {'d': none}} }} {{ ('x',) }} {{ () }} {{ 'q\\'uote' }} {{ ['it\\'s', \"a\\\"b\"] }}",
    "{{ items[0] }} {{ items[-1] }} {{ items[1:] }} {{ items[::-1] }} {{ items[::2] }} {{ 'héllo'[1:3] }} {{ 'abc'[-1] }} {{ items[10] }}",
    "{{ d.a }} {{ d['b'] }} {{ d.missing }} {{ d.items is callable }} {{ items.0 }} {{ d.get('a') }} {{ d.get('zz', 'dflt') }} {{ d.get('zz') }}",
    "{{ msg.content }} {{ msg['role'] }} {{ msg.tool_calls[0].function.name }}",
    "{{ undefined_thing }}|{{ undefined_thing.attr }}",
    "{{ none.attr }}|{{ d.missing is defined }}|{{ d.a is defined }}",
    "{{ x.y.z }}",
    "{{ 1 is odd }} {{ 2 is even }} {{ 9 is divisibleby 3 }} {{ none is none }} {{ 1 is number }} {{ 1.0 is float }} {{ 1 is integer }} {{ true is boolean }}",
    "{{ 'a' is string }} {{ d is mapping }} {{ items is iterable }} {{ items is sequence }} {{ 'a' is lower }} {{ 'A' is upper }} {{ x is true }} {{ x is false }}",
    "{{ 1 is eq 1 }} {{ 1 is ne 2 }} {{ 1 is lt 2 }} {{ 2 is ge 2 }} {{ 'a' is in 'abc' }} {{ none is sameas none }} {{ m is callable }} {{ 2 is gt 1 }} {{ 2 is le 1 }}",
    "{{ items is not none }} {{ not items is none }} {{ undefined_thing is undefined }}",
    // filters
    "{{ -3|abs }} {{ 'hello world'|capitalize }} {{ 'x'|center(5) }}| {{ items|count }} {{ none|default('d') }} {{ undefined_thing|default('d') }} {{ ''|default('e', true) }} {{ ''|d('e') }}",
    "{{ {'b': 1, 'a': 2, 'C': 3}|dictsort }} {{ {'b': 1, 'a': 2}|dictsort(by='value', reverse=true) }}",
    "{{ '<a href=\"x\">&\\'</a>'|e }} {{ items|first }} {{ items|last }} {{ '3.5'|float }} {{ 'x'|float }} {{ '42'|int }} {{ '3.9'|int }} {{ 3.9|int }} {{ 'zz'|int(7) }}",
    "{{ '%s-%05.2f-%d-%x-%r' | format('a', 3.14159, 7, 255, 'q') }} {{ '%(k)s!'|format(k='v') }} {{ '%3d|%-4s|' % (5, 'ab') }}",
    "{{ 'a\\nb\\n\\nc'|indent }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent('>', blank=true) }}",
    "{{ d|items|list }} {{ items|join(',') }} {{ users|join(', ', attribute='name') }} {{ 'abc'|length }} {{ d|length }} {{ 'héllo'|length }}",
    "{{ 'abc'|list }} {{ 'MiXed'|lower }} {{ 'MiXed'|upper }} {{ 'hello big world'|title }} {{ items|map('string')|join('|') }} {{ users|map(attribute='name')|list }}",
    "{{ users|map(attribute='age', default=0)|list }} {{ items|max }} {{ items|min }} {{ users|max(attribute='age') }} {{ ['b', 'A', 'c']|max }}",
    "{{ 'aXbX'|replace('X', '-') }} {{ 'aaa'|replace('a', 'b', 2) }} {{ items|reverse|list }} {{ 'abc'|reverse }} {{ 2.5|round }} {{ 3.5|round }} {{ 2.675|round(2) }} {{ 1.25|round(1, 'floor') }} {{ 7|round }}",
    "{{ items|select('odd')|list }} {{ items|reject('odd')|list }} {{ users|selectattr('admin')|map(attribute='name')|list }} {{ users|rejectattr('age', 'gt', 30)|list|length }}",
    "{{ users|selectattr('name', 'equalto', 'bob')|list }} {{ [3, 1, 2]|sort }} {{ ['b', 'A', 'c']|sort }} {{ users|sort(attribute='age', reverse=true)|map(attribute='name')|join }}",
    "{{ 5|string }} {{ [1, 2]|string }} {{ items|sum }} {{ users|sum(attribute='age') }} {{ '  pad  '|trim }} {{ 'xxhixx'|trim('x') }} {{ [1, 2, 1, 'a', 'A']|unique|list }} {{ 'one two  three'|wordcount }}",
    "{{ items|select('odd') is iterable }} {{ items|select('odd') is sequence }} {{ (items|select('odd')) is true }}",
    "{{ items|map('string')|length }}",
    "{% set g = items|select('odd') %}{{ g|list }}{{ g|list }}",
    "{{ {'a': [1, 2.5, none, true, 'é\"\\n'], 'b': {}}|tojson }} {{ []|tojson }} {{ 'x'|tojson }}",
    "{{ users|tojson(indent=2) }}",
    "{{ {'b': 1, 'a': {'z': 1, 'y': 2}}|tojson(sort_keys=true) }} {{ [1, 2]|tojson(separators=(',', ':')) }} {{ 'é'|tojson(true) }}",
    "{{ {'ctl': '\\x01\\x1f', 'u2028': '\\u2028', 'emoji': '😀', 'f': 1e-05, 'big': 1e16, 'neg': -0.0} | tojson }}",
    "{{ undefined_thing|tojson }}",
    "{{ x|attr('missing') }} {{ 'Ab'|attr('lower')() }} {{ users|groupby('admin')|map(attribute='0')|list }}",
    // string methods
    "{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ '<<a>>'.lstrip('<') }}|{{ 'a\\n'.rstrip('\\n') }}",
    "{{ 'a,b,,c'.split(',') }} {{ '  a  b '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ 'a,b,c'.rsplit(',', 1) }} {{ 'a b'.split(none, 1) }} {{ ''.split(',') }}",
    "{{ 'abc'.startswith('ab') }} {{ 'abc'.startswith(('x', 'a')) }} {{ 'abc'.endswith('bc') }} {{ 'abc'.endswith('b', 0, 2) }} {{ 'a-b'.replace('-', '+') }}",
    "{{ 'ab'.upper() }} {{ 'AB'.lower() }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }} {{ 'abcb'.find('b') }} {{ 'abcb'.rfind('b') }} {{ 'éab'.find('a') }} {{ 'abc'.find('z') }}",
    "{{ 'abcb'.index('c') }} {{ 'abcb'.count('b') }} {{ ', '.join(['a', 'b']) }} {{ '{} and {}'.format(1, 'x') }} {{ '{1}{0}'.format('a', 'b') }} {{ '{n}!'.format(n=3) }} {{ '{:>4}|{:<3}|'.format('a', 'b') }}",
    "{{ '123'.isdigit() }} {{ 'abc'.isalpha() }} {{ ' \\t'.isspace() }} {{ 'a1'.isalnum() }} {{ ''.isdigit() }} {{ 'abc'.islower() }} {{ 'ABC'.isupper() }}",
    "{{ 'a=b=c'.partition('=') }} {{ 'a=b=c'.rpartition('=') }} {{ 'pre_x'.removeprefix('pre_') }} {{ '7'.zfill(3) }} {{ 'ab'.center(6, '*') }} {{ 'x\\ny'.splitlines() }}",
    "{{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ [1, 2, 2].count(2) }} {{ [1, 2].index(2) }}",
    // errors that must happen in both
    "{{ raise_exception('boom: ' ~ 42) }}",
    "{{ 'a' + 1 }}",
    "{{ 1 / 0 }}",
    "{{ unknown_func() }}",
    "{{ none|length }}",
    "{{ 1 is foo_test }}",
    "{% if false %}{{ 1|no_such_filter }}{% endif %}fine",
    "{{ 1|no_such_filter }}",
    "{{ range(3)|list }} {{ range(1, 7, 2)|list }} {{ range(5, 0, -2)|list }} {{ dict(a=1) }} {{ namespace(x=1).x }}",
    "{% set j = joiner(', ') %}{% for i in items %}{{ j() }}{{ i }}{% endfor %}",
    // content shapes that chat templates branch on
    "{% for m in msgs %}{% if m.content is string %}S:{{ m.content }}{% else %}{% for p in m.content %}{{ p.type }}={{ p.text }};{% endfor %}{% endif %}|{% endfor %}",
    "{% for m in msgs %}{{ m.tool_calls is defined }}{{ m.get('tool_calls') is none }}{{ (m.content or '')|trim }}.{% endfor %}",
    "{{ msg.tool_calls[0].function.arguments|tojson }} {{ msg.tool_calls[0].function.arguments is mapping }} {% for k, v in msg.tool_calls[0].function.arguments|items %}{{ k }}:{{ v }}{% endfor %}",
    "{{ 'a</think>b'.split('</think>')[-1].lstrip('\\n') }} {{ ('x' ~ '\\n\\n')|trim }} {{ '<think>\\nr\\n</think>\\n\\nans'.split('</think>')[0].rstrip('\\n').split('<think>')[-1].lstrip('\\n') }}",
    "{{ messages_count }} {{ items|length > 2 }} {{ (items|length - 1) - 1 }} {{ items[items|length - 1] }}",
    "{{ big_float }} {{ small_float }} {{ neg_int }} {{ uni }} {{ nested }}",
};

const char* kContext = R"({
  "x": true, "items": [1, 2, 3], "d": {"a": 1, "b": 2, "items": "shadowed"},
  "users": [{"name": "ann", "age": 31, "admin": true}, {"name": "bob", "age": 25, "admin": false}, {"name": "cy", "age": 40}],
  "tree": [{"n": 1, "c": [{"n": 2, "c": []}, {"n": 3}]}, {"n": 4}],
  "none_value": null,
  "msg": {"role": "assistant", "content": "hi", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"q": "v", "n": 2}}}]},
  "msgs": [{"role": "user", "content": "plain"}, {"role": "user", "content": [{"type": "text", "text": "part1"}, {"type": "text", "text": "part2"}]},
           {"role": "assistant", "content": null, "tool_calls": []}],
  "messages_count": 3, "big_float": 12345678901234567890.0, "small_float": 0.000001, "neg_int": -5, "uni": "日本語 ✓",
  "nested": {"k": [1, {"z": null}]}
})";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string render(const std::string& source, const std::string& context_json = kContext) {
  return ChatTemplate::parse(source).render(ojson::parse(context_json));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JinjaSnippets, MatchPythonJinja2) {
  const fs::path work = fs::temp_directory_path() / ("dragon_jinja_snippets_" + std::to_string(::getpid()));
  fs::create_directories(work);
  const size_t n = std::size(kSnippets);
  std::string command = "/usr/bin/python3 " + (test::source_dir() / "tests" / "chat" / "render_reference.py").string() + " --batch " +
                        (work / "ctx.json").string() + " " + (work / "out.json").string();
  for (size_t k = 0; k < n; ++k) {
    const fs::path p = work / ("s" + std::to_string(k) + ".jinja");
    std::ofstream(p, std::ios::binary) << kSnippets[k];
    command += " " + p.string();
  }
  std::ofstream(work / "ctx.json") << "[" << kContext << "]";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const ojson reference = ojson::parse(read_file(work / "out.json"));
  int identical = 0, both_error = 0, mismatches = 0;
  for (size_t k = 0; k < n; ++k) {
    const ojson& want = reference.at((work / ("s" + std::to_string(k) + ".jinja")).string())[0];
    std::string got, error;
    try {
      got = render(kSnippets[k]);
    } catch (const Error& e) {
      error = e.what();
    }
    if (want.contains("error")) {
      if (!error.empty()) {
        ++both_error;
        continue;
      }
      ++mismatches;
      ADD_FAILURE() << "snippet " << k << ": " << kSnippets[k] << "\n  python error: " << want["error"].get<std::string>()
                    << "\n  dragon output: " << got;
    } else if (!error.empty()) {
      ++mismatches;
      ADD_FAILURE() << "snippet " << k << ": " << kSnippets[k] << "\n  python output: " << want["output"].get<std::string>()
                    << "\n  dragon error: " << error;
    } else if (got != want["output"].get<std::string>()) {
      ++mismatches;
      ADD_FAILURE() << "snippet " << k << ": " << kSnippets[k] << "\n  python: [" << want["output"].get<std::string>() << "]\n  dragon: ["
                    << got << "]";
    } else {
      ++identical;
    }
  }
  std::printf("snippets %zu: identical %d, both-error %d, mismatches %d\n", n, identical, both_error, mismatches);
  fs::remove_all(work);
  EXPECT_EQ(mismatches, 0);
  EXPECT_GT(identical, int(n) * 3 / 4);
}

TEST(JinjaErrors, SyntaxErrorsNameLineAndColumn) {
  const std::string e1 = error_of([] { ChatTemplate::parse("line one\n{{ 1 + }}"); });
  std::printf("unfinished expression: %s\n", e1.c_str());
  EXPECT_NE(e1.find("line 2, column 8"), std::string::npos) << e1;

  const std::string e2 = error_of([] { ChatTemplate::parse("a\nb\n{% if x %}\nno end"); });
  std::printf("unclosed if: %s\n", e2.c_str());
  EXPECT_NE(e2.find("endif"), std::string::npos) << e2;

  const std::string e3 = error_of([] { ChatTemplate::parse("{% frobnicate %}"); });
  EXPECT_NE(e3.find("unknown tag 'frobnicate'"), std::string::npos) << e3;
  EXPECT_NE(e3.find("line 1, column 4"), std::string::npos) << e3;

  const std::string e4 = error_of([] { ChatTemplate::parse("ok\n  {{ 'unterminated }}"); });
  EXPECT_NE(e4.find("line 2, column 6"), std::string::npos) << e4;

  const std::string e5 = error_of([] { ChatTemplate::parse("{# never closed"); });
  EXPECT_NE(e5.find("comment"), std::string::npos) << e5;

  const std::string e6 = error_of([] { ChatTemplate::parse("x\n\n{{ a | no_such_filter }}"); });
  EXPECT_NE(e6.find("line 3"), std::string::npos) << e6;
  EXPECT_NE(e6.find("no_such_filter"), std::string::npos) << e6;

  const std::string e7 = error_of([] { ChatTemplate::parse("{{ (1, 2] }}"); });
  EXPECT_FALSE(e7.empty());
}

TEST(JinjaErrors, RuntimeErrorsNameTheirLine) {
  const std::string e1 = error_of([] { render("a\nb {{ 'x' + 1 }}"); });
  std::printf("runtime error: %s\n", e1.c_str());
  EXPECT_NE(e1.find("line 2"), std::string::npos) << e1;
  EXPECT_NE(e1.find("concatenate"), std::string::npos) << e1;

  const std::string e2 = error_of([] { render("\n\n{{ raise_exception('Conversation roles must alternate') }}"); });
  std::printf("raise_exception: %s\n", e2.c_str());
  EXPECT_NE(e2.find("Conversation roles must alternate"), std::string::npos) << e2;
  EXPECT_NE(e2.find("line 3"), std::string::npos) << e2;

  const std::string e3 = error_of([] { render("{{ not_defined.attr }}"); });
  EXPECT_NE(e3.find("'not_defined' is undefined"), std::string::npos) << e3;

  // The sandbox HF uses refuses in-place list mutation.
  const std::string e4 = error_of([] { render("{% set l = [] %}{{ l.append(1) }}"); });
  EXPECT_NE(e4.find("unsafe"), std::string::npos) << e4;
}

// A macro is a closure over the frame that defines it, and that frame holds the macro: rendering
// such a template (many chat templates define macros) leaked the frame and every context value
// — the whole conversation — on each request (found by tests/fuzz/fuzz_jinja, LeakSanitizer).
TEST(JinjaMemory, RenderingMacrosFreesTheContext) {
  for (const std::string source : {"{% macro m(x) %}{{ x }}{% endmacro %}{{ m(messages|length) }}",
                                   "{% set ns = namespace(f=none) %}{% for i in range(3) %}{% macro m() %}{{ i }}{% endmacro %}"
                                   "{% set ns.f = m %}{% endfor %}{{ ns.f() }}",
                                   "{% for x in messages recursive %}{{ loop(x) if x is iterable and x is not string }}{% endfor %}",
                                   "{% call(x) self_missing %}{% endcall %}"}) {
    auto messages = std::make_shared<jinja::List>();
    messages->items.push_back(jinja::Value("hi"));
    const std::weak_ptr<jinja::List> watch = messages;
    {
      std::map<std::string, jinja::Value> vars{{"messages", jinja::Value(std::move(messages))}};
      const std::string normalized = jinja::normalize_template_source(source);
      try {
        const jinja::Body body = jinja::parse_template(normalized);
        std::printf("render %s -> %s\n", source.c_str(), jinja::render_template(normalized, body, vars).c_str());
      } catch (const Error& e) {
        std::printf("render %s -> error %s\n", source.c_str(), e.what());
      }
    }
    EXPECT_TRUE(watch.expired()) << "the context outlived the render of " << source;
  }
}

TEST(JinjaLimits, RecursionIsBounded) {
  const std::string e = error_of([] { render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"); });
  std::printf("endless recursion: %s\n", e.c_str());
  EXPECT_NE(e.find("recursion deeper than 100"), std::string::npos) << e;
}

TEST(JinjaLimits, LoopIterationsAreBounded) {
  ChatTemplate t = ChatTemplate::parse("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}");
  t.limits().max_loop_iterations = 100000;
  const std::string e = error_of([&] { t.render(ojson::object()); });
  std::printf("1M iterations with a 100k limit: %s\n", e.c_str());
  EXPECT_NE(e.find("loop iterations"), std::string::npos) << e;
  // range itself is capped like jinja2's sandbox (MAX_RANGE = 100000).
  EXPECT_NE(error_of([] { render("{{ range(200000)|length }}"); }).find("range too big"), std::string::npos);
}

TEST(JinjaLimits, OutputSizeIsBounded) {
  ChatTemplate t = ChatTemplate::parse("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}");
  const std::string e = error_of([&] { t.render(ojson::object()); });
  std::printf("100 MB of output: %s\n", e.c_str());
  EXPECT_NE(e.find("exceeds"), std::string::npos) << e;
  // A single huge string cannot be built either.
  EXPECT_NE(error_of([] { render("{{ 'x' * 100000000 }}"); }).find("exceeds"), std::string::npos);
  // Doubling a string 40 times stops at the size limit instead of exhausting memory.
  const std::string e2 = error_of([] {
    render("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}");
  });
  EXPECT_NE(e2.find("exceeds"), std::string::npos) << e2;
}

TEST(JinjaLimits, DeepNestingIsRejectedAtParse) {
  std::string deep(5000, '(');
  deep = "{{ " + deep + "1" + std::string(5000, ')') + " }}";
  const std::string e = error_of([&] { ChatTemplate::parse(deep); });
  EXPECT_NE(e.find("nesting"), std::string::npos) << e;
}

TEST(ChatTemplateApi, OrderedContextKeepsKeyOrderAndPlainJsonWorks) {
  const ChatTemplate t = ChatTemplate::parse("{{ tools|tojson }}");
  const ojson ordered = ojson::parse(R"({"tools": [{"z": 1, "a": 2}]})");
  EXPECT_EQ(t.render(ordered), R"([{"z": 1, "a": 2}])");
  const nlohmann::json sorted = nlohmann::json::parse(R"({"tools": [{"z": 1, "a": 2}]})");
  EXPECT_EQ(t.render(sorted), R"([{"a": 2, "z": 1}])");
  const ojson ctx = make_chat_context(ojson::array({{{"role", "user"}, {"content", "hi"}}}), nullptr, true, "<s>", "</s>",
                                      ojson{{"enable_thinking", false}});
  const ChatTemplate u = ChatTemplate::parse(
      "{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m.content }}{% endfor %}{{ tools is none }}{{ enable_thinking }}"
      "{% if add_generation_prompt %}>{% endif %}{{ eos_token }}");
  EXPECT_EQ(u.render(ctx), "<s>user:hiTrueFalse></s>");
}

}  // namespace
}  // namespace dragon::chat

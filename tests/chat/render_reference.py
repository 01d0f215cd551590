#!/usr/bin/python3
"""Reference renderer: python3-jinja2 configured exactly as HF transformers' chat templates are
(transformers/utils/chat_template_utils.py, _compile_jinja_template):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[AssistantTracker, jinja2.ext.loopcontrols]), tojson = json.dumps(ensure_ascii=False, ...),
raise_exception and strftime_now globals.

usage: render_reference.py TEMPLATE CONTEXTS.json OUT.json
       render_reference.py --batch CONTEXTS.json OUT.json TEMPLATE...
  CONTEXTS.json: a JSON list of objects, each the variables of one render.
  OUT.json: a JSON list, per context {"output": text} or {"error": "<Type>: message"};
  with --batch, an object mapping each TEMPLATE path to such a list (one process for all).
TEMPLATE may be a .jinja file or a tokenizer_config.json (its chat_template is used).
"""
import json
import sys
from datetime import datetime

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class AssistantTracker(Extension):
    # {% generation %}...{% endgeneration %} renders its body (HF only records offsets).
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return datetime.now().strftime(format)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def load_template_source(path):
    text = open(path, encoding="utf-8").read()
    if path.endswith(".json"):
        value = json.loads(text)["chat_template"]
        if isinstance(value, list):
            value = next(t["template"] for t in value if t.get("name") == "default")
        return value
    return text


def render_all(template_path, contexts):
    source = load_template_source(template_path)
    env = make_env()
    results = []
    try:
        template = env.from_string(source)
    except Exception as e:  # a template jinja2 cannot compile fails every render
        results = [{"error": f"{type(e).__name__}: {e}"} for _ in contexts]
        template = None
    if template is not None:
        for ctx in contexts:
            try:
                results.append({"output": template.render(**ctx)})
            except Exception as e:
                results.append({"error": f"{type(e).__name__}: {e}"})
    return results


def main():
    if sys.argv[1] == "--batch":
        contexts_path, out_path = sys.argv[2:4]
        contexts = json.load(open(contexts_path, encoding="utf-8"))
        out = {path: render_all(path, contexts) for path in sys.argv[4:]}
    else:
        template_path, contexts_path, out_path = sys.argv[1:4]
        out = render_all(template_path, json.load(open(contexts_path, encoding="utf-8")))
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)


if __name__ == "__main__":
    main()

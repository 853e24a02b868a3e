"""Render a chat template in a process of its own, with limits. Imports nothing from OwnVoice.

engine.translation.chat_template runs this file as `python -I template_worker.py` and sends
one JSON job on standard input: the template(s), the bos/eos texts, the conversations to
render, and the limits. It answers with one JSON object on standard output: the rendered
texts ({"renders": [...]}) or what went wrong ({"error": KIND, "detail": TEXT}).

The environment is the one llama-cpp-python renders GGUF templates in (Jinja2ChatFormatter):
jinja2's ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks, the loop-control
extension, a pass-through `{% generation %}` tag and transformers' `tojson`. A process of its
own adds what a sandbox cannot: memory and CPU limits (RLIMIT_AS, RLIMIT_CPU where the system
has them), and a parent that kills it at its deadline or when the user cancels.
"""

import contextlib
import json
import sys
from datetime import datetime


class Refused(Exception):
    """The template's own `raise_exception(...)`: it does not accept these messages."""


def limit(memory_bytes: int, cpu_seconds: int) -> None:
    try:
        import resource
    except ImportError:  # Windows: the parent's deadline still holds
        return
    for kind, value in ((resource.RLIMIT_AS, memory_bytes),
                        (resource.RLIMIT_CPU, cpu_seconds)):
        # e.g. macOS does not let a process lower RLIMIT_AS; the deadline still holds
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(kind, (value, value + 1))


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def raise_exception(message):
    raise Refused(str(message))


def strftime_now(f):
    return datetime.now().strftime(f)


def environment():
    import jinja2
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class IgnoreGenerationTags(Extension):
        tags = {"generation"}

        def parse(self, parser):
            parser.stream.skip(1)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    env = ImmutableSandboxedEnvironment(loader=jinja2.BaseLoader(), trim_blocks=True,
                                        lstrip_blocks=True,
                                        extensions=[IgnoreGenerationTags, loopcontrols])
    env.filters["tojson"] = tojson
    return env


def run(job: dict, env) -> list[str]:
    compiled = [env.from_string(source) for source in job["templates"]]
    renders = []
    for conversation in job["renders"]:
        text = compiled[0].render(
            messages=conversation, bos_token=job["bos_token"], eos_token=job["eos_token"],
            add_generation_prompt=True, raise_exception=raise_exception, functions=None,
            function_call=None, tools=None, tool_choice=None, strftime_now=strftime_now)
        if len(text) > job["max_chars"]:
            raise OverflowError(f"it renders more than {job['max_chars']:,} characters")
        renders.append(text)
    return renders


def answer(job: dict, env) -> dict:
    from jinja2.exceptions import SecurityError, TemplateSyntaxError

    try:
        return {"renders": run(job, env)}
    except Refused as exc:
        return {"error": "refused", "detail": str(exc)}
    except SecurityError as exc:
        return {"error": "unsafe", "detail": str(exc)}
    except TemplateSyntaxError as exc:
        return {"error": "invalid", "detail": f"{exc.message} (line {exc.lineno})"}
    except MemoryError:
        return {"error": "memory", "detail": ""}
    except RecursionError:
        return {"error": "invalid", "detail": "it nests too deeply"}
    except OverflowError as exc:
        return {"error": "invalid", "detail": str(exc)}
    except Exception as exc:  # noqa: BLE001 - any other failure of foreign code is reported
        return {"error": "invalid", "detail": f"{type(exc).__name__}: {exc}"}


def main() -> None:
    env = environment()  # jinja2 imported before the parent's render clock starts
    print("ready", flush=True)
    job = json.load(sys.stdin)
    limit(job["memory_bytes"], job["cpu_seconds"])
    json.dump(answer(job, env), sys.stdout)


if __name__ == "__main__":
    main()

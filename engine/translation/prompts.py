"""Every prompt OwnVoice sends to a model, in one place.

The system prompt here is also the one the training data uses (dataset export): a
fine-tuned model must see at inference exactly what it saw in training.
"""

from __future__ import annotations

from engine import languages

# Instruction models (not trained by OwnVoice, and the cloud baselines) are told what to do.
SYSTEM_PROMPT = ("Translate the following text from {source} into {target}. "
                 "Reply with the translation only.")
# OwnVoice's fine-tuned models learnt what to do: their training data (engine/pairs/dataset.py)
# and every request they get carry only the direction. Models trained before this prompt
# existed keep the instruction (a model row's meta "prompt" says which it was trained with).
VOICE_PROMPT = "{source} → {target}"
VOICE = "voice"
# Base models (no chat template) continue a list of translations instead.
COMPLETION_STOP = ["\n"]


def system_prompt(source: str, target: str, *, voice: bool = False) -> str:
    template = VOICE_PROMPT if voice else SYSTEM_PROMPT
    return template.format(source=languages.name(source), target=languages.name(target))


# Added on the retry of a paragraph whose protected spans (⟦1⟧…, engine/translation/
# protect.py) did not all come back.
KEEP_MARKERS = (" Keep every marker such as ⟦1⟧ exactly as it is, once, where it belongs in "
                "the sentence.")


def chat_messages(text: str, source: str, target: str, *, strict: bool = False,
                  voice: bool = False) -> list[dict]:
    """The prompt of chat models: [system, user]. `voice`: a model OwnVoice fine-tuned, which
    gets exactly the short system prompt of its training data (VOICE_PROMPT); otherwise the
    instruction (SYSTEM_PROMPT). `strict`: the retry that insists on the placeholders."""
    return [{"role": "system",
             "content": system_prompt(source, target, voice=voice)
             + (KEEP_MARKERS if strict else "")},
            {"role": "user", "content": text}]


def completion_prompt(text: str, source: str, target: str, *, markers: bool = False) -> str:
    """A few-shot prompt for base models: they translate by continuing the pattern.

    The examples come first and never change, so llama.cpp evaluates them once and reuses
    them (prefix cache) for every paragraph. The text goes on one line: the prompt's
    stop sequence is the end of the line.
    """
    src, tgt = languages.name(source), languages.name(target)
    lines = []
    examples = list(languages.example_pairs(source, target))
    if markers and examples:  # the text has ⟦n⟧ placeholders: show one being carried over
        first_source, first_target = examples[-1]
        examples[-1] = (f"⟦1⟧{first_source}⟦2⟧", f"⟦1⟧{first_target}⟦2⟧")
    for example_source, example_target in examples:
        lines += [f"{src}: {example_source}", f"{tgt}: {example_target}", ""]
    lines += [f"{src}: {' '.join(text.split())}", f"{tgt}:"]
    return "\n".join(lines)


def style_examples_messages(text: str, source: str, target: str,
                            examples: list[str]) -> list[dict]:
    """The retrieval few-shot baseline: the user's own paragraphs as examples of their voice."""
    shown = "\n\n".join(f"Example {i}:\n{example}" for i, example in enumerate(examples, 1))
    system = (f"{system_prompt(source, target)} Write it the way the author of the following "
              f"examples writes: their words, their rhythm, their punctuation.\n\n{shown}")
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


# --- reverse synthesis -------------------------------------------------------------------------
# The user's paragraph (in their language) is translated INTO the language they will later
# translate FROM; several styles widen the range of machine-flavoured inputs the model
# learns to turn back into the user's words.
SYNTH_STYLES = {
    "plain": "Translate the following {source} text into {target}. Reply with the translation "
             "only.",
    "formal": "Translate the following {source} text into formal, polished {target}, as a "
              "professional translator would for a publication. Reply with the translation "
              "only.",
    "literal": "Translate the following {source} text into {target} as literally as you can, "
               "keeping its sentence order and structure. Reply with the translation only.",
    "ai-article": "Translate the following {source} text into {target} in the smooth, generic "
                  "style of an AI-written article. Keep every fact and number. Reply with the "
                  "translation only.",
    "condensed": "Translate the following {source} text into {target}, a little more concisely "
                 "than the original. Keep every fact and number. Reply with the translation "
                 "only.",
    "expanded": "Translate the following {source} text into {target}, spelling out a little "
                "what the original leaves implicit. Keep every fact and number. Reply with the "
                "translation only.",
}


def synth_messages(text: str, style: str, *, user_lang: str, into: str) -> list[dict]:
    system = SYNTH_STYLES[style].format(source=languages.name(user_lang),
                                        target=languages.name(into))
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]

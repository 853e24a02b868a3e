"""Fine-tuning: LoRA (transformers + peft) on the writer's pairs, brought home as a GGUF.

    python -m engine.training JOB.json        # the entry point, on a laptop or a GPU box

config.py (TrainConfig: every option with its help), data.py (encoding, batches), base.py
(loading a base, precision, chat templates), loop.py (the training loop), schedule.py (its
rhythm, shared with the MLX trainer in mlx_lora/), checkpoint.py,
progress.py (writes the progress events), choose.py (checkpoint choice), export.py (merge →
GGUF → quantise → smoke test), converter.py (llama.cpp's own converter), pipeline.py
(pairs → job folder → train → export → registered model) and targets.py (where training
runs: one contract, prepare → start → follow → cancel → fetch; this machine is one target,
remote/ adds a GPU box and a rented one).

torch, transformers and peft are imported inside functions only: the desktop app never
pays for them.
"""
